/**
 * arm64's cache maintenance for DMA with a device that does not snoop the
 * CPU caches (no `dma-coherent`), after arch/arm64/mm/dma-mapping.c and
 * arch/arm64/mm/cache.S. dma-direct and iommu-dma call these only when
 * !dev_is_dma_coherent(dev):
 *
 *   arch_sync_dma_for_device(paddr, size, dir)   dcache_clean_poc: dc cvac over the range,
 *                                                 in every direction (dirty lines reach RAM)
 *   arch_sync_dma_for_cpu(paddr, size, dir)      nothing for DMA_TO_DEVICE; otherwise
 *                                                 dcache_inval_poc: dc ivac over the range,
 *                                                 but dc civac on a partial line at either end
 *                                                 ("partial lines ... are also cleaned to PoC to
 *                                                 prevent data loss", cache.S)
 *   arch_dma_prep_coherent(page, size)           dcache_clean_inval_poc over a coherent buffer
 *                                                 before it is remapped non-cacheable (v6.1
 *                                                 made it a clean only; reverted for v6.2 because
 *                                                 drivers relied on the invalidate; before, the
 *                                                 same flush was __dma_flush_area)
 *
 * The cache is the machine's (machine/cache.ts); without one (every device
 * coherent) there is nothing to do. Addresses are physical: the lab has no
 * virtual aliases (phys_to_virt is the linear map).
 */
import type { u64 } from '../machine/u64.ts';
import { CACHE_LINE, type CpuCache } from '../machine/cache.ts';
import { DMA_TO_DEVICE, type DmaDirection } from './types.ts';

/** What one maintenance call did, for counters and inspectors. */
export interface CacheOp {
  op: 'clean' | 'inval' | 'clean+inval';
  pa: u64;
  len: number;
}

/** dcache_clean_poc(start, end). */
export function dcacheCleanPoc(cache: CpuCache | undefined, pa: u64, len: number): CacheOp {
  cache?.clean(pa, len);
  return { op: 'clean', pa, len };
}

/**
 * dcache_inval_poc(start, end): a line only partly inside the range is
 * cleaned and invalidated (dc civac), so bytes of it outside the buffer
 * that the CPU dirtied are not lost; whole lines are invalidated (dc ivac).
 */
export function dcacheInvalPoc(cache: CpuCache | undefined, pa: u64, len: number): CacheOp {
  if (cache && len > 0) {
    const line = BigInt(CACHE_LINE);
    const end = pa + BigInt(len);
    const startLine = pa & ~(line - 1n);
    const endLine = end & ~(line - 1n);
    let from = pa;
    let to = end;
    if (pa !== startLine) {
      cache.cleanInvalidate(startLine, CACHE_LINE);
      from = startLine + line;
    }
    if (end !== endLine && endLine >= from) {
      cache.cleanInvalidate(endLine, CACHE_LINE);
      to = endLine;
    }
    if (to > from) cache.invalidate(from, Number(to - from));
  }
  return { op: 'inval', pa, len };
}

/** dcache_clean_inval_poc(start, end). */
export function dcacheCleanInvalPoc(cache: CpuCache | undefined, pa: u64, len: number): CacheOp {
  cache?.cleanInvalidate(pa, len);
  return { op: 'clean+inval', pa, len };
}

/** arch_sync_dma_for_device(): clean, whatever the direction. */
export function archSyncDmaForDevice(cache: CpuCache | undefined, pa: u64, len: number, _dir: DmaDirection): CacheOp {
  return dcacheCleanPoc(cache, pa, len);
}

/** arch_sync_dma_for_cpu(): invalidate, unless the device only read (DMA_TO_DEVICE). */
export function archSyncDmaForCpu(cache: CpuCache | undefined, pa: u64, len: number, dir: DmaDirection): CacheOp | undefined {
  if (dir === DMA_TO_DEVICE) return undefined;
  return dcacheInvalPoc(cache, pa, len);
}

/** arch_dma_prep_coherent(): flush the buffer out of the cache before its non-cacheable remap. */
export function archDmaPrepCoherent(cache: CpuCache | undefined, pa: u64, len: number): CacheOp {
  return dcacheCleanInvalPoc(cache, pa, len);
}
