/**
 * Lesson prose, from markdown-it tokens to lines of styled spans wrapped to
 * a width. The terminal UI and the plain-text printer both use it; the UI
 * maps the styles to Ink props in one place (src/ui/styles.ts), the printer
 * ignores them. Handles what lessons use: headings, paragraphs, emphasis,
 * inline code, links, bullet and numbered lists (nested), block quotes,
 * code blocks, tables and rules.
 */
import type { Style } from '../inspect/view.ts';
import type { MdToken } from './format.ts';

/** What a piece of lesson text is; command output keeps the inspect/view.ts styles. */
export type DocStyle = Style | 'heading' | 'strong' | 'em' | 'code' | 'link' | 'quote' | 'codeblock' | 'select' | 'cell' | 'prompt';

export interface DocSpan {
  text: string;
  style?: DocStyle;
}
export type DocLine = DocSpan[];

export interface ProseOptions {
  width: number;
  /** Keep backticks around inline code (monochrome UI, plain text). */
  codeTicks?: boolean;
  /** Keep Markdown's own marks: ## before headings, ** and _ around emphasis (plain text). */
  marks?: boolean;
}

/** Width of text in terminal cells (lessons are mostly ASCII; wide CJK counts 2). */
export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch);
  return w;
}

/** Width of one code point in terminal cells. */
function charWidth(ch: string): number {
  const c = ch.codePointAt(0)!;
  return c >= 0x1100 && (c <= 0x115f || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xff00 && c <= 0xff60) || (c >= 0x1f300 && c <= 0x1faff)) ? 2 : 1;
}

export const lineWidth = (l: DocLine): number => l.reduce((n, s) => n + textWidth(s.text), 0);

/** How far back a cut looks for a blank, so a word (a 64-bit hex number is 18 characters) is dropped whole rather than cut. */
const CUT_BACKOFF = 24;

/**
 * Cut a line to `width` cells, marking the cut with an ellipsis. A cut that
 * would fall inside a word moves back to the blank before it (up to
 * CUT_BACKOFF cells), so a hex number is never shown cut short, where a
 * reader could take 0x8800d0… for a whole number.
 */
export function truncateLine(l: DocLine, width: number): DocLine {
  if (lineWidth(l) <= width) return l;
  const text = l.map((x) => x.text).join('');
  let left = Math.max(0, width - 1);
  let c = 0;
  for (const ch of text) {
    const w = textWidth(ch);
    if (w > left) break;
    left -= w;
    c += ch.length;
  }
  if (c > 0 && c < text.length && text[c] !== ' ' && text[c - 1] !== ' ') {
    const b = text.lastIndexOf(' ', c - 1);
    if (b > 0 && c - b <= CUT_BACKOFF && text.slice(0, b).trim()) c = b + 1;
  }
  const out: DocLine = [];
  let at = 0;
  for (const sp of l) {
    const end = Math.min(c, at + sp.text.length);
    if (end > at) out.push({ ...sp, text: sp.text.slice(0, end - at) });
    at += sp.text.length;
    if (at >= c) break;
  }
  out.push({ text: '…', style: 'dim' });
  return out;
}

/**
 * Word-wrap styled spans. `first` prefixes the first line, `rest` the
 * others (a list's bullet and its hanging indent). A '\n' in a span is a
 * hard break. Words longer than a line are split.
 */
