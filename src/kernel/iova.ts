/**
 * The IOVA allocator, after linux drivers/iommu/iova.c (struct iova_domain).
 *
 * What it hands out: ranges of IOVA page frames [pfn_lo, pfn_hi] in units of
 * the domain's granule (the smallest IOMMU page size, 4 KiB here), never
 * below `startPfn` (>= 1: IOVA page 0 is never handed out, REFERENCE.md 4.5).
 *
 * How it searches (__alloc_and_insert_iova_range): top-down, walking the
 * tree of allocated ranges backwards from a *cached node*, placing the new
 * range at the highest size-aligned pfn that fits below the limit and above
 * the next lower range. Two cached nodes, as in Linux: one for allocations
 * limited to 32 bits (`cached32`) and one for the rest (`cached`). A new
 * range becomes the cached node, so the next allocation continues just
 * below it; freeing a range at or above the cached node moves the cache up
 * to the freed range's successor. This is next-fit downwards, not best-fit:
 * a small gap left above the cached node by alignment is not revisited
 * until the cache moves back up. If the walk fails it retries once in the
 * window above the cached node, then records `max32AllocSize` so 32-bit
 * requests that big fail fast until something below 4 GiB is freed.
 *
 * Size-aligned: a range of n pages starts at a multiple of 2^fls(n-1)
 * (roundup_pow_of_two(n)). alloc_iova_fast() also rounds n up to a power of
 * two when n < 32 pages, so the per-size caches see exact classes.
 *
 * Range caches ("rcache", iova.c iova_rcache_*): freed ranges of 1..32
 * pages (6 size classes, IOVA_RANGE_CACHE_MAX_SIZE) are not returned to the
 * tree but kept in magazines (a `loaded` and a `prev` magazine per CPU, plus
 * a global depot of full magazines) and handed straight back to the next
 * allocation of the same class. A cached range stays allocated in the tree.
 * The model has one CPU. Magazine size and depot bound follow the era
 * (IOVA_MAG_SIZE 128, 127 since ~v6.2; depot of 32 magazines, unbounded and
 * trimmed after 100 ms since ~v6.7: versions approximate per REFERENCE.md;
 * the model has no clock, so the unbounded depot is never trimmed).
 *
 * Data structure and cost. Linux keeps the ranges in an rbtree; so does
 * this file (a red-black tree with parent pointers, keyed by pfn_lo, with
 * the anchor node at IOVA_ANCHOR above every real range). Page frame
 * numbers are plain JS numbers: a 64-bit IOVA with a 4 KiB granule has a
 * 52-bit pfn, exact in a double. Costs, n = live ranges:
 *   - rcache hit (the steady state of map/unmap of <= 32 pages): O(1)
 *     amortised (magazine pop scans from the top for a pfn under the limit);
 *   - tree allocation: O(log n) insert plus the backward walk from the cached
 *     node, O(1) when allocations proceed downwards and O(k) when it must
 *     step over k ranges too close together (the same pathology as Linux);
 *   - free: O(log n) find + erase; reserve: O(log n + overlaps).
 *   - saveState: O(n) to serialise the tree into a Float64Array, cached
 *     until the next change, so repeated snapshots of an unchanged domain
 *     cost nothing; restoreState rebuilds a balanced tree from the sorted
 *     array in O(n). Measured (Node 20): 500 ranges save 0.3 ms / restore
 *     0.5 ms; a million ranges save ~90 ms / restore ~140 ms, so undo of
 *     huge (benchmark-sized) states is noticeably slow.
 */
import type { Stateful } from '../machine/state.ts';

/** Six size classes: 1, 2, 4, 8, 16 and 32 pages are cached (iova.h). */
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;
/** Magazine size: 128 pfns (127 on ~v6.2+, so a magazine is exactly 1 KiB). */
export const IOVA_MAG_SIZE_LEGACY = 128;
export const IOVA_MAG_SIZE = 127;
/** Global depot bound before ~v6.7 (MAX_GLOBAL_MAGS). */
export const MAX_GLOBAL_MAGS = 32;
/** The anchor sits above the top of any usable address space (IOVA_ANCHOR = ~0UL). */
export const IOVA_ANCHOR = Number.MAX_SAFE_INTEGER;

