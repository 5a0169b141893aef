/** Issue 13, layout: panes below the lesson up to WIDE_AT columns, hide and resize, output folded without cutting a word. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { computeLayout, WIDE_AT } from '../../src/ui/layout.ts';
import { foldLine } from '../../src/ui/document.ts';
import { truncateLine, type DocLine } from '../../src/notebook/prose.ts';

test('at 120x40 the lesson takes the whole width and the panes go below; beside from WIDE_AT columns', () => {
  const l = computeLayout(120, 40);
  assert.not.ok(l.wide);
  assert.is(l.lesson.width, 120);
  assert.is(WIDE_AT, 140);
  const w = computeLayout(160, 40);
  assert.ok(w.wide);
  assert.ok(w.lesson.width >= 60);
});

test('the inspector can be hidden and resized, within bounds that keep the lesson readable', () => {
  const hidden = computeLayout(120, 40, { inspector: false });
  assert.is(hidden.lesson.rows, hidden.bodyRows);
  const base = computeLayout(120, 40);
  const bigger = computeLayout(120, 40, { grow: 2 });
  assert.ok(bigger.inspector.rows > base.inspector.rows);
  assert.is(bigger.lesson.rows + bigger.inspector.rows, bigger.bodyRows);
  assert.ok(computeLayout(120, 40, { grow: 99 }).lesson.rows >= 6);
  assert.ok(computeLayout(120, 40, { grow: -99 }).inspector.rows >= 3);
  const wide = computeLayout(180, 40, { grow: 99 });
  assert.ok(wide.lesson.width >= 60);
  assert.is(wide.lesson.width + 1 + wide.inspector.width, 180);
  assert.ok(computeLayout(180, 40, { grow: -99 }).inspector.width >= 40);
});

test('a long output line is folded at a blank: every row fits, and no word (hex number) is cut', () => {
  const word = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => '0x' + v.toString(16).padStart(16, '0')), fc.constantFrom('F_TRANSLATION', 'StreamID', 'reads', '->', 'PA'));
  fc.assert(
    fc.property(fc.array(word, { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 40, max: 120 }), (words, indent, width) => {
      const text = ' '.repeat(indent) + words.join('  ');
      const line: DocLine = [{ text: text.slice(0, 10) }, { text: text.slice(10), style: 'num' }];
      const rows = foldLine(line, width);
      const texts = rows.map((r) => r.map((x) => x.text).join(''));
      for (const t of texts) assert.ok(t.length <= width, `row wider than ${width}: ${t}`);
      const got = texts.flatMap((t) => t.trim().split(/\s+/)).filter(Boolean);
      assert.equal(got, words, 'the same words, whole, in order');
    }),
    { numRuns: 300 },
  );
});

test('a line that fits is left as it is; styles survive folding', () => {
  const l: DocLine = [{ text: 'short' }];
  assert.equal(foldLine(l, 40), [l]);
  const long: DocLine = [{ text: 'x'.repeat(30) + ' ' }, { text: '0xdeadbeefdeadbeef', style: 'num' }];
  const rows = foldLine(long, 40);
  assert.is(rows.length, 2);
  assert.equal(rows[1], [{ text: '  ' }, { text: '0xdeadbeefdeadbeef', style: 'num' }]);
});

test('a line cut to fit (panes, headers) is cut at a blank: no hex number is shown cut short', () => {
  const word = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => '0x' + v.toString(16)), fc.constantFrom('F_TRANSLATION', 'read', '->', 'PA'));
  fc.assert(
    fc.property(fc.array(word, { minLength: 1, maxLength: 30 }), fc.integer({ min: 40, max: 100 }), (words, width) => {
      const line: DocLine = [{ text: words.join(' ') }];
      const cut = truncateLine(line, width);
      const t = cut.map((x) => x.text).join('');
      assert.ok(t.length <= width);
      if (t === words.join(' ')) return;
      assert.ok(t.endsWith('…'));
      const shown = t.slice(0, -1).trim().split(' ').filter(Boolean);
      shown.forEach((w, i) => assert.is(w, words[i], `word ${i} shown cut: ${t}`));
    }),
    { numRuns: 300 },
  );
  assert.equal(truncateLine([{ text: 'IOVA ' }, { text: '0x00000000ffffa000', style: 'num' }], 20), [{ text: 'IOVA ' }, { text: '…', style: 'dim' }]);
});

test.run();
