import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildVirtioTestbed, TESTBED_MODERN_BAR, TESTBED_MSIX_BAR } from '../../src/machine/virtio/testbed.ts';
import { validateVirtioPciOptions } from '../../src/machine/virtio/virtio-pci.ts';
import { PCI_CAP_ID_MSIX, PCI_CAP_ID_VNDR, PCI_COMMAND, PCI_DEVICE_ID, PCI_REVISION_ID, PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID, PCI_VENDOR_ID } from '../../src/machine/pci.ts';
import { encodeDesc } from '../../src/machine/virtio/ring.ts';
import * as R from '../../src/machine/virtio/virtio-pci-regs.ts';

const IO = 0x3eff_1000n; // I/O window CPU base 0x3eff0000 + BAR0 port 0x1000
const MODERN = TESTBED_MODERN_BAR; // mem64 window is 1:1

function enabled(o: Parameters<typeof buildVirtioTestbed>[0] = {}) {
  const t = buildVirtioTestbed(o);
  t.dev.configWrite(PCI_COMMAND, 2, 0x7n); // IO | MEMORY | MASTER
  return t;
}

test('legacy register offsets are the uapi virtio_pci.h ones (REFERENCE 7.3)', () => {
  assert.is(R.VIRTIO_PCI_HOST_FEATURES, 0);
  assert.is(R.VIRTIO_PCI_GUEST_FEATURES, 4);
  assert.is(R.VIRTIO_PCI_QUEUE_PFN, 8);
  assert.is(R.VIRTIO_PCI_QUEUE_NUM, 12);
  assert.is(R.VIRTIO_PCI_QUEUE_SEL, 14);
  assert.is(R.VIRTIO_PCI_QUEUE_NOTIFY, 16);
  assert.is(R.VIRTIO_PCI_STATUS, 18);
  assert.is(R.VIRTIO_PCI_ISR, 19);
  assert.is(R.VIRTIO_MSI_CONFIG_VECTOR, 20);
  assert.is(R.VIRTIO_MSI_QUEUE_VECTOR, 22);
  assert.is(R.VIRTIO_PCI_CONFIG_OFF(false), 20);
  assert.is(R.VIRTIO_PCI_CONFIG_OFF(true), 24);
});

test('modern common config offsets (REFERENCE 7.4)', () => {
  const expect: [number, number][] = [
    [R.VIRTIO_PCI_COMMON_DFSELECT, 0], [R.VIRTIO_PCI_COMMON_DF, 4], [R.VIRTIO_PCI_COMMON_GFSELECT, 8], [R.VIRTIO_PCI_COMMON_GF, 12],
    [R.VIRTIO_PCI_COMMON_MSIX, 16], [R.VIRTIO_PCI_COMMON_NUMQ, 18], [R.VIRTIO_PCI_COMMON_STATUS, 20], [R.VIRTIO_PCI_COMMON_CFGGENERATION, 21],
    [R.VIRTIO_PCI_COMMON_Q_SELECT, 22], [R.VIRTIO_PCI_COMMON_Q_SIZE, 24], [R.VIRTIO_PCI_COMMON_Q_MSIX, 26], [R.VIRTIO_PCI_COMMON_Q_ENABLE, 28],
    [R.VIRTIO_PCI_COMMON_Q_NOFF, 30], [R.VIRTIO_PCI_COMMON_Q_DESCLO, 32], [R.VIRTIO_PCI_COMMON_Q_DESCHI, 36], [R.VIRTIO_PCI_COMMON_Q_AVAILLO, 40],
    [R.VIRTIO_PCI_COMMON_Q_AVAILHI, 44], [R.VIRTIO_PCI_COMMON_Q_USEDLO, 48], [R.VIRTIO_PCI_COMMON_Q_USEDHI, 52], [R.VIRTIO_PCI_COMMON_Q_NDATA, 56],
    [R.VIRTIO_PCI_COMMON_Q_RESET, 58],
  ];
  for (const [a, b] of expect) assert.is(a, b);
});

