/** The interactive REPL in a real terminal: prompt, completion, history, .help, .exit. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tmux } from './tmux.ts';

test('tmux is installed (CI installs it from Debian packages)', () => {
  assert.ok(Tmux.available(), 'tmux not found: apt-get install tmux');
});

test('prompt names the machine; Tab completes commands and subcommands; history is saved', async () => {
  const t = new Tmux(['repl', '--machine', 'arm-virt']);
  try {
    await t.waitFor('(arm-virt)');
    // Wait for each echo before the next key: on a loaded machine a Tab can overtake the text it completes.
    t.send('inf', true);
    await t.waitFor('(arm-virt) inf');
    t.send('Tab');
    await t.waitFor('(arm-virt) info');
    t.send(' mt', true);
    await t.waitFor(/info +mt/);
    t.send('Tab');
    await t.waitFor('info mtree');
    t.send('Enter');
    await t.waitFor('mach-virt.ram');
    t.send('xp/8xb 0x4000zz', true);
    t.send('Enter');
    await t.waitFor('^^^^^^^^');
    t.send('.help', true);
    t.send('Enter');
    await t.waitFor('.exit leave');
    t.send('.exit', true);
    t.send('Enter');
    await t.waitFor('[exited 0]');
    const hist = readFileSync(join(t.dir, 'state', 'repl_history'), 'utf8');
    assert.match(hist, 'info mtree');
    assert.match(hist, 'xp/8xb 0x4000zz');
  } finally {
    t.close();
  }
});

test.run();
