// VFIO type1 against REFERENCE.md section 6: MAP_DMA's checks in the
// kernel's order with their errnos (6.2), v2 UNMAP semantics, the valid-IOVA
// list (6.3), the SW_MSI cookie (6.4), group viability and the x86
// interrupt-remapping refusal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { booted, ok } from '../commands/helpers.ts';
import { EEXIST, EINVAL, ENOMEM, ENOSPC, EPERM } from '../../src/kernel/iommu.ts';
import { VFIO_DMA_MAP_FLAG_READ as R, VFIO_DMA_MAP_FLAG_WRITE as W, VFIO_IOCTL, memlockDefault } from '../../src/kernel/vfio.ts';
import type { Session } from '../../src/commands/session.ts';

const RW = R | W;

function container(preset = 'qemu-virt-smmuv3', boot = 'vda.iommu_platform=on', dev = 'vda', group = 0): Session {
  const s = booted(preset, boot);
  for (const l of [`driver override ${dev} vfio-pci`, `driver unbind ${dev}`, `driver bind ${dev}`, `vfio attach ${group}`, 'vfio set-iommu']) ok(s, l);
  return s;
}
const vfio = (s: Session) => s.system.linux!.vfio;
const errno = (r: { ok: boolean; errno?: number }): number | undefined => (r.ok ? 0 : r.errno);

test('ioctl numbers: _IO(0x3B, 100 + n) as include/uapi/linux/vfio.h defines them', () => {
  assert.is(VFIO_IOCTL.VFIO_GET_API_VERSION, (0x3b << 8) | 100);
  assert.is(VFIO_IOCTL.VFIO_SET_IOMMU, (0x3b << 8) | 102);
  assert.is(VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, 0x3b71);
  assert.is(VFIO_IOCTL.VFIO_IOMMU_UNMAP_DMA, 0x3b72);
});

test('the valid IOVA list on SMMUv3 (48-bit aperture minus SW_MSI) and VT-d (39-bit minus the MSI window): REFERENCE 6.3', () => {
  assert.equal(vfio(container()).iovaList, [{ start: 0x0n, end: 0x7ff_ffffn }, { start: 0x810_0000n, end: 0xffff_ffff_ffffn }]);
  const x = container('x86-q35-vtd', '', 'nic0', 2);
  assert.equal(vfio(x).iovaList, [{ start: 0x0n, end: 0xfedf_ffffn }, { start: 0xfef0_0000n, end: 0x7f_ffff_ffffn }]);
});

test('MAP_DMA: each check and its errno, in order (REFERENCE 6.2)', () => {
  const v = vfio(container());
  assert.is(errno(v.mapDma(0x1000_0000n, 0x1000n, 0)), EINVAL, 'no READ, no WRITE');
  assert.is(errno(v.mapDma(0x1000_0000n, 0n, RW)), EINVAL, 'size 0');
  assert.is(errno(v.mapDma(0x1000_0000n, 0x1001n, RW)), EINVAL, 'size misaligned');
  assert.is(errno(v.mapDma(0x1000_0800n, 0x1000n, RW)), EINVAL, 'iova misaligned');
  assert.is(errno(v.mapDma(0x1000_0000n, 0x1000n, RW, 0x7f00_0000_0800n)), EINVAL, 'vaddr misaligned');
  assert.is(errno(v.mapDma(0xffff_ffff_ffff_f000n, 0x2000n, RW, 0x1000n)), EINVAL, 'iova wraps');
  assert.is(errno(v.mapDma(0x1000n, 0x2000n, RW, 0xffff_ffff_ffff_f000n)), EINVAL, 'vaddr wraps');
  assert.is(errno(v.mapDma(0x1000_0000n, 0x4000n, RW)), 0);
  assert.is(errno(v.mapDma(0x1000_3000n, 0x1000n, RW)), EEXIST, 'overlap');
  assert.is(errno(v.mapDma(0x800_0000n, 0x1000n, RW)), EINVAL, 'inside SW_MSI');
  assert.is(errno(v.mapDma(0x7ff_f000n, 0x2000n, RW)), EINVAL, 'straddles a range end');
  assert.is(errno(v.mapDma(0x1_0000_0000_0000n, 0x1000n, RW)), EINVAL, 'beyond the 48-bit aperture');
  // Order: an overlapping request that is also inside a reserved region says -EEXIST (overlap is checked first).
  assert.is(errno(v.mapDma(0x1000_0000n, 0x1000n, RW)), EEXIST);
});