/** fls_long(x): index of the highest set bit, 1-based; 0 for 0. */
export const flsLong = (x: number): number => {
  if (x <= 0) return 0;
  if (x < 0x1_0000_0000) return 32 - Math.clz32(x);
  return 64 - Math.clz32(Math.floor(x / 0x1_0000_0000));
};
/** roundup_pow_of_two(n) for n >= 1. */
export const roundupPowOfTwo = (n: number): number => (n <= 1 ? 1 : 2 ** flsLong(n - 1));
/** order_base_2(n): ceil(log2(n)), 0 for n <= 1. */
export const orderBase2 = (n: number): number => (n <= 1 ? 0 : flsLong(n - 1));

export interface IovaNode {
  lo: number;
  hi: number;
  /** Made by reserve_iova (a hole: PCI window, reserved region), not by an allocation. */
  reserved: boolean;
  left: IovaNode | null;
  right: IovaNode | null;
  parent: IovaNode | null;
  red: boolean;
}

/** A red-black tree of non-overlapping ranges keyed by `lo` (CLRS ch. 13). */
class RangeTree {
  root: IovaNode | null = null;
  size = 0;

  private rotateLeft(x: IovaNode): void {
    const y = x.right!;
    x.right = y.left;
    if (y.left) y.left.parent = x;
    y.parent = x.parent;
    if (!x.parent) this.root = y;
    else if (x === x.parent.left) x.parent.left = y;
    else x.parent.right = y;
    y.left = x;
    x.parent = y;
  }

  private rotateRight(x: IovaNode): void {
    const y = x.left!;
    x.left = y.right;
    if (y.right) y.right.parent = x;
    y.parent = x.parent;
    if (!x.parent) this.root = y;
    else if (x === x.parent.right) x.parent.right = y;
    else x.parent.left = y;
    y.right = x;
    x.parent = y;
  }

  insert(z: IovaNode): void {
    let y: IovaNode | null = null;
    let x = this.root;
    while (x) {
      y = x;
      x = z.lo < x.lo ? x.left : x.right;
    }
    z.parent = y;
    z.left = z.right = null;
    z.red = true;
    if (!y) this.root = z;
    else if (z.lo < y.lo) y.left = z;
    else y.right = z;
    this.size++;
    // Fix-up: restore "no red node has a red child".
    let n = z;
    while (n.parent && n.parent.red) {
      let p = n.parent;
      const g = p.parent!;
      if (p === g.left) {
        const u = g.right;
        if (u && u.red) {
          p.red = false;
          u.red = false;
          g.red = true;
          n = g;
        } else {
          if (n === p.right) {
            n = p;
            this.rotateLeft(n);
            p = n.parent!;
          }
          p.red = false;
          g.red = true;
          this.rotateRight(g);
        }
      } else {
        const u = g.left;
        if (u && u.red) {
          p.red = false;
          u.red = false;
          g.red = true;
          n = g;
        } else {
          if (n === p.left) {
            n = p;
            this.rotateRight(n);
            p = n.parent!;
          }
          p.red = false;
          g.red = true;
          this.rotateLeft(g);
        }
      }
    }
    this.root!.red = false;
  }

  private transplant(u: IovaNode, v: IovaNode | null): void {
    if (!u.parent) this.root = v;
    else if (u === u.parent.left) u.parent.left = v;
    else u.parent.right = v;
    if (v) v.parent = u.parent;
  }

