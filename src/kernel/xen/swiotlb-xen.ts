/**
 * dom0's DMA ops on Xen on Arm: swiotlb-xen (drivers/xen/swiotlb-xen.c) with
 * the Arm helpers of arch/arm/xen/mm.c, and — for the lesson's contrast —
 * plain dma-direct, which knows nothing of Xen and uses the dom0 physical
 * address as the bus address.
 *
 * map_page, in swiotlb-xen's order:
 *   phys -> xen_phys_to_bus: bfn = pfn_to_bfn(pfn) per 4 KiB Xen page,
 *   then (current kernels) phys_to_dma's offset for the device;
 *   use it directly iff dma_capable && !range_straddles_page_boundary &&
 *   !xen_arch_need_swiotlb && !swiotlb=force; else bounce through the pool.
 *   A non-coherent device then gets cache maintenance: by address in dom0
 *   when the bus address maps back to a valid dom0 page, else through Xen
 *   (GNTTABOP_cache_flush, per Xen page, dma_cache_maint) — or in the 3.18
 *   era through XENFEAT_grant_map_identity's GFN == MFN mapping.
 * unmap_page receives only the bus address: xen_dma_to_phys is
 *   bfn_to_pfn, the identity on Arm, so for a foreign frame it yields the
 *   MFN as if it were a dom0 PFN (seed 004's problem); the sync for the CPU
 *   goes to Xen for that reason, and the bounce slot is found by address.
 *
 * Every decision and cache operation is logged (XenDmaEvent) and bounce
 * copies go to the machine's DMA trace as CPU copies.
 */
import { clone, type Stateful } from '../../machine/state.ts';
import { hex } from '../../machine/u64.ts';
import type { Xen } from '../../machine/xen/xen.ts';
import type { Machine } from '../../machine/machine.ts';
import { GNTTAB_CACHE_CLEAN, GNTTAB_CACHE_INVAL, XEN_ERRNO_NAMES, XEN_PAGE_SIZE } from '../../machine/xen/abi.ts';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_MAPPING_ERROR, DMA_TO_DEVICE, DMA_DIR_NAMES, type DmaDirection } from '../types.ts';
import { IO_TLB_SEGSIZE, IO_TLB_SHIFT, IO_TLB_SIZE } from '../swiotlb.ts';
import type { GnttabBack } from './gnttab.ts';
import type { XenEraInfo } from './era.ts';

/** What dom0's CPU does to memory: accesses through its caches, and maintenance by address. */
export interface CpuMemory {
  read(pa: bigint, len: number): Uint8Array;
  write(pa: bigint, data: Uint8Array): void;
  clean(pa: bigint, len: number): void;
  invalidate(pa: bigint, len: number): void;
}

/** The device as dom0's DMA layer sees it (struct device fields swiotlb-xen reads). */
export interface XenDmaDevice {
  name: string;
  dmaMask: bigint;
  /** dev_is_dma_coherent(): DT `dma-coherent`. */
  coherent: boolean;
  /** dma-ranges offset: bus = phys - dmaOffset (phys_to_dma). 0 = identity. */
  dmaOffset: bigint;
}

export type XenDmaOps = 'swiotlb-xen' | 'dma-direct';

export interface XenDmaEvent {
  /** The machine trace's next sequence number when this happened (for interleaving). */
  at: number;
  kind: 'map' | 'unmap' | 'bounce' | 'cache' | 'hypercall' | 'note';
  text: string;
}

export interface XenMapResult {
  dma: bigint;
  bounced: boolean;
  /** The steps as the lab prints them. */
  why: string;
}

interface Slot {
  orig: bigint;
  size: number;
  nslots: number;
}

interface SwiotlbXenState {
  /** First slot index -> mapping. */
  slots: Map<number, Slot>;
  events: XenDmaEvent[];
  bounces: number;
  cacheFlushes: number;
}

/** Stated limit: DMA events kept. */
export const XEN_DMA_LOG_LIMIT = 512;

export class SwiotlbXen implements Stateful {
  private s: SwiotlbXenState = { slots: new Map(), events: [], bounces: 0, cacheFlushes: 0 };
  /** hypercall_cflush: set at boot by probing GNTTABOP_cache_flush. */
  hypercallCflush = false;
  /** swiotlb=force. */
  force = false;

  constructor(
    readonly machine: Machine,
    readonly xen: Xen,
    readonly back: GnttabBack,
    readonly cpu: CpuMemory,
    readonly era: XenEraInfo,
    /** The pool: dom0 physical base and number of 2 KiB slots. */
    readonly poolBase: bigint,
    readonly nslabs: number,
  ) {}

