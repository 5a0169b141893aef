/**
 * The software IO TLB, after linux kernel/dma/swiotlb.c: a pool of low
 * memory, cut into 2 KiB slots, that dma-direct bounces a buffer through
 * when the device cannot reach the buffer itself (a 32-bit DMA mask and a
 * buffer above 4 GiB) or when bouncing is forced (`swiotlb=force`).
 *
 *   pool: [slot 0][slot 1]...[slot 127] | [slot 128]...     2048 bytes each
 *         '----------- segment 0 ---------' segment 1 ...   128 slots each
 *
 * Each slot keeps `list`: how many free slots follow it contiguously up to
 * the end of its segment (0 = in use), so a mapping never crosses a segment
 * and is at most IO_TLB_SEGSIZE * IO_TLB_SIZE = 256 KiB. The search is
 * next-fit from the area's `index`. Each mapped slot remembers the original
 * physical address and the bytes left in the mapping (orig_addr,
 * alloc_size), which is how an unmap given only the bounce address knows
 * where to copy back to.
 *
 * Bounces are real copies in simulated memory, and each is recorded in a
 * bounded log with counters, so lessons can show them.
 *
 * Model limits (stated): one area (Linux makes one per possible CPU and
 * logs "area num N."); no dynamic pools (CONFIG_SWIOTLB_DYNAMIC); no
 * restricted-dma-pool; the device's min_align_mask is 0 (NVMe's 4 KiB one
 * is not modelled); the pool comes from the deterministic PageAllocator,
 * which allocates bottom-up, where memblock_alloc_low() allocates top-down
 * (real boots print an address just below the low-memory limit).
 */
import { type u64, hexRaw, U64_MAX } from '../machine/u64.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import { clone, type Stateful } from '../machine/state.ts';
import type { Kernel } from './kernel.ts';
import type { PageAllocator } from './page-alloc.ts';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_MAPPING_ERROR, DMA_TO_DEVICE, type DmaDirection, type KDevice } from './types.ts';
import { devPrefix, type KernelVersion, CURRENT_KERNEL } from './iommu.ts';

// include/linux/swiotlb.h (REFERENCE.md 5.5)
export const IO_TLB_SHIFT = 11;
export const IO_TLB_SIZE = 1 << IO_TLB_SHIFT;
export const IO_TLB_SEGSIZE = 128;
export const IO_TLB_DEFAULT_SIZE = 64 << 20;
/** Smallest pool worth booting with: 1 MiB (swiotlb.c IO_TLB_MIN_SLABS). */
export const IO_TLB_MIN_SLABS = (1 << 20) >> IO_TLB_SHIFT;
/** Bounce records kept (a stated limit; the oldest go first). */
export const SWIOTLB_LOG_CAPACITY = 256;

const INVALID = -1;
const PAGE_SIZE = 4096;

/** One copy between a buffer and its bounce slot. */
export interface SwiotlbBounce {
  seq: number;
  dev: string;
  /** 'to-device': original -> slot (map, sync_for_device); 'from-device': slot -> original. */
  dir: 'to-device' | 'from-device';
  orig: u64;
  tlb: u64;
  len: number;
  why: 'map' | 'unmap' | 'sync_for_cpu' | 'sync_for_device';
}

export interface SwiotlbStats {
  maps: number;
  unmaps: number;
  /** Mappings refused: "swiotlb buffer is full". */
  full: number;
  bouncesToDevice: number;
  bouncesFromDevice: number;
  bytesToDevice: number;
  bytesFromDevice: number;
}

/** Parsed `swiotlb=` (swiotlb.c setup_io_tlb_npages). */
export interface SwiotlbParams {
  nslabs: number;
  force: boolean;
  noforce: boolean;
  nareas?: number;
}

