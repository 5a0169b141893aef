/**
 * A lesson step as display lines for a given width: the prose rendered
 * from markdown-it tokens, each cell with its output under it, predictions,
 * goals with their checks and hints, then the reader's own commands. The
 * lesson pane shows a window of these lines; `cells` says where each cell
 * sits so the view can scroll to it. Pure: the same notebook state and
 * width give the same lines.
 */
import type { Line } from '../inspect/view.ts';
import { formatError } from '../commands/errors.ts';
import type { Entry, Notebook } from '../notebook/engine.ts';
import { cellCommands, type Cell, type Goal, type MdToken } from '../notebook/format.ts';
import { describeCheck } from '../notebook/checks.ts';
import { howPassed } from '../notebook/progress.ts';
import { renderProse, textWidth, wrapSpans, type DocLine } from '../notebook/prose.ts';
import { lex } from '../commands/lexer.ts';

/** How sure a reader said they were (confidence 1-3). */
export const CONFIDENCE = ['guessing', 'fairly sure', 'certain'];

/** Where a cell line's code ends (its `#` comment starts). */
function codeEnd(text: string): number {
  try {
    return lex(text).codeEnd;
  } catch {
    return text.length;
  }
}

export interface StepDoc {
  rows: DocLine[];
  /** Where each cell is: first line, first output line, line after its output. */
  cells: Map<string, { start: number; out: number; end: number }>;
  /** Where the reader's own commands start (rows.length when none). */
  freeStart: number;
}

const proseCache = new WeakMap<MdToken[], Map<string, DocLine[]>>();
function prose(tokens: MdToken[], width: number, color: boolean): DocLine[] {
  let m = proseCache.get(tokens);
  if (!m) proseCache.set(tokens, (m = new Map()));
  const k = `${width}:${color}`;
  let r = m.get(k);
  if (!r) m.set(k, (r = renderProse(tokens, { width, codeTicks: !color })));
  return r;
}

const indentLine = (l: Line | DocLine, pad: string): DocLine => (pad ? [{ text: pad }, ...l] : [...l]);

/** The spans of a line between two character offsets. */
function sliceLine(l: DocLine, from: number, to: number): DocLine {
  const out: DocLine = [];
  let at = 0;
  for (const sp of l) {
    const a = Math.max(from, at);
    const b = Math.min(to, at + sp.text.length);
    if (b > a) out.push(sp.style ? { text: sp.text.slice(a - at, b - at), style: sp.style } : { text: sp.text.slice(a - at, b - at) });
    at += sp.text.length;
  }
  return out;
}

/**
 * A line of command output folded to `width`: it breaks at the last blank
 * that fits, so a word (a hex number, an event name) is never cut; the
 * continuation is indented two columns past the line's own indent. Only a
 * word longer than the whole width is broken inside.
 */
export function foldLine(l: DocLine, width: number): DocLine[] {
  const text = l.map((x) => x.text).join('');
  if (width <= 0 || textWidth(text) <= width || text.length !== textWidth(text)) return [l];
  const indent = Math.min(text.length - text.trimStart().length + 2, Math.floor(width / 2));
  const out: DocLine[] = [];
  let s = 0;
  let first = true;
  while (s < text.length) {
    const room = first ? width : width - indent;
    if (text.length - s <= room) {
      out.push(first ? sliceLine(l, s, text.length) : [{ text: ' '.repeat(indent) }, ...sliceLine(l, s, text.length)]);
      break;
    }
    const lead = first ? text.length - text.trimStart().length : 0;
    let b = text.lastIndexOf(' ', s + room);
    if (b <= s + lead) b = s + room; // one word longer than the line: only then is it cut
    const part = sliceLine(l, s, b);
    out.push(first ? part : [{ text: ' '.repeat(indent) }, ...part]);
    s = b;
    while (text[s] === ' ') s++;
    first = false;
  }
  return out;
}

/** A command's output (or its error as the REPL's caret block), indented; output lines are folded to `width` when given. */
export function entryRows(e: Entry, pad: string, prompt?: string, width?: number): DocLine[] {
  const rows: DocLine[] = [];
  if (prompt !== undefined) rows.push([{ text: pad }, { text: prompt, style: 'prompt' }, { text: e.line, style: 'cell' }]);
  const o = e.outcome;
  if (o.ok && o.empty) return rows;
  if (!o.ok) {
    const lines = formatError(e.line, o.error);
    lines.forEach((t, i) => rows.push([{ text: pad }, { text: t, style: i === 0 || t.trimStart().startsWith('^') ? (e.expectError ? 'warn' : 'bad') : undefined }]));
    return rows;
  }
  for (const l of o.result.lines) rows.push(...(width ? foldLine(indentLine(l, pad), width) : [indentLine(l, pad)]));
  return rows;
}

