// Linux's GICv3 ITS driver model (kernel/irq-gic-v3-its.ts) and PCI MSI-X
// (kernel/pci-msi.ts) on the Arm presets. The boot lines are pinned to a
// QEMU virt boot of a 6.x kernel (the addresses are QEMU's with RAM at
// 0x40000000: the lab places the tables at the same offsets):
//   GICv3: CPU0: found redistributor 0 region 0:0x00000000080a0000
//   ITS [mem 0x08080000-0x0809ffff]
//   ITS@0x0000000008080000: allocated 8192 Devices @43620000 (indirect, esz 8, psz 64K, shr 1)
//   ITS@0x0000000008080000: allocated 8192 Interrupt Collections @43630000 (flat, esz 8, psz 64K, shr 1)
//   GICv3: using LPI property table @0x0000000043640000
//   GICv3: CPU0: using allocated LPI pending table @0x0000000043650000
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { booted, ok, fails as failsRaw, text } from '../commands/helpers.ts';
import type { Session } from '../../src/commands/session.ts';
import type { SmmuV3 } from '../../src/machine/smmuv3/smmuv3.ts';

const fails = (s: Session, line: string, re: RegExp): void => assert.match(failsRaw(s, line).message, re);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const D = (r: { data: unknown }): Record<string, any> => r.data as Record<string, any>;
const dmesg = (s: Session): string[] => s.kernel.dmesg().map((l) => l.text);

test('qemu-virt-smmuv3 6.x boot prints the GICv3/ITS lines of a real QEMU virt boot, in order', () => {
  const s = booted('qemu-virt-smmuv3', '');
  const want = [
    'GICv3: CPU0: found redistributor 0 region 0:0x00000000080a0000',
    'ITS [mem 0x08080000-0x0809ffff]',
    'ITS@0x0000000008080000: allocated 8192 Devices @43620000 (indirect, esz 8, psz 64K, shr 1)',
    'ITS@0x0000000008080000: allocated 8192 Interrupt Collections @43630000 (flat, esz 8, psz 64K, shr 1)',
    'GICv3: using LPI property table @0x0000000043640000',
    'GICv3: CPU0: using allocated LPI pending table @0x0000000043650000',
  ];
  const d = dmesg(s);
  const at = d.indexOf(want[0]!);
  assert.ok(at > 0);
  assert.equal(d.slice(at, at + want.length), want);
  assert.ok(at < d.findIndex((l) => l.startsWith('iommu: Default domain')), 'before the IOMMU core');
});

test('boot maps one collection per CPU (MAPC, RDbase = processor number) and leaves no command error', () => {
  const s = booted('qemu-virt-smmuv3', '');
  const its = s.system.linux!.its!;
  assert.is(its.its.errors.length, 0);
  for (let cpu = 0; cpu < 4; cpu++) assert.is(s.machine.memory.read64(its.colTable + BigInt(cpu * 8)), 1n | (BigInt(cpu) << 1n));
  // the property table: every LPI at priority 0xa0, group 1, disabled, except vda's five (virtio-pci's MSI-X,
  // config + one per queue, one queue per vCPU on QEMU 7.2: enabled)
  assert.equal([...s.machine.memory.read(its.propTable, 6)], [0xa3, 0xa3, 0xa3, 0xa3, 0xa3, 0xa2]);
});

test('4.x eras set the ITS up silently (the 4.x line forms are not verified)', () => {
  const s = booted('arm-fastmodel', '');
  assert.not.ok(dmesg(s).some((l) => l.includes('ITS')));
  assert.ok(s.system.linux!.its!.its.enabled);
});

function vfioNic(boot = ''): Session {
  const s = booted('arm-iproc-smmuv3', boot);
  for (const l of ['driver override nic0 vfio-pci', 'driver bind nic0', 'vfio attach 1', 'vfio set-iommu']) ok(s, l);
  return s;
}

