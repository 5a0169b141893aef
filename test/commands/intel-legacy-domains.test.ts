// intel-iommu before default domains (issue 11 item 7). In v4.x
// (drivers/iommu/intel-iommu.c, v4.9) intel_iommu_domain_alloc made only
// UNMANAGED domains, so groups had no default domain; intel_dma_ops gave a
// device a private domain, and wrote its context entry, at its first DMA
// mapping (get_valid_domain_for_dev). init_dmars printed "Setting RMRR:" and
// mapped the LPC bridge's 0-16MiB 1:1 (iommu_prepare_isa), enabled
// translation, and intel_iommu_init printed its "Intel(R) Virtualization
// Technology" line before bus_set_iommu added the devices to groups.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import type { Session } from '../../src/commands/session.ts';
import { booted, checkLine, ok, text } from './helpers.ts';

const didOf = (t: string): string => /DID\s+\[87:72\]\s+(\d+)/.exec(t)![1]!;
const present = (t: string): boolean => /P\s+\[0\]\s+1/.test(t);

test('4.9 boot: RMRR and LPC lines, then the VT-d line, then the groups', () => {
  const s = booted('x86-q35-vtd-2015');
  const log = text(ok(s, 'dmesg'));
  const at = (needle: string): number => {
    const i = log.indexOf(needle);
    assert.ok(i >= 0, `missing: ${needle}`);
    return i;
  };
  const order = [
    at('DMAR: dmar0: Using Queued invalidation'),
    at('DMAR: Setting RMRR:'),
    at('DMAR: Prepare 0-16MiB unity mapping for LPC'),
    at('DMAR: Setting identity map for device 0000:00:1f.0 [0x0 - 0xffffff]'),
    at('DMAR: Intel(R) Virtualization Technology for Directed I/O'),
    at('iommu: Adding device 0000:00:00.0 to group 0'),
  ];
  assert.equal([...order].sort((a, b) => a - b), order);
  assert.not.match(log, 'Default domain type');
});

test('4.9: no default domains; only the LPC has a context entry after boot (DID 1, 0-16MiB 1:1)', () => {
  const s = booted('x86-q35-vtd-2015');
  assert.match(text(ok(s, 'info groups')), '/sys/kernel/iommu_groups/1/type: unknown');
  const lpc = text(ok(s, 'vtd context 00:1f.0'));
  assert.ok(present(lpc));
  assert.is(didOf(lpc), '1');
  assert.match(lpc, 'its private domain (DID 1 on dmar0)');
  // The LPC's domain maps the low 16 MiB to itself.
  assert.match(text(ok(s, 'walk 00:1f.0 0xabc000')), '-> PA 0xabc000');
  // Its group siblings and vda have none: private domains are per device, not per group.
  for (const d of ['00:1f.2', 'vda', 'nic0']) {
    const t = text(ok(s, `vtd context ${d}`));
    assert.not.ok(present(t), d);
    assert.match(t, 'no domain yet', d);
  }
  assert.is((ok(s, 'driver info vda').data as { dmaOps: string }).dmaOps, 'intel_dma_ops');
  assert.match(text(ok(s, 'iova vda')), 'no IOMMU domain yet');
});

test('4.9: the first DMA API mapping makes the private domain and writes the context entry', () => {
  const s = booted('x86-q35-vtd-2015');
  const m = text(ok(s, 'dma map vda 0x100000000 4096 to_device'));
  assert.match(m, 'served by intel_dma_ops');
  assert.match(m, '(DID 2 on dmar0) now maps');
  const ctx = text(ok(s, 'vtd context vda'));
  assert.ok(present(ctx));
  assert.is(didOf(ctx), '2');
  // undo takes the domain back with the mapping; mapping again makes it again.
  ok(s, 'undo');
  assert.not.ok(present(text(ok(s, 'vtd context vda'))));
  assert.match(text(ok(s, 'dma map vda 0x100000000 4096 to_device')), '(DID 2 on dmar0) now maps');
  // A second mapping uses the same domain; a sibling of the LPC still has none.
  assert.match(text(ok(s, 'dma map vda 0x100002000 4096 to_device')), '(DID 2 on dmar0) now maps');
  assert.not.ok(present(text(ok(s, 'vtd context 00:1f.2'))));
});

test('4.9: VFIO replaces the private domain and detaching leaves the device without one', () => {
  const s = booted('x86-q35-vtd-2015');
  ok(s, 'dma map nic0 0x100000000 4096 to_device');
  assert.is(didOf(text(ok(s, 'vtd context nic0'))), '2');
  ok(s, 'dma unmap nic0 $');
  ok(s, 'driver override nic0 vfio-pci');
  ok(s, 'driver unbind nic0');
  ok(s, 'driver bind nic0');
  ok(s, 'vfio group 2');
  ok(s, 'vfio attach 2');
  ok(s, 'vfio set-iommu');
  ok(s, 'vfio map 0x100000 0x2000 w');
  const ctx = text(ok(s, 'vtd context nic0'));
  assert.ok(present(ctx));
  // The private domain's DID 2 was released when nic0 left it; the unmanaged domain takes the lowest free id.
  assert.is(didOf(ctx), '2');
  ok(s, 'vfio detach 2');
  assert.not.ok(present(text(ok(s, 'vtd context nic0'))));
});

