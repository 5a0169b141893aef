/**
 * `msi DEV [vector=V] [apic=N]`: the MSI message the booted kernel gives a
 * device, and where a write of it would land, checked against the hardware
 * now (nothing is delivered: `devdma write DEV ADDR BYTE 4` does that).
 *
 *   x86, interrupt remapping on:   intel-iommu allocates an IRTE (prepare_irte: vector, APIC,
 *                                  SVT=1 SID = the device) and gives the device the remappable
 *                                  message 0xFEE00000 | index<<5 | IF | SHV, data = subhandle 0
 *                                  -> the unit looks the index up in the IRT -> vector to an APIC
 *   x86, remapping off, or a device no DRHD covers: the compatibility format
 *                                  0xFEE00000 | APIC<<12, data = vector (blocked with fault 0x25
 *                                  while remapping is on)
 *   Arm + GICv3 ITS:               the doorbell is GITS_TRANSLATER (ITS base + 0x10040), data =
 *                                  EventID; behind an SMMU, iommu_dma_prepare_msi maps the
 *                                  doorbell page into the device's DMA domain and the device gets
 *                                  that IOVA + 0x40 (REFERENCE.md 6.4)
 *
 * Sources: REFERENCE.md 3.7 and 6.4; linux drivers/iommu/intel/irq_remapping.c
 * (intel_irq_remapping_alloc, fill_msi_msg), drivers/iommu/dma-iommu.c
 * (iommu_dma_prepare_msi), drivers/irqchip/irq-gic-v3-its.c (its_irq_compose_msi_msg).
 *
 * virtio-pci and e1000e enable MSI-X at probe (kernel/pci-msi.ts); this
 * command runs the kernel's part for one more vector as a driver's
 * pci_alloc_irq_vectors would, or shows the one the device already has. Composing
 * changes the machine (an IRTE in memory, a doorbell mapping): it is an
 * undoable step. Asking again for a device that already has an IRTE with
 * the same vector and APIC shows that one instead of allocating another.
 */
import { type u64, hex } from '../../machine/u64.ts';
import { get } from '../../machine/fields.ts';
import { GicIts, GITS_TRANSLATER } from '../../machine/gic-its.ts';
import { VtdUnit } from '../../machine/vtd/vtd.ts';
import * as R from '../../machine/vtd/regs.ts';
import { IRTE_LAYOUT, IRTE_SIZE, lapicTarget, remappableMsiAddress } from '../../machine/vtd/ir.ts';
import { sidText } from '../../machine/vtd/context.ts';
import { faultReason, linuxFaultReason } from '../../machine/vtd/fault.ts';
import { eventType } from '../../machine/smmuv3/event.ts';
import type { DmaMaster } from '../../machine/dma.ts';
import type { Linux } from '../../kernel/linux.ts';
import type { KDevice } from '../../kernel/types.ts';
import { ERRNO_NAMES } from '../../kernel/iommu.ts';
import { pickX86Vector, x86UsedVectors } from '../../kernel/pci-msi.ts';
import { decodeIrte, decodeMsiAddress } from '../../inspect/vtd.ts';
import { fieldLines, span, type Line } from '../../inspect/view.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import type { CommandResult, CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';
import { devLabel, kernelDevice } from '../kernel-device.ts';

const rowLines = (rows: { name: string; bits: string; text: string; meaning: string }[], indent = '    '): Line[] => fieldLines(rows.map((r) => ({ name: r.name, bits: r.bits, text: r.text, desc: r.meaning })), indent);

/** What the device's driver does about MSI in this model, honestly. */
function driverNote(linux: Linux, dev: KDevice): string {
  const drv = linux.bound.get(dev.name);
  const tail = "A composed message is what pci_write_msi_msg writes into the device's MSI-X table entry; devirq DEV makes a device whose table the lab models (virtio-pci, the NICs) send its own entries.";
  const vectors = !!(linux.its?.devices.some((d) => d.dev === dev.name) || linux.msi.s.x86[dev.name]);
  if (vectors && drv && drv !== 'vfio-pci') {
    const how = drv === 'virtio-pci' ? 'vp_find_vqs_msix: config vector 0, one per queue, before the rings' : drv === 'e1000e' ? 'e1000e_set_interrupt_capability: RxQ0, TxQ0 and other; request_irq unmasks them when the interface comes up' : 'pci_alloc_irq_vectors';
    return `${drv} enabled MSI-X for ${dev.alias ?? dev.name} at probe (${how}): its own vectors are in its MSI-X table; this command shows (or composes) one message as pci_alloc_irq_vectors does. ${tail}`;
  }
  if (drv === 'virtio-pci') return `virtio-pci in this lab falls back to INTx (vp_interrupt reads the ISR) when the machine has no MSI domain it models or the device has no MSI-X. ${tail}`;
  if (drv === 'vfio-pci') return `vfio-pci holds ${dev.name}: a user-space driver enables its MSI-X with VFIO_DEVICE_SET_IRQS (vfio irq DEV), which maps the doorbell as above. ${tail}`;
  if (drv) return `${drv} is bound to ${dev.name}, but its I/O is not modelled: nothing enables MSI for it here. This is what the kernel's MSI domain composes when the driver does (pci_alloc_irq_vectors). ${tail}`;
  return `no driver is bound to ${dev.name}: nothing enables MSI for it. This is what the kernel's MSI domain would compose. ${tail}`;
}

