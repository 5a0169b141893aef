/**
 * The first lesson's exercise in a real terminal: come back to the saved
 * exercise step, run its cell, take each goal's solution from `s` (typed
 * into the input line, never run by itself), run it with Enter, see both
 * goals pass, quit, and find them recorded in progress.json.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tmux } from './tmux.ts';

const pause = (ms = 150): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('virtio-legacy-smmu: both exercise goals pass from the keyboard and are saved', async () => {
  const state = mkdtempSync(join(tmpdir(), 'dma-lab-l1-'));
  try {
    mkdirSync(state, { recursive: true });
    // Where a reader who stopped at the exercise left off (progress format: src/notebook/progress.ts).
    writeFileSync(join(state, 'progress.json'), JSON.stringify({ version: 1, lessons: { 'virtio-legacy-smmu': { step: 14, furthest: 14, cellsRun: [], predictions: {}, goalsPassed: [], lastOpened: '2026-01-01T00:00:00.000Z' } } }));
    const t = new Tmux(['lesson', 'virtio-legacy-smmu'], { width: 120, height: 40, env: { DMA_LAB_STATE_DIR: state } });
    try {
      await t.waitFor(/step 14\/15 · goals 0\/7/, 30_000);
      await pause();
      t.send('Enter'); // run the exercise's cell: machine arm-fastmodel, show
      await t.waitFor('arm-fastmodel options');
      t.send('s', true);
      const typed = await t.waitFor('the solution is in the input line');
      assert.match(typed, '(arm-fastmodel) boot ', 'the solution is typed, not run');
      assert.match(typed, 'goals 0/7');
      t.send('Enter');
      await t.waitFor('goals 1/7', 20_000);
      t.send('Escape');
      await pause();
      t.send('s', true);
      await t.waitFor('the solution is in the input line');
      t.send('Enter');
      await t.waitFor('goals 2/7', 20_000);
      t.send('Escape');
      await pause();
      await t.quit();
      const p = JSON.parse(readFileSync(join(state, 'progress.json'), 'utf8'));
      assert.equal(p.lessons['virtio-legacy-smmu'].goalsPassed.sort(), ['s14g1', 's14g2']);
    } finally {
      t.close();
    }
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

test.run();
