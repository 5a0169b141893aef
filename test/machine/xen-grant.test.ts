// Xen grant-table ABI and hypercalls against REFERENCE.md §8.1-§8.3, §8.5
// (values written out by hand from the tables there, Xen public/grant_table.h).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encode, decode, field } from '../../src/machine/fields.ts';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import * as A from '../../src/machine/xen/abi.ts';
import { Xen, GUEST_GNTTAB_BASE } from '../../src/machine/xen/xen.ts';

test('grant_entry_v1 is 8 bytes, 512 per 4 KiB frame: flags u16 @0, domid u16 @2, frame u32 @4', () => {
  assert.is(A.GRANT_ENTRY_V1_SIZE, 8);
  assert.is(A.GREFS_PER_GRANT_FRAME, 512);
  const f = (n: string) => field(A.GrantEntryV1Layout, n);
  assert.equal([f('flags').lo, f('flags').hi], [0, 15]);
  assert.equal([f('domid').lo, f('domid').hi], [16, 31]);
  assert.equal([f('frame').lo, f('frame').hi], [32, 63]);
  // dom 0 may write GFN 0x40123: bytes 01 00 00 00 23 01 04 00 little-endian
  const [w] = encode(A.GrantEntryV1Layout, { flags: A.GTF_permit_access, domid: 0, frame: 0x40123 });
  assert.is(w, 0x0004_0123_0000_0001n);
  const d = decode(A.GrantEntryV1Layout, [0x0004_0123_0001_0015n]);
  assert.equal(d.map((x) => Number(x.value)), [0x15, 1, 0x40123]);
});

test('GTF flag values (REFERENCE §8.1)', () => {
  assert.equal([A.GTF_invalid, A.GTF_permit_access, A.GTF_accept_transfer, A.GTF_transitive, A.GTF_type_mask], [0, 1, 2, 3, 3]);
  assert.equal([A.GTF_readonly, A.GTF_reading, A.GTF_writing, A.GTF_PWT, A.GTF_PCD, A.GTF_PAT, A.GTF_sub_page], [4, 8, 16, 32, 64, 128, 256]);
  assert.equal([A.GTF_transfer_committed, A.GTF_transfer_completed], [4, 8]);
  assert.equal(A.gtfNames(0x1d), ['GTF_permit_access', 'GTF_readonly', 'GTF_reading', 'GTF_writing']);
});

test('GNTTABOP numbers, GNTMAP flags, GNTST codes, cache-flush bits, XENFEAT (REFERENCE §8.2, §8.3, §8.5)', () => {
  assert.equal([A.GNTTABOP_map_grant_ref, A.GNTTABOP_unmap_grant_ref, A.GNTTABOP_setup_table, A.GNTTABOP_dump_table, A.GNTTABOP_transfer, A.GNTTABOP_copy, A.GNTTABOP_query_size, A.GNTTABOP_unmap_and_replace, A.GNTTABOP_set_version, A.GNTTABOP_get_status_frames, A.GNTTABOP_get_version, A.GNTTABOP_swap_grant_ref, A.GNTTABOP_cache_flush], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal([A.GNTMAP_device_map, A.GNTMAP_host_map, A.GNTMAP_readonly, A.GNTMAP_application_map, A.GNTMAP_contains_pte], [1, 2, 4, 8, 16]);
  assert.equal([A.GNTST_okay, A.GNTST_general_error, A.GNTST_bad_domain, A.GNTST_bad_gntref, A.GNTST_bad_handle, A.GNTST_bad_virt_addr, A.GNTST_bad_dev_addr, A.GNTST_no_device_space, A.GNTST_permission_denied, A.GNTST_bad_page, A.GNTST_bad_copy_arg, A.GNTST_address_too_big, A.GNTST_eagain], [0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12]);
  assert.is(A.gntstName(-3), 'GNTST_bad_gntref');
  assert.equal([A.GNTTAB_CACHE_CLEAN, A.GNTTAB_CACHE_INVAL, A.GNTTAB_CACHE_SOURCE_GREF >>> 0], [1, 2, 0x8000_0000]);
  assert.equal([A.XENFEAT_auto_translated_physmap, A.XENFEAT_dom0, A.XENFEAT_grant_map_identity, A.XENFEAT_direct_mapped, A.XENFEAT_not_direct_mapped], [2, 11, 12, 16, 17]);
});

/** dom0 1:1 at 0x40000..0x40fff, domU GFN 0x40000.. on MFNs 0x50000..0x500ff top down; heap from 0x60000. */
function world() {
  const mem = new PhysicalMemory();
  mem.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x4000_0000n, kind: 'ram' });
  const xen = new Xen(mem, 0x60000, 0x60100);
  xen.createDomain({ domid: 0, name: 'Domain-0', extents: [{ gfn: 0x40000, count: 0x1000, mfn: 0x40000, order: 'up' }] });
  xen.createDomain({ domid: 1, name: 'domU', extents: [{ gfn: 0x40000, count: 0x100, mfn: 0x50000, order: 'down' }] });
  assert.is(xen.setupTable(1, A.DOMID_SELF, 1).status, A.GNTST_okay);
  return { mem, xen };
}
/** The domU writes entry `ref` through its own mapping of the grant frame (guest memory, not a side table). */
function grant(w: ReturnType<typeof world>, ref: number, gfn: number, flags = A.GTF_permit_access, to = 0) {
  const ma = w.xen.gpaToMa(1, GUEST_GNTTAB_BASE + BigInt(ref * 8))!;
  w.mem.write64(ma, encode(A.GrantEntryV1Layout, { flags, domid: to, frame: gfn })[0]!);
}

