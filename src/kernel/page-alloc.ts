/**
 * The kernel's physical page allocator, deterministic: the same sequence of
 * calls always returns the same pages, so a dump of memory after boot is the
 * same byte for byte on every run. Early boot allocations come from the top
 * of a range, as memblock's default top-down policy puts them
 * (memblockAllocTopDown). Zones follow Linux's names: ZONE_DMA32 is RAM
 * below 4 GiB, ZONE_NORMAL the rest.
 *
 * Where alloc() takes pages from (the policy, chosen by the kernel era):
 *
 *   'lowest'         lowest address first, the ranges in the order given
 *                    (unit tests that build a small allocator by hand).
 *   'zone-ascending' the highest zone first (a GFP_KERNEL zonelist starts at
 *                    ZONE_NORMAL), lowest address first inside it: since
 *                    commit 7fef431be9c9 "mm/page_alloc: place pages to tail
 *                    in __free_pages_core()" (v5.10-rc1; its author: memory
 *                    "gets allocated and used in the reverse order") the pages memblock hands
 *                    to the buddy allocator at boot are queued at the tail
 *                    of the free lists in ascending order, so the first
 *                    allocations take the lowest blocks.
 *   'zone-blocks-from-top'  the highest zone first; before v5.10 those pages
 *                    were queued at the head, so the highest MAX_ORDER
 *                    block (4 MiB with 4 KiB pages) came first and
 *                    allocations went down the zone a block at a time,
 *                    upward inside each block (expand() hands out a
 *                    block's lowest part and frees the upper halves).
 *
 * Not modelled: what a real boot allocates before the first allocation the
 * lab makes (struct page arrays, slab caches, page tables, per-cpu areas),
 * which moves a real kernel's addresses away from the zone's edge by an
 * amount the lab cannot derive; the smaller buddy orders; migratetypes.
 * Freed pages go back on a free list and are reused first (LIFO), as the
 * buddy allocator's per-cpu lists would.
 */
import { type u64, hex } from '../machine/u64.ts';
import { clone, type Stateful } from '../machine/state.ts';

export interface RamRange {
  base: u64;
  size: u64;
}

export type PagePolicy = 'lowest' | 'zone-ascending' | 'zone-blocks-from-top';

/** MAX_ORDER - 1 = 10: the buddy allocator's largest block, in 4 KiB pages. */
export const MAX_ORDER_PAGES = 1024;
const ZONE_NORMAL_START_PFN = 0x10_0000; // 4 GiB

interface AllocState {
  /** Next never-allocated pfn per range (the ascending policies). */
  next: number[];
  /**
   * zone-blocks-from-top: per range, the start pfn of the current 4 MiB
   * block and the next free pfn in it; -1 before the range's first allocation.
   */
  blk?: number[];
  cur?: number[];
  /** End (exclusive pfn) of what the page allocator may hand out per range: memblockAllocTopDown takes from above it. */
  top: number[];
  /** Freed blocks: [pfn, pages]. */
  free: [number, number][];
  allocated: number;
}

export class PageAllocator implements Stateful {
  private s: AllocState;
  /** Range indices in the order alloc() tries them. */
  private readonly order: number[];

  constructor(
    private readonly ranges: RamRange[],
    readonly policy: PagePolicy = 'lowest',
  ) {
    this.s = { next: ranges.map((r) => Number(r.base >> 12n)), top: ranges.map((r) => Number((r.base + r.size) >> 12n)), free: [], allocated: 0 };
    if (policy === 'zone-blocks-from-top') {
      this.s.blk = ranges.map(() => -1);
      this.s.cur = ranges.map(() => -1);
    }
    const idx = ranges.map((_, i) => i).sort((a, b) => (ranges[a]!.base < ranges[b]!.base ? -1 : 1));
    if (policy === 'lowest') this.order = ranges.map((_, i) => i);
    else {
      const normal = idx.filter((i) => Number(ranges[i]!.base >> 12n) >= ZONE_NORMAL_START_PFN);
      const low = idx.filter((i) => Number(ranges[i]!.base >> 12n) < ZONE_NORMAL_START_PFN);
      // Highest zone first; inside a zone the ranges in the policy's direction.
      this.order = policy === 'zone-ascending' ? [...normal, ...low] : [...normal.reverse(), ...low.reverse()];
    }
  }

