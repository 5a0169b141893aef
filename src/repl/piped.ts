/**
 * The REPL when stdin is not a terminal: read commands line by line, print
 * each result, exit 0, or 1 if any command failed. No prompt, no colouring
 * of input, and none of pretty-repl's weight.
 */
import { createInterface } from 'node:readline';
import type { Session } from '../commands/session.ts';
import { runLine } from './script.ts';

/** Non-interactive: run stdin line by line. Resolves to the exit status. */
export async function runPiped(s: Session, o: { color: boolean }): Promise<number> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  let failed = 0;
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!runLine(s, line, n, { color: o.color, out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) })) failed++;
  }
  return failed ? 1 : 0;
}

