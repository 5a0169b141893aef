/**
 * The DMA API on top of an IOMMU, after linux drivers/iommu/dma-iommu.c.
 * A device whose group's default domain is DMA or DMA-FQ gets these ops:
 * each mapping takes an IOVA range from the domain's allocator (iova.ts),
 * maps it to the buffer through the IOMMU driver, and hands the device the
 * IOVA. Unmap clears the page table entries and then either invalidates the
 * IOTLB at once (DMA: strict) or queues the IOVA in a flush queue that is
 * invalidated in bulk (DMA-FQ: lazy), so the range is not reused until the
 * IOTLB can no longer hold a stale translation for it.
 *
 *   iommu_dma_map_page(pa, size):
 *     iova_off = pa & (granule - 1); len = align(size + iova_off)
 *     iova = alloc:  limit = min(dma_mask, bus_dma_limit, aperture_end)
 *                    PCI: below 4 GiB first ("SAC trick"), then the full limit
 *     iommu_map(iova -> pa - iova_off, len, prot from the direction)
 *     return iova + iova_off
 *
 * Per domain the allocator and MSI state live in a "cookie" (struct
 * iommu_dma_cookie): an IOVA cookie for kernel DMA domains, or an MSI cookie
 * (a linear allocator from a fixed base) for domains a user such as VFIO
 * manages itself.
 *
 * The flush queue has no timer here (the model has no clock): Linux drains
 * it after IOVA_FQ_TIMEOUT (10 ms) or when the ring (IOVA_FQ_SIZE = 256
 * slots, one always empty) is full. The model drains when the 256th unmap
 * finds 255 entries pending, and on an explicit iommuDmaFlushQueues()
 * (what the timer would do).
 */
import type { CpuCache } from '../machine/cache.ts';
import { archDmaPrepCoherent, archSyncDmaForCpu, archSyncDmaForDevice, type CacheOp } from './arch-dma.ts';
import { type u64, add, hexRaw, maxU, minNotZero, minU, U64_MAX } from '../machine/u64.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import { clone, type Stateful } from '../machine/state.ts';
import { Kernel } from './kernel.ts';
import type { PageAllocator } from './page-alloc.ts';
import { IovaDomain, IOVA_MAG_SIZE, IOVA_MAG_SIZE_LEGACY, MAX_GLOBAL_MAGS } from './iova.ts';
import { INTEL_IOMMU_DMA_VERSION } from './intel-iommu.ts';
import { IommuCore, EFAULT, EINVAL, EEXIST, ENOMEM, devPrefix, domainKey, lowestPageSize } from './iommu.ts';
import {
  DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_MAPPING_ERROR, DMA_TO_DEVICE, IOMMU_CACHE, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_READ, IOMMU_WRITE,
  type DmaDirection, type DmaSegment, type DomainType, type IommuDomain, type IommuDriver, type KDevice, type ResvRegion, type SgEntry,
} from './types.ts';

/** Flush-queue ring size (dma-iommu.c IOVA_DEFAULT_FQ_SIZE; iova.c IOVA_FQ_SIZE before v5.17). */
export const IOVA_FQ_SIZE = 256;
/** The timer that drains it, in ms (not modelled: no clock). */
export const IOVA_FQ_TIMEOUT = 10;
/** The page size the MSI cookie maps doorbells with (cookie_msi_granule). */
const MSI_COOKIE_GRANULE = 4096n;
const DMA_BIT_MASK_32 = 0xffff_ffffn;

/** dma_info_to_prot(): IOMMU prot bits for a DMA direction. */
export function dmaInfoToProt(dir: DmaDirection, coherent: boolean): number {
  const prot = coherent ? IOMMU_CACHE : 0;
  switch (dir) {
    case DMA_BIDIRECTIONAL:
      return prot | IOMMU_READ | IOMMU_WRITE;
    case DMA_TO_DEVICE:
      return prot | IOMMU_READ;
    case DMA_FROM_DEVICE:
      return prot | IOMMU_WRITE;
    default:
      return 0;
  }
}

/** bits_per(n): bits needed to hold n (ilog2(n) + 1). */
const bitsPer = (n: u64): number => (n === 0n ? 1 : n.toString(2).length);

/**
 * The DMA range firmware code hands to arch_setup_dma_ops / iommu_dma_init_domain
 * (drivers/of/device.c of_dma_configure, drivers/acpi/arm64/dma.c), by era:
 *  - before the seed-003 fix: size = coherent_dma_mask + 1, which wraps to 0
 *    for a 64-bit mask (REFERENCE.md 9.2). The model assumes the fix
 *    (size = max(mask, mask + 1)) from v4.13; which release first carried
 *    it is **unverified**;
 *  - with dma-ranges: base = lowest dma_start, size up to the highest end;
 *  - a zero coherent mask means 4 GiB.
 * `limit` is base + size - 1 (what v5.13+ pass instead of a size).
 */
export function dmaConfigureRange(dev: KDevice, version: number): { base: u64; size: u64; limit: u64 } {
  const map = dev.dmaRangeMap;
  if (map && map.length) {
    let base = U64_MAX;
    let end = 0n;
    for (const r of map) {
      base = minU(base, r.dmaStart);
      end = maxU(end, r.dmaStart + r.size);
    }
    const size = end - base;
    return { base, size, limit: add(base, size - 1n) };
  }
  const mask = dev.coherentDmaMask;
  let size: u64;
  if (mask === 0n) size = 0x1_0000_0000n;
  else if (version < 413) size = add(mask, 1n);
  else size = maxU(mask, add(mask, 1n));
  return { base: 0n, size, limit: add(0n, size - 1n) & U64_MAX };
}

