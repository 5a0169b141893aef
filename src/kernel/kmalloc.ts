/**
 * kmalloc, small and deterministic: the kmalloc-N caches of SLUB
 * (mm/slab_common.c kmalloc_info: 8, 16, 32, 64, 96, 128, 192, 256, 512,
 * 1k, 2k, 4k, 8k), each carving whole pages from the page allocator into
 * objects of its size. Objects of a fresh slab are handed out in address
 * order; a freed object is reused first (LIFO), as SLUB's per-cpu freelist
 * does. Model simplifications, stated: one slab page per cache at a time
 * is filled before the next is taken (no partial lists, no per-cpu
 * slabs), no CONFIG_SLAB_FREELIST_RANDOM, and slabs are never given back.
 *
 * Used where Linux kmallocs memory a device then reads: the virtio ring's
 * indirect descriptor tables (drivers/virtio/virtio_ring.c
 * alloc_indirect_split: kmalloc_array(total_sg, sizeof(struct vring_desc))).
 */
import { type u64, PAGE_SIZE, hex } from '../machine/u64.ts';
import { clone, type Stateful } from '../machine/state.ts';
import type { PageAllocator } from './page-alloc.ts';

/** The kmalloc caches' object sizes (mm/slab_common.c). */
export const KMALLOC_SIZES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192] as const;

interface CacheState {
  /** Next never-used object in the current slab (as a decimal string of the PA), or null. */
  next: string | null;
  /** End of the current slab. */
  end: string | null;
  /** Freed objects, most recent last. */
  free: string[];
}

interface KmallocState {
  caches: Record<number, CacheState>;
  /** Live objects: PA -> cache size. */
  live: Record<string, number>;
}

export class Kmalloc implements Stateful {
  private s: KmallocState = { caches: {}, live: {} };
  constructor(private readonly pages: PageAllocator) {}

  /** The cache a request of `bytes` is served from (kmalloc_index). */
  static cacheFor(bytes: number): number | undefined {
    return KMALLOC_SIZES.find((n) => n >= bytes);
  }

  /** kmalloc(bytes): the object's physical address. Larger than 8 KiB: whole pages (kmalloc_large). */
  alloc(bytes: number): u64 {
    if (bytes <= 0) throw new Error(`kmalloc(${bytes})`);
    const size = Kmalloc.cacheFor(bytes);
    if (size === undefined) {
      const n = Math.ceil(bytes / PAGE_SIZE);
      const pa = this.pages.alloc(n);
      this.s.live[pa.toString()] = -n;
      return pa;
    }
    const c = (this.s.caches[size] ??= { next: null, end: null, free: [] });
    let pa: u64;
    const f = c.free.pop();
    if (f !== undefined) pa = BigInt(f);
    else {
      if (c.next === null || BigInt(c.next) + BigInt(size) > BigInt(c.end!)) {
        const slabPages = size > PAGE_SIZE ? size / PAGE_SIZE : 1;
        const base = this.pages.alloc(slabPages);
        c.next = base.toString();
        c.end = (base + BigInt(slabPages * PAGE_SIZE)).toString();
      }
      pa = BigInt(c.next);
      c.next = (pa + BigInt(size)).toString();
    }
    this.s.live[pa.toString()] = size;
    return pa;
  }

  /** kfree(pa). */
  free(pa: u64): void {
    const k = pa.toString();
    const size = this.s.live[k];
    if (size === undefined) throw new Error(`kfree of ${hex(pa)}, which kmalloc did not hand out`);
    delete this.s.live[k];
    if (size < 0) this.pages.free(pa, -size);
    else this.s.caches[size]!.free.push(k);
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as KmallocState);
  }
}
