/**
 * The notebook's subcommands for src/cli/main.ts: `lessons`, `lesson ID`
 * (as text, or `--check`), `lint FILE...`, `progress [reset|export|import]`.
 * Loaded lazily by main.ts and free of Ink and React: none of these start
 * the terminal UI (main.ts imports src/ui only for `lesson ID` on a terminal).
 */
import { formatMeasure, measureLesson } from './minutes.ts';
import { createInterface } from 'node:readline/promises';
import { relative } from 'node:path';
import { listLessons, findLesson, findLessonFull, lessonsDir, type LessonEntry, LessonFileError } from './library.ts';
import { lintFile, lintLesson } from './lint.ts';
import { checkLesson, printLesson } from './headless.ts';
import { ProgressStore, howPassed, progressFile, standing, standingText } from './progress.ts';
import type { Diagnostic } from './format.ts';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  color: boolean;
  /** stdin is a terminal (progress reset asks before forgetting). */
  stdinTty: boolean;
}

const rel = (f: string): string => {
  const r = relative(process.cwd(), f);
  return r && !r.startsWith('..') ? r : f;
};

const diagText = (file: string, d: Diagnostic[]): string => d.map((x) => `${rel(file)}:${x.line}: ${x.message}\n`).join('');

export function loadStore(io: Io): ProgressStore {
  return ProgressStore.load(progressFile(), (m) => io.err(`dma-lab: warning: ${m}\n`));
}

/** `dma-lab lessons`. */
export function cmdLessons(io: Io, json = false): number {
  const store = loadStore(io);
  const all = listLessons();
  if (json) {
    io.out(
      JSON.stringify(
        all.map((e) => ({ id: e.id, file: rel(e.file), title: e.lesson.meta.title, summary: e.lesson.meta.summary, minutes: e.lesson.meta.minutes, machine: e.lesson.meta.machine, problems: e.diagnostics.length, progress: standing(e.lesson, store.lesson(e.id)) })),
      ) + '\n',
    );
    return 0;
  }
  if (!all.length) {
    io.out(`no lessons in ${lessonsDir()}\n`);
    return 0;
  }
  const idW = Math.max(2, ...all.map((e) => e.id.length));
  const tW = Math.min(44, Math.max(5, ...all.map((e) => e.lesson.meta.title.length)));
  io.out(`${'id'.padEnd(idW)}  ${'title'.padEnd(tW)}  minutes  progress\n`);
  for (const e of all) {
    const title = e.lesson.meta.title.length > tW ? e.lesson.meta.title.slice(0, tW - 1) + '…' : e.lesson.meta.title;
    const prog = e.diagnostics.length ? `broken: ${e.diagnostics.length} problem(s); dma-lab lint ${rel(e.file)}` : standingText(standing(e.lesson, store.lesson(e.id)), { how: true });
    io.out(`${e.id.padEnd(idW)}  ${title.padEnd(tW)}  ${String(e.lesson.meta.minutes || '?').padStart(7)}  ${prog}\n`);
  }
  return 0;
}

/** Resolve a lesson reference for `lesson ID`, reporting a missing or broken one. */
export function resolveLesson(ref: string, io: Io): LessonEntry | undefined {
  const e = findLessonFull(ref);
  if (!e) {
    const ids = listLessons().map((x) => x.id);
    io.err(`dma-lab: no lesson '${ref}'${ids.length ? ` (lessons: ${ids.join(', ')})` : ''}; 'dma-lab lessons' lists them\n`);
    return undefined;
  }
  const diags = [...e.diagnostics, ...lintLesson(e.lesson)];
  if (diags.length) {
    io.err(diagText(e.file, diags));
    io.err(`dma-lab: lesson '${e.id}' has ${diags.length} problem(s); fix them first (dma-lab lint ${rel(e.file)})\n`);
    return undefined;
  }
  return e;
}

/** `dma-lab lesson ID` without a terminal, or with --check. */
export function cmdLesson(ref: string, io: Io, check: boolean): number {
  const e = resolveLesson(ref, io);
  if (!e) return 1;
  if (check) {
    const r = checkLesson(e.lesson);
    (r.ok ? io.out : io.err)(r.lines.join('\n') + '\n');
    return r.ok ? 0 : 1;
  }
  // `dma-lab lesson tour | head`: a closed pipe ends the printing quietly, not with a stack trace
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  printLesson(e.lesson, io.out, { color: io.color });
  return 0;
}

/** `dma-lab lesson ID --minutes`: the counts and rates of notebook/minutes.ts. */
export function cmdLessonMinutes(ref: string, io: Io): number {
  const e = resolveLesson(ref, io);
  if (!e) return 1;
  io.out(formatMeasure(e.lesson, measureLesson(e.lesson)) + '\n');
  return 0;
}

