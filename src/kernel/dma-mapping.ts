/**
 * The DMA API a driver calls (include/linux/dma-mapping.h,
 * kernel/dma/mapping.c), dispatched per device: `dev.dmaOps === 'iommu'`
 * goes to iommu-dma (dma-iommu.ts) in the device's group default domain,
 * `'direct'` to dma-direct with swiotlb (dma-direct.ts).
 *
 * Who decides the ops: dmaConfigure(), called when a driver binds
 * (drivers/base/dd.c really_probe -> dma_configure -> of/acpi_dma_configure
 * -> arch_setup_dma_ops / iommu_setup_dma_ops). A device behind an IOMMU
 * whose group has a DMA or DMA-FQ default domain gets iommu-dma if
 * iommu_dma_init_domain accepts its DMA range; otherwise (no IOMMU,
 * identity domain, or the seed-003 failure) it keeps dma-direct.
 *
 * Errors follow the kernel: DMA_MAPPING_ERROR from the map calls (test with
 * dmaMappingError()), an empty segment list from mapSg, undefined from
 * allocCoherent, -EIO from dmaSetMask.
 *
 * Counters for a cost model (maps, unmaps, IOTLB invalidations, bounces)
 * are plain state here and in the layers below; stats() adds them up, and
 * devStats() splits them per device (kernel/cost.ts reads both).
 */
import { type u64, U64_MAX } from '../machine/u64.ts';
import { clone, type Stateful } from '../machine/state.ts';
import type { Kernel } from './kernel.ts';
import type { IommuCore } from './iommu.ts';
import { EIO } from './iommu.ts';
import type { IommuDma } from './dma-iommu.ts';
import { type DmaDirect, dmaDirectSupported } from './dma-direct.ts';
import type { DmaDebug } from './dma-debug.ts';
import type { CacheOp } from './arch-dma.ts';
import { DMA_BIDIRECTIONAL, DMA_MAPPING_ERROR, type DmaApi, type DmaDirection, type DmaSegment, type KDevice, type SgEntry } from './types.ts';

/** dma_mapping_error(). */
export const dmaMappingError = (addr: u64): boolean => addr === DMA_MAPPING_ERROR;

/** Default dma_parms: 64 KiB segments (dma_get_max_seg_size); PCI's boundary is 4 GiB, others none. */
export const DEFAULT_MAX_SEG_SIZE = 65536;

export interface DmaMappingStats {
  maps: number;
  unmaps: number;
  mapErrors: number;
  sgMaps: number;
  sgSegments: number;
  allocs: number;
  frees: number;
  syncsForCpu: number;
  syncsForDevice: number;
  /** From the layers below. */
  iotlbSyncs: number;
  iotlbFlushAlls: number;
  bounces: number;
  bounceBytes: number;
  cacheCleans: number;
  cacheInvalidates: number;
}

/**
 * One device's share of the DMA API's work, for a cost model
 * (kernel/cost.ts). The layers below count globally; each call here
 * charges the device with the difference it made to their counters, so a
 * flush-queue drain that one device's unmap triggers is charged to it.
 */
export interface DmaDevStats {
  /** Successful map calls (single, sg, coherent alloc) and unmap/free calls. */
  maps: number;
  unmaps: number;
  mapErrors: number;
  /** Of the map and unmap calls, those iommu-dma served (the rest: dma-direct). */
  iommuMaps: number;
  iommuUnmaps: number;
  /** Strict unmaps: iommu_iotlb_sync (a range invalidation and its sync). */
  iotlbSyncs: number;
  /** IOVAs queued in a flush queue, and the queue drains (flush_iotlb_all) its unmaps set off. */
  fqQueued: number;
  fqFlushes: number;
  /** swiotlb copies and their bytes. */
  bounces: number;
  bounceBytes: number;
}

export const newDmaDevStats = (): DmaDevStats => ({ maps: 0, unmaps: 0, mapErrors: 0, iommuMaps: 0, iommuUnmaps: 0, iotlbSyncs: 0, fqQueued: 0, fqFlushes: 0, bounces: 0, bounceBytes: 0 });

interface DevParms {
  maxSegSize?: number;
  segBoundary?: u64;
}

interface MappingState {
  stats: Omit<DmaMappingStats, 'iotlbSyncs' | 'iotlbFlushAlls' | 'bounces' | 'bounceBytes' | 'cacheCleans' | 'cacheInvalidates'>;
  parms: Record<string, DevParms>;
  /** Per device (dev_name), see DmaDevStats. */
  byDev?: Record<string, DmaDevStats>;
}

