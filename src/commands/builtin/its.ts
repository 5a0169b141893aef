/**
 * The GICv3 ITS and the path of one MSI:
 *
 *   devirq DEV [VECTOR]   the device sends MSI-X vector VECTOR: it writes the
 *                         table entry's data to its address, a DMA write that
 *                         goes through the host bridge, the IOMMU and, if it
 *                         reaches GITS_TRANSLATER, the ITS (an access: traced,
 *                         faults recorded, LPIs taken)
 *   its tables            GITS_CTLR/CBASER/BASERn as the ITS holds them, the
 *                         redistributors' LPI tables, commands executed
 *   its device DEV|ID     a DeviceID's DTE and the ITEs of its events, read
 *                         from memory, with the collection each targets
 *   its path DEV [VECTOR] the whole route of one vector, read-only: the MSI-X
 *                         entry in the device -> host bridge -> IOMMU -> doorbell
 *                         -> DTE -> ITE -> CTE -> redistributor -> LPI property
 *                         byte and pending bit
 *
 * Sources: machine/gic-its.ts and machine/gicv3-redist.ts (layouts, QEMU's
 * table formats), kernel/irq-gic-v3-its.ts (what Linux programs).
 */
import { type u64, hex } from '../../machine/u64.ts';
import { decode } from '../../machine/fields.ts';
import { GicIts, GITS_BASER_LAYOUT, GITS_CBASER_LAYOUT, ITS_DTE_LAYOUT, ITS_ITE_LAYOUT, ITS_ITT_ENTRY_SIZE } from '../../machine/gic-its.ts';
import { GICR_PENDBASER_LAYOUT, GICR_PROPBASER_LAYOUT, LPI_PROP_ENABLED } from '../../machine/gicv3-redist.ts';
import { VirtioPciDevice } from '../../machine/virtio/virtio-pci.ts';
import { MsixNic, type MsixSignaller } from '../../machine/msix-nic.ts';
import { formatBdf } from '../../machine/pci.ts';
import { fieldLines, plain, span, type Line } from '../../inspect/view.ts';
import { printkTime } from '../../kernel/kernel.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';
import { findMaster, type DeviceRef } from '../devices.ts';
import type { DmaMaster } from '../../machine/dma.ts';
import { observe } from './devdma.ts';
import { needLinux } from '../kernel-device.ts';
import { traceDetail } from './trace.ts';

const MACHINE = 'qemu-virt-smmuv3';
const SETUP = ['boot vda.iommu_platform=on', 'driver override vda vfio-pci', 'driver unbind vda', 'driver bind vda', 'vfio attach 0', 'vfio set-iommu', 'vfio irq vda'];

function theIts(s: Session, sp?: SourceSpan): GicIts {
  const r = s.machine.memory.listRegions().find((x) => x.kind === 'mmio' && x.handler instanceof GicIts && x.handler.redist);
  if (!r) throw new CommandError(`${s.system.preset.name} has no GICv3 ITS with tables in this lab`, sp, undefined, 'try --machine qemu-virt-smmuv3 or arm-iproc-smmuv3');
  return r.handler as GicIts;
}

function msixDevice(s: Session, text: string, sp: SourceSpan | undefined): { ref: DeviceRef & { master: DmaMaster }; dev: MsixSignaller } {
  const ref = findMaster(s, text, sp);
  const fn = s.machine.pciFunctions().find((f) => f.name === ref.master.name || (ref.pci && f === ref.pci));
  if (!(fn instanceof VirtioPciDevice || fn instanceof MsixNic) || fn.msixVectors === 0) throw new CommandError(`${ref.name} has no MSI-X table in this lab (the virtio-pci devices and the NIC model one)`, sp, 'a device with MSI-X, such as vda');
  return { ref, dev: fn };
}