test('p2m: dom0 1:1, domU scattered; m2p names the owner and its GFN', () => {
  const { xen } = world();
  assert.is(xen.p2m(0, 0x40010).mfn, 0x40010);
  assert.is(xen.p2m(1, 0x40000).mfn, 0x500ff);
  assert.is(xen.p2m(1, 0x40001).mfn, 0x500fe);
  assert.equal(xen.m2p(0x500fe).owner, 1);
  assert.equal(xen.m2p(0x500fe).gfn, 0x40001);
  assert.is(xen.m2p(0x60000).kind, 'grant_table');
});

test('map sets GTF_reading|GTF_writing in the entry in memory, returns handle and dev_bus_addr; unmap clears them', () => {
  const w = world();
  grant(w, 8, 0x40001);
  const host = 0x4080_0000n;
  assert.ok(w.xen.decreaseReservation(0, 0x40800));
  const r = w.xen.mapGrantRef(0, { host_addr: host, flags: A.GNTMAP_host_map, ref: 8, dom: 1 });
  assert.is(r.status, A.GNTST_okay);
  assert.is(r.handle, 0);
  assert.is(r.dev_bus_addr, 0x500fe000n);
  assert.is(w.xen.readEntry(1, 8)!.flags, A.GTF_permit_access | A.GTF_reading | A.GTF_writing);
  assert.is(w.xen.p2m(0, 0x40800).mfn, 0x500fe);
  assert.is(w.xen.unmapGrantRef(0, { host_addr: host, dev_bus_addr: 0n, handle: r.handle }).status, A.GNTST_okay);
  assert.is(w.xen.readEntry(1, 8)!.flags, A.GTF_permit_access);
  assert.is(w.xen.p2m(0, 0x40800).kind, 'hole');
});

test('a read-only map sets only GTF_reading; two maps of one grant keep GTF_reading until the last unmap', () => {
  const w = world();
  grant(w, 3, 0x40002, A.GTF_permit_access | A.GTF_readonly);
  const a = w.xen.mapGrantRef(0, { host_addr: 0x4080_0000n, flags: A.GNTMAP_host_map | A.GNTMAP_readonly, ref: 3, dom: 1 });
  const b = w.xen.mapGrantRef(0, { host_addr: 0x4080_1000n, flags: A.GNTMAP_host_map | A.GNTMAP_readonly, ref: 3, dom: 1 });
  assert.equal([a.status, b.status, a.dev_bus_addr === b.dev_bus_addr], [0, 0, true]);
  assert.is(w.xen.readEntry(1, 3)!.flags, A.GTF_permit_access | A.GTF_readonly | A.GTF_reading);
  assert.equal(w.xen.m2p(0x500fd).mappings.map((m) => m.gfn), [0x40800, 0x40801]);
  w.xen.unmapGrantRef(0, { host_addr: 0x4080_0000n, dev_bus_addr: 0n, handle: a.handle });
  assert.is(w.xen.readEntry(1, 3)!.flags & A.GTF_reading, A.GTF_reading);
  w.xen.unmapGrantRef(0, { host_addr: 0x4080_1000n, dev_bus_addr: 0n, handle: b.handle });
  assert.is(w.xen.readEntry(1, 3)!.flags, A.GTF_permit_access | A.GTF_readonly);
});