/** `swiotlb=<nslabs>[,<nareas>][,force|noforce]`; nslabs rounded up to a multiple of 128. */
export function parseSwiotlbParam(v: string | undefined): SwiotlbParams {
  const p: SwiotlbParams = { nslabs: IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT, force: false, noforce: false };
  if (v === undefined) return p;
  let s = v;
  let m = /^(0x[0-9a-f]+|\d+)/i.exec(s);
  if (m) {
    const n = Number(m[1]);
    p.nslabs = Math.ceil(n / IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE;
    s = s.slice(m[0].length);
  }
  if (s.startsWith(',')) s = s.slice(1);
  m = /^\d+/.exec(s);
  if (m) {
    p.nareas = Number(m[0]);
    s = s.slice(m[0].length);
  }
  if (s.startsWith(',')) s = s.slice(1);
  if (s === 'force') p.force = true;
  else if (s === 'noforce') p.noforce = true;
  return p;
}

interface SwiotlbState {
  start: u64;
  nslabs: number;
  forceBounce: boolean;
  /** Free contiguous slots from here to the segment end; 0 = used. */
  list: Int32Array;
  /** Original physical address of the byte at each used slot, -1 when free. */
  orig: Float64Array;
  /** Bytes of the mapping from this slot on. */
  allocSize: Int32Array;
  index: number;
  used: number;
  log: SwiotlbBounce[];
  seq: number;
  stats: SwiotlbStats;
}

export interface SwiotlbOptions {
  /**
   * Era (major*100+minor). Since ~v6.0 swiotlb_tbl_map_single copies the
   * original into the slot for *every* direction, so a device's partial
   * write cannot leak stale bounce contents (aa6f8dcbab47 "swiotlb: rework
   * fix info leak with DMA_FROM_DEVICE"); before, only TO_DEVICE and
   * BIDIRECTIONAL were copied. Version approximate.
   */
  version?: KernelVersion;
  /**
   * The kernel's linear-map base for the v4.x boot line's "mapped at"
   * virtual addresses: phys_to_virt(pa) = linearBase + (pa - physOffset).
   * x86_64 4.x: 0xffff880000000000 (direct map, physOffset 0); arm64 4.x
   * with 48-bit VAs: PAGE_OFFSET 0xffff800000000000, physOffset =
   * memstart_addr (the start of DRAM). Both as with KASLR's linear-map
   * randomization off (RANDOMIZE_MEMORY on x86, no kaslr-seed on arm64).
   */
  linearMap?: { base: u64; physOffset: u64 };
}

export class Swiotlb implements Stateful {
  private s: SwiotlbState;
  /**
   * The CPU's view of memory for the copies (swiotlb_bounce is a memcpy by
   * the CPU): through the machine's cache when it models one. Absent: RAM.
   */
  cpu?: { read(pa: u64, len: number): Uint8Array; write(pa: u64, data: Uint8Array): void };
  /** Called after every bounce copy (from, to, bytes): the boot code records it in the DMA trace. */
  onBounce?: (dev: KDevice, from: u64, to: u64, len: number, why: SwiotlbBounce['why']) => void;
  private readonly version: KernelVersion;
  private readonly linearMap: SwiotlbOptions['linearMap'];
  readonly params: SwiotlbParams;

  constructor(
    private readonly kernel: Kernel,
    private readonly memory: PhysicalMemory,
    private readonly pages: PageAllocator,
    opts: SwiotlbOptions = {},
  ) {
    this.version = opts.version ?? CURRENT_KERNEL;
    this.linearMap = opts.linearMap;
    this.params = parseSwiotlbParam(kernel.cmdline.get('swiotlb'));
    this.s = {
      start: 0n,
      nslabs: 0,
      forceBounce: false,
      list: new Int32Array(0),
      orig: new Float64Array(0),
      allocSize: new Int32Array(0),
      index: 0,
      used: 0,
      log: [],
      seq: 0,
      stats: { maps: 0, unmaps: 0, full: 0, bouncesToDevice: 0, bouncesFromDevice: 0, bytesToDevice: 0, bytesFromDevice: 0 },
    };
  }

  /**
   * swiotlb_init(addressing_limit, SWIOTLB_VERBOSE) at boot: nothing unless
   * some RAM is beyond what 32-bit devices reach (the arch passes that as
   * `addressingLimit`) or bouncing is forced; nothing with `swiotlb=noforce`.
   * The pool comes from the top of low memory (below 4 GiB, memblock's
 * top-down policy); when it does not fit the
   * size is halved down to 1 MiB. Logs
   * `software IO TLB: mapped [mem 0x%016llx-0x%016llx] (%luMB)` (swiotlb_print_info,
   * %pa, end exclusive). Returns whether a pool exists.
   *
   * The line is the era's (printInfo); `verbose: false` leaves it to the
   * caller (x86 prints it late, from pci_iommu_init).
   */
  swiotlbInit(addressingLimit: boolean, o: { verbose?: boolean } = {}): boolean {
    const p = this.params;
    if (!addressingLimit && !p.force) return false;
    if (p.noforce) return false;
    let nslabs = p.nslabs;
    let start: u64 | undefined;
    for (;;) {
      const bytes = Math.ceil((nslabs * IO_TLB_SIZE) / PAGE_SIZE) * PAGE_SIZE;
      try {
        // memblock_alloc_low: top-down below ARCH_LOW_ADDRESS_LIMIT (4 GiB on arm64 with a 32-bit DMA zone and on x86).
        start = this.pages.memblockAllocTopDown(bytes / PAGE_SIZE, 0xffff_ffffn);
        break;
      } catch {
        if (nslabs <= IO_TLB_MIN_SLABS) return false;
        nslabs = Math.ceil(nslabs / 2 / IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE;
      }
    }
    if (nslabs !== p.nslabs) this.kernel.log('info', `software IO TLB: SWIOTLB bounce buffer size adjusted ${p.nslabs} -> ${nslabs} slabs`);
    const s = this.s;
    s.start = start;
    s.nslabs = nslabs;
    s.forceBounce = p.force;
    s.list = new Int32Array(nslabs);
    s.orig = new Float64Array(nslabs).fill(INVALID);
    s.allocSize = new Int32Array(nslabs);
    for (let i = 0; i < nslabs; i++) s.list[i] = IO_TLB_SEGSIZE - (i & (IO_TLB_SEGSIZE - 1));
    s.index = 0;
    s.used = 0;
    // swiotlb_init_io_tlb_pool() memsets the pool; fresh pages of the sparse
    // memory already read as zero, so nothing is written (64 MiB stays unbacked).
    if (o.verbose ?? true) this.printInfo();
    return true;
  }

  /**
   * swiotlb_print_info(). v4.x: "software IO TLB [mem %#010llx-%#010llx]
   * (%luMB) mapped at [%p-%p]" with the pool's linear-map addresses (end
   * exclusive, then end - 1); from v4.1x (7d63fb3af87a stopped printing
   * pointers) "software IO TLB: mapped [mem ...]", %pa since ~v5.10. The
   * lab's eras sit on either side (4.9-4.13, then 5.14 on), so the
   * boundary is drawn at v5.0 and needs no finer date.
   */
  printInfo(): void {
    if (!this.active) return;
    const mb = (this.s.nslabs * IO_TLB_SIZE) >> 20;
    if (this.version < 500) {
      const lm = this.linearMap ?? { base: 0xffff_8800_0000_0000n, physOffset: 0n };
      const va = (pa: u64): string => hexRaw(lm.base + (pa - lm.physOffset), 16);
      this.kernel.log('info', `software IO TLB [mem 0x${hexRaw(this.s.start, 8)}-0x${hexRaw(this.end, 8)}] (${mb}MB) mapped at [${va(this.s.start)}-${va(this.end - 1n)}]`);
      return;
    }
    this.kernel.log('info', `software IO TLB: mapped [mem 0x${hexRaw(this.s.start, 16)}-0x${hexRaw(this.end, 16)}] (${mb}MB)`);
  }

  /** swiotlb_exit() / swiotlb_free(): an IOMMU took over; the pool goes back to the page allocator. */
  swiotlbExit(): void {
    if (!this.active) return;
    const bytes = Math.ceil((this.s.nslabs * IO_TLB_SIZE) / PAGE_SIZE) * PAGE_SIZE;
    this.pages.free(this.s.start, bytes / PAGE_SIZE);
    this.s.start = 0n;
    this.s.nslabs = 0;
    this.s.list = new Int32Array(0);
    this.s.orig = new Float64Array(0);
    this.s.allocSize = new Int32Array(0);
  }

  /** is_swiotlb_active(). */
  get active(): boolean {
    return this.s.nslabs > 0;
  }
  /** is_swiotlb_force_bounce(). */
  get forceBounce(): boolean {
    return this.active && this.s.forceBounce;
  }
  get start(): u64 {
    return this.s.start;
  }
  /** mem->end: start + bytes (exclusive). */
  get end(): u64 {
    return this.s.start + BigInt(this.s.nslabs * IO_TLB_SIZE);
  }
  get nslabs(): number {
    return this.s.nslabs;
  }
  get used(): number {
    return this.s.used;
  }

  /** is_swiotlb_buffer(). */
  isSwiotlbBuffer(pa: u64): boolean {
    return this.active && pa >= this.s.start && pa < this.end;
  }

  /** iommu_is_span_boundary(): would [index, index+nr) cross a boundary of `boundarySize` slots? */
  private static spanBoundary(index: number, nr: number, shift: number, boundarySize: number): boolean {
    const off = (shift + index) % boundarySize;
    return off + nr > boundarySize;
  }

  /**
   * swiotlb_area_find_slots(): next-fit from the area index. Buffers of a
   * page or more need a slot whose address matches the original's bit 11
   * (page-aligned for page-aligned buffers), as current swiotlb.c asks.
   */
  private findSlots(origAddr: u64, allocSize: number, segBoundary: u64): number {
    const s = this.s;
    const nslots = Math.ceil(allocSize / IO_TLB_SIZE);
    if (nslots === 0 || nslots > s.nslabs - s.used) return -1;
    let alignMask = 0;
    if (allocSize >= PAGE_SIZE) alignMask |= PAGE_SIZE - 1;
    alignMask &= ~(IO_TLB_SIZE - 1);
    const stride = (alignMask >> IO_TLB_SHIFT) + 1;
    const maxSlots = segBoundary >= U64_MAX >> 1n ? Infinity : Number((segBoundary >> BigInt(IO_TLB_SHIFT)) + 1n);
    const tblSlotOffset = Number(((s.start & segBoundary) + BigInt(IO_TLB_SIZE) - 1n) >> BigInt(IO_TLB_SHIFT));
    const origBits = Number(origAddr & BigInt(alignMask));
    let index = s.index;
    for (let checked = 0; checked < s.nslabs; ) {
      const slotAddrBits = Number((s.start + BigInt(index * IO_TLB_SIZE)) & BigInt(alignMask));
      if (slotAddrBits !== origBits) {
        index = index + 1 >= s.nslabs ? 0 : index + 1;
        checked++;
        continue;
      }
      if (maxSlots === Infinity || !Swiotlb.spanBoundary(index, nslots, tblSlotOffset, maxSlots)) {
        if (s.list[index]! >= nslots) {
          for (let i = index; i < index + nslots; i++) {
            s.list[i] = 0;
            s.allocSize[i] = allocSize - (i - index) * IO_TLB_SIZE;
          }
          let count = 0;
          for (let i = index - 1; i >= 0 && (i & (IO_TLB_SEGSIZE - 1)) !== IO_TLB_SEGSIZE - 1 && s.list[i]! > 0; i--) s.list[i] = ++count;
          s.index = index + nslots >= s.nslabs ? 0 : index + nslots;
          s.used += nslots;
          return index;
        }
      }
      index = index + stride >= s.nslabs ? 0 : index + stride;
      checked += stride;
    }
    return -1;
  }

  /** swiotlb_release_slots(): give the slots back, merging with free neighbours. */
  private releaseSlots(tlbAddr: u64): void {
    const s = this.s;
    const index = Number((tlbAddr - s.start) >> BigInt(IO_TLB_SHIFT));
    const nslots = Math.ceil(s.allocSize[index]! / IO_TLB_SIZE);
    let count = index + nslots < Math.ceil((index + 1) / IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE ? s.list[index + nslots]! : 0;
    for (let i = index + nslots - 1; i >= index; i--) {
      s.list[i] = ++count;
      s.orig[i] = INVALID;
      s.allocSize[i] = 0;
    }
    for (let i = index - 1; i >= 0 && (i & (IO_TLB_SEGSIZE - 1)) !== IO_TLB_SEGSIZE - 1 && s.list[i]! > 0; i--) s.list[i] = ++count;
    s.used -= nslots;
  }

  /** swiotlb_bounce(): copy between the original buffer and the slot, in simulated memory. */
  private bounce(dev: KDevice, tlbAddr: u64, size: number, dir: 'to-device' | 'from-device', why: SwiotlbBounce['why']): void {
    const s = this.s;
    const index = Number((tlbAddr - s.start) >> BigInt(IO_TLB_SHIFT));
    const orig0 = s.orig[index]!;
    if (orig0 === INVALID) return;
    const tlbOffset = Number(tlbAddr & BigInt(IO_TLB_SIZE - 1));
    let allocSize = s.allocSize[index]!;
    if (tlbOffset > allocSize) {
      this.kernel.log('warn', `${devPrefix(dev)}Buffer overflow detected. Allocation size: ${allocSize}. Mapping size: ${size}+${tlbOffset}.`);
      return;
    }
    const orig = BigInt(orig0) + BigInt(tlbOffset);
    allocSize -= tlbOffset;
    if (size > allocSize) {
      this.kernel.log('warn', `${devPrefix(dev)}Buffer overflow detected. Allocation size: ${allocSize}. Mapping size: ${size}.`);
      size = allocSize;
    }
    if (size <= 0) return;
    const mem = this.cpu ?? this.memory;
    if (dir === 'to-device') {
      mem.write(tlbAddr, mem.read(orig, size));
      s.stats.bouncesToDevice++;
      s.stats.bytesToDevice += size;
    } else {
      mem.write(orig, mem.read(tlbAddr, size));
      s.stats.bouncesFromDevice++;
      s.stats.bytesFromDevice += size;
    }
    s.log.push({ seq: s.seq++, dev: dev.name, dir, orig, tlb: tlbAddr, len: size, why });
    // The copy is CPU work, but it is part of the device's DMA: the trace shows it in line.
    this.onBounce?.(dev, dir === 'to-device' ? orig : tlbAddr, dir === 'to-device' ? tlbAddr : orig, size, why);
    if (s.log.length > SWIOTLB_LOG_CAPACITY) s.log.shift();
  }

  /**
   * swiotlb_tbl_map_single(): take slots for `size` bytes of the buffer at
   * origAddr and copy it in. Returns the slot's physical address, or
   * DMA_MAPPING_ERROR when the pool is missing or full.
   */
  tblMapSingle(dev: KDevice, origAddr: u64, size: number, dir: DmaDirection, segBoundary: u64 = U64_MAX): u64 {
    const s = this.s;
    if (!this.active) {
      this.kernel.log('warn', `${devPrefix(dev)}Can not allocate SWIOTLB buffer earlier and can't now provide you with the DMA bounce buffer`);
      return DMA_MAPPING_ERROR;
    }
    const index = this.findSlots(origAddr, size, segBoundary);
    if (index < 0) {
      s.stats.full++;
      this.kernel.log('warn', `${devPrefix(dev)}swiotlb buffer is full (sz: ${size} bytes), total ${s.nslabs} (slots), used ${s.used} (slots)`);
      return DMA_MAPPING_ERROR;
    }
    const nslots = Math.ceil(size / IO_TLB_SIZE);
    for (let i = 0; i < nslots; i++) s.orig[index + i] = Number(origAddr) + i * IO_TLB_SIZE;
    const tlb = s.start + BigInt(index * IO_TLB_SIZE);
    s.stats.maps++;
    if (this.version >= 600 || dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL) this.bounce(dev, tlb, size, 'to-device', 'map');
    return tlb;
  }

  /** swiotlb_tbl_unmap_single(): copy back (FROM_DEVICE / BIDIRECTIONAL) unless skipped, free the slots. */
  tblUnmapSingle(dev: KDevice, tlbAddr: u64, size: number, dir: DmaDirection, skipCpuSync = false): void {
    if (!skipCpuSync && (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL)) this.bounce(dev, tlbAddr, size, 'from-device', 'unmap');
    this.releaseSlots(tlbAddr);
    this.s.stats.unmaps++;
  }

  /** swiotlb_sync_single_for_device(): original -> slot for TO_DEVICE / BIDIRECTIONAL. */
  syncSingleForDevice(dev: KDevice, tlbAddr: u64, size: number, dir: DmaDirection): void {
    if (dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL) this.bounce(dev, tlbAddr, size, 'to-device', 'sync_for_device');
  }

  /** swiotlb_sync_single_for_cpu(): slot -> original for FROM_DEVICE / BIDIRECTIONAL. */
  syncSingleForCpu(dev: KDevice, tlbAddr: u64, size: number, dir: DmaDirection, why: 'sync_for_cpu' | 'unmap' = 'sync_for_cpu'): void {
    if (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL) this.bounce(dev, tlbAddr, size, 'from-device', why);
  }

  /** The original buffer address behind a slot address (what unmap copies back to). */
  origOf(tlbAddr: u64): u64 | undefined {
    if (!this.isSwiotlbBuffer(tlbAddr)) return undefined;
    const index = Number((tlbAddr - this.s.start) >> BigInt(IO_TLB_SHIFT));
    const o = this.s.orig[index]!;
    return o === INVALID ? undefined : BigInt(o) + (tlbAddr & BigInt(IO_TLB_SIZE - 1));
  }

  bounceLog(): readonly SwiotlbBounce[] {
    return this.s.log;
  }

  stats(): Readonly<SwiotlbStats> {
    return this.s.stats;
  }

  saveState(): unknown {
    return clone(this.s);
  }

  restoreState(state: unknown): void {
    this.s = clone(state as SwiotlbState);
  }
}