function vectorArg(dev: MsixSignaller, v: u64 | undefined, sp: SourceSpan | undefined): number {
  const n = Number(v ?? 0n);
  if (v !== undefined && v >= BigInt(dev.msixVectors)) throw new CommandError(`vector ${v}: ${dev.name}'s MSI-X table has ${dev.msixVectors} entries (0..${dev.msixVectors - 1})`, sp, `a vector from 0 to ${dev.msixVectors - 1}`);
  return n;
}

const rows = (layout: Parameters<typeof decode>[0], words: readonly u64[], indent = '      '): Line[] => fieldLines(decode(layout, words).map((f) => ({ name: f.name, bits: `[${f.hi}:${f.lo}]`, text: f.text, desc: f.desc })), indent);

export const devirqCommand: CommandSpec = {
  name: 'devirq',
  summary: 'Make a device send MSI-X vector N: its table entry written as a DMA write (bridge, IOMMU, ITS, LPI)',
  help: [
    "The device does what it does when it signals vector N (e.g. a virtqueue completed): it writes the",
    "entry's 32-bit data to the entry's address, as a memory write on the bus. The write goes through the",
    'host bridge (outbound windows, inbound dma-ranges), the IOMMU with the StreamID, and, if it reaches',
    'GITS_TRANSLATER, the ITS translates (DeviceID, EventID) to an LPI and a CPU takes it. A masked vector',
    'or function sets the pending bit instead; MSI-X disabled or bus mastering off: nothing is sent.',
  ].join('\n'),
  examples: ['devirq vda', 'devirq vda 1'],
  exampleMachine: MACHINE,
  exampleSetup: SETUP,
  args: [
    { name: 'dev', kind: 'device', desc: 'a device with an MSI-X table (vda)' },
    { name: 'vector', kind: 'u64', desc: 'the MSI-X vector (default 0)', optional: true },
  ],
  mutates: true,
  run(s, a) {
    const { ref, dev } = msixDevice(s, a.v.dev as string, a.span.dev);
    const v = vectorArg(dev, a.v.vector as u64 | undefined, a.span.vector);
    const e = dev.msixEntry(v)!;
    const label = ref.pci ? `${ref.name} (${formatBdf(ref.pci.bdf)})` : ref.name;
    const box: { sent: ReturnType<MsixSignaller['signalMsix']> } = { sent: 'no-msix' };
    const o = observe(s, () => {
      box.sent = dev.signalMsix(v);
      return undefined;
    });
    const sent = box.sent;
    const lines: Line[] = [[span(`devirq: ${label} signals MSI-X vector ${v}`, 'head'), span(`: table entry address ${hex(e.addr)} data ${hex(e.data, 8)}${e.masked ? ' (masked)' : ''}`, 'dim')]];
    if (sent === 'disabled') lines.push([span('  nothing sent: ', 'bad'), span('MSI-X is not enabled in the capability (vfio irq DEV enables it)')]);
    else if (sent === 'pending') lines.push([span('  nothing sent: ', 'warn'), span('the vector or the function is masked: its pending bit is set in the PBA, the message goes out on unmask')]);
    else if (!dev.busMaster) lines.push([span('  nothing sent: ', 'bad'), span('bus mastering is off in the command register: the device may not write')]);
    else {
      for (const t of o.trace) lines.push(...traceDetail(t));
      const its = o.irqs.filter((x) => x.controller === 'its');
      // Taken: an LPI on Arm; on x86 the unit's remapped (ir) or compatibility (lapic) delivery of the device's message.
      const lpis = o.irqs.filter((x) => x.controller === 'lpi' || ((x.controller === 'ir' || x.controller === 'lapic') && x.source !== ref.master.iommu?.name));
      for (const x of [...its, ...lpis]) lines.push([span(`  ${x.controller === 'lpi' ? 'redistributor' : x.controller === 'its' ? 'ITS' : 'interrupt'}: `, 'dim'), span(x.detail.replace(/^[^:]*: /, ''), x.controller === 'its' ? undefined : 'ok')]);
      const probe = s.machine.probeWrite({ ...ref.master, path: ref.master.path === 'bypass' && ref.master.iommu ? 'translated' : ref.master.path }, e.addr);
      if (!lpis.length) {
        const why = its.length ? 'the ITS dropped it (above)' : probe.kind === 'pa' ? `the write reached ${hex(probe.pa!)}${probe.region ? ` (${probe.region})` : ''}, not GITS_TRANSLATER` : probe.detail;
        lines.push([span('  no interrupt: ', 'bad'), span(why)]);
      } else lines.push([span('  interrupt delivered: ', 'ok'), span(lpis.map((x) => (x.controller === 'lpi' ? x.detail.replace(/:.*/, '') : x.detail.replace(/^.*-> /, ''))).join('; '))]);
    }
    for (const h of o.handlers) lines.push([span(`  ${h}:`, 'dim')]);
    for (const l of o.log) lines.push([span(`  kernel: ${printkTime(l.time)}`, 'dim'), span(l.text, l.level === 'err' ? 'bad' : 'warn')]);
    const lpi = o.irqs.find((x) => x.controller === 'lpi');
    const delivered = o.irqs.some((x) => x.controller === 'lpi' || ((x.controller === 'ir' || x.controller === 'lapic') && x.source !== ref.master.iommu?.name));
    return { kind: 'devirq', data: { device: ref.name, vector: v, address: e.addr, data: e.data, sent, delivered, lpi: lpi ? Number(lpi.data) : null, interrupts: o.irqs }, lines };
  },
};

