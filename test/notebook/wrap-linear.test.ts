// Regression (issue 12 item 6): word wrap was quadratic in a word's length:
// one 400k-character word took ~5 s (and again at every resize). It must
// scale linearly and cut exactly at the width.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { wrapSpans, lineWidth } from '../../src/notebook/prose.ts';

test('a long word starts a line and is cut into full lines, the last one holding the rest', () => {
  const lines = wrapSpans([{ text: 'ab ' + 'x'.repeat(23) + ' cd' }], 10);
  // as before the rewrite: the long word starts a new line, then fills whole lines
  assert.equal(lines.map((l) => l.map((s) => s.text).join('')), ['ab', 'xxxxxxxxxx', 'xxxxxxxxxx', 'xxx cd']);
});

test('wide characters count two cells and are never split', () => {
  const lines = wrapSpans([{ text: '漢'.repeat(7) }], 5);
  assert.ok(lines.every((l) => lineWidth(l) <= 5));
  assert.is(lines.map((l) => l.map((s) => s.text).join('')).join(''), '漢'.repeat(7));
});

test('linear: ten times the word takes far less than a hundred times as long', () => {
  const time = (n: number): number => {
    const t = performance.now();
    wrapSpans([{ text: 'y'.repeat(n) }], 60);
    return performance.now() - t;
  };
  time(20_000); // warm up
  // The fastest of three runs of each: a shared machine's scheduling and GC
  // pauses only ever add time, and quadratic growth would be 100x, not < 40x.
  const best = (n: number): number => Math.min(time(n), time(n), time(n));
  const small = Math.max(best(40_000), 1);
  const big = best(400_000);
  assert.ok(big < small * 40, `400k took ${big.toFixed(0)} ms, 40k ${small.toFixed(0)} ms`);
});

test.run();
