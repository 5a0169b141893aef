/**
 * Lessons without a terminal UI:
 *
 * - `checkLesson`: `dma-lab lesson ID --check`. Runs every cell in order,
 *   applies every goal's solution as a reader would (the line executed),
 *   evaluates every check, and reports each failure as FILE:LINE.
 * - `printLesson`: `dma-lab lesson ID` when stdin or stdout is not a
 *   terminal: the lesson as text with each cell's output.
 */
import { relative } from 'node:path';
import { renderError, renderLines } from '../commands/render.ts';
import { commandPane } from '../commands/panes.ts';
import { Notebook, type Entry } from './engine.ts';
import { cellCommands, type Lesson } from './format.ts';
import { describeCheck } from './checks.ts';
import { docText, renderProse } from './prose.ts';

export interface CheckReport {
  ok: boolean;
  lines: string[];
  failures: number;
  warnings: number;
}

const where = (file: string, line: number): string => {
  const r = relative(process.cwd(), file);
  return `${r && !r.startsWith('..') ? r : file}:${line}`;
};

export function checkLesson(lesson: Lesson): CheckReport {
  const lines: string[] = [];
  let failures = 0;
  let warnings = 0;
  const fail = (line: number, msg: string): void => {
    failures++;
    lines.push(`FAIL ${where(lesson.file, line)}: ${msg}`);
  };
  const warn = (line: number, msg: string): void => {
    warnings++;
    lines.push(`warn ${where(lesson.file, line)}: ${msg}`);
  };
  let nb: Notebook;
  try {
    nb = Notebook.forLesson(lesson, { step: 0, prepare: false, now: () => new Date(0) });
  } catch (e) {
    fail(lesson.meta.lines.machine ?? 1, `cannot build machine ${lesson.meta.machine}: ${(e as Error).message}`);
    return { ok: false, lines, failures, warnings };
  }
  let cells = 0;
  let goals = 0;
  for (const s of lesson.steps) {
    nb.goto(s.index);
    for (const c of s.cells) {
      cells++;
      const r = nb.runCell(c.id)!;
      const cmds = cellCommands(c);
      r.entries.forEach((e, i) => {
        const cmd = cmds[i]!;
        if (e.outcome.ok && cmd.expectError) fail(cmd.line, `\`${e.line.trim()}\` was expected to fail, but it ran`);
        else if (!e.outcome.ok && !cmd.expectError) fail(cmd.line, `\`${e.line.trim()}\` failed:\n${renderError(e.outcome, false).replace(/^/gm, '    ')}`);
      });
      if (r.failed && r.entries.length < cmds.length) lines.push(`     (the rest of cell ${c.id} did not run)`);
    }
    for (const g of s.goals) {
      goals++;
      if (g.answer) {
        const want = nb.expectedAnswer(g);
        if (want.value === undefined) fail(g.answer.line, `goal '${g.title}': the answer cannot be read: ${want.error}`);
        else if (!nb.answerGoal(g.id, g.solution)?.correct) fail(g.line, `goal '${g.title}': the solution \`${g.solution}\` is not the answer the machine gives now (${want.value})`);
        continue;
      }
      if (nb.evaluate(g).pass) warn(g.line, `goal '${g.title}' already passes before its solution is applied (is the check too weak?)`);
      const e = nb.runFree(g.solution)!;
      if (!e.outcome.ok) fail(g.line, `goal '${g.title}': the solution \`${g.solution}\` failed: ${e.outcome.error.message}`);
      const r = nb.evaluate(g);
      r.checks.forEach((c, i) => {
        if (!c.pass) fail(g.checks[i]!.line, `goal '${g.title}': check ${describeCheck(g.checks[i]!)} did not pass after the solution: ${c.detail}`);
      });
    }
  }
  for (const p of lesson.meta.panes) {
    const pane = commandPane(nb.session, p.title, p.run);
    if (pane.error) warn(p.line, `pane '${p.title}' (\`${p.run}\`) fails at the end of the lesson: ${pane.lines.map((l) => l.map((x) => x.text).join('')).join(' ').trim()}`);
  }
  lines.unshift(`${lesson.meta.id}: ${lesson.steps.length - 1} steps, ${cells} cells, ${goals} goals checked`);
  lines.push(failures ? `${failures} failure${failures > 1 ? 's' : ''}${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}` : `ok${warnings ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}`);
  return { ok: failures === 0, lines, failures, warnings };
}

