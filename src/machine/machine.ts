/**
 * The machine: physical memory and its map, PCI, IOMMUs, interrupt
 * controllers, devices, and the DMA engine that routes every device access
 * through its path (see dma.ts) and traces it.
 *
 * Everything mutable is either in PhysicalMemory (journaled) or registered
 * here as a `Stateful` component, so `saveStates()` + the memory journal
 * capture the whole machine for undo and for rolling back a failed command.
 */
import { type u64, hex, PAGE_SIZE } from './u64.ts';
import { PhysicalMemory } from './memory.ts';
import { BusError } from './errors.ts';
import { DmaTrace, type DmaFault, type DmaOutcome, type TranslationStep } from './trace.ts';
import { InterruptLog } from './interrupts.ts';
import type { PciFunction, PciHostBridge } from './pci.ts';
import { busFault, type DmaMaster, type DmaReadResult, type DmaWriteResult, type InterruptWindow, type Iommu } from './dma.ts';
import type { Stateful } from './state.ts';
import { qemuUnassignedPieces } from './smmuv3/qemu.ts';
import type { CpuCache } from './cache.ts';

/** One device access the DMA engine routed (what an observer such as a DMA-API checker is told). */
export interface DeviceAccess {
  master: DmaMaster;
  /** The bus address as issued, and its length (at most a page). */
  addr: u64;
  len: number;
  write: boolean;
  /** Where it landed in memory, when it did. */
  pa?: u64;
}

export interface MachineInfo {
  /** Preset name ("arm-virt"). */
  name: string;
  arch: 'aarch64' | 'x86_64';
  /** Board in the hypervisor's words ("QEMU virt", "Arm FVP Base"). */
  board: string;
  cpus: number;
  description: string;
}

export class Machine {
  readonly memory = new PhysicalMemory();
  readonly trace = new DmaTrace();
  readonly interrupts = new InterruptLog();
  readonly pciHosts: PciHostBridge[] = [];
  readonly iommus: Iommu[] = [];
  interruptWindow: InterruptWindow | undefined;
  /**
   * QEMU's memory core (smmuv3/qemu.ts): an access whose IOMMU translation
   * fails goes on in pieces of at most 4 bytes, each translated again
   * (and each able to record its own fault). False: the access stops at
   * its one fault, as hardware's single transaction does.
   */
  qemuFaultSplit = false;
  /** Every device that can issue DMA, by the model's name ("vda"). */
  readonly masters = new Map<string, DmaMaster>();
  private components = new Map<string, Stateful>();
  /**
   * The CPU's data cache, on a machine where some device does not snoop it
   * (a preset option such as `vda.coherent=no`). Absent: every device is
   * coherent, and the cache is invisible, so it is not modelled.
   */
  cpuCache: CpuCache | undefined;
  /** Told of every device access that reached memory (one slot: the booted kernel's DMA-API debug). */
  dmaObserver: ((a: DeviceAccess) => void) | undefined;

  constructor(readonly info: MachineInfo) {
    this.register('trace', this.trace);
    this.register('interrupts', this.interrupts);
  }

  register(name: string, c: Stateful): void {
    if (this.components.has(name)) throw new Error(`component ${name} registered twice`);
    this.components.set(name, c);
  }

  addPciHost(h: PciHostBridge): PciHostBridge {
    this.pciHosts.push(h);
    this.memory.addRegion({ name: `${h.name}-ecam`, base: h.ecamBase, size: h.ecamSize, kind: 'mmio', handler: h.ecamHandler() });
    return h;
  }

  addPciFunction(h: PciHostBridge, f: PciFunction): PciFunction {
    h.add(f);
    this.register(`pci:${f.name}`, f);
    return f;
  }

  addIommu(i: Iommu): Iommu {
    this.iommus.push(i);
    this.register(`iommu:${i.name}`, i);
    return i;
  }

  pciFunctions(): PciFunction[] {
    return this.pciHosts.flatMap((h) => h.functions);
  }

  hostOf(f: PciFunction): PciHostBridge | undefined {
    return this.pciHosts.find((h) => h.functions.includes(f));
  }

  /** Total RAM in bytes (sum of RAM regions). */
  ramSize(): u64 {
    return this.memory
      .listRegions()
      .filter((r) => r.kind === 'ram')
      .reduce((a, r) => a + r.size, 0n);
  }

  // ---- state --------------------------------------------------------------

  saveStates(): Map<string, unknown> {
    const m = new Map<string, unknown>();
    for (const [k, c] of this.components) m.set(k, c.saveState());
    return m;
  }
  restoreStates(m: Map<string, unknown>): void {
    for (const [k, c] of this.components) if (m.has(k)) c.restoreState(m.get(k));
  }

