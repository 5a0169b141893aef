/**
 * The Xen hypervisor on Arm, as the lab needs it: domains with their p2m,
 * the m2p relation (which domain owns a machine frame, and at which GFN),
 * grant tables as frames of machine memory that the granting guest writes
 * and Xen updates, and HYPERVISOR_grant_table_op with its real operation
 * numbers, argument records and per-operation GNTST_* status codes.
 *
 * The decisions and their order follow xen/common/grant_table.c
 * (map_grant_ref, unmap_common + unmap_common_complete, gnttab_setup_table,
 * gnttab_query_size, gnttab_copy, cache_flush) and the Arm p2m
 * (xen/arch/arm/p2m.c; create_grant_host_mapping in xen/arch/arm/mm.c).
 * Arm domains are all "paging_mode_external" (asm/paging.h defines it as 1),
 * so GNTMAP_device_map from any Arm domain is refused with
 * GNTST_general_error; Arm backends use GNTMAP_host_map and read the frame's
 * machine address from dev_bus_addr, which Xen fills on every successful map.
 *
 * Simplifications, stated: on Arm a guest maps its grant frames with
 * XENMEM_add_to_physmap(XENMAPSPACE_grant_table); the model folds that into
 * setup_table (which maps the frames at GUEST_GNTTAB_BASE + i and returns
 * those GFNs). Active entries and maptrack live in Xen's own memory in a
 * real hypervisor; here they are plain state (a guest cannot see them
 * either). XSM is the default dummy policy: a domain may set up or query
 * its own table, dom0 any table (XSM_TARGET).
 *
 * Every hypercall is validate-then-mutate: a failing operation changes
 * nothing, as Xen's error paths undo what they did.
 */
import type { PhysicalMemory } from '../memory.ts';
import { clone, type Stateful } from '../state.ts';
import { hex } from '../u64.ts';
import {
  GRANT_ENTRY_V1_SIZE, GREFS_PER_GRANT_FRAME, GTF_permit_access, GTF_readonly, GTF_reading, GTF_type_mask, GTF_writing,
  GNTMAP_device_map, GNTMAP_host_map, GNTMAP_readonly, GNTMAP_contains_pte, GNTMAP_application_map, GNTCOPY_source_gref, GNTCOPY_dest_gref,
  GNTTAB_CACHE_CLEAN, GNTTAB_CACHE_INVAL, GNTTAB_CACHE_SOURCE_GREF,
  GNTST_okay, GNTST_general_error, GNTST_bad_domain, GNTST_bad_gntref, GNTST_bad_handle, GNTST_no_device_space, GNTST_permission_denied,
  GNTST_bad_copy_arg, GNTST_bad_page, XEN_EINVAL, XEN_ENOSYS, XEN_EOPNOTSUPP, XEN_EPERM, XEN_PAGE_SIZE, DOMID_SELF, gntstName,
} from './abi.ts';
import { INVALID_MFN, newP2m, p2mLookup, p2mOverrideGfns, p2mOwnGfn, type P2mExtent, type P2mOverride, type P2mState } from './p2m.ts';

/** GUEST_GNTTAB_BASE / _SIZE (xen/include/public/arch-arm.h): where guests map their grant frames. */
export const GUEST_GNTTAB_BASE = 0x3800_0000n;
export const GUEST_GNTTAB_SIZE = 0x0100_0000n;
/** GUEST_RAM0_BASE (public/arch-arm.h): a domU's RAM starts here. */
export const GUEST_RAM0_BASE = 0x4000_0000n;

/** Stated limit: maptrack handles per mapping domain (Xen sizes it from gnttab_max_maptrack_frames). */
export const MAPTRACK_LIMIT = 1024;
/** Default maximum grant frames per domain (Xen's gnttab_max_frames default, 64). */
export const DEFAULT_MAX_GRANT_FRAMES = 64;
/** Stated limit: Xen console lines kept. */
export const XEN_LOG_LIMIT = 256;

