// GICv3 ITS doorbell: a device's write to GITS_TRANSLATER, through the SMMU or untranslated,
// is an interrupt carrying (DeviceID, EventID), never a memory write (REFERENCE 6.4).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import { encode } from '../../src/machine/fields.ts';
import { SmmuV3 } from '../../src/machine/smmuv3/smmuv3.ts';
import * as R from '../../src/machine/smmuv3/regs.ts';
import { STE_LAYOUT } from '../../src/machine/smmuv3/ste.ts';
import { CD_LAYOUT } from '../../src/machine/smmuv3/cd.ts';
import { GicIts, GITS_TRANSLATER, GITS_REGION_SIZE, GITS_PIDR2, GITS_CWRITER, GITS_CREADR } from '../../src/machine/gic-its.ts';
import type { DmaMaster } from '../../src/machine/dma.ts';

const ITS_BASE = 0x0808_0000n; // QEMU virt
const SMMU_BASE = 0x0905_0000n;

function machine(): { m: Machine; smmu: SmmuV3; its: GicIts } {
  const m = new Machine({ name: 't', arch: 'aarch64', board: 'test', cpus: 1, description: '' });
  m.memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x100_0000n, kind: 'ram' });
  const its = new GicIts({ name: 'its0', base: ITS_BASE, interrupts: m.interrupts });
  m.memory.addRegion({ name: 'its', base: ITS_BASE, size: GITS_REGION_SIZE, kind: 'mmio', handler: its });
  m.register('its', its);
  const smmu = new SmmuV3({ name: 'smmuv3.0', memory: m.memory, sidBits: 8 });
  m.memory.addRegion({ name: 'smmu', base: SMMU_BASE, size: R.SMMU_REGION_SIZE, kind: 'mmio', handler: smmu });
  m.addIommu(smmu);
  return { m, smmu, its };
}

test('GITS_TRANSLATER is ITS base + 0x10040 and reads as 0; PIDR2 says GICv3', () => {
  const { m, its } = machine();
  assert.is(its.translaterAddr, 0x0809_0040n);
  assert.is(GITS_TRANSLATER, 0x10040);
  assert.is(m.memory.read32(0x0809_0040n), 0);
  assert.is(m.memory.read32(ITS_BASE + BigInt(GITS_PIDR2)) & 0xf0, 0x30);
  // A disabled ITS (GITS_CTLR.Enabled = 0) executes no command: CREADR stays put.
  m.memory.write64(ITS_BASE + BigInt(GITS_CWRITER), 0x40n);
  assert.is(m.memory.read64(ITS_BASE + BigInt(GITS_CREADR)), 0n);
});

test('an untranslated device write to the doorbell raises (DeviceID = RID, EventID = data)', () => {
  const { m } = machine();
  const dev: DmaMaster = { name: '0000:00:01.0', rid: 0x0008, sid: 8, path: 'bypass' };
  const r = m.dmaWrite(dev, 0x0809_0040n, new Uint8Array([5, 0, 0, 0]));
  assert.ok(r.ok);
  const irq = m.interrupts.records();
  assert.is(irq.length, 1);
  assert.is(irq[0]!.controller, 'its');
  assert.is(irq[0]!.source, '0x8');
  assert.is(irq[0]!.data, 5n);
  assert.is(irq[0]!.addr, 0x0809_0040n);
  assert.is(m.trace.records().at(-1)!.outcome.kind, 'interrupt');
});

test('through the SMMU: IOVA 0x08000040 (SW_MSI window) maps to the ITS page, the write is an interrupt', () => {
  const { m, smmu } = machine();
  const mem = m.memory;
  const [strtab, cd, l0, l1, l2, l3] = [0x4000_0000n, 0x4000_4000n, 0x4001_0000n, 0x4001_1000n, 0x4001_2000n, 0x4001_3000n];
  mem.writeWords(strtab + 64n * 8n, encode(STE_LAYOUT, { V: 1, Config: 5, S1ContextPtr: cd }));
  mem.writeWords(cd, encode(CD_LAYOUT, { T0SZ: 16, IR0: 1, OR0: 1, SH0: 3, EPD1: 1, V: 1, IPS: 5, AA64: 1, R: 1, A: 1, ASID: 1, TTB0: l0 }));
  // IOVA 0x08000000: L0 0, L1 0, L2 64, L3 0
  mem.write64(l0, l1 | 3n);
  mem.write64(l1, l2 | 3n);
  mem.write64(l2 + 64n * 8n, l3 | 3n);
  mem.write64(l3, 0x0060_0000_0809_0e4bn); // IOMMU_WRITE|NOEXEC|MMIO page (REFERENCE 2.3 encoding)
  const w32 = (off: number, v: number): void => mem.write32(SMMU_BASE + BigInt(off), v);
  mem.write64(SMMU_BASE + BigInt(R.SMMU_STRTAB_BASE), strtab);
  w32(R.SMMU_STRTAB_BASE_CFG, 8);
  w32(R.SMMU_CR0, R.CR0_SMMUEN);
  const dev: DmaMaster = { name: '0000:00:01.0', rid: 0x0008, sid: 8, path: 'translated', iommu: smmu };
  const r = m.dmaWrite(dev, 0x0800_0040n, new Uint8Array([0x21, 0, 0, 0]));
  assert.ok(r.ok);
  const irq = m.interrupts.records().at(-1)!;
  assert.is(irq.controller, 'its');
  assert.is(irq.source, '0x8');
  assert.is(irq.data, 0x21n);
  const tr = m.trace.records().at(-1)!;
  assert.is(tr.outcome.kind, 'interrupt');
  assert.equal(tr.steps.map((s) => s.level), ['STE', 'CD', 'L0', 'L1', 'L2', 'L3']);
});

test('a CPU store to GITS_TRANSLATER is recorded with source "cpu"', () => {
  const { m } = machine();
  m.memory.write32(0x0809_0040n, 7);
  assert.is(m.interrupts.records()[0]!.source, 'cpu');
  assert.is(m.interrupts.records()[0]!.data, 7n);
});

test.run();