export function wrapSpans(spans: DocSpan[], width: number, first: DocLine = [], rest: DocLine = first): DocLine[] {
  const lines: DocLine[] = [];
  let cur: DocLine = [...first];
  let curW = lineWidth(first);
  let hasContent = false;
  let pendingSpace: DocSpan | undefined;
  const avail = (): number => width - curW;
  const newLine = (): void => {
    lines.push(cur);
    cur = [...rest];
    curW = lineWidth(rest);
    hasContent = false;
    pendingSpace = undefined;
  };
  const push = (text: string, style: DocStyle | undefined): void => {
    const last = cur[cur.length - 1];
    // merge only into spans this function made (prefix spans are shared between lines)
    if (hasContent && last && last.style === style) last.text += text;
    else cur.push(style ? { text, style } : { text });
    curW += textWidth(text);
    hasContent = true;
  };
  for (const s of spans) {
    for (const p of s.text.split(/(\n| +)/)) {
      if (p === '') continue;
      if (p === '\n') {
        newLine();
        continue;
      }
      if (p.startsWith(' ')) {
        if (hasContent) pendingSpace = { text: ' ', style: s.style };
        continue;
      }
      const wordW = textWidth(p);
      if (hasContent && wordW + (pendingSpace ? 1 : 0) > avail()) newLine();
      if (pendingSpace) {
        push(' ', pendingSpace.style);
        pendingSpace = undefined;
      }
      if (wordW <= avail() || avail() <= 0) {
        push(p, s.style);
        continue;
      }
      // A word longer than the line: cut it into line-sized pieces in one pass
      // over its code points (re-measuring the rest each time was quadratic:
      // a 400k-character word took seconds, again at every resize).
      const chars = Array.from(p);
      let at = 0;
      let left = wordW;
      while (at < chars.length && left > avail() && avail() > 0) {
        let j = at;
        let w = 0;
        while (j < chars.length && w + charWidth(chars[j]!) <= avail()) w += charWidth(chars[j++]!);
        if (j === at) break;
        push(chars.slice(at, j).join(''), s.style);
        left -= w;
        at = j;
        newLine();
      }
      if (at < chars.length) push(chars.slice(at).join(''), s.style);
    }
  }
  if (hasContent || lines.length === 0) lines.push(cur);
  return lines;
}

/** Inline tokens (a paragraph's children) to styled spans. */
export function inlineSpans(children: MdToken[] | null, o: ProseOptions, base?: DocStyle): DocSpan[] {
  const out: DocSpan[] = [];
  const stack: DocStyle[] = base ? [base] : [];
  const style = (): DocStyle | undefined => stack[stack.length - 1];
  let href: string | undefined;
  for (const t of children ?? []) {
    switch (t.type) {
      case 'text':
        out.push({ text: t.content, style: style() });
        break;
      case 'code_inline':
        out.push({ text: o.codeTicks || o.marks ? `\`${t.content}\`` : t.content, style: 'code' });
        break;
      case 'strong_open':
      case 'em_open':
        if (o.marks) out.push({ text: t.markup, style: style() });
        stack.push(t.type === 'strong_open' ? 'strong' : 'em');
        break;
      case 'strong_close':
      case 'em_close':
        stack.pop();
        if (o.marks) out.push({ text: t.markup, style: style() });
        break;
      case 'link_open':
        href = String(t.attrGet('href') ?? '') || undefined;
        stack.push('link');
        break;
      case 'link_close':
        stack.pop();
        if (href && !href.startsWith('#')) out.push({ text: ` (${href})`, style: 'dim' });
        href = undefined;
        break;
      case 'softbreak':
        out.push({ text: ' ' });
        break;
      case 'hardbreak':
        out.push({ text: '\n' });
        break;
      case 'image':
        out.push({ text: `[image: ${t.content}]`, style: 'dim' });
        break;
      default:
        if (t.content) out.push({ text: t.content, style: style() });
    }
  }
  return out;
}

interface ListCtx {
  ordered: boolean;
  n: number;
  tight: boolean;
}

