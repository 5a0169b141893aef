/**
 * Sparse physical memory and the system memory map.
 *
 * RAM is stored a 4 KiB page at a time, created on first write, so a preset
 * with a terabyte of RAM costs nothing until it is touched; a read of a page
 * never written returns zeros. The region map says what lives at each
 * address: RAM, ROM, MMIO (a handler), or nothing (a hole: any access is a
 * BusError naming the address).
 *
 * Transactions: `begin()` starts a journal; the first write to a page in the
 * journal records the page's old contents (or its absence). `rollback()`
 * puts every journaled page back; `commit()` hands the journal out so it can
 * be kept as an undo record and replayed later with `revert()`.
 */
import { type u64, hex, U64_MAX, PAGE_SIZE } from './u64.ts';
import { BusError, LimitError } from './errors.ts';

export type AccessSize = 1 | 2 | 4 | 8;

export interface MmioHandler {
  read(offset: u64, size: AccessSize): u64;
  write(offset: u64, size: AccessSize, value: u64): void;
  /**
   * Optional: a write that came from a device's DMA, with the master's
   * identity as a sideband (a GICv3 ITS takes the DeviceID from it, not
   * from the data). Return a description when the write was an interrupt
   * rather than a register write. Without it, device writes use `write`.
   */
  deviceWrite?(offset: u64, data: Uint8Array, from: DeviceWriteInfo): string | undefined;
}

/** Who issued a device write, as the interconnect tells the target (DmaMaster satisfies it). */
export interface DeviceWriteInfo {
  name: string;
  sid: number;
  rid?: number;
}

export type RegionKind = 'ram' | 'rom' | 'mmio';

export interface Region {
  name: string;
  base: u64;
  size: u64;
  kind: RegionKind;
  /** For 'mmio': who answers. */
  handler?: MmioHandler;
  /** Container name for the `info mtree` view (e.g. 'pcie-mmio'). */
  parent?: string;
}

/** Pages journaled by a transaction: pfn -> old contents (null: page did not exist). */
export type MemoryJournal = Map<number, Uint8Array | null>;

interface Page {
  b: Uint8Array;
  v: DataView;
}

/** Addresses below this convert to a JS number exactly. */
const SAFE = 1n << 53n;
/** 0n..8n, so scalar accesses do not allocate a bigint for their length. */
const SMALL: readonly bigint[] = [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n];

const newPage = (src?: Uint8Array): Page => {
  const b = src ? new Uint8Array(src) : new Uint8Array(PAGE_SIZE);
  return { b, v: new DataView(b.buffer) };
};

export class PhysicalMemory {
  private regions: Region[] = [];
  private pages = new Map<number, Page>();
  private journal: MemoryJournal | null = null;
  private last: Region | undefined;
  private prev: Region | undefined;
  /** Upper bound on RAM pages that may exist at once (a stated limit). */
  /**
   * Stated limit: 1 GiB of written RAM per machine (2^18 pages). At 4 GiB
   * the lab's process reached ~4.8 GB resident (issue 12); 1 GiB keeps it near
   * 1.3 GB and still holds the largest workload the lab runs (the VFIO bench:
   * 100,000 mappings with their page tables, ~800 MiB).
   */
  maxPages = 1 << 18;

  addRegion(r: Region): void {
    const end = r.base + r.size - 1n;
    if (r.size === 0n || end > U64_MAX) throw new Error(`bad region ${r.name}`);
    for (const o of this.regions) {
      if (r.base <= o.base + o.size - 1n && o.base <= end) {
        throw new Error(`region ${r.name} [${hex(r.base)}] overlaps ${o.name} [${hex(o.base)}]`);
      }
    }
    this.regions.push(r);
    this.regions.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
  }

  removeRegion(name: string): void {
    this.regions = this.regions.filter((r) => r.name !== name);
    this.last = undefined;
    this.prev = undefined;
  }

  listRegions(): readonly Region[] {
    return this.regions;
  }

