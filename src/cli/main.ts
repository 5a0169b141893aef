/**
 * dma-lab's command line. Parses arguments with node's util.parseArgs and
 * dispatches. Only the terminal UI imports Ink and React, lazily, so
 * `--version`, `run`, `repl` and friends start fast (see PLATFORM.md); the
 * machine model is imported only by the commands that use it, so the
 * terminal UI draws home before it loads (issue 15).
 */
import { visibleKeepSgr } from '../inspect/view.ts';
import { LessonFileError } from '../notebook/lesson-files.ts';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { version } from '../env/version.ts';
import { DEFAULT_PRESET } from '../scenarios/catalog.ts';
import { CommandError } from '../commands/errors.ts';
import { jsonReplacer } from '../commands/render.ts';

/** The machine model and the script runner, for the commands that need them. */
/**
 * The terminal UI's module graph. Ink reads CI / CONTINUOUS_INTEGRATION once,
 * when its chunk evaluates (is-in-ci), and then renders only the final frame;
 * a bundle evaluates the ink chunk before any code of the module importing
 * it, so the variables go here, before the import (src/ui/ci-env.ts says why).
 */
function importUi(): Promise<typeof import('../ui/run.tsx')> {
  if (process.stdout.isTTY) {
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
  }
  return import('../ui/run.tsx');
}

const model = async () => {
  const [{ PRESETS }, { createSession }, { runScript }] = await Promise.all([import('../scenarios/index.ts'), import('../commands/index.ts'), import('../repl/script.ts')]);
  return { PRESETS, createSession, runScript };
};

export const USAGE = `usage: dma-lab [COMMAND] [OPTIONS]

commands:
  (none)                 the terminal UI (when stdin and stdout are terminals; otherwise as 'repl')
  repl                   the plain command REPL
  run FILE|-             run a script of commands, one per line ('-' reads stdin)
  machines               list the machine presets
  decode [FILE|-]        find IOMMU fault reports (arm-smmu-v3 events) in kernel log text and explain them
  lessons                list the lessons with minutes and your progress
  lesson ID              open a lesson (printed as text with each cell's output when not a terminal)
  lesson ID --check      run every cell and goal solution, evaluate every check; status 1 on a failure
  lesson ID --minutes    how long the lesson takes by the lab's reading rates (counts of words, commands, output)
  lint FILE...           check lesson files: FILE:LINE: message, status 1 on problems
  progress               where you are in each lesson
  progress reset ID|--all   forget progress (asks on a terminal; --yes otherwise)
  progress export FILE   write your progress to FILE; progress import FILE reads one back
  practice [TOPIC]       generated drills checked by the lab's decoders and model (topics: 'dma-lab practice topics')
  review                 ask again the drills you missed, when they are due (Leitner boxes)

options:
  --machine NAME         machine preset (default ${DEFAULT_PRESET}; see 'dma-lab machines')
  --set NAME=VALUE       set a machine option before start (repeatable)
  --json                 run: one JSON object per command
  --keep-going           run: do not stop at the first failed command
  --echo                 run: print each command before its output (a transcript)
  --check                lesson: check the lesson headless instead of opening it
  --minutes              lesson: measure its minutes from what it makes a reader read and do
  --all, --yes           progress reset: every lesson; do not ask
  --seed N               practice: the drills of seed N (the same every time)
  --count N              practice, review: at most N drills (default 5, --solve 1, review 20; limit 100)
  --solve                practice: print the drills with their answers and working, ask nothing
  --no-color             no colour (also when NO_COLOR is set)
  -h, --help             this help
  -V, --version          the version`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  machine: { type: 'string' },
  set: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  'keep-going': { type: 'boolean' },
  echo: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  check: { type: 'boolean' },
  minutes: { type: 'boolean' },
  all: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  force: { type: 'boolean' },
  seed: { type: 'string' },
  count: { type: 'string' },
  solve: { type: 'boolean' },
} as const;

/** Which options each command accepts (help, version and no-color go everywhere). */
const ALLOWED: Record<string, string[]> = {
  '': ['machine', 'set'],
  repl: ['machine', 'set'],
  run: ['machine', 'set', 'json', 'keep-going', 'echo'],
  machines: ['json'],
  decode: ['json'],
  lessons: ['json'],
  lesson: ['check', 'minutes'],
  lint: [],
  progress: ['all', 'yes', 'json', 'force'],
  practice: ['seed', 'count', 'solve'],
  review: ['count'],
};

class UsageError extends Error {}

// The last write of every CLI path: the lab's own colour codes pass, any other
// control byte (from a lesson, a log, an imported file) is shown, not sent.
const out = (s: string): void => void process.stdout.write(visibleKeepSgr(s));
const err = (s: string): void => void process.stderr.write(visibleKeepSgr(s));

