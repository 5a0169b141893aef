/**
 * A practice drill as data: the question, what to answer (one or more
 * asks), the expected answers, and the working that derives them. The
 * generators in this directory build drills; the session asks them, the
 * tests check every expected answer against the lab's own decoders and
 * model.
 *
 * Answers are compared as values: a number may be typed in any form the
 * command language reads (`0x1000`, `4096`, `4K`, `1 << 12`), so hex is
 * accepted wherever a value is asked; a word (an event name, read/write)
 * is compared without case.
 */
import { evalExpr } from '../commands/expr.ts';
import { hex } from '../machine/u64.ts';

export interface Ask {
  /** Short key, stable across releases ("sid", "L2"). */
  id: string;
  /** What to type, shown as the prompt: "StreamID", "L2 index". */
  prompt: string;
  /** Answer format, shown under the question: "a number (hex or decimal)". */
  format: string;
  /** The expected value, when a number answers it. */
  value?: bigint;
  /** Words that answer it (lower case), when a word does. */
  words?: string[];
  /** The expected answer as shown after answering and by --solve. */
  show: string;
}

export interface Drill {
  topic: string;
  seed: number;
  /** One line: what the drill is about. */
  title: string;
  /** The question: lines shown before the asks (a record, a setup). */
  question: string[];
  asks: Ask[];
  /** How the answer is derived, step by step (--solve, and after a wrong answer). */
  working: string[];
  /** One or two sentences shown after answering: why it matters. */
  explanation: string;
}

export type Verdict = { ok: true } | { ok: false; unreadable?: string };

/** Read a typed number with the command language's rules; undefined when it is not one. */
export function readNumber(text: string): bigint | undefined {
  const t = text.trim();
  if (!t) return undefined;
  try {
    return evalExpr(t, 0);
  } catch {
    return undefined;
  }
}

const norm = (s: string): string => s.trim().toLowerCase().replace(/\s+/g, ' ');

/**
 * Compare an answer with an ask. A number is compared by value; a word
 * by its lower-case spelling. `unreadable` says why an answer could not
 * be compared (a value ask given something that is not a number): the
 * session asks again instead of counting it wrong.
 */
export function judge(ask: Ask, answer: string): Verdict {
  const a = norm(answer);
  if (ask.words?.includes(a)) return { ok: true };
  if (ask.value !== undefined) {
    const v = readNumber(answer);
    if (v === undefined) {
      if (ask.words) return { ok: false };
      return { ok: false, unreadable: `'${answer.trim()}' is not a number: type it as 0x1f, 31, 4K or an expression` };
    }
    return v === ask.value ? { ok: true } : { ok: false };
  }
  return { ok: false };
}

/** A value ask: the number, shown in hex (and decimal when small enough to help). */
export function valueAsk(id: string, prompt: string, value: bigint, o: { decimal?: boolean; format?: string } = {}): Ask {
  return {
    id,
    prompt,
    format: o.format ?? 'a number (0x… or decimal)',
    value,
    show: o.decimal ? (value < 10n ? value.toString() : `${value} (${hex(value)})`) : hex(value),
  };
}

/** A word ask: `canonical` and its accepted spellings; `value` when a code also answers it. */
export function wordAsk(id: string, prompt: string, canonical: string, accepted: string[], o: { value?: bigint; format?: string } = {}): Ask {
  return {
    id,
    prompt,
    format: o.format ?? accepted.join(' | '),
    words: [...new Set([canonical, ...accepted].map(norm))],
    ...(o.value !== undefined ? { value: o.value } : {}),
    show: canonical,
  };
}

/** The lines --solve prints for a drill: the question, each answer, the working. */
export function solveLines(d: Drill): string[] {
  return [
    ...headLines(d),
    'answer:',
    ...d.asks.map((a) => `  ${a.prompt}: ${a.show}`),
    'working:',
    ...d.working.map((w) => `  ${w}`),
    d.explanation,
  ];
}

/** The drill's heading and question, as shown before the asks. */
export function headLines(d: Drill): string[] {
  return [`[${d.topic} --seed ${d.seed}] ${d.title}`, ...d.question.map((q) => `  ${q}`)];
}