interface MsiPage {
  phys: u64;
  iova: u64;
}

interface CookieState {
  type: 'iova' | 'msi';
  /** IOVA cookie: iommu_dma_init_domain has run (start_pfn != 0). */
  inited: boolean;
  /** MSI cookie: next doorbell IOVA. */
  msiIova: u64;
  msiPages: MsiPage[];
  /** cookie->fq_domain: lazy invalidation through the flush queue. */
  fq: boolean;
  /** Pending flush-queue entries (pfn, pages), oldest first. */
  fqEntries: [number, number][];
}

interface Cookie {
  st: CookieState;
  iovad: IovaDomain | null;
}

export interface IommuDmaStats {
  maps: number;
  unmaps: number;
  mapErrors: number;
  /** IOTLB invalidations issued: strict unmaps (iotlb_sync) and flush-queue drains (flush_iotlb_all). */
  iotlbSyncs: number;
  flushAlls: number;
  /** IOVAs queued in a flush queue. */
  fqQueued: number;
  /** PCI 32-bit-first allocations that had to fall back to the full limit. */
  sacFallbacks: number;
  /** Unmaps refused because nothing was mapped there (a double unmap). */
  badUnmaps: number;
}

interface IommuDmaState {
  stats: IommuDmaStats;
  /**
   * v4.x intel_dma_ops' deferred-unmap list (add_unmap, drivers/iommu/intel-iommu.c
   * v4.9): one list for every private domain, [domain key, pfn, pages].
   */
  deferred?: [string, number, number][];
}

/** HIGH_WATER_MARK of v4.x intel-iommu's deferred-unmap list (the timer, 10 ms, is not modelled). */
export const INTEL_DEFERRED_HIGH_WATER_MARK = 250;

export type MsiResult = { ok: true; iova: u64 | undefined; msgAddr: u64 } | { ok: false; errno: number };

export interface IommuDmaOptions {
  memory?: PhysicalMemory;
  pages?: PageAllocator;
}

export class IommuDma implements Stateful {
  private cookies = new Map<string, Cookie>();
  private s: IommuDmaState = { stats: { maps: 0, unmaps: 0, mapErrors: 0, iotlbSyncs: 0, flushAlls: 0, fqQueued: 0, sacFallbacks: 0, badUnmaps: 0 } };
  private readonly memory?: PhysicalMemory;
  private readonly pages?: PageAllocator;
  /**
   * The debug print Shameer Kolothum added in seed 003's thread, at the top
   * of iommu_dma_init_domain: dev_info(dev, "0x%llx 0x%llx, 0x%llx 0x%llx,
   * 0x%llx 0x%llx\n", base, size, aperture_start, aperture_end,
   * *dev->dma_mask, dev->coherent_dma_mask). From v5.14 the function gets a
   * limit, which is printed in size's place.
   */
  debugInitDomain = false;

  constructor(
    readonly kernel: Kernel,
    readonly core: IommuCore,
    opts: IommuDmaOptions = {},
  ) {
    this.memory = opts.memory;
    this.pages = opts.pages;
    core.addListener({
      defaultDomainChanged: (group, old) => {
        if (old) this.cookies.delete(domainKey(old));
        this.lastCookie = undefined;
        for (const dev of core.groupDevices(group)) this.iommuSetupDmaOps(dev);
      },
      flushQueueEnabled: (d) => {
        const c = this.cookies.get(domainKey(d));
        if (c) c.st.fq = true;
      },
    });
  }

  private get version(): number {
    return this.core.config.version;
  }

  private newIovaCookie(): Cookie {
    return { st: { type: 'iova', inited: false, msiIova: 0n, msiPages: [], fq: false, fqEntries: [] }, iovad: null };
  }

  /** The cookie of a domain, if it has one (inspectors, tests). */
  cookieOf(d: IommuDomain): Readonly<CookieState> | undefined {
    return this.cookies.get(domainKey(d))?.st;
  }

  /** PFNs of a domain's IOVAs on v4.x intel-iommu's deferred-unmap list. */
  deferredOf(d: IommuDomain): number[] {
    const k = domainKey(d);
    return (this.s.deferred ?? []).filter(([key]) => key === k).map(([, pfn]) => pfn);
  }

  /** The IOVA allocator of the device's DMA domain. */
  iovaDomainOf(dev: KDevice): IovaDomain | undefined {
    const d = this.core.getDmaDomain(dev);
    return d ? (this.cookies.get(domainKey(d))?.iovad ?? undefined) : undefined;
  }

  // ---- domain setup ------------------------------------------------------------