test('transitional virtio-blk: 1af4:1001, subsystem 1af4:0002, revision 0, class 0x010000, BAR0 io 0x40, BAR1 4K, BAR4 64-bit pref 16K', () => {
  const { dev } = buildVirtioTestbed();
  assert.is(Number(dev.configRead(PCI_VENDOR_ID, 2)), 0x1af4);
  assert.is(Number(dev.configRead(PCI_DEVICE_ID, 2)), 0x1001);
  assert.is(Number(dev.configRead(PCI_SUBSYSTEM_VENDOR_ID, 2)), 0x1af4);
  assert.is(Number(dev.configRead(PCI_SUBSYSTEM_ID, 2)), 2);
  assert.is(Number(dev.configRead(PCI_REVISION_ID, 1)), 0);
  assert.is(dev.classCode, 0x010000);
  assert.equal(dev.bars.map((b) => [b.index, b.kind, b.size, b.prefetchable]), [[0, 'io', 0x40n, false], [1, 'mem32', 0x1000n, false], [4, 'mem64', 0x4000n, true]]);
  // BAR registers: I/O BAR has bit 0 set; 64-bit prefetchable memory BAR has type 0b10 and bit 3.
  assert.is(Number(dev.configRead(0x10, 4)), 0x1001);
  assert.is(Number(dev.configRead(0x20, 4)) & 0xf, 0xc);
  assert.is(Number(dev.configRead(0x24, 4)), 0x80);
});

test('modern-only: device ID 0x1042, revision 1, subsystem 0x1100, no I/O BAR; legacy-only: no vendor capabilities', () => {
  const m = buildVirtioTestbed({ disableLegacy: true }).dev;
  assert.is(m.deviceId, 0x1042);
  assert.is(Number(m.configRead(PCI_REVISION_ID, 1)), 1);
  assert.is(Number(m.configRead(PCI_SUBSYSTEM_ID, 2)), 0x1100);
  assert.not.ok(m.bars.some((b) => b.kind === 'io'));
  const l = buildVirtioTestbed({ disableModern: true }).dev;
  assert.is(l.deviceId, 0x1001);
  assert.not.ok(l.capabilities().some((c) => c.id === PCI_CAP_ID_VNDR));
  assert.not.ok(l.bars.some((b) => b.index === 4));
});

test('vendor capabilities: common/isr/device/notify at QEMU offsets in BAR4, notify_off_multiplier 4, then MSI-X', () => {
  const { dev } = buildVirtioTestbed();
  const caps = dev.capabilities();
  assert.equal(caps.map((c) => [c.id, c.offset]), [[PCI_CAP_ID_VNDR, 0x40], [PCI_CAP_ID_VNDR, 0x50], [PCI_CAP_ID_VNDR, 0x60], [PCI_CAP_ID_VNDR, 0x70], [PCI_CAP_ID_MSIX, 0x84]]);
  const rd = (o: number, s: 1 | 2 | 4): number => Number(dev.configRead(o, s));
  const expect = [
    [0x40, R.VIRTIO_PCI_CAP_COMMON_CFG, 0x0000, 16],
    [0x50, R.VIRTIO_PCI_CAP_ISR_CFG, 0x1000, 16],
    [0x60, R.VIRTIO_PCI_CAP_DEVICE_CFG, 0x2000, 16],
    [0x70, R.VIRTIO_PCI_CAP_NOTIFY_CFG, 0x3000, 20],
  ];
  for (const [off, type, offset, len] of expect) {
    assert.is(rd(off! + 2, 1), len, 'cap_len');
    assert.is(rd(off! + 3, 1), type, 'cfg_type');
    assert.is(rd(off! + 4, 1), 4, 'bar');
    assert.is(rd(off! + 8, 4), offset, 'offset');
    assert.is(rd(off! + 12, 4), 0x1000, 'length');
  }
  assert.is(rd(0x70 + 16, 4), 4, 'notify_off_multiplier');
  // MSI-X: table size 2 (N-1 = 1), table in BAR1 at 0, PBA in BAR1 at 0x800.
  assert.is(rd(0x84 + 2, 2) & 0x7ff, 1);
  assert.is(rd(0x84 + 4, 4), 0x1);
  assert.is(rd(0x84 + 8, 4), 0x801);
});