export interface DmaConfigureOptions {
  /** The driver binding (its name prefixes dev_* messages: "ixgbevf 0000:81:10.0: ..."). */
  driver?: string;
  /** The driver manages DMA itself (vfio-pci: driver_managed_dma): no DMA-API ownership of the group. */
  driverManagedDma?: boolean;
  /**
   * Pre-v4.12 binds (kernel/driver-core.ts): false = DMA was configured when
   * the device was created, so this bind only records the driver (no ops change).
   */
  setupOps?: boolean;
  /** The DMA range to hand iommu_dma_init_domain instead of one computed from the masks now (pre-v4.12: the creation-time range). */
  range?: { base: u64; size: u64; limit: u64 };
}

export class DmaMapping implements DmaApi, Stateful {
  private s: MappingState = {
    stats: { maps: 0, unmaps: 0, mapErrors: 0, sgMaps: 0, sgSegments: 0, allocs: 0, frees: 0, syncsForCpu: 0, syncsForDevice: 0 },
    parms: {},
    byDev: {},
  };

  /** CONFIG_DMA_API_DEBUG (dma-debug.ts), when the kernel was built with it. */
  debug: DmaDebug | undefined;
  /**
   * Cache maintenance done for non-coherent devices since the last
   * takeCacheOps() (not state: the commands read it right after a call).
   */
  private cacheOps: CacheOp[] = [];

  constructor(
    readonly kernel: Kernel,
    readonly direct: DmaDirect,
    readonly iommuDma?: IommuDma,
    readonly core?: IommuCore,
  ) {
    const collect = (op: CacheOp): void => {
      this.cacheOps.push(op);
      if (this.cacheOps.length > 256) this.cacheOps.shift();
    };
    direct.onCacheOp = collect;
    if (iommuDma) iommuDma.onCacheOp = collect;
  }

  /** The cache maintenance operations since the last call (and forget them). */
  takeCacheOps(): CacheOp[] {
    const r = this.cacheOps;
    this.cacheOps = [];
    return r;
  }

  // ---- configuration at bind ------------------------------------------------------

  /**
   * dma_configure() at driver bind: take DMA-API ownership of the group
   * (unless the driver manages DMA), then install the ops. Returns 0, or
   * -EBUSY when a user (VFIO) owns the group. Logs what Linux logs on a
   * failed setup (dma-iommu.ts iommuSetupDmaOps).
   */
  dmaConfigure(dev: KDevice, opts: DmaConfigureOptions = {}): number {
    const core = this.core;
    if (core && this.iommuDma && core.groupOf(dev) !== undefined) {
      const r = core.deviceBind(dev, opts.driver ?? 'driver', opts.driverManagedDma ?? false);
      if (r < 0) return r;
      if (opts.setupOps !== false) this.iommuDma.iommuSetupDmaOps(dev, opts.range);
    } else if (opts.setupOps !== false) {
      dev.dmaOps = 'direct';
    }
    return 0;
  }

  /** dma_deconfigure / driver release: drop DMA-API ownership. Masks are left as they are (REFERENCE.md 5.2, seed 003). */
  dmaDeconfigure(dev: KDevice): void {
    this.core?.deviceUnbind(dev);
  }

  /** dma_set_mask(): -EIO when unsupported; the mask is truncated to 64 bits. */
  dmaSetMask(dev: KDevice, mask: u64): number {
    mask &= U64_MAX;
    if (!this.dmaSupported(dev, mask)) return -EIO;
    dev.dmaMask = mask;
    return 0;
  }

  /** dma_set_coherent_mask(). */
  dmaSetCoherentMask(dev: KDevice, mask: u64): number {
    mask &= U64_MAX;
    if (!this.dmaSupported(dev, mask)) return -EIO;
    dev.coherentDmaMask = mask;
    return 0;
  }

  /** dma_set_mask_and_coherent(). */
  dmaSetMaskAndCoherent(dev: KDevice, mask: u64): number {
    const r = this.dmaSetMask(dev, mask);
    return r === 0 ? this.dmaSetCoherentMask(dev, mask) : r;
  }

  /** dma_supported(): iommu-dma takes any mask; dma-direct needs 32 bits (or all of RAM's lowest zone). */
  dmaSupported(dev: KDevice, mask: u64): boolean {
    return dev.dmaOps === 'iommu' ? true : dmaDirectSupported(mask);
  }