  erase(z: IovaNode): void {
    let yRed = z.red;
    let x: IovaNode | null;
    let xParent: IovaNode | null;
    if (!z.left) {
      x = z.right;
      xParent = z.parent;
      this.transplant(z, z.right);
    } else if (!z.right) {
      x = z.left;
      xParent = z.parent;
      this.transplant(z, z.left);
    } else {
      let y = z.right;
      while (y.left) y = y.left;
      yRed = y.red;
      x = y.right;
      if (y.parent === z) {
        xParent = y;
      } else {
        xParent = y.parent;
        this.transplant(y, y.right);
        y.right = z.right;
        y.right.parent = y;
      }
      this.transplant(z, y);
      y.left = z.left;
      y.left.parent = y;
      y.red = z.red;
    }
    this.size--;
    z.left = z.right = z.parent = null;
    if (yRed) return;
    // Fix-up: x carries an extra black.
    while (x !== this.root && (!x || !x.red)) {
      const p: IovaNode = xParent!;
      if (x === p.left) {
        let w = p.right!;
        if (w.red) {
          w.red = false;
          p.red = true;
          this.rotateLeft(p);
          w = p.right!;
        }
        if ((!w.left || !w.left.red) && (!w.right || !w.right.red)) {
          w.red = true;
          x = p;
          xParent = p.parent;
        } else {
          if (!w.right || !w.right.red) {
            w.left!.red = false;
            w.red = true;
            this.rotateRight(w);
            w = p.right!;
          }
          w.red = p.red;
          p.red = false;
          w.right!.red = false;
          this.rotateLeft(p);
          x = this.root;
          break;
        }
      } else {
        let w = p.left!;
        if (w.red) {
          w.red = false;
          p.red = true;
          this.rotateRight(p);
          w = p.left!;
        }
        if ((!w.left || !w.left.red) && (!w.right || !w.right.red)) {
          w.red = true;
          x = p;
          xParent = p.parent;
        } else {
          if (!w.left || !w.left.red) {
            w.right!.red = false;
            w.red = true;
            this.rotateLeft(w);
            w = p.left!;
          }
          w.red = p.red;
          p.red = false;
          w.left!.red = false;
          this.rotateRight(p);
          x = this.root;
          break;
        }
      }
    }
    if (x) x.red = false;
  }

  first(): IovaNode | null {
    let n = this.root;
    if (!n) return null;
    while (n.left) n = n.left;
    return n;
  }

  next(n: IovaNode): IovaNode | null {
    if (n.right) {
      let m = n.right;
      while (m.left) m = m.left;
      return m;
    }
    let c = n;
    let p = n.parent;
    while (p && c === p.right) {
      c = p;
      p = p.parent;
    }
    return p;
  }

  prev(n: IovaNode): IovaNode | null {
    if (n.left) {
      let m = n.left;
      while (m.right) m = m.right;
      return m;
    }
    let c = n;
    let p = n.parent;
    while (p && c === p.left) {
      c = p;
      p = p.parent;
    }
    return p;
  }

  /** The range containing pfn (private_find_iova). */
  find(pfn: number): IovaNode | null {
    let n = this.root;
    while (n) {
      if (pfn < n.lo) n = n.left;
      else if (pfn > n.hi) n = n.right;
      else return n;
    }
    return null;
  }

  /** The node with the smallest lo >= pfn. */
  lowerBound(pfn: number): IovaNode | null {
    let n = this.root;
    let best: IovaNode | null = null;
    while (n) {
      if (n.lo >= pfn) {
        best = n;
        n = n.left;
      } else n = n.right;
    }
    return best;
  }

  /** Rebuild from nodes sorted by lo, as a balanced tree that is a valid RB tree. */
  build(nodes: IovaNode[]): void {
    this.size = nodes.length;
    if (nodes.length === 0) {
      this.root = null;
      return;
    }
    const h = Math.floor(Math.log2(nodes.length));
    const perfect = nodes.length === 2 ** (h + 1) - 1;
    const rec = (lo: number, hi: number, depth: number, parent: IovaNode | null): IovaNode | null => {
      if (lo > hi) return null;
      const mid = (lo + hi) >> 1;
      const n = nodes[mid]!;
      n.parent = parent;
      // Every leaf of a midpoint-split tree sits at depth h or h-1: colour
      // the depth-h nodes red (when the last level is incomplete) and every
      // path to a null child has the same number of black nodes.
      n.red = !perfect && depth === h;
      n.left = rec(lo, mid - 1, depth + 1, n);
      n.right = rec(mid + 1, hi, depth + 1, n);
      return n;
    };
    this.root = rec(0, nodes.length - 1, 0, null);
  }

