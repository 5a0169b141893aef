/**
 * `vtd root`, `vtd context BDF|DEV`, `vtd faults`, `ir table`: an Intel
 * VT-d unit's structures as the hardware holds them now, read at their
 * addresses and decoded with the layout tables (inspect/vtd.ts,
 * machine/vtd/*). Nothing here asks intel-iommu what it meant to write:
 * the root table is found from the root-table pointer the unit latched
 * (RTADDR + GCMD.SRTP), a context entry from its root entry, the fault
 * records from the fault recording registers at CAP.FRO*16, the IRTEs
 * from the table latched by GCMD.SIRTP (IRTA).
 *
 *   RTADDR -> root[bus] -> context table -> context[devfn] (P FPD TT SLPTPTR | AW DID)
 *   IRTA   -> IRTE[index]  (P FPD DM RH TM DLM V DST | SID SQ SVT)
 *   FRCD[n] at CAP.FRO*16: FI | SID PP FR PV AT T F
 *
 * 128-bit entries are shown as two 64-bit halves, "lo" = bits [63:0] and
 * "hi" = bits [127:64] (Linux's dmar_fault_dump_ptes prints a context
 * entry the same way: "hi %016llx, low %016llx"). Layouts: REFERENCE.md 3.
 */
import { type u64, hex } from '../../machine/u64.ts';
import { get } from '../../machine/fields.ts';
import { parseBdf } from '../../machine/pci.ts';
import { BusError } from '../../machine/errors.ts';
import { VtdUnit } from '../../machine/vtd/vtd.ts';
import * as R from '../../machine/vtd/regs.ts';
import { CONTEXT_ENTRY_LAYOUT, CONTEXT_ENTRY_SIZE, ROOT_ENTRY_SIZE, agawToLevels, agawToWidth, sidText, CONTEXT_TT_PASS_THROUGH, CONTEXT_TT_MULTI_LEVEL, CONTEXT_TT_DEV_IOTLB } from '../../machine/vtd/context.ts';
import { IRTE_LAYOUT, IRTE_SIZE, DLM_NAMES, logicalApicIds, remappableMsiAddress } from '../../machine/vtd/ir.ts';
import { faultName, linuxFaultReason } from '../../machine/vtd/fault.ts';
import { contextInMemory, decodeIrte, decodeRegister, explainFault, faultRecordsOf, type FieldRow } from '../../inspect/vtd.ts';
import { parseDmarLog } from '../../inspect/dmar-log.ts';
import { infoGroups } from '../../inspect/iommu.ts';
import { printkTime } from '../../kernel/kernel.ts';
import type { Linux } from '../../kernel/linux.ts';
import type { KDevice } from '../../kernel/types.ts';
import { fieldLines, plain, span, table, type Line } from '../../inspect/view.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';
import { findDevice } from '../devices.ts';
import { dmaOpsName, domainText, mmioBase } from '../kernel-device.ts';
import { msiCommand } from './msi.ts';

/** Stated limit: IRTEs listed by `ir table` (the count is always given). */
export const IR_ROWS = 64;

/** The machine's VT-d unit, or an error that says this machine has none (the VT-d twin of needSmmu). */
export function needVtd(s: Session, sp: SourceSpan | undefined): VtdUnit {
  const unit = s.machine.iommus.find((i): i is VtdUnit => i instanceof VtdUnit);
  if (unit) return unit;
  throw new CommandError(
    `${s.system.preset.name} has no Intel VT-d unit${s.machine.iommus.length ? ` (its IOMMUs: ${s.machine.iommus.map((i) => `${i.name} ${i.kind}`).join(', ')})` : ': nothing translates its DMA'}`,
    sp,
    undefined,
    'machine x86-q35-vtd',
  );
}

/** Field rows as `fieldLines` wants them. */
export const vtdFieldLines = (rows: FieldRow[], indent = '  '): Line[] => fieldLines(rows.map((r) => ({ name: r.name, bits: r.bits, text: r.text, desc: r.meaning })), indent);

/** "lo 0x… hi 0x…" for a 128-bit entry. */
export const raw128 = (w: readonly u64[]): Line => [span('lo '), span(hex(w[0]!, 16), 'num'), span(' hi '), span(hex(w[1]!, 16), 'num')];

const gsts = (u: VtdUnit): number => u.reg32(R.DMAR_GSTS_REG);

