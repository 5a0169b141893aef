/**
 * `dma-lab practice` and `dma-lab review` as a user runs them (the built
 * bin, answers piped one a line): the miss is recorded, review brings it
 * back, a right answer moves it forward; usage errors name the token,
 * what was expected and what to try, with status 2.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers.ts';

let state: string;
test.before.each(() => {
  state = mkdtempSync(join(tmpdir(), 'dma-lab-practice-cli-'));
});
test.after.each(() => rmSync(state, { recursive: true, force: true }));

const run = (args: string[], input = '', now = '2026-12-05T12:00:00.000Z') => cli(args, { input, env: { DMA_LAB_STATE_DIR: state, DMA_LAB_NOW: now } });

/** The answers --solve prints for a drill, in ask order. */
function solvedAnswers(topic: string, seed: number): string[] {
  const s = run(['practice', topic, '--seed', String(seed), '--solve']);
  assert.is(s.status, 0);
  const block = s.stdout.split('\nanswer:\n')[1]!.split('\nworking:\n')[0]!;
  // "  prompt: value (extra)": the value is the first word after the prompt's colon.
  return block.split('\n').map((l) => l.slice(l.indexOf(': ') + 2).split(' ')[0]!);
}

test('a wrong answer is recorded; review asks it again; right moves it to box 2, due tomorrow; status 1 then 0', () => {
  const answers = solvedAnswers('vring', 5);
  assert.is(answers.length, 3);
  const p = run(['practice', 'vring', '--seed', '5', '--count', '1'], '0x1\n0x2\n3\n');
  assert.is(p.status, 1, 'a missed drill: status 1');
  assert.match(p.stdout, /avail ring address> 0x1\n/, 'a piped answer is echoed after its prompt');
  assert.match(p.stdout, /\(vring --seed 5: review box 1, due now\)/);
  assert.match(p.stdout, /0 of 1 right; the missed drill comes back in 'dma-lab review'/);
  const stored = JSON.parse(readFileSync(join(state, 'practice.json'), 'utf8'));
  assert.equal(Object.keys(stored.items), ['vring:5']);

  const r = run(['review'], answers.join('\n') + '\n');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^1 drill due/);
  assert.match(r.stdout, /\[vring --seed 5\]/);
  assert.match(r.stdout, /review box 2, due 2026-12-06/);
  assert.match(r.stdout, /1 of 1 reviewed right/);

  const none = run(['review']);
  assert.is(none.status, 0);
  assert.match(none.stdout, /nothing due now; 1 drill waiting \(box 2: 1\), the next due 2026-12-06 12:00 UTC/);
  const tomorrow = run(['review'], answers.join('\n') + '\n', '2026-12-06T12:00:00.000Z');
  assert.match(tomorrow.stdout, /review box 3, due 2026-12-09/);
});

test('--solve asks nothing and records nothing; --seed reproduces; without a topic the topics rotate', () => {
  const a = run(['practice', '--seed', '40', '--count', '5', '--solve']);
  const b = run(['practice', '--seed', '40', '--count', '5', '--solve']);
  assert.is(a.status, 0);
  assert.is(a.stdout, b.stdout);
  const topics = [...a.stdout.matchAll(/^\[([a-z-]+) --seed (\d+)\]/gm)].map((m) => m[1]);
  assert.equal(topics.sort(), ['dmar-fault', 'iova-split', 'smmu-event', 'swiotlb', 'vring']);
  assert.is(run(['review']).stdout, "nothing to review: drills you miss in 'dma-lab practice' come back here\n");
});

test('end of input stops the session without recording the unanswered drill', () => {
  const r = run(['practice', 'swiotlb', '--seed', '3', '--count', '2'], '');
  assert.is(r.status, 0);
  assert.match(r.stdout, /stopped: 0 of 0 right/);
  assert.is(run(['review']).stdout.startsWith('nothing to review'), true);
});

test('usage errors name the token, what was expected and what to try; status 2', () => {
  const cases: [string[], RegExp][] = [
    [['practice', '--seed', 'abc'], /--seed takes a whole number from 0 to 4294967295, not 'abc'; try --seed 42/],
    [['practice', '--seed=-1'], /--seed takes a whole number from 0 to 4294967295, not '-1'/],
    [['practice', '--seed', '4294967296'], /not '4294967296'/],
    [['practice', 'smmu', '--seed', '1'], /unknown practice topic 'smmu': expected one of smmu-event, dmar-fault, iova-split, swiotlb, vring; try 'dma-lab practice smmu-event'/],
    [['practice', '--count', '101'], /--count 101 is more than the limit of 100 drills a session \(a stated limit\); try --count 100/],
    [['practice', '--count', '0'], /--count takes a whole number from 1 to 100, not '0'/],
    [['review', '--seed', '1'], /option --seed does not apply to 'review'/],
    [['practice', 'vring', 'extra'], /unexpected argument 'extra'/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.is(r.status, 2, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
    assert.not.match(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  }
});

test('practice topics lists every topic', () => {
  const r = run(['practice', 'topics']);
  assert.is(r.status, 0);
  for (const t of ['smmu-event', 'dmar-fault', 'iova-split', 'swiotlb', 'vring']) assert.match(r.stdout, new RegExp(`^  ${t} `, 'm'));
});

test.run();
