/**
 * The Xen block split driver: blkfront in the domU grants its data pages
 * and sends a request; blkback in dom0 maps the grants, maps them for DMA
 * through dom0's DMA ops and has the real disk controller move the sectors,
 * then unmaps everything and answers. Request layout and codes from Xen
 * public/io/blkif.h (struct blkif_request, BLKIF_OP_*, BLKIF_RSP_*).
 *
 * Limit, stated: the request travels as a record from front to back; the
 * shared ring page and the event channel are not modelled (the grants, the
 * p2m, the DMA and the caches are what this lesson is about).
 */
import { clone, type Stateful } from '../../machine/state.ts';
import { hex } from '../../machine/u64.ts';
import type { DmaDisk } from '../../machine/dma-disk.ts';
import { SECTOR_SIZE } from '../../machine/virtio/disk.ts';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, DMA_MAPPING_ERROR } from '../types.ts';
import type { GnttabBack, GnttabFront } from './gnttab.ts';
import type { SwiotlbXen, XenDmaDevice, XenDmaOps } from './swiotlb-xen.ts';

export const BLKIF_OP_READ = 0;
export const BLKIF_OP_WRITE = 1;
export const BLKIF_RSP_OKAY = 0;
export const BLKIF_RSP_ERROR = -1;
/** BLKIF_MAX_SEGMENTS_PER_REQUEST. */
export const BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;

export interface BlkifRequestSegment {
  gref: number;
  first_sect: number;
  last_sect: number;
}
export interface BlkifRequest {
  operation: number;
  nr_segments: number;
  handle: number;
  id: bigint;
  sector_number: bigint;
  seg: BlkifRequestSegment[];
}

export interface BlkIoResult {
  status: number;
  /** What happened, step by step, in the lab's words. */
  steps: string[];
  gfn: number;
  gref: number;
}

interface FrontState {
  /** Next free data page of the domU (GFN), and the request id. */
  nextGfn: number;
  nextId: number;
}

export class Blkfront implements Stateful {
  private s: FrontState;

  constructor(
    readonly front: GnttabFront,
    /** First GFN blkfront uses for data pages (a page per request; the model never frees them). */
    firstGfn: number,
    readonly lastGfn: number,
  ) {
    this.s = { nextGfn: firstGfn, nextId: 0 };
  }

  /** A fresh domU page for one request (its data lands here). */
  allocPage(): number | undefined {
    if (this.s.nextGfn > this.lastGfn) return undefined;
    return this.s.nextGfn++;
  }

  /** Build a one-segment request for `nsect` sectors at `sector` in page `gfn`, granted to dom0. */
  request(op: number, sector: bigint, nsect: number, gfn: number): { req: BlkifRequest; gref: number } | { error: string } {
    const g = this.front.grantForeignAccess(0, gfn, op === BLKIF_OP_WRITE);
    if (!g.ok) return { error: g.message };
    const req: BlkifRequest = { operation: op, nr_segments: 1, handle: 0, id: BigInt(this.s.nextId++), sector_number: sector, seg: [{ gref: g.ref, first_sect: 0, last_sect: nsect - 1 }] };
    return { req, gref: g.ref };
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as FrontState);
  }
}

export class Blkback {
  constructor(
    readonly back: GnttabBack,
    readonly dma: SwiotlbXen,
    readonly disk: DmaDisk,
    readonly dev: XenDmaDevice,
    /** The domU it serves. */
    readonly frontDom: number,
  ) {}

  /** dispatch_rw_block_io for one request: map grants, DMA, unmap. */
  handle(req: BlkifRequest, ops: XenDmaOps): { status: number; steps: string[] } {
    const steps: string[] = [];
    const seg = req.seg[0]!;
    const nsect = seg.last_sect - seg.first_sect + 1;
    const write = req.operation === BLKIF_OP_WRITE;
    const m = this.back.mapRef(this.frontDom, seg.gref, write);
    if (!m.ok) return { status: BLKIF_RSP_ERROR, steps: [m.message] };
    const { pfn, bfn, handle } = m.mapping;
    steps.push(`blkback: GNTTABOP_map_grant_ref d${this.frontDom} gref ${seg.gref} -> handle ${handle}, dom0 pfn ${hex(pfn)} now maps mfn ${hex(bfn)}`);
    const pa = (BigInt(pfn) << 12n) + BigInt(seg.first_sect * SECTOR_SIZE);
    const size = nsect * SECTOR_SIZE;
    const dir = write ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
    const mp = this.dma.mapPage(this.dev, pa, size, dir, ops);
    steps.push(mp.why);
    let status = BLKIF_RSP_OKAY;
    if (mp.dma === DMA_MAPPING_ERROR) status = BLKIF_RSP_ERROR;
    else {
      const r = write ? this.disk.writeSectors(req.sector_number, nsect, mp.dma) : this.disk.readSectors(req.sector_number, nsect, mp.dma);
      steps.push(`${this.disk.name}: ${r.ok ? r.detail : 'DMA failed: ' + r.detail}`);
      if (!r.ok) status = BLKIF_RSP_ERROR;
      steps.push(this.dma.unmapPage(this.dev, mp.dma, size, dir, ops));
    }
    const u = this.back.unmapHandle(handle);
    steps.push(u.ok ? `blkback: GNTTABOP_unmap_grant_ref handle ${handle}: GNTST_okay` : u.message);
    return { status, steps };
  }
}
