// Regression (issue 12 items 8 and 13): what lint and lesson read. A sibling
// symlink to /dev/zero grew lint to 4 GB, a FIFO hung it, a symlink to
// /proc/self/mem gave "internal error: EIO"; an oversized lesson is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cli, ROOT } from './helpers.ts';
import { MAX_LESSON_BYTES } from '../../src/notebook/library.ts';

const dir = mkdtempSync(join(tmpdir(), 'dma-lab-files-'));
copyFileSync(join(ROOT, 'lessons', '00-tour.md'), join(dir, '00-tour.md'));
symlinkSync('/dev/zero', join(dir, '02-zero.md'));
execFileSync('mkfifo', [join(dir, '03-fifo.md')]);
symlinkSync('/proc/self/mem', join(dir, '04-mem.md'));
writeFileSync(join(dir, '05-big.md'), 'x'.repeat(MAX_LESSON_BYTES + 1));

test('lint FILE reads only regular siblings: no hang on a FIFO, no endless read of /dev/zero', () => {
  const r = cli(['lint', join(dir, '00-tour.md')]); // helpers.ts kills a run after 30 s
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, '00-tour.md: ok');
});

test('lesson on /proc/self/mem, a device, a FIFO or an oversized file: a sentence with the path, exit 1, no internal error', () => {
  for (const [f, want] of [['04-mem.md', 'cannot read'], ['02-zero.md', 'is a device, not a regular file'], ['03-fifo.md', 'is a FIFO'], ['05-big.md', 'a lesson may be at most 1 MiB']] as const) {
    const r = cli(['lesson', join(dir, f)]);
    assert.is(r.status, 1, `${f}: ${r.stderr}`);
    assert.match(r.stderr, want);
    assert.not.match(r.stderr, 'internal error');
  }
});

test.run();