function cellRows(nb: Notebook, c: Cell, n: number, o: { width: number; selected?: string; predicting?: string }, doc: StepDoc): void {
  const rows = doc.rows;
  const start = rows.length;
  const sel = o.selected === c.id;
  const source = nb.cellSource(c);
  const cmds = cellCommands({ ...c, source });
  const commands = new Set(cmds.map((x) => x.text));
  const gutter = `[${n}]`;
  const pending = nb.pendingPrediction(c.id);
  // Until the prediction is made the cell's comments stay hidden: they could answer it.
  const shown = pending ? cmds.map((x) => x.text.slice(0, codeEnd(x.text)).trimEnd()) : source;
  if (pending) for (const x of shown) commands.add(x);
  shown.forEach((text, i) => {
    const g = i === 0 ? (sel ? `▶${gutter}` : ` ${gutter}`) : ' '.repeat(gutter.length + 1);
    rows.push([{ text: g, style: sel ? 'select' : 'dim' }, { text: ' ' }, { text, style: commands.has(text) ? 'cell' : 'dim' }]);
  });
  const pad = ' '.repeat(gutter.length + 2);
  const run = nb.runs.get(c.id);
  const edited = nb.edits.has(c.id);
  if (pending) {
    if (shown.length < source.length || shown.some((t, i) => t !== source[i])) rows.push([{ text: pad }, { text: "(the cell's comments appear after your prediction)", style: 'dim' }]);
    rows.push(...wrapSpans([{ text: `? Predict: ${pending.question}`, style: 'warn' }], o.width, [{ text: pad }]));
    pending.choices?.forEach((ch, i) => rows.push([{ text: pad + '  ' }, { text: `${i + 1}. `, style: 'key' }, { text: ch }]));
    if (o.predicting === c.id) rows.push([{ text: pad }, { text: pending.choices ? 'type a number or your answer below, then ⏎' : 'type your answer below, then ⏎', style: 'dim' }]);
  }
  if (sel && !run) rows.push([{ text: pad }, { text: `⏎ run${edited ? ' (edited)' : ''} · e edit`, style: 'dim' }]);
  else if (edited) rows.push([{ text: pad }, { text: '(edited: e edits again, Ctrl+R in the editor puts the lesson text back)', style: 'dim' }]);
  const out = rows.length;
  if (run) {
    if (run.replayed) rows.push([{ text: pad }, { text: '(run when the lesson resumed, to rebuild the machine)', style: 'dim' }]);
    const many = run.entries.length > 1;
    for (const e of run.entries) rows.push(...entryRows(e, pad, many ? '› ' : undefined, o.width));
    if (run.entries.length === 0) rows.push([{ text: pad }, { text: '(nothing to run)', style: 'dim' }]);
    const pr = run.prediction;
    if (pr && c.predict) {
      const verdict = pr.correct ? `✓ you predicted ${pr.answer}: right.` : `✗ you predicted ${pr.answer}; the answer is ${c.predict.answer}.`;
      const sure = pr.confidence ? ` (you were ${CONFIDENCE[pr.confidence - 1]})` : '';
      rows.push(...wrapSpans([{ text: verdict + sure, style: pr.correct ? 'ok' : 'warn' }], o.width, [{ text: pad }]));
      if (pr.feedback) rows.push(...wrapSpans([{ text: pr.feedback, style: 'strong' }], o.width, [{ text: pad }]));
      rows.push(...wrapSpans([{ text: c.predict.explain }], o.width, [{ text: pad }]));
    }
  }
  doc.cells.set(c.id, { start, out, end: rows.length });
}

function goalRows(nb: Notebook, g: Goal, width: number, rows: DocLine[]): void {
  const st = nb.goals.get(g.id);
  const status: DocLine = st?.passed ? [{ text: `  ✓ passed ${howPassed(nb.progress.goalHelp?.[g.id])}`, style: 'ok' }] : [{ text: '  ○ not yet', style: 'dim' }];
  rows.push(...wrapSpans([{ text: '◆ Goal: ', style: 'heading' }, { text: g.title, style: 'strong' }, ...status], width));
  const res = st?.result;
  // The reader sees each check in the author's words (`say:`), never its command or data path.
  g.checks.forEach((c, i) => {
    const r = res?.checks[i];
    const mark: DocLine = r ? [{ text: r.pass ? '✓ ' : '✗ ', style: r.pass ? 'ok' : 'bad' }] : [{ text: '· ', style: 'dim' }];
    rows.push(...wrapSpans([...mark, { text: c.say ?? describeCheck(c), style: 'dim' }], width, [{ text: '  ' }], [{ text: '    ' }]));
  });
  if (g.answer && !st?.passed && st?.wrong !== undefined) rows.push(...wrapSpans([{ text: '✗ ', style: 'bad' }, { text: `you answered ${st.wrong}: not it`, style: 'dim' }], width, [{ text: '  ' }], [{ text: '    ' }]));
  for (let i = 0; i < (st?.hints ?? 0); i++) rows.push(...wrapSpans([{ text: `hint ${i + 1}: `, style: 'key' }, { text: g.hints[i]! }], width, [{ text: '  ' }], [{ text: '    ' }]));
  const how = g.answer ? 'a types your answer · s puts the solution in the answer line' : 's types the solution into the input line';
  if (!st?.passed) rows.push([{ text: '  ' }, { text: `h hint${g.hints.length ? ` (${st?.hints ?? 0}/${g.hints.length})` : ''} · ${how}`, style: 'dim' }]);
}

