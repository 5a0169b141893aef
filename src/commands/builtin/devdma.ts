/**
 * `devdma read DEV ADDR LEN`, `devdma write DEV ADDR BYTE LEN`: make a
 * device issue a DMA access through its real path, as the hardware would
 * when its driver told it to use ADDR. Unlike `x dev:DEV:ADDR` and `walk`
 * (looks), this is an access: it goes through the DMA engine
 * (machine.ts dmaRead/dmaWrite), so it is traced, fills the IOMMU's caches,
 * and a fault is recorded where the hardware records it (VT-d fault
 * recording registers, SMMU event queue). A write to the x86 interrupt
 * window (0xFEE00000-0xFEEFFFFF) is an interrupt request, a write to a
 * GICv3 ITS doorbell an MSI.
 *
 * When the IOMMU then signals software, the booted kernel's handler runs,
 * as the interrupt would make it: VT-d raised its fault event -> Linux's
 * dmar_fault reads, prints and clears the records; the SMMU wrote events
 * -> arm-smmu-v3's event-queue thread prints them. Before boot nobody
 * reads them: the records stay pending.
 */
import { type u64, hex } from '../../machine/u64.ts';
import { formatBdf } from '../../machine/pci.ts';
import { VtdUnit } from '../../machine/vtd/vtd.ts';
import { SmmuV3 } from '../../machine/smmuv3/smmuv3.ts';
import { linuxFaultReason } from '../../machine/vtd/fault.ts';
import { eventType } from '../../machine/smmuv3/event.ts';
import { sidText } from '../../machine/vtd/context.ts';
import type { DmaFault } from '../../machine/trace.ts';
import { printkTime } from '../../kernel/kernel.ts';
import { hexdump } from '../../inspect/hexdump.ts';
import { plain, span, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandResult, CommandSpec, ParsedArgs } from '../registry.ts';
import type { Session } from '../session.ts';
import { findMaster, type DeviceRef } from '../devices.ts';
import type { DmaMaster } from '../../machine/dma.ts';
import { traceDetail } from './trace.ts';

/** Stated limits: bytes one devdma command moves, and bytes of read data shown. */
export const DEVDMA_MAX = 64 * 1024;
const SHOW_BYTES = 256;

/** The fault's meaning in the words of the unit's own driver. */
function faultMeaning(f: DmaFault, m: DmaMaster): string {
  if (f.code < 0) return '';
  if (m.iommu?.kind === 'vtd') return linuxFaultReason(f.code).text;
  if (m.iommu?.kind === 'smmuv3') return eventType(f.code)?.meaning ?? '';
  return '';
}

const pathText = (ref: DeviceRef & { master: DmaMaster }): string => {
  const m = ref.master;
  if (m.path === 'bypass' || !m.iommu) return 'untranslated (its DMA bypasses any IOMMU)';
  return m.iommu.kind === 'vtd' ? `through ${m.iommu.name} (source-id ${hex(m.rid ?? m.sid, 4)})` : `through ${m.iommu.name} (StreamID ${hex(m.sid)})`;
};

/** Run the access, then whatever kernel handler the hardware's signal would run; collect trace, interrupts and log. */
function access(s: Session, ref: DeviceRef & { master: DmaMaster }, addr: u64, len: number, write: Uint8Array | undefined) {
  let data: Uint8Array | undefined;
  const o = observe(s, () => {
    if (write) return s.machine.dmaWrite(ref.master, addr, write, 'devdma');
    const rr = s.machine.dmaRead(ref.master, addr, len, 'devdma');
    if (rr.ok) data = rr.data;
    return rr;
  });
  return { ...o, data };
}

export type DmaOutcome = { ok: true } | { ok: false; fault: DmaFault; at: u64 };

/**
 * Run a device's access `act` (one or more DMA transactions), then whatever
 * kernel handler the hardware's signal would run; collect the trace, the
 * interrupts and the kernel's log lines it caused.
 */
