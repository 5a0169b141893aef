/**
 * A CPU data cache, write-back, for machines whose devices are not
 * coherent (no `dma-coherent` in the device tree): the CPU's loads and
 * stores go through it, a non-coherent device's DMA goes to RAM and does
 * not look at it. So a CPU store the device should read stays in a dirty
 * line until it is cleaned, and a device write the CPU should read is
 * hidden behind a stale line until it is invalidated. That is what the DMA
 * API's cache maintenance is for (arch_sync_dma_for_device/for_cpu on
 * arm64: dc cvac / dc ivac / dc civac by address), and what Xen's
 * GNTTABOP_cache_flush does by machine address for foreign pages.
 *
 *   line = 64 bytes (arm64 CTR_EL0.DminLine on the cores the lab models)
 *   read    : every line of the range is filled from RAM if absent
 *   write   : lines are filled, then written, and marked dirty
 *   clean   : dirty lines of the range are written back (they stay valid)
 *   inval   : lines of the range are dropped (a dirty line's bytes are lost,
 *             as with dc ivac on a line nobody cleaned)
 *   civac   : clean, then invalidate
 *
 * Bounded: at most MAX_LINES lines; past that the oldest line is evicted
 * (written back if dirty), first in first out, so the model stays
 * deterministic. Physical addresses only: dom0 on Arm is mapped 1:1, and
 * the lab does not model virtual aliases.
 */
import type { u64 } from './u64.ts';
import type { PhysicalMemory } from './memory.ts';
import type { Stateful } from './state.ts';

export const CACHE_LINE = 64;
/** Stated limit: lines held at once (256 KiB); the oldest is evicted past it. */
export const MAX_LINES = 4096;

interface Line {
  data: Uint8Array;
  dirty: boolean;
}

export class CpuCache implements Stateful {
  /** Line address (as a number: exact below 2^53) -> line; insertion order is eviction order. */
  private lines = new Map<number, Line>();
  /**
   * Ranges the CPU maps non-cacheable ([start, end) line-aligned numbers):
   * arm64 dma_alloc_coherent for a non-coherent device remaps its buffer
   * Normal-NC (arch/arm64/mm/dma-mapping.c arch_dma_prep_coherent, then
   * pgprot_dmacoherent), so CPU loads and stores there go straight to RAM.
   */
  private uncached: [number, number][] = [];
  /** Counters for inspectors and lessons. */
  stats = { fills: 0, writebacks: 0, evictions: 0, dropped: 0 };

  constructor(private readonly memory: PhysicalMemory) {}

  private static lineOf(pa: u64): number {
    return Number(pa & ~BigInt(CACHE_LINE - 1));
  }

  private fill(la: number): Line {
    let l = this.lines.get(la);
    if (l) return l;
    if (this.lines.size >= MAX_LINES) {
      const [oldest, ol] = this.lines.entries().next().value as [number, Line];
      if (ol.dirty) this.writeBack(oldest, ol);
      this.lines.delete(oldest);
      this.stats.evictions++;
    }
    l = { data: this.memory.read(BigInt(la), CACHE_LINE), dirty: false };
    this.lines.set(la, l);
    this.stats.fills++;
    return l;
  }

  private writeBack(la: number, l: Line): void {
    this.memory.write(BigInt(la), l.data);
    l.dirty = false;
    this.stats.writebacks++;
  }

  /** The lines a range touches. */
  private *span(pa: u64, len: number): Generator<{ la: number; from: number; to: number; at: number }> {
    let done = 0;
    while (done < len) {
      const a = pa + BigInt(done);
      const la = CpuCache.lineOf(a);
      const from = Number(a - BigInt(la));
      const n = Math.min(len - done, CACHE_LINE - from);
      yield { la, from, to: from + n, at: done };
      done += n;
    }
  }

  private isUncached(la: number): boolean {
    for (const [a, b] of this.uncached) if (la >= a && la < b) return true;
    return false;
  }

  /** Map [pa, pa+len) non-cacheable (true) or cacheable again (false); whole lines. */
  setUncached(pa: u64, len: number, on: boolean): void {
    const a = CpuCache.lineOf(pa);
    const b = CpuCache.lineOf(pa + BigInt(len + CACHE_LINE - 1));
    this.uncached = this.uncached.filter(([x, y]) => !(x === a && y === b));
    if (on) this.uncached.push([a, b]);
  }

