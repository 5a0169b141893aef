/**
 * VT-d structures as plain data: root and context entries, second-level
 * PTEs, fault records, IRTEs, MSI addresses, invalidation descriptors and
 * registers decoded into field rows (driven by the Layout tables in
 * machine/vtd), a plain-language reading of a fault, and views that read a
 * unit's tables from memory now (not its caches).
 *
 * Bit positions of 128-bit records are shown as the spec writes them,
 * over all 128 bits: the SID of a fault record is [79:64].
 */
import { type u64, hex } from '../machine/u64.ts';
import { decode, get, type Layout } from '../machine/fields.ts';
import type { FieldRow } from './smmu.ts';
import * as R from '../machine/vtd/regs.ts';
import { ROOT_ENTRY_LAYOUT, CONTEXT_ENTRY_LAYOUT, ROOT_ENTRY_SIZE, CONTEXT_ENTRY_SIZE, sidText } from '../machine/vtd/context.ts';
import { SL_PTE_LAYOUT, LEVEL_NAMES } from '../machine/vtd/slpt.ts';
import { FRCD_LAYOUT, faultReason, linuxFaultReason, faultName } from '../machine/vtd/fault.ts';
import { IRTE_LAYOUT, MSI_ADDR_COMPAT_LAYOUT, MSI_ADDR_REMAP_LAYOUT, MSI_DATA_COMPAT_LAYOUT, decodeMsi } from '../machine/vtd/ir.ts';
import { qiLayout, QI_TYPE_NAMES } from '../machine/vtd/qi.ts';
import type { VtdUnit } from '../machine/vtd/vtd.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import type { TranslationStep } from '../machine/trace.ts';

export type { FieldRow };

const bitsText = (l: Layout, word: number, hi: number, lo: number): string => {
  const base = l.words > 1 ? 64 * word : 0;
  return `[${hi === lo ? hi + base : `${hi + base}:${lo + base}`}]`;
};

/** Decode a record with a Layout into rows (128-bit records numbered over all 128 bits). */
export function decodeVtdRows(layout: Layout, words: readonly u64[]): FieldRow[] {
  return decode(layout, words).map((f) => ({ name: f.name, bits: bitsText(layout, f.word, f.hi, f.lo), value: f.value, text: f.text, meaning: f.desc }));
}

export const decodeRootEntry = (words: readonly u64[]): FieldRow[] => decodeVtdRows(ROOT_ENTRY_LAYOUT, words);
export const decodeContextEntry = (words: readonly u64[]): FieldRow[] => decodeVtdRows(CONTEXT_ENTRY_LAYOUT, words);
export const decodeIrte = (words: readonly u64[]): FieldRow[] => decodeVtdRows(IRTE_LAYOUT, words);

/** A second-level entry at a level (1 = PT ... 5 = PML5): not present, table, page or superpage. */
export function decodePte(pte: u64, level: number): { kind: 'not present' | 'table' | 'page' | 'superpage'; level: string; rows: FieldRow[] } {
  const name = LEVEL_NAMES[level] ?? `level ${level}`;
  if ((pte & 3n) === 0n) return { kind: 'not present', level: name, rows: decodeVtdRows(SL_PTE_LAYOUT, [pte]) };
  const ps = (level === 2 || level === 3) && (pte & 0x80n) !== 0n;
  return { kind: level === 1 ? 'page' : ps ? 'superpage' : 'table', level: name, rows: decodeVtdRows(SL_PTE_LAYOUT, [pte]) };
}

/** Fault record rows; for an interrupt-remapping fault the index replaces the address (FI[63:48]). */
export function decodeFaultRecord(words: readonly u64[]): FieldRow[] {
  const rows = decodeVtdRows(FRCD_LAYOUT, words);
  const reason = Number(get(FRCD_LAYOUT, words, 'FR'));
  const fr = rows.find((r) => r.name === 'FR')!;
  fr.text = `${hex(reason, 2)} (${faultName(reason)})`;
  if (faultReason(reason)?.kind === 'ir') {
    const i = rows.findIndex((r) => r.name === 'FI');
    const index = words[0]! >> 48n;
    rows[i] = { name: 'FII', bits: '[63:48]', value: index, text: index.toString(), meaning: 'fault info: the interrupt index of the blocked interrupt' };
  }
  return rows;
}

