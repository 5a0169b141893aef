/**
 * Numbers and expressions, evaluated in exact unsigned 64-bit arithmetic
 * (see machine/u64.ts): every intermediate wraps modulo 2^64 as C's u64
 * does, so 0xffffffffffffffff + 1 is 0.
 *
 *   number   := 0x<hex> | 0b<bin> | 0o<oct> | <decimal>[K|M|G|T|P|E]  ('_' separators allowed)
 *   primary  := number | '$' | '$_' | '(' expr ')' | '~' primary | '-' primary | '+' primary
 *             | max '(' expr ',' expr ')' | min '(' expr ',' expr ')' | DMA_BIT_MASK '(' expr ')'
 *   precedence (low to high), as in C: |  ^  &  == !=  < <= > >=  << >>  + -  * / %
 *   a comparison is 1 or 0, as in C; max/min as the kernel's max()/min() on u64.
 *
 * `$` is the value last printed, `$_` the last address examined (as in gdb).
 */
import { type u64, U64_MAX } from '../machine/u64.ts';
import { CommandError } from './errors.ts';

export interface ExprEnv {
  /** `$`: last value printed. */
  last?: u64;
  /** `$_`: last address examined. */
  lastAddr?: u64;
}

const NUMBER_HELP = 'a number such as 0x40000000, 4096, 0b101 or 4K (K M G T suffixes), or an expression in parentheses';

const SUFFIX: Record<string, bigint> = { K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n, P: 1n << 50n, E: 1n << 60n };

interface Tok {
  kind: 'num' | 'op' | 'var' | 'fn' | 'end';
  text: string;
  start: number;
  end: number;
  value?: u64;
}

function parseNumber(text: string, start: number): u64 {
  const bad = (why: string): CommandError =>
    new CommandError(`'${text}' is not a valid number: ${why}`, { start, end: start + text.length }, NUMBER_HELP);
  const t = text.replace(/_/g, '');
  let v: bigint;
  if (/^0x/i.test(t)) {
    if (!/^0x[0-9a-f]+$/i.test(t)) throw bad('hex digits are 0-9 and a-f');
    v = BigInt(t);
  } else if (/^0b/i.test(t)) {
    if (!/^0b[01]+$/i.test(t)) throw bad('binary digits are 0 and 1');
    v = BigInt(t);
  } else if (/^0o/i.test(t)) {
    if (!/^0o[0-7]+$/i.test(t)) throw bad('octal digits are 0-7');
    v = BigInt(t);
  } else {
    const m = /^([0-9]+)([KMGTPE]?)$/i.exec(t);
    if (!m) throw bad(/^[0-9]/.test(t) ? 'decimal digits are 0-9, with an optional K, M, G or T suffix' : 'it does not start with a digit');
    v = BigInt(m[1]!) * (m[2] ? SUFFIX[m[2].toUpperCase()]! : 1n);
  }
  if (v > U64_MAX) {
    throw new CommandError(`'${text}' does not fit in 64 bits (the largest value is 0xffffffffffffffff)`, { start, end: start + text.length }, 'a value below 2^64');
  }
  return v;
}

function tokenize(src: string, base: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9]/.test(c)) {
      while (i < src.length && /[0-9a-zA-Z_]/.test(src[i]!)) i++;
      const text = src.slice(start, i);
      out.push({ kind: 'num', text, start: base + start, end: base + i, value: parseNumber(text, base + start) });
      continue;
    }
    if (c === '$') {
      i++;
      if (src[i] === '_') i++;
      out.push({ kind: 'var', text: src.slice(start, i), start: base + start, end: base + i });
      continue;
    }
    const fn = /^(max|min|DMA_BIT_MASK)\s*(?=\()/.exec(src.slice(i));
    if (fn) {
      i += fn[1]!.length;
      out.push({ kind: 'fn', text: fn[1]!, start: base + start, end: base + i });
      continue;
    }
    if (['<<', '>>', '<=', '>=', '==', '!='].some((o) => src.startsWith(o, i))) {
      i += 2;
      out.push({ kind: 'op', text: src.slice(start, i), start: base + start, end: base + i });
      continue;
    }
    if ('+-*/%&|^~(),<>'.includes(c)) {
      i++;
      out.push({ kind: 'op', text: c, start: base + start, end: base + i });
      continue;
    }
    // an identifier or other junk: report the whole word
    while (i < src.length && !/[\s+\-*/%&|^~(),<>=!]/.test(src[i]!)) i++;
    const text = src.slice(start, i) || c;
    throw new CommandError(`'${text}' is not a number or operator`, { start: base + start, end: base + start + text.length }, NUMBER_HELP);
  }
  out.push({ kind: 'end', text: '', start: base + src.length, end: base + src.length + 1 });
  return out;
}

/** Stated limit: nesting depth of parentheses, calls and unary operators in one expression. */
export const MAX_EXPR_DEPTH = 256;

const BINARY: { ops: string[] }[] = [
  { ops: ['|'] },
  { ops: ['^'] },
  { ops: ['&'] },
  { ops: ['==', '!='] },
  { ops: ['<', '<=', '>', '>='] },
  { ops: ['<<', '>>'] },
  { ops: ['+', '-'] },
  { ops: ['*', '/', '%'] },
];

