/**
 * Seed 003 by era (REFERENCE.md 9, 4.6, 5.2): the coherent_dma_mask + 1
 * overflow appears exactly in the era that had it (the probe-deferral
 * series before the max() fix, kernel=4.12 here) and nowhere else: before
 * the series DMA was configured once at device creation, so a rebind after
 * a driver widened the masks cannot fail; the max() fix and the later
 * limit-based check both pass a 64-bit mask. Also: the thread's debug print
 * and its numbers (9.2), probe deferral with a late or modular SMMU
 * driver, and groups created at probe on DT arm64 after the series (issue
 * 11 item 3).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { KERNEL_ERAS } from '../../src/kernel/era.ts';
import { booted, fails, ok, spanText, text } from './helpers.ts';

const ERAS = Object.keys(KERNEL_ERAS);
const OUTSIDE = 'specified DMA range outside IOMMU capability';
const FAILED = (dev: string): string => `Failed to set up IOMMU for device ${dev}; retaining platform DMA ops`;

test("issue 10's sequence on arm-fastmodel (dma mask vda 64, unbind, bind) fails only in 4.12", () => {
  const failing: string[] = [];
  for (const era of ERAS) {
    const s = booted('arm-fastmodel', `kernel=${era}`);
    ok(s, 'dma mask vda 64');
    ok(s, 'driver unbind vda');
    const b = ok(s, 'driver bind vda');
    const log = (b.data as { log: string[] }).log;
    if (log.includes(OUTSIDE)) {
      failing.push(era);
      assert.ok(log.includes(FAILED('0000:00:00.0')), era);
      assert.is((b.data as { dmaOps: string }).dmaOps, 'dma-direct', era);
    } else {
      assert.is((b.data as { dmaOps: string }).dmaOps, 'iommu-dma', `${era}: the rebind keeps iommu-dma`);
    }
  }
  assert.equal(failing, ['4.12']);
});

test('the thread: ixgbevf -> vfio-pci through driver_override fails only in 4.12, with the debug print of REFERENCE.md 9.2', () => {
  const failing: string[] = [];
  for (const era of ERAS) {
    const s = booted('arm-d05-sriov', `kernel=${era} debug-dma-configure=on`);
    const vf = s.system.linux!.device('0002:81:10.0')!;
    assert.ok(vf, `${era}: the VF exists`);
    assert.is(s.system.linux!.driverCore.boundDriver(vf), 'ixgbevf');
    // ixgbevf set 64-bit masks; the fresh VF had 32-bit ones.
    assert.is(vf.coherentDmaMask, 0xffff_ffff_ffff_ffffn);
    ok(s, 'driver override vf0 vfio-pci');
    ok(s, 'driver unbind vf0');
    assert.is(vf.coherentDmaMask, 0xffff_ffff_ffff_ffffn, 'unbind leaves the masks (REFERENCE.md 5.2)');
    const b = ok(s, 'driver bind vf0');
    assert.is((b.data as { driver: string }).driver, 'vfio-pci');
    const log = (b.data as { log: string[] }).log;
    if (log.includes(OUTSIDE)) {
      failing.push(era);
      assert.ok(log.includes(FAILED('0002:81:10.0')));
      // dev_info(dev, "0x%llx 0x%llx, 0x%llx 0x%llx, 0x%llx 0x%llx\n", base, size, aperture, masks): REFERENCE.md 9.2.
      assert.ok(log.includes('vfio-pci 0002:81:10.0: 0x0 0x0, 0x0 0xffffffffffff, 0xffffffffffffffff 0xffffffffffffffff'), log.join('\n'));
      assert.is(vf.dmaOps, 'direct', 'platform DMA ops retained');
      assert.is(s.system.linux!.core.groupShowType(vf.group!).trim(), 'DMA', 'while the group keeps its DMA domain');
      assert.match(text(b), 'keeps the platform DMA ops (dma-direct) while iommu group');
    } else {
      assert.is(vf.dmaOps, 'iommu', era);
    }
  }
  assert.equal(failing, ['4.12']);
});

test('the first ixgbevf probe sees the fresh 32-bit masks: size 0x100000000 (REFERENCE.md 9.2, first row)', () => {
  const s = booted('arm-d05-sriov', 'kernel=4.12 debug-dma-configure=on');
  const boot = s.kernel.dmesg().map((l) => l.text);
  assert.ok(boot.includes('ixgbevf 0002:81:10.0: 0x0 0x100000000, 0x0 0xffffffffffff, 0xffffffff 0xffffffff'));
  assert.ok(boot.includes('pci 0002:81:10.0: [8086:10ed] type 00 class 0x020000'), 'the scan line of the thread');
  assert.ok(boot.includes('ixgbe 0002:81:00.0 eth0: SR-IOV enabled with 1 VFs'));
});

// 5.14: of_dma_configure still computes size = max(mask, mask + 1) and arm64
// passes limit = base + size - 1 (the VIOT series' arch_setup_dma_ops), so a
// 64-bit mask arrives as 0xfffffffffffffffe.
test('4.13 prints size max(mask, mask + 1) = 0xffffffffffffffff; 5.14 prints the limit base + size - 1', () => {
  for (const [era, want] of [['4.13', '0x0 0xffffffffffffffff, 0x0 0xffffffffffff'], ['5.14', '0x0 0xfffffffffffffffe, 0x0 0xffffffffffff']] as const) {
    const s = booted('arm-d05-sriov', `kernel=${era} debug-dma-configure=on`);
    ok(s, 'driver override vf0 vfio-pci');
    ok(s, 'driver unbind vf0');
    const log = (ok(s, 'driver bind vf0').data as { log: string[] }).log;
    assert.ok(log.some((l) => l.startsWith(`vfio-pci 0002:81:10.0: ${want}`)), `${era}: ${log.join(' / ')}`);
  }
});

test('x86 VT-d never computed mask + 1: an e1000e rebind with 64-bit masks passes on 4.12', () => {
  const s = booted('x86-q35-vtd', 'kernel=4.12');
  ok(s, 'driver unbind nic0');
  const b = ok(s, 'driver bind nic0');
  assert.not.ok((b.data as { log: string[] }).log.includes(OUTSIDE));
  // v4.12 on VT-d: intel-iommu's own DMA ops (iommu-dma only from v5.11), no iommu_dma_init_domain to compute mask + 1.
  assert.is((b.data as { dmaOps: string }).dmaOps, 'intel_dma_ops');
});

test('ACPI/IORT boot path: same arithmetic, same failure in 4.12; the SMMU is the IORT platform device', () => {
  const s = booted('arm-d05-sriov', 'kernel=4.12 firmware=acpi');
  assert.ok(s.kernel.dmesg().some((l) => l.text.startsWith('arm-smmu-v3 arm-smmu-v3.0.auto: ')));
  ok(s, 'driver override vf0 vfio-pci');
  ok(s, 'driver unbind vf0');
  assert.ok((ok(s, 'driver bind vf0').data as { log: string[] }).log.includes(OUTSIDE));
});

test('probe deferral: 6.x with a modular SMMU driver defers the PF; modprobe retries it and its group appears at probe', () => {
  const s = booted('arm-d05-sriov', 'kernel=6.x iommu-driver=module');
  const d = ok(s, 'driver deferred').data as { deferred: { dev: string; driver: string }[] };
  assert.equal(d.deferred.map((x) => [x.dev, x.driver]), [['0002:81:00.0', 'ixgbe']]);
  assert.match(text(ok(s, 'info groups')), 'no IOMMU groups', 'an unbound device has no group');
  assert.not.ok(s.kernel.dmesg().some((l) => /defer/i.test(l.text)), 'a deferral prints nothing at the default loglevel');
  const m = ok(s, 'modprobe arm_smmu_v3');
  assert.equal((m.data as { retried: string[] }).retried, ['0002:81:00.0']);
  assert.ok((m.data as { log: string[] }).log.includes('ixgbe 0002:81:00.0: Adding to iommu group 0'));
  assert.equal((ok(s, 'driver deferred').data as { deferred: unknown[] }).deferred, []);
  assert.match(fails(s, 'modprobe arm_smmu_v3').message, 'already loaded');
  ok(s, 'undo');
  assert.is((ok(s, 'driver deferred').data as { deferred: unknown[] }).deferred.length, 1, 'undo takes the load back');
});

test('probe deferral by era: 4.12 built-in-late retries at boot; 4.12 modular is skipped (no IOMMU); 4.11 late leaves early devices without one', () => {
  const late = booted('arm-d05-sriov', 'kernel=4.12 iommu-driver=late');
  assert.is(late.system.linux!.device('0002:81:00.0')!.group, 0);
  assert.is(late.system.linux!.device('0002:81:00.0')!.dmaOps, 'iommu');
  const mod = booted('arm-d05-sriov', 'kernel=4.12 iommu-driver=module');
  assert.is(mod.system.linux!.device('0002:81:00.0')!.group, undefined);
  assert.is((ok(mod, 'driver deferred').data as { deferred: unknown[] }).deferred.length, 0);
  const old = booted('arm-d05-sriov', 'kernel=4.11 iommu-driver=late');
  assert.is(old.system.linux!.device('0002:81:00.0')!.group, undefined, 'created before the SMMU driver: no IOMMU, for good');
  assert.is(old.system.linux!.device('0002:81:10.0')!.group, 0, 'the VF, created after it, has one');
});

test('issue 11 item 3: on DT arm64 after the series the group comes at probe with the driver prefix; before it, at enumeration', () => {
  const now = booted('qemu-virt-smmuv3', 'kernel=6.x vda.iommu_platform=on').kernel.dmesg().map((l) => l.text);
  const i = now.indexOf('virtio-pci 0000:00:01.0: Adding to iommu group 0');
  assert.ok(i > 0, now.join('\n'));
  assert.not.ok(now.some((l) => l === 'pci 0000:00:01.0: Adding to iommu group 0'));
  assert.ok(i < now.indexOf('virtio-pci 0000:00:01.0: enabling device (0000 -> 0002)'), 'dma_configure runs before the driver probe');
  const then = booted('arm-fastmodel', 'kernel=4.10').kernel.dmesg().map((l) => l.text);
  const j = then.indexOf('iommu: Adding device 0000:00:00.0 to group 0');
  assert.is(then[j - 1], 'pci 0000:00:00.0: [1af4:1001] type 00 class 0x010000', 'right after the scan line');
});

test('bad input: an unknown era and a missing driver get clear errors', () => {
  const s = createSession('arm-d05-sriov');
  const line = 'set kernel=4.14';
  const e = fails(s, line);
  assert.is(spanText(line, e), '4.14');
  assert.match(e.expected ?? '', '4.12');
  const b = booted('arm-d05-sriov');
  ok(b, 'driver unbind vf0');
  assert.match(fails(b, 'driver bind vf0 vfio').message, "no driver 'vfio'");
  assert.match(fails(b, 'driver sriov vf0 1').message, 'has no SR-IOV capability');
  assert.match(fails(b, 'driver sriov pf0 64').message, 'TotalVFs is 63');
});

test('driver sriov adds VFs after boot; undo removes them', () => {
  const s = booted('arm-d05-sriov', 'sriov_numvfs=0');
  const n = s.system.linux!.devices.length;
  const r = ok(s, 'driver sriov pf0 2');
  assert.equal((r.data as { vfs: string[] }).vfs, ['0002:81:10.0', '0002:81:10.2'], 'First VF Offset 0x80, VF Stride 2');
  assert.is(s.system.linux!.devices.length, n + 2);
  assert.match(fails(s, 'driver sriov pf0 1').message, '-EBUSY');
  ok(s, 'undo');
  assert.is(s.system.linux!.devices.length, n);
  assert.match(fails(s, 'driver bind 81:10.0').message, '');
});

test('show kernel explains every era', () => {
  const s = createSession('arm-d05-sriov');
  const d = ok(s, 'show kernel').data as { current: string; eras: { name: string; dma: string }[] };
  assert.is(d.current, '4.12');
  assert.equal(d.eras.map((e) => e.name).sort(), [...ERAS].sort());
  assert.match(d.eras.find((e) => e.name === '4.12')!.dma, 'wraps to 0');
});

test('print shows the arithmetic: DMA_BIT_MASK(64) + 1 wraps; max() does not; the 2017 check', () => {
  const s = createSession('arm-d05-sriov');
  const v = (l: string): bigint => (ok(s, l).data as { value: bigint }).value;
  assert.is(v('print DMA_BIT_MASK(64) + 1'), 0n);
  assert.is(v('print DMA_BIT_MASK(32) + 1'), 0x1_0000_0000n);
  assert.is(v('print max(DMA_BIT_MASK(64), DMA_BIT_MASK(64) + 1)'), 0xffff_ffff_ffff_ffffn);
  assert.is(v('print 0 + (DMA_BIT_MASK(64) + 1) <= 0'), 1n);
  assert.is(v('print 0 + max(DMA_BIT_MASK(64), DMA_BIT_MASK(64) + 1) <= 0'), 0n);
});

test.run();