/** An MSI write (address and 32-bit data) in whichever format its bit 4 says. */
export function decodeMsiAddress(addr: u64, data: number): { format: 'compatibility' | 'remappable'; rows: FieldRow[]; index?: number } {
  const a = [addr & 0xffff_ffffn];
  const m = decodeMsi(addr, data);
  if (m.remappable) {
    const index = m.handle! + (m.shv ? data & 0xffff : 0);
    return { format: 'remappable', index, rows: [...decodeVtdRows(MSI_ADDR_REMAP_LAYOUT, a), { name: 'Subhandle', bits: 'data[15:0]', value: BigInt(data & 0xffff), text: hex(data & 0xffff), meaning: m.shv ? 'added to the handle: interrupt index' : 'ignored (SHV = 0)' }] };
  }
  return { format: 'compatibility', rows: [...decodeVtdRows(MSI_ADDR_COMPAT_LAYOUT, a), ...decodeVtdRows(MSI_DATA_COMPAT_LAYOUT, [BigInt(data >>> 0)]).map((r) => ({ ...r, bits: `data${r.bits}` }))] };
}

export function decodeQiDescriptor(words: readonly u64[]): { type: string; rows: FieldRow[] } {
  const l = qiLayout(words[0]!);
  const t = Number(words[0]! & 0xfn);
  return { type: QI_TYPE_NAMES[t] ?? `unknown type ${t}`, rows: l ? decodeVtdRows(l, words) : [] };
}

export const REGISTER_LAYOUTS: Record<string, Layout> = {
  VER: R.VER_LAYOUT, CAP: R.CAP_LAYOUT, ECAP: R.ECAP_LAYOUT, GCMD: R.GCMD_LAYOUT, GSTS: R.GSTS_LAYOUT, RTADDR: R.RTADDR_LAYOUT,
  CCMD: R.CCMD_LAYOUT, IOTLB: R.IOTLB_LAYOUT, IVA: R.IVA_LAYOUT, FSTS: R.FSTS_LAYOUT, FECTL: R.FECTL_LAYOUT, IRTA: R.IRTA_LAYOUT,
  IQA: R.IQA_LAYOUT, IQH: R.IQ_PTR_LAYOUT, IQT: R.IQ_PTR_LAYOUT,
};
export function decodeRegister(name: string, value: u64): FieldRow[] | undefined {
  const l = REGISTER_LAYOUTS[name.toUpperCase()];
  return l && decodeVtdRows(l, [value]);
}

/** A unit's registers by name, read through its register page (as `x` would show them). */
export function unitRegisters(unit: VtdUnit): { name: string; offset: number; value: u64; rows?: FieldRow[] }[] {
  const regs: [string, number, 4 | 8][] = [
    ['VER', R.DMAR_VER_REG, 4], ['CAP', R.DMAR_CAP_REG, 8], ['ECAP', R.DMAR_ECAP_REG, 8], ['GSTS', R.DMAR_GSTS_REG, 4], ['RTADDR', R.DMAR_RTADDR_REG, 8],
    ['CCMD', R.DMAR_CCMD_REG, 8], ['FSTS', R.DMAR_FSTS_REG, 4], ['FECTL', R.DMAR_FECTL_REG, 4], ['FEDATA', R.DMAR_FEDATA_REG, 4], ['FEADDR', R.DMAR_FEADDR_REG, 4],
    ['IQH', R.DMAR_IQH_REG, 8], ['IQT', R.DMAR_IQT_REG, 8], ['IQA', R.DMAR_IQA_REG, 8], ['IRTA', R.DMAR_IRTA_REG, 8],
    ['IVA', unit.iotlbOffset, 8], ['IOTLB', unit.iotlbOffset + 8, 8],
  ];
  return regs.map(([name, offset, size]) => {
    const value = size === 8 ? unit.reg64(offset) : BigInt(unit.reg32(offset));
    return { name, offset, value, rows: decodeRegister(name, value) };
  });
}