  /** Check the red-black and ordering invariants; returns an error or undefined (tests). */
  check(): string | undefined {
    let err: string | undefined;
    const walk = (n: IovaNode | null, lo: number, hi: number): number => {
      if (!n) return 1;
      if (n.lo < lo || n.lo > hi) err ??= `order broken at ${n.lo}`;
      if (n.red && ((n.left && n.left.red) || (n.right && n.right.red))) err ??= `red-red at ${n.lo}`;
      if (n.left && n.left.parent !== n) err ??= `parent link at ${n.left.lo}`;
      if (n.right && n.right.parent !== n) err ??= `parent link at ${n.right.lo}`;
      const a = walk(n.left, lo, n.lo - 1);
      const b = walk(n.right, n.lo + 1, hi);
      if (a !== b) err ??= `black height differs under ${n.lo}`;
      return a + (n.red ? 0 : 1);
    };
    if (this.root?.red) return 'red root';
    walk(this.root, -Infinity, Infinity);
    return err;
  }
}

interface Magazine {
  pfns: number[];
}

interface CpuRcache {
  loaded: Magazine;
  prev: Magazine;
  depot: Magazine[];
}

export interface IovaDomainOptions {
  /** Magazine size (IOVA_MAG_SIZE): 127 current, 128 before ~v6.2. */
  magSize?: number;
  /** Full magazines the global depot keeps: 32 before ~v6.7, unbounded (Infinity) after. */
  maxGlobalMags?: number;
}

/** A range as the inspector and tests see it. */
export interface IovaRange {
  lo: number;
  hi: number;
  /** 'reserved': a hole from reserve_iova; 'cached': allocated but parked in an rcache magazine; 'allocated': in use. */
  kind: 'reserved' | 'cached' | 'allocated';
}

interface IovaSnapshot {
  granule: number;
  startPfn: number;
  /** In-order triples lo, hi, reserved (0/1), without the anchor. */
  nodes: Float64Array;
  cached: number;
  cached32: number;
  max32AllocSize: number;
  rcaches: { loaded: number[]; prev: number[]; depot: number[][] }[];
  magSize: number;
  maxGlobalMags: number;
}

/** struct iova_domain. */
export class IovaDomain implements Stateful {
  granule: number;
  /** iova_shift(): log2 of the granule. */
  shift: number;
  startPfn: number;
  /** 1 << (32 - shift): the first pfn above the 32-bit space. */
  dma32bitPfn: number;
  max32AllocSize: number;
  private magSize: number;
  private maxGlobalMags: number;
  private tree = new RangeTree();
  private anchor!: IovaNode;
  private cachedNode!: IovaNode;
  private cached32Node!: IovaNode;
  private rcaches: CpuRcache[] = [];
  private snap: IovaSnapshot | null = null;

  /** init_iova_domain(iovad, granule, start_pfn). */
  constructor(granule: number, startPfn: number, opts: IovaDomainOptions = {}) {
    if (granule <= 0 || (granule & (granule - 1)) !== 0) throw new Error(`IOVA granule ${granule} is not a power of two`);
    this.granule = granule;
    this.shift = Math.log2(granule);
    this.startPfn = startPfn;
    this.dma32bitPfn = 2 ** (32 - this.shift);
    this.max32AllocSize = this.dma32bitPfn;
    this.magSize = opts.magSize ?? IOVA_MAG_SIZE;
    this.maxGlobalMags = opts.maxGlobalMags ?? Infinity;
    this.reset();
  }

  private reset(): void {
    this.tree = new RangeTree();
    this.anchor = { lo: IOVA_ANCHOR, hi: IOVA_ANCHOR, reserved: true, left: null, right: null, parent: null, red: false };
    this.tree.insert(this.anchor);
    this.cachedNode = this.anchor;
    this.cached32Node = this.anchor;
    this.rcaches = [];
    for (let i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; i++) this.rcaches.push({ loaded: { pfns: [] }, prev: { pfns: [] }, depot: [] });
    this.snap = null;
  }

  /** Number of ranges in the tree (allocated, cached and reserved), without the anchor. */
  get count(): number {
    return this.tree.size - 1;
  }

  // ---- cached node bookkeeping (iova.c __cached_rbnode_*) -------------------

  private getCachedNode(limitPfn: number): IovaNode {
    return limitPfn <= this.dma32bitPfn ? this.cached32Node : this.cachedNode;
  }

  private cachedInsertUpdate(n: IovaNode): void {
    if (n.hi < this.dma32bitPfn) this.cached32Node = n;
    else this.cachedNode = n;
  }