  private log(kind: XenDmaEvent['kind'], text: string): void {
    this.s.events.push({ at: this.machine.trace.nextSeq, kind, text });
    if (this.s.events.length > XEN_DMA_LOG_LIMIT) this.s.events.shift();
  }
  events(): readonly XenDmaEvent[] {
    return this.s.events;
  }
  clearEvents(): void {
    this.s.events = [];
  }
  get bounces(): number {
    return this.s.bounces;
  }

  // ---- address helpers ------------------------------------------------------------

  /** phys_to_dma for the device (dma-ranges offset). */
  physToDma(dev: XenDmaDevice, pa: bigint): bigint {
    return BigInt.asUintN(64, pa - dev.dmaOffset);
  }
  dmaToPhys(dev: XenDmaDevice, dma: bigint): bigint {
    return BigInt.asUintN(64, dma + dev.dmaOffset);
  }
  /** xen_phys_to_bus: Xen's pfn -> bfn on the 4 KiB Xen page. */
  xenPhysToBus(pa: bigint): bigint {
    const bfn = this.back.pfnToBfn(Number(pa >> 12n));
    return (BigInt(bfn) << 12n) | (pa & 0xfffn);
  }
  /** xen_phys_to_dma: current kernels add the device offset; the 2014 code returned the machine address itself. */
  xenPhysToDma(dev: XenDmaDevice, pa: bigint): bigint {
    const bus = this.xenPhysToBus(pa);
    return this.era.dmaOffset ? this.physToDma(dev, bus) : bus;
  }
  /** xen_dma_to_phys: bfn_to_pfn is the identity on Arm. */
  xenDmaToPhys(dev: XenDmaDevice, dma: bigint): bigint {
    return this.era.dmaOffset ? this.dmaToPhys(dev, dma) : dma;
  }
  /** range_straddles_page_boundary: the buffer's Xen pages are not machine-contiguous. */
  rangeStraddlesPageBoundary(pa: bigint, size: number): boolean {
    const first = Number(pa >> 12n);
    const last = Number((pa + BigInt(size) - 1n) >> 12n);
    let b = this.back.pfnToBfn(first);
    for (let p = first + 1; p <= last; p++) {
      const n = this.back.pfnToBfn(p);
      if (n !== b + 1) return true;
      b = n;
    }
    return false;
  }
  /** dma_capable(dev, addr, size). */
  dmaCapable(dev: XenDmaDevice, dma: bigint, size: number): boolean {
    return dma + BigInt(size) - 1n <= dev.dmaMask;
  }
  /**
   * xen_arch_need_swiotlb (arch/arm/xen/mm.c): !hypercall_cflush && xen_pfn != bfn && !coherent.
   * The 3.18 era had no hypercall but reached foreign pages through XENFEAT_grant_map_identity instead.
   */
  xenArchNeedSwiotlb(dev: XenDmaDevice, pa: bigint, dma: bigint): boolean {
    const pfn = Number(pa >> 12n);
    const bfn = Number(this.dmaToPhysForArch(dev, dma) >> 12n);
    return !this.era.grantMapIdentity && !this.hypercallCflush && pfn !== bfn && !dev.coherent;
  }
  private dmaToPhysForArch(dev: XenDmaDevice, dma: bigint): bigint {
    return this.era.dmaOffset ? this.dmaToPhys(dev, dma) : dma;
  }
  isSwiotlbBuffer(pa: bigint): boolean {
    return pa >= this.poolBase && pa < this.poolBase + BigInt(this.nslabs * IO_TLB_SIZE);
  }

  // ---- cache maintenance ---------------------------------------------------------------

  /** dma_cache_maint (arch/arm/xen/mm.c): one GNTTABOP_cache_flush per Xen page, Linux's own stepping. */
  dmaCacheMaint(dev: XenDmaDevice, handle: bigint, size: number, op: number): void {
    let offset = Number(handle & 0xfffn);
    let h = handle & ~0xfffn;
    let left = size;
    const name = op === GNTTAB_CACHE_INVAL ? 'GNTTAB_CACHE_INVAL' : 'GNTTAB_CACHE_CLEAN';
    do {
      const busAddr = this.dmaToPhysForArch(dev, h);
      const length = left + offset > XEN_PAGE_SIZE ? XEN_PAGE_SIZE - offset : left;
      const rc = this.xen.cacheFlush(0, { a: busAddr, offset, length, op });
      this.s.cacheFlushes++;
      this.log('hypercall', `GNTTABOP_cache_flush a.dev_bus_addr=${hex(busAddr)} offset=${hex(offset)} length=${hex(length)} op=${name} -> ${rc === 0 ? '0' : XEN_ERRNO_NAMES[rc] ?? rc}`);
      offset = 0;
      h += BigInt(length);
      left -= length;
    } while (left > 0);
  }

