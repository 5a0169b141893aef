// The ACPI DMAR table model: bytes as Linux's struct acpi_table_dmar / acpi_dmar_* read them and QEMU's
// build_dmar_q35 writes them (offsets written out by hand), round trips, scope matching, and the coverage report.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  encodeDmar, decodeDmar, qemuQ35Dmar, drhdFor, rmrrsFor, coverage, endpointScope, DmarParseError,
  DMAR_INTR_REMAP, ACPI_DMAR_INCLUDE_ALL, type DmarTable,
} from '../../src/machine/dmar.ts';

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const u64 = (b: Uint8Array, at: number): bigint => BigInt(u32(b, at)) | (BigInt(u32(b, at + 4)) << 32n);
const bdf = (bus: number, dev: number, fn: number) => ({ segment: 0, bus, dev, fn });

test('QEMU q35 (older, INCLUDE_PCI_ALL, intremap=on): 72 bytes, header, DRHD at 0xfed90000, the IOAPIC scope', () => {
  const b = encodeDmar(qemuQ35Dmar());
  assert.is(b.length, 72); // 48 header + 16 DRHD + 8 IOAPIC scope
  assert.is(String.fromCharCode(...b.subarray(0, 4)), 'DMAR');
  assert.is(u32(b, 4), 72);
  assert.is(b[8], 1); // revision
  assert.is(b.reduce((a, x) => (a + x) & 0xff, 0), 0); // checksum
  assert.is(String.fromCharCode(...b.subarray(10, 16)), 'BOCHS ');
  assert.is(b[36], 38); // HAW - 1
  assert.is(b[37], DMAR_INTR_REMAP);
  // DRHD: type 0, length 24, flags INCLUDE_PCI_ALL, segment 0, base.
  assert.equal([u16(b, 48), u16(b, 50), b[52], u16(b, 54)], [0, 24, 1, 0]);
  assert.is(u64(b, 56), 0xfed9_0000n);
  // IOAPIC scope: type 3, length 8, enumeration id 0, bus 0xff, path 00.0 (Q35_PSEUDO_BUS_PLATFORM / DEVFN_IOAPIC).
  assert.equal([...b.subarray(64, 72)], [3, 8, 0, 0, 0, 0xff, 0, 0]);
  // With device-iotlb=on an ATSR (ALL_PORTS) follows: 80 bytes, the "000050" a QEMU guest's ACPI line shows.
  const a = encodeDmar(qemuQ35Dmar({ deviceIotlb: true }));
  assert.is(a.length, 0x50);
  assert.equal([...a.subarray(72, 80)], [2, 0, 8, 0, 1, 0, 0, 0]);
  // intremap=off: flags 0.
  assert.is(encodeDmar(qemuQ35Dmar({ intremap: false }))[37], 0);
});

test('QEMU q35 (newer, explicit scopes): flags 0 and one endpoint scope per device; omit leaves one out', () => {
  const t = qemuQ35Dmar({ style: 'explicit', devices: [bdf(0, 1, 0), bdf(0, 2, 0), bdf(0, 0x1f, 2)], omit: [bdf(0, 2, 0)] });
  const b = encodeDmar(t);
  assert.is(b[52], 0); // DRHD flags
  assert.is(u16(b, 50), 16 + 8 + 8 + 8);
  assert.equal([...b.subarray(72, 80)], [1, 8, 0, 0, 0, 0, 1, 0]); // endpoint 00:01.0
  assert.equal([...b.subarray(80, 88)], [1, 8, 0, 0, 0, 0, 0x1f, 2]); // endpoint 00:1f.2
  assert.is(drhdFor(t, bdf(0, 1, 0))?.base, 0xfed9_0000n);
  assert.is(drhdFor(t, bdf(0, 2, 0)), undefined);
});

test('RMRR bytes: type 1, base and inclusive limit, scopes; round trip through decodeDmar', () => {
  const t: DmarTable = {
    haw: 46, flags: 0x5, revision: 1, oemId: 'INTEL ', oemTableId: 'EDK2    ', oemRevision: 2, creatorId: 'INTL', creatorRevision: 0x20091013,
    structures: [
      { kind: 'drhd', flags: 0, segment: 0, base: 0xfed9_1000n, scopes: [endpointScope(bdf(0, 2, 0))] },
      { kind: 'drhd', flags: ACPI_DMAR_INCLUDE_ALL, segment: 0, base: 0xfed9_0000n, scopes: [] },
      { kind: 'rmrr', segment: 0, base: 0x7a80_0000n, limit: 0x7cff_ffffn, scopes: [endpointScope(bdf(0, 2, 0))] },
      { kind: 'rmrr', segment: 0, base: 0x7b1e_2000n, limit: 0x7b20_1fffn, scopes: [endpointScope(bdf(0, 0x14, 0))] },
    ],
  };
  const b = encodeDmar(t);
  const rmrrAt = 48 + 24 + 16;
  assert.equal([u16(b, rmrrAt), u16(b, rmrrAt + 2), u16(b, rmrrAt + 6)], [1, 32, 0]);
  assert.is(u64(b, rmrrAt + 8), 0x7a80_0000n);
  assert.is(u64(b, rmrrAt + 16), 0x7cff_ffffn);
  const back = decodeDmar(b);
  assert.ok(back.checksumOk);
  const { checksumOk, ...rest } = back;
  void checksumOk;
  assert.equal(rest, t);
  // The graphics device is claimed by the first (scoped) unit; everything else falls to INCLUDE_PCI_ALL.
  assert.is(drhdFor(t, bdf(0, 2, 0))!.base, 0xfed9_1000n);
  assert.is(drhdFor(t, bdf(0, 3, 0))!.base, 0xfed9_0000n);
  assert.equal(rmrrsFor(t, bdf(0, 0x14, 0)).map((r) => r.base), [0x7b1e_2000n]);
});

test('malformed tables: wrong signature, a structure passing the end; a bad checksum is reported, not refused', () => {
  const b = encodeDmar(qemuQ35Dmar());
  const bad = b.slice();
  bad[0] = 0x58;
  assert.throws(() => decodeDmar(bad), (e: unknown) => e instanceof DmarParseError && /signature/.test(e.message));
  const cut = b.slice();
  cut[50] = 200; // DRHD length beyond the table
  assert.throws(() => decodeDmar(cut), /passes the table end/);
  const sum = b.slice();
  sum[9] = (sum[9]! + 1) & 0xff;
  assert.is(decodeDmar(sum).checksumOk, false);
});

test('coverage: firmware\'s claim against each device\'s real DMA path', () => {
  const t = qemuQ35Dmar();
  const rows = coverage(t, [
    { name: 'nic', bdf: bdf(0, 2, 0), path: 'translated', unitBase: 0xfed9_0000n },
    { name: 'vda', bdf: bdf(0, 4, 0), path: 'bypass' },
  ]);
  assert.equal(rows.map((r) => r.agree), [true, false]);
  assert.match(rows[1]!.note, /bypasses translation/);
  const e = qemuQ35Dmar({ style: 'explicit', devices: [bdf(0, 4, 0)], omit: [bdf(0, 4, 0)] });
  assert.equal(coverage(e, [{ name: 'vda', bdf: bdf(0, 4, 0), path: 'bypass' }]).map((r) => r.agree), [true]);
  assert.equal(coverage(e, [{ name: 'vda', bdf: bdf(0, 4, 0), path: 'translated' }]).map((r) => r.agree), [false]);
});

test.run();
