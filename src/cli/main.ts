/**
 * dma-lab's command line. Parses arguments with node's util.parseArgs and
 * dispatches. Only the terminal UI imports Ink and React, lazily, so
 * `--version`, `run`, `repl` and friends start fast (see PLATFORM.md).
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { version } from './version.ts';
import { PRESETS, DEFAULT_PRESET } from '../scenarios/index.ts';
import { createSession } from '../commands/index.ts';
import { CommandError } from '../commands/errors.ts';
import { runScript } from '../repl/script.ts';
import { jsonReplacer } from '../commands/render.ts';

export const USAGE = `usage: dma-lab [COMMAND] [OPTIONS]

commands:
  (none)                 the terminal UI (when stdin and stdout are terminals; otherwise as 'repl')
  repl                   the plain command REPL
  run FILE|-             run a script of commands, one per line ('-' reads stdin)
  machines               list the machine presets

options:
  --machine NAME         machine preset (default ${DEFAULT_PRESET}; see 'dma-lab machines')
  --set NAME=VALUE       set a machine option before start (repeatable)
  --json                 run: one JSON object per command
  --keep-going           run: do not stop at the first failed command
  --echo                 run: print each command before its output (a transcript)
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
} as const;

/** Which options each command accepts (help, version and no-color go everywhere). */
const ALLOWED: Record<string, string[]> = {
  '': ['machine', 'set'],
  repl: ['machine', 'set'],
  run: ['machine', 'set', 'json', 'keep-going', 'echo'],
  machines: ['json'],
};

class UsageError extends Error {}

const out = (s: string): void => void process.stdout.write(s);
const err = (s: string): void => void process.stderr.write(s);

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
    const maxPos = cmd === 'run' ? 2 : cmd === '' ? 0 : 1;
    if (positionals.length > maxPos) throw new UsageError(`unexpected argument '${positionals[maxPos]}'`);
    const sets = parseSets(v.set);
    const machine = v.machine ?? DEFAULT_PRESET;

    switch (cmd) {
      case 'machines': {
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
        const s = createSession(machine, sets);
        const r = runScript(s, text, { json: v.json, keepGoing: v['keep-going'], echo: v.echo, color, file: file === '-' ? '<stdin>' : file, out, err });
        return r.failed ? 1 : 0;
      }
      case 'repl':
      case '': {
        const s = createSession(machine, sets);
        const tty = !!process.stdin.isTTY && !!process.stdout.isTTY;
        if (cmd === '' && tty) {
          const { runTui } = await import('../ui/run.tsx');
          return runTui({ color });
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
    throw e;
  }
}