  /** The region holding `addr`, or undefined for a hole. */
  regionAt(addr: u64): Region | undefined {
    // Two most recent regions: device models alternate between RAM (tables,
    // queues) and an MMIO register block, which would defeat a single entry.
    const l = this.last;
    if (l && addr >= l.base && addr - l.base < l.size) return l;
    const p = this.prev;
    if (p && addr >= p.base && addr - p.base < p.size) {
      this.prev = l;
      return (this.last = p);
    }
    let lo = 0;
    let hi = this.regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.regions[mid]!;
      if (addr < r.base) hi = mid - 1;
      else if (addr - r.base >= r.size) lo = mid + 1;
      else {
        this.prev = this.last;
        return (this.last = r);
      }
    }
    return undefined;
  }

  /** Region for an access of `len` bytes; the whole access must fit in it. */
  private regionFor(addr: u64, len: number): Region {
    const r = this.regionAt(addr);
    if (!r) throw BusError.hole(addr);
    if (addr - r.base + (len <= 8 ? SMALL[len]! : BigInt(len)) > r.size) {
      throw new BusError(addr, 'hole', `access of ${len} bytes at ${hex(addr)} runs past the end of ${r.name} (ends at ${hex(r.base + r.size - 1n)})`);
    }
    return r;
  }

  // ---- pages ------------------------------------------------------------

  pageCount(): number {
    return this.pages.size;
  }

  /** Whether the page holding addr has ever been written. */
  pagePresent(addr: u64): boolean {
    return this.pages.has(Number(addr >> 12n));
  }

  private pageForWrite(pfn: number): Page {
    let p = this.pages.get(pfn);
    if (this.journal && !this.journal.has(pfn)) this.journal.set(pfn, p ? new Uint8Array(p.b) : null);
    if (!p) {
      if (this.pages.size >= this.maxPages) {
        throw new LimitError('memory', `memory limit reached: at most ${this.maxPages} pages (${this.maxPages / 256} MiB) of RAM may be written in one machine`);
      }
      p = newPage();
      this.pages.set(pfn, p);
    }
    return p;
  }

  // ---- byte ranges -------------------------------------------------------

  read(addr: u64, len: number): Uint8Array {
    const out = new Uint8Array(len);
    if (len === 0) return out;
    const r = this.regionFor(addr, len);
    if (r.kind === 'mmio') {
      for (let i = 0; i < len; i++) out[i] = Number(r.handler!.read(addr - r.base + BigInt(i), 1));
      return out;
    }
    let done = 0;
    let pfn = Number(addr >> 12n);
    let off = Number(addr & 0xfffn);
    while (done < len) {
      const n = Math.min(len - done, PAGE_SIZE - off);
      const p = this.pages.get(pfn);
      if (p) out.set(p.b.subarray(off, off + n), done);
      done += n;
      pfn++;
      off = 0;
    }
    return out;
  }

  write(addr: u64, data: Uint8Array): void {
    const len = data.length;
    if (len === 0) return;
    const r = this.regionFor(addr, len);
    if (r.kind === 'rom') throw new BusError(addr, 'hole', `${r.name} at ${hex(addr)} is read-only`);
    if (r.kind === 'mmio') {
      for (let i = 0; i < len; i++) r.handler!.write(addr - r.base + BigInt(i), 1, BigInt(data[i]!));
      return;
    }
    let done = 0;
    let pfn = Number(addr >> 12n);
    let off = Number(addr & 0xfffn);
    while (done < len) {
      const n = Math.min(len - done, PAGE_SIZE - off);
      this.pageForWrite(pfn).b.set(data.subarray(done, done + n), off);
      done += n;
      pfn++;
      off = 0;
    }
  }

  /** Fill len bytes with one value, page by page (no len-sized buffer). */
  fill(addr: u64, len: u64, byte: number): void {
    if (len === 0n) return;
    const r = this.regionFor(addr, 1);
    if (addr - r.base + len > r.size) {
      throw new BusError(addr, 'hole', `fill of ${len} bytes at ${hex(addr)} runs past the end of ${r.name}`);
    }
    if (r.kind !== 'ram') throw new BusError(addr, 'mmio', `fill works on RAM only; ${r.name} at ${hex(addr)} is ${r.kind}`);
    let a = addr;
    let left = len;
    while (left > 0n) {
      const off = Number(a & 0xfffn);
      const n = Math.min(Number(left > 4096n ? 4096n : left), PAGE_SIZE - off);
      this.pageForWrite(Number(a >> 12n)).b.fill(byte, off, off + n);
      a += BigInt(n);
      left -= BigInt(n);
    }
  }

  // ---- scalar little-endian access ---------------------------------------

  readU(addr: u64, size: AccessSize): u64 {
    // Page arithmetic on a plain number when exact (every RAM address the
    // presets have is far below 2^53); bigint only at the edges.
    const n = addr < SAFE ? Number(addr) : -1;
    const off = n >= 0 ? n % PAGE_SIZE : Number(addr & 0xfffn);
    const r = this.regionFor(addr, size);
    if (r.kind === 'mmio') return r.handler!.read(addr - r.base, size);
    if (off + size > PAGE_SIZE) {
      const b = this.read(addr, size);
      let v = 0n;
      for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
      return v;
    }
    const p = this.pages.get(n >= 0 ? (n - off) / PAGE_SIZE : Number(addr >> 12n));
    if (!p) return 0n;
    switch (size) {
      case 1: return BigInt(p.b[off]!);
      case 2: return BigInt(p.v.getUint16(off, true));
      case 4: return BigInt(p.v.getUint32(off, true));
      case 8: return p.v.getBigUint64(off, true);
    }
  }

  writeU(addr: u64, size: AccessSize, value: u64): void {
    const n = addr < SAFE ? Number(addr) : -1;
    const off = n >= 0 ? n % PAGE_SIZE : Number(addr & 0xfffn);
    const r = this.regionFor(addr, size);
    if (r.kind === 'mmio') return r.handler!.write(addr - r.base, size, value & ((1n << BigInt(size * 8)) - 1n));
    if (r.kind === 'rom') throw new BusError(addr, 'hole', `${r.name} at ${hex(addr)} is read-only`);
    if (off + size > PAGE_SIZE) {
      const b = new Uint8Array(size);
      for (let i = 0; i < size; i++) b[i] = Number((value >> BigInt(8 * i)) & 0xffn);
      return this.write(addr, b);
    }
    const p = this.pageForWrite(n >= 0 ? (n - off) / PAGE_SIZE : Number(addr >> 12n));
    switch (size) {
      case 1: p.b[off] = Number(value & 0xffn); break;
      case 2: p.v.setUint16(off, Number(value & 0xffffn), true); break;
      case 4: p.v.setUint32(off, Number(value & 0xffffffffn), true); break;
      case 8: p.v.setBigUint64(off, value, true); break; // setBigUint64 stores value mod 2^64
    }
  }

  read8 = (a: u64): number => Number(this.readU(a, 1));
  read16 = (a: u64): number => Number(this.readU(a, 2));
  read32 = (a: u64): number => Number(this.readU(a, 4));
  read64 = (a: u64): u64 => this.readU(a, 8);
  write8 = (a: u64, v: number | u64): void => this.writeU(a, 1, BigInt(v));
  write16 = (a: u64, v: number | u64): void => this.writeU(a, 2, BigInt(v));
  write32 = (a: u64, v: number | u64): void => this.writeU(a, 4, BigInt(v));
  write64 = (a: u64, v: u64): void => this.writeU(a, 8, v);

  /** Read `n` little-endian 64-bit words (a table entry, an event record). */
  readWords(addr: u64, n: number): u64[] {
    const out: u64[] = [];
    for (let i = 0; i < n; i++) out.push(this.read64(addr + BigInt(8 * i)));
    return out;
  }
  writeWords(addr: u64, words: readonly u64[]): void {
    words.forEach((w, i) => this.write64(addr + BigInt(8 * i), w));
  }

  // ---- transactions ------------------------------------------------------

  begin(): void {
    this.journal = new Map();
  }
  inTransaction(): boolean {
    return this.journal !== null;
  }
  commit(): MemoryJournal {
    const j = this.journal ?? new Map();
    this.journal = null;
    return j;
  }
  rollback(): void {
    const j = this.journal;
    this.journal = null;
    if (j) this.revert(j);
  }
  /** Put back the pages recorded in a journal. */
  revert(j: MemoryJournal): void {
    for (const [pfn, old] of j) {
      if (old) this.pages.set(pfn, newPage(old));
      else this.pages.delete(pfn);
    }
  }
  /** Drop every page (reset). */
  clear(): void {
    this.pages.clear();
  }
}