/** Render block tokens (a step's prose) to wrapped lines. */
export function renderProse(tokens: MdToken[], o: ProseOptions): DocLine[] {
  const out: DocLine[] = [];
  const lists: ListCtx[] = [];
  let quote = 0;
  let marker: string | undefined;
  let blankBefore = false;
  const indent = (): string => '  '.repeat(Math.max(0, lists.length - 1)) + (lists.length ? '  ' : '');
  const quotePrefix = (): DocLine => (quote ? [{ text: '│ '.repeat(quote), style: 'quote' }] : []);
  const block = (lines: DocLine[]): void => {
    if (blankBefore && out.length) out.push([]);
    blankBefore = false;
    out.push(...lines);
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    switch (t.type) {
      case 'heading_open': {
        const inline = tokens[i + 1]!;
        const level = Number(t.tag.slice(1));
        const prefix = o.marks ? '#'.repeat(level) + ' ' : '';
        blankBefore = true;
        block(wrapSpans([{ text: prefix, style: 'heading' }, ...inlineSpans(inline.children, o, 'heading')], o.width, quotePrefix()));
        blankBefore = true;
        i += 2;
        break;
      }
      case 'paragraph_open': {
        const inline = tokens[i + 1]!;
        const qp = quotePrefix();
        const ind = indent();
        let first: DocLine = [...qp];
        const rest: DocLine = [...qp, ...(ind ? [{ text: ind }] : [])];
        if (marker !== undefined) {
          const base = '  '.repeat(Math.max(0, lists.length - 1));
          first = [...qp, { text: base }, { text: marker, style: 'dim' }];
          const pad = textWidth(base + marker);
          rest.splice(qp.length, rest.length - qp.length, { text: ' '.repeat(pad) });
          marker = undefined;
        } else if (ind) first.push({ text: ind });
        const tight = lists.length > 0 && lists[lists.length - 1]!.tight;
        if (tight) blankBefore = false;
        block(wrapSpans(inlineSpans(inline.children, o), o.width, first, rest));
        blankBefore = !tight;
        i += 2;
        break;
      }
      case 'bullet_list_open':
      case 'ordered_list_open': {
        const tight = tokens.slice(i + 1).find((x) => x.type === 'paragraph_open')?.hidden ?? true;
        lists.push({ ordered: t.type === 'ordered_list_open', n: Number(t.attrGet('start') ?? 1), tight });
        if (lists.length === 1) blankBefore = true;
        break;
      }
      case 'bullet_list_close':
      case 'ordered_list_close':
        lists.pop();
        blankBefore = true;
        break;
      case 'list_item_open': {
        const l = lists[lists.length - 1]!;
        marker = l.ordered ? `${l.n++}. ` : '• ';
        break;
      }
      case 'blockquote_open':
        quote++;
        blankBefore = true;
        break;
      case 'blockquote_close':
        quote--;
        blankBefore = true;
        break;
      case 'fence':
      case 'code_block': {
        const ind = indent() + '    ';
        const body = t.content.replace(/\n$/, '').split('\n');
        blankBefore = true;
        block(body.map((l) => [...quotePrefix(), { text: ind }, { text: l, style: 'codeblock' }]));
        blankBefore = true;
        break;
      }
      case 'hr':
        blankBefore = true;
        block([[{ text: '─'.repeat(Math.min(o.width, 40)), style: 'dim' }]]);
        blankBefore = true;
        break;
      case 'table_open': {
        const rows: { head: boolean; cells: DocSpan[][] }[] = [];
        let j = i + 1;
        let head = false;
        let row: DocSpan[][] | undefined;
        for (; j < tokens.length && tokens[j]!.type !== 'table_close'; j++) {
          const x = tokens[j]!;
          if (x.type === 'thead_open') head = true;
          else if (x.type === 'thead_close') head = false;
          else if (x.type === 'tr_open') row = [];
          else if (x.type === 'tr_close' && row) rows.push({ head, cells: row });
          else if (x.type === 'inline' && row) row.push(inlineSpans(x.children, o, head ? 'strong' : undefined));
        }
        i = j;
        const ncol = Math.max(0, ...rows.map((r) => r.cells.length));
        const widths = Array.from({ length: ncol }, (_, c) => Math.max(1, ...rows.map((r) => lineWidth(r.cells[c] ?? []))));
        const lines: DocLine[] = [];
        for (const r of rows) {
          const line: DocLine = [...quotePrefix(), { text: indent() }];
          r.cells.forEach((cell, c) => {
            line.push(...cell);
            if (c < ncol - 1) line.push({ text: ' '.repeat(widths[c]! - lineWidth(cell) + 2) });
          });
          lines.push(line);
          if (r.head) lines.push([...quotePrefix(), { text: indent() }, { text: widths.map((w) => '─'.repeat(w)).join('  '), style: 'dim' }]);
        }
        blankBefore = true;
        block(lines);
        blankBefore = true;
        break;
      }
      case 'html_block':
        blankBefore = true;
        block(t.content.replace(/\n$/, '').split('\n').map((l) => [{ text: l, style: 'dim' as const }]));
        break;
      default:
        break;
    }
  }
  while (out.length && out[out.length - 1]!.length === 0) out.pop();
  return out;
}

/** A DocLine as plain text. */
export const docText = (l: DocLine): string => l.map((s) => s.text).join('');