/** IRTE rows with the destination as an APIC id and the SID as bus:dev.fn. */
export function irteRows(words: readonly u64[], eime: boolean): ReturnType<typeof decodeIrte> {
  const logical = !eime && get(IRTE_LAYOUT, words, 'DM') === 1n;
  return decodeIrte(words).map((r) => {
    if (r.name === 'DST' && logical) return { ...r, text: `${hex(r.value)} (xAPIC ${lapicTarget(Number((r.value >> 8n) & 0xffn), true).text})` };
    if (r.name === 'DST') return { ...r, text: `${hex(r.value)} (${eime ? 'x2APIC id' : 'xAPIC id'} ${eime ? Number(r.value) : Number((r.value >> 8n) & 0xffn)})` };
    if (r.name === 'SID') return { ...r, text: `${hex(Number(r.value), 4)} (${sidText(Number(r.value))})` };
    return r;
  });
}

/** Present IRTEs of a unit's table: index, vector, destination, SVT/SID. */
function presentIrtes(s: Session, u: VtdUnit): { index: number; vector: number; dest: number; svt: number; sid: number }[] {
  const irt = u.irTable;
  const out: { index: number; vector: number; dest: number; svt: number; sid: number }[] = [];
  const perPage = 4096 / IRTE_SIZE;
  for (let p = 0; p * perPage < irt.entries; p++) {
    const bytes = s.machine.memory.read(irt.base + BigInt(p * 4096), Math.min(4096, (irt.entries - p * perPage) * IRTE_SIZE));
    if (bytes.every((b) => b === 0)) continue;
    for (let i = 0; i < bytes.length / IRTE_SIZE; i++) {
      if (!(bytes[i * IRTE_SIZE]! & 1)) continue;
      const index = p * perPage + i;
      const w = s.machine.memory.readWords(irt.base + BigInt(index * IRTE_SIZE), 2);
      const dst = Number(get(IRTE_LAYOUT, w, 'DST'));
      const field = irt.eime ? dst >>> 0 : (dst >>> 8) & 0xff;
      // dest: the APIC the entry reaches (a logical flat destination resolved as the hardware does).
      const dest = lapicTarget(field, !irt.eime && get(IRTE_LAYOUT, w, 'DM') === 1n, get(IRTE_LAYOUT, w, 'DLM') === 1n).apic;
      out.push({ index, vector: Number(get(IRTE_LAYOUT, w, 'V')), dest, svt: Number(get(IRTE_LAYOUT, w, 'SVT')), sid: Number(get(IRTE_LAYOUT, w, 'SID')) });
    }
  }
  return out;
}