  // ---- the CPU's view of memory ---------------------------------------------

  /** A CPU load: through the cache when the machine models one, else RAM. */
  cpuRead(pa: u64, len: number): Uint8Array {
    return this.cpuCache ? this.cpuCache.read(pa, len) : this.memory.read(pa, len);
  }

  /** A CPU store: into the cache when the machine models one, else RAM. */
  cpuWrite(pa: u64, data: Uint8Array): void {
    if (this.cpuCache) this.cpuCache.write(pa, data);
    else this.memory.write(pa, data);
  }

  /** What a CPU load would return, without changing the cache (for looks). */
  cpuPeek(pa: u64, len: number): Uint8Array {
    return this.cpuCache ? this.cpuCache.peek(pa, len) : this.memory.read(pa, len);
  }

  // ---- the DMA engine -------------------------------------------------------

  /**
   * Where a device's write to bus address `addr` would go, without making it
   * or recording anything: claimed by a host-bridge window, not forwarded
   * (outside the inbound dma-ranges), an IOMMU fault, or a physical address
   * (with the MMIO region there, if any).
   */
  probeWrite(m: DmaMaster, addr: u64): { kind: 'bridge' | 'fault' | 'pa'; detail: string; pa?: u64; region?: string } {
    const rc = m.rootComplex;
    const win = rc?.windows.find((w) => w.kind !== 'io' && addr >= w.pciBase && addr - w.pciBase < w.size);
    if (win) return { kind: 'bridge', detail: `${hex(addr)} is inside ${rc!.name}'s ${win.kind} window: the root complex routes the write peer to peer, it never reaches the IOMMU or memory` };
    if (rc && !rc.forwardsUpstream(addr)) return { kind: 'bridge', detail: `${hex(addr)} is outside ${rc.name}'s inbound dma-ranges: the root complex does not forward the write upstream` };
    let pa = addr;
    let how = 'untranslated';
    if (m.path === 'translated' && m.iommu) {
      const t = m.iommu.translate({ sid: m.sid, addr, write: true }, { record: false, useTlb: false });
      if (!t.ok) return { kind: 'fault', detail: `${m.iommu.name} would fault: ${t.fault.name}: ${t.fault.detail}` };
      pa = t.pa;
      how = `${m.iommu.name} translates it to ${hex(pa)}`;
    }
    const r = this.memory.regionAt(pa);
    return { kind: 'pa', pa, region: r?.name, detail: `${how}${r ? ` (${r.name})` : ' (a hole)'}` };
  }