test('capability bytes are read-only except MSI-X Enable / Function Mask', () => {
  const { dev } = buildVirtioTestbed();
  dev.configWrite(0x40 + 8, 4, 0xdeadn);
  assert.is(Number(dev.configRead(0x40 + 8, 4)), 0);
  dev.configWrite(0x84 + 2, 2, 0xffffn);
  assert.is(Number(dev.configRead(0x84 + 2, 2)), 0xc001);
});

test('legacy host features show only bits 0-31: a transitional device hides VERSION_1; the modern window shows it', () => {
  const { machine, dev } = enabled();
  const host = dev.hostFeatures();
  assert.ok((host >> 32n) & 1n, 'VERSION_1 offered');
  assert.is(BigInt(machine.memory.read32(IO + 0n)), host & 0xffff_ffffn);
  machine.memory.write32(MODERN + 0n, 1); // device_feature_select = 1
  assert.is(machine.memory.read32(MODERN + 4n), 1); // bit 32 -> bit 0 of the high word
});

test('iommu_platform=on offers bit 33 (ACCESS_PLATFORM), and needs disable-legacy=on', () => {
  const { machine, dev } = enabled({ disableLegacy: true, iommuPlatform: true });
  machine.memory.write32(MODERN + 0n, 1);
  assert.is(machine.memory.read32(MODERN + 4n), 0b11);
  assert.ok(dev.iommuPlatform);
  assert.match(validateVirtioPciOptions({ iommuPlatform: true })!, /VIRTIO_F_IOMMU_PLATFORM was supported by neither legacy nor transitional device/);
  assert.ok(validateVirtioPciOptions({ disableLegacy: true, disableModern: true }));
  assert.is(validateVirtioPciOptions({ disableLegacy: true, iommuPlatform: true }), undefined);
  assert.throws(() => buildVirtioTestbed({ iommuPlatform: true }));
});

test('legacy-only virtio-blk offers VIRTIO_BLK_F_SCSI and not ANY_LAYOUT; transitional the reverse (QEMU)', () => {
  const l = buildVirtioTestbed({ disableModern: true }).dev.hostFeatures();
  const t = buildVirtioTestbed().dev.hostFeatures();
  assert.ok((l >> 7n) & 1n);
  assert.not.ok((l >> 27n) & 1n);
  assert.not.ok((t >> 7n) & 1n);
  assert.ok((t >> 27n) & 1n);
  for (const f of [l, t]) for (const b of [2, 4, 6, 9, 10, 11, 28, 29]) assert.ok((f >> BigInt(b)) & 1n, `bit ${b}`);
});

test('legacy queue setup: QUEUE_NUM 256, PFN places desc/avail/used at +0/+0x1000/+0x2000', () => {
  const { machine, dev } = enabled();
  const mem = machine.memory;
  mem.write16(IO + 14n, 0);
  assert.is(mem.read16(IO + 12n), 256);
  mem.write32(IO + 8n, 0x40123);
  assert.is(mem.read32(IO + 8n), 0x40123);
  const q = dev.queueState(0)!;
  assert.ok(q.enabled);
  assert.is(q.desc, 0x4012_3000n);
  assert.is(q.avail, 0x4012_4000n);
  assert.is(q.used, 0x4012_5000n);
  // Writing PFN 0 resets the device (QEMU).
  mem.write8(IO + 18n, 3);
  mem.write32(IO + 8n, 0);
  assert.is(dev.status, 0);
  assert.not.ok(dev.queueState(0)!.enabled);
});

test('queue-size=128 (QEMU < 5.0) reads back 128 and lays the used ring at +0x1000', () => {
  const { machine, dev } = enabled({ queueSize: 128 });
  machine.memory.write16(IO + 14n, 0);
  assert.is(machine.memory.read16(IO + 12n), 128);
  machine.memory.write32(IO + 8n, 0x40200);
  assert.is(dev.queueState(0)!.used - dev.queueState(0)!.desc, 0x1000n);
});