function x86Msi(s: Session, linux: Linux, dev: KDevice, master: DmaMaster, a: { vector?: u64; apic?: u64; vsp?: SourceSpan; asp?: SourceSpan }): CommandResult {
  const drv = linux.intel!;
  const unit = master.iommu instanceof VtdUnit ? master.iommu : s.machine.iommus.find((i): i is VtdUnit => i instanceof VtdUnit);
  if (!unit) throw new CommandError(`${s.system.preset.name} has no VT-d unit to take ${dev.name}'s interrupts`);
  const sid = master.rid ?? master.sid;
  if (a.vector !== undefined && (a.vector < 0x20n || a.vector > 0xffn)) throw new CommandError(`vector ${hex(a.vector)}: x86 device vectors are 0x20..0xff (0x00-0x1f are CPU exceptions)`, a.vsp, 'a vector from 0x20 to 0xff');
  const eim = unit.irTable.eime;
  if (a.apic !== undefined && a.apic > (eim ? 0xffff_ffffn : 0xffn)) throw new CommandError(`APIC id ${a.apic} does not fit ${eim ? 'a 32-bit x2APIC' : 'an 8-bit xAPIC'} destination`, a.asp);
  const dest = Number(a.apic ?? 0n);
  const ir = drv.irqRemappingEnabled;
  const irtes = ir ? presentIrtes(s, unit) : [];
  const mine = irtes.filter((e) => e.svt === 1 && e.sid === sid && (a.vector === undefined || e.vector === Number(a.vector)) && (a.apic === undefined || e.dest === dest));
  let composed: 'new' | 'existing';
  let addr: u64;
  let data: number;
  let index: number | undefined;
  let vector: number;
  if (mine.length) {
    composed = 'existing';
    index = mine[0]!.index;
    vector = mine[0]!.vector;
    addr = remappableMsiAddress(index);
    data = 0;
  } else {
    composed = 'new';
    const used = x86UsedVectors(linux, dest);
    for (const e of irtes) if (e.dest === dest) used.add(e.vector);
    vector = Number(a.vector ?? 0n);
    if (a.vector === undefined) {
      const v = pickX86Vector(used);
      if (v === undefined) throw new CommandError(`no free vector on APIC ${dest} (a stated limit of the lab's stand-in allocator)`, a.asp);
      vector = v;
    }
    const m = drv.composeMsi(dev, vector, dest);
    addr = (BigInt(m.addressHi >>> 0) << 32n) | BigInt(m.addressLo >>> 0);
    data = m.data;
    index = m.index;
  }
  const dec = decodeMsiAddress(addr, data);
  const land = unit.interruptRequest(sid, addr, data, false);
  const lines: Line[] = [];
  const who = `${devLabel(dev)}, source-id ${hex(sid, 4)}`;
  const how =
    composed === 'existing' ? `already composed: IRTE ${index} (vector ${hex(vector, 2)})`
    : index !== undefined ? `composed now by intel-iommu: IRTE ${index} for vector ${hex(vector, 2)} to APIC ${dest}`
    : ir ? `composed now in compatibility format (vector ${hex(vector, 2)} to APIC ${dest}): no DRHD in the DMAR table covers ${sidText(sid)}, so the kernel has no interrupt-remapping domain for it`
    : `composed now in compatibility format (vector ${hex(vector, 2)} to APIC ${dest}): interrupt remapping is off`;
  lines.push([span(`MSI of ${who}`, 'head'), span(`: ${how}`, 'dim')]);
  lines.push([span('  address '), span(hex(addr, 16), 'num'), span('  data '), span(hex(data, 8), 'num'), span(`  (${dec.format} format)`, 'dim')]);
  lines.push(...rowLines(dec.rows));
  let irte: { addr: u64; words: u64[] } | undefined;
  if (dec.format === 'remappable' && dec.index !== undefined && unit.irTable.entries > dec.index) {
    const at = unit.irTable.base + BigInt(dec.index * IRTE_SIZE);
    const words = s.machine.memory.readWords(at, 2);
    irte = { addr: at, words };
    lines.push([span(`  interrupt index = handle + subhandle = ${dec.index}: IRTE at `), span(hex(at), 'addr'), span(': lo '), span(hex(words[0]!, 16), 'num'), span(' hi '), span(hex(words[1]!, 16), 'num')]);
    lines.push(...rowLines(irteRows(words, unit.irTable.eime).filter((r) => ['P', 'FPD', 'DM', 'RH', 'TM', 'DLM', 'V', 'DST', 'SID', 'SQ', 'SVT'].includes(r.name))));
  }
  if (land.ok) {
    lines.push([span('  lands: '), span(land.controller === 'ir' ? `remapped through IRTE ${land.index}: vector ${hex(land.vector, 2)} to APIC ${land.dest}` : `compatibility format: vector ${hex(land.vector, 2)} to APIC ${land.dest}`, 'ok'), span(` (${land.detail})`, 'dim')]);
  } else {
    const f = land.fault;
    lines.push([span('  lands: '), span(`BLOCKED by ${unit.name}: ${f.name} (${hex(f.code, 2)}): ${linuxFaultReason(f.code).text}`, 'bad')]);
    lines.push([span(`     ${land.detail}`)]);
    lines.push([span(`     (a real write would be recorded in ${unit.name}'s fault recording registers${faultReason(f.code)?.qualified ? ' unless the IRTE has FPD=1' : ''}; this check recorded nothing)`, 'dim')]);
  }
  lines.push([span(`  note: ${driverNote(linux, dev)}`, 'dim')]);
  return {
    kind: 'msi',
    data: {
      device: dev.name, arch: 'x86', sid, composed, format: dec.format, address: addr, data, index: index ?? null, vector, apic: dest, fields: dec.rows,
      irte: irte ? { addr: irte.addr, words: irte.words, fields: irteRows(irte.words, unit.irTable.eime) } : null,
      landing: land.ok ? { ok: true, controller: land.controller, vector: land.vector, dest: land.dest, index: land.index ?? null, detail: land.detail } : { ok: false, fault: { name: land.fault.name, code: land.fault.code, reason: linuxFaultReason(land.fault.code).text }, detail: land.detail },
      driver: linux.bound.get(dev.name) ?? null,
    },
    lines,
    focus: irte ? { addr: irte.addr, len: IRTE_SIZE } : undefined,
  };
}

