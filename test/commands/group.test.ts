/**
 * `group type`, `driver unbind`, `driver bind` (and `dma mask`) on
 * qemu-virt-smmuv3 with a translated virtio-blk: the sysfs type file is
 * writable only while no driver uses the DMA API in the group, with the
 * errno of the era (REFERENCE.md 4.2: writable on recent kernels when no
 * driver is bound; type strings from 4.1); unbinding takes the disk away,
 * binding again runs dma_configure for the new default domain (identity ->
 * dma-direct, REFERENCE.md 5.3) and re-probes the disk; undo goes back
 * through all of it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { booted, fails, ok, spanText, text } from './helpers.ts';

const TRANSLATED = 'vda.iommu_platform=on';
type Groups = { groups: { group: number; type: string; devices: { name: string; alias?: string }[] }[] };
const groupType = (s: ReturnType<typeof booted>, n = 0): string => (ok(s, 'info groups').data as Groups).groups.find((g) => g.group === n)!.type;
type BlkData = { outcome: string; request: { descs: { addr: bigint; pa: bigint; mapped: boolean }[] } };

test('6.x: group type 0 identity fails with EPERM while virtio-blk is bound; succeeds after driver unbind; driver bind brings the disk back on dma-direct; undo undoes it all', () => {
  const s = booted('qemu-virt-smmuv3', TRANSLATED);
  assert.is(groupType(s), 'DMA');
  assert.is((ok(s, 'group type 0').data as { type: string }).type, 'DMA');

  const line = 'group type 0 identity';
  const e = fails(s, line);
  assert.match(e.message, 'echo identity > /sys/kernel/iommu_groups/0/type: write error: Operation not permitted (-EPERM)');
  assert.match(e.message, 'virtio-pci');
  assert.is(spanText(line, e), 'identity');
  assert.is(e.hint, 'driver unbind vda');
  assert.is(groupType(s), 'DMA', 'a failed write changes nothing');

  const u = ok(s, 'driver unbind vda');
  assert.match(text(u), 'echo 0000:00:01.0 > /sys/bus/pci/drivers/virtio-pci/unbind');
  assert.is((u.data as { disk: string }).disk, 'vda');
  assert.match(fails(s, 'blk read vda 0').message, 'has no virtio-blk disk');
  assert.match(fails(s, 'driver unbind vda').message, 'has no driver bound');

  const w = ok(s, line);
  assert.equal((w.data as { before: string; type: string }), { group: 0, type: 'identity', before: 'DMA', written: 'identity', log: [] });
  assert.is(groupType(s), 'identity');
  assert.is((ok(s, 'info groups').data as Groups).groups[0]!.devices[0]!.alias, undefined, 'no driver: no vda');

  const b = ok(s, 'driver bind vda');
  const bd = b.data as { dmaOps: string; disk: string; partitions: string; log: string[] };
  assert.is(bd.dmaOps, 'dma-direct');
  assert.is(bd.disk, 'vda');
  assert.match(bd.partitions, 'vda1');
  assert.ok(bd.log.some((l) => l.includes('[vda]')), 'the capacity line of a fresh probe');
  assert.is(groupType(s), 'identity');
  assert.is(s.system.linux!.device('vda')!.dmaOps, 'direct');
  // The disk works, and the ring's addresses are physical addresses now (dma-direct, STE bypass).
  const r = ok(s, 'blk read vda 0').data as BlkData;
  assert.is(r.outcome, 'ok');
  for (const d of r.request.descs) assert.is(d.addr, d.pa);
  assert.is((ok(s, 'dma map vda 0x41000000 4096 to_device').data as { ops: string; dma: bigint }).ops, 'dma-direct');
  assert.match(fails(s, 'driver bind vda').message, 'already bound to virtio-pci');

  // undo: dma map, blk read, driver bind, group type, driver unbind
  for (let i = 0; i < 5; i++) ok(s, 'undo');
  assert.is(groupType(s), 'DMA');
  assert.is(s.system.linux!.device('vda')!.dmaOps, 'iommu');
  assert.is((ok(s, 'info groups').data as Groups).groups[0]!.devices[0]!.alias, 'vda');
  const again = ok(s, 'blk read vda 0').data as BlkData;
  assert.is(again.outcome, 'ok');
  assert.ok(again.request.descs.every((d) => d.mapped && d.addr !== d.pa), 'IOVAs again (iommu-dma)');
  assert.match(fails(s, line).message, 'Operation not permitted');
});

test('undo of driver bind leaves the device unbound; undo of driver unbind rebinds it', () => {
  const s = booted('qemu-virt-smmuv3', TRANSLATED);
  ok(s, 'driver unbind vda');
  ok(s, 'group type 0 identity');
  ok(s, 'driver bind vda');
  ok(s, 'undo');
  assert.match(fails(s, 'blk read vda 0').message, 'has no virtio-blk disk');
  assert.is(groupType(s), 'identity');
  ok(s, 'driver bind vda'); // binds again after the undo
  assert.is((ok(s, 'blk read vda 0').data as BlkData).outcome, 'ok');
  for (let i = 0; i < 4; i++) ok(s, 'undo'); // blk read, driver bind, group type, driver unbind
  assert.is((ok(s, 'blk read vda 0').data as BlkData).outcome, 'ok');
  assert.is(groupType(s), 'DMA');
});

test('DMA -> DMA-FQ is done in place, driver bound or not (v5.15+); back to DMA is refused while bound', () => {
  const s = booted('qemu-virt-smmuv3', `${TRANSLATED} iommu.strict=1`);
  ok(s, 'group type 0 DMA-FQ');
  assert.is(groupType(s), 'DMA-FQ');
  assert.is((ok(s, 'blk read vda 0').data as BlkData).outcome, 'ok');
  assert.match(fails(s, 'group type 0 DMA').message, 'Operation not permitted');
});

test('era: v6.1 refuses a bound group with EBUSY "Device is still bound to driver"; v4.10 has a read-only file (EACCES)', () => {
  const s61 = booted('qemu-virt-smmuv3', `kernel=6.1 ${TRANSLATED}`);
  const e = fails(s61, 'group type 0 identity');
  assert.match(e.message, 'write error: Device or resource busy (-EBUSY)');
  assert.match(e.message, 'Device is still bound to driver');
  ok(s61, 'driver unbind vda');
  ok(s61, 'group type 0 identity');
  assert.is(groupType(s61), 'identity');

  const s410 = booted('qemu-virt-smmuv3', `kernel=4.10 ${TRANSLATED}`);
  ok(s410, 'driver unbind vda');
  assert.match(fails(s410, 'group type 0 identity').message, 'write error: Permission denied (-EACCES): the file is read-only');
});

test('errors: no such group, a type the choices do not have, before boot', () => {
  const s = booted('qemu-virt-smmuv3', TRANSLATED);
  const e = fails(s, 'group type 7 identity');
  assert.match(e.message, 'no IOMMU group 7');
  assert.match(e.expected ?? '', 'a group number: 0');
  assert.match(fails(s, 'group type 0 passthrough').message, "'passthrough' is not a valid type");
  const fresh = createSession('qemu-virt-smmuv3');
  assert.match(fails(fresh, 'group type 0').message, "run 'boot' first");
  assert.match(fails(fresh, 'driver unbind vda').message, "run 'boot' first");
});

test('dma mask: -EIO on dma-direct below 32 bits (machine unchanged); iommu-dma takes any mask and allocates below it', () => {
  const pt = booted('qemu-virt-smmuv3', `${TRANSLATED} iommu.passthrough=1`);
  const depth = pt.undoDepth;
  const e = fails(pt, 'dma mask vda 24');
  assert.match(e.message, '= -EIO');
  assert.is(pt.undoDepth, depth);
  assert.is(pt.system.linux!.device('vda')!.dmaMask, 0xffff_ffff_ffff_ffffn, 'virtio-pci set 64 bits at probe; still so');
  ok(pt, 'dma mask vda 32');
  assert.is(pt.system.linux!.device('vda')!.coherentDmaMask, 0xffff_ffffn);
  ok(pt, 'undo');
  assert.is(pt.system.linux!.device('vda')!.dmaMask, 0xffff_ffff_ffff_ffffn);

  const tr = booted('qemu-virt-smmuv3', TRANSLATED);
  ok(tr, 'dma mask vda 24');
  const m = ok(tr, 'dma map vda 0x41000000 4096 to_device').data as { dma: bigint };
  assert.ok(m.dma < 1n << 24n, 'the IOVA is below the 24-bit mask');
  // Unbinding leaves the masks alone (REFERENCE.md 5.2); the driver's probe at bind sets its own again.
  ok(tr, 'dma unmap vda $');
  ok(tr, 'driver unbind vda');
  assert.is(tr.system.linux!.device('vda')!.dmaMask, 0xff_ffffn);
  ok(tr, 'driver bind vda');
  assert.is(tr.system.linux!.device('vda')!.dmaMask, 0xffff_ffff_ffff_ffffn);
  assert.match(fails(tr, 'dma mask vda 0').message, '1..64');
});

test.run();