test('status, guest features and reset through the legacy block', () => {
  const { machine, dev } = enabled();
  const mem = machine.memory;
  mem.write8(IO + 18n, 1 | 2);
  assert.is(mem.read8(IO + 18n), 3);
  mem.write32(IO + 4n, 0xffff_ffff);
  assert.is(dev.guestFeatures, dev.hostFeatures() & 0xffff_ffffn, 'only offered bits are accepted');
  mem.write8(IO + 18n, 0);
  assert.is(dev.status, 0);
  assert.is(dev.guestFeatures, 0n);
});

test('device config at 20 without MSI-X enabled, at 24 with it (capacity 2097152)', () => {
  const { machine, dev } = enabled();
  const mem = machine.memory;
  assert.is(mem.read32(IO + 20n), 2097152);
  assert.is(mem.read32(IO + 24n), 0);
  dev.configWrite(0x84 + 2, 2, 0x8000n); // MSI-X Enable
  assert.ok(dev.msixEnabled);
  assert.is(mem.read32(IO + 24n), 2097152);
  assert.is(mem.read16(IO + 20n), R.VIRTIO_MSI_NO_VECTOR);
  mem.write16(IO + 20n, 1);
  assert.is(mem.read16(IO + 20n), 1);
  mem.write16(IO + 20n, 7); // no such vector: reads back NO_VECTOR
  assert.is(mem.read16(IO + 20n), R.VIRTIO_MSI_NO_VECTOR);
});

test('modern config: capacity at the device structure, num_queues 1, queue_notify_off = queue index', () => {
  const { machine } = enabled({ disableLegacy: true });
  const mem = machine.memory;
  assert.is(mem.read32(MODERN + 0x2000n), 2097152);
  assert.is(mem.read16(MODERN + 18n), 1);
  mem.write16(MODERN + 22n, 0);
  assert.is(mem.read16(MODERN + 24n), 256);
  assert.is(mem.read16(MODERN + 30n), 0);
});

test('modern features commit at FEATURES_OK; asking for an unoffered bit leaves FEATURES_OK clear', () => {
  const { machine, dev } = enabled({ disableLegacy: true });
  const mem = machine.memory;
  mem.write8(MODERN + 20n, 3);
  mem.write32(MODERN + 8n, 1);
  mem.write32(MODERN + 12n, 1); // VERSION_1
  mem.write32(MODERN + 8n, 0);
  mem.write32(MODERN + 12n, 1 << 9);
  mem.write8(MODERN + 20n, 3 | 8);
  assert.is(mem.read8(MODERN + 20n), 11);
  assert.is(dev.guestFeatures, (1n << 32n) | (1n << 9n));
  mem.write8(MODERN + 20n, 0);
  mem.write8(MODERN + 20n, 3);
  mem.write32(MODERN + 8n, 1);
  mem.write32(MODERN + 12n, 0x8000_0000); // bit 63: never offered
  mem.write8(MODERN + 20n, 3 | 8);
  assert.is(mem.read8(MODERN + 20n), 3);
});

/** Put one 3-descriptor read of sector 0 in a legacy ring at `ring`; returns the data / status addresses. */
function legacyRead(t: ReturnType<typeof enabled>, ring: bigint) {
  const mem = t.machine.memory;
  mem.write16(IO + 14n, 0);
  mem.write32(IO + 8n, Number(ring >> 12n));
  const req = ring + 0x4000n;
  const data = ring + 0x5000n;
  mem.write32(req, 0);
  mem.write64(req + 8n, 0n);
  mem.write(ring, encodeDesc({ addr: req, len: 16, flags: 1, next: 1 }));
  mem.write(ring + 16n, encodeDesc({ addr: data, len: 512, flags: 3, next: 2 }));
  mem.write(ring + 32n, encodeDesc({ addr: req + 16n, len: 1, flags: 2, next: 0 }));
  mem.write16(ring + 0x1000n + 4n, 0);
  mem.write16(ring + 0x1000n + 2n, 1);
  return { data, status: req + 16n };
}