/** `dma-lab lint FILE...`. */
export function cmdLint(files: string[], io: Io): number {
  if (!files.length) {
    io.err("dma-lab: 'lint' needs one or more lesson files\n");
    return 2;
  }
  let bad = 0;
  for (const f of files) {
    let diags: Diagnostic[];
    try {
      diags = lintFile(f);
    } catch (e) {
      io.err(e instanceof LessonFileError ? `${e.message}\n` : `${f}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      bad++;
      continue;
    }
    if (diags.length) {
      bad += diags.length;
      io.out(diagText(f, diags));
    } else io.out(`${rel(f)}: ok\n`);
  }
  if (bad) io.err(`${bad} problem${bad > 1 ? 's' : ''}\n`);
  return bad ? 1 : 0;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const a = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(a.trim());
  } finally {
    rl.close();
  }
}

/** `dma-lab progress [reset [ID|--all] | export FILE | import FILE]`. */
export async function cmdProgress(args: string[], io: Io, o: { yes?: boolean; all?: boolean; json?: boolean; force?: boolean }): Promise<number> {
  const store = loadStore(io);
  const sub = args[0];
  if (sub === undefined) {
    if (o.all || o.yes) {
      io.err("dma-lab: --all and --yes go with 'progress reset'\n");
      return 2;
    }
    if (o.json) {
      io.out(JSON.stringify(store.data) + '\n');
      return 0;
    }
    const lessons = listLessons();
    const ids = new Set([...lessons.map((l) => l.id), ...Object.keys(store.data.lessons)]);
    let any = false;
    for (const id of ids) {
      const p = store.lesson(id);
      if (!p) continue;
      any = true;
      const e = lessons.find((l) => l.id === id);
      if (!e) {
        io.out(`${id}  (no such lesson installed)  step ${p.step}\n`);
        continue;
      }
      const s = standing(e.lesson, p);
      const st = e.lesson.steps[Math.min(p.step, e.lesson.steps.length - 1)]!;
      io.out(`${id}  ${e.lesson.meta.title}\n`);
      io.out(`  at step ${p.step}/${e.lesson.steps.length - 1}${p.step ? ` "${st.title}"` : ' (introduction)'}; ${s.stepsDone}/${s.steps} steps done\n`);
      io.out(`  cells run ${s.cellsRun}/${s.cells}, predictions ${s.predictions} (${s.predictionsCorrect} right), goals passed ${s.goalsPassed}/${s.goals}${p.lastOpened ? `, last opened ${p.lastOpened.replace('T', ' ').slice(0, 16)} UTC` : ''}\n`);
      for (const g of e.lesson.steps.flatMap((x) => x.goals)) if (p.goalsPassed.includes(g.id)) io.out(`  goal ${g.id} passed ${howPassed(p.goalHelp?.[g.id])}${g.title ? `: ${g.title}` : ''}\n`);
    }
    if (!any) io.out('no progress yet: dma-lab lessons lists the lessons\n');
    io.out(`(${store.file})\n`);
    return 0;
  }
  if (sub === 'reset') {
    const id = args[1];
    if (!id && !o.all) {
      io.err("dma-lab: 'progress reset' needs a lesson id, or --all\n");
      return 2;
    }
    if (id && o.all) {
      io.err("dma-lab: give a lesson id or --all, not both\n");
      return 2;
    }
    if (id && !store.lesson(id)) {
      io.out(`no progress recorded for '${id}'\n`);
      return 0;
    }
    const what = id ? `progress for lesson '${id}'` : `progress for all ${Object.keys(store.data.lessons).length} lesson(s)`;
    if (!o.yes) {
      if (!io.stdinTty) {
        io.err(`dma-lab: refusing to forget ${what} without --yes (stdin is not a terminal, so it cannot ask)\n`);
        return 2;
      }
      if (!(await confirm(`Forget ${what}?`))) {
        io.out('kept\n');
        return 0;
      }
    }
    const gone = store.reset(id);
    store.save();
    if (store.inMemoryOnly) return 1; // the warning said why nothing was written
    io.out(gone.length ? `forgot ${gone.join(', ')}\n` : 'nothing to forget\n');
    return 0;
  }
  if (sub === 'export' || sub === 'import') {
    const file = args[1];
    if (!file) {
      io.err(`dma-lab: 'progress ${sub}' needs a FILE\n`);
      return 2;
    }
    if (sub === 'export') {
      try {
        store.exportTo(file, o.force);
      } catch (e) {
        io.err(`dma-lab: ${(e as Error).message}\n`);
        return 1;
      }
      io.out(`progress written to ${file}\n`);
      return 0;
    }
    try {
      const ids = store.importFrom(file);
      store.save();
      if (store.inMemoryOnly) return 1; // the warning said why nothing was written
      io.out(`imported ${ids.length} lesson(s)${ids.length ? `: ${ids.join(', ')}` : ''}\n`);
      return 0;
    } catch (e) {
      io.err(`dma-lab: ${(e as Error).message}\n`);
      return 1;
    }
  }
  io.err(`dma-lab: unknown 'progress' subcommand '${sub}' (reset, export, import)\n`);
  return 2;
}