  dmaGetMask(dev: KDevice): u64 {
    return dev.dmaMask;
  }

  dmaMappingError(addr: u64): boolean {
    return dmaMappingError(addr);
  }

  /** dma_mapping_error(dev, addr) as a driver calls it: dma-debug notes that the driver checked. */
  mappingError(dev: KDevice, addr: u64): boolean {
    this.debug?.mappingError(dev, addr);
    return dmaMappingError(addr);
  }

  /** dma_set_max_seg_size() / dma_set_seg_boundary(). */
  dmaSetMaxSegSize(dev: KDevice, size: number): void {
    (this.s.parms[dev.name] ??= {}).maxSegSize = size;
  }
  dmaSetSegBoundary(dev: KDevice, mask: u64): void {
    (this.s.parms[dev.name] ??= {}).segBoundary = mask;
  }
  dmaGetMaxSegSize(dev: KDevice): number {
    return this.s.parms[dev.name]?.maxSegSize ?? DEFAULT_MAX_SEG_SIZE;
  }
  /** dma_get_seg_boundary(): PCI devices default to 4 GiB (pci_device_add), others to ULONG_MAX. */
  dmaGetSegBoundary(dev: KDevice): u64 {
    return this.s.parms[dev.name]?.segBoundary ?? (dev.pci ? 0xffff_ffffn : U64_MAX);
  }

  private viaIommu(dev: KDevice): boolean {
    return dev.dmaOps === 'iommu' && this.iommuDma !== undefined;
  }

  /** The lower layers' counters a device's call can move. */
  private lowerCounters(): [number, number, number, number, number] {
    const i = this.iommuDma?.stats();
    const sw = this.direct.swiotlb?.stats();
    return [
      i?.iotlbSyncs ?? 0,
      i?.fqQueued ?? 0,
      i?.flushAlls ?? 0,
      (sw?.bouncesToDevice ?? 0) + (sw?.bouncesFromDevice ?? 0),
      (sw?.bytesToDevice ?? 0) + (sw?.bytesFromDevice ?? 0),
    ];
  }

  /** Run one DMA API call and charge `dev` with what it did (DmaDevStats). */
  private charge<T>(dev: KDevice, kind: 'map' | 'unmap' | 'sync', fn: () => T, failed: (r: T) => boolean = () => false): T {
    const iommu = this.viaIommu(dev);
    const before = this.lowerCounters();
    const r = fn();
    const after = this.lowerCounters();
    const d = ((this.s.byDev ??= {})[dev.name] ??= newDmaDevStats());
    if (kind === 'map') {
      if (failed(r)) d.mapErrors++;
      else {
        d.maps++;
        if (iommu) d.iommuMaps++;
      }
    } else if (kind === 'unmap') {
      d.unmaps++;
      if (iommu) d.iommuUnmaps++;
    }
    d.iotlbSyncs += after[0] - before[0];
    d.fqQueued += after[1] - before[1];
    d.fqFlushes += after[2] - before[2];
    d.bounces += after[3] - before[3];
    d.bounceBytes += after[4] - before[4];
    return r;
  }

  /** Per-device counters (dev_name -> DmaDevStats). */
  devStats(): Readonly<Record<string, Readonly<DmaDevStats>>> {
    return this.s.byDev ?? {};
  }

  // ---- the DmaApi ---------------------------------------------------------------------

  /** dma_map_single() / dma_map_page(). */
  mapSingle(dev: KDevice, pa: u64, size: number, dir: DmaDirection): u64 {
    const r = this.charge(dev, 'map', () => (this.viaIommu(dev) ? this.iommuDma!.mapPage(dev, pa, size, dir) : this.direct.mapPage(dev, pa, size, dir, this.dmaGetSegBoundary(dev))), (x) => x === DMA_MAPPING_ERROR);
    if (r === DMA_MAPPING_ERROR) this.s.stats.mapErrors++;
    else this.s.stats.maps++;
    this.debug?.mapPage(dev, pa, size, dir, r);
    return r;
  }

  /** dma_unmap_single() / dma_unmap_page(): only the DMA address is given (REFERENCE.md 5.1). */
  unmapSingle(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    // debug_dma_unmap_page() runs after the unmap in Linux; its report does not depend on the order.
    this.debug?.unmap(dev, 'single', dma, size, dir);
    this.charge(dev, 'unmap', () => (this.viaIommu(dev) ? this.iommuDma!.unmapPage(dev, dma, size, dir) : this.direct.unmapPage(dev, dma, size, dir)));
    this.s.stats.unmaps++;
  }

