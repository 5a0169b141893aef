/**
 * The output model shared by every renderer. A command's text output is a
 * list of lines; a line is a list of spans, each with an optional style
 * that names what the text *is* (an address, a value, a heading), not how
 * it looks. The REPL maps styles to ANSI colours (or none: NO_COLOR), the
 * Ink UI maps them to <Text> props, and JSON output ignores them.
 */
export type Style = 'head' | 'addr' | 'num' | 'name' | 'dim' | 'ok' | 'bad' | 'warn' | 'key';

export interface Span {
  text: string;
  style?: Style;
}

export type Line = Span[];

export const span = (text: string, style?: Style): Span => (style ? { text, style } : { text });
export const plain = (text: string): Line => [{ text }];
export const styled = (text: string, style: Style): Line => [{ text, style }];
export const lineText = (l: Line): string => l.map((s) => s.text).join('');

// ---- text that did not come from the lab -------------------------------------------
//
// Lesson files, kernel logs given to `decode`, scripts, imported progress and
// anything a user typed can hold terminal control bytes: ESC starts CSI/OSC
// sequences (OSC 52 writes the clipboard, OSC 0 the window title), BEL, C1
// controls (0x80-0x9f, e.g. U+009B CSI), and bidi overrides that reorder
// what is shown. They are rendered visibly instead: \x1b, \x07, \u202e.
// Tab and newline stay (the renderers lay text out with them).

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const escapeControl = (c: string): string => {
  const n = c.codePointAt(0)!;
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
};

const HAS_CONTROL = new RegExp(CONTROL.source);
/** `text` with every terminal control character written out visibly (`\x1b`). */
export const visible = (text: string): string => (HAS_CONTROL.test(text) ? text.replace(CONTROL, escapeControl) : text);

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/g;
/**
 * For a whole block of output the lab itself coloured: its SGR colour codes
 * (ESC [ n ; n m) pass, every other control byte is made visible. The CLI's
 * last write goes through this, so nothing raw reaches the terminal even from
 * a path that forgot `visible`.
 */
export function visibleKeepSgr(text: string): string {
  let out = '';
  let at = 0;
  for (const m of text.matchAll(SGR)) {
    out += visible(text.slice(at, m.index)) + m[0];
    at = m.index! + m[0].length;
  }
  return out + visible(text.slice(at));
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
  style?: Style;
}

/**
 * A table as lines: columns padded to their widest cell, two spaces apart,
 * a header row styled 'head'. Trailing spaces are trimmed so golden files
 * stay clean.
 */
export function table(cols: Column[], rows: (string | Span)[][], opts: { header?: boolean; indent?: string } = {}): Line[] {
  const cell = (c: string | Span): Span => (typeof c === 'string' ? { text: c } : c);
  const widths = cols.map((c, i) => Math.max(opts.header === false ? 0 : c.header.length, ...rows.map((r) => cell(r[i] ?? '').text.length)));
  const indent = opts.indent ?? '';
  const fmt = (cells: Span[], head: boolean): Line => {
    const out: Line = indent ? [{ text: indent }] : [];
    cells.forEach((c, i) => {
      const w = widths[i]!;
      const last = i === cells.length - 1;
      const txt = cols[i]!.align === 'right' ? c.text.padStart(w) : last ? c.text : c.text.padEnd(w);
      const st = head ? 'head' : (c.style ?? cols[i]!.style);
      out.push(st ? { text: txt, style: st } : { text: txt });
      if (!last) out.push({ text: '  ' });
    });
    // trim trailing blanks
    while (out.length && out[out.length - 1]!.text.trim() === '') out.pop();
    const lastSpan = out[out.length - 1];
    if (lastSpan) lastSpan.text = lastSpan.text.replace(/\s+$/, '');
    return out;
  };
  const lines: Line[] = [];
  if (opts.header !== false) lines.push(fmt(cols.map((c) => ({ text: c.header })), true));
  for (const r of rows) lines.push(fmt(cols.map((_, i) => cell(r[i] ?? '')), false));
  return lines;
}

/** "name: value   meaning" rows for decoded records. */
export function fieldLines(fields: { name: string; text: string; desc?: string; bits?: string }[], indent = '  '): Line[] {
  return table(
    [{ header: 'field', style: 'name' }, { header: 'bits', style: 'dim' }, { header: 'value', style: 'num' }, { header: 'meaning', style: 'dim' }],
    fields.map((f) => [f.name, f.bits ?? '', f.text, f.desc ?? '']),
    { indent },
  );
}