test("MSI-X through VFIO: DeviceID = RID, LPIs from 8192, data = EventID, v5.10+ spreads vectors over CPUs, table written", () => {
  const s = vfioNic();
  const r = ok(s, 'vfio irq nic0 count=3');
  const v = D(r).vectors as { lpi: number; cpu: number; data: number; address: bigint }[];
  // vda's virtio-pci took LPIs 8192-8193 at probe: config on the least loaded CPU (CPU0), req.0 managed
  // to CPU0 (PCI_IRQ_AFFINITY). vfio-pci's vectors are not managed: the least loaded CPU each time.
  assert.equal(v.map((x) => x.lpi), [8194, 8195, 8196]);
  assert.equal(v.map((x) => x.data), [0, 1, 2]);
  assert.equal(v.map((x) => x.cpu), [1, 2, 3], 'the least loaded CPU each time');
  assert.equal(v.map((x) => x.address), [0x800_0040n, 0x800_0040n, 0x800_0040n], 'the SW_MSI cookie page + 0x40');
  const d = s.system.linux!.its!.devices.find((x) => x.dev === '0000:00:02.0')!;
  assert.is(d.deviceId, 0x10);
  assert.is(d.nrItes, 4, 'nvec 3 rounded up to a power of two');
  assert.is(Number(d.itt % 256n), 0, 'ITT 256-byte aligned');
});

test('seed 002 end to end: the NIC sends vector 0; dropped by the bridge at 0x8000040, taken by a CPU with the window moved', () => {
  const s = vfioNic();
  ok(s, 'vfio irq nic0');
  const lost = ok(s, 'devirq nic0');
  assert.is(D(lost).delivered, false);
  assert.is((ok(s, 'its path nic0').data as { delivered: boolean }).delivered, false);
  const s2 = vfioNic('arm-smmu-v3.msi_iova_base=0xa0000000');
  ok(s2, 'vfio irq nic0');
  assert.is((ok(s2, 'its path nic0').data as { delivered: boolean }).delivered, true);
  const got = ok(s2, 'devirq nic0');
  assert.is(D(got).delivered, true);
  assert.is(D(got).lpi, 8194);
  assert.is((D(ok(s2, 'vfio irqs')).irqs as { vectors: { taken: number }[] }[])[0]!.vectors[0]!.taken, 1);
});

test('count=0 frees the vectors: DTE invalid, LPIs reusable; bad input fails cleanly', () => {
  const s = vfioNic();
  ok(s, 'vfio irq nic0 count=2');
  fails(s, 'vfio irq nic0', /already has MSI-X vectors/);
  ok(s, 'vfio irq nic0 count=0');
  assert.equal(s.system.linux!.its!.devices.map((x) => x.dev), ['0000:00:01.0'], 'only vda (virtio-pci) keeps vectors');
  assert.is((ok(s, 'its device nic0').data as { dte: bigint }).dte, 0n);
  const again = ok(s, 'vfio irq nic0');
  assert.is((D(again).vectors as { lpi: number }[])[0]!.lpi, 8194, 'the freed range is reused');
  fails(s, 'devirq nic0 8', /vector 8/);
  ok(s, 'vfio irq nic0 count=0');
  fails(s, 'vfio irq nic0 count=9', /-ENOSPC.*8 entries/);
  // vda's config vector (virtio-pci enabled MSI-X at probe): its write reaches the ITS through vda's DMA domain.
  const cfg = D(ok(s, 'devirq vda 0'));
  assert.equal([cfg.sent, cfg.delivered, cfg.lpi], ['sent', true, 8192]);
});

test('an unbound NIC on a DT 6.1 boot: no group, abort STE', () => {
  const s = booted('arm-iproc-smmuv3', '');
  const g = ok(s, 'info groups');
  assert.not.match(text(g), /0000:00:02.0/);
  const ste = ok(s, 'smmu ste 0x10');
  assert.match(text(ste), /Config=0b000 \(abort\)/);
});

test("iProc's outbound window: a NIC write to a bus address inside the bridge's mem32 window is claimed peer to peer, never reaching the SMMU", () => {
  const s = vfioNic();
  ok(s, 'vfio map 0x40000000 0x1000');
  const smmu = s.machine.iommus[0] as SmmuV3;
  const before = { ...smmu.stats() };
  const w = D(ok(s, 'devdma write nic0 0x40000000 0xab 4'));
  const tr = (w.trace as { outcome: { kind: string; detail?: string } }[]).at(-1)!;
  assert.is(tr.outcome.kind, 'p2p');
  assert.match(tr.outcome.detail!, /mem32 window/);
  assert.equal({ ...smmu.stats() }, before, 'the SMMU saw nothing');
});

test.run();