  /** The maintenance a non-coherent device needs before it touches the buffer (map, sync_for_device). */
  private syncForDevice(dev: XenDmaDevice, pa: bigint, dma: bigint, size: number, dir: DmaDirection): void {
    if (dev.coherent) return;
    const bfn = Number(this.dmaToPhysForArch(dev, dma) >> 12n);
    if (this.back.pfnValid(bfn)) {
      // arch_sync_dma_for_device (arm64): clean, whatever the direction.
      this.cpu.clean(pa, size);
      this.log('cache', `arch_sync_dma_for_device: clean [${hex(pa)}, +${hex(size)}) by dom0 address (local page)`);
    } else if (this.era.grantMapIdentity) {
      // 3.18: Xen also mapped the grant at GFN == MFN; dom0 cleans it there (xen_mm32_remap_page).
      const ma = this.dmaToPhysForArch(dev, dma);
      if (dir === DMA_FROM_DEVICE) this.cpu.invalidate(ma, size);
      else this.cpu.clean(ma, size);
      this.log('cache', `${dir === DMA_FROM_DEVICE ? 'invalidate' : 'clean'} [${hex(ma)}, +${hex(size)}) through the XENFEAT_grant_map_identity mapping (pfn == mfn)`);
    } else if (this.hypercallCflush) {
      this.dmaCacheMaint(dev, dma, size, dir === DMA_FROM_DEVICE ? GNTTAB_CACHE_INVAL : GNTTAB_CACHE_CLEAN);
    } else {
      this.log('cache', `foreign page ${hex(bfn)} and no way to maintain it: nothing done (the buffer should have been bounced)`);
    }
  }

  /** The maintenance before the CPU reads what the device wrote (unmap, sync_for_cpu). */
  private syncForCpu(dev: XenDmaDevice, dma: bigint, size: number, dir: DmaDirection): void {
    if (dev.coherent || dir === DMA_TO_DEVICE) return;
    const pa = this.xenDmaToPhys(dev, dma);
    const bfn = Number(this.dmaToPhysForArch(dev, dma) >> 12n);
    if (this.back.pfnValid(bfn)) {
      this.cpu.invalidate(pa, size);
      this.log('cache', `arch_sync_dma_for_cpu: invalidate [${hex(pa)}, +${hex(size)}) by dom0 address (local page)`);
    } else if (this.era.grantMapIdentity) {
      const ma = this.dmaToPhysForArch(dev, dma);
      this.cpu.invalidate(ma, size);
      this.log('cache', `invalidate [${hex(ma)}, +${hex(size)}) through the XENFEAT_grant_map_identity mapping (pfn == mfn)`);
    } else if (this.hypercallCflush) {
      this.dmaCacheMaint(dev, dma, size, GNTTAB_CACHE_INVAL);
    } else {
      this.log('cache', `foreign page ${hex(bfn)}: dom0 has only the bus address and no hypercall; nothing done`);
    }
  }

  // ---- the pool ---------------------------------------------------------------------------

  private allocSlots(n: number): number | undefined {
    // First fit within IO_TLB_SEGSIZE segments (a mapping never crosses one).
    const used = new Array<boolean>(this.nslabs).fill(false);
    for (const [i, sl] of this.s.slots) for (let k = 0; k < sl.nslots; k++) used[i + k] = true;
    for (let i = 0; i + n <= this.nslabs; i++) {
      if (Math.floor(i / IO_TLB_SEGSIZE) !== Math.floor((i + n - 1) / IO_TLB_SEGSIZE)) continue;
      let free = true;
      for (let k = 0; k < n && free; k++) if (used[i + k]) free = false;
      if (free) return i;
    }
    return undefined;
  }

  private copy(from: bigint, to: bigint, size: number, dev: XenDmaDevice, why: string): void {
    const fromMa = this.xen.gpaToMa(0, from)!;
    const toMa = this.xen.gpaToMa(0, to)!;
    this.cpu.write(toMa, this.cpu.read(fromMa, size));
    this.s.bounces++;
    this.machine.trace.add({ device: dev.name, op: 'write', addr: fromMa, len: size, path: 'bypass', steps: [], outcome: { kind: 'ok', pa: toMa }, what: `swiotlb-xen bounce on ${why}`, cpu: 'swiotlb-xen' });
  }

  // ---- the DMA API --------------------------------------------------------------------------