  /**
   * iommu_dma_init_domain(): check the device's DMA range against the
   * domain's aperture (force_aperture is assumed, as SMMU and VT-d set it),
   * set up the allocator (granule = smallest page size, start pfn >= 1 and
   * >= the aperture start), the flush queue for DMA-FQ, and reserve the
   * holes (PCI windows, non-SW_MSI reserved regions). Returns 0 or -errno.
   *
   * The check by era (REFERENCE.md 4.6):
   *   <= v5.13  (domain, base, size, dev):  base > aperture_end || base + size <= aperture_start
   *   v5.14..   (domain, base, limit, dev): base > aperture_end || limit < aperture_start
   *             (commit "iommu/dma: Pass address limit rather than size to
   *             iommu_setup_dma_ops()", posted June 2021 after the v5.13
   *             merge window, in iommu-updates-v5.14; REFERENCE.md says ≈v5.13)
   *   v6.4+     (domain, dev):  only with a dma_range_map: its min > aperture_end || its max < aperture_start
   * On failure it warns "specified DMA range outside IOMMU capability" (no
   * device prefix) and returns -EFAULT.
   */
  iommuDmaInitDomain(domain: IommuDomain, dev: KDevice, range = dmaConfigureRange(dev, this.version)): number {
    const key = domainKey(domain);
    let c = this.cookies.get(key);
    if (!c) {
      c = this.newIovaCookie();
      this.cookies.set(key, c);
      this.lastCookie = undefined;
    }
    if (c.st.type !== 'iova') return -EINVAL;
    const granule = lowestPageSize(domain.pgsizeBitmap);
    const order = BigInt(granule.toString(2).length - 1);
    const apStart = domain.apertureStart;
    const apEnd = domain.apertureEnd;
    const v = this.version;
    if (this.debugInitDomain) {
      const x = (n: u64): string => `0x${n.toString(16)}`;
      this.kernel.log('info', `${devPrefix(dev, this.core.boundDriver(dev))}${x(range.base)} ${x(v < 514 ? range.size : range.limit)}, ${x(apStart)} ${x(apEnd)}, ${x(dev.dmaMask)} ${x(dev.coherentDmaMask)}`);
    }
    let outside: boolean;
    let basePfn: u64;
    if (v < 514) {
      outside = range.base > apEnd || add(range.base, range.size) <= apStart;
      basePfn = maxU(1n, range.base >> order);
    } else if (v < 604) {
      outside = range.base > apEnd || range.limit < apStart;
      basePfn = maxU(1n, range.base >> order);
    } else {
      const map = dev.dmaRangeMap;
      outside = !!(map && map.length) && (range.base > apEnd || range.limit < apStart);
      basePfn = 1n;
    }
    if (outside) {
      this.kernel.log('warn', 'specified DMA range outside IOMMU capability');
      return -EFAULT;
    }
    basePfn = maxU(basePfn, apStart >> order);
    if (c.st.inited) {
      const iovad = c.iovad!;
      if (BigInt(iovad.granule) !== granule || BigInt(iovad.startPfn) !== basePfn) {
        this.kernel.log('warn', 'Incompatible range for DMA domain');
        return -EFAULT;
      }
      return 0;
    }
    const legacyMags = v < 602;
    c.iovad = new IovaDomain(Number(granule), Number(basePfn), { magSize: legacyMags ? IOVA_MAG_SIZE_LEGACY : IOVA_MAG_SIZE, maxGlobalMags: v < 607 ? MAX_GLOBAL_MAGS : Infinity });
    c.st.inited = true;
    // Untrusted devices never get here with DMA-FQ: their group is strict DMA.
    c.st.fq = this.core.domainUsesFlushQueue(domain);
    this.iovaReserveIommuRegions(dev, c);
    return 0;
  }

  /**
   * iova_reserve_iommu_regions(): PCI host-bridge memory windows (bus
   * addresses; iova_reserve_pci_windows) and every reserved region except
   * SW_MSI ("we ARE the software that manages these") come out of the
   * allocator. Hardware MSI regions also pre-populate the cookie's MSI page
   * list 1:1 (cookie_init_hw_msi_region). PCI windows stay out of
   * reserved_regions (REFERENCE.md 6.5). So do the gaps around a host
   * bridge's inbound dma-ranges (aadad097cd46 "iommu/dma: Reserve IOVA for
   * PCIe inaccessible DMA address", v5.x): IOVAs the root complex would
   * not forward are never handed out -- in kernel DMA domains only.
   */
  private iovaReserveIommuRegions(dev: KDevice, c: Cookie): void {
    const iovad = c.iovad!;
    const shift = BigInt(iovad.shift);
    const pfn = (a: u64): number => Number(a >> shift);
    const rc = dev.pci ? dev.master.rootComplex : undefined;
    if (rc) {
      for (const w of rc.windows) {
        if (w.kind === 'io') continue;
        iovad.reserveIova(pfn(w.pciBase), pfn(w.pciBase + w.size - 1n));
      }
      if (rc.dmaRanges) {
        let start = 0n;
        for (const r of [...rc.dmaRanges].sort((a, b) => (a.pciBase < b.pciBase ? -1 : 1))) {
          if (r.pciBase > start) iovad.reserveIova(pfn(start), pfn(r.pciBase - 1n));
          start = r.pciBase + r.size;
        }
        const top = (1n << 48n) - 1n;
        if (start <= top) iovad.reserveIova(pfn(start), pfn(top));
      }
    }
    const regions: ResvRegion[] = this.core.getResvRegions(dev);
    for (const r of regions) {
      if (r.type === 'sw-msi') continue;
      iovad.reserveIova(pfn(r.start), pfn(r.start + r.length - 1n));
      if (r.type === 'msi') {
        const g = BigInt(iovad.granule);
        for (let a = r.start - (r.start % g); a < r.start + r.length; a += g) {
          if (!c.st.msiPages.some((p) => p.phys === a)) c.st.msiPages.push({ phys: a, iova: a });
        }
      }
    }
  }