/** The booted kernel, when there is one (these commands read hardware; the kernel only adds context). */
const bootedLinux = (s: Session): Linux | undefined => (s.system.linux && s.kernel.booted ? s.system.linux : undefined);

/** The root table the unit uses, or an error before anything latched one. */
function rootTableOf(u: VtdUnit, sp: SourceSpan | undefined): u64 {
  if (!(gsts(u) & R.DMA_GSTS_RTPS)) {
    throw new CommandError(`${u.name} has no root table yet (GSTS.RTPS = 0): nothing has set RTADDR and issued SRTP`, sp, undefined, "boot (Linux's intel-iommu driver sets it up)");
  }
  return u.rootTable;
}

/** Present context entries of a context table, by devfn. */
function presentContexts(s: Session, ctp: u64): number[] {
  const bytes = s.machine.memory.read(ctp, 256 * CONTEXT_ENTRY_SIZE);
  const out: number[] = [];
  for (let devfn = 0; devfn < 256; devfn++) if (bytes[devfn * CONTEXT_ENTRY_SIZE]! & 1) out.push(devfn);
  return out;
}

/** A device name for a source-id, when the machine has a PCI function there. */
function deviceAt(s: Session, sid: number): string | undefined {
  return s.machine.pciFunctions().find((f) => f.rid === sid)?.name;
}

export const vtdRoot: CommandSpec = {
  name: 'vtd root',
  summary: 'The VT-d root table read from memory: present entries by bus, each with its context table',
  help: [
    'Reads the root table the unit latched from RTADDR (GCMD.SRTP): 256 entries of 16 bytes, one per PCI',
    'bus. Lists every present entry (P=1) with its raw halves and context-table pointer (CTP), and the',
    'present context entries in that context table (by bus:dev.fn). An entry that is not present but not',
    'zero is listed too. A request from a bus without a present root entry faults with reason 0x01.',
  ].join('\n'),
  examples: ['vtd root'],
  exampleMachine: 'x86-q35-vtd',
  exampleSetup: ['boot'],
  args: [],
  mutates: false,
  run(s, a) {
    const u = needVtd(s, a.all);
    const root = rootTableOf(u, a.all);
    const rtaddr = u.reg64(R.DMAR_RTADDR_REG);
    const mem = s.machine.memory;
    let bytes: Uint8Array;
    try {
      bytes = mem.read(root, 256 * ROOT_ENTRY_SIZE);
    } catch (e) {
      if (e instanceof BusError) throw new CommandError(`the root table at ${hex(root)} cannot be read: ${e.message} (the unit would report fault 0x08)`, a.all);
      throw e;
    }
    const entries: { bus: number; addr: u64; words: u64[]; present: boolean; ctp: u64; contexts: { devfn: number; bdf: string; device?: string }[] }[] = [];
    for (let bus = 0; bus < 256; bus++) {
      const off = bus * ROOT_ENTRY_SIZE;
      if (bytes.subarray(off, off + ROOT_ENTRY_SIZE).every((b) => b === 0)) continue;
      const addr = root + BigInt(off);
      const words = mem.readWords(addr, 2);
      const present = (words[0]! & 1n) === 1n;
      const ctp = words[0]! & ~0xfffn;
      const contexts = present ? presentContexts(s, ctp).map((devfn) => ({ devfn, bdf: sidText((bus << 8) | devfn), device: deviceAt(s, (bus << 8) | devfn) })) : [];
      entries.push({ bus, addr, words, present, ctp, contexts });
    }
    const ttm = Number(get(R.RTADDR_LAYOUT, [rtaddr], 'TTM'));
    const lines: Line[] = [
      [span(`root table of ${u.name}`, 'head'), span(' at '), span(hex(root), 'addr'), span(`: 256 entries of 16 bytes, indexed by bus (RTADDR ${hex(rtaddr, 16)}: ${ttm === 0 ? 'legacy mode, TTM=0' : `TTM=${ttm}`}; GSTS.RTPS=1)`, 'dim')],
    ];
    if ((rtaddr & ~0xfffn) !== root) lines.push([span(`  RTADDR now holds ${hex(rtaddr & ~0xfffn)}, but the unit still uses ${hex(root)}: software wrote RTADDR without a new SRTP`, 'warn')]);
    if (!(gsts(u) & R.DMA_GSTS_TES)) lines.push([span('  translation is off (GSTS.TES = 0): the unit does not read this table; every DMA passes untranslated', 'warn')]);
    if (entries.length) {
      lines.push(
        ...table(
          [{ header: 'bus' }, { header: 'entry at', style: 'addr' }, { header: 'lo', style: 'num' }, { header: 'hi', style: 'num' }, { header: 'P' }, { header: 'context table', style: 'addr' }, { header: 'present context entries' }],
          entries.map((e) => [hex(e.bus, 2), hex(e.addr), hex(e.words[0]!, 16), hex(e.words[1]!, 16), e.present ? '1' : '0', e.present ? hex(e.ctp) : '-', e.present ? e.contexts.map((c) => (c.device ? `${c.bdf} (${c.device})` : c.bdf)).join(' ') || 'none' : 'P=0: requests from this bus fault 0x01']),
          { indent: '  ' },
        ),
      );
    }
    const n = entries.filter((e) => e.present).length;
    lines.push(plain(`${n} of 256 root entries present${n ? '' : ': every request faults with reason 0x01 (Present bit in root entry is clear)'}`));
    return { kind: 'vtd-root', data: { iommu: u.name, rtaddr, root, entries }, lines, focus: { addr: root, len: 16 } };
  },
};

