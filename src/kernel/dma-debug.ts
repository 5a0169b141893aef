/**
 * DMA-API debugging, after linux kernel/dma/debug.c (CONFIG_DMA_API_DEBUG):
 * every map, unmap and sync a driver makes through the DMA API is checked
 * against a table of the mappings it holds (struct dma_debug_entry: device,
 * type, device address, size, direction, CPU address, whether
 * dma_mapping_error() was called), and a broken rule is reported with the
 * kernel's own text:
 *
 *   DMA-API: <driver> <dev_name>: device driver tries to free DMA memory it has not allocated [device address=0x%016llx] [size=%llu bytes]
 *
 * (err_printk: a WARN whose first line is this; the lab prints that line at
 * level warn and leaves out the "WARNING: CPU: ..." and stack lines.) As in
 * Linux only the first error is printed unless all errors are asked for
 * (debugfs dma-api/all_errors; here the option `dma-api-debug=all`);
 * error_count counts them all.
 *
 * Checks modelled, with the kernel's function:
 *   check_unmap   not allocated / invalid address, different size, wrong
 *                 function (type), different direction, map error not checked
 *   check_sync    not allocated, outside the allocated range, different
 *                 direction, device read-only for cpu, device write-only to device
 *   check_sg_segment  longer than dma_get_max_seg_size, across the boundary
 *   add_dma_entry     two device-writable mappings of one cacheline
 *                     ("cacheline tracking EEXIST, overlapping mappings aren't supported")
 * and two the kernel cannot make, which the lab can because it sees the CPU
 * and every device access:
 *   CPU access while the device owns a streaming buffer (after map or
 *   sync_for_device, before sync_for_cpu or unmap): reported with the text
 *   of debug_dma_assert_idle() ("cpu touching an active dma mapped
 *   cacheline [cln=%pa]", cln = PA >> 6). In Linux 3.19-5.9 that check ran
 *   only when a page under DMA was copied on write; v5.10 removed it.
 *   A device access to an address it was given and that has been unmapped
 *   since: a "dma-lab:" line, since no kernel could see it (with a strict
 *   IOMMU the access faults instead; with dma-direct it silently hits memory
 *   that may belong to someone else by now).
 *
 * Limits (stated): at most MAX_ENTRIES live entries (the kernel preallocates
 * 65536 and grows the pool); the unmapped addresses remembered for the
 * device check are the last MAX_UNMAPPED.
 */
import { type u64, hexRaw } from '../machine/u64.ts';
import { clone, type Stateful } from '../machine/state.ts';
import type { Kernel } from './kernel.ts';
import { DMA_BIDIRECTIONAL, DMA_DIR_NAMES, DMA_FROM_DEVICE, DMA_MAPPING_ERROR, DMA_TO_DEVICE, type DmaDirection, type KDevice } from './types.ts';

/** kernel/dma/debug.c: NR_PREALLOC_ENTRIES is 65536; the lab keeps fewer live entries. */
export const MAX_ENTRIES = 4096;
export const MAX_UNMAPPED = 64;
/** L1_CACHE_SHIFT on arm64: the cacheline number debug_dma_assert_idle printed is PA >> 6. */
const L1_CACHE_SHIFT = 6n;

/** type2name[] (kernel/dma/debug.c; "scather-gather" is the kernel's spelling). */
export type DebugType = 'single' | 'scather-gather' | 'coherent';
/** maperr2str[]. */
export type MapErrState = 'dma map error check not applicable' | 'dma map error not checked' | 'dma map error checked';

export interface DebugEntry {
  dev: string;
  type: DebugType;
  devAddr: u64;
  size: number;
  dir: DmaDirection;
  /** CPU physical address of the buffer. */
  paddr: u64;
  mapErr: MapErrState;
  /** Who may touch the buffer now (the lab's ownership check). */
  owner: 'device' | 'cpu';
  /** Entries of a scatterlist mapping (sg_call_ents). */
  sgCount?: number;
}

export interface DmaDebugReport {
  dev: string;
  text: string;
  /** Which check: 'unmap', 'sync', 'sg', 'cpu', 'device'. */
  check: string;
}

interface DebugState {
  enabled: boolean;
  allErrors: boolean;
  errorCount: number;
  showNumErrors: number;
  entries: DebugEntry[];
  unmapped: DebugEntry[];
  reports: DmaDebugReport[];
}

