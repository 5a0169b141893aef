/**
 * The check language: declarative conditions on what a read-only command
 * shows. A goal passes when all its checks pass.
 *
 *   {run: CMD, match: TEXT}          CMD's output contains TEXT (or matches /RE/flags)
 *   {run: CMD, not_match: TEXT}      ... does not
 *   {run: CMD, data: PATH, equals: V}   the value at PATH in CMD's result data
 *   {run: CMD, data: PATH, min: N, max: N}   ... is a number in [min, max] (either bound alone is fine)
 *   since_step: true                 compare against what CMD gave when the step began:
 *                                      data: the CHANGE (now - then) is compared
 *                                      match/not_match: only output lines that are new since then
 *
 * PATH is dotted: `records.length`, `options.0.value`; arrays and strings
 * have `length`. Numbers compare exactly as 64-bit integers whether the data
 * holds a bigint, a number or "0x..." text. Anything else compares as JSON
 * (bigints as "0x..." strings, byte arrays as hex, as `--json` prints).
 *
 * A check's command runs through `Session.peek`: it leaves no mark on the
 * machine, the undo history, `$`/`$_` or the xp format. Lint also requires
 * it to be a command whose spec says it does not mutate.
 */
import { lineText } from '../inspect/view.ts';
import { formatError } from '../commands/errors.ts';
import { jsonReplacer } from '../commands/render.ts';
import type { Session } from '../commands/session.ts';
import type { Check, CheckValue, Goal } from './format.ts';
import { matcher, toBig } from './blocks.ts';

/** What a check's command showed: its text lines and result data, or its error. */
export interface Observation {
  ok: boolean;
  lines: string[];
  data: unknown;
  error?: string;
}

export interface CheckResult {
  pass: boolean;
  /** Why, in a sentence (shown under a goal and in --check reports). */
  detail: string;
}

export function observe(s: Session, run: string): Observation {
  const o = s.peek(run);
  if (o.ok && o.empty) return { ok: false, lines: [], data: undefined, error: 'empty command' };
  if (!o.ok) return { ok: false, lines: formatError(run, o.error), data: undefined, error: o.error.message };
  return { ok: true, lines: o.result.lines.map(lineText), data: o.result.data };
}

/** The value at a dotted path; `found` is false when a segment is missing. */
export function valueAt(data: unknown, path: string): { found: boolean; value: unknown } {
  let v: unknown = data;
  for (const seg of path.split('.')) {
    if (v === null || v === undefined) return { found: false, value: undefined };
    if (v instanceof Map) {
      if (!v.has(seg)) return { found: false, value: undefined };
      v = v.get(seg);
    } else if (typeof v === 'string' || Array.isArray(v) || v instanceof Uint8Array) {
      if (seg === 'length') v = v.length;
      else if (/^\d+$/.test(seg) && Number(seg) < v.length) v = (v as ArrayLike<unknown>)[Number(seg)];
      else return { found: false, value: undefined };
    } else if (typeof v === 'object') {
      if (!(seg in (v as object))) return { found: false, value: undefined };
      v = (v as Record<string, unknown>)[seg];
    } else return { found: false, value: undefined };
  }
  return { found: true, value: v };
}

/** A value as a reader reads it in a report. */
export function show(v: unknown): string {
  if (typeof v === 'bigint') return '0x' + v.toString(16);
  if (typeof v === 'string') return JSON.stringify(v);
  return JSON.stringify(v, jsonReplacer) ?? String(v);
}

const asJson = (v: unknown): string => JSON.stringify(v, jsonReplacer) ?? 'undefined';

function equalsValue(actual: unknown, want: CheckValue): boolean {
  const a = toBig(actual);
  const w = toBig(want.raw);
  if (a !== undefined && w !== undefined) return a === w;
  if (typeof actual === 'string' && typeof want.value !== 'object') return actual === want.raw || actual === String(want.value);
  return asJson(actual) === asJson(want.value);
}

/** Lines in `now` that were not in `then` (as a multiset: a repeated line counts each time). */
export function newLines(now: string[], then: string[]): string[] {
  const seen = new Map<string, number>();
  for (const l of then) seen.set(l, (seen.get(l) ?? 0) + 1);
  return now.filter((l) => {
    const n = seen.get(l) ?? 0;
    if (n > 0) {
      seen.set(l, n - 1);
      return false;
    }
    return true;
  });
}