// ---- faults ------------------------------------------------------------------------------------

/** A fault record's fields by name. */
export interface VtdFaultSummary {
  sid: number;
  /** "00:02.0". */
  bdf: string;
  reason: number;
  /** QEMU's name (VTD_FR_READ). */
  name: string;
  /** What Linux prints for it. */
  linux: string;
  kind: 'dma' | 'ir' | 'unknown';
  read: boolean;
  /** Page address (DMA faults). */
  addr: u64;
  /** Interrupt index (IR faults). */
  irIndex?: number;
  pasid?: number;
  /** F: still pending. */
  pending: boolean;
}

export function summarizeFaultRecord(words: readonly u64[]): VtdFaultSummary {
  const g = (n: string): u64 => get(FRCD_LAYOUT, words, n);
  const reason = Number(g('FR'));
  const fr = faultReason(reason);
  const sid = Number(g('SID'));
  return {
    sid, bdf: sidText(sid), reason, name: faultName(reason), linux: linuxFaultReason(reason).text, kind: fr?.kind ?? 'unknown',
    read: g('T') === 1n, addr: g('FI'), irIndex: fr?.kind === 'ir' ? Number(words[0]! >> 48n) : undefined,
    pasid: g('PP') === 1n ? Number(g('PV')) : undefined, pending: g('F') === 1n,
  };
}

/**
 * One or two sentences saying what a fault means, e.g. "Device 00:02.0
 * (source-id 0x0010) read page 0xfffff000 and the second-level page table
 * gives no read permission there: nothing is mapped at that IOVA ..."
 */
export function explainFault(f: Pick<VtdFaultSummary, 'sid' | 'reason' | 'read' | 'addr' | 'irIndex' | 'pasid'>): string {
  const who = `Device ${sidText(f.sid)} (source-id ${hex(f.sid, 4)})`;
  const did = `${f.read ? 'read' : 'wrote'} ${f.addr === 0n && f.reason < 0x20 ? 'address 0' : `page ${hex(f.addr)}`}`;
  const tail = ` Reason ${hex(f.reason, 2)}: "${linuxFaultReason(f.reason).text}".`;
  const bus = hex((f.sid >> 8) & 0xff, 2);
  switch (f.reason) {
    case 0x01:
      return `${who} ${did}, but the root entry for its bus ${bus} is not present: no device on this bus has been given a context entry (nothing attached it to a domain, or translation was turned on before the tables were set up).${tail}`;
    case 0x02:
      return `${who} ${did}, but it has no context entry: the kernel never attached it to a domain (firmware's DMAR may not list it) or it was detached.${tail}`;
    case 0x03:
      return `${who} ${did}, but its context entry asks for an address width or translation type this unit does not support (e.g. TT=2 pass-through without ECAP.PT).${tail}`;
    case 0x04:
      return `${who} ${did}, which lies beyond the address width of its domain's page table: no IOVA there can ever be mapped.${tail}`;
    case 0x05:
      return `${who} ${did} and the second-level page table gives no write permission there: nothing is mapped at that IOVA, or it is mapped read-only (a DMA_TO_DEVICE buffer the device writes into).${tail}`;
    case 0x06:
      return `${who} ${did} and the second-level page table gives no read permission there: nothing is mapped at that IOVA (never mapped, or already unmapped), or it is mapped write-only.${tail}`;
    case 0x07:
    case 0x08:
    case 0x09:
      return `${who} ${did}, and a table the unit had to read (${f.reason === 0x08 ? 'the root table' : f.reason === 0x09 ? 'a context table' : 'a page table'}) could not be read: its pointer leads nowhere.${tail}`;
    case 0x0a:
    case 0x0b:
    case 0x0c:
      return `${who} ${did}, and a ${f.reason === 0x0a ? 'root' : f.reason === 0x0b ? 'context' : 'page-table'} entry on the way has reserved bits set: software wrote a malformed entry.${tail}`;
    case 0x0e:
      return `${who} ${did}, and the page table translated it into the interrupt range 0xFEE00000-0xFEEFFFFF, which DMA remapping must never produce.${tail}`;
    case 0x20:
      return `${who} sent an interrupt whose remappable-format request has reserved bits set.${tail}`;
    case 0x21:
      return `${who} sent an interrupt with handle ${f.irIndex}, beyond the interrupt remapping table.${tail}`;
    case 0x22:
      return `${who} sent an interrupt through IRTE ${f.irIndex}, which is not present: the entry was never set up or has been freed.${tail}`;
    case 0x23:
      return `${who} sent an interrupt, and the interrupt remapping table could not be read.${tail}`;
    case 0x24:
      return `${who} sent an interrupt through IRTE ${f.irIndex}, which has reserved bits set.${tail}`;
    case 0x25:
      return `${who} sent a compatibility-format MSI (a raw destination and vector) while interrupt remapping is on: blocked, because such messages could target any CPU with any vector.${tail}`;
    case 0x26:
      return `${who} sent an interrupt through IRTE ${f.irIndex}, which belongs to another requester: the source-id check failed (a device using another device's interrupt).${tail}`;
    default:
      return `${who} ${did} and the unit reported fault reason ${hex(f.reason, 2)}.${tail}`;
  }
}

