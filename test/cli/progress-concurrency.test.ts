// Regression (issue 12 items 3 and 5): 20 concurrent imports kept 14-18 of
// 20 lessons while all printed "imported". Writes are read-modify-write
// under a lock, merged per lesson: all 20 must survive. A state directory
// that cannot be written gives a sentence with the path, never a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { BIN, cli } from './helpers.ts';

const rec = { step: 1, furthest: 1, cellsRun: [], predictions: {}, goalsPassed: [] };

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code, out }));
  });
}

test('20 concurrent imports of different lessons: every one is kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dma-lab-conc-'));
  const state = join(dir, 'state');
  const files = Array.from({ length: 20 }, (_, i) => {
    const f = join(dir, `p${i}.json`);
    writeFileSync(f, JSON.stringify({ version: 1, lessons: { [`lesson-${i}`]: rec } }));
    return f;
  });
  const rs = await Promise.all(files.map((f) => run(['progress', 'import', f], { DMA_LAB_STATE_DIR: state })));
  for (const r of rs) assert.is(r.code, 0, r.out);
  const p = JSON.parse(readFileSync(join(state, 'progress.json'), 'utf8'));
  assert.equal(Object.keys(p.lessons).sort(), files.map((_, i) => `lesson-${i}`).sort());
});

test('a state directory that cannot be written: a warning with the path, exit 1, no internal error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dma-lab-ro-'));
  const f = join(dir, 'p.json');
  writeFileSync(f, JSON.stringify({ version: 1, lessons: { tour: rec } }));
  const r = cli(['progress', 'import', f], { env: { DMA_LAB_STATE_DIR: '/dev/null/state' } });
  assert.is(r.status, 1);
  assert.match(r.stderr, 'cannot save progress in /dev/null/state');
  assert.not.match(r.stderr + r.stdout, 'internal error');
  assert.not.match(r.stdout, 'imported');
});

test.run();
