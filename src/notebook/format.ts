/**
 * The lesson format, and its parser. A lesson is data: one Markdown file
 * that runs no code of its own (DESIGN.md, "Lessons are data").
 *
 *   lessons/NN-slug.md
 *
 *   ---                                   front matter (YAML)
 *   id: slug                              equals the file name without NN- and .md
 *   title: A tour of the lab
 *   summary: one line for the lesson list
 *   machine: arm-virt                     a preset (dma-lab machines)
 *   options: {ram: 2G}                    preset options (optional; values as written)
 *   minutes: 10
 *   prerequisites: []                     lesson ids (optional)
 *   panes:                                extra inspector panes (optional)
 *     - {title: Options, run: show}       run: a read-only command
 *   ---
 *   Introduction (step 0, the cover): everything before the first `##`.
 *
 *   ## A step title                       one step per `##` heading
 *   Prose in Markdown: emphasis, `code`, lists, tables, code blocks.
 *
 *   ```predict                            attaches to the NEXT dma cell of the step
 *   question: What will xp show?
 *   choices: [zeros, 0xdeadbeef]          optional; without it the reader types
 *   answer: zeros                         one of the choices when there are choices
 *   explain: RAM reads as zero until written.
 *   feedback: {0xdeadbeef: Nothing wrote it yet.}   optional: per wrong answer
 *   accept: [0, nothing]                  optional: more right typed answers (no choices)
 *   confidence: true                      optional: ask how sure, after the answer
 *   ```
 *   Until the prediction is made the reader sees nothing after it in the
 *   step: not the cell's comments, not the prose or goals below it.
 *
 *   ```dma                                a command cell: one command a line
 *   xp/4xw 0x40000000                     `#` starts a comment
 *   xp 0x0a000000   # expect error        a line that is meant to fail
 *   ```
 *
 *   ```step                               options for this step (optional, one per step)
 *   diagnosis: true                       commands leave out what a running kernel
 *   ```                                   cannot know (where DMA really goes)
 *
 *   ```goal                               an exercise, checked after every command
 *   title: Put 0xcafef00d at 0x40002000
 *   checks:
 *     - {run: "xp/1xw 0x40002000", match: "0xcafef00d"}
 *   hints: [first hint, second hint]
 *   solution: write 0x40002000 0xcafef00d size=w
 *   ```
 *
 * The check language is in checks.ts. Parsing uses markdown-it (token.map
 * gives each block's lines) for the Markdown and yaml for the front matter
 * and the predict and goal blocks (blocks.ts: a LineCounter gives each
 * key's line), so every problem is reported as a file line. No regular
 * expression reads the Markdown itself.
 */
import MarkdownIt from 'markdown-it';
import { lex } from '../commands/lexer.ts';
import { parseFrontMatter, parseGoal, parsePredict, parseStepOptions } from './blocks.ts';

export { matcher, toBig } from './blocks.ts';

export type * from './lesson-types.ts';
import type { Cell, CellCommand, Diagnostic, FrontMatter, Goal, Lesson, MdToken, ParseOptions, Predict, Step } from './lesson-types.ts';

export const md = new MarkdownIt({ html: false, linkify: false, typographer: false });

