// SMMU inspectors: field rows from the layouts and the plain-language reading of events.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import { SmmuV3 } from '../../src/machine/smmuv3/smmuv3.ts';
import { SMMU_REGION_SIZE } from '../../src/machine/smmuv3/regs.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import { ArmSmmuV3Driver } from '../../src/kernel/arm-smmu-v3.ts';
import { steInMemory, pendingEvents, decodeSte, decodeCd, decodeEvent, decodeCommand, commandName, decodeDescriptor, decodeRegister, explainEvent, summarizeEvent, EVENT_NAMES } from '../../src/inspect/smmu.ts';

const SEED1 = [0x0000_0000_ffff_f010n, 0x0000_0208_0000_0000n, 0x0000_0008_fa08_1002n, 0n];
const SEED2 = [0x0000_0000_ffff_f010n, 0x0000_0208_0000_0000n, 0x0000_0008_fa08_1000n, 0n];
const row = (rows: ReturnType<typeof decodeSte>, name: string) => rows.find((r) => r.name === name)!;

test('decodeSte: the bypass STE Linux writes (dword0 0x9, dword1 SHCFG=1)', () => {
  const rows = decodeSte([0x9n, 0x0000_1000_0000_0000n, 0n, 0n, 0n, 0n, 0n, 0n]);
  assert.is(row(rows, 'V').value, 1n);
  assert.is(row(rows, 'Config').value, 4n);
  assert.is(row(rows, 'Config').text, '4 (bypass)');
  assert.is(row(rows, 'Config').bits, 'dw0[3:1]');
  assert.is(row(rows, 'SHCFG').value, 1n);
  assert.is(row(rows, 'SHCFG').bits, 'dw1[45:44]');
  const s1 = decodeSte([0x4800_900bn, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
  assert.is(row(s1, 'Config').text, '5 (stage 1 translate, stage 2 bypass)');
  assert.is(row(s1, 'S1ContextPtr').text, '0x48009000');
});

test('decodeCd: T0SZ, IPS and ASID of a Linux CD', () => {
  const rows = decodeCd([0x0001_e205_c000_3510n, 0x4000_8000n, 0n, 0xf404ff44n, 0n, 0n, 0n, 0n]);
  assert.is(row(rows, 'T0SZ').value, 16n);
  assert.is(row(rows, 'IPS').text, '5 (48 bits)');
  assert.is(row(rows, 'ASID').value, 1n);
  assert.is(row(rows, 'TTB0').value, 0x4000_8000n);
  assert.is(row(rows, 'MAIR').value, 0xf404ff44n);
});

test('decodeEvent on seed 000 words: SID 0, RnW 1, CLASS 2, InputAddr 0x8fa081002 / 0x8fa081000', () => {
  for (const [w, a] of [[SEED1, 0x8fa081002n], [SEED2, 0x8fa081000n]] as const) {
    const rows = decodeEvent(w);
    assert.is(row(rows, 'Type').text, '0x10 (F_TRANSLATION)');
    assert.is(row(rows, 'StreamID').value, 0n);
    assert.is(row(rows, 'SSV').value, 0n);
    assert.is(row(rows, 'SubstreamID').value, 0xfffffn);
    assert.is(row(rows, 'RnW').value, 1n);
    assert.is(row(rows, 'RnW').bits, 'dw1[35]');
    assert.is(row(rows, 'CLASS').value, 2n);
    assert.is(row(rows, 'InputAddr').value, a);
    assert.ok(rows.some((r) => r.name === 'IPA') && !rows.some((r) => r.name === 'FetchAddr'));
  }
  // With the SubstreamID field written as 0 the reading is the same.
  const s = summarizeEvent([0x10n, SEED1[1]!, SEED1[2]!, 0n]);
  assert.equal([s.type, s.sid, s.ssv, s.read, s.class, s.inputAddr], [0x10, 0, false, true, 2, 0x8fa081002n]);
});

test('explainEvent says what happened in plain words', () => {
  const t = explainEvent(SEED1);
  assert.ok(t.includes('read IOVA 0x8fa081002 and stage 1 had no valid descriptor for it'), t);
  assert.ok(t.includes('SSV = 0'), t);
  assert.ok(explainEvent([0x0000_0002_0000_0004n, 0n, 0n, 0n]).includes('C_BAD_STE'));
  const perm = explainEvent([0x0000_0009_0000_0013n, 0n, 0x1008n, 0n]);
  assert.ok(perm.includes('wrote IOVA 0x1008') && perm.includes('F_PERMISSION'), perm);
});

test('event names: no F_BAD_STE; C_BAD_STE is 0x04', () => {
  assert.ok(!EVENT_NAMES.some((e) => e.name === 'F_BAD_STE'));
  assert.is(EVENT_NAMES.find((e) => e.name === 'C_BAD_STE')!.code, 4);
});

test('commands, descriptors and registers decode to rows', () => {
  const c = [0x0000_0008_0000_0003n, 1n];
  assert.is(commandName(c), 'CMD_CFGI_STE');
  assert.is(row(decodeCommand(c), 'StreamID').value, 8n);
  assert.is(commandName([0x7fn, 0n]), 'unknown opcode 0x7f');
  const d = decodeDescriptor(0x0000_0000_8000_0f47n, 3);
  assert.is(d.kind, 'page');
  assert.is(row(d.rows, 'AF').value, 1n);
  assert.is(decodeDescriptor(0x4000_1003n, 1).kind, 'table');
  assert.is(decodeDescriptor(0x4020_0f45n, 2).kind, 'block');
  assert.is(decodeDescriptor(0n, 2).kind, 'invalid');
  assert.is(decodeDescriptor(0x4020_0f45n, 3).kind, 'reserved');
  assert.is(row(decodeRegister('GBPA', 1n << 20n)!, 'ABORT').value, 1n);
});

test('steInMemory and pendingEvents read the structures from memory', () => {
  const m = new Machine({ name: 't', arch: 'aarch64', board: 'b', cpus: 1, description: '' });
  m.memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x100_0000n, kind: 'ram' });
  const smmu = new SmmuV3({ name: 'smmuv3.0', memory: m.memory, sidBits: 8, unsetSsid: 0xfffff });
  m.memory.addRegion({ name: 'smmu', base: 0x2b40_0000n, size: SMMU_REGION_SIZE, kind: 'mmio', handler: smmu });
  const drv = new ArmSmmuV3Driver({ memory: m.memory, pages: new PageAllocator([{ base: 0x4000_0000n, size: 0x100_0000n }]), base: 0x2b40_0000n, era: '2017' });
  drv.probe();
  const master = { name: 'vda', sid: 0, path: 'translated' as const, iommu: smmu };
  drv.attachDev({ name: '0000:00:00.0', master, dmaMask: 0xffff_ffffn, coherentDmaMask: 0xffff_ffffn, busDmaLimit: 0n, dmaOps: 'iommu', coherent: true }, drv.domainAlloc('DMA'));
  const ste = steInMemory(m.memory, smmu, 0);
  assert.is(ste.addr, drv.steAddrFor(0));
  assert.is(row(ste.rows!, 'Config').value, 5n);
  assert.ok(steInMemory(m.memory, smmu, 999).error!.startsWith('C_BAD_STREAMID'));
  m.dmaRead(master, 0x8fa081002n, 2);
  m.dmaRead(master, 0x8fa081000n, 2);
  const ev = pendingEvents(m.memory, smmu);
  assert.is(ev.length, 2);
  assert.equal(ev[0]!.words, SEED1);
  assert.equal(ev[1]!.words, SEED2);
  assert.is(ev[1]!.index, 1);
  drv.evtqThread();
  assert.is(pendingEvents(m.memory, smmu).length, 0);
});

test.run();
