/**
 * The kernel's physical page allocator, deterministic: the same sequence of
 * calls always returns the same pages. It hands out 4 KiB pages from the
 * RAM it is given, lowest address first within a zone (early boot
 * allocations come from the top, as memblock's: memblockAllocTopDown), so a dump of
 * memory after boot is the same byte for byte on every run. Zones follow
 * Linux's names: ZONE_DMA32 is RAM below 4 GiB, ZONE_NORMAL the rest.
 *
 * Freed pages go back on a free list and are reused first (LIFO), as the
 * buddy allocator's per-cpu lists would.
 */
import { type u64, hex } from '../machine/u64.ts';
import { clone, type Stateful } from '../machine/state.ts';

export interface RamRange {
  base: u64;
  size: u64;
}

interface AllocState {
  /** Next never-allocated pfn per range. */
  next: number[];
  /** End (exclusive pfn) of what the page allocator may hand out per range: memblockAllocTopDown takes from above it. */
  top: number[];
  /** Freed blocks: [pfn, pages]. */
  free: [number, number][];
  allocated: number;
}

export class PageAllocator implements Stateful {
  private s: AllocState;
  constructor(private readonly ranges: RamRange[]) {
    this.s = { next: ranges.map((r) => Number(r.base >> 12n)), top: ranges.map((r) => Number((r.base + r.size) >> 12n)), free: [], allocated: 0 };
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
    for (let i = 0; i < this.ranges.length; i++) {
      const r = this.ranges[i]!;
      const end = this.s.top[i]!;
      const pfn = Math.ceil(this.s.next[i]! / align) * align;
      if (pfn + pages > end) continue;
      if (limit !== undefined && BigInt(pfn + pages) << 12n > limit + 1n) continue;
      this.s.next[i] = pfn + pages;
      this.s.allocated += pages;
      return BigInt(pfn) << 12n;
    }
    throw new Error(`out of memory: no ${pages} free page(s)${limit !== undefined ? ` below ${hex(limit)}` : ''}`);
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
