/**
 * Running a script of commands: one per line, `#` comments. Used by
 * `dma-lab run` and by the REPL when its input is not a terminal.
 */
import type { Session } from '../commands/session.ts';
import { outcomeJson, renderError, renderLines } from '../commands/render.ts';

export interface ScriptOptions {
  json?: boolean;
  keepGoing?: boolean;
  /** Print each command before its output, as a transcript (`(machine) cmd`), all on stdout. */
  echo?: boolean;
  color?: boolean;
  /** Name for error prefixes (`script.dma:3: `). */
  file?: string;
  out(text: string): void;
  err(text: string): void;
}

export interface ScriptResult {
  ran: number;
  failed: number;
  stopped: boolean;
}

/** Run one line and print its outcome. Returns false when the command failed. */
export function runLine(s: Session, line: string, lineNo: number, o: ScriptOptions): boolean {
  const outcome = s.execute(line);
  if (outcome.ok && outcome.empty) return true;
  if (o.echo && !o.json) o.out(`(${s.system.preset.name}) ${line.trim()}\n`);
  if (o.json) {
    o.out(outcomeJson(outcome, lineNo) + '\n');
    return outcome.ok;
  }
  if (outcome.ok) {
    const text = renderLines(outcome.result.lines, !!o.color);
    if (text) o.out(text + '\n');
    return true;
  }
  const prefix = o.file ? `${o.file}:${lineNo}: ` : '';
  (o.echo ? o.out : o.err)(renderError(outcome, !!o.color, prefix) + '\n');
  return false;
}

export function runScript(s: Session, text: string, o: ScriptOptions): ScriptResult {
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  let ran = 0;
  let failed = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim() || line.trim().startsWith('#')) continue;
    ran++;
    if (!runLine(s, line, i + 1, o)) {
      failed++;
      if (!o.keepGoing) return { ran, failed, stopped: true };
    }
  }
  return { ran, failed, stopped: false };
}
