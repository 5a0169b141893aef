/**
 * Direct DMA mapping, after linux kernel/dma/direct.c and
 * include/linux/dma-direct.h: no IOMMU in the path, the DMA address is the
 * physical address (shifted by a dma-ranges offset where firmware gave one),
 * and a buffer the device cannot reach is bounced through swiotlb.
 *
 *   dma_direct_map_page(pa):
 *     dma = phys_to_dma(pa)
 *     swiotlb force?                 -> bounce            (REFERENCE.md 5.4)
 *     !dma_capable(dma, size)?       -> bounce if swiotlb is active, else
 *                                       WARN "DMA addr ... overflow" + DMA_MAPPING_ERROR
 *     device not coherent?           -> arch_sync_dma_for_device
 *
 * Cache maintenance follows arm64 (arch-dma.ts, REFERENCE.md 5.1): for_device
 * cleans in every direction, for_cpu invalidates unless the direction is
 * TO_DEVICE. It is counted always, and done on the machine's CPU cache when
 * the machine models one (a device marked non-coherent: `vda.coherent=no`).
 * On a swiotlb bounce the maintenance is on the slot, and the copy itself is
 * a CPU copy (through the cache): kernel/dma/direct.h orders it
 * for_cpu: invalidate the slot, then copy slot -> buffer;
 * for_device: copy buffer -> slot, then clean the slot.
 */
import { type u64, add, hexRaw, minNotZero, U64_MAX, PAGE_SIZE } from '../machine/u64.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import type { CpuCache } from '../machine/cache.ts';
import { archDmaPrepCoherent, archSyncDmaForCpu, archSyncDmaForDevice, type CacheOp } from './arch-dma.ts';
import { clone, type Stateful } from '../machine/state.ts';
import type { Kernel } from './kernel.ts';
import type { PageAllocator } from './page-alloc.ts';
import type { Swiotlb } from './swiotlb.ts';
import { DMA_MAPPING_ERROR, DMA_TO_DEVICE, type DmaDirection, type DmaSegment, type KDevice, type SgEntry } from './types.ts';
import { devPrefix } from './iommu.ts';

/**
 * phys_to_dma() / translate_phys_to_dma(): through dev->dma_range_map when
 * there is one; a physical address outside every range has no DMA address
 * (DMA_MAPPING_ERROR, which dma_capable() then refuses).
 */
export function physToDma(dev: KDevice, pa: u64): u64 {
  const map = dev.dmaRangeMap;
  if (!map || map.length === 0) return pa;
  for (const m of map) if (pa >= m.cpuStart && pa - m.cpuStart < m.size) return m.dmaStart + (pa - m.cpuStart);
  return DMA_MAPPING_ERROR;
}

/** dma_to_phys() / translate_dma_to_phys(); U64_MAX when outside every range. */
export function dmaToPhys(dev: KDevice, dma: u64): u64 {
  const map = dev.dmaRangeMap;
  if (!map || map.length === 0) return dma;
  for (const m of map) if (dma >= m.dmaStart && dma - m.dmaStart < m.size) return m.cpuStart + (dma - m.dmaStart);
  return U64_MAX;
}

/**
 * dma_capable() (include/linux/dma-direct.h, REFERENCE.md 5.2): the last
 * byte must be at or below min_not_zero(*dma_mask, bus_dma_limit), and the
 * address must not be DMA_MAPPING_ERROR (current kernels). The 32-bit
 * dma_addr_t low-memory check does not apply: dma_addr_t is 64-bit here.
 * Note end = addr + size - 1 is computed in u64, as in C.
 */
export function dmaCapable(dev: KDevice, addr: u64, size: number): boolean {
  if (addr === DMA_MAPPING_ERROR) return false;
  const end = add(addr, BigInt(size) - 1n);
  return end <= minNotZero(dev.dmaMask, dev.busDmaLimit);
}

/** dma_direct_supported(): 32-bit and wider masks always; narrower ones must cover RAM's lowest zone. */
export function dmaDirectSupported(mask: u64, lowestRamTop: u64 = 0xffff_ffffn): boolean {
  if (mask >= 0xffff_ffffn) return true;
  return mask >= lowestRamTop;
}