export interface DmaDebugOptions {
  /** Print every error, not only the first (debugfs all_errors). */
  allErrors?: boolean;
}

const dirName = (d: DmaDirection): string => DMA_DIR_NAMES[d] ?? 'DMA_NONE';
const x16 = (v: u64): string => `0x${hexRaw(v, 16)}`;

export class DmaDebug implements Stateful {
  private s: DebugState;
  /** dev_driver_string(): the bound driver, else the bus name. */
  driverOf: (dev: KDevice) => string = (dev) => (dev.pci ? 'pci' : 'platform');

  constructor(
    private readonly kernel: Kernel,
    opts: DmaDebugOptions = {},
  ) {
    this.s = { enabled: false, allErrors: opts.allErrors ?? false, errorCount: 0, showNumErrors: 1, entries: [], unmapped: [], reports: [] };
  }

  /**
   * dma_debug_init() with CONFIG_DMA_API_DEBUG=y: on unless the command line
   * says `dma_debug=off` (dma_debug_cmdline). Logs what Linux logs.
   */
  init(cmdline: ReadonlyMap<string, string>): void {
    if (cmdline.get('dma_debug') === 'off') {
      this.kernel.log('info', 'DMA-API: debugging disabled on kernel command line');
      return;
    }
    this.s.enabled = true;
    this.kernel.log('info', 'DMA-API: preallocated 65536 debug entries');
    this.kernel.log('info', 'DMA-API: debugging enabled by kernel config');
  }

  get enabled(): boolean {
    return this.s.enabled;
  }
  get errorCount(): number {
    return this.s.errorCount;
  }
  entries(): readonly DebugEntry[] {
    return this.s.entries;
  }
  reports(): readonly DmaDebugReport[] {
    return this.s.reports;
  }

  /** err_printk(): count, and print while show_num_errors lasts (or always with all_errors). */
  private err(dev: KDevice, check: string, text: string): void {
    this.s.errorCount++;
    const line = `DMA-API: ${this.driverOf(dev)} ${dev.name}: ${text}`;
    this.s.reports.push({ dev: dev.name, text: line, check });
    if (this.s.reports.length > MAX_UNMAPPED) this.s.reports.shift();
    if (this.s.allErrors || this.s.showNumErrors > 0) {
      this.kernel.log('warn', line);
      this.s.showNumErrors--;
    }
  }

  private add(e: DebugEntry, dev?: KDevice): void {
    // add_dma_entry() -> active_cacheline_insert(): the first cacheline of a
    // mapping the device may write (not DMA_TO_DEVICE) goes into a radix tree
    // keyed by cacheline number; a second such mapping of that line is
    // -EEXIST. (Linux skips the report when the device bounces through
    // swiotlb and CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC is set; not modelled.)
    if (dev && e.dir !== DMA_TO_DEVICE) {
      const cln = e.paddr >> L1_CACHE_SHIFT;
      if (this.s.entries.some((x) => x.dir !== DMA_TO_DEVICE && x.paddr >> L1_CACHE_SHIFT === cln)) this.err(dev, 'overlap', "cacheline tracking EEXIST, overlapping mappings aren't supported");
    }
    this.s.entries.push(e);
    if (this.s.entries.length > MAX_ENTRIES) this.s.entries.shift();
    this.s.unmapped = this.s.unmapped.filter((u) => !(u.dev === e.dev && overlaps(u.devAddr, u.size, e.devAddr, e.size)));
  }

  private retire(i: number): void {
    const [e] = this.s.entries.splice(i, 1);
    this.s.unmapped.push(e!);
    if (this.s.unmapped.length > MAX_UNMAPPED) this.s.unmapped.shift();
  }

  // ---- hooks, called by DmaMapping after the real call ----------------------------

  /** debug_dma_map_page() / debug_dma_map_single(). */
  mapPage(dev: KDevice, pa: u64, size: number, dir: DmaDirection, dma: u64): void {
    if (!this.s.enabled || dma === DMA_MAPPING_ERROR) return;
    this.add({ dev: dev.name, type: 'single', devAddr: dma, size, dir, paddr: pa, mapErr: 'dma map error not checked', owner: 'device' }, dev);
  }