/** The GICv3 ITS of an Arm machine: its base, from the memory map. */
function findIts(s: Session): { name: string; base: u64; modelled: boolean } | undefined {
  const regions = s.machine.memory.listRegions();
  const r = regions.find((x) => x.kind === 'mmio' && x.handler instanceof GicIts) ?? regions.find((x) => x.kind === 'mmio' && x.name === 'arm-gicv3-its');
  if (!r) return undefined;
  return { name: r.handler instanceof GicIts ? r.handler.name : r.name, base: r.base, modelled: r.handler instanceof GicIts };
}

function armMsi(s: Session, linux: Linux, dev: KDevice, master: DmaMaster, sp: SourceSpan | undefined): CommandResult {
  const its = findIts(s);
  if (!its) throw new CommandError(`${s.system.preset.name} has no MSI controller this lab knows (no GICv3 ITS, no x86 interrupt remapping)`, sp);
  const doorbell = its.base + BigInt(GITS_TRANSLATER);
  const r = linux.iommuDma.iommuDmaPrepareMsi(dev, doorbell);
  if (!r.ok) throw new CommandError(`iommu_dma_prepare_msi(${dev.name}, ${hex(doorbell)}) failed: -${ERRNO_NAMES[r.errno] ?? r.errno}`, sp);
  const addr = r.msgAddr;
  const data = 0;
  const lines: Line[] = [];
  lines.push([span(`MSI of ${devLabel(dev)}`, 'head'), span(`: the doorbell is GITS_TRANSLATER of the GICv3 ITS (${its.name}) at ${hex(doorbell)} = ITS base ${hex(its.base)} + 0x10040; data = EventID 0 (the device's first vector)`, 'dim')]);
  if (r.iova !== undefined) {
    const vfio = linux.core.getDomainForDev(dev)?.type === 'unmanaged';
    lines.push([span('  iommu_dma_prepare_msi: the doorbell page '), span(hex(doorbell & ~0xfffn), 'addr'), span(` is mapped (WRITE|NOEXEC|MMIO) in the device's ${vfio ? "VFIO (unmanaged)" : 'DMA'} domain at IOVA `), span(hex(r.iova), 'addr'), span(': the device is given IOVA + 0x40')]);
    lines.push([span(vfio ? "  (VFIO's MSI cookie: the next page of the SW_MSI window, whatever the platform's PCI windows are: REFERENCE 6.4, seed 002)" : "  (a kernel DMA domain takes the doorbell IOVA from its normal allocator; the SW_MSI window 0x8000000 is used by VFIO's MSI cookie only: REFERENCE 6.4)", 'dim')]);
  } else {
    lines.push([span(`  ${dev.name} has no IOMMU DMA domain with a cookie (identity domain, or not behind an IOMMU): the device is given the doorbell's physical address`, 'dim')]);
  }
  lines.push([span('  address '), span(hex(addr, 16), 'num'), span('  data '), span(hex(data, 8), 'num')]);
  // Where the write goes, as the DMA engine would route it (machine.ts route), without making it.
  let landing: { ok: boolean; pa?: u64; detail: string; fault?: { name: string; code: number } };
  const p2p = master.rootComplex?.windows.find((w) => w.kind !== 'io' && addr >= w.pciBase && addr - w.pciBase < w.size);
  if (p2p) {
    landing = { ok: false, detail: `${hex(addr)} is inside ${master.rootComplex!.name}'s ${p2p.kind} window: the root complex routes the write peer to peer and it never reaches the ${master.path === 'translated' ? 'SMMU or the ' : ''}ITS (seed 002)` };
  } else if (master.rootComplex && !master.rootComplex.forwardsUpstream(addr)) {
    landing = { ok: false, detail: `${hex(addr)} is outside ${master.rootComplex.name}'s inbound dma-ranges: the root complex does not forward the write upstream, so it never reaches the ${master.path === 'translated' ? 'SMMU or the ' : ''}ITS: no interrupt (seed 002)` };
  } else {
    let pa = addr;
    let fault: { name: string; code: number; detail: string } | undefined;
    if (master.path === 'translated' && master.iommu) {
      const t = master.iommu.translate({ sid: master.sid, addr, write: true }, { record: false, useTlb: false });
      if (t.ok) pa = t.pa;
      else fault = { name: t.fault.name, code: t.fault.code, detail: t.fault.detail };
    }
    if (fault) {
      const et = fault.code >= 0 && master.iommu?.kind === 'smmuv3' ? eventType(fault.code) : undefined;
      landing = { ok: false, fault, detail: `${master.iommu!.name} would fault: ${fault.name}${et ? ` (${et.meaning})` : ''}: ${fault.detail}` };
    } else if (pa === doorbell) {
      landing = { ok: true, pa, detail: `${master.path === 'translated' ? `${master.iommu!.name} translates it to ${hex(pa)}: ` : 'untranslated: '}GITS_TRANSLATER; the ITS takes DeviceID ${hex(master.rid ?? master.sid)} from the write and EventID ${data}${its.modelled ? '' : ` (${its.name} is only a register stub here: nothing is delivered)`}` };
    } else {
      landing = { ok: false, pa, detail: `${master.path === 'bypass' ? `${master.name}'s DMA bypasses the IOMMU, so the IOVA is used as a physical address` : `it reaches ${hex(pa)}`}: a write to ${hex(pa)}, NOT the doorbell at ${hex(doorbell)}: no interrupt` };
    }
  }
  lines.push([span('  lands: '), span(landing.detail, landing.ok ? 'ok' : 'bad')]);
  lines.push([span(`  note: ${driverNote(linux, dev)}`, 'dim')]);
  return {
    kind: 'msi',
    data: { device: dev.name, arch: 'arm64', its: { name: its.name, base: its.base, translater: doorbell }, iova: r.iova ?? null, address: addr, data, landing, driver: linux.bound.get(dev.name) ?? null },
    lines,
  };
}

export const msiCommand: CommandSpec = {
  name: 'msi',
  summary: 'The MSI address/data the kernel gives a device and where it lands: an IRTE (x86 VT-d) or the ITS doorbell (Arm)',
  help: [
    "Runs the kernel's part of enabling one MSI for DEV (as pci_alloc_irq_vectors would) and checks",
    'where a write of the message would go now. On x86 with interrupt remapping: intel-iommu allocates',
    'an IRTE (vector, APIC, source-id check) and gives the device a remappable-format address that',
    'selects it; without remapping, or for a device no DRHD covers, the compatibility format, which the',
    "unit blocks (fault 0x25) while remapping is on. On Arm: the GICv3 ITS doorbell GITS_TRANSLATER,",
    "and, for a device in an IOMMU DMA domain, the doorbell IOVA iommu_dma_prepare_msi maps. vector= and",
    "apic= choose the x86 target (default: the lab's stand-in allocator, APIC 0). Asking again shows the",
    "IRTE the device already has (virtio-pci and e1000e enable MSI-X at probe; the note says so).",
  ].join('\n'),
  examples: ['msi nic0', 'msi vda vector=0x41 apic=2', 'msi 00:02.0'],
  exampleMachine: 'x86-q35-vtd',
  exampleSetup: ['boot'],
  args: [{ name: 'dev', kind: 'device', desc: 'the device: vda, nic0 or a PCI address' }],
  opts: [
    { name: 'vector', kind: 'u64', desc: 'x86: the CPU vector, 0x20..0xff (default: the lowest free from 0x21)' },
    { name: 'apic', kind: 'u64', desc: 'x86: the destination APIC id (default 0)' },
  ],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    if (k.linux.intel) return x86Msi(s, k.linux, k.dev, k.ref.master, { vector: a.v.vector as u64 | undefined, apic: a.v.apic as u64 | undefined, vsp: a.span.vector, asp: a.span.apic });
    if (a.v.vector !== undefined || a.v.apic !== undefined) throw new CommandError('vector= and apic= choose an x86 interrupt; an Arm MSI is an EventID written to the ITS', a.span.vector ?? a.span.apic);
    return armMsi(s, k.linux, k.dev, k.ref.master, a.span.dev);
  },
};
