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

const ITS_CMDS = ['vfio attach', 'vfio set-iommu', 'vfio irq nic0', 'vfio irq vda', 'vfio irqs', 'devirq nic0', 'devirq vda', 'its tables', 'its device', 'its path nic0', 'its path vda', 'driver override nic0 vfio-pci', 'driver bind nic0', 'driver unbind nic0', 'driver override vda vfio-pci', 'driver unbind vda', 'driver bind vda', 'undo'];
const ITS_ARGS = ['0', '1', '2', '7', '8', '9', 'count=0', 'count=1', 'count=3', 'count=9', 'count=4096', 'nic0', 'vda', '0x10', '0x8', '0x10000', '-1', 'x'];
const itsLine = fc.tuple(fc.constantFrom(...ITS_CMDS), fc.array(fc.constantFrom(...ITS_ARGS), { maxLength: 2 })).map(([c, a]) => [c, ...a].join(' '));

/** And the interrupt side: the ITS driver's devices, the ITS's queue and what the CPUs took. */
function itsFingerprint(s: Session): string {
  const its = s.system.linux?.its;
  return JSON.stringify([fingerprint(s), its?.devices.map((d) => [d.dev, d.deviceId, d.lpiBase, d.events.length]), its?.its.creadr, its?.redist.takenAll(8192), its?.redist.takenAll(8194)], (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x));
}

test('MSI-X, ITS and devirq sequences on arm-iproc-smmuv3: an outcome, no internal error, failures change nothing, no ITS command error', () => {
  fc.assert(
    fc.property(fc.array(itsLine, { minLength: 1, maxLength: 12 }), (lines) => {
      const s = createSession('arm-iproc-smmuv3');
      assert.ok(s.execute('boot arm-smmu-v3.msi_iova_base=0xa0000000').ok);
      for (const l of lines) checkLine(s, l, itsFingerprint);
      assert.equal(s.system.linux?.its?.its.errors ?? [], [], 'the kernel never sends the ITS a command it rejects');
    }),
    { numRuns: 120, seed: 20261205 },
  );
});

test.run();