  /** debug_dma_mapping_error(): marks the entries at this address as checked. */
  mappingError(dev: KDevice, dma: u64): void {
    if (!this.s.enabled) return;
    for (const e of this.s.entries) if (e.dev === dev.name && e.devAddr === dma && e.mapErr === 'dma map error not checked') e.mapErr = 'dma map error checked';
  }

  /** debug_dma_map_sg() with check_sg_segment(): one entry per DMA segment. */
  mapSg(dev: KDevice, sg: { pa: u64; len: number }[], segs: { dma: u64; len: number }[], dir: DmaDirection, maxSeg: number, boundary: u64): void {
    if (!this.s.enabled || segs.length === 0) return;
    for (const sgEnt of segs) {
      if (sgEnt.len > maxSeg) this.err(dev, 'sg', `mapping sg segment longer than device claims to support [len=${sgEnt.len}] [max=${maxSeg}]`);
      const start = sgEnt.dma;
      const end = start + BigInt(sgEnt.len) - 1n;
      if ((start ^ end) & ~boundary) this.err(dev, 'sg', `mapping sg segment across boundary [start=${x16(start)}] [end=${x16(end)}] [boundary=${x16(boundary)}]`);
    }
    segs.forEach((s, i) => this.add({ dev: dev.name, type: 'scather-gather', devAddr: s.dma, size: s.len, dir, paddr: sg[i]?.pa ?? 0n, mapErr: 'dma map error check not applicable', owner: 'device', sgCount: sg.length }, dev));
  }

  /** debug_dma_alloc_coherent(). */
  allocCoherent(dev: KDevice, size: number, pa: u64, dma: u64): void {
    if (!this.s.enabled) return;
    this.add({ dev: dev.name, type: 'coherent', devAddr: dma, size, dir: DMA_BIDIRECTIONAL, paddr: pa, mapErr: 'dma map error check not applicable', owner: 'cpu' });
  }

  /**
   * check_unmap(): called for dma_unmap_single/page (type single),
   * dma_unmap_sg (scather-gather, per segment) and dma_free_coherent.
   * Returns whether an entry was found (and removed).
   */
  unmap(dev: KDevice, type: DebugType, dma: u64, size: number, dir: DmaDirection, sgCount?: number): boolean {
    if (!this.s.enabled) return true;
    const cands = this.s.entries.map((e, i) => [e, i] as const).filter(([e]) => e.dev === dev.name && e.devAddr === dma);
    // bucket_find_exact(): among several at one address, the one matching size, type and direction best.
    const score = (e: DebugEntry): number => (e.size === size ? 4 : 0) + (e.type === type ? 2 : 0) + (e.dir === dir ? 1 : 0);
    const found = cands.sort((a, b) => score(b[0]) - score(a[0]))[0];
    if (!found) {
      if (dma === DMA_MAPPING_ERROR) this.err(dev, 'unmap', 'device driver tries to free an invalid DMA memory address');
      else this.err(dev, 'unmap', `device driver tries to free DMA memory it has not allocated [device address=${x16(dma)}] [size=${size} bytes]`);
      return false;
    }
    const [e, i] = found;
    if (e.size !== size) this.err(dev, 'unmap', `device driver frees DMA memory with different size [device address=${x16(dma)}] [map size=${e.size} bytes] [unmap size=${size} bytes]`);
    if (e.type !== type) this.err(dev, 'unmap', `device driver frees DMA memory with wrong function [device address=${x16(dma)}] [size=${e.size} bytes] [mapped as ${e.type}] [unmapped as ${type}]`);
    if (type === 'scather-gather' && sgCount !== undefined && e.sgCount !== undefined && e.sgCount !== sgCount) this.err(dev, 'unmap', `device driver frees DMA sg list with different entry count [map count=${e.sgCount}] [unmap count=${sgCount}]`);
    if (e.dir !== dir) this.err(dev, 'unmap', `device driver frees DMA memory with different direction [device address=${x16(dma)}] [size=${e.size} bytes] [mapped with ${dirName(e.dir)}] [unmapped with ${dirName(dir)}]`);
    // No "\n" and no blank before the bracket: the kernel's format string reads so.
    if (e.mapErr === 'dma map error not checked') this.err(dev, 'unmap', `device driver failed to check map error[device address=${x16(dma)}] [size=${e.size} bytes] [mapped as ${e.type}]`);
    this.retire(i);
    return true;
  }