export const itsTables: CommandSpec = {
  name: 'its tables',
  summary: "The ITS's registers and tables: GITS_CTLR, CBASER, BASERn, each redistributor's LPI tables",
  help: 'GITS_BASER0 is the device table (two-level when Indirect), GITS_BASER1 the collection table; the kernel allocated them, the ITS writes their entries when it executes MAPD / MAPC. Also the command queue position, the commands executed and any command errors.',
  examples: ['its tables'],
  exampleMachine: MACHINE,
  exampleSetup: ['boot'],
  args: [],
  mutates: false,
  run(s) {
    const its = theIts(s);
    const lines: Line[] = [[span(`${its.name} at ${hex(its.base)}: `, 'head'), span(`GITS_CTLR.Enabled ${its.enabled ? 1 : 0}; doorbell GITS_TRANSLATER ${hex(its.translaterAddr)}`)]];
    lines.push(plain(`  GITS_CBASER ${hex(its.cbaser, 16)}  CWRITER ${hex(its.cwriter)}  CREADR ${hex(its.creadr)}`));
    lines.push(...rows(GITS_CBASER_LAYOUT, [its.cbaser], '    '));
    for (const n of [0, 1]) {
      lines.push(plain(`  GITS_BASER${n} ${hex(its.baser(n), 16)}`));
      lines.push(...rows(GITS_BASER_LAYOUT, [its.baser(n)], '    '));
    }
    const ex = Object.entries(its.executed).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(plain(`  commands executed: ${ex || 'none'}`));
    for (const e of its.errors) lines.push([span('  command error: ', 'bad'), span(e)]);
    const rd = its.redist!;
    for (let cpu = 0; cpu < rd.cpus; cpu++) {
      const at = rd.frameOf(cpu);
      const prop = s.machine.memory.readU(at + 0x70n, 8);
      const pend = s.machine.memory.readU(at + 0x78n, 8);
      lines.push(plain(`  CPU${cpu} redistributor ${hex(at)}: EnableLPIs ${rd.lpisEnabled(cpu) ? 1 : 0}, PROPBASER ${hex(prop, 16)}, PENDBASER ${hex(pend, 16)}`));
      if (cpu === 0) {
        lines.push(...rows(GICR_PROPBASER_LAYOUT, [prop], '    '));
        lines.push(...rows(GICR_PENDBASER_LAYOUT, [pend], '    '));
      }
    }
    return { kind: 'its-tables', data: { base: its.base, enabled: its.enabled, cbaser: its.cbaser, cwriter: its.cwriter, creadr: its.creadr, baser: [its.baser(0), its.baser(1)], executed: { ...its.executed }, errors: [...its.errors] }, lines };
  },
};