/** Pins of an active grant entry, split as Xen's GNTPIN_* counters are. */
export interface ActiveGrant {
  hstr: number;
  hstw: number;
  devr: number;
  devw: number;
  /** The domain that pinned it (act->domid): only that domain may add pins. */
  domid: number;
  mfn: number;
  gfn: number;
}

export interface MaptrackEntry {
  /** The granting domain and its grant reference. */
  dom: number;
  ref: number;
  flags: number;
  hostAddr: bigint;
}

export interface DomainState {
  domid: number;
  name: string;
  p2m: P2mState;
  /** MFNs of the shared grant-table frames, in table order. */
  grantFrames: number[];
  maxGrantFrames: number;
  /** Active entries by grant reference. */
  active: Map<number, ActiveGrant>;
  /** This domain's maptrack: handle -> mapping (null: free). */
  maptrack: (MaptrackEntry | null)[];
}

interface XenState {
  domains: DomainState[];
  /** Next free frame of the Xen heap (grant frames come from here). */
  heapNext: number;
  /** Frames given back by guests (decrease_reservation), owned by nobody. */
  freed: number[];
  log: string[];
  /** Console lines ever printed (the log keeps the last XEN_LOG_LIMIT). */
  logged: number;
  hypercalls: number;
}

/** A CPU cache Xen can clean and invalidate by machine address (the model's cache, when the machine has one). */
export interface XenCacheOps {
  clean(pa: bigint, len: number): void;
  invalidate(pa: bigint, len: number): void;
  /** Clean and invalidate (both op bits). */
  cleanInvalidate(pa: bigint, len: number): void;
}

export interface DomainConfig {
  domid: number;
  name: string;
  extents: P2mExtent[];
  maxGrantFrames?: number;
}

// ---- argument and result records (struct gnttab_*) --------------------------------

export interface GnttabMapGrantRef {
  host_addr: bigint;
  flags: number;
  ref: number;
  dom: number;
}
export interface GnttabMapResult {
  status: number;
  handle: number;
  dev_bus_addr: bigint;
}
export interface GnttabUnmapGrantRef {
  host_addr: bigint;
  dev_bus_addr: bigint;
  handle: number;
}
export interface GnttabSetupTableResult {
  status: number;
  frame_list: number[];
}
export interface GnttabQuerySizeResult {
  status: number;
  nr_frames: number;
  max_nr_frames: number;
}
export interface GnttabCopyPtr {
  /** ref (with GNTCOPY_*_gref) or gmfn. */
  u: number;
  domid: number;
  offset: number;
}
export interface GnttabCopy {
  source: GnttabCopyPtr;
  dest: GnttabCopyPtr;
  len: number;
  flags: number;
}
export interface GnttabCacheFlush {
  /** a.dev_bus_addr (or a.ref with GNTTAB_CACHE_SOURCE_GREF). */
  a: bigint;
  offset: number;
  length: number;
  op: number;
}

export class Xen implements Stateful {
  private s: XenState;
  /** The CPU cache Xen maintains by address for GNTTABOP_cache_flush; undefined on a machine without a cache model. */
  cache: XenCacheOps | undefined;
  /** Whether this Xen has GNTTABOP_cache_flush (Xen 4.5+); without it the op returns -ENOSYS, as an older Xen does for an unknown cmd. */
  hasCacheFlush = true;
  /**
   * XENFEAT_grant_map_identity (Xen 4.5-unstable, reverted): a grant mapped by a
   * direct-mapped domain (dom0) is also mapped at GFN == MFN in it.
   */
  grantMapIdentity = false;
  /** Called for every cache operation Xen performs (for the DMA trace). */
  onCacheOp?: (op: 'clean' | 'invalidate' | 'clean+invalidate', pa: bigint, len: number, caller: number) => void;

