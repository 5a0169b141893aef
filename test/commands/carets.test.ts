// Regression (issue 12, "Also"): carets sit under the offending word: a
// command given no arguments that fails as a whole (undo, boot) and a limit
// hit (memory limit reached) point at the command, not past the line's end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { fails, spanText } from './helpers.ts';

test('undo and boot with nothing to do: the caret is under the command word', () => {
  const s = createSession('arm-virt');
  assert.is(spanText('undo', fails(s, 'undo')), 'undo');
  assert.is(spanText('boot', fails(s, 'boot')), 'boot');
});

test('memory limit reached: the caret is under the command that hit it', () => {
  const s = createSession('arm-virt');
  s.machine.memory.maxPages = 4;
  const line = 'fill 0x40000000 64K 1';
  const e = fails(s, line);
  assert.match(e.message, 'memory limit reached');
  assert.is(spanText(line, e), 'fill');
});

test.run();