/** The unit's fault recording registers, decoded and read. */
export function faultRecordsOf(unit: VtdUnit): { index: number; offset: number; words: u64[]; summary: VtdFaultSummary; rows: FieldRow[]; text?: string }[] {
  return unit.faultRecords().map((r) => {
    const summary = summarizeFaultRecord(r.words);
    return { index: r.index, offset: r.offset, words: r.words, summary, rows: decodeFaultRecord(r.words), text: r.pending ? explainFault(summary) : undefined };
  });
}

// ---- views of the tables in memory ---------------------------------------------------------------

/** The root and context entries of a source-id as they are in memory now (the unit's latched root table). */
export function contextInMemory(mem: PhysicalMemory, unit: VtdUnit, sid: number): { rootAddr: u64; root: u64[]; rootRows: FieldRow[]; ctxAddr?: u64; ctx?: u64[]; ctxRows?: FieldRow[] } {
  const rootAddr = unit.rootTable + BigInt(ROOT_ENTRY_SIZE * ((sid >> 8) & 0xff));
  const root = mem.readWords(rootAddr, 2);
  const out: ReturnType<typeof contextInMemory> = { rootAddr, root, rootRows: decodeRootEntry(root) };
  if ((root[0]! & 1n) === 0n) return out;
  const ctxAddr = (root[0]! & ~0xfffn) + BigInt(CONTEXT_ENTRY_SIZE * (sid & 0xff));
  const ctx = mem.readWords(ctxAddr, 2);
  return { ...out, ctxAddr, ctx, ctxRows: decodeContextEntry(ctx) };
}

/**
 * What the unit would do with an access now, from memory: a walk without
 * the caches and without recording a fault (for a `walk` command).
 */
export function walkVtd(unit: VtdUnit, sid: number, iova: u64, write = false): { ok: boolean; pa?: u64; fault?: string; code?: number; steps: TranslationStep[] } {
  const t = unit.translate({ sid, addr: iova, write }, { useTlb: false, record: false });
  return t.ok ? { ok: true, pa: t.pa, steps: t.steps } : { ok: false, fault: t.fault.detail, code: t.fault.code, steps: t.steps };
}