  /**
   * iommu_setup_dma_ops() (arm64 __iommu_setup_dma_ops / do_iommu_attach in
   * 2017): a DMA or DMA-FQ default domain gets iommu-dma ops after a
   * successful iommu_dma_init_domain; identity and unmanaged domains keep
   * dma-direct. On failure: "Failed to set up IOMMU for device <name>;
   * retaining platform DMA ops" (pr_warn, no device prefix) and dma-direct.
   * Sets dev.dmaOps; returns whether iommu-dma was installed.
   */
  iommuSetupDmaOps(dev: KDevice, range?: { base: u64; size: u64; limit: u64 }): boolean {
    const domain = this.core.getDomainForDev(dev);
    const fail = (): boolean => {
      this.kernel.log('warn', `Failed to set up IOMMU for device ${dev.name}; retaining platform DMA ops`);
      dev.dmaOps = 'direct';
      return false;
    };
    // v4.x intel-iommu: intel_dma_ops for the device; its private domain comes at the first mapping (domainCookie).
    if (!domain && this.core.usesPrivateDomains(dev)) {
      dev.dmaOps = 'iommu';
      return true;
    }
    if (!domain) return fail();
    if (domain.type === 'DMA' || domain.type === 'DMA-FQ') {
      if (this.iommuDmaInitDomain(domain, dev, range ?? dmaConfigureRange(dev, this.version)) !== 0) return fail();
      dev.dmaOps = 'iommu';
      return true;
    }
    dev.dmaOps = 'direct';
    return false;
  }

  // ---- IOVA allocation ----------------------------------------------------------

  /**
   * iommu_dma_alloc_iova(): the limit is min_not_zero(mask, bus_dma_limit)
   * clamped to the aperture end. PCI devices try below 4 GiB first unless
   * iommu.forcedac; on v6.4+ a failure there turns the trick off for the
   * device for good with a notice "Using N-bit DMA addresses"; before, every
   * allocation tried 32 bits first again. Returns the IOVA or 0n.
   */
  private allocIova(dev: KDevice, domain: IommuDomain, c: Cookie, size: u64, dmaLimit: u64): u64 {
    if (c.st.type === 'msi') {
      c.st.msiIova += size;
      return c.st.msiIova - size;
    }
    const iovad = c.iovad!;
    const shift = BigInt(iovad.shift);
    const len = Number(size >> shift);
    let limit = minNotZero(dmaLimit, dev.busDmaLimit);
    limit = minU(limit, domain.apertureEnd);
    let pfn = 0;
    if (limit > DMA_BIT_MASK_32) {
      const ds = this.core.devState(dev);
      // The 32-bit-first ("SAC") trick for PCI devices arrived in v4.11:
      // commit 122fac030e91 "iommu/dma: Implement PCI allocation
      // optimisation" (Jan 2017, arm/core for the v4.11 merge window). A 4.10
      // kernel allocates straight from the top of the device's limit.
      // intel-iommu had its own DMA ops until its conversion to iommu-dma (v5.x);
      // intel_alloc_iova tried below 4 GiB first for every device unless
      // intel_iommu=forcedac, long before v4.11.
      const intelOwnOps = domain.iommu === 'intel-iommu' && this.version < INTEL_IOMMU_DMA_VERSION;
      const trySac = this.version >= 604 ? !!ds?.pci32bitWorkaround : (this.version >= 411 || intelOwnOps) && !!dev.pci && !this.core.policy.forcedac;
      if (trySac) {
        pfn = iovad.allocIovaFast(len, Number(DMA_BIT_MASK_32 >> shift), false);
        if (!pfn) {
          this.s.stats.sacFallbacks++;
          if (this.version >= 604) {
            this.core.setPci32bitWorkaround(dev, false);
            this.kernel.log('notice', `${devPrefix(dev, this.core.boundDriver(dev))}Using ${bitsPer(limit)}-bit DMA addresses`);
          }
        }
      }
    }
    if (!pfn) pfn = iovad.allocIovaFast(len, Number(limit >> shift), true);
    return BigInt(pfn) << shift;
  }

  private freeIova(domain: IommuDomain, c: Cookie, iova: u64, size: u64, queued: boolean): void {
    if (c.st.type === 'msi') {
      c.st.msiIova -= size;
      return;
    }
    const iovad = c.iovad!;
    const shift = BigInt(iovad.shift);
    const pfn = Number(iova >> shift);
    const pages = Number(size >> shift);
    if (queued) this.queueIova(domain, c, pfn, pages);
    else iovad.freeIovaFast(pfn, pages);
  }

  /** queue_iova(): a full ring is flushed (one flush_iotlb_all) and emptied before the new entry goes in. */
  private queueIova(domain: IommuDomain, c: Cookie, pfn: number, pages: number): void {
    if (this.core.isPrivateDomain(domain)) {
      // add_unmap: when the list holds HIGH_WATER_MARK entries, flush_unmaps first.
      const list = (this.s.deferred ??= []);
      if (list.length >= INTEL_DEFERRED_HIGH_WATER_MARK) this.flushUnmaps();
      this.s.deferred!.push([domainKey(domain), pfn, pages]);
      this.s.stats.fqQueued++;
      return;
    }
    if (c.st.fqEntries.length >= IOVA_FQ_SIZE - 1) this.fqFlush(domain, c);
    c.st.fqEntries.push([pfn, pages]);
    this.s.stats.fqQueued++;
  }

  /**
   * v4.x flush_unmaps: one global IOTLB invalidation per unit (the units
   * have no caching mode; with it v4.9 flushed page by page instead), then
   * every queued IOVA freed in its own domain. Returns how many were freed.
   */
  private flushUnmaps(): number {
    const list = this.s.deferred ?? [];
    if (!list.length) return 0;
    const iommus = new Set(list.map(([k]) => k.slice(0, k.lastIndexOf(':'))));
    for (const name of iommus) this.core.iommuFlushIotlbGlobal(name);
    this.s.stats.flushAlls++;
    for (const [key, pfn, pages] of list) this.cookies.get(key)?.iovad?.freeIovaFast(pfn, pages);
    this.s.deferred = [];
    return list.length;
  }