export function observe<R extends DmaOutcome | undefined>(s: Session, act: () => R) {
  const m = s.machine;
  const traceSeq = m.trace.records().at(-1)?.seq ?? 0;
  const irqSeq = m.interrupts.records().at(-1)?.seq ?? 0;
  const smmuEvents = new Map(m.iommus.filter((i): i is SmmuV3 => i instanceof SmmuV3).map((i) => [i, i.stats().events]));
  const r = act();
  const irqs = m.interrupts.records().filter((x) => x.seq > irqSeq);
  const before = s.kernel.dmesg();
  const lastT = before.length ? before[before.length - 1]!.time : -1;
  const linux = s.system.linux && s.kernel.booted ? s.system.linux : undefined;
  const handlers: string[] = [];
  if (linux) {
    const vtdNames = new Set(m.iommus.filter((i): i is VtdUnit => i instanceof VtdUnit).map((u) => u.name));
    const faultEvent = irqs.find((x) => vtdNames.has(x.source));
    if (linux.intel && faultEvent) {
      handlers.push(`${faultEvent.source} raised its fault event (an MSI to ${hex(faultEvent.addr)}, vector ${hex(Number(faultEvent.data & 0xffn), 2)}): Linux's dmar_fault ran`);
      linux.intel.dmarFault();
    }
    const wrote = [...smmuEvents].filter(([smmu, n]) => smmu.stats().events > n);
    for (const [smmu, n] of wrote) handlers.push(`${smmu.name} wrote ${smmu.stats().events - n} event record${smmu.stats().events - n === 1 ? '' : 's'}: arm-smmu-v3's event-queue thread ran`);
    if (wrote.length) for (const d of linux.smmus) d.evtqThread();
  }
  const log = s.kernel.dmesg().filter((l) => l.time > lastT);
  const trace = m.trace.records().filter((x) => x.seq > traceSeq);
  return { r, irqs, handlers, log, trace };
}

function lenArg(a: ParsedArgs, name: string): number {
  const v = a.v[name] as u64;
  if (v < 1n || v > BigInt(DEVDMA_MAX)) throw new CommandError(`${v} bytes: one devdma access moves 1..${DEVDMA_MAX} bytes (a stated limit)`, a.span[name], `a length from 1 to ${DEVDMA_MAX}`);
  return Number(v);
}

function run(s: Session, a: ParsedArgs, op: 'read' | 'write'): CommandResult {
  const ref = findMaster(s, a.v.dev as string, a.span.dev);
  const addr = a.v.addr as u64;
  const len = lenArg(a, 'len');
  if (addr + BigInt(len) - 1n > 0xffff_ffff_ffff_ffffn) throw new CommandError(`${len} bytes from ${hex(addr)} run past the top of the 64-bit address space`, a.span.addr);
  let fill: number | undefined;
  if (op === 'write') {
    const b = a.v.byte as u64;
    if (b > 0xffn) throw new CommandError(`${hex(b)} is not a byte`, a.span.byte, 'a value from 0 to 0xff');
    fill = Number(b);
  }
  const label = ref.pci ? `${ref.name} (${formatBdf(ref.pci.bdf)})` : ref.name;
  const { r, data, irqs, handlers, log, trace } = access(s, ref, addr, len, fill === undefined ? undefined : new Uint8Array(len).fill(fill));
  const lines: Line[] = [[span(`devdma ${op}: ${label} ${op === 'read' ? 'reads' : `writes ${hex(fill!, 2)} x`} ${len} byte${len === 1 ? '' : 's'} at ${hex(addr)}`, 'head'), span(` ${pathText(ref)}`, 'dim')]];
  for (const t of trace) lines.push(...traceDetail(t));
  if (!trace.length) lines.push([span('  (the DMA trace is off: trace on records the accesses)', 'dim')]);
  let outcome: Record<string, unknown>;
  if (r.ok) {
    const delivered = irqs.filter((x) => x.source !== ref.master.iommu?.name);
    if (data) {
      const show = data.subarray(0, SHOW_BYTES);
      lines.push([span('  outcome: '), span('ok', 'ok'), span(`: ${len} byte${len === 1 ? '' : 's'} read`)]);
      lines.push(...hexdump(addr, show).map((l) => [span('  '), ...l]));
      if (len > SHOW_BYTES) lines.push(plain(`  ... ${len - SHOW_BYTES} more bytes not shown (a stated limit of ${SHOW_BYTES})`));
      outcome = { ok: true, data };
    } else {
      lines.push([span('  outcome: '), span('ok', 'ok'), span(delivered.length ? `: an interrupt request, not a memory write` : `: ${len} byte${len === 1 ? '' : 's'} written`)]);
      outcome = { ok: true };
    }
    for (const x of delivered) lines.push([span('  interrupt: ', 'dim'), span(`${x.controller} ${x.detail}`)]);
  } else {
    const f = r.fault;
    const meaning = faultMeaning(f, ref.master);
    const done = Number(r.at - addr);
    lines.push([span('  outcome: '), span(`FAULT at ${hex(r.at)}: ${f.name}${f.code >= 0 ? ` (${hex(f.code, 2)})` : ''}`, 'bad'), span(meaning ? `: ${meaning}` : '')]);
    lines.push([span(`     ${f.detail}`)]);
    if (done > 0) lines.push([span(`     the first ${done} byte${done === 1 ? '' : 's'} (before ${hex(r.at)}) ${op === 'read' ? 'were read' : 'were written'}; the access stopped at the fault`, 'dim')]);
    const where = ref.master.iommu?.kind === 'vtd' ? `${f.source}'s fault recording registers (vtd faults)` : ref.master.iommu?.kind === 'smmuv3' ? `${f.source}'s event queue (smmu events)` : 'nowhere';
    lines.push([span(f.recorded ? `     recorded in ${where}` : f.code >= 0 ? `     not recorded (${/not recorded: ([^)]*)/.exec(f.detail)?.[1] ?? 'the unit does not record this fault'})` : '     a bus error: no IOMMU records it', f.recorded ? 'warn' : 'dim')]);
    outcome = { ok: false, at: r.at, fault: { source: f.source, name: f.name, code: f.code, detail: f.detail, recorded: f.recorded, meaning } };
  }
  for (const h of handlers) lines.push([span(`  ${h}:`, 'dim')]);
  for (const l of log) lines.push([span(`  kernel: ${printkTime(l.time)}`, 'dim'), span(l.text, l.level === 'err' ? 'bad' : 'warn')]);
  if (!s.kernel.booted && !r.ok && r.fault.recorded) lines.push([span('  no kernel has booted: nobody reads the record, it stays pending', 'dim')]);
  return {
    kind: 'devdma',
    data: { device: ref.name, op, addr, len, byte: fill ?? null, path: ref.master.path, iommu: ref.master.iommu?.name ?? null, sid: ref.master.path === 'translated' ? ref.master.sid : null, sourceId: ref.master.rid !== undefined ? sidText(ref.master.rid) : null, outcome, trace, interrupts: irqs, handlers, log: log.map((l) => l.text) },
    lines,
    focus: r.ok ? undefined : { addr: r.at, len: 16 },
  };
}