  /**
   * Route one access of at most a page (it must not cross a 4 KiB boundary)
   * and trace it. Returns the physical address, or the fault.
   */
  private route(m: DmaMaster, addr: u64, len: number, write: boolean, what: string | undefined, data?: Uint8Array): { outcome: DmaOutcome; data?: Uint8Array } {
    const steps: TranslationStep[] = [];
    let outcome: DmaOutcome;
    let readData: Uint8Array | undefined;
    let iotlbHit: boolean | undefined;
    const p2p = m.rootComplex?.windows.find((w) => w.kind !== 'io' && addr >= w.pciBase && addr - w.pciBase < w.size);
    const iw = this.interruptWindow;
    if (p2p) {
      outcome = {
        kind: 'p2p',
        detail: `bus address ${hex(addr)} is inside ${m.rootComplex!.name}'s ${p2p.kind} window; the root complex routes it peer to peer and it never reaches the IOMMU or memory`,
      };
    } else if (m.rootComplex && !m.rootComplex.forwardsUpstream(addr)) {
      outcome = {
        kind: 'p2p',
        detail: `bus address ${hex(addr)} is outside ${m.rootComplex.name}'s inbound dma-ranges; the root complex does not forward it upstream and it never reaches the IOMMU or memory`,
      };
    } else if (write && iw && addr >= iw.base && addr - iw.base < iw.size) {
      const r = iw.deliver(m, addr, data!);
      outcome = r.fault ? { kind: 'fault', fault: r.fault } : { kind: 'interrupt', detail: r.detail };
    } else {
      let pa = addr;
      let ok = true;
      if (m.path === 'translated') {
        if (!m.iommu) throw new Error(`${m.name} is translated but has no IOMMU`);
        const t = m.iommu.translate({ sid: m.sid, addr, write });
        steps.push(...t.steps);
        if (t.ok) {
          pa = t.pa;
          iotlbHit = t.iotlbHit;
        } else {
          ok = false;
          outcome = { kind: 'fault', fault: t.fault };
          if (this.qemuFaultSplit) {
            const pieces = qemuUnassignedPieces(addr, len);
            if (pieces.length > 1) return this.routeFaultPieces(m, write, what, pieces, steps, t.fault);
          }
        }
      }
      if (ok) {
        try {
          // A device write to an MMIO target that takes the master as a sideband (a GICv3 ITS doorbell) goes through deviceWrite.
          const region = write ? this.memory.regionAt(pa) : undefined;
          const target = region?.kind === 'mmio' && region.handler?.deviceWrite ? region : undefined;
          let irq: string | undefined;
          // A coherent device snoops the CPU cache: its read sees a dirty line,
          // its write leaves no stale line behind (modelled as a clean before
          // the read, a clean+invalidate before the write). A non-coherent one
          // goes to RAM only.
          const snoop = m.coherent !== false && !target ? this.cpuCache : undefined;
          if (!write) {
            snoop?.clean(pa, len);
            readData = this.memory.read(pa, len);
          } else if (target) irq = target.handler!.deviceWrite!(pa - target.base, data!, m);
          else {
            snoop?.cleanInvalidate(pa, len);
            this.memory.write(pa, data!);
          }
          outcome = irq !== undefined ? { kind: 'interrupt', detail: irq } : { kind: 'ok', pa };
          if (irq === undefined) this.dmaObserver?.({ master: m, addr, len, write, pa });
        } catch (e) {
          if (!(e instanceof BusError)) throw e;
          outcome = { kind: 'fault', fault: busFault('UR', `${e.message} (the access is terminated: an unsupported request / external abort)`) };
        }
      }
    }
    this.trace.add({
      device: m.name,
      rid: m.rid,
      sid: m.path === 'translated' ? m.sid : undefined,
      op: write ? 'write' : 'read',
      addr,
      len,
      path: m.path,
      iommu: m.path === 'translated' ? m.iommu?.name : undefined,
      iotlbHit,
      steps,
      outcome: outcome!,
      what,
    });
    return { outcome: outcome!, data: readData };
  }

  /**
   * QEMU's flatview_read/write_continue after a failed translation: the
   * first piece's translation already happened (`steps`, `fault`); every
   * further piece is translated again and traced as its own access.
   */
  private routeFaultPieces(m: DmaMaster, write: boolean, what: string | undefined, pieces: { addr: u64; len: number }[], steps: TranslationStep[], fault: DmaFault): { outcome: DmaOutcome } {
    const rec = (addr: u64, len: number, st: TranslationStep[], f: DmaFault): void => {
      this.trace.add({ device: m.name, rid: m.rid, sid: m.sid, op: write ? 'write' : 'read', addr, len, path: m.path, iommu: m.iommu?.name, steps: st, outcome: { kind: 'fault', fault: f }, what });
    };
    rec(pieces[0]!.addr, pieces[0]!.len, steps, fault);
    for (const p of pieces.slice(1)) {
      const t = m.iommu!.translate({ sid: m.sid, addr: p.addr, write });
      // A later piece could translate (a mapping that appeared meanwhile); QEMU would then access it. Not modelled: report it as traced.
      rec(p.addr, p.len, t.steps, t.ok ? fault : t.fault);
    }
    return { outcome: { kind: 'fault', fault } };
  }

  /** Device read of len bytes at a bus address, split at page boundaries. */
  dmaRead(m: DmaMaster, addr: u64, len: number, what?: string): DmaReadResult {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = addr + BigInt(done);
      const n = Math.min(len - done, PAGE_SIZE - Number(a & 0xfffn));
      const r = this.route(m, a, n, false, what);
      if (r.outcome.kind === 'fault') return { ok: false, fault: r.outcome.fault, at: a };
      if (r.outcome.kind !== 'ok') return { ok: false, fault: busFault(r.outcome.kind, r.outcome.detail), at: a };
      out.set(r.data!, done);
      done += n;
    }
    return { ok: true, data: out };
  }

  dmaWrite(m: DmaMaster, addr: u64, data: Uint8Array, what?: string): DmaWriteResult {
    let done = 0;
    while (done < data.length) {
      const a = addr + BigInt(done);
      const n = Math.min(data.length - done, PAGE_SIZE - Number(a & 0xfffn));
      const r = this.route(m, a, n, true, what, data.subarray(done, done + n));
      if (r.outcome.kind === 'fault') return { ok: false, fault: r.outcome.fault, at: a };
      if (r.outcome.kind === 'p2p') return { ok: false, fault: busFault('p2p', r.outcome.detail), at: a };
      done += n;
    }
    return { ok: true };
  }
}