export interface DmaDirectStats {
  maps: number;
  unmaps: number;
  /** Mappings that went through swiotlb. */
  bounced: number;
  mapErrors: number;
  allocs: number;
  frees: number;
  /** arch_sync_dma_for_device on non-coherent devices (arm64: clean). */
  cacheCleans: number;
  /** arch_sync_dma_for_cpu on non-coherent devices (arm64: invalidate unless TO_DEVICE). */
  cacheInvalidates: number;
}

interface DirectState {
  stats: DmaDirectStats;
  /** dev_WARN_ONCE in dma_direct_map_page fired already. */
  warnedOverflow: boolean;
}

export class DmaDirect implements Stateful {
  private s: DirectState = {
    stats: { maps: 0, unmaps: 0, bounced: 0, mapErrors: 0, allocs: 0, frees: 0, cacheCleans: 0, cacheInvalidates: 0 },
    warnedOverflow: false,
  };

  constructor(
    private readonly kernel: Kernel,
    private readonly memory: PhysicalMemory,
    private readonly pages: PageAllocator,
    readonly swiotlb?: Swiotlb,
  ) {}

  /** The machine's CPU cache, when it models one (set at boot). */
  cpuCache: CpuCache | undefined;
  /** Told of each cache maintenance operation (DmaMapping collects them for the commands). */
  onCacheOp?: (op: CacheOp) => void;

  private archSyncForDevice(dev: KDevice, pa: u64, size: number, dir: DmaDirection): void {
    if (dev.coherent) return;
    this.s.stats.cacheCleans++;
    this.onCacheOp?.(archSyncDmaForDevice(this.cpuCache, pa, size, dir));
  }

  private archSyncForCpu(dev: KDevice, pa: u64, size: number, dir: DmaDirection): void {
    if (dev.coherent || dir === DMA_TO_DEVICE) return;
    this.s.stats.cacheInvalidates++;
    const op = archSyncDmaForCpu(this.cpuCache, pa, size, dir);
    if (op) this.onCacheOp?.(op);
  }

  /**
   * swiotlb_map() (kernel/dma/swiotlb.c; kept here because it needs
   * phys_to_dma and dma_capable): bounce, then check the slot is reachable.
   */
  swiotlbMap(dev: KDevice, pa: u64, size: number, dir: DmaDirection, segBoundary: u64 = U64_MAX): u64 {
    const tlb = this.swiotlb!.tblMapSingle(dev, pa, size, dir, segBoundary);
    if (tlb === DMA_MAPPING_ERROR) return DMA_MAPPING_ERROR;
    const dma = physToDma(dev, tlb);
    if (!dmaCapable(dev, dma, size)) {
      this.swiotlb!.tblUnmapSingle(dev, tlb, size, dir, true);
      this.kernel.log('warn', `${devPrefix(dev)}swiotlb addr 0x${hexRaw(dma, 16)}+${size} overflow (mask ${hexRaw(dev.dmaMask)}, bus limit ${hexRaw(dev.busDmaLimit)}).`);
      return DMA_MAPPING_ERROR;
    }
    this.s.stats.bounced++;
    this.archSyncForDevice(dev, tlb, size, dir);
    return dma;
  }

  /** dma_direct_map_page(). Returns the DMA address or DMA_MAPPING_ERROR. */
  mapPage(dev: KDevice, pa: u64, size: number, dir: DmaDirection, segBoundary: u64 = U64_MAX): u64 {
    const dma = physToDma(dev, pa);
    const sw = this.swiotlb;
    let r: u64;
    if (sw?.forceBounce) r = this.swiotlbMap(dev, pa, size, dir, segBoundary);
    else if (!dmaCapable(dev, dma, size)) {
      if (sw?.active) r = this.swiotlbMap(dev, pa, size, dir, segBoundary);
      else {
        if (!this.s.warnedOverflow) {
          this.s.warnedOverflow = true;
          this.kernel.log('warn', `${devPrefix(dev)}DMA addr 0x${hexRaw(dma, 16)}+${size} overflow (mask ${hexRaw(dev.dmaMask)}, bus limit ${hexRaw(dev.busDmaLimit)}).`);
        }
        r = DMA_MAPPING_ERROR;
      }
    } else {
      this.archSyncForDevice(dev, pa, size, dir);
      r = dma;
    }
    if (r === DMA_MAPPING_ERROR) this.s.stats.mapErrors++;
    else this.s.stats.maps++;
    return r;
  }