  /** dma_map_page through dom0's ops. Returns DMA_MAPPING_ERROR on failure. */
  mapPage(dev: XenDmaDevice, pa: bigint, size: number, dir: DmaDirection, ops: XenDmaOps): XenMapResult {
    const pfn = Number(pa >> 12n);
    if (ops === 'dma-direct') {
      const dma = this.physToDma(dev, pa);
      const why = `dma-direct: phys_to_dma(${hex(pa)}) = ${hex(dma)}; pfn ${hex(pfn)} is used as if it were the machine frame (p2m says ${hex(this.back.pfnToBfn(pfn))})`;
      this.log('map', `${dev.name}: ${why}`);
      if (!dev.coherent) {
        this.cpu.clean(pa, size);
        this.log('cache', `arch_sync_dma_for_device: clean [${hex(pa)}, +${hex(size)})`);
      }
      return { dma, bounced: false, why };
    }
    const bfn = this.back.pfnToBfn(pfn);
    let dma = this.xenPhysToDma(dev, pa);
    const capable = this.dmaCapable(dev, dma, size);
    const straddles = this.rangeStraddlesPageBoundary(pa, size);
    const need = this.xenArchNeedSwiotlb(dev, pa, dma);
    const steps = `pfn ${hex(pfn)} -> bfn ${hex(bfn)} -> bus ${hex(dma)}`;
    if (capable && !straddles && !need && !this.force) {
      const why = `swiotlb-xen: ${steps}; direct (dma_capable, machine-contiguous${bfn !== pfn ? ', foreign' : ''})`;
      this.log('map', `${dev.name}: ${why}`);
      this.syncForDevice(dev, pa, dma, size, dir);
      return { dma, bounced: false, why };
    }
    const reason = !capable ? `bus ${hex(dma)} beyond the DMA mask ${hex(dev.dmaMask)}` : straddles ? 'the buffer straddles machine-discontiguous Xen pages' : need ? 'foreign page, non-coherent device, no GNTTABOP_cache_flush' : 'swiotlb=force';
    const n = Math.ceil(size / IO_TLB_SIZE);
    const slot = n <= IO_TLB_SEGSIZE ? this.allocSlots(n) : undefined;
    if (slot === undefined) {
      this.log('map', `${dev.name}: swiotlb-xen: ${steps}; must bounce (${reason}) but the pool is full: DMA_MAPPING_ERROR`);
      return { dma: DMA_MAPPING_ERROR, bounced: false, why: `bounce needed (${reason}); swiotlb buffer is full` };
    }
    const tlb = this.poolBase + (BigInt(slot) << BigInt(IO_TLB_SHIFT));
    this.s.slots.set(slot, { orig: pa, size, nslots: n });
    dma = this.xenPhysToDma(dev, tlb);
    const why = `swiotlb-xen: ${steps}; bounced (${reason}) to slot ${slot} at ${hex(tlb)}, bus ${hex(dma)}`;
    this.log('bounce', `${dev.name}: ${why}`);
    if (dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL) this.copy(pa, tlb, size, dev, 'map');
    this.syncForDevice(dev, tlb, dma, size, dir);
    return { dma, bounced: true, why };
  }

  /** dma_unmap_page: only the bus address. Returns a line saying what was done. */
  unmapPage(dev: XenDmaDevice, dma: bigint, size: number, dir: DmaDirection, ops: XenDmaOps): string {
    if (ops === 'dma-direct') {
      const pa = this.dmaToPhys(dev, dma);
      if (!dev.coherent && dir !== DMA_TO_DEVICE) this.cpu.invalidate(pa, size);
      const t = `dma-direct unmap ${hex(dma)} ${DMA_DIR_NAMES[dir]}: dma_to_phys = ${hex(pa)}`;
      this.log('unmap', `${dev.name}: ${t}`);
      return t;
    }
    const pa = this.xenDmaToPhys(dev, dma);
    const pfns = this.back.pfnsOfBfn(Number(this.dmaToPhysForArch(dev, dma) >> 12n));
    this.syncForCpu(dev, dma, size, dir);
    let t = `swiotlb-xen unmap bus ${hex(dma)} ${DMA_DIR_NAMES[dir]}: xen_dma_to_phys = ${hex(pa)}`;
    t += pfns.length ? ` (not dom0's page: the frame is mapped at pfn ${pfns.map((p) => hex(p)).join(', ')})` : '';
    if (this.isSwiotlbBuffer(pa)) {
      const slot = Number((pa - this.poolBase) >> BigInt(IO_TLB_SHIFT));
      const sl = this.s.slots.get(slot);
      if (sl) {
        if (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL) this.copy(pa, sl.orig, sl.size, dev, 'unmap');
        this.s.slots.delete(slot);
        t += `; bounce slot ${slot} copied back to ${hex(sl.orig)} and freed`;
      }
    }
    this.log('unmap', `${dev.name}: ${t}`);
    return t;
  }

  /** Slots in use, for `xen swiotlb`. */
  slotsInUse(): [number, Slot][] {
    return [...this.s.slots].sort((a, b) => a[0] - b[0]);
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as SwiotlbXenState);
  }
}