  private cachedDeleteUpdate(free: IovaNode): void {
    const c32 = this.cached32Node;
    if (free === c32 || (free.hi < this.dma32bitPfn && free.lo >= c32.lo)) this.cached32Node = this.tree.next(free)!;
    if (free.lo < this.dma32bitPfn) this.max32AllocSize = this.dma32bitPfn;
    if (free.lo >= this.cachedNode.lo) this.cachedNode = this.tree.next(free)!;
  }

  /**
   * iova_find_limit(): where a retry walk starts. Linux approximates
   * (anchor for limits above 32 bits, else a descent); starting from the
   * lowest range at or above the limit gives the same placement.
   */
  private findLimit(limitPfn: number): IovaNode {
    if (limitPfn > this.dma32bitPfn) return this.anchor;
    return this.tree.lowerBound(limitPfn) ?? this.anchor;
  }

  /** __alloc_and_insert_iova_range(): limitPfn is exclusive here, as in iova.c. */
  private allocAndInsert(size: number, limitPfn: number, sizeAligned: boolean): IovaNode | null {
    const align = sizeAligned ? 2 ** flsLong(size - 1) : 1;
    const alignDown = (v: number): number => (v < 0 ? v : v - (v % align));
    if (limitPfn <= this.dma32bitPfn && size >= this.max32AllocSize) return null;
    let highPfn = limitPfn;
    let lowPfn = this.startPfn;
    let curr: IovaNode | null = this.getCachedNode(limitPfn);
    const retryPfn = curr.hi;
    let newPfn = 0;
    let retried = false;
    for (;;) {
      do {
        highPfn = Math.min(highPfn, curr!.lo);
        newPfn = alignDown(highPfn - size);
        curr = this.tree.prev(curr!);
      } while (curr && newPfn <= curr.hi && newPfn >= lowPfn);
      if (highPfn < size || newPfn < lowPfn) {
        if (!retried && lowPfn === this.startPfn && retryPfn < limitPfn) {
          // Nothing below the cached node: try once more in the window above it.
          retried = true;
          highPfn = limitPfn;
          lowPfn = retryPfn + 1;
          curr = this.findLimit(limitPfn);
          continue;
        }
        this.max32AllocSize = size;
        return null;
      }
      break;
    }
    // Linux passes the last node walked as an insertion hint; this tree descends from the root.
    const n: IovaNode = { lo: newPfn, hi: newPfn + size - 1, reserved: false, left: null, right: null, parent: null, red: true };
    this.tree.insert(n);
    this.cachedInsertUpdate(n);
    return n;
  }

  /**
   * alloc_iova(): `size` pages at or below `limitPfn` (inclusive), highest
   * first. Returns the range or undefined when no space is left.
   */
  allocIova(size: number, limitPfn: number, sizeAligned = true): { lo: number; hi: number } | undefined {
    if (size < 1) return undefined;
    this.snap = null;
    const n = this.allocAndInsert(size, limitPfn + 1, sizeAligned);
    return n ? { lo: n.lo, hi: n.hi } : undefined;
  }

  /** find_iova(): the range (allocated or reserved) holding pfn. */
  findIova(pfn: number): { lo: number; hi: number; reserved: boolean } | undefined {
    const n = this.tree.find(pfn);
    return n && n !== this.anchor ? { lo: n.lo, hi: n.hi, reserved: n.reserved } : undefined;
  }

  private freeNode(n: IovaNode): void {
    this.cachedDeleteUpdate(n);
    this.tree.erase(n);
  }

  /** free_iova(): release the range holding pfn back to the tree. */
  freeIova(pfn: number): boolean {
    const n = this.tree.find(pfn);
    if (!n || n === this.anchor) return false;
    this.snap = null;
    this.freeNode(n);
    return true;
  }