/** The source-id an argument names: a device of the machine, or any bus:dev.fn. */
function sourceIdArg(s: Session, text: string, sp: SourceSpan | undefined): { sid: number; device?: string } {
  const b = parseBdf(text);
  if (b) {
    if (b.segment !== 0) throw new CommandError(`segment ${hex(b.segment, 4)}: this lab's VT-d unit serves PCI segment 0`, sp, 'a bus:dev.fn on segment 0');
    const sid = (b.bus << 8) | (b.dev << 3) | b.fn;
    return { sid, device: deviceAt(s, sid) };
  }
  const ref = findDevice(s, text, sp);
  const sid = ref.pci?.rid ?? ref.master?.rid ?? ref.master?.sid;
  if (sid === undefined) throw new CommandError(`${ref.name} has no PCI requester id`, sp, 'a PCI device or bus:dev.fn');
  return { sid, device: ref.name };
}

const TT_TEXT: Record<number, string> = {
  [CONTEXT_TT_MULTI_LEVEL]: 'untranslated requests via second-level tables',
  [CONTEXT_TT_DEV_IOTLB]: 'also device-TLB (ATS) requests',
  [CONTEXT_TT_PASS_THROUGH]: 'pass-through',
  3: 'reserved',
};

/** A logical (flat model) destination for a table cell: "0x01 = APIC 0", "0x0f = APICs 0,1,2,3". */
function logicalDestCell(dest: number): string {
  const ids = logicalApicIds(dest);
  return `0x${dest.toString(16).padStart(2, '0')} = ${ids.length === 1 ? `APIC ${ids[0]}` : ids.length ? `APICs ${ids.join(',')}` : 'no APIC'}`;
}

/** The kernel's side of a device, in one line: group, default domain type, DMA ops. */
function kernelLine(linux: Linux | undefined, device: string | undefined): { text: string; dev?: KDevice; group?: number; type?: string } | undefined {
  if (!linux || !device) return undefined;
  const dev = linux.device(device);
  if (!dev) return undefined;
  const group = linux.core.groupOf(dev);
  const type = group === undefined ? undefined : infoGroups(linux.core).find((g) => g.group === group)?.type;
  const text =
    group === undefined
      ? `the kernel put ${dev.name} in no IOMMU group (no DRHD in the DMAR table covers it); its DMA ops are ${dmaOpsName(linux, dev)}`
      : `the kernel: ${dev.name} in iommu group ${group}, ${domainText(linux, dev, type)}, DMA ops ${dmaOpsName(linux, dev)}`;
  return { text, dev, group, type };
}

