/**
 * The review loop: a wrong answer is recorded (box 1, due at once),
 * `review` brings it back, a right answer moves it up a box and makes it
 * due later, a wrong one sends it back to box 1, a right answer in the
 * last box retires it. The store merges under the progress store's lock.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReviewStore, BOX_DAYS, MAX_BOX, MAX_ITEMS } from '../../src/practice/review-store.ts';
import { runDrills, type PracticeIo } from '../../src/practice/session.ts';
import { makeDrill, topicByName } from '../../src/practice/topics.ts';

const DAY = 86_400_000;
const T0 = new Date('2026-12-05T12:00:00.000Z');

function fakeIo(answers: string[], now: () => Date): PracticeIo & { text: () => string } {
  let out = '';
  return {
    out: (s) => void (out += s),
    err: (s) => void (out += `[err] ${s}`),
    async ask(prompt) {
      const a = answers.shift();
      out += `${prompt}${a ?? ''}\n`;
      return a;
    },
    now,
    text: () => out,
  };
}

const topic = topicByName('smmu-event')!;
const drill = makeDrill(topic, 7);
const right = (): string[] => drill.asks.map((a) => a.show);
const wrong = (): string[] => drill.asks.map(() => '0x1234567');

let dir: string;
const file = (): string => join(dir, 'practice.json');
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'dma-lab-review-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('a wrong answer in practice is recorded in box 1, due at once; review brings it back', async () => {
  const store = ReviewStore.load(file());
  const io = fakeIo(wrong(), () => T0);
  const r = await runDrills([{ topic, seed: 7 }], io, store, false);
  assert.equal([r.asked, r.right, r.missed], [1, 0, 1]);
  assert.match(io.text(), /wrong: event type is F_PERMISSION/);
  assert.match(io.text(), /working:/, 'a wrong answer shows the working');
  // Another process (a later `dma-lab review`) sees it on disk.
  const again = ReviewStore.load(file());
  const due = again.due(T0);
  assert.equal(due.map((i) => [i.topic, i.seed, i.box, i.misses]), [['smmu-event', 7, 1, 1]]);
});

test('a right answer in review moves the drill up a box and makes it due BOX_DAYS later; a wrong one sends it back to box 1', async () => {
  const s1 = ReviewStore.load(file());
  await runDrills([{ topic, seed: 7 }], fakeIo(wrong(), () => T0), s1, false);
  const s2 = ReviewStore.load(file());
  const io = fakeIo(right(), () => T0);
  const r = await runDrills([{ topic, seed: 7 }], io, s2, true);
  assert.equal([r.right, r.missed], [1, 0]);
  assert.match(io.text(), /review box 2, due 2026-12-06/);
  const s3 = ReviewStore.load(file());
  assert.is(s3.get('smmu-event', 7)!.box, 2);
  assert.is(s3.get('smmu-event', 7)!.due, new Date(T0.getTime() + BOX_DAYS[1] * DAY).toISOString());
  assert.equal(s3.due(T0), [], 'not due again today');
  const later = new Date(T0.getTime() + BOX_DAYS[1] * DAY);
  assert.is(s3.due(later).length, 1, 'due again a day later');
  await runDrills([{ topic, seed: 7 }], fakeIo(wrong(), () => later), s3, true);
  const s4 = ReviewStore.load(file());
  assert.equal([s4.get('smmu-event', 7)!.box, s4.get('smmu-event', 7)!.misses], [1, 2]);
  assert.is(s4.due(later).length, 1, 'missed again: due at once');
});

test('right in every box retires the drill; a drill answered right the first time is never stored', async () => {
  const s = ReviewStore.load(file());
  let now = T0;
  await runDrills([{ topic, seed: 7 }], fakeIo(wrong(), () => now), s, false);
  for (let box = 1; box <= MAX_BOX; box++) {
    assert.is(s.get('smmu-event', 7)?.box, box);
    now = new Date(Date.parse(s.get('smmu-event', 7)!.due));
    assert.is(s.due(now).length, 1);
    await runDrills([{ topic, seed: 7 }], fakeIo(right(), () => now), s, true);
  }
  assert.is(s.get('smmu-event', 7), undefined, 'retired after box 5');
  assert.is(ReviewStore.load(file()).get('smmu-event', 7), undefined);
  const other = makeDrill(topic, 8);
  await runDrills([{ topic, seed: 8 }], fakeIo(other.asks.map((a) => a.show), () => T0), s, false);
  assert.is(ReviewStore.load(file()).get('smmu-event', 8), undefined);
});

test("two processes' saves merge: each keeps the other's items (the progress store's O_EXCL lock and merge)", () => {
  const a = ReviewStore.load(file());
  const b = ReviewStore.load(file());
  a.record('vring', 1, false, T0);
  a.save();
  b.record('swiotlb', 2, false, T0);
  b.save();
  const c = ReviewStore.load(file());
  assert.equal(Object.keys(c.items).sort(), ['swiotlb:2', 'vring:1']);
  assert.not.ok(existsSync(`${file()}.lock`), 'the lock is released');
});

test('a corrupt file is moved aside with a warning, not thrown away', () => {
  writeFileSync(file(), '{"version": 1, "items": {"x:1": {"topic": "y"}}}');
  const warnings: string[] = [];
  const s = ReviewStore.load(file(), (m) => warnings.push(m));
  assert.equal(s.items, Object.create(null));
  assert.match(warnings[0]!, /moved it to .*practice\.json\.corrupt-1/);
  assert.ok(existsSync(`${file()}.corrupt-1`));
  assert.match(readFileSync(`${file()}.corrupt-1`, 'utf8'), /"topic": "y"/);
});

test('an answer that is not a number is asked again, not counted wrong; ? gives up; end of input stops without recording', async () => {
  const s = ReviewStore.load(file());
  const io = fakeIo(['F_PERMISSION', 'zz', '?'], () => T0);
  const r = await runDrills([{ topic, seed: 7 }], io, s, false);
  assert.match(io.text(), /'zz' is not a number/);
  assert.equal([r.asked, r.missed], [1, 1], '? counts as missed');
  const io2 = fakeIo(['F_PERMISSION'], () => T0);
  const r2 = await runDrills([{ topic, seed: 9 }], io2, s, false);
  assert.equal([r2.asked, r2.stopped], [0, true]);
  assert.is(s.get('smmu-event', 9), undefined);
});

test('the store is bounded (MAX_ITEMS, a stated limit): past it the drills in the highest boxes go, and record says how many', () => {
  const s = ReviewStore.load(file());
  for (let i = 0; i < MAX_ITEMS; i++) s.record('vring', i, false, T0);
  s.record('vring', 0, true, T0); // vring:0 moves to box 2: the one to go first
  const r = s.record('vring', MAX_ITEMS, false, T0);
  assert.is(r.dropped, 1);
  assert.is(Object.keys(s.items).length, MAX_ITEMS);
  assert.is(s.get('vring', 0), undefined);
  assert.ok(s.get('vring', MAX_ITEMS));
});

test.run();
