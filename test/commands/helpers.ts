/** Shared by the command tests: run a line and get its result, or its error. */
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import type { Outcome, Session } from '../../src/commands/session.ts';
import type { CommandResult } from '../../src/commands/registry.ts';
import type { CommandError } from '../../src/commands/errors.ts';
import { renderError, renderLines } from '../../src/commands/render.ts';

export function ok(s: Session, line: string): CommandResult {
  const o = s.execute(line);
  if (!o.ok) throw new Error(`unexpected failure of '${line}':\n${renderError(o, false)}`);
  if (o.empty) throw new Error(`'${line}' was empty`);
  return o.result;
}

export const text = (r: CommandResult): string => renderLines(r.lines, false);

export function fails(s: Session, line: string): CommandError {
  const o: Outcome = s.execute(line);
  if (o.ok) throw new Error(`'${line}' should have failed`);
  return o.error;
}

/** A session on a preset, booted with `boot ARGS`. */
export function booted(preset: string, bootArgs = ''): Session {
  const s = createSession(preset);
  ok(s, `boot ${bootArgs}`.trim());
  return s;
}

/** The text a span points at. */
export const spanText = (line: string, e: CommandError): string => (e.span ? line.slice(e.span.start, e.span.end) : '');

/**
 * For property tests: run one line; it must return an outcome (never throw),
 * never report an internal error, and if it fails leave `fingerprint(s)` as it was.
 */
export function checkLine(s: Session, l: string, fingerprint: (s: Session) => string): void {
  const before = fingerprint(s);
  let o: Outcome;
  try {
    o = s.execute(l);
  } catch (e) {
    assert.unreachable(`execute threw on ${JSON.stringify(l)}: ${(e as Error).stack}`);
    return;
  }
  if (!o.ok) {
    assert.not.match(o.error.message, 'internal error', `internal error on ${JSON.stringify(l)}: ${o.error.message}`);
    assert.is(fingerprint(s), before, `failed command changed the machine: ${JSON.stringify(l)}`);
  }
}