/** Evaluate `src` (which starts at column `base` of the input line). */
export function evalExpr(src: string, base: number, env: ExprEnv = {}): u64 {
  const toks = tokenize(src, base);
  let p = 0;
  const peek = (): Tok => toks[p]!;
  const wrap = (v: bigint): u64 => BigInt.asUintN(64, v);

  // Parentheses, function calls and unary operators nest by recursion:
  // past MAX_EXPR_DEPTH levels the expression is refused with a caret,
  // long before the JavaScript stack would overflow.
  let depth = 0;
  const primary = (): u64 => {
    const t = toks[p++]!;
    if (++depth > MAX_EXPR_DEPTH) {
      throw new CommandError(`the expression nests deeper than ${MAX_EXPR_DEPTH} levels (a stated limit)`, { start: t.start, end: t.end }, `at most ${MAX_EXPR_DEPTH} nested parentheses, calls or unary operators`);
    }
    try {
      return primaryAt(t);
    } finally {
      depth--;
    }
  };

  const primaryAt = (t: Tok): u64 => {
    if (t.kind === 'num') return t.value!;
    if (t.kind === 'var') {
      const v = t.text === '$' ? env.last : env.lastAddr;
      if (v === undefined) {
        throw new CommandError(
          `${t.text} has no value yet`,
          { start: t.start, end: t.end },
          undefined,
          t.text === '$' ? "'print' a value first; $ is the last value printed" : "examine memory with 'xp' first; $_ is the last address examined",
        );
      }
      return v;
    }
    if (t.kind === 'fn') {
      const open = toks[p++]!;
      if (open.text !== '(') throw new CommandError(`expected '(' after ${t.text}`, { start: open.start, end: open.end }, "'('");
      const args: u64[] = [binary(0)];
      while (peek().text === ',') {
        p++;
        args.push(binary(0));
      }
      const close = toks[p++]!;
      if (close.text !== ')') throw new CommandError(`expected ')' here`, { start: close.start, end: close.end }, "')'");
      const want = t.text === 'DMA_BIT_MASK' ? 1 : 2;
      if (args.length !== want) throw new CommandError(`${t.text}() takes ${want} argument${want === 1 ? '' : 's'}`, { start: t.start, end: close.end }, t.text === 'DMA_BIT_MASK' ? 'DMA_BIT_MASK(64)' : `${t.text}(a, b)`);
      if (t.text === 'max') return args[0]! > args[1]! ? args[0]! : args[1]!;
      if (t.text === 'min') return args[0]! < args[1]! ? args[0]! : args[1]!;
      // include/linux/dma-mapping.h: (n == 64) ? ~0ULL : (1ULL << n) - 1 (REFERENCE.md 4.7).
      const n = args[0]!;
      if (n > 64n) throw new CommandError(`DMA_BIT_MASK(${n}): the width must be 0..64`, { start: t.start, end: close.end }, 'DMA_BIT_MASK(64)');
      return n === 64n ? U64_MAX : (1n << n) - 1n;
    }
    if (t.kind === 'op') {
      if (t.text === '(') {
        const v = binary(0);
        const close = toks[p++]!;
        if (close.text !== ')') throw new CommandError(`expected ')' here`, { start: close.start, end: close.end }, "')'");
        return v;
      }
      if (t.text === '~') return wrap(~primary());
      if (t.text === '-') return wrap(-primary());
      if (t.text === '+') return primary();
    }
    throw new CommandError(
      t.kind === 'end' ? 'the expression ends too early' : `unexpected '${t.text}'`,
      { start: t.start, end: t.end },
      NUMBER_HELP,
    );
  };

  const binary = (level: number): u64 => {
    if (level >= BINARY.length) return primary();
    let left = binary(level + 1);
    for (;;) {
      const t = peek();
      if (t.kind !== 'op' || !BINARY[level]!.ops.includes(t.text)) return left;
      p++;
      const right = binary(level + 1);
      switch (t.text) {
        case '==': left = left === right ? 1n : 0n; break;
        case '!=': left = left !== right ? 1n : 0n; break;
        case '<': left = left < right ? 1n : 0n; break;
        case '<=': left = left <= right ? 1n : 0n; break;
        case '>': left = left > right ? 1n : 0n; break;
        case '>=': left = left >= right ? 1n : 0n; break;
        case '|': left = left | right; break;
        case '^': left = left ^ right; break;
        case '&': left = left & right; break;
        case '<<': left = right >= 64n ? 0n : wrap(left << right); break;
        case '>>': left = right >= 64n ? 0n : left >> right; break;
        case '+': left = wrap(left + right); break;
        case '-': left = wrap(left - right); break;
        case '*': left = wrap(left * right); break;
        case '/':
        case '%':
          if (right === 0n) throw new CommandError('division by zero', { start: t.start, end: t.end }, 'a non-zero divisor');
          left = t.text === '/' ? left / right : left % right;
          break;
      }
    }
  };

  if (toks.length === 1) throw new CommandError('missing value', { start: base, end: base + 1 }, NUMBER_HELP);
  const v = binary(0);
  const t = peek();
  if (t.kind !== 'end') {
    throw new CommandError(`unexpected '${t.text}' after the expression`, { start: t.start, end: t.end }, 'an operator (+ - * / % & | ^ << >> == != < <= > >=) or the end of the expression');
  }
  return v;
}

export { NUMBER_HELP };