/** The commands of a cell line: code before a `#` comment; blank and comment-only lines are none. */
export function cellCommands(cell: Cell): CellCommand[] {
  return cell.source.flatMap((text, i) => {
    let codeEnd = text.length;
    try {
      const l = lex(text);
      if (l.tokens.length === 0) return [];
      codeEnd = l.codeEnd;
    } catch {
      // a lexing error is the command's to report when it runs (or lint's)
      if (text.trim() === '' || text.trim().startsWith('#')) return [];
    }
    const comment = text.slice(codeEnd);
    return [{ text, line: cell.line + 1 + i, expectError: /^#.*\bexpect(s|ed)? error\b/i.test(comment.trim()) }];
  });
}

/**
 * Parse a lesson file. Always returns a lesson (as much as could be read)
 * and the problems found; a lesson with problems should not be opened.
 */
export function parseLesson(text: string, file: string, opts: ParseOptions = {}): { lesson: Lesson; diagnostics: Diagnostic[] } {
  const diags: Diagnostic[] = [];
  const src = text.replace(/\r\n?/g, '\n');
  const lines = src.split('\n');
  let bodyFrom = 0;
  let meta: FrontMatter = { id: '', title: '', summary: '', machine: '', options: {}, minutes: 0, prerequisites: [], panes: [], lines: {} };
  if (lines[0]?.trim() !== '---') {
    diags.push({ line: 1, message: 'a lesson starts with front matter between --- lines (id, title, summary, machine, minutes)' });
  } else {
    const close = lines.findIndex((l, i) => i > 0 && (l.trim() === '---' || l.trim() === '...'));
    if (close < 0) diags.push({ line: 1, message: 'the front matter has no closing --- line' });
    else {
      meta = parseFrontMatter(lines.slice(1, close).join('\n'), diags);
      bodyFrom = close + 1;
    }
  }
  // Blank out the front matter so markdown-it's line numbers are the file's.
  const body = lines.map((l, i) => (i < bodyFrom ? '' : l)).join('\n');
  const tokens = md.parse(body, {});

  const steps: Step[] = [{ index: 0, title: meta.title || 'Introduction', line: bodyFrom + 1, blocks: [], cells: [], goals: [] }];
  let cur = steps[0]!;
  let prose: MdToken[] = [];
  let pending: Predict | undefined;
  let pendingProse = false;
  let stepOptionsSeen = -1;
  const flushProse = (): void => {
    if (!prose.length) return;
    const maps = prose.filter((t) => t.map);
    const line = maps.length ? maps[0]!.map![0] + 1 : cur.line;
    const endLine = maps.length ? Math.max(...maps.map((t) => t.map![1])) : line;
    cur.blocks.push({ kind: 'prose', tokens: prose, line, endLine });
    prose = [];
  };
  const endStep = (): void => {
    flushProse();
    if (pending) diags.push({ line: pending.line, message: 'this predict block has no dma cell after it in the same step' });
    pending = undefined;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type === 'heading_open' && t.tag === 'h2' && t.level === 0) {
      endStep();
      const title = tokens[i + 1]?.type === 'inline' ? tokens[i + 1]!.content : '';
      cur = { index: steps.length, title, line: t.map![0] + 1, blocks: [], cells: [], goals: [] };
      steps.push(cur);
      i += 2; // inline + heading_close
      continue;
    }
    const kind = t.type === 'fence' ? t.info.trim().split(/\s+/)[0] : undefined;
    if (kind === 'step') {
      const fenceLine = t.map![0] + 1;
      if (t.level !== 0) diags.push({ line: fenceLine, message: 'a step block must stand on its own, not inside a list or quote' });
      else if (stepOptionsSeen === cur.index) diags.push({ line: fenceLine, message: 'one step block per step' });
      else {
        stepOptionsSeen = cur.index;
        const o = parseStepOptions(t.content, fenceLine, diags);
        if (o?.diagnosis) cur.diagnosis = true;
      }
      continue;
    }
    if (kind === 'dma' || kind === 'predict' || kind === 'goal') {
      const fenceLine = t.map![0] + 1;
      if (t.level !== 0) {
        diags.push({ line: fenceLine, message: `a ${kind} block must stand on its own, not inside a list or quote` });
        continue;
      }
      flushProse();
      if (kind === 'dma') {
        const source = t.content.replace(/\n$/, '').split('\n');
        const cell: Cell = { id: `s${cur.index}c${cur.cells.length + 1}`, step: cur.index, line: fenceLine, source, ...(pending ? { predict: pending } : {}) };
        pending = undefined;
        if (cellCommands(cell).length === 0) diags.push({ line: fenceLine, message: 'this dma cell has no command (one command a line; # starts a comment)' });
        cur.cells.push(cell);
        cur.blocks.push({ kind: 'cell', cell });
      } else if (kind === 'predict') {
        if (pending) diags.push({ line: pending.line, message: 'two predict blocks in a row: each attaches to the next dma cell' });
        pending = opts.light ? undefined : parsePredict(t.content, fenceLine, diags);
        pendingProse = false;
        if (!pending) pending = undefined;
      } else {
        const g = opts.light
          ? { id: `s${cur.index}g${cur.goals.length + 1}`, step: cur.index, line: fenceLine, title: '', checks: [], hints: [], solution: '' }
          : parseGoal(t.content, fenceLine, cur.index, cur.goals.length + 1, diags);
        if (g) {
          cur.goals.push(g);
          cur.blocks.push({ kind: 'goal', goal: g });
        }
      }
      continue;
    }
    if (pending && !pendingProse) {
      pendingProse = true;
      diags.push({ line: t.map ? t.map[0] + 1 : pending.line, message: 'prose between a predict block and its dma cell: put the predict block right before the cell (prose after a prediction stays hidden until it is made)' });
    }
    prose.push(t);
  }
  endStep();
  if (steps.length === 1) diags.push({ line: bodyFrom + 1, message: 'a lesson needs at least one step (a ## heading)' });
  steps.forEach((s) => {
    if (s.index > 0 && !s.title.trim()) diags.push({ line: s.line, message: 'a step heading needs a title' });
  });
  return { lesson: { file, text: src, meta, steps, ...(opts.light ? { light: true } : {}) }, diagnostics: diags.sort((a, b) => a.line - b.line) };
}

/** Every cell and goal of a lesson, in order. */
export const allCells = (l: Lesson): Cell[] => l.steps.flatMap((s) => s.cells);
export const allGoals = (l: Lesson): Goal[] => l.steps.flatMap((s) => s.goals);
