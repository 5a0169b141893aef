/**
 * Linux's grant-table driver on both sides (drivers/xen/grant-table.c,
 * arch/arm/xen/p2m.c, drivers/xen/balloon.c), modelled on the Xen machine:
 *
 * - A frontend (domU) grants a page: it takes a free reference (the first
 *   GNTTAB_NR_RESERVED_ENTRIES = 8 are reserved for the toolstack), writes
 *   frame and domid, then flags = GTF_permit_access (| GTF_readonly) into
 *   its own grant frame — guest memory, through its p2m — and passes the
 *   reference to the backend. Ending access refuses while Xen still has
 *   GTF_reading/GTF_writing set (gnttab_end_foreign_access_ref).
 * - A backend (dom0) maps it: a ballooned-out dom0 page supplies host_addr
 *   (alloc_xenballooned_pages / XENMEM_decrease_reservation), the
 *   GNTTABOP_map_grant_ref result's dev_bus_addr is recorded in Linux's own
 *   p2m (set_foreign_p2m_mapping -> __set_phys_to_machine: an rbtree of
 *   PFN -> BFN for foreign pages only), and unmap undoes both.
 *
 * Linux's p2m on Arm: pfn_to_bfn(pfn) is the foreign BFN when the rbtree
 * has the PFN, else the PFN (dom0 is 1:1); bfn_to_pfn(bfn) is bfn itself —
 * include/xen/arm/page.h — which is why a bus address cannot be
 * turned back into "the" dom0 page of a foreign frame (seed 004).
 */
import { clone, type Stateful } from '../../machine/state.ts';
import type { Xen } from '../../machine/xen/xen.ts';
import { GUEST_GNTTAB_BASE } from '../../machine/xen/xen.ts';
import { encode } from '../../machine/fields.ts';
import {
  GrantEntryV1Layout, GREFS_PER_GRANT_FRAME, GTF_permit_access, GTF_readonly, GTF_reading, GTF_writing, GNTMAP_host_map, GNTMAP_readonly, GNTST_okay, gntstName, gntmapNames,
} from '../../machine/xen/abi.ts';

/** GNTTAB_NR_RESERVED_ENTRIES (include/xen/grant_table.h): refs 0..7 belong to the toolstack. */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;

/** Result of a Linux-side call that went to Xen: Xen's status and what the kernel logs. */
export type GntResult<T> = ({ ok: true } & T) | { ok: false; status: number; message: string };

interface FrontState {
  /** Grant references in use, by ref: the GFN granted. */
  inUse: Map<number, { gfn: number; readonly: boolean }>;
}

/** The frontend's grant-table driver in a domU. */
export class GnttabFront implements Stateful {
  private s: FrontState = { inUse: new Map() };

  constructor(
    readonly xen: Xen,
    readonly domid: number,
  ) {}

  /** Refs available with the table's current frames. */
  capacity(): number {
    return this.xen.nrGrantEntries(this.domid);
  }

  /** gnttab_grant_foreign_access(domid, gfn, readonly): the new ref, or -ENOSPC. */
  grantForeignAccess(to: number, gfn: number, readonly: boolean): GntResult<{ ref: number }> {
    let ref = GNTTAB_NR_RESERVED_ENTRIES;
    while (this.s.inUse.has(ref)) ref++;
    if (ref >= this.capacity()) return { ok: false, status: -28, message: `gnttab: no free grant reference (table of ${this.capacity()} entries; -ENOSPC)` };
    // frame and domid first, then flags (the guest's wmb() between them; grant_table.h "GUEST" rules).
    const gpa = GUEST_GNTTAB_BASE + BigInt(ref * 8);
    const ma = this.xen.gpaToMa(this.domid, gpa)!;
    const [w] = encode(GrantEntryV1Layout, { flags: 0, domid: to, frame: gfn });
    this.xen.memory.write64(ma, w!);
    this.xen.memory.write16(ma, GTF_permit_access | (readonly ? GTF_readonly : 0));
    this.s.inUse.set(ref, { gfn, readonly });
    return { ok: true, ref };
  }

  /** gnttab_end_foreign_access_ref: fails while the grantee still has it mapped. */
  endForeignAccess(ref: number): GntResult<object> {
    if (!this.s.inUse.has(ref)) return { ok: false, status: -22, message: `gnttab: grant reference ${ref} is not in use (-EINVAL)` };
    const e = this.xen.readEntry(this.domid, ref)!;
    if (e.flags & (GTF_reading | GTF_writing)) {
      return { ok: false, status: -16, message: `WARNING: g.e. ${ref.toString(16)} still in use! (flags GTF_reading/GTF_writing are set by Xen while the backend has it mapped)` };
    }
    const ma = this.xen.gpaToMa(this.domid, GUEST_GNTTAB_BASE + BigInt(ref * 8))!;
    this.xen.memory.write16(ma, 0);
    this.s.inUse.delete(ref);
    return { ok: true };
  }

