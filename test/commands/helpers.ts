/** Shared by the command tests: run a line and get its result, or its error. */
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