test('ISR is read-to-clear and INTx is logged when a queue completes', () => {
  const t = enabled();
  const { data, status } = legacyRead(t, 0x4010_0000n);
  t.machine.memory.write16(IO + 16n, 0);
  assert.is(t.machine.memory.read8(status), 0);
  assert.is(t.machine.memory.read8(data + 510n), 0x55);
  assert.is(t.dev.isr, 1);
  assert.ok(t.dev.intxAsserted);
  const irq = t.machine.interrupts.records();
  assert.is(irq.length, 1);
  assert.is(irq[0]!.controller, 'intx');
  assert.is(t.machine.memory.read8(IO + 19n), 1);
  assert.is(t.machine.memory.read8(IO + 19n), 0);
  assert.not.ok(t.dev.intxAsserted);
});

test('MSI-X: with the table programmed, completion is a DMA write of the message data to the message address', () => {
  const t = enabled();
  const mem = t.machine.memory;
  t.dev.configWrite(0x84 + 2, 2, 0x8000n);
  // Entry 0: address 0x40300040 (stands in for a doorbell), data 0x2a, unmasked.
  mem.write32(TESTBED_MSIX_BAR + 0n, 0x4030_0040);
  mem.write32(TESTBED_MSIX_BAR + 4n, 0);
  mem.write32(TESTBED_MSIX_BAR + 8n, 0x2a);
  mem.write32(TESTBED_MSIX_BAR + 12n, 0);
  mem.write16(IO + 14n, 0);
  mem.write16(IO + 22n, 0); // queue 0 -> vector 0
  assert.is(mem.read16(IO + 22n), 0);
  const { status } = legacyRead(t, 0x4010_0000n);
  mem.write16(IO + 16n, 0);
  assert.is(mem.read8(status), 0);
  assert.is(mem.read32(0x4030_0040n), 0x2a);
  const msi = t.machine.trace.records().find((r) => r.what === 'msix vector 0')!;
  assert.ok(msi);
  assert.is(msi.op, 'write');
  assert.is(msi.addr, 0x4030_0040n);
  assert.is(t.machine.interrupts.records().length, 0, 'no INTx while MSI-X is enabled');
});

test('MSI-X: a masked vector sets its pending bit and fires on unmask', () => {
  const t = enabled();
  const mem = t.machine.memory;
  t.dev.configWrite(0x84 + 2, 2, 0x8000n);
  mem.write32(TESTBED_MSIX_BAR + 0n, 0x4030_0040);
  mem.write32(TESTBED_MSIX_BAR + 8n, 0x2b);
  // vector control stays masked (reset value 1)
  mem.write16(IO + 14n, 0);
  mem.write16(IO + 22n, 0);
  legacyRead(t, 0x4010_0000n);
  mem.write16(IO + 16n, 0);
  assert.is(mem.read32(0x4030_0040n), 0);
  assert.is(mem.read8(TESTBED_MSIX_BAR + 0x800n), 1, 'PBA bit 0');
  mem.write32(TESTBED_MSIX_BAR + 12n, 0);
  assert.is(mem.read32(0x4030_0040n), 0x2b);
  assert.is(mem.read8(TESTBED_MSIX_BAR + 0x800n), 0);
});

test('assigning dmaMaster keeps one object: KDevice.master and machine.masters see the preset\'s path', () => {
  const { machine, dev, host } = buildVirtioTestbed();
  const m = dev.dmaMaster;
  assert.is(machine.masters.get('vda'), m);
  assert.equal([m.path, m.sid, m.rid], ['bypass', 8, 8]);
  dev.dmaMaster = { name: 'vda', sid: 0x10, path: 'translated', rootComplex: host };
  assert.is(dev.dmaMaster, m);
  assert.equal([m.path, m.sid, m.rid], ['translated', 0x10, undefined]);
});

test('save/restore round-trips the transport state', () => {
  const t = enabled();
  const snap = t.dev.saveState();
  legacyRead(t, 0x4010_0000n);
  t.machine.memory.write16(IO + 16n, 0);
  assert.is(t.dev.queueState(0)!.usedIdx, 1);
  t.dev.restoreState(snap);
  assert.is(t.dev.queueState(0)!.usedIdx, 0);
  assert.not.ok(t.dev.queueState(0)!.enabled);
  assert.is(t.dev.isr, 0);
});

test.run();