/** A short description of a check: `xp/1xw 0x40002000 shows "0xcafef00d"`. */
export function describeCheck(c: Check): string {
  const since = c.since_step ? ' since the step began' : '';
  if (c.match !== undefined) return `\`${c.run}\` shows ${c.match.startsWith('/') ? c.match : JSON.stringify(c.match)}${since ? ' in new lines' : ''}`;
  if (c.not_match !== undefined) return `\`${c.run}\` does not show ${c.not_match.startsWith('/') ? c.not_match : JSON.stringify(c.not_match)}${since ? ' in new lines' : ''}`;
  const parts: string[] = [];
  if (c.equals) parts.push(`= ${c.equals.raw}`);
  if (c.min) parts.push(`>= ${c.min.raw}`);
  if (c.max) parts.push(`<= ${c.max.raw}`);
  return `\`${c.run}\` ${c.data}${c.since_step ? ' (change since the step began)' : ''} ${parts.join(' and ')}`;
}

/** Evaluate a check on an observation (and the one taken when the step began, for since_step). */
export function evaluateCheck(c: Check, now: Observation, base?: Observation): CheckResult {
  if (!now.ok) return { pass: false, detail: `\`${c.run}\` failed: ${now.error}` };
  if (c.match !== undefined || c.not_match !== undefined) {
    const pat = (c.match ?? c.not_match)!;
    const lines = c.since_step ? newLines(now.lines, base?.ok ? base.lines : []) : now.lines;
    const text = lines.join('\n');
    const re = matcher(pat).re;
    const hit = re ? re.test(text) : text.includes(pat);
    const want = c.match !== undefined;
    const where = c.since_step ? 'the new output' : 'the output';
    return hit === want ? { pass: true, detail: `${where} ${want ? 'shows' : 'does not show'} ${pat}` } : { pass: false, detail: `${where} ${want ? 'does not show' : 'shows'} ${pat}` };
  }
  const got = valueAt(now.data, c.data!);
  if (!got.found) return { pass: false, detail: `\`${c.run}\` has no ${c.data} in its result` };
  let value = got.value;
  if (c.since_step) {
    const n = toBig(value);
    if (n === undefined) return { pass: false, detail: `${c.data} is ${show(value)}, not a number, so it cannot be compared with the step's start` };
    const b = base?.ok ? valueAt(base.data, c.data!) : { found: false, value: undefined };
    const then = b.found ? (toBig(b.value) ?? 0n) : 0n;
    value = n - then;
  }
  const label = c.since_step ? `${c.data} changed by ${String(value)}` : `${c.data} is ${show(value)}`;
  if (c.equals) return equalsValue(value, c.equals) ? { pass: true, detail: label } : { pass: false, detail: `${label}, not ${c.equals.raw}` };
  const n = toBig(value);
  if (n === undefined) return { pass: false, detail: `${label}: not a number` };
  if (c.min && n < toBig(c.min.raw)!) return { pass: false, detail: `${label}, below ${c.min.raw}` };
  if (c.max && n > toBig(c.max.raw)!) return { pass: false, detail: `${label}, above ${c.max.raw}` };
  return { pass: true, detail: label };
}

/** Key of a since_step baseline: the goal and the check's index. */
export const baselineKey = (g: Goal, i: number): string => `${g.id}#${i}`;

/** Observations of every since_step check of some goals, taken now (when a step begins). */
export function captureBaselines(s: Session, goals: Goal[]): Map<string, Observation> {
  const m = new Map<string, Observation>();
  for (const g of goals) g.checks.forEach((c, i) => c.since_step && m.set(baselineKey(g, i), observe(s, c.run)));
  return m;
}

export interface GoalResult {
  pass: boolean;
  checks: CheckResult[];
}

export function evaluateGoal(s: Session, g: Goal, baselines: Map<string, Observation>): GoalResult {
  const cache = new Map<string, Observation>();
  const checks = g.checks.map((c, i) => {
    let o = cache.get(c.run);
    if (!o) cache.set(c.run, (o = observe(s, c.run)));
    return evaluateCheck(c, o, baselines.get(baselineKey(g, i)));
  });
  return { pass: checks.every((c) => c.pass), checks };
}
