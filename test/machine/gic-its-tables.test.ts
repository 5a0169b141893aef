// The GICv3 ITS with its tables in memory (machine/gic-its.ts) and the
// redistributors' LPI tables (machine/gicv3-redist.ts), driven by hand the
// way a driver would: registers by MMIO, commands written into the queue.
// Expected values come from the GICv3 spec's register and command formats
// and QEMU's table formats (hw/intc/gicv3_internal.h), not from the model.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import { addGicV3 } from '../../src/scenarios/gic.ts';
import { GITS_BASER, GITS_CBASER, GITS_CTLR, GITS_CWRITER, GITS_CREADR, GITS_TYPER } from '../../src/machine/gic-its.ts';
import type { DmaMaster } from '../../src/machine/dma.ts';

const ITS = 0x0808_0000n;
const GICR = 0x080a_0000n;
const DT = 0x4010_0000n; // flat device table (64 KiB x 8 pages)
const CT = 0x4020_0000n;
const CQ = 0x4021_0000n;
const PROP = 0x4030_0000n;
const PEND0 = 0x4031_0000n;
const ITT = 0x4040_0000n;

function machine() {
  const m = new Machine({ name: 't', arch: 'aarch64', board: 'test', cpus: 2, description: '' });
  m.memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x100_0000n, kind: 'ram' });
  const its = addGicV3(m, { gicdBase: 0x0800_0000n, itsBase: ITS, gicrBase: GICR });
  const mem = m.memory;
  let cw = 0n;
  const cmd = (w: bigint[]): void => {
    mem.writeWords(CQ + cw, w);
    cw += 32n;
    mem.write64(ITS + BigInt(GITS_CWRITER), cw);
  };
  return { m, its, mem, cmd };
}

/** What a driver does first: tables, queue, enable; CPU0's LPI tables. */
function setUp(indirect = false) {
  const t = machine();
  const { mem } = t;
  const b0 = mem.read64(ITS + BigInt(GITS_BASER));
  mem.write64(ITS + BigInt(GITS_BASER), b0 | (1n << 63n) | (indirect ? 1n << 62n : 0n) | DT | 7n);
  mem.write64(ITS + BigInt(GITS_BASER) + 8n, mem.read64(ITS + BigInt(GITS_BASER) + 8n) | (1n << 63n) | CT);
  mem.write64(ITS + BigInt(GITS_CBASER), (1n << 63n) | CQ | 15n);
  mem.write32(ITS + BigInt(GITS_CTLR), 1);
  mem.fill(PROP, 0x1_0000n, 0xa2);
  mem.write64(GICR + 0x70n, PROP | 15n);
  mem.write64(GICR + 0x78n, PEND0);
  mem.write32(GICR, 1); // EnableLPIs
  return t;
}

const MAPC = (icid: number, rd: number): bigint[] => [0x09n, 0n, (1n << 63n) | (BigInt(rd) << 16n) | BigInt(icid), 0n];
const MAPD = (dev: number, bits: number, itt: bigint): bigint[] => [0x08n | (BigInt(dev) << 32n), BigInt(bits - 1), (1n << 63n) | itt, 0n];
const MAPTI = (dev: number, ev: number, lpi: number, icid: number): bigint[] => [0x0an | (BigInt(dev) << 32n), BigInt(ev) | (BigInt(lpi) << 32n), BigInt(icid), 0n];
const INV = (dev: number, ev: number): bigint[] => [0x0cn | (BigInt(dev) << 32n), BigInt(ev), 0n, 0n];
const nic: DmaMaster = { name: 'nic', rid: 0x10, sid: 0x10, path: 'bypass' };
const le32 = (v: number): Uint8Array => Uint8Array.of(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24);

test("GITS_TYPER and the BASERs' read-only fields are QEMU's (gicv3_arm_its_realize, reset)", () => {
  const { mem } = machine();
  const typer = mem.read64(ITS + BigInt(GITS_TYPER));
  assert.is(typer & 1n, 1n, 'Physical');
  assert.is((typer >> 4n) & 0xfn, 11n, 'ITT_entry_size = 12 bytes - 1');
  assert.is((typer >> 8n) & 0x1fn, 15n, 'IDbits: 16 EventID bits');
  assert.is((typer >> 13n) & 0x1fn, 15n, 'Devbits: 16 DeviceID bits');
  assert.is((typer >> 36n) & 1n, 1n, 'CIL');
  const b0 = mem.read64(ITS + BigInt(GITS_BASER));
  const b1 = mem.read64(ITS + BigInt(GITS_BASER) + 8n);
  assert.is((b0 >> 56n) & 7n, 1n, 'BASER0 Type = device');
  assert.is((b1 >> 56n) & 7n, 4n, 'BASER1 Type = collection');
  assert.is((b0 >> 48n) & 0x1fn, 7n, '8-byte DTEs');
  assert.is((b0 >> 8n) & 3n, 2n, '64 KiB pages');
  // Type and Entry_Size cannot be written.
  mem.write64(ITS + BigInt(GITS_BASER), 0n);
  assert.is((mem.read64(ITS + BigInt(GITS_BASER)) >> 56n) & 7n, 1n);
});