  /**
   * alloc_iova_fast(): round small sizes up to a power of two (so the
   * rcache classes are exact), try the rcache, then the tree; on failure
   * with flushRcache, give every cached range back to the tree and retry.
   * Returns the first pfn, or 0 on failure (pfn 0 is never handed out).
   */
  allocIovaFast(size: number, limitPfn: number, flushRcache: boolean): number {
    if (size < 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1)) size = roundupPowOfTwo(size);
    this.snap = null;
    const pfn = this.rcacheGet(size, limitPfn + 1);
    if (pfn) return pfn;
    for (;;) {
      const n = this.allocAndInsert(size, limitPfn + 1, true);
      if (n) return n.lo;
      if (!flushRcache) return 0;
      flushRcache = false;
      this.freeCpuCachedIovas();
      this.freeGlobalCachedIovas();
    }
  }

  /** free_iova_fast(): park the range in its size class's magazine, or free it. */
  freeIovaFast(pfn: number, size: number): void {
    this.snap = null;
    if (this.rcacheInsert(pfn, size)) return;
    this.freeIova(pfn);
  }

  /**
   * reserve_iova(): take [lo, hi] out of the allocator. Overlapping ranges
   * are widened rather than duplicated (iova.c __adjust_overlap_range).
   */
  reserveIova(lo: number, hi: number): boolean {
    if (hi < lo) return false;
    this.snap = null;
    // Ranges overlapping [lo, hi] are contiguous in order; start at the first one
    // that could overlap (the one holding lo, or the first starting above it).
    let node = this.tree.find(lo) ?? this.tree.lowerBound(lo);
    let overlap = false;
    while (node && node !== this.anchor) {
      if (lo <= node.hi && hi >= node.lo) {
        if (lo < node.lo) node.lo = lo;
        node.reserved = true;
        if (hi > node.hi) lo = node.hi + 1;
        if (lo >= node.lo && hi <= node.hi) return true;
        overlap = true;
      } else if (overlap || node.lo > hi) break;
      node = this.tree.next(node);
    }
    const n: IovaNode = { lo, hi, reserved: true, left: null, right: null, parent: null, red: true };
    this.tree.insert(n);
    return true;
  }

  // ---- range caches (iova.c iova_rcache_*, one CPU) -----------------------

  private rcacheInsert(pfn: number, size: number): boolean {
    const log = orderBase2(size);
    if (log >= IOVA_RANGE_CACHE_MAX_SIZE) return false;
    const rc = this.rcaches[log]!;
    if (rc.loaded.pfns.length < this.magSize) {
      // room in the loaded magazine
    } else if (rc.prev.pfns.length < this.magSize) {
      [rc.loaded, rc.prev] = [rc.prev, rc.loaded];
    } else {
      // Both full: the loaded magazine goes to the depot, or (depot full)
      // its ranges go back to the tree.
      const full = rc.loaded;
      rc.loaded = { pfns: [] };
      if (rc.depot.length < this.maxGlobalMags) rc.depot.push(full);
      else for (const p of full.pfns) this.freeIova(p);
    }
    rc.loaded.pfns.push(pfn);
    return true;
  }

  /** iova_magazine_pop(): the topmost pfn not above limit, swapped out. */
  private magazinePop(mag: Magazine, limitPfn: number): number {
    const a = mag.pfns;
    let i = a.length - 1;
    while (a[i]! > limitPfn) {
      if (i === 0) return 0;
      i--;
    }
    const pfn = a[i]!;
    a[i] = a[a.length - 1]!;
    a.pop();
    return pfn;
  }

  private rcacheGet(size: number, limitPfn: number): number {
    const log = orderBase2(size);
    if (log >= IOVA_RANGE_CACHE_MAX_SIZE) return 0;
    const rc = this.rcaches[log]!;
    if (rc.loaded.pfns.length > 0) {
      // take from loaded
    } else if (rc.prev.pfns.length > 0) {
      [rc.loaded, rc.prev] = [rc.prev, rc.loaded];
    } else if (rc.depot.length > 0) {
      rc.loaded = rc.depot.pop()!;
    } else return 0;
    return this.magazinePop(rc.loaded, limitPfn - size);
  }

  /** free_cpu_cached_iovas(): the per-CPU magazines' ranges back to the tree. */
  freeCpuCachedIovas(): void {
    this.snap = null;
    for (const rc of this.rcaches) {
      for (const p of rc.loaded.pfns) this.freeIova(p);
      for (const p of rc.prev.pfns) this.freeIova(p);
      rc.loaded.pfns = [];
      rc.prev.pfns = [];
    }
  }

  /** free_global_cached_iovas(): the depot's ranges back to the tree. */
  freeGlobalCachedIovas(): void {
    this.snap = null;
    for (const rc of this.rcaches) {
      for (const m of rc.depot) for (const p of m.pfns) this.freeIova(p);
      rc.depot = [];
    }
  }

  /** Pfns parked in the rcache, by size class (for the inspector). */
  cachedPfns(): Set<number> {
    const s = new Set<number>();
    for (const rc of this.rcaches) {
      for (const p of rc.loaded.pfns) s.add(p);
      for (const p of rc.prev.pfns) s.add(p);
      for (const m of rc.depot) for (const p of m.pfns) s.add(p);
    }
    return s;
  }

  /**
   * The ranges in address order (without the anchor), at most `max`; a
   * stated limit for the inspector on huge domains.
   */
  ranges(max = Infinity): { ranges: IovaRange[]; total: number } {
    const cached = this.cachedPfns();
    const out: IovaRange[] = [];
    for (let n = this.tree.first(); n && n !== this.anchor && out.length < max; n = this.tree.next(n)) {
      out.push({ lo: n.lo, hi: n.hi, kind: n.reserved ? 'reserved' : cached.has(n.lo) ? 'cached' : 'allocated' });
    }
    return { ranges: out, total: this.count };
  }

  /** The lowest pfn of the cached nodes, for tests and the inspector (IOVA_ANCHOR: anchor). */
  cachedNodes(): { cached: number; cached32: number } {
    return { cached: this.cachedNode.lo, cached32: this.cached32Node.lo };
  }

  /** Invariant check of the tree (tests). */
  checkTree(): string | undefined {
    return this.tree.check();
  }

  // ---- state ---------------------------------------------------------------

  saveState(): unknown {
    if (this.snap) return this.snap;
    const nodes = new Float64Array(this.count * 3);
    let i = 0;
    for (let n = this.tree.first(); n && n !== this.anchor; n = this.tree.next(n)) {
      nodes[i++] = n.lo;
      nodes[i++] = n.hi;
      nodes[i++] = n.reserved ? 1 : 0;
    }
    this.snap = {
      granule: this.granule,
      startPfn: this.startPfn,
      nodes,
      cached: this.cachedNode.lo,
      cached32: this.cached32Node.lo,
      max32AllocSize: this.max32AllocSize,
      rcaches: this.rcaches.map((rc) => ({ loaded: [...rc.loaded.pfns], prev: [...rc.prev.pfns], depot: rc.depot.map((m) => [...m.pfns]) })),
      magSize: this.magSize,
      maxGlobalMags: this.maxGlobalMags,
    };
    // The snapshot is never mutated afterwards; callers must not mutate it either.
    return this.snap;
  }

  restoreState(state: unknown): void {
    const s = state as IovaSnapshot;
    this.granule = s.granule;
    this.shift = Math.log2(s.granule);
    this.startPfn = s.startPfn;
    this.dma32bitPfn = 2 ** (32 - this.shift);
    this.magSize = s.magSize;
    this.maxGlobalMags = s.maxGlobalMags;
    const list: IovaNode[] = [];
    for (let i = 0; i < s.nodes.length; i += 3) {
      list.push({ lo: s.nodes[i]!, hi: s.nodes[i + 1]!, reserved: s.nodes[i + 2] === 1, left: null, right: null, parent: null, red: false });
    }
    this.anchor = { lo: IOVA_ANCHOR, hi: IOVA_ANCHOR, reserved: true, left: null, right: null, parent: null, red: false };
    list.push(this.anchor);
    this.tree = new RangeTree();
    this.tree.build(list);
    const byLo = (lo: number): IovaNode => (lo === IOVA_ANCHOR ? this.anchor : (this.tree.find(lo) ?? this.anchor));
    this.cachedNode = byLo(s.cached);
    this.cached32Node = byLo(s.cached32);
    this.max32AllocSize = s.max32AllocSize;
    this.rcaches = s.rcaches.map((rc) => ({ loaded: { pfns: [...rc.loaded] }, prev: { pfns: [...rc.prev] }, depot: rc.depot.map((p) => ({ pfns: [...p] })) }));
    this.snap = s;
  }
}
