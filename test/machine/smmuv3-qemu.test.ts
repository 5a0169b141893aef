// QEMU 7.2's SMMUv3 (issue 11 item 2): ID registers as hw/arm/smmuv3.c smmuv3_init_regs sets them,
// event records as smmuv3_translate/smmuv3_record_event fill them, and QEMU's memory core splitting a
// faulting access into 4-byte pieces (softmmu/physmem.c memory_access_size on io_mem_unassigned).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import { Machine } from '../../src/machine/machine.ts';
import { encode, get } from '../../src/machine/fields.ts';
import { SmmuV3 } from '../../src/machine/smmuv3/smmuv3.ts';
import * as R from '../../src/machine/smmuv3/regs.ts';
import { STE_LAYOUT } from '../../src/machine/smmuv3/ste.ts';
import { CD_LAYOUT } from '../../src/machine/smmuv3/cd.ts';
import { EVENT_LAYOUT } from '../../src/machine/smmuv3/event.ts';
import { qemu72SmmuOptions, qemuUnassignedPieces } from '../../src/machine/smmuv3/qemu.ts';
import type { DmaMaster } from '../../src/machine/dma.ts';
import type { u64 } from '../../src/machine/u64.ts';

const BASE = 0x0905_0000n;
const STRTAB = 0x4000_0000n;
const CD = 0x4000_1000n;
const EVTQ = 0x4000_2000n;
const L0 = 0x4001_0000n;

function rig(qemu: boolean): { m: Machine; smmu: SmmuV3; events: () => u64[][]; dev: DmaMaster } {
  const m = new Machine({ name: 't', arch: 'aarch64', board: 't', cpus: 1, description: '' });
  const mem: PhysicalMemory = m.memory;
  mem.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x100_0000n, kind: 'ram' });
  const smmu = new SmmuV3({ ...(qemu ? qemu72SmmuOptions() : {}), name: 'smmuv3', memory: mem });
  mem.addRegion({ name: 'smmu', base: BASE, size: R.SMMU_REGION_SIZE, kind: 'mmio', handler: smmu });
  m.addIommu(smmu);
  m.qemuFaultSplit = qemu;
  mem.write64(BASE + BigInt(R.SMMU_STRTAB_BASE), STRTAB);
  mem.write32(BASE + BigInt(R.SMMU_STRTAB_BASE_CFG), 4);
  mem.write64(BASE + BigInt(R.SMMU_EVENTQ_BASE), EVTQ | 4n);
  // An empty stage-1 table (every address faults), CD.R = 1 so translation faults are recorded.
  mem.writeWords(CD, encode(CD_LAYOUT, { T0SZ: 16, IR0: 1, OR0: 1, SH0: 3, EPD1: 1, V: 1, IPS: 4, AA64: 1, R: 1, A: 1, ASET: 1, ASID: 1, TTB0: L0, MAIR: 0xf404ff44n }));
  mem.writeWords(STRTAB + 64n * 8n, encode(STE_LAYOUT, { V: 1, Config: 5, S1ContextPtr: CD }));
  mem.write32(BASE + BigInt(R.SMMU_CR0), R.CR0_SMMUEN | R.CR0_EVENTQEN);
  const dev: DmaMaster = { name: 'vda', rid: 8, sid: 8, path: 'translated', iommu: smmu };
  const events = (): u64[][] => {
    const prod = smmu.reg32(R.SMMU_EVENTQ_PROD) & 0xf;
    return Array.from({ length: prod }, (_, i) => mem.readWords(EVTQ + BigInt(32 * i), 4));
  };
  return { m, smmu, events, dev };
}

test('QEMU 7.2 ID registers: stage 1 only, 2^19 queues, 16-bit SIDs, 44-bit OAS, RIL', () => {
  const { smmu } = rig(true);
  const idr0 = BigInt(smmu.reg32(R.SMMU_IDR0));
  const g0 = (n: string): number => Number(get(R.IDR0_LAYOUT, [idr0], n));
  // smmuv3_init_regs: S1P, TTF=2, COHACC, ASID16, TTENDIAN=2, STALL_MODEL=1, TERM_MODEL=1, STLEVEL=1.
  assert.is(g0('S2P'), 0);
  assert.is(g0('S1P'), 1);
  assert.is(g0('TTF'), 2);
  assert.is(g0('COHACC'), 1);
  assert.is(g0('ASID16'), 1);
  assert.is(g0('VMID16'), 0);
  assert.is(g0('MSI'), 0);
  assert.is(g0('TTENDIAN'), 2);
  assert.is(g0('STALL_MODEL'), 1);
  assert.is(g0('TERM_MODEL'), 1);
  assert.is(g0('ST_LVL'), 1);
  // 0x0d40101a: the value the field list above adds up to.
  assert.is(smmu.reg32(R.SMMU_IDR0), 0x0d40_101a);
  const idr1 = BigInt(smmu.reg32(R.SMMU_IDR1));
  assert.is(Number(get(R.IDR1_LAYOUT, [idr1], 'SIDSIZE')), 16);
  assert.is(Number(get(R.IDR1_LAYOUT, [idr1], 'EVENTQS')), 19);
  assert.is(Number(get(R.IDR1_LAYOUT, [idr1], 'CMDQS')), 19);
  assert.is(Number(get(R.IDR1_LAYOUT, [idr1], 'SSIDSIZE')), 0);
  assert.is(smmu.reg32(R.SMMU_IDR3), (1 << 10) | (1 << 2)); // RIL, HAD
  const idr5 = BigInt(smmu.reg32(R.SMMU_IDR5));
  assert.is(Number(get(R.IDR5_LAYOUT, [idr5], 'OAS')), 4); // 44 bits
  assert.is(Number(get(R.IDR5_LAYOUT, [idr5], 'GRAN4K')), 1);
  assert.is(Number(get(R.IDR5_LAYOUT, [idr5], 'GRAN64K')), 1);
  assert.is(smmu.reg32(R.SMMU_AIDR), 1);
});

