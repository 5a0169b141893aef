/**
 * Line numbers of offsets in a long text (a kernel log given to `decode`).
 * The newline offsets are found once per text; each lookup is a binary
 * search. Counting the newlines before every report made decode quadratic
 * (4 MB of log: 22 s).
 */
let lastText: string | undefined;
let lastStarts: number[] = [];

/** Offsets at which each line of `text` starts (line 1 at 0). */
function lineStarts(text: string): number[] {
  if (text === lastText) return lastStarts;
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  lastText = text;
  lastStarts = starts;
  return starts;
}

/** The 1-based line of `text` that offset `at` is on. */
export function lineOf(text: string, at: number): number {
  const s = lineStarts(text);
  let lo = 0;
  let hi = s.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s[mid]! <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