  /** fq_flush_iotlb + fq_ring_free: invalidate everything, then release the queued IOVAs. */
  private fqFlush(domain: IommuDomain, c: Cookie): void {
    if (c.st.fqEntries.length === 0) return;
    this.core.iommuFlushIotlbAll(domain);
    this.s.stats.flushAlls++;
    for (const [pfn, pages] of c.st.fqEntries) c.iovad!.freeIovaFast(pfn, pages);
    c.st.fqEntries = [];
  }

  /**
   * What fq_flush_timeout() does when its 10 ms timer fires: drain every
   * domain's flush queue. The model has no clock, so a command or test
   * calls this. Returns how many entries were released.
   */
  iommuDmaFlushQueues(): number {
    let n = this.flushUnmaps();
    for (const [key, c] of this.cookies) {
      if (!c.st.fqEntries.length) continue;
      const d = this.findDomain(key);
      n += c.st.fqEntries.length;
      if (d) this.fqFlush(d, c);
    }
    return n;
  }

  private findDomain(key: string): IommuDomain | undefined {
    for (const g of this.core.groupsInfo()) {
      // Every device: without default domains (v4.x VT-d) each has its own.
      for (const dev of this.core.groupDevices(g.id)) {
        const d = this.core.getDmaDomain(dev);
        if (d && domainKey(d) === key) return d;
        const cur = this.core.getDomainForDev(dev);
        if (cur && domainKey(cur) === key) return cur;
      }
    }
    return undefined;
  }

  // ---- map / unmap -----------------------------------------------------------------

  private lastCookie: { d: IommuDomain; c: Cookie; r: [IommuDomain, Cookie] } | undefined;

  private domainCookie(dev: KDevice): [IommuDomain, Cookie] | undefined {
    let d = this.core.getDmaDomain(dev);
    // Every map and unmap looks the cookie up: remember the last one (same domain object, same cookie).
    const last = this.lastCookie;
    if (d && last && last.d === d) return last.r;
    let c = d ? this.cookies.get(domainKey(d)) : undefined;
    if (!c || !c.st.inited) {
      // A private domain (v4.x intel-iommu) is made, and its allocator set up, at the device's first mapping.
      if (!this.core.usesPrivateDomains(dev)) return undefined;
      // intel_dma_ops never called iommu_dma_init_domain's range check: the allocator spans the domain.
      d = this.core.privateDomain(dev);
      if (!d || this.iommuDmaInitDomain(d, dev, { base: 0n, size: d.apertureEnd + 1n, limit: d.apertureEnd }) !== 0) return undefined;
      c = this.cookies.get(domainKey(d));
      if (!c || !c.st.inited) return undefined;
    }
    const r: [IommuDomain, Cookie] = [d!, c];
    this.lastCookie = { d: d!, c, r };
    return r;
  }

  /** __iommu_dma_map(). */
  private map(dev: KDevice, pa: u64, size: number, prot: number, dmaMask: u64): u64 {
    const dc = this.domainCookie(dev);
    if (!dc) return DMA_MAPPING_ERROR;
    const [d, c] = dc;
    const g = BigInt(c.iovad!.granule);
    const off = pa & (g - 1n);
    const len = ((BigInt(size) + off + g - 1n) / g) * g;
    const iova = this.allocIova(dev, d, c, len, dmaMask);
    if (iova === 0n) return DMA_MAPPING_ERROR;
    try {
      this.core.iommuMap(d, iova, pa - off, len, prot);
    } catch {
      this.freeIova(d, c, iova, len, false);
      return DMA_MAPPING_ERROR;
    }
    return iova + off;
  }

  /** __iommu_dma_unmap(). */
  private unmap(dev: KDevice, dma: u64, size: number): void {
    const dc = this.domainCookie(dev);
    if (!dc) return;
    const [d, c] = dc;
    const g = BigInt(c.iovad!.granule);
    const off = dma & (g - 1n);
    const iova = dma - off;
    const len = ((BigInt(size) + off + g - 1n) / g) * g;
    const unmapped = this.core.iommuUnmapFast(d, iova, len);
    if (unmapped === 0n) {
      // Linux WARN_ON(unmapped != size) and frees the IOVA anyway, corrupting
      // the allocator on a double unmap; the model refuses and says so.
      this.s.stats.badUnmaps++;
      // Not a kernel message: Linux prints a WARNING splat for the WARN_ON, which the lab does not imitate.
      this.kernel.log('warn', `dma-lab: ${devPrefix(dev, this.core.boundDriver(dev))}__iommu_dma_unmap of 0x${hexRaw(dma, 16)}+${size}: nothing mapped there (a double unmap?); Linux's WARN_ON(unmapped != size) fires and it frees the IOVA anyway, the lab does not free it`);
      return;
    }
    const queued = c.st.fq;
    if (!queued) {
      this.core.iommuIotlbSync(d, iova, len);
      this.s.stats.iotlbSyncs++;
    }
    this.freeIova(d, c, iova, len, queued);
  }

  // ---- cache maintenance for a non-coherent device (arch-dma.ts) ---------------------

  /** The machine's CPU cache, when it models one (set at boot). */
  cpuCache: CpuCache | undefined;
  /** Told of each cache maintenance operation (DmaMapping collects them for the commands). */
  onCacheOp?: (op: CacheOp) => void;