export const vtdContext: CommandSpec = {
  name: 'vtd context',
  summary: 'The context entry of a device (or any bus:dev.fn) read from memory: both halves raw and every field',
  help: [
    "Finds the entry the way the unit does: the root entry for the bus, its context-table pointer, then",
    'entry devfn (dev<<3 | fn). Shows both 64-bit halves raw and every field: P, FPD, TT (0 translate',
    'through the second-level tables, 1 also ATS, 2 pass-through), SLPTPTR, AW (address width and',
    'levels), DID, and what TT means for this device. This is memory now; the unit may still hold an',
    'older copy in its context cache until software invalidates it.',
  ].join('\n'),
  examples: ['vtd context nic0', 'vtd context 00:01.0', 'vtd context 00:05.0'],
  exampleMachine: 'x86-q35-vtd',
  exampleSetup: ['boot'],
  args: [{ name: 'dev', kind: 'device', desc: 'a device (vda, nic0) or a PCI address bus:dev.fn' }],
  mutates: false,
  run(s, a) {
    const sp = a.span.dev;
    const { sid, device } = sourceIdArg(s, a.v.dev as string, sp);
    const u = needVtd(s, sp);
    rootTableOf(u, sp);
    const who = `${sidText(sid)}${device ? ` (${device})` : ''}`;
    let c: ReturnType<typeof contextInMemory>;
    try {
      c = contextInMemory(s.machine.memory, u, sid);
    } catch (e) {
      if (e instanceof BusError) throw new CommandError(`the root or context table of ${who} cannot be read: ${e.message}`, sp);
      throw e;
    }
    const bus = (sid >> 8) & 0xff;
    const devfn = sid & 0xff;
    const linux = bootedLinux(s);
    const k = kernelLine(linux, device);
    const lines: Line[] = [];
    const rootP = (c.root[0]! & 1n) === 1n;
    const rootLine: Line = [span(`  root entry [bus ${hex(bus, 2)}] at `, 'dim'), span(hex(c.rootAddr), 'addr'), span(': '), ...raw128(c.root), span(rootP ? `  P=1, context table at ${hex(c.root[0]! & ~0xfffn)}` : '  P=0', rootP ? 'dim' : 'bad')];
    if (!rootP || c.ctxAddr === undefined || c.ctx === undefined || c.ctxRows === undefined) {
      lines.push([span(`context entry of ${who}`, 'head'), span(`, source-id ${hex(sid, 4)}: none (${u.name})`, 'dim')]);
      lines.push(rootLine);
      lines.push([span('  '), span(`the root entry for bus ${hex(bus, 2)} is not present: every request from this bus faults with reason 0x01 (${linuxFaultReason(1).text}); there is no context table to read`, 'bad')]);
      if (k) lines.push([span(`  ${k.text}`, 'dim')]);
      return { kind: 'vtd-context', data: { iommu: u.name, sid, bdf: sidText(sid), device: device ?? null, rootAddr: c.rootAddr, root: c.root, rootPresent: false, present: false }, lines, focus: { addr: c.rootAddr, len: ROOT_ENTRY_SIZE } };
    }
    const ctx = c.ctx;
    const g = (n: string): number => Number(get(CONTEXT_ENTRY_LAYOUT, ctx, n));
    const present = g('P') === 1;
    const tt = g('TT');
    const aw = g('AW');
    const did = g('DID');
    const fpd = g('FPD') === 1;
    const slptptr = get(CONTEXT_ENTRY_LAYOUT, ctx, 'SLPTPTR');
    const sagawOk = ((u.sagaw >> aw) & 1) === 1;
    lines.push([span(`context entry of ${who}`, 'head'), span(', source-id '), span(hex(sid, 4), 'num'), span(' at '), span(hex(c.ctxAddr), 'addr'), span(` (${u.name}; entry ${hex(devfn, 2)} of the context table)`, 'dim')]);
    lines.push(rootLine);
    lines.push([span('  raw: '), ...raw128(ctx)]);
    const rows = c.ctxRows.map((r) => (r.name === 'AW' && present ? { ...r, text: `${r.value} (${agawToWidth(aw)}-bit, ${agawToLevels(aw)}-level)` } : r));
    lines.push(...vtdFieldLines(rows));
    let meaning: string;
    let ok = true;
    if (!present) {
      ok = false;
      meaning = `P=0: not present: every request from ${sidText(sid)} faults with reason 0x02 (${linuxFaultReason(2).text})${k?.group === undefined && k ? ': the kernel never attached it to a domain' : ''}`;
    } else if (tt === CONTEXT_TT_PASS_THROUGH) {
      ok = u.hasPt;
      meaning = u.hasPt
        ? `TT=2 pass-through: the unit uses every address ${sidText(sid)} issues as the physical address and reads no page table (an identity domain; ECAP.PT=1). SLPTPTR is ignored; DID ${did} and AW=${aw} are what Linux writes for pass-through`
        : `TT=2 pass-through, but this unit has ECAP.PT=0: every request faults with reason 0x03 (${linuxFaultReason(3).text})`;
    } else if (tt === CONTEXT_TT_MULTI_LEVEL || tt === CONTEXT_TT_DEV_IOTLB) {
      ok = sagawOk;
      meaning = sagawOk
        ? `TT=${tt}: ${sidText(sid)}'s addresses are IOVAs, translated through the ${agawToLevels(aw)}-level second-level page table at ${hex(slptptr)} (AW=${aw}: ${agawToWidth(aw)}-bit input addresses); IOTLB entries are tagged with domain id ${did}, shared by every device of the domain${tt === CONTEXT_TT_DEV_IOTLB ? '; translated (ATS) requests are allowed too' : ''}`
        : `TT=${tt} with AW=${aw} (${agawToWidth(aw)}-bit), which CAP.SAGAW ${hex(u.sagaw)} does not support: every request faults with reason 0x03 (${linuxFaultReason(3).text})`;
    } else {
      ok = false;
      meaning = `TT=3 is reserved: every request faults with reason 0x03 (${linuxFaultReason(3).text})`;
    }
    lines.push([span('  '), span(meaning, ok ? 'ok' : 'bad')]);
    if (present) lines.push([span(`  FPD=${fpd ? 1 : 0}: ${fpd ? 'qualified faults (no permission, not present PTE ...) are NOT recorded in the fault recording registers' : 'faults from this device are recorded in the fault recording registers (vtd faults)'}`, 'dim')]);
    if (!(gsts(u) & R.DMA_GSTS_TES)) lines.push([span('  translation is off (GSTS.TES = 0): the unit does not use this entry; every DMA passes untranslated', 'warn')]);
    if (k) lines.push([span(`  ${k.text}`, 'dim')]);
    const cached = u.contextCache().find((x) => x.sid === sid);
    if (cached) {
      const same = cached.ctx[0] === ctx[0] && cached.ctx[1] === ctx[1];
      lines.push([span(same ? "  the unit's context cache holds this same entry" : "  the unit's context cache holds an OLDER copy of this entry (memory changed without a context-cache invalidation): requests still use the cached one", same ? 'dim' : 'warn')]);
    }
    return {
      kind: 'vtd-context',
      data: {
        iommu: u.name, sid, bdf: sidText(sid), device: device ?? null, rootAddr: c.rootAddr, root: c.root, rootPresent: true, addr: c.ctxAddr, words: ctx, fields: c.ctxRows,
        present, fpd, tt, ttText: TT_TEXT[tt], slptptr, aw, width: agawToWidth(aw), levels: agawToLevels(aw), did, meaning,
        kernel: k ? { group: k.group ?? null, type: k.type ?? null, dmaOps: k.dev?.dmaOps } : null, cached: cached ? { words: cached.ctx } : null,
      },
      lines,
      focus: { addr: c.ctxAddr, len: CONTEXT_ENTRY_SIZE },
    };
  },
};