export const itsDevice: CommandSpec = {
  name: 'its device',
  summary: "A DeviceID's entries in memory: DTE, then each event's ITE and the collection (CTE) it targets",
  help: 'DEV is a device (its DeviceID is its requester ID) or a DeviceID number. Shows the device table entry (through the level-1 entry when the table is two-level), the ITT it points to and every valid ITE, with the LPI, the collection and the CPU.',
  examples: ['its device vda', 'its device 8'],
  exampleMachine: MACHINE,
  exampleSetup: SETUP,
  args: [{ name: 'dev', kind: 'word', desc: 'a device (vda, 00:01.0) or a DeviceID number' }],
  mutates: false,
  run(s, a) {
    const its = theIts(s, a.span.dev);
    const text = a.v.dev as string;
    let id: number;
    if (/^(0x[0-9a-f]+|[0-9]+)$/i.test(text)) id = Number(BigInt(text));
    else {
      const ref = findMaster(s, text, a.span.dev);
      id = ref.master.rid ?? ref.master.sid;
    }
    if (id >= 1 << 16) throw new CommandError(`DeviceID ${hex(id)} is wider than the ITS's 16 DeviceID bits`, a.span.dev, 'a DeviceID from 0 to 0xffff');
    const d = its.dteAddr(id);
    const lines: Line[] = [[span(`DeviceID ${hex(id)}`, 'head')]];
    if (!d.addr) {
      lines.push(plain(`  no DTE: ${d.why}`));
      return { kind: 'its-device', data: { deviceId: id, dte: null, why: d.why }, lines };
    }
    const dte = s.machine.memory.readWords(d.addr, 1)[0]!;
    lines.push(plain(`  DTE at ${hex(d.addr)}: ${hex(dte, 16)}`));
    lines.push(...rows(ITS_DTE_LAYOUT, [dte], '    '));
    const events: { event: number; ite: u64[]; intid: number; icid: number; cpu: number | null }[] = [];
    if (dte & 1n) {
      const size = Number((dte >> 1n) & 0x1fn) + 1;
      const itt = ((dte >> 6n) & ((1n << 44n) - 1n)) << 8n;
      const n = Math.min(2 ** size, 64);
      for (let ev = 0; ev < n; ev++) {
        const w = its.walk(id, ev);
        if (!w.ok && w.stage !== 'collection') continue;
        const ite = w.ok ? w.ite : w.ite!;
        const at = itt + BigInt(ev * ITS_ITT_ENTRY_SIZE);
        const intid = Number((ite[0]! >> 2n) & 0xff_ffffn);
        const icid = Number((ite[0]! >> 32n) & 0xffffn);
        events.push({ event: ev, ite, intid, icid, cpu: w.ok ? w.cpu : null });
        lines.push(plain(`  EventID ${ev}: ITE at ${hex(at)} -> LPI ${intid}, collection ${icid} -> ${w.ok ? `CPU${w.cpu} (CTE at ${hex(w.cteAddr)}: ${hex(w.cte)})` : 'collection not mapped'}`));
        if (events.length === 1) lines.push(...rows(ITS_ITE_LAYOUT, ite, '    '));
      }
      if (!events.length) lines.push(plain('  no valid ITE (no MAPTI yet)'));
      if (2 ** size > n) lines.push(plain(`  (the first ${n} of ${2 ** size} EventIDs shown: a stated limit)`));
    }
    return { kind: 'its-device', data: { deviceId: id, dteAddr: d.addr, dte, events }, lines };
  },
};