  constructor(
    readonly memory: PhysicalMemory,
    /** First frame of the Xen heap (grant frames), and its end. */
    heapBase: number,
    readonly heapEnd: number,
  ) {
    this.s = { domains: [], heapNext: heapBase, freed: [], log: [], logged: 0, hypercalls: 0 };
  }

  // ---- domains and memory ------------------------------------------------------

  createDomain(c: DomainConfig): DomainState {
    const d: DomainState = { domid: c.domid, name: c.name, p2m: newP2m(c.extents), grantFrames: [], maxGrantFrames: c.maxGrantFrames ?? DEFAULT_MAX_GRANT_FRAMES, active: new Map(), maptrack: [] };
    this.s.domains.push(d);
    return d;
  }

  domain(domid: number): DomainState | undefined {
    return this.s.domains.find((d) => d.domid === domid);
  }
  domains(): readonly DomainState[] {
    return this.s.domains;
  }
  get hypercallCount(): number {
    return this.s.hypercalls;
  }
  consoleLog(): readonly string[] {
    return this.s.log;
  }
  /** Console lines printed since the Xen was built. */
  get consoleLines(): number {
    return this.s.logged;
  }

  private say(domid: number, text: string): void {
    this.s.log.push(`(XEN) grant_table.c: d${domid}v0 ${text}`);
    this.s.logged++;
    if (this.s.log.length > XEN_LOG_LIMIT) this.s.log.shift();
  }

  /** p2m lookup for a domain (GFN -> MFN, kind). */
  p2m(domid: number, gfn: number): P2mOverride {
    const d = this.domain(domid);
    return d ? p2mLookup(d.p2m, gfn) : { mfn: INVALID_MFN, kind: 'hole' };
  }

  /**
   * The m2p relation for one machine frame: the owner and its GFN for the
   * frame (Xen's page_get_owner; x86's machine_to_phys_mapping), plus every
   * other GFN in any domain where it is mapped (grant mappings). Arm has no
   * global m2p table; the relation is what the lab shows.
   */
  m2p(mfn: number): { owner?: number; gfn?: number; kind: 'ram' | 'grant_table' | 'free' | 'none'; mappings: { domid: number; gfn: number; entry: P2mOverride }[] } {
    const mappings: { domid: number; gfn: number; entry: P2mOverride }[] = [];
    let owner: number | undefined;
    let gfn: number | undefined;
    let kind: 'ram' | 'grant_table' | 'free' | 'none' = 'none';
    for (const d of this.s.domains) {
      const own = p2mOwnGfn(d.p2m, mfn);
      if (own !== undefined) {
        owner = d.domid;
        gfn = own;
        kind = 'ram';
      }
      if (d.grantFrames.includes(mfn)) {
        owner = d.domid;
        kind = 'grant_table';
      }
      for (const o of p2mOverrideGfns(d.p2m, mfn)) {
        if (o.entry.kind === 'foreign') mappings.push({ domid: d.domid, gfn: o.gfn, entry: o.entry });
        else if (o.entry.kind === 'grant_table' && d.domid === owner) gfn = o.gfn;
      }
    }
    if (owner === undefined && this.s.freed.includes(mfn)) kind = 'free';
    return { owner, gfn, kind, mappings };
  }

  /** The owner of a machine frame (page_get_owner), or undefined. */
  ownerOf(mfn: number): number | undefined {
    return this.m2p(mfn).owner;
  }

  /** Translate a guest-physical address to a machine address, or undefined for a hole. */
  gpaToMa(domid: number, gpa: bigint): bigint | undefined {
    const e = this.p2m(domid, Number(gpa >> 12n));
    return e.mfn === INVALID_MFN ? undefined : (BigInt(e.mfn) << 12n) | (gpa & 0xfffn);
  }

  /** XENMEM_decrease_reservation of one frame: the GFN becomes a hole, the MFN goes back to Xen. */
  decreaseReservation(domid: number, gfn: number): boolean {
    const d = this.domain(domid);
    if (!d) return false;
    const e = p2mLookup(d.p2m, gfn);
    if (e.kind !== 'ram') return false;
    d.p2m.overrides.set(gfn, { mfn: INVALID_MFN, kind: 'hole' });
    this.s.freed.push(e.mfn);
    return true;
  }

