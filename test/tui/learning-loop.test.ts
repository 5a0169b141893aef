/**
 * Issue 13 in a real terminal (the built binary under tmux): a prediction
 * hides what answers it until it is made, then shows the feedback for the
 * wrong answer given and how sure the reader said they were.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tmux } from './tmux.ts';
import { cli } from '../cli/helpers.ts';

const pause = (ms = 150): Promise<void> => new Promise((r) => setTimeout(r, ms));

function stateAt(lesson: string, step: number, extra: object = {}): string {
  const state = mkdtempSync(join(tmpdir(), 'dma-lab-loop-'));
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, 'progress.json'), JSON.stringify({ version: 1, lessons: { [lesson]: { step, furthest: step, cellsRun: [], predictions: {}, goalsPassed: [], lastOpened: '2026-01-01T00:00:00.000Z', ...extra } } }));
  return state;
}

test('lesson 01: the boot prediction hides the prose after it until it is made, then gives the wrong answer its feedback', async () => {
  const state = stateAt('virtio-legacy-smmu', 2);
  // 50 rows: the boot's output (two SMMU events) and the feedback under it fit on one screen.
  const t = new Tmux(['lesson', 'virtio-legacy-smmu'], { width: 120, height: 50, env: { DMA_LAB_STATE_DIR: state } });
  try {
    const before = await t.waitFor(/step 2\/\d+/, 30_000);
    assert.match(before, 'Will this boot print the partition line');
    assert.match(before, 'the rest of this step appears once you have made');
    assert.not.match(before, 'The four hex lines', 'the prose that answers it is hidden');
    await pause();
    t.send('Enter');
    await t.waitFor('prediction ›');
    t.send('1', true); // "yes": wrong
    t.send('Enter');
    await t.waitFor('how sure?');
    t.send('3', true);
    t.send('Enter');
    const after = await t.waitFor(/you predicted yes; the answer is no\. \(you were[\s\S]*certain\)/, 30_000);
    assert.match(after, /addresses did this 4\.10\s+driver give it\?/, "the feedback for 'yes'");
    assert.not.match(after, 'the rest of this step appears');
    await t.quit();
    const p = JSON.parse(readFileSync(join(state, 'progress.json'), 'utf8'));
    assert.equal(p.lessons['virtio-legacy-smmu'].predictions.s2c1, { answer: 'yes', correct: false, confidence: 3 });
  } finally {
    t.close();
    rmSync(state, { recursive: true, force: true });
  }
});

test('lesson 01: a typed-answer goal is checked by value; the prose after it waits for it', async () => {
  const state = stateAt('virtio-legacy-smmu', 4);
  const t = new Tmux(['lesson', 'virtio-legacy-smmu'], { width: 120, height: 40, env: { DMA_LAB_STATE_DIR: state } });
  try {
    const before = await t.waitFor(/step 4\/\d+/, 30_000);
    assert.match(before, 'Your turn: type the address');
    assert.match(before, 'the rest of this step appears once you have answered');
    assert.not.match(before, 'Type 0x10, StreamID 0');
    await pause();
    t.send('a', true);
    await t.waitFor('answer ›');
    t.send('0x8fa081002', true); // the first event's address
    t.send('Enter');
    await t.waitFor('0x8fa081002 is not it');
    await t.waitFor('you answered 0x8fa081002: not it');
    t.send('a', true);
    await t.waitFor('answer ›');
    t.send('0x00000008fa081000', true); // leading zeros: the same value
    t.send('Enter');
    const after = await t.waitFor('✓ right: goal passed');
    assert.match(after, 'goals 1/7');
    await t.waitFor('Type 0x10, StreamID 0');
    await t.quit();
    const p = JSON.parse(readFileSync(join(state, 'progress.json'), 'utf8'));
    assert.equal(p.lessons['virtio-legacy-smmu'].goalsPassed, ['s4g1']);
  } finally {
    t.close();
    rmSync(state, { recursive: true, force: true });
  }
});

test('tour: two hints, then the goal passed by hand: progress says "after hint 2", and dma-lab lessons shows it', async () => {
  const state = stateAt('tour', 2);
  const t = new Tmux(['lesson', 'tour'], { width: 120, height: 40, env: { DMA_LAB_STATE_DIR: state } });
  try {
    await t.waitFor(/step 2\/\d+/, 30_000);
    await pause();
    t.send('h', true);
    await t.waitFor('answer the question first');
    t.send('Enter');
    await t.waitFor('prediction ›');
    t.send('2', true);
    t.send('Enter');
    await t.waitFor('you predicted ef be ad de: right');
    t.send('h', true);
    await t.waitFor('hint 1/2');
    t.send('h', true);
    await t.waitFor('hint 2/2');
    t.send(':', true);
    await pause();
    t.send('write 0x40002000 0xcafef00d size=w', true);
    t.send('Enter');
    await t.waitFor('passed after hint 2');
    t.send('Escape');
    await pause();
    await t.quit();
    const p = JSON.parse(readFileSync(join(state, 'progress.json'), 'utf8'));
    assert.equal(p.lessons.tour.goalHelp, { s2g1: { hints: 2, solution: false } });
    const l = cli(['lessons'], { env: { ...process.env, DMA_LAB_STATE_DIR: state } });
    assert.match(l.stdout, /^tour .*goals 1\/\d+ \(1 after hint 2\)$/m);
    const pr = cli(['progress'], { env: { ...process.env, DMA_LAB_STATE_DIR: state } });
    assert.match(pr.stdout, 'goal s2g1 passed after hint 2: Put the word 0xcafef00d at 0x40002000');
  } finally {
    t.close();
    rmSync(state, { recursive: true, force: true });
  }
});

test('reopening a lesson replays what the reader did, not the solutions', async () => {
  const state = stateAt('tour', 2);
  const env = { DMA_LAB_STATE_DIR: state };
  try {
    const t = new Tmux(['lesson', 'tour'], { width: 120, height: 40, env });
    try {
      await t.waitFor(/step 2\/\d+/, 30_000);
      await pause();
      t.send(':', true);
      await pause();
      t.send('write 0x40002000 0x11223344 size=w', true);
      t.send('Enter');
      await t.waitFor('wrote 0x11223344');
      t.send('Escape');
      await pause();
      await t.quit();
    } finally {
      t.close();
    }
    const t2 = new Tmux(['lesson', 'tour'], { width: 120, height: 40, env });
    try {
      const s = await t2.waitFor('your own work was replayed', 30_000);
      assert.match(s, '1 command of yours');
      assert.match(s, '(arm-virt) write 0x40002000 0x11223344 size=w', 'their command is back under "your commands"');
      await pause();
      t2.send(':', true);
      await pause();
      t2.send('xp/1xw 0x40002000', true);
      t2.send('Enter');
      await t2.waitFor('0000000040002000: 0x11223344');
      t2.send('Escape');
      await pause();
      await t2.quit();
    } finally {
      t2.close();
    }
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

test('dmar-2015 (lesson 02c), a diagnosis step: info iommu leaves out where DMA really goes', async () => {
  const state = stateAt('dmar-2015', 6);
  const t = new Tmux(['lesson', 'dmar-2015'], { width: 120, height: 40, env: { DMA_LAB_STATE_DIR: state } });
  try {
    const s = await t.waitFor(/step 6\/\d+/, 60_000);
    assert.match(s, 'Diagnosis mode:');
    await pause();
    t.send(':', true);
    await pause();
    t.send('info iommu', true);
    t.send('Enter');
    const out = await t.waitFor('diagnosis mode: where each device');
    assert.not.match(out, 'what its DMA really does');
    t.send('Escape');
    await pause();
    // The inspector's DMA trace pane (the second tab) is hidden in this step too.
    t.send('Tab');
    await t.waitFor('DMA trace: hidden in a diagnosis step');
    await t.quit();
  } finally {
    t.close();
    rmSync(state, { recursive: true, force: true });
  }
});

test.run();