export const itsPath: CommandSpec = {
  name: 'its path',
  summary: "The whole route of one MSI-X vector, read-only: table entry, bridge, IOMMU, ITS tables, LPI",
  help: "Reads the vector's entry from the device's MSI-X table and follows it as the hardware would, without sending: the host bridge (outbound windows, inbound dma-ranges), the IOMMU (translation with the StreamID), GITS_TRANSLATER, then the ITS tables in memory (DTE, ITE, CTE) and the target redistributor's LPI property byte and pending bit. devirq sends it for real.",
  examples: ['its path vda', 'its path vda 0'],
  exampleMachine: MACHINE,
  exampleSetup: SETUP,
  args: [
    { name: 'dev', kind: 'device', desc: 'a device with an MSI-X table (vda)' },
    { name: 'vector', kind: 'u64', desc: 'the MSI-X vector (default 0)', optional: true },
  ],
  mutates: false,
  run(s, a) {
    const its = theIts(s, a.span.dev);
    const { ref, dev } = msixDevice(s, a.v.dev as string, a.span.dev);
    const v = vectorArg(dev, a.v.vector as u64 | undefined, a.span.vector);
    const e = dev.msixEntry(v)!;
    const m = ref.master;
    const deviceId = m.rid ?? m.sid;
    const steps: { step: string; ok: boolean; text: string }[] = [];
    const add = (step: string, ok: boolean, text: string): void => void steps.push({ step, ok, text });
    add('MSI-X entry', dev.msixEnabled && !e.masked, `vector ${v}: address ${hex(e.addr)} data ${hex(e.data, 8)}; MSI-X ${dev.msixEnabled ? 'enabled' : 'DISABLED'}${e.masked ? ', vector MASKED' : ''}; bus master ${dev.busMaster ? 'on' : 'OFF'}`);
    // QEMU sends MSI-X through the bus-master address space (the IOMMU) even for a "bypass" virtio device.
    const probe = s.machine.probeWrite({ ...m, path: m.path === 'bypass' && m.iommu ? 'translated' : m.path }, e.addr);
    let reached = false;
    if (probe.kind === 'bridge') add('host bridge', false, probe.detail);
    else {
      add('host bridge', true, `${hex(e.addr)} is forwarded upstream`);
      if (probe.kind === 'fault') add('IOMMU', false, probe.detail);
      else {
        add(m.iommu ? 'IOMMU' : 'no IOMMU', true, probe.detail);
        reached = probe.pa === its.translaterAddr;
        add('doorbell', reached, reached ? `GITS_TRANSLATER of ${its.name}: DeviceID ${hex(deviceId)} (the requester ID, sent with the write), EventID ${e.data}` : `${hex(probe.pa!)} is not GITS_TRANSLATER (${hex(its.translaterAddr)}): a plain memory write, no interrupt`);
      }
    }
    let lpi: number | null = null;
    if (reached) {
      const w = its.walk(deviceId, e.data);
      if (!w.ok) add(`ITS ${w.stage}`, false, w.why);
      else {
        lpi = w.intid;
        add('DTE', true, `at ${hex(w.dteAddr)}: ITT at ${hex(w.ittAddr)}`);
        add('ITE', true, `at ${hex(w.iteAddr)}: LPI ${w.intid}, collection ${w.icid}`);
        add('CTE', true, `at ${hex(w.cteAddr)}: collection ${w.icid} -> redistributor of CPU${w.cpu}`);
        const rd = its.redist!;
        const cfg = rd.configByte(w.cpu, w.intid);
        const pend = rd.pendingBit(w.cpu, w.intid);
        const enabled = !!cfg && (cfg.value & LPI_PROP_ENABLED) !== 0;
        add('LPI', enabled && rd.lpisEnabled(w.cpu), `property byte ${cfg ? `${hex(cfg.value, 2)} at ${hex(cfg.addr)} (priority ${hex(cfg.value & 0xfc, 2)}, ${enabled ? 'enabled' : 'DISABLED'})` : 'none'}; pending bit ${pend ? `${pend.set ? 1 : 0} (bit ${pend.bit} of ${hex(pend.addr)})` : 'none'}; taken ${rd.takenAll(w.intid)} time(s) so far`);
      }
    }
    const ok = steps.every((x) => x.ok);
    const lines: Line[] = [[span(`MSI-X vector ${v} of ${ref.name}`, 'head'), span(ok ? ' -> an LPI a CPU takes' : ' -> NO interrupt', ok ? 'ok' : 'bad')]];
    for (const x of steps) lines.push([span(`  ${x.step.padEnd(12)} `, x.ok ? 'dim' : 'bad'), span(x.text)]);
    return { kind: 'its-path', data: { device: ref.name, vector: v, address: e.addr, data: e.data, deviceId, delivered: ok, lpi, steps }, lines };
  },
};

