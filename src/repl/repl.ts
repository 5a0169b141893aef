/**
 * The plain REPL: node's repl with pretty-repl colouring the input as it is
 * typed, our command language as its evaluator, a prompt naming the
 * machine, tab completion from the command specs, and history in the XDG
 * state directory. (piped.ts handles stdin that is not a terminal.)
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { REPLServer } from 'node:repl';
import prettyRepl from 'pretty-repl';
import type { Session } from '../commands/session.ts';
import { complete } from '../commands/complete.ts';
import { renderError, renderLines } from '../commands/render.ts';
import { colorizeInput } from './colorize.ts';
import { historyFile } from '../env/paths.ts';

export interface ReplOptions {
  color: boolean;
}

const prompt = (s: Session): string => `(${s.system.preset.name}) `;

export async function runInteractive(s: Session, o: ReplOptions): Promise<number> {
  const server: REPLServer = prettyRepl.start({
    prompt: prompt(s),
    ignoreUndefined: true,
    terminal: true,
    useColors: o.color,
    colorize: o.color ? colorizeInput : (x: string) => x,
    completer: (line: string) => complete(s, line),
    eval: (input: string, _ctx: unknown, _file: string, cb: (err: Error | null, result?: unknown) => void) => {
      const line = input.replace(/\n$/, '');
      const outcome = s.execute(line);
      if (outcome.ok && outcome.empty) return cb(null, undefined);
      if (outcome.ok) {
        const text = renderLines(outcome.result.lines, o.color);
        if (text) process.stdout.write(text + '\n');
      } else {
        process.stdout.write(renderError(outcome, o.color) + '\n');
      }
      server.setPrompt(prompt(s));
      cb(null, undefined);
    },
  } as Parameters<typeof prettyRepl.start>[0]);
  server.defineCommand('help', {
    help: 'Show the lab commands and the REPL dot-commands',
    action() {
      const outcome = s.execute('help');
      if (outcome.ok && !outcome.empty) process.stdout.write(renderLines(outcome.result.lines, o.color) + '\n');
      process.stdout.write('\nREPL: .help this list, .exit leave (or Ctrl+D). History is kept in ' + historyFile() + '\n');
      this.displayPrompt();
    },
  });
  try {
    mkdirSync(dirname(historyFile()), { recursive: true });
    await new Promise<void>((res) => server.setupHistory(historyFile(), () => res()));
  } catch {
    process.stderr.write(`warning: cannot keep history in ${historyFile()}\n`);
  }
  return new Promise((res) => server.on('exit', () => res(0)));
}