  /** The physical pieces behind [dma, dma+size) in the device's DMA domain (iommu_iova_to_phys per page). */
  private physPieces(dev: KDevice, dma: u64, size: number): { pa: u64; len: number }[] {
    const d = this.core.getDmaDomain(dev);
    const out: { pa: u64; len: number }[] = [];
    if (!d) return out;
    let done = 0;
    while (done < size) {
      const a = dma + BigInt(done);
      const n = Math.min(size - done, 4096 - Number(a & 0xfffn));
      const pa = this.core.iommuIovaToPhys(d, a);
      if (pa !== undefined) {
        const last = out[out.length - 1];
        if (last && last.pa + BigInt(last.len) === pa) last.len += n;
        else out.push({ pa, len: n });
      }
      done += n;
    }
    return out;
  }

  private syncForDevice(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    if (dev.coherent) return;
    for (const p of this.physPieces(dev, dma, size)) this.onCacheOp?.(archSyncDmaForDevice(this.cpuCache, p.pa, p.len, dir));
  }

  private syncForCpu(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    if (dev.coherent) return;
    for (const p of this.physPieces(dev, dma, size)) {
      const op = archSyncDmaForCpu(this.cpuCache, p.pa, p.len, dir);
      if (op) this.onCacheOp?.(op);
    }
  }

  /** iommu_dma_map_page(): DMA_MAPPING_ERROR on failure; a non-coherent device gets arch_sync_dma_for_device. */
  mapPage(dev: KDevice, pa: u64, size: number, dir: DmaDirection): u64 {
    const r = this.map(dev, pa, size, dmaInfoToProt(dir, dev.coherent), dev.dmaMask);
    if (r === DMA_MAPPING_ERROR) this.s.stats.mapErrors++;
    else {
      this.s.stats.maps++;
      if (!dev.coherent) this.onCacheOp?.(archSyncDmaForDevice(this.cpuCache, pa, size, dir));
    }
    return r;
  }

  /** iommu_dma_unmap_page(): sync for the CPU (a non-coherent device's invalidate), then unmap. */
  unmapPage(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    this.syncForCpu(dev, dma, size, dir);
    this.unmap(dev, dma, size);
    this.s.stats.unmaps++;
  }

  /** iommu_dma_map_resource(): MMIO (a peer's BAR, a doorbell) with IOMMU_MMIO. */
  mapResource(dev: KDevice, pa: u64, size: number, dir: DmaDirection): u64 {
    const r = this.map(dev, pa, size, dmaInfoToProt(dir, false) | IOMMU_MMIO, dev.dmaMask);
    if (r === DMA_MAPPING_ERROR) this.s.stats.mapErrors++;
    else this.s.stats.maps++;
    return r;
  }

