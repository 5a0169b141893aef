/**
 * Timing marks for the UI bench (bench/ui.ts): with DMA_LAB_TIMING=FILE the
 * UI appends one JSON line per mark: the first frame of a screen (ms since
 * the process started) and, for a cell run, how long the model took and
 * how long from the model's return until the frame with the output was
 * rendered. Without the variable, nothing is measured or written.
 */
import { appendFileSync } from 'node:fs';

const file = process.env.DMA_LAB_TIMING;
let pending: { what: string; modelMs: number; done: number } | undefined;
const firstFrames = new Set<string>();
let screen = 'home';

export const timing = {
  enabled: !!file,
  /** The screen now showing; its first frame is marked once. */
  screen(name: string): void {
    screen = name;
  },
  /** A cell or command just came back from the model. */
  modelDone(what: string, startedAt: number): void {
    if (!file) return;
    const now = performance.now();
    pending = { what, modelMs: now - startedAt, done: now };
  },
  /** Ink rendered a frame (its onRender callback). */
  frame(): void {
    if (!file) return;
    const now = performance.now();
    if (!firstFrames.has(screen)) {
      firstFrames.add(screen);
      appendFileSync(file, JSON.stringify({ mark: 'first-frame', screen, ms: +now.toFixed(1) }) + '\n');
    }
    if (pending) {
      appendFileSync(file, JSON.stringify({ mark: pending.what, modelMs: +pending.modelMs.toFixed(2), frameMs: +(now - pending.done).toFixed(2) }) + '\n');
      pending = undefined;
    }
  },
};
