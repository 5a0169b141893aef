/**
 * Regression (issue 12 item 2): a signal to the running UI (SIGTERM from
 * kill, SIGHUP from a closed terminal) leaves the terminal as it found it:
 * off the alternate screen and back in canonical mode with echo, and the
 * process exits 128 + the signal number.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { Tmux } from './tmux.ts';

for (const [sig, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  test(`${sig} to the UI restores the terminal and exits ${code}`, async () => {
    const t = new Tmux([], { width: 100, height: 30 });
    try {
      await t.waitFor('Lessons');
      assert.is(t.tmux('display', '-p', '-t', 'lab', '#{alternate_on}').trim(), '1', 'the UI runs on the alternate screen');
      const shell = t.tmux('display', '-p', '-t', 'lab', '#{pane_pid}').trim();
      const node = execFileSync('pgrep', ['-P', shell], { encoding: 'utf8' }).trim().split('\n')[0]!;
      process.kill(Number(node), sig);
      await t.waitFor(`[exited ${code}]`);
      assert.is(t.tmux('display', '-p', '-t', 'lab', '#{alternate_on}').trim(), '0', 'back on the normal screen');
      const tty = t.tmux('display', '-p', '-t', 'lab', '#{pane_tty}').trim();
      const mode = execFileSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' });
      assert.match(mode, / icanon/, 'canonical mode again');
      assert.match(mode, / echo /, 'echo again');
    } finally {
      t.close();
    }
  });
}

test.run();
