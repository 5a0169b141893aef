// The arm-smmu-v3 driver model on a tiny hand-built machine (RAM + an SMMUv3 register frame):
// probe through MMIO, attach, map, device DMA through the SMMU, invalidation, and the event log.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import { get } from '../../src/machine/fields.ts';
import { SmmuV3, type SmmuV3Options } from '../../src/machine/smmuv3/smmuv3.ts';
import * as R from '../../src/machine/smmuv3/regs.ts';
import { STE_LAYOUT } from '../../src/machine/smmuv3/ste.ts';
import { CD_LAYOUT } from '../../src/machine/smmuv3/cd.ts';
import { EVENT_LAYOUT } from '../../src/machine/smmuv3/event.ts';
import type { DmaMaster } from '../../src/machine/dma.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import { ArmSmmuV3Driver, type ArmSmmuV3DriverOptions, type LogLine } from '../../src/kernel/arm-smmu-v3.ts';
import { IOMMU_CACHE, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_READ, IOMMU_WRITE, type KDevice } from '../../src/kernel/types.ts';

const SMMU = 0x2b40_0000n;
const P = 'arm-smmu-v3 2b400000.smmu: ';

function setup(drvOpts: Partial<ArmSmmuV3DriverOptions> = {}, hwOpts: Partial<SmmuV3Options> = {}) {
  const m = new Machine({ name: 'tiny', arch: 'aarch64', board: 'test', cpus: 1, description: '' });
  m.memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x1000_0000n, kind: 'ram' });
  const smmu = new SmmuV3({ name: 'smmuv3.0', memory: m.memory, sidBits: 8, ...hwOpts });
  m.memory.addRegion({ name: 'smmu', base: SMMU, size: R.SMMU_REGION_SIZE, kind: 'mmio', handler: smmu });
  m.addIommu(smmu);
  const pages = new PageAllocator([{ base: 0x4800_0000n, size: 0x100_0000n }]);
  const log: LogLine[] = [];
  const drv = new ArmSmmuV3Driver({ memory: m.memory, pages, base: SMMU, log: (level, text) => log.push({ level, text }), ...drvOpts });
  const probeLines = drv.probe();
  const device = (name: string, sid: number): { master: DmaMaster; dev: KDevice } => {
    const master: DmaMaster = { name, sid, path: 'translated', iommu: smmu };
    const dev: KDevice = { name, master, dmaMask: 0xffff_ffffn, coherentDmaMask: 0xffff_ffffn, busDmaLimit: 0n, dmaOps: 'iommu', coherent: true, fwSid: sid };
    return { master, dev };
  };
  const reg = (off: number): number => m.memory.read32(SMMU + BigInt(off));
  return { m, smmu, pages, drv, log, probeLines, device, reg };
}

test('probe programs the SMMU through MMIO: queues, linear stream table, CR0 enables', () => {
  const { drv, reg, m, probeLines } = setup({ era: '2017' });
  assert.ok(drv.probed);
  assert.is(reg(R.SMMU_CR0ACK), R.CR0_SMMUEN | R.CR0_EVENTQEN | R.CR0_CMDQEN);
  assert.is(reg(R.SMMU_STRTAB_BASE_CFG), 8); // linear, LOG2SIZE 8 (SIDSIZE 8 <= STRTAB_SPLIT)
  assert.is(reg(R.SMMU_IRQ_CTRLACK), R.IRQ_CTRL_EVENTQ_IRQEN | R.IRQ_CTRL_GERROR_IRQEN);
  const base = m.memory.read64(SMMU + BigInt(R.SMMU_STRTAB_BASE)) & 0x000f_ffff_ffff_ffc0n;
  // 2017: disable_bypass = false, every unattached STE is bypass (REFERENCE 1.2/1.7).
  for (const sid of [0, 17, 255]) {
    assert.is(m.memory.read64(base + BigInt(64 * sid)), 0x9n);
    assert.is(m.memory.read64(base + BigInt(64 * sid) + 8n), 0x0000_1000_0000_0000n);
  }
  // EVTQ/CMDQ bases: 2^7 events of 32 bytes, 2^8 commands of 16 bytes, RWA set.
  assert.is(m.memory.read64(SMMU + BigInt(R.SMMU_EVENTQ_BASE)) & 0x1fn, 7n);
  assert.is(m.memory.read64(SMMU + BigInt(R.SMMU_CMDQ_BASE)) & 0x1fn, 8n);
  assert.is(m.memory.read64(SMMU + BigInt(R.SMMU_CMDQ_BASE)) >> 62n, 1n);
  // features: TT_LE (1<<2) | COHERENCY (1<<8) | TRANS_S1 (1<<9) | TRANS_S2 (1<<10); 2-level dropped for 8 SID bits.
  assert.equal(probeLines, [{ level: 'info', text: `${P}ias 48-bit, oas 48-bit (features 0x00000704)` }]);
});

