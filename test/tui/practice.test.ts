/** `dma-lab practice` and `review` in a real terminal: the readline prompt, a miss, the review that brings it back. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tmux } from './tmux.ts';
import { makeDrill, topicByName } from '../../src/practice/topics.ts';

test('a terminal gets a readline prompt per answer; a non-number is asked again; the miss is recorded (review: test/cli/practice.test.ts)', async () => {
  const d = makeDrill(topicByName('vring')!, 5);
  const t = new Tmux(['practice', 'vring', '--seed', '5', '--count', '1'], { width: 120, height: 40, env: { DMA_LAB_NOW: '2026-12-05T12:00:00.000Z' } });
  try {
    await t.waitFor('avail ring address>');
    t.send('0x10', true);
    t.send('Enter');
    await t.waitFor('used ring address>');
    t.send('zz', true);
    t.send('Enter');
    await t.waitFor("'zz' is not a number");
    await t.waitFor(/used ring address>\s*$/m);
    t.send(d.asks[1]!.show, true);
    t.send('Enter');
    await t.waitFor('vring_size (bytes)>');
    t.send(String(d.asks[2]!.value), true);
    t.send('Enter');
    const s = await t.waitFor('[exited 1]');
    assert.match(s, 'wrong: avail ring address is');
    assert.match(s, 'right: used ring address');
    assert.match(s, 'review box 1, due now');
    const stored = JSON.parse(readFileSync(join(t.dir, 'state', 'practice.json'), 'utf8'));
    assert.equal(Object.keys(stored.items), ['vring:5']);
  } finally {
    t.close();
  }
});

test('q at a prompt ends the session: nothing recorded, status 0', async () => {
  const t = new Tmux(['practice', 'smmu-event', '--seed', '1'], { width: 120, height: 40 });
  try {
    await t.waitFor('event type>');
    t.send('q', true);
    t.send('Enter');
    const s = await t.waitFor('[exited 0]');
    assert.match(s, 'stopped: 0 of 0 right');
  } finally {
    t.close();
  }
});

for (const key of ['C-c', 'C-d']) {
  test(`${key} at a prompt ends the session (no hang, nothing recorded)`, async () => {
    const t = new Tmux(['practice', 'dmar-fault', '--seed', '2'], { width: 120, height: 40 });
    try {
      await t.waitFor('device (bus:dev.fn)>');
      t.send(key);
      const s = await t.waitFor(/\[exited \d+\]/);
      assert.match(s, 'stopped: 0 of 0 right');
      assert.match(s, '[exited 0]');
    } finally {
      t.close();
    }
  });
}

test.run();