  /** check_sync(): dma_sync_single_for_cpu (toCpu) / _for_device. Ownership moves with it. */
  sync(dev: KDevice, dma: u64, size: number, dir: DmaDirection, toCpu: boolean): void {
    if (!this.s.enabled) return;
    // bucket_find_contain(): the entry whose range holds the address.
    const e = this.s.entries.find((x) => x.dev === dev.name && dma >= x.devAddr && dma < x.devAddr + BigInt(x.size));
    if (!e) {
      this.err(dev, 'sync', `device driver tries to sync DMA memory it has not allocated [device address=${x16(dma)}] [size=${size} bytes]`);
      return;
    }
    const end = Number(dma - e.devAddr) + size;
    if (end > e.size) this.err(dev, 'sync', `device driver syncs DMA memory outside allocated range [device address=${x16(e.devAddr)}] [allocation size=${e.size} bytes] [sync offset+size=${end}]`);
    if (e.type !== 'coherent') e.owner = toCpu ? 'cpu' : 'device';
    if (e.dir === DMA_BIDIRECTIONAL) return;
    if (dir !== e.dir) this.err(dev, 'sync', `device driver syncs DMA memory with different direction [device address=${x16(dma)}] [size=${size} bytes] [mapped with ${dirName(e.dir)}] [synced with ${dirName(dir)}]`);
    if (toCpu && e.dir !== DMA_FROM_DEVICE && dir !== DMA_TO_DEVICE) this.err(dev, 'sync', `device driver syncs device read-only DMA memory for cpu [device address=${x16(dma)}] [size=${size} bytes] [mapped with ${dirName(e.dir)}] [synced with ${dirName(dir)}]`);
    if (!toCpu && e.dir !== DMA_TO_DEVICE && dir !== DMA_FROM_DEVICE) this.err(dev, 'sync', `device driver syncs device write-only DMA memory to device [device address=${x16(dma)}] [size=${size} bytes] [mapped with ${dirName(e.dir)}] [synced with ${dirName(dir)}]`);
  }

  /**
   * The CPU loads or stores [pa, pa+len): a streaming buffer the device
   * owns must not be touched (debug_dma_assert_idle's text; see above).
   * `devOf` finds the struct device of an entry. One report per access.
   */
  cpuAccess(pa: u64, len: number, devOf: (name: string) => KDevice | undefined): void {
    if (!this.s.enabled) return;
    const e = this.s.entries.find((x) => x.type !== 'coherent' && x.owner === 'device' && overlaps(x.paddr, x.size, pa, len));
    const dev = e ? devOf(e.dev) : undefined;
    if (!e || !dev) return;
    const first = pa > e.paddr ? pa : e.paddr;
    this.err(dev, 'cpu', `cpu touching an active dma mapped cacheline [cln=${x16(first >> L1_CACHE_SHIFT)}]`);
  }

  /**
   * A device accessed [addr, addr+len) (its bus address). Reported when the
   * range was mapped for this device, has been unmapped, and nothing live
   * covers it now. Returns the report, if any.
   */
  deviceAccess(dev: KDevice, addr: u64, len: number, write: boolean): string | undefined {
    if (!this.s.enabled) return undefined;
    if (this.s.entries.some((e) => e.dev === dev.name && overlaps(e.devAddr, e.size, addr, len))) return undefined;
    const u = [...this.s.unmapped].reverse().find((e) => e.dev === dev.name && overlaps(e.devAddr, e.size, addr, len));
    if (!u) return undefined;
    const fn = u.type === 'coherent' ? 'dma_free_coherent' : u.type === 'single' ? 'dma_unmap_single' : 'dma_unmap_sg';
    const line = `dma-lab: ${this.driverOf(dev)} ${dev.name}: the device ${write ? 'wrote' : 'read'} ${len} bytes at device address ${x16(addr)} after ${fn}() of [device address=${x16(u.devAddr)}] [size=${u.size} bytes] (${dirName(u.dir)}); dma-debug cannot see device accesses, the lab can`;
    this.s.errorCount++;
    this.s.reports.push({ dev: dev.name, text: line, check: 'device' });
    if (this.s.reports.length > MAX_UNMAPPED) this.s.reports.shift();
    this.kernel.log('warn', line);
    return line;
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as DebugState);
  }
}

function overlaps(a: u64, alen: number, b: u64, blen: number): boolean {
  return a < b + BigInt(blen) && b < a + BigInt(alen);
}
