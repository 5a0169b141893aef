/**
 * Drive the real `dma-lab` binary in a real pseudo-terminal: tmux
 * new-session runs it, send-keys types, capture-pane reads the screen.
 * Each test gets its own tmux server socket so runs never collide.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT } from '../cli/helpers.ts';

export class Tmux {
  readonly socket: string;
  readonly dir: string;
  private readonly session = 'lab';

  constructor(
    args: string[],
    opts: { width?: number; height?: number; env?: Record<string, string> } = {},
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'dma-lab-tmux-'));
    this.socket = join(this.dir, 'sock');
    // FORCE_COLOR from a test runner (uvu sets it) must not leak into the program under test.
    // CI=true always: a CI variable in the environment must not blank the UI (Ink's is-in-ci; src/cli/main.ts importUi).
    const env = { DMA_LAB_STATE_DIR: join(this.dir, 'state'), DMA_LAB_CACHE_DIR: join(this.dir, 'cache'), TERM: 'xterm-256color', FORCE_COLOR: '0', CI: 'true', ...opts.env };
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    this.tmux('new-session', '-d', '-s', this.session, '-x', String(opts.width ?? 100), '-y', String(opts.height ?? 30), '-c', ROOT, ...envArgs, `${cmd}; echo "[exited $?]"; sleep 30`);
  }

  static available(): boolean {
    return spawnSync('tmux', ['-V']).status === 0;
  }

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8' });
  }

  /** Type keys (tmux key names such as Enter, Tab, C-c, or literal text with `literal`). */
  send(keys: string, literal = false): void {
    this.tmux('send-keys', '-t', this.session, ...(literal ? ['-l', keys] : [keys]));
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', this.session);
  }

  /** Wait until the screen matches, or fail with the screen in the message. */
  async waitFor(re: RegExp | string, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    let s = '';
    while (Date.now() < end) {
      s = this.screen();
      if (typeof re === 'string' ? s.includes(re) : re.test(s)) return s;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${re}; screen was:\n${s}`);
  }

  /** Leave a lesson or exploration: q asks first, a second q quits. Returns the last screen. */
  async quit(): Promise<string> {
    this.send('q', true);
    await this.waitFor('press q again to quit');
    this.send('q', true);
    return this.waitFor('[exited 0]');
  }

  close(): void {
    try {
      this.tmux('kill-server');
    } catch {
      /* already gone */
    }
    // The program may still be writing its state as it exits on the hang-up: retry a non-empty directory.
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}