  /** dma_direct_unmap_page(): sync for the CPU (copies a bounce back), then free the slots. */
  unmapPage(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    const pa = dmaToPhys(dev, dma);
    // Linux syncs for the CPU first (the copy back), then releases the slots with SKIP_CPU_SYNC.
    this.archSyncForCpu(dev, pa, size, dir);
    if (this.swiotlb?.isSwiotlbBuffer(pa)) this.swiotlb.syncSingleForCpu(dev, pa, size, dir, 'unmap');
    if (this.swiotlb?.isSwiotlbBuffer(pa)) this.swiotlb.tblUnmapSingle(dev, pa, size, dir, true);
    this.s.stats.unmaps++;
  }

  /** dma_direct_sync_single_for_cpu(). */
  syncSingleForCpu(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    const pa = dmaToPhys(dev, dma);
    this.archSyncForCpu(dev, pa, size, dir);
    if (this.swiotlb?.isSwiotlbBuffer(pa)) this.swiotlb.syncSingleForCpu(dev, pa, size, dir);
  }

  /** dma_direct_sync_single_for_device(). */
  syncSingleForDevice(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    const pa = dmaToPhys(dev, dma);
    if (this.swiotlb?.isSwiotlbBuffer(pa)) this.swiotlb.syncSingleForDevice(dev, pa, size, dir);
    this.archSyncForDevice(dev, pa, size, dir);
  }

  /** dma_direct_map_sg(): one segment per entry, no merging; all or nothing. */
  mapSg(dev: KDevice, sg: SgEntry[], dir: DmaDirection, segBoundary: u64 = U64_MAX): DmaSegment[] {
    const out: DmaSegment[] = [];
    for (const e of sg) {
      const dma = this.mapPage(dev, e.pa, e.len, dir, segBoundary);
      if (dma === DMA_MAPPING_ERROR) {
        out.forEach((s) => this.unmapPage(dev, s.dma, s.len, dir));
        return [];
      }
      out.push({ dma, len: e.len });
    }
    return out;
  }

  unmapSg(dev: KDevice, segs: DmaSegment[], dir: DmaDirection): void {
    for (const s of segs) this.unmapPage(dev, s.dma, s.len, dir);
  }

  /**
   * dma_direct_alloc(): zeroed pages the device reaches with its coherent
   * mask (the zone fallbacks of __dma_direct_alloc_pages collapse to "below
   * the limit" for the page allocator).
   */
  alloc(dev: KDevice, size: number): { pa: u64; dma: u64 } | undefined {
    const limitDma = minNotZero(dev.coherentDmaMask, dev.busDmaLimit);
    const limit = dmaToPhys(dev, limitDma);
    const n = Math.max(1, Math.ceil(size / PAGE_SIZE));
    let pa: u64;
    try {
      pa = limit >= U64_MAX ? this.pages.alloc(n) : this.pages.alloc(n, limit);
    } catch {
      return undefined;
    }
    const dma = physToDma(dev, pa);
    if (!dmaCapable({ ...dev, dmaMask: dev.coherentDmaMask }, dma, size)) {
      this.pages.free(pa, n);
      return undefined;
    }
    // No stale line may hide the zeroes: the CPU zeroes through its cache on a
    // coherent device (modelled as a flush, then RAM); for a non-coherent one
    // arch_dma_prep_coherent flushes and the buffer is remapped non-cacheable.
    const bytes = n * PAGE_SIZE;
    if (dev.coherent) this.cpuCache?.cleanInvalidate(pa, bytes);
    else {
      this.onCacheOp?.(archDmaPrepCoherent(this.cpuCache, pa, bytes));
      this.cpuCache?.setUncached(pa, bytes, true);
    }
    this.memory.fill(pa, BigInt(bytes), 0);
    this.s.stats.allocs++;
    return { pa, dma };
  }

  /** dma_direct_free(). */
  free(dev: KDevice, size: number, pa: u64): void {
    if (!dev.coherent) this.cpuCache?.setUncached(pa, Math.max(1, Math.ceil(size / PAGE_SIZE)) * PAGE_SIZE, false);
    this.pages.free(pa, Math.max(1, Math.ceil(size / PAGE_SIZE)));
    this.s.stats.frees++;
  }

  stats(): Readonly<DmaDirectStats> {
    return this.s.stats;
  }

  saveState(): unknown {
    return clone(this.s);
  }

  restoreState(state: unknown): void {
    this.s = clone(state as DirectState);
  }
}