function entryLines(e: Entry, prompt: string, color: boolean): string {
  const o = e.outcome;
  const head = `${prompt}${e.line}`;
  if (o.ok && o.empty) return head;
  if (!o.ok) return `${head}\n${renderError(o, color)}`;
  const body = renderLines(o.result.lines, color);
  return body ? `${head}\n${body}` : head;
}

/** The lesson as text with every cell's output (solutions applied so later steps run as written). */
export function printLesson(lesson: Lesson, out: (s: string) => void, o: { color: boolean; width?: number }): boolean {
  const width = o.width ?? 80;
  const nb = Notebook.forLesson(lesson, { step: 0, prepare: false, now: () => new Date(0) });
  // The prompt names the machine each command ran on: a `machine` command switches it.
  let machineName = lesson.meta.machine;
  const prompt = (): string => `(${machineName}) `;
  const prose = (tokens: Parameters<typeof renderProse>[0]): string => renderProse(tokens, { width, marks: true }).map(docText).join('\n');
  let ok = true;
  out(`${lesson.meta.title}\n${'='.repeat(Math.min(width, lesson.meta.title.length))}\n${lesson.meta.summary}\nmachine ${lesson.meta.machine}${Object.keys(lesson.meta.options).length ? ` (${Object.entries(lesson.meta.options).map(([k, v]) => `${k}=${v}`).join(' ')})` : ''}, about ${lesson.meta.minutes} minutes, ${lesson.steps.length - 1} steps\n`);
  for (const s of lesson.steps) {
    nb.goto(s.index);
    if (s.index > 0) out(`\n## ${s.index}/${lesson.steps.length - 1} ${s.title}\n`);
    for (const b of s.blocks) {
      if (b.kind === 'prose') {
        const t = prose(b.tokens);
        if (t) out(`\n${t}\n`);
      } else if (b.kind === 'cell') {
        const c = b.cell;
        if (c.predict) {
          out(`\nPredict: ${c.predict.question}\n`);
          c.predict.choices?.forEach((ch, i) => out(`  ${i + 1}. ${ch}\n`));
        }
        const r = nb.runCell(c.id)!;
        if (r.failed) ok = false;
        out('\n' + r.entries.map((e) => {
          const text = entryLines(e, prompt(), o.color);
          if (e.outcome.ok && !e.outcome.empty && e.outcome.result.kind === 'machine') machineName = (e.outcome.result.data as { preset: string }).preset;
          return text;
        }).join('\n') + '\n');
        if (c.predict) {
          out(`Answer: ${c.predict.answer}. ${c.predict.explain}\n`);
          for (const f of c.predict.feedback ?? []) out(`  (to "${f.answer}": ${f.text})\n`);
        }
      } else {
        const g = b.goal;
        out(`\nGoal: ${g.title}\n`);
        for (const c of g.checks) if (c.say) out(`  - ${c.say}\n`);
        g.hints.forEach((h, i) => out(`  hint ${i + 1}: ${h}\n`));
        if (g.answer) {
          const right = nb.answerGoal(g.id, g.solution)?.correct ?? false;
          out(`  answer: ${g.solution}${right ? '' : '  (not what the machine shows!)'}\n`);
          if (!right) ok = false;
          continue;
        }
        const e = nb.runFree(g.solution)!;
        const pass = nb.evaluate(g).pass;
        out(`  solution: ${g.solution}${pass ? '' : '  (the checks do not pass!)'}\n`);
        if (!e.outcome.ok || !pass) ok = false;
      }
    }
  }
  return ok;
}