test('4.9 with iommu=pt: si_domain for every device at init_dmars, the LPC map ignored under hardware pass-through', () => {
  const s = booted('x86-q35-vtd-2015', 'iommu=pt');
  const log = text(ok(s, 'dmesg'));
  const i = log.indexOf('DMAR: Hardware identity mapping for device 0000:00:00.0');
  const j = log.indexOf('DMAR: Hardware identity mapping for device 0000:00:1f.3');
  const k = log.indexOf('DMAR: Ignoring identity map for HW passthrough device 0000:00:1f.0 [0x0 - 0xffffff]');
  const v = log.indexOf('DMAR: Intel(R) Virtualization Technology for Directed I/O');
  assert.ok(i >= 0 && i < j && j < log.indexOf('DMAR: Setting RMRR:') && j < k && k < v, log);
  assert.not.match(log, 'Failed to create 0-16MiB');
  const ctx = text(ok(s, 'vtd context vda'));
  assert.match(ctx, 'TT=2 pass-through');
  assert.match(ctx, 'si_domain');
  assert.not.match(text(ok(s, 'info groups')), "hence 'unknown'");
});

test('6.1 is unchanged: default domains at boot, iommu-dma, vda has its context entry before any mapping', () => {
  const s = booted('x86-q35-vtd');
  assert.ok(present(text(ok(s, 'vtd context vda'))));
  assert.is((ok(s, 'driver info vda').data as { dmaOps: string }).dmaOps, 'iommu-dma');
  assert.not.match(text(ok(s, 'dmesg')), 'Prepare 0-16MiB');
});

test("4.9 lazy unmaps: intel_dma_ops' deferred list, 250 entries across domains, then one global IOTLB flush", () => {
  const s = booted('x86-q35-vtd-2015');
  const unit = s.machine.iommus[0] as unknown as { stats(): { byDid: Record<string, { invalidations: number }> } };
  const globals = (): number => unit.stats().byDid['-1']?.invalidations ?? 0;
  const waiting = (dev: string): number => ((ok(s, `iova ${dev}`).data as { rows: { kind: string }[] }).rows.filter((r) => r.kind === 'flush-queue').length);
  const before = globals();
  // 125 unmaps on each of two private domains: 250 on the one list, nothing flushed yet.
  for (let i = 0; i < 125; i++) {
    ok(s, 'dma map vda 0x100000000 4096 to_device');
    ok(s, 'dma unmap vda $');
    ok(s, 'dma map nic0 0x100000000 4096 to_device');
    ok(s, 'dma unmap nic0 $');
  }
  assert.is(globals(), before);
  assert.is(waiting('vda') + waiting('nic0'), 250);
  assert.match(text(ok(s, 'dma map vda 0x100000000 4096 to_device')), 'served by intel_dma_ops');
  assert.match(text(ok(s, 'dma unmap vda $')), "deferred-unmap list (v4.x: 250 entries");
  // The 251st: flush_unmaps first (one global invalidation frees all 250), then it waits alone.
  assert.is(globals(), before + 1);
  assert.is(waiting('vda') + waiting('nic0'), 1);
});

// Any sequence of DMA API, VFIO, driver and undo commands on the 4.9 preset: an outcome, no
// internal error, a failed command changes nothing; and each device's context entry agrees
// with whether the kernel holds a domain for it.
const CMDS = ['dma map', 'dma unmap', 'dma alloc', 'dma free', 'driver unbind', 'driver bind', 'driver override', 'vfio group 2', 'vfio attach 2', 'vfio detach 2', 'vfio set-iommu', 'vfio map 0x100000 0x2000', 'undo', 'devdma read'];
const ARGS = ['vda', 'nic0', '00:1f.2', 'vfio-pci', '0x100000000', '4096', '8', 'to_device', 'bidirectional', '$', '0x1000'];
const line = fc.tuple(fc.constantFrom(...CMDS), fc.array(fc.constantFrom(...ARGS), { maxLength: 4 })).map(([c, a]) => [c, ...a].join(' '));
const look = (s: Session, l: string): string => {
  const o = s.execute(l);
  return o.ok ? (o.empty ? '' : text(o.result)) : `error: ${o.error.message}`;
};
const fingerprint = (s: Session): string =>
  JSON.stringify([s.machine.memory.pageCount(), s.kernel.dmesg().length, s.undoDepth, ['vda', 'nic0', '00:1f.2'].map((d) => look(s, `vtd context ${d}`))]);

test('4.9: command sequences never throw, failures change nothing, context entries follow the domains', () => {
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 10 }), (lines) => {
      const s = booted('x86-q35-vtd-2015');
      for (const l of lines) checkLine(s, l, fingerprint);
      const linux = s.system.linux;
      if (!linux) return; // an undo went back past the boot
      for (const name of ['vda', 'nic0']) {
        const dev = linux.device(name)!;
        const d = linux.core.getDomainForDev(dev);
        assert.is(present(text(ok(s, `vtd context ${name}`))), d !== undefined && d.type !== 'blocked', `${name} after ${JSON.stringify(lines)}`);
      }
    }),
    { numRuns: 120, seed: 20261205 },
  );
});

test.run();