test('the fast model keeps its own registers (stage 2, VMID16, 48-bit OAS, no RIL)', () => {
  const { smmu } = rig(false);
  const idr0 = BigInt(smmu.reg32(R.SMMU_IDR0));
  assert.is(Number(get(R.IDR0_LAYOUT, [idr0], 'S2P')), 1);
  assert.is(Number(get(R.IDR0_LAYOUT, [idr0], 'VMID16')), 1);
  assert.is(smmu.reg32(R.SMMU_IDR3), 0);
  assert.is(Number(get(R.IDR5_LAYOUT, [BigInt(smmu.reg32(R.SMMU_IDR5))], 'OAS')), 5);
});

test('QEMU writes only address and RnW for a translation fault: CLASS 0, and an 8-byte read is two events', () => {
  const { m, events, dev } = rig(true);
  const r = m.dmaRead(dev, 0x8fa0_8100n, 8, 'desc');
  assert.is(r.ok, false);
  const ev = events();
  assert.is(ev.length, 2, 'one event per 4-byte half');
  const f = (e: u64[], n: string): u64 => get(EVENT_LAYOUT, e, n);
  assert.is(f(ev[0]!, 'Type'), 0x10n);
  assert.is(f(ev[0]!, 'StreamID'), 8n);
  assert.is(f(ev[0]!, 'InputAddr'), 0x8fa0_8100n);
  assert.is(f(ev[1]!, 'InputAddr'), 0x8fa0_8104n);
  for (const e of ev) {
    assert.is(f(e, 'RnW'), 1n);
    assert.is(f(e, 'CLASS'), 0n, 'QEMU 7.2 leaves CLASS 0 (CD) for F_TRANSLATION');
    assert.is(f(e, 'SSV'), 0n);
    assert.is(f(e, 'SubstreamID'), 0n);
  }
  // Dword 1 holds StreamID-free bits only: RnW (bit 35).
  assert.is(ev[0]![1], 1n << 35n);
  // Both pieces are traced as accesses of their own.
  assert.equal(m.trace.records().slice(-2).map((t) => [t.addr, t.len]), [[0x8fa0_8100n, 4], [0x8fa0_8104n, 4]]);
});

test('the architected record (fast model) carries CLASS = IN and one event per access', () => {
  const { m, events, dev } = rig(false);
  m.dmaRead(dev, 0x8fa0_8100n, 8, 'desc');
  const ev = events();
  assert.is(ev.length, 1);
  assert.is(get(EVENT_LAYOUT, ev[0]!, 'CLASS'), 2n);
});

test('a full event queue: QEMU raises GERROR.EVENTQ_ABT_ERR, the architected SMMU sets EVENTQ_PROD.OVFLG', () => {
  for (const qemu of [true, false]) {
    const { m, smmu, dev } = rig(qemu);
    // 16 slots (EVENTQ_BASE.LOG2SIZE 4); one slot always stays free: 15 events fill it.
    for (let i = 0; i < 20; i++) m.dmaRead(dev, 0x8fa0_8100n + BigInt(0x1000 * i), 4, 'x');
    const gerror = smmu.reg32(R.SMMU_GERROR) ^ smmu.reg32(R.SMMU_GERRORN);
    const ovf = (smmu.reg32(R.SMMU_EVENTQ_PROD) & R.Q_OVERFLOW_FLAG) !== 0;
    if (qemu) {
      assert.is(gerror & R.GERROR_EVENTQ_ABT_ERR, R.GERROR_EVENTQ_ABT_ERR);
      assert.not.ok(ovf);
    } else {
      assert.is(gerror & R.GERROR_EVENTQ_ABT_ERR, 0);
      assert.ok(ovf);
    }
  }
});

test("QEMU's F_CD_FETCH carries the CD address in dword 2 (EVT_SET_ADDR), the architecture's in dword 3", () => {
  for (const qemu of [true, false]) {
    const { m, events, dev } = rig(qemu);
    const hole = 0x9000_0000n; // no RAM: the CD fetch aborts
    m.memory.writeWords(STRTAB + 64n * 8n, encode(STE_LAYOUT, { V: 1, Config: 5, S1ContextPtr: hole }));
    m.dmaRead(dev, 0x1000n, 4, 'x');
    const ev = events()[0]!;
    assert.is(get(EVENT_LAYOUT, ev, 'Type'), 0x09n);
    assert.equal([ev[2], ev[3]], qemu ? [hole, 0n] : [0n, hole]);
  }
});

test('QEMU refuses a CD with HA/HD (C_BAD_CD); the architected SMMU ignores them without HTTU', () => {
  for (const qemu of [true, false]) {
    const { m, events, dev } = rig(qemu);
    const cd = m.memory.readWords(CD, 8);
    cd[0] = cd[0]! | (1n << 42n) | (1n << 43n);
    m.memory.writeWords(CD, cd);
    m.dmaRead(dev, 0x1000n, 4, 'x');
    assert.is(get(EVENT_LAYOUT, events()[0]!, 'Type'), qemu ? 0x0an : 0x10n);
  }
});

test('QEMU memory_access_size pieces: at most 4 bytes, at most the alignment', () => {
  assert.equal(qemuUnassignedPieces(0x1000n, 16).map((p) => p.len), [4, 4, 4, 4]);
  assert.equal(qemuUnassignedPieces(0x1002n, 2), [{ addr: 0x1002n, len: 2 }]);
  assert.equal(qemuUnassignedPieces(0x1001n, 8).map((p) => p.len), [1, 2, 4, 1]);
});

test.run();