  // ---- the grant table in memory -----------------------------------------------------

  /** Machine address of grant entry `ref` of a domain, or undefined past the table. */
  entryAddr(domid: number, ref: number): bigint | undefined {
    const d = this.domain(domid);
    if (!d || ref < 0 || ref >= d.grantFrames.length * GREFS_PER_GRANT_FRAME) return undefined;
    const frame = d.grantFrames[Math.floor(ref / GREFS_PER_GRANT_FRAME)]!;
    return (BigInt(frame) << 12n) + BigInt((ref % GREFS_PER_GRANT_FRAME) * GRANT_ENTRY_V1_SIZE);
  }

  /** nr_grant_entries(): entries in the domain's current table. */
  nrGrantEntries(domid: number): number {
    return (this.domain(domid)?.grantFrames.length ?? 0) * GREFS_PER_GRANT_FRAME;
  }

  /** Read an entry's flags, domid and frame from memory. */
  readEntry(domid: number, ref: number): { flags: number; domid: number; frame: number } | undefined {
    const a = this.entryAddr(domid, ref);
    if (a === undefined) return undefined;
    const w = this.memory.read64(a);
    return { flags: Number(w & 0xffffn), domid: Number((w >> 16n) & 0xffffn), frame: Number(w >> 32n) };
  }

  private setFlags(domid: number, ref: number, set: number, clear: number): void {
    const a = this.entryAddr(domid, ref)!;
    const f = this.memory.read16(a);
    this.memory.write16(a, (f | set) & ~clear & 0xffff);
  }

  // ---- HYPERVISOR_grant_table_op ------------------------------------------------------

  /** GNTTABOP_setup_table for domain `dom` (DOMID_SELF allowed), growing it to nr_frames. */
  setupTable(caller: number, dom: number, nrFrames: number): GnttabSetupTableResult {
    this.s.hypercalls++;
    const id = dom === DOMID_SELF ? caller : dom;
    const d = this.domain(id);
    if (!d) return { status: GNTST_bad_domain, frame_list: [] };
    if (caller !== id && caller !== 0) return { status: GNTST_permission_denied, frame_list: [] };
    if (nrFrames > d.maxGrantFrames) {
      this.say(caller, `d${id} is limited to ${d.maxGrantFrames} grant-table frames`);
      return { status: GNTST_general_error, frame_list: [] };
    }
    const grow = Math.max(0, nrFrames - d.grantFrames.length);
    if (this.s.heapNext + grow > this.heapEnd) return { status: GNTST_general_error, frame_list: [] };
    for (let i = 0; i < grow; i++) {
      const mfn = this.s.heapNext++;
      this.memory.fill(BigInt(mfn) << 12n, 4096n, 0); // clear_page
      const idx = d.grantFrames.length;
      d.grantFrames.push(mfn);
      d.p2m.overrides.set(Number(GUEST_GNTTAB_BASE >> 12n) + idx, { mfn, kind: 'grant_table' });
    }
    const base = Number(GUEST_GNTTAB_BASE >> 12n);
    return { status: GNTST_okay, frame_list: d.grantFrames.slice(0, nrFrames).map((_, i) => base + i) };
  }

  /** GNTTABOP_query_size. */
  querySize(caller: number, dom: number): GnttabQuerySizeResult {
    this.s.hypercalls++;
    const id = dom === DOMID_SELF ? caller : dom;
    const d = this.domain(id);
    if (!d) return { status: GNTST_bad_domain, nr_frames: 0, max_nr_frames: 0 };
    if (caller !== id && caller !== 0) return { status: GNTST_permission_denied, nr_frames: 0, max_nr_frames: 0 };
    return { status: GNTST_okay, nr_frames: d.grantFrames.length, max_nr_frames: d.maxGrantFrames };
  }