  /**
   * iommu_dma_map_sg(): the whole list goes into ONE contiguous IOVA range;
   * each entry is padded to granules (and, if the segment boundary is
   * smaller than the total, to the boundary), then __finalise_sg merges
   * entries that meet on a granule boundary into segments of at most
   * maxSegSize bytes. Returns the DMA segments, [] on failure.
   */
  mapSg(dev: KDevice, sg: SgEntry[], dir: DmaDirection, maxSegSize = 65536, segBoundary: u64 = U64_MAX): DmaSegment[] {
    const dc = this.domainCookie(dev);
    if (!dc || sg.length === 0) return [];
    const [d, c] = dc;
    const prot = dmaInfoToProt(dir, dev.coherent);
    const g = BigInt(c.iovad!.granule);
    const mask = segBoundary;
    const ents = sg.map((e) => {
      const off = e.pa & (g - 1n);
      return { off, len: e.len, iovaLen: ((BigInt(e.len) + off + g - 1n) / g) * g, pa: e.pa - off };
    });
    let iovaLen = 0n;
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      const pad = (mask - iovaLen + 1n) & mask;
      if (pad && pad < e.iovaLen - 1n) {
        ents[i - 1]!.iovaLen += pad;
        iovaLen += pad;
      }
      iovaLen += e.iovaLen;
    }
    const iova = this.allocIova(dev, d, c, iovaLen, dev.dmaMask);
    if (iova === 0n) {
      this.s.stats.mapErrors++;
      return [];
    }
    // iommu_map_sg(): map each (padded) entry in turn; unwind on failure.
    let at = iova;
    try {
      for (const e of ents) {
        this.core.iommuMap(d, at, e.pa, e.iovaLen, prot);
        at += e.iovaLen;
      }
    } catch {
      if (at > iova) this.core.iommuUnmap(d, iova, at - iova);
      this.freeIova(d, c, iova, iovaLen, false);
      this.s.stats.mapErrors++;
      return [];
    }
    // __finalise_sg()
    const out: DmaSegment[] = [];
    let curLen = 0;
    let dmaAddr = iova;
    for (const e of ents) {
      if (curLen && e.off === 0n && (dmaAddr & mask) !== 0n && maxSegSize - curLen >= e.len) {
        curLen += e.len;
        out[out.length - 1]!.len = curLen;
      } else {
        curLen = e.len;
        out.push({ dma: dmaAddr + e.off, len: e.len });
      }
      dmaAddr += e.iovaLen;
      if (BigInt(e.len) + e.off < e.iovaLen) curLen = 0;
    }
    this.s.stats.maps++;
    // iommu_dma_sync_sg_for_device() for a non-coherent device, entry by entry.
    if (!dev.coherent) for (const e of sg) this.onCacheOp?.(archSyncDmaForDevice(this.cpuCache, e.pa, e.len, dir));
    return out;
  }

  /** iommu_dma_unmap_sg(): one contiguous range from the first segment to the end of the last. */
  unmapSg(dev: KDevice, segs: DmaSegment[], dir: DmaDirection): void {
    if (!segs.length) return;
    for (const sg of segs) this.syncForCpu(dev, sg.dma, sg.len, dir);
    const start = segs[0]!.dma;
    const last = segs[segs.length - 1]!;
    this.unmap(dev, start, Number(last.dma + BigInt(last.len) - start));
    this.s.stats.unmaps++;
  }

  /**
   * iommu_dma_alloc(): zeroed pages from anywhere (the IOMMU reaches them),
   * mapped with the coherent mask. Contiguous pages (the remap path with
   * scattered pages is not modelled).
   */
  alloc(dev: KDevice, size: number): { pa: u64; dma: u64 } | undefined {
    if (!this.pages) return undefined;
    const n = Math.max(1, Math.ceil(size / 4096));
    let pa: u64;
    try {
      pa = this.pages.alloc(n);
    } catch {
      return undefined;
    }
    // As dma-direct's alloc: no stale line may hide the zeroes; a non-coherent
    // device's buffer is flushed (arch_dma_prep_coherent) and remapped non-cacheable.
    if (dev.coherent) this.cpuCache?.cleanInvalidate(pa, n * 4096);
    else this.onCacheOp?.(archDmaPrepCoherent(this.cpuCache, pa, n * 4096));
    this.memory?.fill(pa, BigInt(n * 4096), 0);
    const dma = this.map(dev, pa, size, dmaInfoToProt(DMA_BIDIRECTIONAL, dev.coherent), dev.coherentDmaMask);
    if (dma === DMA_MAPPING_ERROR) {
      this.pages.free(pa, n);
      this.s.stats.mapErrors++;
      return undefined;
    }
    if (!dev.coherent) this.cpuCache?.setUncached(pa, n * 4096, true);
    this.s.stats.maps++;
    return { pa, dma };
  }

  /** iommu_dma_free(). */
  free(dev: KDevice, size: number, pa: u64, dma: u64): void {
    if (!dev.coherent) this.cpuCache?.setUncached(pa, Math.max(1, Math.ceil(size / 4096)) * 4096, false);
    this.unmap(dev, dma, size);
    this.s.stats.unmaps++;
    this.pages?.free(pa, Math.max(1, Math.ceil(size / 4096)));
  }

  // ---- MSI doorbells (REFERENCE.md 6.4) ----------------------------------------

  /**
   * iommu_get_msi_cookie(): for a domain its owner manages (VFIO), a linear
   * allocator of doorbell IOVAs from `base` (the SW_MSI region start).
   * -EINVAL unless the domain is unmanaged, -EEXIST if it has a cookie.
   */
  iommuGetMsiCookie(domain: IommuDomain, base: u64): number {
    if (domain.type !== 'unmanaged') return -EINVAL;
    const key = domainKey(domain);
    if (this.cookies.has(key)) return -EEXIST;
    this.cookies.set(key, { st: { type: 'msi', inited: true, msiIova: base, msiPages: [], fq: false, fqEntries: [] }, iovad: null });
    this.lastCookie = undefined;
    return 0;
  }

  /** Drop a domain's cookie (iommu_put_dma_cookie, when its owner frees it). */
  iommuPutDmaCookie(domain: IommuDomain): void {
    this.cookies.delete(domainKey(domain));
    this.lastCookie = undefined;
  }

  /**
   * iommu_dma_prepare_msi() + iommu_dma_compose_msi_msg(): map the doorbell
   * page (PA rounded down to the granule) WRITE|NOEXEC|MMIO at a new IOVA
   * unless already mapped; the device gets page IOVA + offset. MSI cookies
   * take the next page from their base; kernel DMA domains take one from
   * the normal allocator (SW_MSI is ignored there). No IOMMU domain or no
   * cookie: the doorbell is used untranslated (iova undefined).
   */
  iommuDmaPrepareMsi(dev: KDevice, msiAddr: u64): MsiResult {
    const domain = this.core.getDomainForDev(dev);
    const c = domain ? this.cookies.get(domainKey(domain)) : undefined;
    if (!domain || !c) return { ok: true, iova: undefined, msgAddr: msiAddr };
    const size = c.st.type === 'iova' ? BigInt(c.iovad!.granule) : MSI_COOKIE_GRANULE;
    const phys = msiAddr & ~(size - 1n) & U64_MAX;
    let page = c.st.msiPages.find((p) => p.phys === phys);
    if (!page) {
      const iova = this.allocIova(dev, domain, c, size, dev.dmaMask);
      if (iova === 0n && c.st.type === 'iova') return { ok: false, errno: ENOMEM };
      try {
        this.core.iommuMap(domain, iova, phys, size, IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO);
      } catch {
        this.freeIova(domain, c, iova, size, false);
        return { ok: false, errno: ENOMEM };
      }
      page = { phys, iova };
      c.st.msiPages.push(page);
    }
    return { ok: true, iova: page.iova, msgAddr: page.iova + (msiAddr & (size - 1n)) };
  }

  // ---- syncs ------------------------------------------------------------------------

  /**
   * iommu_dma_sync_single_for_cpu(): phys = iommu_iova_to_phys(), then
   * arch_sync_dma_for_cpu for a non-coherent device (no bouncing: the lab's
   * iommu-dma does not bounce untrusted or unaligned buffers).
   */
  syncSingleForCpu(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    this.syncForCpu(dev, dma, size, dir);
  }

  /** iommu_dma_sync_single_for_device(): arch_sync_dma_for_device for a non-coherent device. */
  syncSingleForDevice(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void {
    this.syncForDevice(dev, dma, size, dir);
  }

  stats(): Readonly<IommuDmaStats> {
    return this.s.stats;
  }

  // ---- state ------------------------------------------------------------------------

  saveState(): unknown {
    const cookies: [string, CookieState, unknown][] = [];
    for (const [k, c] of this.cookies) cookies.push([k, clone(c.st), c.iovad ? c.iovad.saveState() : null]);
    return { s: clone(this.s), cookies };
  }

  restoreState(state: unknown): void {
    this.lastCookie = undefined;
    const st = state as { s: IommuDmaState; cookies: [string, CookieState, unknown][] };
    this.s = clone(st.s);
    this.cookies = new Map();
    for (const [k, cs, iv] of st.cookies) {
      let iovad: IovaDomain | null = null;
      if (iv) {
        iovad = new IovaDomain(4096, 1);
        iovad.restoreState(iv);
      }
      this.cookies.set(k, { st: clone(cs), iovad });
    }
  }
}

