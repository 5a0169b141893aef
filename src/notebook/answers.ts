/**
 * How a reader's typed answer is compared with the author's (predictions
 * and typed-answer goals). Its own module so the block parser (lint of
 * `feedback` keys) and the engine share it without an import cycle.
 */
import { evalExpr } from '../commands/expr.ts';

const norm = (s: string): string => s.trim().toLowerCase().replace(/\s+/g, ' ');

/** An answer's value when it is a number or an expression the lab reads (`0x1000 + 2`, `4K`), else undefined. */
export function answerValue(s: string): bigint | undefined {
  const t = s.trim();
  if (!t) return undefined;
  try {
    return evalExpr(t, 0);
  } catch {
    return undefined;
  }
}

/**
 * Do two answers agree? Numbers and expressions compare as 64-bit values
 * through the lab's own expression parser (0x10, 16 and 0x8 + 8 are one
 * answer); anything else ignoring case and extra blanks.
 */
export function sameAnswer(a: string, b: string): boolean {
  const va = answerValue(a);
  const vb = answerValue(b);
  if (va !== undefined && vb !== undefined) return va === vb;
  return norm(a) === norm(b);
}