  /** GNTTABOP_map_grant_ref, one operation, in map_grant_ref's order of checks. */
  mapGrantRef(caller: number, op: GnttabMapGrantRef): GnttabMapResult {
    this.s.hypercalls++;
    const fail = (status: number, why?: string): GnttabMapResult => {
      if (why) this.say(caller, why);
      return { status, handle: 0, dev_bus_addr: 0n };
    };
    const ld = this.domain(caller)!;
    if ((op.flags & (GNTMAP_device_map | GNTMAP_host_map)) === 0) return fail(GNTST_bad_gntref, `Bad flags in grant map op: ${op.flags.toString(16)}`);
    // Arm: paging_mode_external(ld) is 1 for every domain.
    if (op.flags & (GNTMAP_device_map | GNTMAP_application_map | GNTMAP_contains_pte)) return fail(GNTST_general_error, 'No device mapping in HVM domain');
    const rd = this.domain(op.dom);
    if (!rd) return fail(GNTST_bad_domain, `Could not find domain ${op.dom}`);
    const handle = ld.maptrack.findIndex((m) => m === null);
    const h = handle >= 0 ? handle : ld.maptrack.length;
    if (h >= MAPTRACK_LIMIT) return fail(GNTST_no_device_space, 'Failed to obtain maptrack handle');
    if (op.ref < 0 || op.ref >= this.nrGrantEntries(rd.domid)) return fail(GNTST_bad_gntref, `Bad ref ${hex(op.ref)} for d${rd.domid}`);
    const readonly = (op.flags & GNTMAP_readonly) !== 0;
    const act = rd.active.get(op.ref);
    if (act && act.domid !== caller) return fail(GNTST_general_error, `Bad domain (${act.domid} != ${caller})`);
    const e = this.readEntry(rd.domid, op.ref)!;
    let mfn: number;
    let gfn: number;
    if (!act) {
      if ((e.flags & GTF_type_mask) !== GTF_permit_access || e.domid !== caller) return fail(GNTST_general_error, `Bad flags (${e.flags.toString(16)}) or dom (${e.domid}); expected d${caller}`);
      if (!readonly && e.flags & GTF_readonly) return fail(GNTST_general_error, 'Attempt to write-pin a r/o grant entry');
      // get_paged_frame: the granted GFN must be RAM of the granting domain.
      const pe = p2mLookup(rd.p2m, e.frame);
      if (pe.kind !== 'ram') return fail(GNTST_bad_page, `Could not get page for gfn ${hex(e.frame)} of d${rd.domid}`);
      mfn = pe.mfn;
      gfn = e.frame;
    } else {
      if (!readonly && act.hstw + act.devw === 0 && e.flags & GTF_readonly) return fail(GNTST_general_error, 'Attempt to write-pin a r/o grant entry');
      mfn = act.mfn;
      gfn = act.gfn;
    }
    // create_grant_host_mapping (Arm): the GFN at host_addr now maps the foreign frame.
    const hostGfn = Number(op.host_addr >> 12n);
    // --- mutate ---
    const a = act ?? { hstr: 0, hstw: 0, devr: 0, devw: 0, domid: caller, mfn, gfn };
    if (readonly) a.hstr++;
    else a.hstw++;
    rd.active.set(op.ref, a);
    this.setFlags(rd.domid, op.ref, GTF_reading | (readonly ? 0 : GTF_writing), 0);
    ld.p2m.overrides.set(hostGfn, { mfn, kind: 'foreign', owner: rd.domid, ref: op.ref });
    if (this.grantMapIdentity && caller === 0) ld.p2m.overrides.set(mfn, { mfn, kind: 'foreign', owner: rd.domid, ref: op.ref });
    ld.maptrack[h] = { dom: rd.domid, ref: op.ref, flags: op.flags, hostAddr: op.host_addr };
    return { status: GNTST_okay, handle: h, dev_bus_addr: BigInt(mfn) << 12n };
  }