  /** Is the line at pa mapped non-cacheable? */
  uncachedAt(pa: u64): boolean {
    return this.isUncached(CpuCache.lineOf(pa));
  }

  /** A CPU load: through the cache (read-allocate), or to RAM where the mapping is non-cacheable. */
  read(pa: u64, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (const s of this.span(pa, len)) {
      if (this.isUncached(s.la)) out.set(this.memory.read(BigInt(s.la + s.from), s.to - s.from), s.at);
      else out.set(this.fill(s.la).data.subarray(s.from, s.to), s.at);
    }
    return out;
  }

  /**
   * What a CPU load would return, without allocating: the line when the
   * cache holds it, RAM otherwise. For looks (inspectors) that must not
   * change the cache's contents.
   */
  peek(pa: u64, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (const s of this.span(pa, len)) {
      const l = this.isUncached(s.la) ? undefined : this.lines.get(s.la);
      out.set(l ? l.data.subarray(s.from, s.to) : this.memory.read(BigInt(s.la + s.from), s.to - s.from), s.at);
    }
    return out;
  }

  /** A CPU store: into the cache (write-allocate), the line becomes dirty; to RAM where non-cacheable. */
  write(pa: u64, data: Uint8Array): void {
    for (const s of this.span(pa, data.length)) {
      const chunk = data.subarray(s.at, s.at + (s.to - s.from));
      if (this.isUncached(s.la)) {
        this.memory.write(BigInt(s.la + s.from), chunk);
        continue;
      }
      const l = this.fill(s.la);
      l.data.set(chunk, s.from);
      l.dirty = true;
    }
  }

  /** dc cvac over a range: write dirty lines back to RAM. */
  clean(pa: u64, len: number): void {
    for (const s of this.span(pa, len)) {
      const l = this.lines.get(s.la);
      if (l?.dirty) this.writeBack(s.la, l);
    }
  }

  /** dc ivac over a range: drop the lines (a dirty line's data is lost). */
  invalidate(pa: u64, len: number): void {
    for (const s of this.span(pa, len)) {
      const l = this.lines.get(s.la);
      if (!l) continue;
      if (l.dirty) this.stats.dropped++;
      this.lines.delete(s.la);
    }
  }

  /** dc civac over a range. */
  cleanInvalidate(pa: u64, len: number): void {
    this.clean(pa, len);
    this.invalidate(pa, len);
  }

  /** What the cache holds for a range, for inspectors: line address, dirty, whether it differs from RAM. */
  linesIn(pa: u64, len: number): { line: u64; dirty: boolean; stale: boolean }[] {
    const out: { line: u64; dirty: boolean; stale: boolean }[] = [];
    for (const s of this.span(pa, len)) {
      const l = this.lines.get(s.la);
      if (!l) continue;
      const ram = this.memory.read(BigInt(s.la), CACHE_LINE);
      out.push({ line: BigInt(s.la), dirty: l.dirty, stale: !l.dirty && ram.some((b, i) => b !== l.data[i]) });
    }
    return out;
  }

  /** The bytes a held line has (a copy), or undefined when the cache does not hold it. */
  lineBytes(line: u64): Uint8Array | undefined {
    return this.lines.get(CpuCache.lineOf(line))?.data.slice();
  }

  get size(): number {
    return this.lines.size;
  }

  saveState(): unknown {
    return { lines: [...this.lines].map(([k, l]) => [k, l.data.slice(), l.dirty] as const), stats: { ...this.stats }, uncached: this.uncached.map((r) => [...r]) };
  }
  restoreState(state: unknown): void {
    const st = state as { lines: (readonly [number, Uint8Array, boolean])[]; stats: CpuCache['stats']; uncached?: [number, number][] };
    this.lines = new Map(st.lines.map(([k, d, dirty]) => [k, { data: d.slice(), dirty }]));
    this.stats = { ...st.stats };
    this.uncached = (st.uncached ?? []).map(([a, b]) => [a, b]);
  }
}