// ---- micro-benchmark ------------------------------------------------------------------

/**
 * A minimal IOMMU driver for the benchmark (and nothing else): a two-level
 * table of 512-entry leaves (like a last-level page table) holding page
 * frame numbers, so the measurement is of the DMA layer and the allocator,
 * not of a page-table walk in simulated memory. (One flat Map keyed by page
 * would hit V8's rehash cliff: set+delete churn on a Map of a million
 * entries runs at a few thousand operations a second.)
 */
class BenchIommuDriver implements IommuDriver {
  readonly name = 'bench-iommu';
  private leaves = new Map<number, Float64Array>();
  private nextId = 0;
  domainAlloc(type: DomainType): IommuDomain {
    return { id: this.nextId++, type, iommu: this.name, apertureStart: 0n, apertureEnd: 0xffff_ffff_ffffn, pgsizeBitmap: 0x4020_1000n };
  }
  attachDev(): void {}
  map(_d: IommuDomain, iova: u64, pa: u64, size: u64): void {
    const n = Number(size >> 12n);
    const p = Number(iova >> 12n);
    const pfn = Number(pa >> 12n);
    for (let i = 0; i < n; i++) {
      const k = Math.floor((p + i) / 512);
      let leaf = this.leaves.get(k);
      if (!leaf) this.leaves.set(k, (leaf = new Float64Array(512).fill(-1)));
      leaf[(p + i) % 512] = pfn + i;
    }
  }
  unmap(_d: IommuDomain, iova: u64, size: u64): u64 {
    const n = Number(size >> 12n);
    const p = Number(iova >> 12n);
    let done = 0;
    for (let i = 0; i < n; i++) {
      const leaf = this.leaves.get(Math.floor((p + i) / 512));
      const j = (p + i) % 512;
      if (leaf && leaf[j]! >= 0) {
        leaf[j] = -1;
        done++;
      }
    }
    return BigInt(done) << 12n;
  }
  iotlbSync(): void {}
  flushIotlbAll(): void {}
  iovaToPhys(_d: IommuDomain, iova: u64): u64 | undefined {
    const p = Number(iova >> 12n);
    const v = this.leaves.get(Math.floor(p / 512))?.[p % 512];
    return v === undefined || v < 0 ? undefined : (BigInt(v) << 12n) + (iova & 0xfffn);
  }
  getResvRegions(): ResvRegion[] {
    return [];
  }
}

/**
 * Map+unmap pairs per second on a strict DMA domain (1-page buffers, a
 * platform device with a 64-bit mask and a 48-bit aperture), with
 * `liveMappings` mappings held for the whole run. Wall time from
 * performance.now(); the model itself never reads a clock.
 */
export function benchMapUnmap(liveMappings: number, pairs: number, opts: { lazy?: boolean } = {}): number {
  const cmdline = new Map<string, string>(opts.lazy ? [['iommu.strict', '0']] : []);
  const kernel = new Kernel(cmdline);
  const core = new IommuCore(kernel, { arch: 'aarch64', version: 612 });
  const drv = new BenchIommuDriver();
  core.registerDriver(drv);
  const dev: KDevice = {
    name: 'bench0',
    master: { name: 'bench0', sid: 0, path: 'translated' },
    dmaMask: U64_MAX,
    coherentDmaMask: U64_MAX,
    busDmaLimit: 0n,
    dmaOps: 'direct',
    iommuName: drv.name,
    coherent: true,
  };
  core.probeDevice(dev);
  const dma = new IommuDma(kernel, core);
  if (!dma.iommuSetupDmaOps(dev)) throw new Error('bench: iommu-dma setup failed');
  const base = 0x40_0000_0000n;
  for (let i = 0; i < liveMappings; i++) {
    if (dma.mapPage(dev, base + (BigInt(i) << 12n), 4096, DMA_TO_DEVICE) === DMA_MAPPING_ERROR) throw new Error('bench: map failed');
  }
  const pa = 0x80_0000_0000n;
  // Warm up the rcache and the JIT.
  for (let i = 0; i < 2000; i++) dma.unmapPage(dev, dma.mapPage(dev, pa, 4096, DMA_TO_DEVICE), 4096, DMA_TO_DEVICE);
  const t0 = performance.now();
  for (let i = 0; i < pairs; i++) {
    const a = dma.mapPage(dev, pa, 4096, DMA_TO_DEVICE);
    dma.unmapPage(dev, a, 4096, DMA_TO_DEVICE);
  }
  const ms = performance.now() - t0;
  return pairs / (ms / 1000);
}
