/**
 * Notebook export: the session as a Markdown file a reader can keep or
 * share: the lesson's prose as written, each cell (as run, edits included)
 * with its output, predictions and goals with how they went, and the
 * reader's own commands with their outputs, step by step.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderError, renderLines } from '../commands/render.ts';
import { feedbackFor, type Entry, type Notebook } from './engine.ts';
import { howPassed } from './progress.ts';
import type { Step } from './format.ts';

/** Output of one command as plain text (errors as the REPL's caret block). */
export function entryText(e: Entry): string {
  const o = e.outcome;
  if (o.ok && o.empty) return '';
  if (!o.ok) return renderError(o, false);
  return renderLines(o.result.lines, false);
}

const fence = (lang: string, body: string): string => {
  const ticks = body.includes('```') ? '````' : '```';
  return `${ticks}${lang}\n${body.replace(/\n+$/, '')}\n${ticks}\n`;
};

function transcript(entries: Entry[], prompt: string): string {
  return entries.map((e) => `${prompt}${e.line}\n${entryText(e)}`.replace(/\n+$/, '')).join('\n');
}

function stepMarkdown(nb: Notebook, s: Step, lines: string[]): string {
  const out: string[] = [];
  const prompt = `(${nb.machineName}) `;
  if (s.index > 0) out.push(`## ${s.title}\n`);
  for (const b of s.blocks) {
    if (b.kind === 'prose') {
      let from = b.line - 1;
      // the step's heading is written above; skip it in the prose slice
      if (s.index > 0 && from === s.line - 1) from++;
      const text = lines.slice(from, b.endLine).join('\n').trim();
      if (text) out.push(text + '\n');
    } else if (b.kind === 'cell') {
      const c = b.cell;
      const run = nb.runs.get(c.id);
      if (c.predict) {
        const p = nb.progress.predictions[c.id];
        const fb = p ? feedbackFor(c.predict, p).feedback : undefined;
        const sure = p?.confidence ? `, you were ${['guessing', 'fairly sure', 'certain'][p.confidence - 1]}` : '';
        out.push(`> **Predict:** ${c.predict.question}${c.predict.choices ? ` (${c.predict.choices.join(' / ')})` : ''}\n> ${p ? `You predicted: ${p.answer} (${p.correct ? 'right' : `the answer: ${c.predict.answer}`}${sure}). ${fb ? `${fb} ` : ''}${c.predict.explain}` : 'No prediction made.'}\n`);
      }
      out.push(fence('dma', nb.cellSource(c).join('\n')) + (nb.edits.has(c.id) ? '_(edited)_\n' : ''));
      if (run) out.push(fence('text', transcript(run.entries, prompt)));
      else out.push('_(not run)_\n');
    } else {
      const g = b.goal;
      const st = nb.goals.get(g.id);
      out.push(`**Goal: ${g.title}** — ${st?.passed ? `passed ${howPassed(nb.progress.goalHelp?.[g.id])}` : 'not passed yet'}${st && !st.passed && st.hints ? ` (${st.hints} hint${st.hints > 1 ? 's' : ''} used)` : ''}\n`);
      for (const c of g.checks) if (c.say) out.push(`- ${c.say}\n`);
    }
  }
  const free = nb.free.get(s.index);
  if (free?.length) out.push('### Your commands\n', fence('text', transcript(free, prompt)));
  return out.join('\n');
}

/** The whole notebook as Markdown. */
export function notebookMarkdown(nb: Notebook, version: string): string {
  const opts = [...nb.options].map(([k, v]) => `${k}=${v}`).join(' ');
  const head = `Exported from dma-lab ${version}; machine ${nb.preset}${opts ? ` (${opts})` : ''}.\n`;
  if (!nb.lesson) {
    const free = nb.free.get(0) ?? [];
    return `# dma-lab session on ${nb.preset}\n\n${head}\n${free.length ? fence('text', transcript(free, `(${nb.machineName}) `)) : '_(no commands run)_\n'}`;
  }
  const lines = nb.lesson.text.split('\n');
  const parts = [`# ${nb.lesson.meta.title}: notebook\n`, head];
  for (const s of nb.lesson.steps) parts.push(stepMarkdown(nb, s, lines));
  return parts.join('\n');
}

/** lesson-ID-notebook.md (or machine-PRESET-notebook.md) in `dir`; returns the absolute path. */
export function exportNotebook(nb: Notebook, version: string, dir = process.cwd()): string {
  const name = nb.lesson ? `lesson-${nb.lesson.meta.id}-notebook.md` : `machine-${nb.preset}-notebook.md`;
  const file = resolve(dir, name);
  writeFileSync(file, notebookMarkdown(nb, version));
  return file;
}
