/**
 * Text and JSON renderers for command outcomes. They return strings; the
 * REPL and the script runner decide where to write them.
 */
import { visible, type Line, type Style } from '../inspect/view.ts';
import { formatError } from './errors.ts';
import type { Outcome } from './session.ts';

const ANSI: Record<Style, [string, string]> = {
  head: ['\x1b[1m', '\x1b[22m'],
  addr: ['\x1b[36m', '\x1b[39m'],
  num: ['\x1b[33m', '\x1b[39m'],
  name: ['\x1b[32m', '\x1b[39m'],
  dim: ['\x1b[2m', '\x1b[22m'],
  ok: ['\x1b[32m', '\x1b[39m'],
  bad: ['\x1b[31m', '\x1b[39m'],
  warn: ['\x1b[33m', '\x1b[39m'],
  key: ['\x1b[35m', '\x1b[39m'],
};

export function renderLine(l: Line, color: boolean): string {
  // Span text may hold bytes from a log, a script or a lesson: never raw control bytes to the terminal.
  return l.map((s) => (color && s.style ? ANSI[s.style][0] + visible(s.text) + ANSI[s.style][1] : visible(s.text))).join('');
}

export function renderLines(lines: Line[], color: boolean): string {
  return lines.map((l) => renderLine(l, color)).join('\n');
}

/** The error block for a failed outcome (message, line with caret, expected, hint). */
export function renderError(o: Extract<Outcome, { ok: false }>, color: boolean, prefix = ''): string {
  // The message and the echoed input line come from the user's text.
  const lines = formatError(o.line, o.error).map(visible);
  if (prefix) lines[0] = prefix + lines[0];
  if (!color) return lines.join('\n');
  return lines.map((l, i) => (i === 0 ? `\x1b[31m${l}\x1b[39m` : l.trimStart().startsWith('^') ? `\x1b[31m${l}\x1b[39m` : l)).join('\n');
}

/** JSON.stringify replacer: u64 as "0x..." strings, byte arrays as hex, Maps as objects. */
export function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return '0x' + v.toString(16);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v instanceof Map) return Object.fromEntries(v);
  return v;
}

export function outcomeJson(o: Outcome, lineNo?: number): string {
  if (o.ok && o.empty) return '';
  const base: Record<string, unknown> = { line: lineNo, input: o.line.trim(), ok: o.ok };
  if (o.ok) {
    base.command = o.command;
    base.result = { kind: o.result.kind, data: o.result.data };
  } else {
    base.command = o.command;
    base.error = { message: o.error.message, span: o.error.span, expected: o.error.expected, hint: o.error.hint };
  }
  return JSON.stringify(base, jsonReplacer);
}