function parseSets(sets: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const s of sets ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set takes NAME=VALUE, not '${s}'`);
    m.set(s.slice(0, eq), s.slice(eq + 1));
  }
  return m;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    err(`dma-lab: ${(e as Error).message.split('\n')[0]}\n${USAGE}\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const color = !v['no-color'] && !process.env.NO_COLOR && !!process.stdout.isTTY;
  if (v.version) {
    out(`dma-lab ${version()}\n`);
    return 0;
  }
  if (v.help) {
    out(USAGE + '\n');
    return 0;
  }
  const cmd = positionals[0] ?? '';
  try {
    if (!(cmd in ALLOWED)) throw new UsageError(`unknown command '${cmd}'`);
    for (const k of Object.keys(v)) {
      if (!['help', 'version', 'no-color'].includes(k) && !ALLOWED[cmd]!.includes(k)) {
        throw new UsageError(`option --${k} does not apply to ${cmd ? `'${cmd}'` : 'the terminal UI'}`);
      }
    }
    const maxPos = { run: 2, decode: 2, '': 0, lesson: 2, lint: Infinity, progress: 3, practice: 2 }[cmd] ?? 1;
    if (positionals.length > maxPos) throw new UsageError(`unexpected argument '${positionals[maxPos]}'`);
    const sets = parseSets(v.set);
    const machine = v.machine ?? DEFAULT_PRESET;

    switch (cmd) {
      case 'machines': {
        const { PRESETS } = await model();
        if (v.json) out(JSON.stringify(PRESETS.map((p) => ({ name: p.name, summary: p.summary, options: p.options })), jsonReplacer) + '\n');
        else for (const p of PRESETS) out(`${p.name.padEnd(18)}${p.summary}\n`);
        return 0;
      }
      case 'run': {
        const file = positionals[1];
        if (!file) throw new UsageError("'run' needs a script file, or - for stdin");
        let text: string;
        try {
          text = readFileSync(file === '-' ? 0 : file, 'utf8');
        } catch (e) {
          err(`dma-lab: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
          return 1;
        }
        const { createSession, runScript } = await model();
        const s = createSession(machine, sets);
        const r = runScript(s, text, { json: v.json, keepGoing: v['keep-going'], echo: v.echo, color, file: file === '-' ? '<stdin>' : file, out, err });
        return r.failed ? 1 : 0;
      }
      case 'decode': {
        const { runDecode } = await import('./decode.ts');
        return runDecode(positionals[1], { json: !!v.json, color, out, err });
      }
      case 'lessons':
      case 'lesson':
      case 'lint':
      case 'progress': {
        // The notebook's subcommands load markdown-it and yaml, never Ink: only
        // `lesson ID` on a terminal imports the UI.
        const nb = await import('../notebook/cli.ts');
        const io = { out, err, color, stdinTty: !!process.stdin.isTTY };
        if (cmd === 'lessons') return nb.cmdLessons(io, v.json);
        if (cmd === 'lint') return nb.cmdLint(positionals.slice(1), io);
        if (cmd === 'progress') return nb.cmdProgress(positionals.slice(1), io, { yes: v.yes, all: v.all, json: v.json, force: v.force });
        const ref = positionals[1];
        if (!ref) throw new UsageError("'lesson' needs a lesson id ('dma-lab lessons' lists them)");
        if (v.minutes) return nb.cmdLessonMinutes(ref, io);
        if (!v.check && process.stdin.isTTY && process.stdout.isTTY) {
          const e = nb.resolveLesson(ref, io);
          if (!e) return 1;
          const { runTui } = await importUi();
          return runTui({ color, lessonFile: e.file, lessonEntry: e });
        }
        return nb.cmdLesson(ref, io, !!v.check);
      }
      case 'practice':
      case 'review': {
        const p = await import('../practice/cli.ts');
        const tty = !!process.stdin.isTTY && !!process.stdout.isTTY;
        try {
          if (cmd === 'review') return await p.cmdReview({ count: v.count }, { out, err }, { tty });
          if (positionals[1] === 'topics') {
            out(p.topicsText() + '\n');
            return 0;
          }
          return await p.cmdPractice({ topic: positionals[1], seed: v.seed, count: v.count, solve: v.solve }, { out, err }, { tty });
        } catch (e) {
          if (e instanceof p.PracticeUsageError) {
            err(`dma-lab: ${e.message}\n`);
            return 2;
          }
          throw e;
        }
      }
      case 'repl':
      case '': {
        const tty = !!process.stdin.isTTY && !!process.stdout.isTTY;
        // The terminal UI on its home screen: nothing to check before it draws.
        if (cmd === '' && tty && !v.machine && !sets.size) return (await importUi()).runTui({ color });
        const s = (await model()).createSession(machine, sets);
        if (cmd === '' && tty) {
          const { runTui } = await importUi();
          return runTui({ color, ...(v.machine || sets.size ? { machine, options: sets } : {}) });
        }
        if (tty) return (await import('../repl/repl.ts')).runInteractive(s, { color });
        return (await import('../repl/piped.ts')).runPiped(s, { color });
      }
    }
    return 2;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`dma-lab: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof CommandError) {
      err(`dma-lab: ${e.message}${e.expected ? ` (expected ${e.expected})` : ''}${e.hint ? `; try ${e.hint}` : ''}\n`);
      return 2;
    }
    if (e instanceof LessonFileError) {
      err(`dma-lab: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
