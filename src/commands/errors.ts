/**
 * Errors are values: a message, the span of input it is about, what was
 * expected there, and a hint. The text renderer draws the line with a caret
 * under the span; JSON output carries the same fields.
 */
export interface SourceSpan {
  start: number;
  end: number;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly span?: SourceSpan,
    readonly expected?: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Render an error under its input line: message, the line, carets, expected, hint. */
export function formatError(line: string, e: CommandError): string[] {
  const out = [`error: ${e.message}`];
  if (e.span && line.length > 0) {
    const start = Math.min(e.span.start, line.length);
    const width = Math.max(1, Math.min(e.span.end, line.length + 1) - start);
    out.push(`  ${line}`);
    out.push(`  ${' '.repeat(start)}${'^'.repeat(width)}`);
  }
  if (e.expected) out.push(`  expected: ${e.expected}`);
  if (e.hint) out.push(`  try: ${e.hint}`);
  return out;
}