  /**
   * Allocate `pages` contiguous pages (naturally aligned to the next power
   * of two, like the buddy allocator), below `limit` when given (e.g.
   * 0xffffffff for GFP_DMA32). Throws when RAM is exhausted: the kernel
   * model treats that as an out-of-memory bug, not user input.
   */
  alloc(pages = 1, limit?: u64): u64 {
    const order = Math.ceil(Math.log2(pages));
    const align = 2 ** order;
    const fi = this.s.free.findIndex(([pfn, n]) => n === pages && (limit === undefined || BigInt(pfn + n) << 12n <= limit + 1n));
    if (fi >= 0) {
      const [pfn] = this.s.free.splice(fi, 1)[0]!;
      this.s.allocated += pages;
      return BigInt(pfn) << 12n;
    }
    for (const i of this.order) {
      const pfn = this.policy === 'zone-blocks-from-top' ? this.fromTop(i, pages, align, limit) : this.ascending(i, pages, align, limit);
      if (pfn === undefined) continue;
      this.s.allocated += pages;
      return BigInt(pfn) << 12n;
    }
    throw new Error(`out of memory: no ${pages} free page(s)${limit !== undefined ? ` below ${hex(limit)}` : ''}`);
  }

  private ascending(i: number, pages: number, align: number, limit: u64 | undefined): number | undefined {
    const pfn = Math.ceil(this.s.next[i]! / align) * align;
    if (pfn + pages > this.s.top[i]!) return undefined;
    if (limit !== undefined && BigInt(pfn + pages) << 12n > limit + 1n) return undefined;
    this.s.next[i] = pfn + pages;
    return pfn;
  }

  /** zone-blocks-from-top: the current 4 MiB block upward, else the next block down. */
  private fromTop(i: number, pages: number, align: number, limit: u64 | undefined): number | undefined {
    const blk = this.s.blk!;
    const cur = this.s.cur!;
    const floor = Math.max(this.s.next[i]!, Number(this.ranges[i]!.base >> 12n));
    const fits = (pfn: number): boolean => pfn >= floor && (limit === undefined || BigInt(pfn + pages) << 12n <= limit + 1n);
    if (blk[i]! >= 0 && pages <= MAX_ORDER_PAGES) {
      const pfn = Math.ceil(cur[i]! / align) * align;
      if (pfn + pages <= blk[i]! + MAX_ORDER_PAGES && fits(pfn)) {
        cur[i] = pfn + pages;
        return pfn;
      }
    }
    // A new block below the lowest one taken (or the range's top block).
    const below = blk[i]! >= 0 ? blk[i]! : Math.floor(this.s.top[i]! / MAX_ORDER_PAGES) * MAX_ORDER_PAGES;
    const size = Math.max(MAX_ORDER_PAGES, Math.ceil(pages / MAX_ORDER_PAGES) * MAX_ORDER_PAGES);
    const start = Math.floor((below - size) / Math.max(align, MAX_ORDER_PAGES)) * Math.max(align, MAX_ORDER_PAGES);
    if (!fits(start)) return undefined;
    blk[i] = start;
    cur[i] = pages <= MAX_ORDER_PAGES ? start + pages : start + size;
    return start;
  }

  /**
   * memblock_alloc_low / memblock's default top-down policy, for early boot
   * allocations such as the swiotlb pool: the highest `pages` pages (page
   * aligned) of the highest range that ends at or below `limit + 1`,
   * carved off the top so the page allocator never hands them out. The
   * other early allocations a real boot makes up there (the memblock
   * arrays, the DTB, ...) are not modelled, so a real pool sits a few pages
   * lower than this one.
   */
  memblockAllocTopDown(pages: number, limit: u64): u64 {
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const r = this.ranges[i]!;
      const endPfn = Math.min(this.s.top[i]!, Number((limit + 1n) >> 12n));
      const startPfn = endPfn - pages;
      if (startPfn < this.s.next[i]! || startPfn < Number(r.base >> 12n)) continue;
      // memblock runs before the buddy allocator: a range the blocks policy already hands out is not carved.
      if (this.s.blk && this.s.blk[i]! >= 0) continue;
      this.s.top[i] = startPfn;
      this.s.allocated += pages;
      return BigInt(startPfn) << 12n;
    }
    throw new Error(`out of memory: no ${pages} free page(s) below ${hex(limit)} for memblock`);
  }

  free(pa: u64, pages = 1): void {
    this.s.free.push([Number(pa >> 12n), pages]);
    this.s.allocated -= pages;
  }

  get allocatedPages(): number {
    return this.s.allocated;
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as AllocState);
  }
}