export function stepDocument(nb: Notebook, o: { width: number; color: boolean; selected?: string; predicting?: string }): StepDoc {
  const doc: StepDoc = { rows: [], cells: new Map(), freeStart: 0 };
  const rows = doc.rows;
  const w = Math.max(20, o.width);
  const step = nb.current;
  if (!nb.lesson || !step) {
    rows.push([{ text: `Free exploration on ${nb.machineName}`, style: 'heading' }]);
    rows.push(...wrapSpans([{ text: 'Type commands in the input line below: help lists them, Tab completes, ↑ recalls. The panes follow what you do.', style: 'dim' }], w));
  } else {
    const m = nb.lesson.meta;
    if (step.index === 0) {
      rows.push(...wrapSpans([{ text: m.title, style: 'heading' }], w));
      rows.push(...wrapSpans([{ text: m.summary, style: 'em' }], w));
      rows.push([{ text: `machine ${m.machine} · about ${m.minutes} minutes · ${nb.stepCount} steps${m.prerequisites.length ? ` · after ${m.prerequisites.join(', ')}` : ''}`, style: 'dim' }]);
    } else rows.push(...wrapSpans([{ text: `${step.index}. ${step.title}`, style: 'heading' }], w));
    if (step.diagnosis) rows.push(...wrapSpans([{ text: 'Diagnosis mode: ', style: 'key' }, { text: 'commands do not show where DMA really goes (a running kernel cannot see it); reason from what the kernel and the IOMMU record.', style: 'dim' }], w));
    rows.push([]);
    let n = 0;
    const { blocks, hidden } = nb.revealed(step);
    for (const b of blocks) {
      if (b.kind === 'prose') rows.push(...prose(b.tokens, w, o.color), []);
      else if (b.kind === 'cell') {
        cellRows(nb, b.cell, ++n, { width: w, selected: o.selected, predicting: o.predicting }, doc);
        rows.push([]);
      } else {
        goalRows(nb, b.goal, w, rows);
        rows.push([]);
      }
    }
    const last = blocks[blocks.length - 1];
    if (hidden) rows.push(...wrapSpans([{ text: last?.kind === 'goal' ? '… the rest of this step appears once you have answered (a)' : '… the rest of this step appears once you have made your prediction (⏎ on the cell)', style: 'warn' }], w), []);
    if (step.index === 0) rows.push([{ text: 'n (or →) begins the first step.', style: 'dim' }]);
    else if (step.index === nb.stepCount) rows.push([{ text: 'This is the last step.', style: 'dim' }]);
    else rows.push([{ text: `n (or →): step ${step.index + 1}, ${nb.steps[step.index + 1]!.title}`, style: 'dim' }]);
  }
  doc.freeStart = rows.length;
  const free = nb.free.get(nb.lesson ? nb.step : 0) ?? [];
  if (free.length) {
    rows.push([]);
    if (nb.lesson) rows.push([{ text: '── your commands ──', style: 'dim' }]);
    const prompt = `(${nb.machineName}) `;
    for (const e of free) rows.push(...entryRows(e, '', prompt, w));
  }
  return doc;
}

/** What the lesson window follows after an action. */
export type Anchor = { kind: 'cell'; id: string } | { kind: 'select'; id: string } | { kind: 'bottom' } | { kind: 'top' };

/**
 * The first document line the lesson window shows. Without an anchor, the
 * manual scroll; with one: the top, the bottom (after a command of the
 * reader's), a cell with as much of its output as fits (after a run), or
 * the least movement that brings a selected cell into view. The window's
 * first and last rows may carry the scroll marks (↑/↓), which cover the
 * blank lines around a cell, so the aim is one line outside the cell.
 */
export function windowTop(doc: StepDoc, rows: number, anchor: Anchor | undefined, scroll: number, prev: number): number {
  const maxTop = Math.max(0, doc.rows.length - rows);
  if (!anchor) return Math.min(Math.max(0, scroll), maxTop);
  let top = Math.min(scroll, maxTop);
  if (anchor.kind === 'top') top = 0;
  else if (anchor.kind === 'bottom') top = maxTop;
  else {
    const at = doc.cells.get(anchor.id);
    if (at) {
      if (anchor.kind === 'cell') top = Math.min(Math.max(0, at.start - 1), Math.max(0, at.end - rows + 1));
      else {
        top = prev;
        if (at.start - 1 < top) top = Math.max(0, at.start - 1);
        if (at.out + 1 > top + rows) top = Math.min(Math.max(0, at.start - 1), at.out + 1 - rows);
      }
    }
  }
  return Math.max(0, Math.min(top, maxTop));
}