test('MAP_DMA: -ENOSPC at dma_entry_limit, -ENOMEM past RLIMIT_MEMLOCK; a failure changes nothing', () => {
  const v = vfio(container());
  v.setDmaEntryLimit(2);
  assert.is(errno(v.mapDma(0x1000_0000n, 0x1000n, RW)), 0);
  assert.is(errno(v.mapDma(0x1000_1000n, 0x1000n, RW)), 0);
  assert.is(errno(v.mapDma(0x1000_2000n, 0x1000n, RW)), ENOSPC);
  v.setDmaEntryLimit(100);
  const before = v.pinnedBytes;
  assert.is(v.memlock, memlockDefault(615));
  assert.is(errno(v.mapDma(0x2000_0000n, v.memlock, RW)), ENOMEM);
  assert.is(v.pinnedBytes, before);
  assert.is(v.dmas.length, 2);
});

test('4.x kernels: RLIMIT_MEMLOCK 64 KiB; 8 MiB since v5.16', () => {
  assert.is(memlockDefault(515), 64n << 10n);
  assert.is(memlockDefault(516), 8n << 20n);
});

test('a mapped IOVA reaches the pinned page: the device DMA goes through the unmanaged domain', () => {
  const s = container();
  const v = vfio(s);
  assert.ok(v.mapDma(0x4000_0000n, 0x2000n, W).ok);
  ok(s, 'devdma write vda 0x40001008 0x5a 4');
  const pa = v.userPhys(0x4000_1008n)!;
  assert.equal([...s.machine.memory.read(pa, 4)], [0x5a, 0x5a, 0x5a, 0x5a]);
});

test("seed 002: MAP_DMA inside the host bridge's MMIO window succeeds (VFIO's list does not exclude it), but the write never reaches the SMMU", () => {
  const s = container();
  const v = vfio(s);
  assert.ok(v.mapDma(0x1000_0000n, 0x1000n, W).ok, 'QEMU virt mem32 window 0x10000000: not a reserved region for VFIO');
  ok(s, 'devdma write vda 0x10000008 0x5a 4');
  const pa = v.userPhys(0x1000_0008n)!;
  assert.equal([...s.machine.memory.read(pa, 4)], [0, 0, 0, 0], 'the bytes never arrive');
  const t = s.machine.trace.records().at(-1)!;
  assert.match(JSON.stringify(t.outcome), 'p2p');
});

test('UNMAP_DMA v2: no bisecting (-EINVAL, nothing unmapped); whole mappings go; an empty range returns size 0', () => {
  const v = vfio(container());
  assert.ok(v.mapDma(0x1000_0000n, 0x4000n, RW).ok);
  assert.ok(v.mapDma(0x1000_4000n, 0x1000n, RW).ok);
  assert.is(errno(v.unmapDma(0x1000_1000n, 0x1000n)), EINVAL);
  assert.is(errno(v.unmapDma(0x1000_0000n, 0x2000n)), EINVAL);
  assert.is(v.dmas.length, 2);
  const r = v.unmapDma(0x1000_0000n, 0x5000n);
  assert.ok(r.ok && r.unmapped === 0x5000n);
  const e = v.unmapDma(0x3000_0000n, 0x1000n);
  assert.ok(e.ok && e.unmapped === 0n);
  assert.is(v.pinnedBytes, 0n);
});

test('group viability: a kernel driver in the group gives -EPERM; vfio-pci or no driver is viable', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on');
  const v = vfio(s);
  assert.not.ok(v.groupStatus(0)!.viable);
  assert.is(errno(v.setContainer(0)), EPERM);
  ok(s, 'driver unbind vda');
  assert.ok(v.groupStatus(0)!.viable, 'no driver is viable');
  assert.ok(v.setContainer(0).ok);
});

