/**
 * `dma-lab lint FILE`: everything that can be known about a lesson without
 * running it. The format (front matter, predict and goal YAML, check
 * shapes) comes from the parser; this adds what needs the command
 * registry and the presets: the machine and its options exist, every cell
 * line and solution parses, every check and pane command only looks (its
 * spec does not mutate and does not rewrite history), every check says in
 * words what it checks (`say:`), prerequisites name
 * lessons that exist, the id matches the file name.
 */
import { basename, dirname } from 'node:path';
import { createSession } from '../commands/index.ts';
import { CommandError } from '../commands/errors.ts';
import type { Session } from '../commands/session.ts';
import { findPreset } from '../scenarios/index.ts';
import { cellCommands, type Diagnostic, type Lesson } from './format.ts';
import { lessonFiles, loadLessonFile, slugOf } from './library.ts';

function checkLine(s: Session, text: string, line: number, what: string, diags: Diagnostic[], readOnly: boolean): void {
  const p = s.parse(text);
  if (!p.ok) {
    const col = p.error.span ? ` (column ${p.error.span.start + 1})` : '';
    diags.push({ line, message: `${what} \`${text.trim()}\` does not parse: ${p.error.message}${col}` });
    return;
  }
  if (p.empty) {
    diags.push({ line, message: `${what} is empty` });
    return;
  }
  if (readOnly && (p.spec!.mutates || p.spec!.history)) {
    const why = p.spec!.history ? `'${p.spec!.name}' rewrites the undo history` : `'${p.spec!.name}' mutates`;
    diags.push({ line, message: `${what} \`${text.trim()}\` changes the machine (${why}); checks and panes may only run commands that look` });
  }
}

/** Commands that act through a device's real DMA path: they would give a diagnosis step's answer away. */
const REAL_PATH = ['walk', 'devdma read', 'devdma write', 'x', 'msi'];

/** Lint a parsed lesson (diagnostics from parsing included by the caller). */
export function lintLesson(lesson: Lesson, otherIds?: string[]): Diagnostic[] {
  const diags: Diagnostic[] = [];
  const m = lesson.meta;
  const file = basename(lesson.file);
  const slug = /^\d+-.+\.md$/.test(file) ? slugOf(file) : undefined;
  if (slug && m.id && m.id !== slug) diags.push({ line: m.lines.id ?? 1, message: `id '${m.id}' does not match the file name ${file} (expected '${slug}')` });
  const preset = m.machine ? findPreset(m.machine) : undefined;
  if (m.machine && !preset) diags.push({ line: m.lines.machine ?? 1, message: `unknown machine '${m.machine}' (see dma-lab machines)` });
  let session: Session | undefined;
  if (preset) {
    try {
      session = createSession(m.machine, new Map(Object.entries(m.options)));
    } catch (e) {
      const msg = e instanceof CommandError ? `${e.message}${e.expected ? ` (expected ${e.expected})` : ''}` : String(e);
      const key = Object.keys(m.options).find((k) => msg.includes(`'${k}'`) || msg.includes(` ${k}:`));
      diags.push({ line: (key && m.lines[`options.${key}`]) || m.lines.options || 1, message: `machine options: ${msg}` });
      session = createSession(m.machine);
    }
  }
  if (otherIds) for (const p of m.prerequisites) if (!otherIds.includes(p)) diags.push({ line: m.lines.prerequisites ?? 1, message: `prerequisite '${p}' is not a lesson in ${dirname(lesson.file)}` });
  if (!session) return diags;
  for (const p of m.panes) checkLine(session, p.run, p.line, `pane '${p.title}' command`, diags, true);
  for (const s of lesson.steps) {
    for (const c of s.cells)
      for (const cmd of cellCommands(c)) {
        checkLine(session, cmd.text, cmd.line, 'cell command', diags, false);
        const p = s.diagnosis ? session.parse(cmd.text) : undefined;
        if (p?.ok && p.spec && REAL_PATH.includes(p.spec.name)) diags.push({ line: cmd.line, message: `\`${cmd.text.trim()}\` in a diagnosis step: '${p.spec.name}' follows the device's real DMA path, which diagnosis mode hides (leave it for a later step)` });
      }
    for (const g of s.goals) {
      if (!g.answer) checkLine(session, g.solution, g.line, `goal '${g.title}' solution`, diags, false);
      for (const c of g.checks) {
        checkLine(session, c.run, c.line, 'check command', diags, true);
        if (!c.say?.trim()) diags.push({ line: c.line, message: "check: say what it checks in words the reader understands (say: ...); the reader never sees the command or the data path" });
      }
      if (g.answer?.run) checkLine(session, g.answer.run, g.answer.line, 'goal answer command', diags, true);
    }
  }
  return diags;
}

/** Lint a file: parse problems and lint problems, sorted by line. */
export function lintFile(path: string): Diagnostic[] {
  const e = loadLessonFile(path);
  const ids = lessonFiles(dirname(path))
    .filter((f) => f !== path)
    .map((f) => {
      try {
        return loadLessonFile(f).id;
      } catch {
        return slugOf(f);
      }
    });
  const diags = [...e.diagnostics, ...lintLesson(e.lesson, [...ids, e.id])];
  return diags.sort((a, b) => a.line - b.line);
}