  refs(): [number, { gfn: number; readonly: boolean }][] {
    return [...this.s.inUse];
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as FrontState);
  }
}

export interface BackMapping {
  handle: number;
  dom: number;
  ref: number;
  /** The dom0 PFN (a ballooned page) the foreign frame is mapped at. */
  pfn: number;
  bfn: number;
  readonly: boolean;
}

interface BackState {
  /** Linux's foreign p2m (arch/arm/xen/p2m.c rbtree): PFN -> BFN. */
  p2m: Map<number, number>;
  /** Ballooned-out pages ready for grant mapping (PFNs), lowest first. */
  balloon: number[];
  maps: BackMapping[];
}

/** dom0's side: ballooned pages, gnttab_map_refs / gnttab_unmap_refs, the foreign p2m. */
export class GnttabBack implements Stateful {
  private s: BackState = { p2m: new Map(), balloon: [], maps: [] };

  constructor(
    readonly xen: Xen,
    readonly domid: number,
  ) {}

  /** Balloon out `n` pages from PFN `first` (boot: xen_alloc_ballooned_pages' reserve). */
  balloonOut(first: number, n: number): void {
    for (let i = 0; i < n; i++) if (this.xen.decreaseReservation(this.domid, first + i)) this.s.balloon.push(first + i);
  }
  balloonFree(): number {
    return this.s.balloon.length;
  }

  /** pfn_to_bfn (arch/arm/include/asm/xen/page.h). */
  pfnToBfn(pfn: number): number {
    return this.s.p2m.get(pfn) ?? pfn;
  }
  /** bfn_to_pfn on Arm: the identity. For a foreign BFN that is not the dom0 page that maps it. */
  bfnToPfn(bfn: number): number {
    return bfn;
  }
  /** The PFNs whose p2m entry is this BFN (what Linux cannot search for on the unmap path: shown by the lab). */
  pfnsOfBfn(bfn: number): number[] {
    return [...this.s.p2m].filter(([, b]) => b === bfn).map(([p]) => p).sort((a, b) => a - b);
  }
  /** Whether PFN is dom0 RAM Linux has a struct page for (pfn_valid): its own 1:1 RAM. */
  pfnValid(pfn: number): boolean {
    return this.ramPfns.some(([a, n]) => pfn >= a && pfn < a + n);
  }
  /** dom0's RAM as [first PFN, count] ranges (memblock). */
  ramPfns: [number, number][] = [];

  /** gnttab_map_refs for one grant: GNTTABOP_map_grant_ref with GNTMAP_host_map, then set_foreign_p2m_mapping. */
  mapRef(dom: number, ref: number, readonly: boolean, flags = GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0)): GntResult<{ mapping: BackMapping }> {
    const pfn = this.s.balloon[0];
    if (pfn === undefined) return { ok: false, status: -12, message: 'xen:grant_table: no ballooned page left to map a grant into (-ENOMEM)' };
    const r = this.xen.mapGrantRef(this.domid, { host_addr: BigInt(pfn) << 12n, flags, ref, dom });
    if (r.status !== GNTST_okay) return { ok: false, status: r.status, message: `GNTTABOP_map_grant_ref {dom ${dom}, ref ${ref}, flags ${gntmapNames(flags)}}: ${gntstName(r.status)} (${r.status})` };
    this.s.balloon.shift();
    const bfn = Number(r.dev_bus_addr >> 12n);
    this.s.p2m.set(pfn, bfn);
    const m: BackMapping = { handle: r.handle, dom, ref, pfn, bfn, readonly };
    this.s.maps.push(m);
    return { ok: true, mapping: m };
  }

  /** gnttab_unmap_refs for one handle: GNTTABOP_unmap_grant_ref, clear the p2m entry, page back to the balloon. */
  unmapHandle(handle: number): GntResult<{ mapping: BackMapping }> {
    const i = this.s.maps.findIndex((m) => m.handle === handle);
    const m = this.s.maps[i];
    const r = this.xen.unmapGrantRef(this.domid, { host_addr: m ? BigInt(m.pfn) << 12n : 0n, dev_bus_addr: 0n, handle });
    if (r.status !== GNTST_okay || !m) return { ok: false, status: r.status, message: `GNTTABOP_unmap_grant_ref handle ${handle}: ${gntstName(r.status)} (${r.status})` };
    this.s.maps.splice(i, 1);
    this.s.p2m.delete(m.pfn);
    this.s.balloon.push(m.pfn);
    this.s.balloon.sort((a, b) => a - b);
    return { ok: true, mapping: m };
  }

  mappings(): readonly BackMapping[] {
    return this.s.maps;
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as BackState);
  }
}

export { GREFS_PER_GRANT_FRAME };
