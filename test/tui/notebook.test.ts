/**
 * The notebook in a real terminal (the built binary under tmux): open the
 * demo lesson from home with the keyboard, run a cell, see its output and
 * the memory pane follow it, quit, find progress.json written, start again
 * and land on the same step.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tmux } from './tmux.ts';

const pause = (ms = 120): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('home -> lesson -> run cells -> quit -> progress saved -> back on the same step', async () => {
  const t = new Tmux([], { width: 100, height: 30 });
  try {
    await t.waitFor('Lessons');
    await t.waitFor(/▶ tour/);
    t.send('Enter');
    await t.waitFor('intro · goals 0/');
    await pause();
    t.send('n');
    await t.waitFor(/step 1\/\d+/);
    t.send('Enter');
    await t.waitFor('address-space: memory');
    // the cell with a prediction: j j, ⏎, answer 1
    t.send('j');
    t.send('j');
    t.send('Enter');
    await t.waitFor('prediction ›');
    t.send('1', true);
    t.send('Enter');
    const s = await t.waitFor('you predicted zeros: right');
    assert.match(s, 'memory 0x40000000 (mach-virt.ram)', 'the memory pane follows the cell');
    assert.match(s, /^40000000 {2}00 00 00 00/m);
    // a command of our own moves the pane to what it wrote
    t.send(':', true);
    t.send('write 0x40000010 0x41424344 size=w', true);
    t.send('Enter');
    await t.waitFor('memory 0x40000010 (mach-virt.ram)');
    await t.waitFor(/^40000010 {2}44 43 42 41/m);
    t.send('Escape');
    await pause();
    // q asks first; a second q quits (issue 12, Also)
    const out = await t.quit();
    assert.match(out, /progress saved: tour at step 1\/\d+/);
    const p = JSON.parse(readFileSync(join(t.dir, 'state', 'progress.json'), 'utf8'));
    assert.is(p.version, 1);
    assert.is(p.lessons.tour.step, 1);
    assert.equal(p.lessons.tour.cellsRun, ['s1c1', 's1c3']);
    assert.equal(p.lessons.tour.predictions.s1c3, { answer: 'zeros', correct: true });
  } finally {
    t.close();
  }
});

test('coming back: dma-lab lesson tour opens at the saved step with the machine rebuilt', async () => {
  const state = mkdtempSync(join(tmpdir(), 'dma-lab-tui-state-'));
  try {
    const first = new Tmux(['lesson', 'tour'], { width: 100, height: 30, env: { DMA_LAB_STATE_DIR: state } });
    try {
      await first.waitFor('intro · goals 0/');
      await pause();
      first.send('n');
      await first.waitFor(/step 1\/\d+/);
      first.send('n');
      await first.waitFor(/step 2\/\d+/);
      first.send('C-c');
      await first.waitFor('[exited 0]');
      assert.is(JSON.parse(readFileSync(join(state, 'progress.json'), 'utf8')).lessons.tour.step, 2);
    } finally {
      first.close();
    }
    // a new terminal, 80x24, the same state directory
    const again = new Tmux(['lesson', 'tour'], { width: 80, height: 24, env: { DMA_LAB_STATE_DIR: state } });
    try {
      const s = await again.waitFor(/step 2\/\d+/);
      assert.match(s, 'Writing memory');
      assert.match(s, 'welcome back');
      await again.quit();
    } finally {
      again.close();
    }
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

test.run();