  /** dma_map_sg(): the DMA segments (iommu-dma merges; dma-direct maps one per entry); [] on error. */
  mapSg(dev: KDevice, sg: SgEntry[], dir: DmaDirection): DmaSegment[] {
    const segs = this.charge(
      dev,
      'map',
      () => (this.viaIommu(dev) ? this.iommuDma!.mapSg(dev, sg, dir, this.dmaGetMaxSegSize(dev), this.dmaGetSegBoundary(dev)) : this.direct.mapSg(dev, sg, dir, this.dmaGetSegBoundary(dev))),
      (x) => x.length === 0,
    );
    if (segs.length === 0) this.s.stats.mapErrors++;
    else {
      this.s.stats.sgMaps++;
      this.s.stats.sgSegments += segs.length;
    }
    this.debug?.mapSg(dev, sg, segs, dir, this.dmaGetMaxSegSize(dev), this.dmaGetSegBoundary(dev));
    return segs;
  }

  /** dma_unmap_sg(). */
  unmapSg(dev: KDevice, segs: DmaSegment[], sg: SgEntry[], dir: DmaDirection): void {
    for (const s of segs) this.debug?.unmap(dev, 'scather-gather', s.dma, s.len, dir, sg.length);
    this.charge(dev, 'unmap', () => (this.viaIommu(dev) ? this.iommuDma!.unmapSg(dev, segs, dir) : this.direct.unmapSg(dev, segs, dir)));
    this.s.stats.unmaps++;
  }

  /** dma_alloc_coherent(): limited by the coherent mask. */
  allocCoherent(dev: KDevice, size: number): { pa: u64; dma: u64 } | undefined {
    const r = this.charge(dev, 'map', () => (this.viaIommu(dev) ? this.iommuDma!.alloc(dev, size) : this.direct.alloc(dev, size)), (x) => x === undefined);
    if (r) {
      this.s.stats.allocs++;
      this.debug?.allocCoherent(dev, size, r.pa, r.dma);
    } else this.s.stats.mapErrors++;
    return r;
  }

  /** dma_free_coherent(). */
  freeCoherent(dev: KDevice, size: number, pa: u64, dma: u64): void {
    this.debug?.unmap(dev, 'coherent', dma, size, DMA_BIDIRECTIONAL);
    this.charge(dev, 'unmap', () => (this.viaIommu(dev) ? this.iommuDma!.free(dev, size, pa, dma) : this.direct.free(dev, size, pa)));
    this.s.stats.frees++;
  }

  /** dma_sync_single_for_cpu(): the CPU owns the buffer afterwards. */
  syncSingleForCpu(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    this.debug?.sync(dev, dma, size, dir, true);
    this.charge(dev, 'sync', () => (this.viaIommu(dev) ? this.iommuDma!.syncSingleForCpu(dev, dma, size, dir) : this.direct.syncSingleForCpu(dev, dma, size, dir)));
    this.s.stats.syncsForCpu++;
  }

  /** dma_sync_single_for_device(): the device owns the buffer afterwards. */
  syncSingleForDevice(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    this.debug?.sync(dev, dma, size, dir, false);
    this.charge(dev, 'sync', () => (this.viaIommu(dev) ? this.iommuDma!.syncSingleForDevice(dev, dma, size, dir) : this.direct.syncSingleForDevice(dev, dma, size, dir)));
    this.s.stats.syncsForDevice++;
  }

  /** Everything a cost model needs, added up across the layers. */
  stats(): DmaMappingStats {
    const d = this.direct.stats();
    const i = this.iommuDma?.stats();
    const sw = this.direct.swiotlb?.stats();
    return {
      ...this.s.stats,
      iotlbSyncs: i?.iotlbSyncs ?? 0,
      iotlbFlushAlls: i?.flushAlls ?? 0,
      bounces: (sw?.bouncesToDevice ?? 0) + (sw?.bouncesFromDevice ?? 0),
      bounceBytes: (sw?.bytesToDevice ?? 0) + (sw?.bytesFromDevice ?? 0),
      cacheCleans: d.cacheCleans,
      cacheInvalidates: d.cacheInvalidates,
    };
  }

  saveState(): unknown {
    return clone(this.s);
  }

  restoreState(state: unknown): void {
    this.s = clone(state as MappingState);
  }
}