export const infoInterrupts: CommandSpec = {
  name: 'info interrupts',
  summary: "The MSI-X vectors the kernel set up and how often each CPU took them (like /proc/interrupts)",
  help: [
    'One row per MSI-X vector a driver (virtio-pci, e1000e, vfio-pci) allocated: the hardware interrupt',
    '(an LPI INTID on Arm, the CPU vector and its IRTE on x86), the count per CPU, the device and the',
    "action's name. Linux numbers rows by virtual irq, which the lab does not model; it numbers them by",
    'the hardware interrupt. Counts: Arm, LPIs the redistributor handed to the CPU; x86, remapped or',
    'compatibility-format deliveries the unit made (the interrupt log, bounded).',
  ].join('\n'),
  examples: ['info interrupts'],
  exampleMachine: MACHINE,
  exampleSetup: ['boot vda.iommu_platform=on', 'blk read vda 0'],
  args: [],
  mutates: false,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const cpus = s.machine.info.cpus;
    const rows: { hw: string; counts: number[]; chip: string; device: string; name: string; masked: boolean }[] = [];
    if (linux.its) {
      const rd = linux.its.redist;
      for (const d of linux.its.devices) {
        for (const e of d.events) rows.push({ hw: `LPI ${e.lpi}`, counts: Array.from({ length: cpus }, (_, c) => rd.taken(c, e.lpi)), chip: `ITS-PCI-MSIX-${d.dev} ${e.event}`, device: d.dev, name: e.name, masked: !e.unmasked });
      }
    }
    const log = s.machine.interrupts.records();
    for (const [dev, list] of Object.entries(linux.msi.s.x86)) {
      list.forEach((v, i) => {
        const n = log.filter((x) => (v.index !== undefined ? x.controller === 'ir' && x.detail.includes(`IRTE ${v.index} `) : x.controller === 'lapic' && Number(x.data & 0xffn) === v.vector)).length;
        rows.push({ hw: `vector ${hex(v.vector, 2)}${v.index !== undefined ? ` IRTE ${v.index}` : ''}`, counts: Array.from({ length: cpus }, (_, c) => (c === v.dest ? n : 0)), chip: `${v.index !== undefined ? 'IR-' : ''}PCI-MSIX-${dev} ${i}`, device: dev, name: v.name, masked: !v.requested });
      });
    }
    const lines: Line[] = [plain(`${'hardware'.padEnd(20)}${Array.from({ length: cpus }, (_, c) => `CPU${c}`.padStart(8)).join('')}  chip, hwirq              action`)];
    for (const r of rows) lines.push(plain(`${r.hw.padEnd(20)}${r.counts.map((n) => String(n).padStart(8)).join('')}  ${r.chip.padEnd(24)} ${r.name}${r.masked ? ' (not requested yet: masked)' : ''}`));
    if (!rows.length) lines.push(plain('no MSI-X vector is set up (virtio-pci asks at probe where the machine has an MSI domain; vfio irq DEV)'));
    return { kind: 'info-interrupts', data: { rows }, lines };
  },
};

export const itsCommands: CommandSpec[] = [devirqCommand, itsTables, itsDevice, itsPath, infoInterrupts];
