/**
 * Issue 13, layout, in a real terminal: at 120x40 the lesson has the whole
 * width with the panes below it, z hides the panes, < and > resize them,
 * and no hex number on the screen is cut.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tmux } from './tmux.ts';

const pause = (ms = 200): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('120x40: full-width lesson, panes below; z hides them, > grows them; no hex number is cut', async () => {
  const state = mkdtempSync(join(tmpdir(), 'dma-lab-layout-'));
  mkdirSync(state, { recursive: true });
  // step 3 of lesson 01, its prediction already made (progress format: src/notebook/progress.ts)
  writeFileSync(join(state, 'progress.json'), JSON.stringify({ version: 1, lessons: { 'virtio-legacy-smmu': { step: 3, furthest: 3, cellsRun: [], predictions: { s3c1: { answer: '2', correct: true } }, goalsPassed: [] } } }));
  const t = new Tmux(['lesson', 'virtio-legacy-smmu'], { width: 120, height: 40, env: { DMA_LAB_STATE_DIR: state } });
  try {
    await t.waitFor(/step 3\/\d+/, 30_000);
    await pause();
    t.send('Enter');
    const s = await t.waitFor('EVENTQEN=1');
    assert.match(s, 'event queue of smmuv3 at 0x8ffc01000: 128 slots of 32 bytes, PROD 0x2 (slot 2), CONS 0x2 (slot 2), EVENTQEN=1', 'the whole line, not cut at ~59 columns');
    assert.not.match(s, '│', 'no side-by-side split at 120 columns');
    const tabs = s.split('\n').findIndex((l) => l.startsWith(' memory 0x'));
    assert.ok(tabs > 20, `the panes are below the lesson (tab bar on row ${tabs})`);
    for (const l of s.split('\n')) assert.not.match(l, /0x[0-9a-f]*…/, `a hex number was cut: ${l}`);
    t.send('>', true);
    await pause();
    const grown = t.screen().split('\n').findIndex((l) => l.startsWith(' memory 0x'));
    assert.ok(grown < tabs, 'the panes grew upwards');
    t.send('z', true);
    const hidden = await t.waitFor('inspector hidden');
    assert.not.match(hidden, ' memory 0x');
    t.send('z', true);
    await t.waitFor('inspector shown');
    await t.quit();
  } finally {
    t.close();
    rmSync(state, { recursive: true, force: true });
  }
});

test.run();