/** The kernel log lines its DMAR fault handler printed (dmar_fault, dmar_fault_dump_ptes, the ratelimit note). */
const FAULT_LOG = /DRHD: handling fault status reg|Request device \[|\[fault reason|dmar_fault: \d+ callbacks suppressed|Dump \S+ table entries for IOVA|DMAR: (?:root entry|context entry|pte level|page table not present|legacy mode page table|root table is not present|context table is not present)/;

export const vtdFaults: CommandSpec = {
  name: 'vtd faults',
  summary: "The unit's fault recording registers as the hardware holds them, decoded; and the kernel's DMAR fault lines",
  help: [
    'Reads FSTS (PFO, PPF, IQE..., FRI), FECTL and every fault recording register (FRCD, 128 bits at',
    'CAP.FRO*16): each raw and decoded: FI (the faulting page), SID as bus:dev.fn, T (read or write), FR',
    "(the reason code with Linux's string), F (pending: F=1, or cleared by software writing 1). A cleared",
    "record keeps its last contents in this model. Then the DMAR lines the kernel's fault handler",
    '(dmar_fault) printed so far. Faults come from real accesses (devdma, blk read, boot), never from walk.',
  ].join('\n'),
  examples: ['vtd faults'],
  exampleMachine: 'x86-q35-vtd',
  exampleSetup: ['boot', 'devdma read nic0 0x1000 8'],
  args: [],
  mutates: false,
  run(s, a) {
    const u = needVtd(s, a.all);
    const base = mmioBase(s, u);
    const at = (off: number): string => (base !== undefined ? hex(base + BigInt(off)) : `+${hex(off)}`);
    const fsts = u.reg32(R.DMAR_FSTS_REG);
    const fectl = u.reg32(R.DMAR_FECTL_REG);
    const fedata = u.reg32(R.DMAR_FEDATA_REG);
    const feaddr = u.reg32(R.DMAR_FEADDR_REG);
    const fstsRows = decodeRegister('FSTS', BigInt(fsts))!;
    const st = u.stats();
    const recs = faultRecordsOf(u).map((r) => ({ ...r, empty: r.words[0] === 0n && r.words[1] === 0n }));
    const lines: Line[] = [
      [
        span(`fault recording of ${u.name}`, 'head'),
        span(`: ${u.faultRecordCount} fault recording register${u.faultRecordCount === 1 ? '' : 's'} at ${at(u.frcdOffset)} (CAP.FRO ${hex(u.frcdOffset / 16)}, NFR ${u.faultRecordCount - 1}); ${st.faults} fault${st.faults === 1 ? '' : 's'} recorded since power-on, ${st.faultsLost} not recorded (collapsed, overflow)`, 'dim'),
      ],
    ];
    const flags = fstsRows.filter((r) => r.name !== 'FRI').map((r) => `${r.name}=${r.value}`).join(' ');
    lines.push([span('  FSTS   ', 'name'), span(hex(fsts, 8), 'num'), span(`  ${flags} FRI=${(fsts >> 8) & 0xff}`), span(fsts & R.DMA_FSTS_PPF ? `: record ${(fsts >> 8) & 0xff} is the first pending one` : fsts ? '' : ': nothing pending', 'dim')]);
    lines.push([
      span('  FECTL  ', 'name'),
      span(hex(fectl, 8), 'num'),
      span(`  IM=${(fectl >>> 31) & 1} IP=${(fectl >>> 30) & 1}`),
      span(fectl & R.DMA_FECTL_IM ? ': fault events are masked (no interrupt; software must poll)' : `: a new fault raises the fault event, an MSI to FEADDR ${hex(feaddr)} with FEDATA ${hex(fedata)} (vector ${hex(fedata & 0xff, 2)}), whose handler is Linux's dmar_fault`, 'dim'),
    ]);
    for (const r of recs) {
      lines.push(plain(''));
      const head: Line = [span(`FRCD[${r.index}]`, 'key'), span(' at '), span(at(r.offset), 'addr'), span(': ')];
      if (r.empty) {
        lines.push([...head, span('empty (no fault recorded here since power-on)', 'dim')]);
        continue;
      }
      const f = r.summary;
      head.push(span(`${f.name} (${hex(f.reason, 2)})`, 'bad'), span(` ${f.kind === 'ir' ? `interrupt request (index ${f.irIndex})` : f.read ? 'read' : 'write'} from ${f.bdf}${deviceAt(s, f.sid) ? ` (${deviceAt(s, f.sid)})` : ''}`));
      head.push(span(f.pending ? '  PENDING (F=1): not yet read and cleared by software' : '  cleared by software (F=0): the fields below are the last record, kept until the next fault', f.pending ? 'warn' : 'dim'));
      lines.push(head);
      lines.push([span('  raw: '), ...raw128(r.words)]);
      const rows = r.rows.map((x) =>
        x.name === 'SID' ? { ...x, text: `${hex(Number(x.value), 4)} (${f.bdf})` }
        : x.name === 'T' ? { ...x, text: `${x.value} (${x.value === 1n ? 'read' : 'write'})` }
        : x.name === 'FR' ? { ...x, text: `${hex(f.reason, 2)} ${faultName(f.reason)}: ${f.linux}` }
        : x.name === 'F' ? { ...x, text: `${x.value} (${x.value === 1n ? 'pending' : 'cleared'})` }
        : x,
      );
      lines.push(...vtdFieldLines(rows, '    '));
      lines.push([span('  reading: ', 'dim'), span(explainFault(f))]);
    }
    // The kernel's side: what dmar_fault printed.
    const log = s.kernel.dmesg().filter((l) => FAULT_LOG.test(l.text));
    const parsed = parseDmarLog(log.map((l) => l.text).join('\n'));
    lines.push(plain(''));
    if (log.length) {
      lines.push([span(`the kernel's DMAR fault lines (${log.length}):`, 'dim')]);
      for (const l of log) lines.push([span(`  ${printkTime(l.time)}`, 'dim'), span(l.text, l.level === 'err' ? 'bad' : undefined)]);
    } else {
      lines.push([span(bootedLinux(s) ? 'the kernel has printed no DMAR fault lines' : 'no kernel has booted: nobody reads the fault records (they stay pending)', 'dim')]);
    }
    return {
      kind: 'vtd-faults',
      data: {
        iommu: u.name, fsts, fstsFields: fstsRows, fectl, feaddr, fedata, recorded: st.faults, lost: st.faultsLost,
        records: recs.map((r) => ({ index: r.index, offset: r.offset, addr: base !== undefined ? base + BigInt(r.offset) : undefined, words: r.words, empty: r.empty, pending: r.summary.pending, fields: r.rows, summary: r.summary, explanation: r.empty ? null : explainFault(r.summary) })),
        kernelLog: log.map((l) => ({ time: l.time, text: l.text })),
        kernelFaults: parsed,
      },
      lines,
    };
  },
};

export const irTable: CommandSpec = {
  name: 'ir table',
  summary: 'The interrupt remapping table in memory at IRTA: present IRTEs decoded (vector, destination, modes, source check)',
  help: [
    'Reads the table the unit latched from IRTA (GCMD.SIRTP): 2^(S+1) entries of 16 bytes. Lists each',
    'present entry (P=1) with its raw halves and fields: vector, destination APIC id, DM (physical or',
    'logical), TM (edge or level), DLM (delivery mode), RH, and the source check (SVT, SQ, SID as',
    'bus:dev.fn), and the remappable MSI address that selects it. Entries with P=0 that are not zero',
    `are listed too. At most ${IR_ROWS} rows (the count is always given). \`msi DEV\` makes the kernel compose one.`,
  ].join('\n'),
  examples: ['ir table'],
  exampleMachine: 'x86-q35-vtd',
  exampleSetup: ['boot', 'msi nic0'],
  args: [],
  mutates: false,
  run(s, a) {
    const u = needVtd(s, a.all);
    const g = gsts(u);
    if (!(g & R.DMA_GSTS_IRTPS)) {
      throw new CommandError(`${u.name} has no interrupt remapping table yet (GSTS.IRTPS = 0): nothing has set IRTA and issued SIRTP`, a.all, undefined, "boot (Linux's interrupt remapping sets it up unless intremap=off)");
    }
    const irt = u.irTable;
    const irta = u.reg64(R.DMAR_IRTA_REG);
    const mem = s.machine.memory;
    const rows: { index: number; addr: u64; words: u64[]; present: boolean; fields: FieldRow[]; vector: number; dest: number; dm: string; tm: string; dlm: string; rh: number; fpd: number; svt: number; sq: number; sid: number; sidBdf: string; device?: string; msiAddress: u64 }[] = [];
    let total = 0;
    const pageEntries = 4096 / IRTE_SIZE;
    for (let p = 0; p * pageEntries < irt.entries; p++) {
      const pageAddr = irt.base + BigInt(p * 4096);
      const bytes = mem.read(pageAddr, Math.min(4096, (irt.entries - p * pageEntries) * IRTE_SIZE));
      if (bytes.every((b) => b === 0)) continue;
      for (let i = 0; i < bytes.length / IRTE_SIZE; i++) {
        if (bytes.subarray(i * IRTE_SIZE, (i + 1) * IRTE_SIZE).every((b) => b === 0)) continue;
        total++;
        if (rows.length >= IR_ROWS) continue;
        const index = p * pageEntries + i;
        const addr = irt.base + BigInt(index * IRTE_SIZE);
        const words = mem.readWords(addr, 2);
        const f = (n: string): number => Number(get(IRTE_LAYOUT, words, n));
        const dst = Number(get(IRTE_LAYOUT, words, 'DST'));
        const sid = f('SID');
        rows.push({
          index, addr, words, present: f('P') === 1, fields: decodeIrte(words), vector: f('V'), dest: irt.eime ? dst >>> 0 : (dst >>> 8) & 0xff,
          dm: f('DM') ? 'logical' : 'physical', tm: f('TM') ? 'level' : 'edge', dlm: DLM_NAMES[f('DLM')] ?? `reserved ${f('DLM')}`, rh: f('RH'), fpd: f('FPD'),
          svt: f('SVT'), sq: f('SQ'), sid, sidBdf: sidText(sid), device: deviceAt(s, sid), msiAddress: remappableMsiAddress(index),
        });
      }
    }
    const ires = (g & R.DMA_GSTS_IRES) !== 0;
    const lines: Line[] = [
      [span(`interrupt remapping table of ${u.name}`, 'head'), span(' at '), span(hex(irt.base), 'addr'), span(`: ${irt.entries} entries of 16 bytes (IRTA ${hex(irta, 16)}: S=${Number(irta & R.IRTA_S_MASK)}, EIME=${irt.eime ? 1 : 0}: ${irt.eime ? 'x2APIC 32-bit destinations' : 'xAPIC destinations in DST[15:8]'})`, 'dim')],
      [span(`  GSTS: IRES=${ires ? 1 : 0} IRTPS=1 CFIS=${g & R.DMA_GSTS_CFIS ? 1 : 0}`), span(ires ? `: remappable-format MSIs are looked up here; compatibility-format MSIs are ${g & R.DMA_GSTS_CFIS ? 'let through (CFIS=1)' : 'blocked (fault 0x25)'}` : ': interrupt remapping is off: every MSI is read in compatibility format, this table is not used', ires ? 'dim' : 'warn')],
    ];
    if (rows.length) {
      lines.push(
        ...table(
          [{ header: 'index', align: 'right' }, { header: 'IRTE at', style: 'addr' }, { header: 'lo', style: 'num' }, { header: 'hi', style: 'num' }, { header: 'P' }, { header: 'vector', style: 'num' }, { header: 'destination' }, { header: 'DM' }, { header: 'TM' }, { header: 'DLM' }, { header: 'RH' }, { header: 'source check' }, { header: 'MSI address' }],
          rows.map((r) => [
            String(r.index), hex(r.addr), hex(r.words[0]!, 16), hex(r.words[1]!, 16), String(r.present ? 1 : 0), hex(r.vector, 2), r.dm === 'logical' && !irt.eime ? logicalDestCell(r.dest) : `APIC ${r.dest}`, r.dm, r.tm, r.dlm, String(r.rh),
            r.svt === 0 ? 'SVT=0: none' : r.svt === 1 ? `SVT=1 SQ=${r.sq}: SID ${r.sidBdf}${r.device ? ` (${r.device})` : ''}` : r.svt === 2 ? `SVT=2: buses ${hex(r.sid >> 8, 2)}..${hex(r.sid & 0xff, 2)}` : 'SVT=3 (reserved)',
            hex(r.msiAddress, 8),
          ]),
          { indent: '  ' },
        ),
      );
    }
    const present = rows.filter((r) => r.present).length;
    const pins = s.system.linux?.intel?.ioapicPinIrtes(u.name) ?? 0;
    if (pins) lines.push(plain(`indices 0-${pins - 1}: allocated at boot to IO-APIC 0's ${pins} legacy pins (setup_IO_APIC_irqs); each entry is written when its irq is requested, which the lab does not model, so they read zero`));
    lines.push(plain(total ? `${total} entr${total === 1 ? 'y is' : 'ies are'} not zero${total > rows.length ? ` (the first ${rows.length} shown: a stated limit)` : ''}; ${present} present` : 'no entry is set up: nothing has composed a remapped interrupt yet (msi DEV makes the kernel compose one)'));
    return { kind: 'ir-table', data: { iommu: u.name, irta, base: irt.base, entries: irt.entries, eime: irt.eime, ires, cfis: (g & R.DMA_GSTS_CFIS) !== 0, nonZero: total, rows }, lines, focus: { addr: irt.base, len: 16 } };
  },
};

export const vtdCommands: CommandSpec[] = [vtdRoot, vtdContext, vtdFaults, irTable, msiCommand];