  /** GNTTABOP_unmap_grant_ref, one operation (unmap_common + unmap_common_complete). */
  unmapGrantRef(caller: number, op: GnttabUnmapGrantRef): { status: number } {
    this.s.hypercalls++;
    const ld = this.domain(caller)!;
    const m = op.handle >= 0 && op.handle < ld.maptrack.length ? ld.maptrack[op.handle] : undefined;
    if (op.handle < 0 || op.handle >= MAPTRACK_LIMIT || !m) {
      this.say(caller, `Bad d${caller} handle ${hex(op.handle)}`);
      return { status: GNTST_bad_handle };
    }
    const rd = this.domain(m.dom)!;
    const act = rd.active.get(m.ref)!;
    if (op.dev_bus_addr !== 0n && op.dev_bus_addr !== BigInt(act.mfn) << 12n) {
      this.say(caller, `Bus address doesn't match gntref (${op.dev_bus_addr.toString(16)} != ${(BigInt(act.mfn) << 12n).toString(16)})`);
      return { status: GNTST_general_error };
    }
    const hostGfn = Number(op.host_addr >> 12n);
    if (op.host_addr !== 0n && m.flags & GNTMAP_host_map) {
      // replace_grant_host_mapping (Arm): the p2m entry must map this frame.
      const cur = p2mLookup(ld.p2m, hostGfn);
      if (cur.kind !== 'foreign' || cur.mfn !== act.mfn) {
        this.say(caller, `host_addr ${hex(op.host_addr)} does not map the granted frame`);
        return { status: GNTST_general_error };
      }
    }
    // --- mutate ---
    const ro = (m.flags & GNTMAP_readonly) !== 0;
    if (op.host_addr !== 0n && m.flags & GNTMAP_host_map) {
      ld.p2m.overrides.set(hostGfn, { mfn: INVALID_MFN, kind: 'hole' });
      if (ro) act.hstr--;
      else act.hstw--;
      m.flags &= ~GNTMAP_host_map;
    }
    if (!(m.flags & (GNTMAP_device_map | GNTMAP_host_map))) ld.maptrack[op.handle] = null;
    if (this.grantMapIdentity && caller === 0 && !ld.maptrack.some((x) => x && x.flags & GNTMAP_host_map && this.domain(x.dom)?.active.get(x.ref)?.mfn === act.mfn)) {
      // The identity mapping goes with the last mapping of the frame (GFN == MFN is dom0's own RAM range only when it coincides; the model's MFNs never do).
      const id = ld.p2m.overrides.get(act.mfn);
      if (id?.kind === 'foreign') ld.p2m.overrides.delete(act.mfn);
    }
    let clear = 0;
    if (act.hstw + act.devw === 0 && !ro) clear |= GTF_writing;
    const pin = act.hstr + act.hstw + act.devr + act.devw;
    if (pin === 0) {
      clear |= GTF_reading;
      rd.active.delete(m.ref);
    }
    if (clear) this.setFlags(rd.domid, m.ref, 0, clear);
    return { status: GNTST_okay };
  }

  /** Resolve one side of a copy to a machine frame; checks without changing anything. */
  private copyFrame(caller: number, p: GnttabCopyPtr, gref: boolean, write: boolean): { status: number; mfn?: number } {
    const id = p.domid === DOMID_SELF ? caller : p.domid;
    const d = this.domain(id);
    if (!d) return { status: GNTST_bad_domain };
    if (!gref) {
      // Copy by frame number only for the caller's own frames (or dom0, privileged).
      if (id !== caller && caller !== 0) return { status: GNTST_permission_denied };
      const e = p2mLookup(d.p2m, p.u);
      return e.kind === 'ram' || e.kind === 'foreign' ? { status: GNTST_okay, mfn: e.mfn } : { status: GNTST_bad_page };
    }
    if (p.u < 0 || p.u >= this.nrGrantEntries(id)) return { status: GNTST_bad_gntref };
    const e = this.readEntry(id, p.u)!;
    if ((e.flags & GTF_type_mask) !== GTF_permit_access || e.domid !== caller) return { status: GNTST_general_error };
    if (write && e.flags & GTF_readonly) return { status: GNTST_general_error };
    const pe = p2mLookup(d.p2m, e.frame);
    return pe.kind === 'ram' ? { status: GNTST_okay, mfn: pe.mfn } : { status: GNTST_bad_page };
  }