test('current era: unattached StreamIDs get abort STEs (disable_bypass gone in v6.10)', () => {
  const { m } = setup({ era: 'current' });
  const base = m.memory.read64(SMMU + BigInt(R.SMMU_STRTAB_BASE)) & 0x000f_ffff_ffff_ffc0n;
  assert.is(m.memory.read64(base + 64n * 3n), 0x1n);
  assert.is(m.memory.read64(base + 64n * 3n + 8n), 0n);
});

test('attach to a DMA domain, map IOVA 0xfffff000 -> PA 0x40001000, device DMA reads the PA', () => {
  for (const era of ['2017', 'current'] as const) {
    const { m, drv, device } = setup({ era });
    const { master, dev } = device('0000:00:01.0', 8);
    const dom = drv.domainAlloc('DMA');
    assert.is(dom.apertureEnd, 0xffff_ffff_ffffn);
    drv.attachDev(dev, dom);
    drv.map(dom, 0xffff_f000n, 0x4000_1000n, 0x1000n, IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE);
    m.memory.write(0x4000_1000n, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    const r = m.dmaRead(master, 0xffff_f000n, 4);
    assert.ok(r.ok);
    if (r.ok) assert.equal([...r.data], [0xde, 0xad, 0xbe, 0xef]);
    assert.is(drv.iovaToPhys(dom, 0xffff_f123n), 0x4000_1123n);
    const w = m.dmaWrite(master, 0xffff_f010n, new Uint8Array([7]));
    assert.ok(w.ok);
    assert.is(m.memory.read8(0x4000_1010n), 7);
  }
});

test('the STE and CD the driver writes (REFERENCE 1.2, 1.3)', () => {
  const { m, drv, device } = setup({ era: '2017' });
  const { dev } = device('0000:00:01.0', 8);
  const dom = drv.domainAlloc('DMA');
  drv.attachDev(dev, dom);
  const steAddr = drv.steAddrFor(8)!;
  const ste = m.memory.readWords(steAddr, 8);
  const cdPtr = get(STE_LAYOUT, ste, 'S1ContextPtr');
  assert.is(ste[0], cdPtr | 0xbn); // V | Config 0b101 | S1ContextPtr
  assert.is(get(STE_LAYOUT, ste, 'S1CSH'), 3n);
  const cd = m.memory.readWords(cdPtr, 8);
  const f = (n: string): bigint => get(CD_LAYOUT, cd, n);
  assert.equal([f('T0SZ'), f('TG0'), f('IR0'), f('OR0'), f('SH0'), f('EPD1'), f('V'), f('IPS'), f('AA64'), f('R'), f('A'), f('ASID')], [16n, 0n, 1n, 1n, 3n, 1n, 1n, 5n, 1n, 1n, 1n, 0n]);
  assert.is(f('TTB0'), drv.domainInfo(dom)!.pgd);
  assert.is(f('MAIR'), 0x0004_ff44n); // 2017: NC, WBRWA, Device
});

test('current era: ASIDs start at 1, the CD table is per master, MAIR has index 3', () => {
  const { m, drv, device } = setup({ era: 'current' });
  const a = device('0000:00:01.0', 8);
  const b = device('0000:00:02.0', 16);
  const dom = drv.domainAlloc('DMA');
  drv.attachDev(a.dev, dom);
  drv.attachDev(b.dev, dom);
  assert.is(drv.domainInfo(dom)!.asid, 1);
  const cdA = get(STE_LAYOUT, m.memory.readWords(drv.steAddrFor(8)!, 8), 'S1ContextPtr');
  const cdB = get(STE_LAYOUT, m.memory.readWords(drv.steAddrFor(16)!, 8), 'S1ContextPtr');
  assert.ok(cdA !== cdB);
  assert.is(get(CD_LAYOUT, m.memory.readWords(cdA, 8), 'MAIR'), 0xf404_ff44n);
  assert.is(get(CD_LAYOUT, m.memory.readWords(cdB, 8), 'ASID'), 1n);
});

const SEED_2017 = [
  `${P}event 0x10 received:`, `${P}\t0x00000000fffff010`, `${P}\t0x0000020800000000`, `${P}\t0x00000008fa081002`, `${P}\t0x0000000000000000`,
  `${P}event 0x10 received:`, `${P}\t0x00000000fffff010`, `${P}\t0x0000020800000000`, `${P}\t0x00000008fa081000`, `${P}\t0x0000000000000000`,
];

test('seed 000: unmapped reads by the legacy virtio device -> F_TRANSLATION events and the 2017 log lines', () => {
  const { m, drv, device, smmu } = setup({ era: '2017' }, { unsetSsid: 0xfffff });
  const { master, dev } = device('0000:00:00.0', 0);
  drv.attachDev(dev, drv.domainAlloc('DMA'));
  // The ring driver did not use the DMA API: the device uses guest-physical addresses as IOVAs.
  const r1 = m.dmaRead(master, 0x8fa081002n, 2, 'avail.idx');
  const r2 = m.dmaRead(master, 0x8fa081000n, 2, 'avail.flags');
  assert.ok(!r1.ok && r1.fault.code === 0x10 && r1.fault.recorded);
  assert.ok(!r2.ok && r2.fault.code === 0x10);
  const q = smmu.eventQueue();
  assert.is(q.prod, 2);
  assert.equal(m.memory.readWords(q.base, 4), [0x0000_0000_ffff_f010n, 0x0000_0208_0000_0000n, 0x0000_0008_fa08_1002n, 0n]);
  const { events, lines } = drv.evtqThread();
  assert.is(events.length, 2);
  assert.equal(lines.map((l) => l.text), SEED_2017);
  assert.ok(lines.every((l) => l.level === 'info'));
  assert.is(m.memory.read32(SMMU + 0x100acn), 2); // CONS advanced by MMIO on page 1
  assert.is(drv.evtqThread().events.length, 0);
});

test("current era: raw dump plus the two decoded lines (REFERENCE 1.6), '(unassigned sid)' and the kernel's %#x (0 prints as 0x0: lib/vsprintf.c number(), not REFERENCE 1.6's glibc reading)", () => {
  const { m, drv, device } = setup({ era: 'current' });
  const { master, dev } = device('0000:00:01.0', 0);
  drv.attachDev(dev, drv.domainAlloc('DMA'));
  m.dmaRead(master, 0x8fa081002n, 2);
  let { lines } = drv.evtqThread();
  assert.equal(lines.map((l) => l.text), [
    `${P}event 0x10 received:`, `${P}\t0x0000000000000010`, `${P}\t0x0000020800000000`, `${P}\t0x00000008fa081002`, `${P}\t0x0000000000000000`,
    `${P}event: F_TRANSLATION client: 0000:00:01.0 sid: 0x0 ssid: 0x0 iova: 0x8fa081002 ipa: 0x0`,
    `${P}unpriv data read s1 "Input address caused fault" stag: 0x0`,
  ]);
  assert.ok(lines.every((l) => l.level === 'err'));
  // A StreamID outside the stream table: no master, C_BAD_STREAMID, the short form.
  const stray: DmaMaster = { name: 'stray', sid: 300, path: 'translated', iommu: device('x', 0).master.iommu };
  m.dmaWrite(stray, 0x1000n, new Uint8Array([1]));
  ({ lines } = drv.evtqThread());
  assert.equal(lines.map((l) => l.text), [
    `${P}event 0x02 received:`, `${P}\t0x0000012c00000002`, `${P}\t0x0000000000000000`, `${P}\t0x0000000000000000`, `${P}\t0x0000000000000000`,
    `${P}event: C_BAD_STREAMID client: (unassigned sid) sid: 0x12c ssid: 0x0`,
  ]);
});

test("Linux 6.1 (eventLog 'raw', v5.8-v6.13): only the dev_info raw dump, no decoded lines (they came with v6.14, d814b70b9b90)", () => {
  const { m, drv, device } = setup({ era: 'current', eventLog: 'raw' });
  const { master, dev } = device('0000:00:01.0', 0);
  drv.attachDev(dev, drv.domainAlloc('DMA'));
  m.dmaRead(master, 0x8fa081002n, 2);
  const { lines } = drv.evtqThread();
  assert.equal(lines.map((l) => l.text), [
    `${P}event 0x10 received:`, `${P}\t0x0000000000000010`, `${P}\t0x0000020800000000`, `${P}\t0x00000008fa081002`, `${P}\t0x0000000000000000`,
  ]);
  assert.ok(lines.every((l) => l.level === 'info'));
});

test('current era on the fast model (SubstreamID field 0xfffff, SSV = 0): ssid still prints as 0', () => {
  const { m, drv, device } = setup({ era: 'current' }, { unsetSsid: 0xfffff });
  const { master, dev } = device('0000:00:01.0', 0);
  drv.attachDev(dev, drv.domainAlloc('DMA'));
  m.dmaRead(master, 0x8fa081002n, 2);
  const { lines, events } = drv.evtqThread();
  assert.is(events[0]!.ssid, 0);
  assert.is(lines[1]!.text, `${P}\t0x00000000fffff010`);
  assert.is(lines[5]!.text, `${P}event: F_TRANSLATION client: 0000:00:01.0 sid: 0x0 ssid: 0x0 iova: 0x8fa081002 ipa: 0x0`);
});

test('current era: a write permission fault prints "write" and the privileged/instruction flags', () => {
  const { m, drv, device } = setup({ era: 'current' });
  const { master, dev } = device('0000:00:01.0', 9);
  const dom = drv.domainAlloc('DMA');
  drv.attachDev(dev, dom);
  drv.map(dom, 0x1000n, 0x4000_2000n, 0x1000n, IOMMU_READ | IOMMU_CACHE);
  const w = m.dmaWrite(master, 0x1008n, new Uint8Array([1]));
  assert.ok(!w.ok && w.fault.code === 0x13);
  const { lines } = drv.evtqThread();
  assert.is(lines[5]!.text, `${P}event: F_PERMISSION client: 0000:00:01.0 sid: 0x9 ssid: 0x0 iova: 0x1008 ipa: 0x0`);
  assert.is(lines[6]!.text, `${P}unpriv data write s1 "Input address caused fault" stag: 0x0`);
});

test('unmap without iotlbSync leaves a stale IOTLB entry; iotlbSync invalidates it', () => {
  const { m, drv, device, smmu } = setup({ era: '2017' });
  const { master, dev } = device('0000:00:01.0', 8);
  const dom = drv.domainAlloc('DMA');
  drv.attachDev(dev, dom);
  drv.map(dom, 0xffff_f000n, 0x4000_1000n, 0x1000n, IOMMU_READ | IOMMU_WRITE);
  assert.ok(m.dmaRead(master, 0xffff_f000n, 4).ok);
  assert.is(drv.unmap(dom, 0xffff_f000n, 0x1000n), 0x1000n);
  assert.ok(m.dmaRead(master, 0xffff_f000n, 4).ok); // still cached: the window a strict domain closes at once
  const before = smmu.stats().commands;
  drv.iotlbSync(dom, 0xffff_f000n, 0x1000n);
  assert.is(smmu.stats().commands - before, 2); // TLBI_NH_VA + CMD_SYNC
  const r = m.dmaRead(master, 0xffff_f000n, 4);
  assert.ok(!r.ok && r.fault.code === 0x10);
});

test('iotlbSync: per page in 2017; the whole ASID past 512 pages on current kernels', () => {
  for (const [era, expect] of [['2017', 513], ['current', 2]] as const) {
    const { drv, device, smmu } = setup({ era });
    const dom = drv.domainAlloc('DMA');
    drv.attachDev(device('d', 8).dev, dom);
    const before = smmu.stats().commands;
    drv.iotlbSync(dom, 0x20_0000n, 0x20_0000n);
    assert.is(smmu.stats().commands - before, expect);
  }
});

test('flushIotlbAll drops every entry of the domain', () => {
  const { m, drv, device, smmu } = setup();
  const { master, dev } = device('d', 8);
  const dom = drv.domainAlloc('DMA-FQ');
  drv.attachDev(dev, dom);
  drv.map(dom, 0x10_0000n, 0x4010_0000n, 0x4000n, IOMMU_READ | IOMMU_WRITE);
  for (let i = 0; i < 4; i++) m.dmaRead(master, 0x10_0000n + BigInt(i * 4096), 1);
  assert.is(smmu.iotlb().length, 4);
  drv.flushIotlbAll(dom);
  assert.is(smmu.iotlb().length, 0);
});

test('identity domain -> bypass STE; detach -> unassigned STE; blocked (current) -> abort STE, no event', () => {
  const { m, drv, device, smmu } = setup({ era: '2017' });
  const { master, dev } = device('d', 8);
  const id = drv.domainAlloc('identity');
  drv.attachDev(dev, id);
  assert.is(m.memory.read64(drv.steAddrFor(8)!), 0x9n);
  m.memory.write8(0x4000_5000n, 0x5a);
  const r = m.dmaRead(master, 0x4000_5000n, 1);
  assert.ok(r.ok && r.data[0] === 0x5a);
  assert.is(drv.iovaToPhys(id, 0x1234n), 0x1234n);
  drv.detachDev(dev);
  assert.is(m.memory.read64(drv.steAddrFor(8)!), 0x9n); // unassigned, disable_bypass = 0
  assert.throws(() => drv.domainAlloc('blocked')); // the 2017 driver had no blocking domain
  assert.throws(() => drv.domainAlloc('DMA-FQ'));
  const c = setup({ era: 'current' });
  const cd = c.device('d', 8);
  c.drv.attachDev(cd.dev, c.drv.domainAlloc('blocked'));
  assert.is(c.m.memory.read64(c.drv.steAddrFor(8)!), 0x1n);
  const b = c.m.dmaRead(cd.master, 0x4000_5000n, 1);
  assert.ok(!b.ok && !b.fault.recorded);
  assert.is(c.smmu.eventQueue().prod, 0);
  assert.is(smmu.eventQueue().prod, 0);
});

test('unattached devices: bypass with disable_bypass=0 (2017 default), silent abort with disable_bypass=1', () => {
  const a = setup({ era: '2017' });
  a.m.memory.write8(0x4000_6000n, 0x11);
  const ra = a.m.dmaRead(a.device('d', 40).master, 0x4000_6000n, 1);
  assert.ok(ra.ok && ra.data[0] === 0x11);
  const b = setup({ era: '2017', disableBypass: true });
  const rb = b.m.dmaRead(b.device('d', 40).master, 0x4000_6000n, 1);
  assert.ok(!rb.ok && !rb.fault.recorded);
});

test('getResvRegions: one SW_MSI region at 0x8000000, 1 MiB, WRITE|NOEXEC|MMIO', () => {
  const { drv, device } = setup();
  assert.equal(drv.getResvRegions(device('d', 1).dev), [{ start: 0x800_0000n, length: 0x10_0000n, prot: IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO, type: 'sw-msi' }]);
});

test('current era printk ratelimit: 10 dumps per 5 s, then "callbacks suppressed"', () => {
  let now = 1;
  const { m, drv, device } = setup({ era: 'current', now: () => now });
  const { master, dev } = device('d', 8);
  drv.attachDev(dev, drv.domainAlloc('DMA'));
  for (let i = 0; i < 12; i++) m.dmaRead(master, 0x9000_0000n + BigInt(i * 4096), 1);
  let r = drv.evtqThread();
  assert.is(r.events.length, 12);
  assert.is(r.lines.filter((l) => l.text.endsWith('received:')).length, 10);
  now = 7;
  m.dmaRead(master, 0x9000_0000n, 1);
  r = drv.evtqThread();
  assert.equal(r.lines[0], { level: 'warn', text: 'arm_smmu_dump_event: 2 callbacks suppressed' });
  assert.is(r.lines[1]!.text, `${P}event 0x10 received:`);
});

test('event queue overflow: the driver reports "EVTQ overflow detected -- events lost"', () => {
  const { m, drv, device } = setup({ era: '2017' });
  const { master, dev } = device('d', 8);
  drv.attachDev(dev, drv.domainAlloc('DMA'));
  for (let i = 0; i < 130; i++) m.dmaRead(master, 0x9000_0000n, 1); // 128-entry queue
  const r = drv.evtqThread();
  assert.is(r.events.length, 128);
  assert.equal(r.lines.filter((l) => l.level === 'err').map((l) => l.text), [`${P}EVTQ overflow detected -- events lost`]);
});

test('an illegal command: GERROR handler prints it, turns it into CMD_SYNC and processing resumes', () => {
  const { drv, log, smmu } = setup({ era: '2017' });
  log.length = 0;
  const d = drv as unknown as { issueCmd(op: number, f: object): void; issueSync(): void };
  d.issueCmd(0x7f, {});
  d.issueSync();
  const texts = log.map((l) => l.text);
  assert.equal(texts.slice(0, 5), [
    `${P}unexpected global error reported (0x00000001), this could be serious`,
    `${P}CMDQ error (cons 0x01000004): Illegal command`, // probe used entries 0-3
    `${P}skipping command in error state:`,
    `${P}\t0x000000000000007f`,
    `${P}\t0x0000000000000000`,
  ]);
  assert.is(texts.length, 5);
  const q = smmu.commandQueue();
  assert.is(q.cons, q.prod);
});

test('2-level stream table (SIDSIZE 16): level-2 tables appear on first use, unused buses are C_BAD_STREAMID', () => {
  const { m, drv, device, reg, smmu } = setup({ era: '2017' }, { sidBits: 16 });
  assert.is(reg(R.SMMU_STRTAB_BASE_CFG), (1 << 16) | (8 << 6) | 16);
  const { master, dev } = device('0000:01:00.0', 0x100);
  const dom = drv.domainAlloc('DMA');
  drv.attachDev(dev, dom);
  drv.map(dom, 0x1000n, 0x4000_7000n, 0x1000n, IOMMU_READ);
  m.memory.write8(0x4000_7000n, 0x77);
  const r = m.dmaRead(master, 0x1000n, 1);
  assert.ok(r.ok && r.data[0] === 0x77);
  assert.equal(m.trace.records().at(-1)!.steps.map((s) => s.level).slice(0, 2), ['L1STD', 'STE']);
  const other = m.dmaRead(device('0000:05:00.0', 0x500).master, 0x1000n, 1);
  assert.ok(!other.ok && other.fault.code === 0x02);
  const ev = m.memory.readWords(smmu.eventQueue().base, 4);
  assert.is(get(EVENT_LAYOUT, ev, 'Type'), 2n);
  assert.is(get(EVENT_LAYOUT, ev, 'StreamID'), 0x500n);
});

test('domainFree returns page-table pages and the ASID', () => {
  const { drv, device, pages } = setup({ era: 'current' });
  const before = pages.allocatedPages;
  const dom = drv.domainAlloc('DMA');
  drv.attachDev(device('d', 8).dev, dom);
  drv.map(dom, 0x1000n, 0x4000_1000n, 0x1000n, IOMMU_READ);
  drv.detachDev(device('d', 8).dev);
  drv.domainFree(dom);
  assert.is(pages.allocatedPages, before + 1); // the master's CD table stays with the master
  const dom2 = drv.domainAlloc('DMA');
  drv.attachDev(device('d', 8).dev, dom2);
  assert.is(drv.domainInfo(dom2)!.asid, 1);
});

test('driver state survives save/restore (structuredClone)', () => {
  const { m, drv, device } = setup();
  const { master, dev } = device('d', 8);
  const dom = drv.domainAlloc('DMA');
  const snap = drv.saveState();
  drv.attachDev(dev, dom);
  drv.restoreState(structuredClone(snap));
  assert.is(drv.domainInfo(dom)!.asid, undefined);
  m.dmaRead(master, 0x4000_0000n, 1);
});

test.run();