test('a disabled ITS executes no command (CREADR stays)', () => {
  const t = machine();
  t.mem.write64(ITS + BigInt(GITS_CBASER), (1n << 63n) | CQ | 15n);
  t.cmd(MAPC(0, 0));
  assert.is(t.mem.read64(ITS + BigInt(GITS_CREADR)), 0n);
});

test("MAPD, MAPC, MAPTI write QEMU's DTE, CTE and 12-byte ITE formats into the tables", () => {
  const t = setUp();
  t.cmd(MAPC(1, 1));
  t.cmd(MAPD(0x10, 2, ITT));
  t.cmd(MAPTI(0x10, 3, 8195, 1));
  assert.is(t.mem.read64(ITS + BigInt(GITS_CREADR)), 96n);
  // DTE: Valid | Size << 1 | (ITT >> 8) << 6, at DT + DeviceID * 8
  assert.is(t.mem.read64(DT + 0x10n * 8n), 1n | (1n << 1n) | ((ITT >> 8n) << 6n));
  // CTE: Valid | RDbase (processor number) << 1
  assert.is(t.mem.read64(CT + 8n), 1n | (1n << 1n));
  // ITE 3 at ITT + 3 * 12: Valid, INTTYPE physical, INTID << 2, ICID << 32
  assert.is(t.mem.read64(ITT + 36n), 1n | 2n | (8195n << 2n) | (1n << 32n));
  assert.is(t.mem.read32(ITT + 44n), 0, 'ITE_H (doorbell) zero for a physical LPI');
  assert.is(t.its.errors.length, 0);
});

test('a doorbell write: DeviceID from the write, EventID as data -> the LPI a CPU takes; masked LPIs stay pending until INV', () => {
  const t = setUp();
  t.cmd(MAPC(0, 0));
  t.cmd(MAPD(0x10, 1, ITT));
  t.cmd(MAPTI(0x10, 0, 8192, 0));
  t.cmd(MAPTI(0x10, 1, 8193, 0));
  t.mem.write(PROP, Uint8Array.of(0xa3)); // LPI 8192 enabled; 8193 left disabled (0xa2)
  const r = t.m.dmaWrite(nic, ITS + 0x10040n, le32(0));
  assert.ok(r.ok);
  assert.is(t.its.redist!.taken(0, 8192), 1);
  const lpi = t.m.interrupts.records().find((x) => x.controller === 'lpi')!;
  assert.is(lpi.data, 8192n);
  t.m.dmaWrite(nic, ITS + 0x10040n, le32(1));
  assert.is(t.its.redist!.taken(0, 8193), 0);
  // pending bit 8193 % 8 = 1 of byte 8193 / 8 = 1024
  assert.is(t.mem.read(PEND0 + 1024n, 1)[0]! & 2, 2);
  t.mem.write(PROP + 1n, Uint8Array.of(0xa3));
  t.cmd(INV(0x10, 1));
  assert.is(t.its.redist!.taken(0, 8193), 1);
  assert.is(t.mem.read(PEND0 + 1024n, 1)[0]! & 2, 0, 'acknowledged: pending cleared');
});

test('unmapped EventID and unmapped DeviceID are dropped with the reason', () => {
  const t = setUp();
  t.cmd(MAPC(0, 0));
  t.cmd(MAPD(0x10, 1, ITT));
  t.m.dmaWrite(nic, ITS + 0x10040n, le32(0));
  assert.match(t.m.interrupts.records().at(-1)!.detail, /EventID 0 of DeviceID 0x10 is not mapped/);
  t.m.dmaWrite({ ...nic, rid: 0x18, sid: 0x18 }, ITS + 0x10040n, le32(0));
  assert.match(t.m.interrupts.records().at(-1)!.detail, /DeviceID 0x18 is not mapped/);
  assert.is(t.m.interrupts.records().filter((x) => x.controller === 'lpi').length, 0);
});

test('two-level device table: a DeviceID whose level-1 entry is not valid is dropped; with a level-2 page it maps', () => {
  const t = setUp(true);
  t.cmd(MAPC(0, 0));
  t.cmd(MAPD(0x10, 1, ITT));
  assert.match(t.its.errors[0]!, /level-1 device table entry 0 is not valid/);
  const L2 = 0x4050_0000n;
  t.mem.write64(DT, L2 | (1n << 63n));
  t.cmd(MAPD(0x10, 1, ITT));
  assert.is(t.mem.read64(L2 + 0x80n), 1n | ((ITT >> 8n) << 6n));
});

test('state: undo puts the tables back (ITS registers and the redistributor counts)', () => {
  const t = setUp();
  const snap = t.m.saveStates();
  t.cmd(MAPC(0, 0));
  t.m.restoreStates(snap);
  assert.is(t.mem.read64(ITS + BigInt(GITS_CREADR)), 0n);
});

test.run();
