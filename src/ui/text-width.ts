/**
 * A fast path in front of string-width for the bundle (issue 15). Ink
 * measures every line it draws with string-width; for any string that is
 * not plain ASCII, string-width segments graphemes and tests each against
 * /^\p{RGI_Emoji}$/v, a pattern V8 takes 20-50 ms to compile on first use.
 * Home's first frame has '▶', '…', '⏎' and '↑↓', so it paid that on the
 * critical path while a plain-ASCII Ink app did not.
 *
 * fastWidth answers only for strings made of printable ASCII, SGR colour
 * sequences and the code points in NARROW, each of which is its own
 * grapheme cluster and one column wide under string-width's defaults
 * (test/ui/text-width.test.ts checks every one of them against the real
 * string-width Ink imports); for anything else it returns
 * undefined and the caller asks string-width. scripts/build.mjs puts it in
 * front of every `import 'string-width'` in the bundle; from source (tsx)
 * it is not used.
 */

/** Ranges [from, to] of code points that are one column and never join a cluster (checked by the test). */
export const NARROW: readonly (readonly [number, number])[] = [
  [0x00a1, 0x00ac], // Latin-1 punctuation and symbols (U+00AD soft hyphen is zero-width: not here)
  [0x00ae, 0x00ff], // Latin-1 letters
  [0x2010, 0x2027], // dashes, quotes, bullet •, ellipsis …
  [0x2030, 0x205e], // per mille, primes, ‹ ›
  [0x2190, 0x21ff], // arrows ← ↑ → ↓
  [0x2200, 0x22ff], // mathematical operators ≤ ≥
  [0x23ce, 0x23ce], // ⏎ return symbol
  [0x2500, 0x259f], // box drawing ─ │, block elements ▏
  [0x25a0, 0x25fc], // geometric shapes ▶ ◆ ○ (U+25FD and U+25FE are emoji: not here)
  [0x2713, 0x2713], // ✓
  [0x2717, 0x2717], // ✗
];

const narrow = (c: number): boolean => {
  for (const [a, b] of NARROW) if (c >= a && c <= b) return true;
  return false;
};

/**
 * The width string-width gives `s`, or undefined when this fast path cannot
 * tell. SGR sequences (ESC [ params m, each parameter at most 4 digits: what
 * string-width's ansi-regex removes whole) count zero; any other escape
 * sends the string to string-width.
 */
export function fastWidth(s: string, o?: { ambiguousIsNarrow?: boolean; countAnsiEscapeCodes?: boolean }): number | undefined {
  if (typeof s !== 'string') return undefined;
  if (o && (o.ambiguousIsNarrow === false || o.countAnsiEscapeCodes === true)) return undefined;
  let w = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) w++;
    else if (c === 0x1b) {
      if (s.charCodeAt(i + 1) !== 0x5b) return undefined;
      let j = i + 2;
      let digits = 0;
      for (; j < s.length; j++) {
        const d = s.charCodeAt(j);
        if (d >= 0x30 && d <= 0x39) {
          if (++digits > 4) return undefined;
        } else if (d === 0x3b) digits = 0;
        else break;
      }
      if (s.charCodeAt(j) !== 0x6d) return undefined;
      i = j;
    } else if (narrow(c)) w++;
    else return undefined;
  }
  return w;
}