export const devdmaRead: CommandSpec = {
  name: 'devdma read',
  summary: 'Make a device read memory by DMA through its real path (IOMMU, faults recorded, traced)',
  help: [
    `DEV issues a DMA read of LEN bytes (at most ${DEVDMA_MAX}) at bus address ADDR, as its hardware would when its`,
    'driver gave it ADDR: through its IOMMU (IOTLB, table walk, fault) or untranslated when its DMA',
    'bypasses. Unlike x dev:DEV:ADDR and walk, this is a real access: it is traced, fills the IOTLB, and a',
    "fault is recorded (VT-d fault recording registers, SMMU event queue), after which the booted kernel's",
    'fault handler runs and prints its lines, as the fault interrupt would make it.',
  ].join('\n'),
  examples: ['devdma read nic0 0x1000 8', 'devdma read vda 0xfffff000 16'],
  exampleMachine: 'x86-q35-vtd',
  exampleSetup: ['boot'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda, nic0 or a PCI address' },
    { name: 'addr', kind: 'u64', desc: 'the bus address the device issues (an IOVA when translated)' },
    { name: 'len', kind: 'u64', desc: `bytes to read, 1..${DEVDMA_MAX}` },
  ],
  mutates: true,
  run: (s, a) => run(s, a, 'read'),
};

export const devdmaWrite: CommandSpec = {
  name: 'devdma write',
  summary: 'Make a device write BYTE x LEN by DMA through its real path (IOMMU, faults recorded, traced)',
  help: [
    `DEV issues a DMA write of LEN bytes (at most ${DEVDMA_MAX}), each BYTE, at bus address ADDR, through its real path`,
    '(see devdma read). A write into the x86 interrupt window 0xFEE00000-0xFEEFFFFF is an interrupt',
    'request (remapped through the IRT when interrupt remapping is on), and a write to a GICv3 ITS doorbell',
    'is an MSI: msi DEV shows the address the kernel gives the device (its data is the first 4 bytes).',
  ].join('\n'),
  examples: ['devdma write nic0 0x1000 0xab 16', 'devdma write nic0 0xfee00018 0 4'],
  exampleMachine: 'x86-q35-vtd',
  exampleSetup: ['boot', 'msi nic0'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda, nic0 or a PCI address' },
    { name: 'addr', kind: 'u64', desc: 'the bus address the device issues (an IOVA when translated)' },
    { name: 'byte', kind: 'u64', desc: 'the byte value written, 0..0xff' },
    { name: 'len', kind: 'u64', desc: `bytes to write, 1..${DEVDMA_MAX}` },
  ],
  mutates: true,
  run: (s, a) => run(s, a, 'write'),
};

export const devdmaCommands: CommandSpec[] = [devdmaRead, devdmaWrite];
