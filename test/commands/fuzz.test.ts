/**
 * Property tests of the command language (fast-check): whatever is typed,
 * `execute` returns an outcome, never throws, never reports an internal
 * error, and a failed command leaves the machine as it was.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createSession } from '../../src/commands/index.ts';
import type { Session } from '../../src/commands/session.ts';
import { checkLine } from './helpers.ts';

const WORDS = ['xp', 'xp/8xb', 'xp/4xg', 'x/8xb', 'print', 'print/x', 'write', 'fill', 'info', 'mtree', 'pci', 'machine', 'undo', 'reset', 'walk', 'vda', 'dma', 'map', 'unmap', 'alloc', 'smmu', 'ste', 'cd', 'events', 'trace', 'show', 'set', 'blk', 'read', 'iova', 'dev:vda:', 'size=b', 'size=q', 'to_device', 'kernel=4.10-rc', 'help'];
const NUMS = ['0', '1', '0x40000000', '0x8800d000', '0xffffffffffffffff', '4K', '1G', '0x12zz', '(1 << 64)', '-1', '$', '$_', '(', ')', '+', '~0', '1/0', '"str"', '#', '0b102'];
const token = fc.oneof(fc.constantFrom(...WORDS), fc.constantFrom(...NUMS), fc.string({ maxLength: 6 }));
const line = fc.array(token, { maxLength: 6 }).map((ts) => ts.join(' '));

/** What a failed command must not change. */
const fingerprint = (s: Session): string =>
  JSON.stringify([s.system.preset.name, s.machine.memory.pageCount(), s.machine.trace.records().length, s.kernel.dmesg().length, s.undoDepth, s.kernel.booted]);

const check = (s: Session, l: string): void => checkLine(s, l, fingerprint);

test('any line on the default machine: an outcome, no internal error, failures change nothing', () => {
  const s = createSession();
  fc.assert(fc.property(line, (l) => check(s, l)), { numRuns: 400, seed: 20261121 });
});

test('any line on a booted fast model (kernel 4.10-rc): the same', () => {
  const s = createSession('arm-fastmodel', new Map([['kernel', '4.10-rc']]));
  assert.ok(s.execute('boot').ok);
  fc.assert(fc.property(line, (l) => check(s, l)), { numRuns: 300, seed: 7 });
});

test.run();
