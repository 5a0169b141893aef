// Regression (issue 12 item 2): a lesson's goal pattern `match: "/(1+)+x/"`
// hung the lab for ever (backtracking). Lesson patterns run on RE2 (re2js):
// linear time; what RE2 cannot take (backreferences, lookaround) is a
// clear error for lint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluateCheck } from '../../src/notebook/checks.ts';
import { matcher } from '../../src/notebook/blocks.ts';
import type { Check } from '../../src/notebook/lesson-types.ts';

test('/(1+)+x/ against 100,000 ones: an answer at once, not a hang', () => {
  const c = { run: 'print 1', match: '/(1+)+x/', line: 1 } as unknown as Check;
  const t = performance.now();
  const r = evaluateCheck(c, { ok: true, lines: ['1'.repeat(100_000)], data: {} });
  assert.is(r.pass, false);
  assert.ok(performance.now() - t < 2000, `took ${(performance.now() - t).toFixed(0)} ms`);
});

test('flags i, s, m work as in the lesson format; RE2-only syntax is an error naming the pattern', () => {
  assert.ok(matcher('/event 0X10/i').re!.test('event 0x10 received'));
  assert.ok(matcher('/a.b/s').re!.test('a\nb'));
  assert.ok(matcher('/^b$/m').re!.test('a\nb\nc'));
  const bad = matcher('/(a)\\1/');
  assert.not.ok(bad.re);
  assert.match(bad.error!, 'bad regular expression /(a)\\1/');
  assert.match(bad.error!, 'RE2 syntax');
});

test.run();