  /** GNTTABOP_copy, one operation. The grant is pinned only for the copy: the entry's flags end as they began. */
  copy(caller: number, op: GnttabCopy): { status: number } {
    this.s.hypercalls++;
    if (op.source.offset + op.len > XEN_PAGE_SIZE || op.dest.offset + op.len > XEN_PAGE_SIZE || op.len < 0) {
      this.say(caller, 'copy beyond page area');
      return { status: GNTST_bad_copy_arg };
    }
    const src = this.copyFrame(caller, op.source, (op.flags & GNTCOPY_source_gref) !== 0, false);
    if (src.status !== GNTST_okay) return { status: src.status };
    const dst = this.copyFrame(caller, op.dest, (op.flags & GNTCOPY_dest_gref) !== 0, true);
    if (dst.status !== GNTST_okay) return { status: dst.status };
    const data = this.memory.read((BigInt(src.mfn!) << 12n) + BigInt(op.source.offset), op.len);
    this.memory.write((BigInt(dst.mfn!) << 12n) + BigInt(op.dest.offset), data);
    return { status: GNTST_okay };
  }

  /**
   * GNTTABOP_cache_flush, one operation. Returns the hypercall's value (0 or
   * a negative errno; this op has no GNTST status). The caller must own the
   * frame or hold an active mapping of it (grant_map_exists).
   */
  cacheFlush(caller: number, op: GnttabCacheFlush): number {
    this.s.hypercalls++;
    if (!this.hasCacheFlush) return XEN_ENOSYS;
    if (op.op & ~(GNTTAB_CACHE_INVAL | GNTTAB_CACHE_CLEAN | GNTTAB_CACHE_SOURCE_GREF)) return XEN_EINVAL;
    if (op.offset >= XEN_PAGE_SIZE || op.length > XEN_PAGE_SIZE || op.offset + op.length > XEN_PAGE_SIZE) return XEN_EINVAL;
    if (op.length === 0 || op.op === 0) return 0;
    if (op.op & GNTTAB_CACHE_SOURCE_GREF) return XEN_EOPNOTSUPP;
    const mfn = Number(op.a >> 12n);
    const owner = this.ownerOf(mfn);
    if (owner === undefined) return XEN_EPERM;
    if (owner !== caller) {
      const rd = this.domain(owner)!;
      const ok = [...rd.active.values()].some((a) => a.domid === caller && a.mfn === mfn);
      if (!ok) return XEN_EINVAL;
    }
    const pa = (BigInt(mfn) << 12n) + BigInt(op.offset);
    const both = (op.op & GNTTAB_CACHE_INVAL) !== 0 && (op.op & GNTTAB_CACHE_CLEAN) !== 0;
    const kind = both ? 'clean+invalidate' : op.op & GNTTAB_CACHE_INVAL ? 'invalidate' : 'clean';
    if (this.cache) {
      if (both) this.cache.cleanInvalidate(pa, op.length);
      else if (op.op & GNTTAB_CACHE_INVAL) this.cache.invalidate(pa, op.length);
      else this.cache.clean(pa, op.length);
    }
    this.onCacheOp?.(kind, pa, op.length, caller);
    return 0;
  }

  /** Readable status for logs. */
  static status(st: number): string {
    return gntstName(st);
  }

  // ---- state ----------------------------------------------------------------------

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as XenState);
  }
}

export type { P2mExtent };
