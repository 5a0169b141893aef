/**
 * Golden transcripts of `dma-lab practice`: each test/golden/practice-NAME.args
 * holds the command line (one line, after `dma-lab`) and, after a line
 * `--- stdin`, what is typed; NAME.out is stdout plus the exit status,
 * compared byte for byte. `--solve` transcripts pin each topic's drills,
 * answers and working; a change to a generator shows here first.
 * Regenerate after an intended change with UPDATE_GOLDEN=1 (review every line).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, ROOT } from './helpers.ts';

const dir = join(ROOT, 'test', 'golden');
for (const f of readdirSync(dir).filter((x) => x.startsWith('practice-') && x.endsWith('.args')).sort()) {
  test(`golden ${f}`, () => {
    const text = readFileSync(join(dir, f), 'utf8');
    const [argLine, input = ''] = text.split(/^--- stdin\n/m);
    const args = argLine!.trim().split(/\s+/);
    // A fresh state directory and a fixed clock: review boxes and due dates are part of the transcript.
    const state = mkdtempSync(join(tmpdir(), 'dma-lab-practice-'));
    try {
      const r = cli(args, { input, env: { DMA_LAB_STATE_DIR: state, DMA_LAB_NOW: '2026-12-05T12:00:00.000Z' } });
      const actual = r.stdout + (r.stderr ? `[stderr]\n${r.stderr}` : '') + `[exit ${r.status}]\n`;
      const expectedFile = join(dir, f.replace(/\.args$/, '.out'));
      if (process.env.UPDATE_GOLDEN) writeFileSync(expectedFile, actual);
      assert.fixture(actual, readFileSync(expectedFile, 'utf8'));
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
}

test.run();
