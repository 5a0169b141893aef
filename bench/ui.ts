/**
 * UI latency, measured on the built binary in a real pseudo-terminal
 * (tmux), the way a reader meets it. Two views of each figure:
 *
 * - wall: from `tmux new-session` (or send-keys) until capture-pane shows
 *   the frame. Includes tmux and the polling interval (a few ms).
 * - in-process: the binary's own marks (DMA_LAB_TIMING, src/ui/timing.ts):
 *   the first frame in ms since the node process started, and for a cell
 *   the model's time and the time from the model's return to the frame.
 *
 * Targets (issue 4): home first frame < 400 ms; a cell's output on screen
 * < 50 ms after the model returns. Prints one JSON line {title, figures};
 * scripts/bench.mjs runs it from the repository root.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = process.cwd();
const bin = join(root, 'bin', 'dma-lab.js');
const runs = Number(process.env.BENCH_UI_RUNS ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number): string => `${x.toFixed(1)} ms`;

interface Mark {
  mark: string;
  screen?: string;
  ms?: number;
  modelMs?: number;
  frameMs?: number;
}

class Term {
  readonly dir = mkdtempSync(join(tmpdir(), 'dma-lab-bench-ui-'));
  readonly sock = join(this.dir, 'sock');
  readonly timing = join(this.dir, 'timing.jsonl');
  readonly started: number;
  constructor(args: string[]) {
    const env = ['-e', `DMA_LAB_STATE_DIR=${join(this.dir, 'state')}`, '-e', `DMA_LAB_TIMING=${this.timing}`, '-e', 'TERM=xterm-256color'];
    const cmd = [process.execPath, bin, ...args].map((a) => `'${a}'`).join(' ');
    this.started = performance.now();
    this.tmux('new-session', '-d', '-s', 'b', '-x', '100', '-y', '30', '-c', root, ...env, `${cmd}; sleep 30`);
  }
  tmux(...a: string[]): string {
    return execFileSync('tmux', ['-S', this.sock, ...a], { encoding: 'utf8' });
  }
  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', 'b');
  }
  /** Milliseconds from `since` until the screen shows every string. */
  waitFor(texts: string[], since: number, timeout = 10_000): number {
    const end = Date.now() + timeout;
    while (Date.now() < end) {
      const s = this.screen();
      if (texts.every((t) => s.includes(t))) return performance.now() - since;
    }
    throw new Error(`timed out waiting for ${texts.join(', ')}:\n${this.screen()}`);
  }
  marks(): Mark[] {
    return existsSync(this.timing) ? readFileSync(this.timing, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Mark) : [];
  }
  close(): void {
    try {
      this.tmux('kill-server');
    } catch {
      /* gone */
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const sleep = (n: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, n);

function main(): Record<string, string> {
  if (spawnSync('tmux', ['-V']).status !== 0) return { skipped: 'tmux is not installed' };
  if (!existsSync(join(root, 'dist', 'cli.js'))) return { skipped: 'dist/ is not built' };
  const home = { wall: [] as number[], inproc: [] as number[] };
  const lesson = { wall: [] as number[], inproc: [] as number[] };
  const cell = { wall: [] as number[], model: [] as number[], frame: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const h = new Term([]);
    try {
      home.wall.push(h.waitFor(['Lessons', 'q quit'], h.started));
      sleep(50);
      home.inproc.push(h.marks().find((m) => m.mark === 'first-frame' && m.screen === 'home')!.ms!);
    } finally {
      h.close();
    }
    const l = new Term(['lesson', 'tour']);
    try {
      lesson.wall.push(l.waitFor(['intro', 'q quit'], l.started));
      sleep(80);
      lesson.inproc.push(l.marks().find((m) => m.mark === 'first-frame' && m.screen === 'lesson')!.ms!);
      l.tmux('send-keys', '-t', 'b', 'n');
      l.waitFor(['step 1/'], performance.now());
      sleep(50);
      const t0 = performance.now();
      l.tmux('send-keys', '-t', 'b', 'Enter');
      cell.wall.push(l.waitFor(['address-space: memory'], t0));
      sleep(50);
      const c = l.marks().find((m) => m.mark === 'cell')!;
      cell.model.push(c.modelMs!);
      cell.frame.push(c.frameMs!);
    } finally {
      l.close();
    }
  }
  return {
    'home: first frame, wall (tmux)': ms(median(home.wall)),
    'home: first frame, in-process (target < 400 ms)': ms(median(home.inproc)),
    'lesson: first frame, wall (tmux)': ms(median(lesson.wall)),
    'lesson: first frame, in-process': ms(median(lesson.inproc)),
    'cell (info mtree): model': ms(median(cell.model)),
    'cell: model return -> frame (target < 50 ms)': ms(median(cell.frame)),
    'cell: Enter -> output on screen, wall (tmux)': ms(median(cell.wall)),
  };
}

console.log(JSON.stringify({ title: `terminal UI, built binary under tmux 100x30 (median of ${runs})`, figures: main() }));
