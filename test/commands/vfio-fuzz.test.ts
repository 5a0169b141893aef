/**
 * Property test of the vfio commands (fast-check): any sequence of vfio
 * (and driver) command lines never throws, never reports an internal error,
 * and a failed command leaves the container, the pins and the IOMMU
 * mappings exactly as they were.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createSession } from '../../src/commands/index.ts';
import type { Session } from '../../src/commands/session.ts';
import { checkLine } from './helpers.ts';

const CMDS = ['vfio group', 'vfio attach', 'vfio detach', 'vfio set-iommu', 'vfio info', 'vfio map', 'vfio unmap', 'vfio maps', 'vfio irq', 'vfio param memlock', 'vfio param dma_entry_limit', 'vfio param allow_unsafe_interrupts', 'driver override vda vfio-pci', 'driver unbind vda', 'driver bind vda', 'devdma write vda', 'undo'];
const ARGS = ['0', '1', '2', 'vda', 'r', 'w', 'rw', 'type1', '0x1000', '0x2000', '0x40000000', '0x40001000', '0x8000000', '0x10000000', '0xfffffffffffff000', '0x1001', '4K', '1G', 'vaddr=0x7f0000000000', 'vaddr=0x1', '0x5a', '4', '-1', '(', 'x'];
const line = fc.tuple(fc.constantFrom(...CMDS), fc.array(fc.constantFrom(...ARGS), { maxLength: 4 })).map(([c, a]) => [c, ...a].join(' '));

/** What a failed command must not change: the container and what it pinned and mapped. */
function fingerprint(s: Session): string {
  const v = s.system.linux?.vfio;
  if (!v) return JSON.stringify(['no kernel', s.machine.memory.pageCount(), s.undoDepth]);
  return JSON.stringify([v.groups, v.iommuSet, v.dmas.map((d) => [d.iova, d.size, d.vaddr, d.prot]), v.pinnedBytes, v.iovaList, s.machine.memory.pageCount(), s.kernel.dmesg().length, s.undoDepth], (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x));
}

test('vfio command sequences: an outcome, no internal error, failures change nothing', () => {
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 12 }), (lines) => {
      const s = createSession('qemu-virt-smmuv3');
      assert.ok(s.execute('boot vda.iommu_platform=on').ok);
      for (const l of lines) checkLine(s, l, fingerprint);
    }),
    { numRuns: 150, seed: 20261205 },
  );
});

test.run();
