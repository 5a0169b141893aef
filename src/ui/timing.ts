/**
 * Timing marks for the UI bench (bench/ui.ts): with DMA_LAB_TIMING=FILE the
 * UI appends one JSON line per mark: the first frame of a screen (ms since
 * the process started); for a cell run, how long the model took and how
 * long from the model's return until the frame with the output was
 * rendered; each key's arrival on stdin and each frame (bench/ui.ts pairs
 * them into key -> frame latencies, and Enter on home -> the lesson's
 * first frame). Without the variable, nothing is
 * measured or written.
 */
import { appendFileSync } from 'node:fs';

const file = process.env.DMA_LAB_TIMING;
let pending: { what: string; modelMs: number; done: number } | undefined;
const firstFrames = new Set<string>();
let screen = 'home';
const write = (o: object): void => appendFileSync(file!, JSON.stringify(o) + '\n');

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
    // Keys are marked when stdin has them, before Ink parses them: listen
    // first, once Ink has put stdin in raw mode (after the first frame).
    if (!firstFrames.size) process.stdin.prependListener('readable', () => write({ mark: 'key', t: +performance.now().toFixed(2) }));
    write({ mark: 'frame', t: +now.toFixed(2) });
    if (!firstFrames.has(screen)) {
      firstFrames.add(screen);
      write({ mark: 'first-frame', screen, ms: +now.toFixed(1) });
    }
    if (pending) {
      write({ mark: pending.what, modelMs: +pending.modelMs.toFixed(2), frameMs: +(now - pending.done).toFixed(2) });
      pending = undefined;
    }
  },
};
