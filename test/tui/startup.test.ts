/**
 * Start-up (issue 15) in a real terminal: home is drawn before the lesson
 * view and the machine model are loaded, so keys that need them can come
 * while they load. Enter and a machine opened at once must wait for the
 * load and then open, never fail; the lesson catalog is written to the
 * cache directory on the first start and read on the next.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Tmux } from './tmux.ts';

test('Enter the moment home is drawn opens the lesson (it waits for the lesson view, if still loading)', async () => {
  const t = new Tmux([], { width: 100, height: 30 });
  try {
    // send-keys spawns a client: poll without pause, then press Enter at once
    const end = Date.now() + 10_000;
    while (!t.screen().includes('q quit') && Date.now() < end);
    t.send('Enter');
    const s = await t.waitFor('intro · goals 0/');
    assert.match(s, 'A tour of the lab');
    assert.not.match(s, /could not open|internal error/);
    const cache = join(t.dir, 'cache');
    assert.ok(existsSync(cache) && readdirSync(cache).some((f) => /^lessons-[0-9a-f]{16}\.json$/.test(f)), 'the lesson catalog is cached');
  } finally {
    t.close();
  }
});

test('a machine chosen from home the moment it is drawn opens (Up wraps to the last preset)', async () => {
  const t = new Tmux([], { width: 100, height: 30 });
  try {
    const end = Date.now() + 10_000;
    while (!t.screen().includes('q quit') && Date.now() < end);
    t.send('Up'); // the list wraps: the last item is a machine
    t.send('Enter');
    const s = await t.waitFor('free exploration:');
    assert.not.match(s, /could not open|internal error/);
  } finally {
    t.close();
  }
});

test.run();
