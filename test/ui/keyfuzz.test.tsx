/**
 * Keys at random into the real UI (ink-testing-library): whatever is
 * pressed, on home and in a lesson, nothing throws and a frame is always
 * drawn. Seeded, so a failure replays.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ROOT } from '../cli/helpers.ts';
import type { Start } from '../../src/ui/App.tsx';
import { listLessons } from '../../src/notebook/library.ts';
import { ProgressStore } from '../../src/notebook/progress.ts';
import { PRESETS } from '../../src/scenarios/index.ts';

// Ink's yoga-layout uses top-level await: load the UI with import() (see components.test.tsx).
let render: typeof import('ink-testing-library').render;
let App: typeof import('../../src/ui/App.tsx').App;
test.before(async () => {
  render = (await import('ink-testing-library')).render;
  App = (await import('../../src/ui/App.tsx')).App;
});
const dir = mkdtempSync(join(tmpdir(), 'dma-lab-keyfuzz-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
process.env.DMA_LAB_LESSONS_DIR = join(ROOT, 'lessons');
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Keys a reader presses, minus the ones that quit (q, Ctrl+C, Ctrl+D) so the run goes on.
const KEYS = ['\r', '\x1b', '\t', '\x1b[A', '\x1b[B', '\x1b[C', '\x1b[D', '\x1b[5~', '\x1b[6~', ' ', 'n', 'p', 'j', 'k', 'e', 'h', 's', 'r', 'u', 'b', '?', ':', 'i', '[', ']', 'x', '1', '2', '0', 'a', 'z', '\x7f', '\x0f', '\x12', 'xp 0x40000000', 'boot', 'zz zz'];

for (const start of ['home', 'lesson'] as const) {
  test(`random keys on ${start}: no exception, always a frame`, async () => {
    const lessons = listLessons();
    const errors: unknown[] = [];
    const onErr = (e: unknown): void => void errors.push(e);
    process.on('uncaughtException', onErr);
    try {
      const seqs = fc.sample(fc.array(fc.constantFrom(...KEYS), { minLength: 10, maxLength: 40 }), { numRuns: 6, seed: start === 'home' ? 11 : 12 });
      for (const [i, keys] of seqs.entries()) {
        const store = ProgressStore.load(join(dir, `${start}${i}`, 'progress.json'));
        const s: Start = start === 'home' ? { kind: 'home' } : { kind: 'lesson', entry: lessons.find((l) => l.id === 'virtio-legacy-smmu')! };
        const r = render(<App color={false} lessons={lessons} presets={PRESETS} store={store} version="test" start={s} size={{ columns: 80, rows: 24 }} exportDir={dir} onExit={() => {}} />);
        await tick(30);
        for (const k of keys) {
          r.stdin.write(k);
          await tick();
        }
        await tick(30);
        const frame = r.lastFrame() ?? '';
        assert.ok(frame.trim().length > 0, `a frame after ${JSON.stringify(keys)}`);
        // Ink draws a thrown error as an ERROR box with the stack: that must never show.
        assert.not.match(frame, / ERROR /, `an error box after ${JSON.stringify(keys)}:\n${frame}`);
        assert.not.match(frame, /\n\s+at \S+ \(/, `a stack trace after ${JSON.stringify(keys)}:\n${frame}`);
        r.unmount();
      }
    } finally {
      process.removeListener('uncaughtException', onErr);
    }
    assert.equal(errors, []);
  });
}

test.run();