test('SW_MSI: the doorbell page goes to the first page of the window, message 0x08000040 (REFERENCE 6.4)', () => {
  const s = container();
  const dev = s.system.linux!.device('vda')!;
  const r = vfio(s).prepareMsi(dev, 0x809_0040n);
  assert.ok(r.ok && r.iova === 0x800_0000n && r.msgAddr === 0x800_0040n);
});

test('x86 without interrupt remapping: SET_IOMMU -EPERM "No interrupt remapping support" unless allow_unsafe_interrupts', () => {
  const s = booted('x86-q35-vtd', 'cmdline=intremap=off');
  for (const l of ['driver override nic0 vfio-pci', 'driver unbind nic0', 'driver bind nic0', 'vfio attach 2']) ok(s, l);
  const v = vfio(s);
  const r = v.setIommu();
  assert.ok(!r.ok && r.errno === EPERM && /No interrupt remapping support/.test(r.why));
  v.setAllowUnsafeInterrupts(true);
  assert.ok(v.setIommu().ok);
});

test('undo takes back a MAP_DMA: mapping, pins and the IOMMU entry', () => {
  const s = container();
  ok(s, 'vfio map 0x10000000 0x1000');
  assert.is(vfio(s).dmas.length, 1);
  ok(s, 'undo');
  assert.is(vfio(s).dmas.length, 0);
  assert.is(vfio(s).pinnedBytes, 0n);
  assert.not.ok(s.execute('devdma read vda 0x10000000 4').ok && false);
});

test('arm-iproc-smmuv3 (seed 002): outside the inbound dma-ranges the bridge drops the write; the kernel allocator avoids the gaps, VFIO does not', () => {
  const s = booted('arm-iproc-smmuv3');
  const linux = s.system.linux!;
  const vda = linux.device('vda')!;
  // Kernel DMA domain: the doorbell IOVA comes from the allocator, inside dma-ranges.
  const k = linux.iommuDma.iommuDmaPrepareMsi(vda, 0x63c3_0040n);
  assert.ok(k.ok && k.iova !== undefined && k.iova >= 0x8000_0000n && k.iova < 0x1_0000_0000n);
  const rc = vda.master.rootComplex!;
  assert.ok(rc.forwardsUpstream(0x8000_0000n));
  assert.not.ok(rc.forwardsUpstream(0x800_0000n));
  // VFIO: the cookie sits at 0x8000000, which the bridge never forwards.
  for (const l of ['driver override vda vfio-pci', 'driver unbind vda', 'driver bind vda', 'vfio attach 0', 'vfio set-iommu']) ok(s, l);
  const r = vfio(s).prepareMsi(vda, 0x63c3_0040n);
  assert.ok(r.ok && r.msgAddr === 0x800_0040n);
  assert.not.ok(rc.forwardsUpstream(r.msgAddr));
  // MAP_DMA in the gap is accepted (VFIO's list does not know dma-ranges) and the device's write never lands.
  assert.ok(vfio(s).mapDma(0x810_0000n, 0x1000n, W).ok);
  const w = s.machine.dmaWrite(vda.master, 0x810_0000n, new Uint8Array([1, 2, 3, 4]));
  assert.not.ok(w.ok);
});

test('arm-smmu-v3.msi_iova_base moves the SW_MSI region and with it the valid IOVA list and the doorbell', () => {
  const s = booted('arm-iproc-smmuv3', 'arm-smmu-v3.msi_iova_base=0xa0000000');
  for (const l of ['driver override vda vfio-pci', 'driver unbind vda', 'driver bind vda', 'vfio attach 0', 'vfio set-iommu']) ok(s, l);
  assert.equal(vfio(s).iovaList, [{ start: 0x0n, end: 0x9fff_ffffn }, { start: 0xa010_0000n, end: 0xffff_ffff_ffffn }]);
  const r = vfio(s).prepareMsi(s.system.linux!.device('vda')!, 0x63c3_0040n);
  assert.ok(r.ok && r.msgAddr === 0xa000_0040n);
});

test.run();