test('bad calls return Xen status codes and change nothing', () => {
  const w = world();
  grant(w, 1, 0x40003, A.GTF_permit_access | A.GTF_readonly);
  grant(w, 2, 0x40004, A.GTF_permit_access, 5);
  const snap = () => { const st = w.xen.saveState() as { domains: unknown; freed: unknown; heapNext: unknown }; return JSON.stringify([st.domains, st.freed, st.heapNext], (_, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Map ? [...v] : v)); };
  const before = snap();
  const mem = w.mem.read(0x6000_0000n, 4096);
  const m = (flags: number, ref: number, dom = 1) => w.xen.mapGrantRef(0, { host_addr: 0x4080_0000n, flags, ref, dom }).status;
  assert.is(m(0, 1), A.GNTST_bad_gntref); // neither host_map nor device_map
  assert.is(m(A.GNTMAP_device_map, 1), A.GNTST_general_error); // Arm: paging_mode_external
  assert.is(m(A.GNTMAP_host_map, 1, 9), A.GNTST_bad_domain);
  assert.is(m(A.GNTMAP_host_map, 512), A.GNTST_bad_gntref); // one frame: refs 0..511
  assert.is(m(A.GNTMAP_host_map, 1), A.GNTST_general_error); // write-pin of a r/o grant
  assert.is(m(A.GNTMAP_host_map, 2), A.GNTST_general_error); // granted to d5, not d0
  assert.is(m(A.GNTMAP_host_map, 7), A.GNTST_general_error); // GTF_invalid
  assert.is(w.xen.unmapGrantRef(0, { host_addr: 0n, dev_bus_addr: 0n, handle: 3 }).status, A.GNTST_bad_handle);
  assert.is(w.xen.setupTable(1, 0, 1).status, A.GNTST_permission_denied); // XSM_TARGET: domU on dom0's table
  assert.is(w.xen.querySize(1, 0).status, A.GNTST_permission_denied);
  assert.is(w.xen.setupTable(1, A.DOMID_SELF, 65).status, A.GNTST_general_error); // > max 64 frames
  assert.is(w.xen.copy(1, { source: { u: 0x40000, domid: A.DOMID_SELF, offset: 4000 }, dest: { u: 0x40001, domid: A.DOMID_SELF, offset: 0 }, len: 200, flags: 0 }).status, A.GNTST_bad_copy_arg);
  assert.is(w.xen.copy(1, { source: { u: 0x40000, domid: 0, offset: 0 }, dest: { u: 0x40001, domid: A.DOMID_SELF, offset: 0 }, len: 8, flags: 0 }).status, A.GNTST_permission_denied);
  assert.is(snap(), before);
  assert.equal(w.mem.read(0x6000_0000n, 4096), mem);
});

test('query_size and copy through a grant reference', () => {
  const w = world();
  assert.equal(w.xen.querySize(0, 1), { status: 0, nr_frames: 1, max_nr_frames: 64 });
  grant(w, 4, 0x40005);
  w.mem.write(0x500fa000n + 16n, new TextEncoder().encode('hello'));
  const r = w.xen.copy(0, { source: { u: 4, domid: 1, offset: 16 }, dest: { u: 0x40100, domid: A.DOMID_SELF, offset: 0 }, len: 5, flags: A.GNTCOPY_source_gref });
  assert.is(r.status, 0);
  assert.is(new TextDecoder().decode(w.mem.read(0x40100000n, 5)), 'hello');
  assert.is(w.xen.readEntry(1, 4)!.flags, A.GTF_permit_access); // pinned only during the copy
});

test('cache_flush: argument checks return errnos; a foreign frame needs an active mapping', () => {
  const w = world();
  grant(w, 4, 0x40005);
  const ops: string[] = [];
  w.xen.onCacheOp = (k, pa, len) => ops.push(`${k} ${pa.toString(16)} ${len}`);
  assert.is(w.xen.cacheFlush(0, { a: 0x500fa000n, offset: 0, length: 64, op: A.GNTTAB_CACHE_CLEAN }), A.XEN_EINVAL); // not mapped by d0
  assert.is(w.xen.cacheFlush(0, { a: 0x500fa000n, offset: 4000, length: 200, op: A.GNTTAB_CACHE_CLEAN }), A.XEN_EINVAL);
  assert.is(w.xen.cacheFlush(0, { a: 0x500fa000n, offset: 0, length: 64, op: 4 }), A.XEN_EINVAL);
  assert.is(w.xen.cacheFlush(0, { a: 4n, offset: 0, length: 64, op: A.GNTTAB_CACHE_CLEAN | A.GNTTAB_CACHE_SOURCE_GREF }), A.XEN_EOPNOTSUPP);
  assert.is(w.xen.cacheFlush(0, { a: 0x7000_0000n, offset: 0, length: 64, op: A.GNTTAB_CACHE_CLEAN }), A.XEN_EPERM); // nobody's frame
  w.xen.decreaseReservation(0, 0x40800);
  w.xen.mapGrantRef(0, { host_addr: 0x4080_0000n, flags: A.GNTMAP_host_map, ref: 4, dom: 1 });
  assert.is(w.xen.cacheFlush(0, { a: 0x500fa000n, offset: 0x10, length: 64, op: A.GNTTAB_CACHE_INVAL }), 0);
  assert.equal(ops, ['invalidate 500fa010 64']);
  w.xen.hasCacheFlush = false; // a Xen older than 4.5: unknown cmd
  assert.is(w.xen.cacheFlush(0, { a: 0n, offset: 0, length: 0, op: 0 }), A.XEN_ENOSYS);
  assert.is(A.XEN_ENOSYS, -38);
});

test.run();
