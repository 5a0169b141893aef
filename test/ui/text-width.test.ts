/**
 * The bundle's fast path in front of string-width (src/ui/text-width.ts)
 * must give exactly what string-width gives: every code point it claims is
 * checked against the string-width that Ink, cli-truncate and widest-line
 * import (node_modules/string-width; the build puts the fast path in front
 * of that one only: wrap-ansi's own older copy counts text-style emoji such
 * as ▶ two columns wide, and is left alone), alone and between other
 * characters, and so are strings with colour sequences; what it cannot
 * tell, it leaves to string-width.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fastWidth, NARROW } from '../../src/ui/text-width.ts';
import { ROOT } from '../cli/helpers.ts';

type Sw = (s: string, o?: object) => number;
const widths: [string, Sw][] = [];
test.before(async () => {
  const req = createRequire(join(ROOT, 'package.json'));
  const top = join(ROOT, 'node_modules', 'string-width');
  const pkg = req(join(top, 'package.json')) as { version: string };
  widths.push([pkg.version, (await import(pathToFileURL(join(top, 'index.js')).href)).default as Sw]);
});

const claimed = (): number[] => NARROW.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));

test('every code point in NARROW is one column in string-width, alone and between letters', () => {
  for (const [v, sw] of widths)
    for (const c of claimed()) {
      const ch = String.fromCodePoint(c);
      assert.is(sw(ch), 1, `string-width ${v}: U+${c.toString(16)} ${ch}`);
      assert.is(sw(`a${ch}b`), 3, `string-width ${v}: a U+${c.toString(16)} b`);
      assert.is(sw(`${ch}${ch}`), 2, `string-width ${v}: U+${c.toString(16)} twice`);
    }
});

test('every code point in NARROW is its own grapheme cluster', () => {
  const seg = new Intl.Segmenter();
  for (const c of claimed()) {
    const ch = String.fromCodePoint(c);
    assert.is([...seg.segment(`a${ch}a`)].length, 3, `U+${c.toString(16)}`);
    assert.is([...seg.segment(`${ch}${ch}`)].length, 2, `U+${c.toString(16)}`);
  }
});

test('the strings the UI draws: the same width as string-width', () => {
  const samples = [
    '',
    'plain ascii',
    '▶ tour                       A tour of the lab: memory, commands …   10 min  not started',
    '⏎ open  ↑↓ choose  ? help  q quit',
    '\x1b[1mdma-lab\x1b[22m  \x1b[2ma lab for how devices reach memory\x1b[22m',
    '\x1b[38;5;123m│\x1b[39m ─── ✓ ✗ ◆ ○ • · ‹ › ≤ ≥ ▏',
    '\x1b[m\x1b[0;1;4mx\x1b[0m',
    'café naïve ±§',
  ];
  for (const s of samples) {
    const w = fastWidth(s);
    assert.ok(w !== undefined, JSON.stringify(s));
    for (const [v, sw] of widths) assert.is(w, sw(s), `string-width ${v}: ${JSON.stringify(s)}`);
  }
});

test('what the fast path cannot tell goes to string-width', () => {
  for (const s of ['漢字', 'e\u0301', '👍', '▶\ufe0f', 'a\tb', 'x\ny', '\x1b]8;;http://x\x07link\x1b]8;;\x07', '\x1b[12345m', '\x9b31m', '\u00ad', '\u200b', '⌚', '◽']) assert.is(fastWidth(s), undefined, JSON.stringify(s));
  assert.is(fastWidth('abc', { ambiguousIsNarrow: false }), undefined);
  assert.is(fastWidth('abc', { countAnsiEscapeCodes: true }), undefined);
  assert.is(fastWidth('abc', {}), 3);
});

test.run();
