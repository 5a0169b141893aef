/**
 * `walk DEV IOVA`: the whole translation of one bus address of a device,
 * as its IOMMU would do it, read from memory now. The walk bypasses the
 * IOTLB and the configuration cache and records nothing (translate with
 * record:false, useTlb:false): it is a look, not an access, so the event
 * queue and the IOTLB are the same afterwards.
 *
 *   SMMUv3:  [L1STD] -> STE (Config) -> CD (TTB0, ASID) -> L0 -> L1 -> L2 -> L3 -> PA
 *            each table level: table address, index, descriptor address and value, decoded
 *   VT-d:    root [bus] -> context [devfn] (P FPD TT AW DID SLPTPTR) -> [PML5] [PML4] PDP PD PT -> PA
 *            TT=2 pass-through ends at the context entry; faults carry Linux's reason string
 *            (REFERENCE.md 3.2-3.5) and are "recorded unless FPD=1" (qualified faults only)
 */
import { type u64, hex } from '../../machine/u64.ts';
import { get } from '../../machine/fields.ts';
import { STE_LAYOUT } from '../../machine/smmuv3/ste.ts';
import { CD_LAYOUT } from '../../machine/smmuv3/cd.ts';
import { eventType } from '../../machine/smmuv3/event.ts';
import type { TranslationStep } from '../../machine/trace.ts';
import { decodeDescriptor, decodeL1Std, type FieldRow } from '../../inspect/smmu.ts';
import { span, type Line } from '../../inspect/view.ts';
import type { CommandSpec } from '../registry.ts';
import { findMaster } from '../devices.ts';
import { formatBdf } from '../../machine/pci.ts';
import { CONTEXT_ENTRY_LAYOUT, agawToLevels, agawToWidth, sidText } from '../../machine/vtd/context.ts';
import { faultReason, linuxFaultReason } from '../../machine/vtd/fault.ts';
import { dmaOpsName } from '../kernel-device.ts';
import { LEVEL_NAMES } from '../../machine/vtd/slpt.ts';
import { X86_MSI_BASE, X86_MSI_SIZE } from '../../machine/vtd/ir.ts';
import { decodePte } from '../../inspect/vtd.ts';
import type { DmaMaster } from '../../machine/dma.ts';

/** One step of the walk as data: what was read where, and what it says. */
export interface WalkStepView {
  level: string;
  tableAddr?: u64;
  index?: number;
  descAddr?: u64;
  desc?: u64 | u64[];
  /** For table levels: invalid / table / block / page / reserved. */
  kind?: string;
  /** Decoded fields of the descriptor (table levels, STE, CD, L1STD). */
  fields?: Record<string, u64>;
  note: string;
}

const S1_LEAF_SHOWN = ['OA', 'AP[2]', 'AP[1]', 'AF', 'SH', 'AttrIndx', 'nG', 'PXN', 'UXN'] as const;
const TABLE_SHOWN = ['NextLevelTable', 'APTable', 'XNTable', 'PXNTable'] as const;

const rowsToRecord = (rows: FieldRow[], names: readonly string[]): Record<string, u64> =>
  Object.fromEntries(rows.filter((r) => names.includes(r.name)).map((r) => [r.name, r.value]));

const AP_TEXT = ['read/write, privileged only', 'read/write, any level', 'read-only, privileged only', 'read-only, any level'];
const SH_TEXT: Record<string, string> = { '0': 'non-shareable', '2': 'outer', '3': 'inner' };

/** Decode one step for display: a line of text and the fields as data. */
function viewStep(st: TranslationStep): { view: WalkStepView; text: Line } {
  const view: WalkStepView = { level: st.level, tableAddr: st.tableAddr, index: st.index, descAddr: st.descAddr, desc: st.desc, note: st.note };
  const head: Line = [span('  '), span(st.level.padEnd(6), 'key')];
  const words = Array.isArray(st.desc) ? st.desc : undefined;
  const single = !Array.isArray(st.desc) ? st.desc : undefined;
  const at = st.descAddr !== undefined ? [span(' @'), span(hex(st.descAddr), 'addr')] : [];
  const m = /^(S2 )?L([0-3])$/.exec(st.level);
  if (st.level === 'STE' && words) {
    const cfg = Number(get(STE_LAYOUT, words, 'Config'));
    const ptr = get(STE_LAYOUT, words, 'S1ContextPtr');
    view.fields = { V: get(STE_LAYOUT, words, 'V'), Config: BigInt(cfg), S1ContextPtr: ptr };
    return { view, text: [...head, ...at, span(` dw0 ${hex(words[0]!, 16)}`, 'num'), span(`  V=${view.fields.V} Config=0b${cfg.toString(2).padStart(3, '0')}: `), span(st.note.replace(/^Config=/, ''), 'dim')] };
  }
  if (st.level === 'CD' && words) {
    view.fields = { V: get(CD_LAYOUT, words, 'V'), TTB0: get(CD_LAYOUT, words, 'TTB0'), ASID: get(CD_LAYOUT, words, 'ASID'), T0SZ: get(CD_LAYOUT, words, 'T0SZ') };
    return { view, text: [...head, ...at, span(` dw0 ${hex(words[0]!, 16)} dw1 ${hex(words[1]!, 16)}`, 'num'), span(`  ${st.note}`, 'dim')] };
  }
  if (st.level === 'L1STD' && single !== undefined) {
    const rows = decodeL1Std(single);
    view.fields = rowsToRecord(rows, ['Span', 'L2Ptr']);
    return { view, text: [...head, span(` [${st.index}]`), ...at, span(` = ${hex(single, 16)}`, 'num'), span(`  ${st.note}`, 'dim')] };
  }
  if (m && single !== undefined) {
    const level = Number(m[2]);
    const stage = m[1] ? 2 : 1;
    const d = decodeDescriptor(single, level, stage);
    view.kind = d.kind;
    const out: Line = [...head, span(` table ${hex(st.tableAddr ?? 0n)} [${st.index}]`), ...at, span(' = '), span(hex(single, 16), 'num'), span('  ')];
    if (d.kind === 'table') {
      view.fields = rowsToRecord(d.rows, TABLE_SHOWN);
      out.push(span(`table -> next level at ${hex(view.fields.NextLevelTable!)}${view.fields.APTable ? `, APTable ${view.fields.APTable}` : ''}${view.fields.XNTable ? ', XNTable' : ''}${view.fields.PXNTable ? ', PXNTable' : ''}`));
    } else if (d.kind === 'block' || d.kind === 'page') {
      if (stage === 1) {
        view.fields = rowsToRecord(d.rows, S1_LEAF_SHOWN);
        const f = view.fields;
        const ap = Number((f['AP[2]']! << 1n) | f['AP[1]']!);
        const size = level === 3 ? '4K page' : level === 2 ? '2M block' : '1G block';
        out.push(span(`${size}: OA ${hex(f.OA! & ~((1n << BigInt([39, 30, 21, 12][level]!)) - 1n))}, AP[2:1]=${ap.toString(2).padStart(2, '0')} (${AP_TEXT[ap]}), AF=${f.AF}, SH=${f.SH} (${SH_TEXT[String(f.SH)] ?? 'reserved'}), AttrIndx=${f.AttrIndx}, nG=${f.nG}, PXN=${f.PXN}, UXN/XN=${f.UXN}`));
      } else {
        view.fields = rowsToRecord(d.rows, ['OA', 'S2AP', 'AF', 'SH', 'MemAttr', 'XN']);
        out.push(span(`${level === 3 ? '4K page' : 'block'}: OA ${hex(view.fields.OA!)}, S2AP=${view.fields.S2AP}, AF=${view.fields.AF}, SH=${view.fields.SH}, MemAttr=${hex(view.fields.MemAttr!)}, XN=${view.fields.XN}`));
      }
    } else {
      out.push(span(d.kind === 'reserved' ? `bits[1:0]=01 is reserved at level ${level}: invalid` : 'invalid (bit 0 = 0)', 'bad'));
    }
    return { view, text: out };
  }
  return { view, text: [...head, ...at, span(single !== undefined ? ` = ${hex(single, 16)}` : '', 'num'), span(`  ${st.note}`, 'dim')] };
}

/**
 * The walk as a radix-tree path (`show=tree`): the IOVA cut into the index
 * fields each level uses, then one branch per level, from the table root to
 * the page and the offset. 4 KiB granules only (every level takes 9 bits,
 * the page offset 12): SMMUv3 stage 1 L0-L3 [47:39] [38:30] [29:21] [20:12]
 * (io-pgtable-arm.c ARM_LPAE_LVL_SHIFT), VT-d PML5/PML4/PDP/PD/PT from
 * [56:48] down (VT-d spec 3.7).
 */
const LEVEL_SHIFT: Record<string, number> = { L0: 39, L1: 30, L2: 21, L3: 12, PML5: 48, PML4: 39, PDP: 30, PD: 21, PT: 12 };

function treeLines(steps: readonly Pick<TranslationStep, 'level' | 'index' | 'tableAddr' | 'note'>[], iova: u64, end: { ok: true; pa: u64 } | { ok: false; what: string }): Line[] {
  const levels = steps.filter((x) => LEVEL_SHIFT[x.level] !== undefined && x.index !== undefined);
  if (!levels.length) return [[span('  (no page-table level was read: nothing to draw)', 'dim')]];
  const lines: Line[] = [];
  // Every level from the root down to 4 KiB, walked or not (a fault stops the walk, not the IOVA's fields).
  const order = levels[0]!.level.startsWith('L') ? ['L0', 'L1', 'L2', 'L3'] : ['PML5', 'PML4', 'PDP', 'PD', 'PT'];
  const cols = order.slice(order.indexOf(levels[0]!.level)).map((name) => {
    const lo = LEVEL_SHIFT[name]!;
    return { name, bits: `${lo + 8}..${lo}`, index: String(Number((iova >> BigInt(lo)) & 0x1ffn)) };
  });
  // A leaf above L3/PT (a block or superpage) keeps the rest of the bits as offset.
  const lastShift = LEVEL_SHIFT[levels.at(-1)!.level]!;
  const leafBlock = end.ok && lastShift > 12;
  if (leafBlock) cols.splice(cols.findIndex((c) => LEVEL_SHIFT[c.name] === lastShift) + 1);
  const offBits = leafBlock ? lastShift : 12;
  const off = iova & ((1n << BigInt(offBits)) - 1n);
  const w = Math.max(...cols.map((c) => Math.max(c.bits.length, c.index.length, c.name.length))) + 2;
  lines.push([span(`  IOVA ${hex(iova, 16)} cut into its 4 KiB-granule index fields:`, 'head')]);
  lines.push([span('    level  '), ...cols.map((c) => span(c.name.padEnd(w), 'key')), span('offset', 'key')]);
  lines.push([span('    bits   '), ...cols.map((c) => span(c.bits.padEnd(w), 'dim')), span(`${offBits - 1}..0`, 'dim')]);
  lines.push([span('    index  '), ...cols.map((c) => span(c.index.padEnd(w), 'num')), span(hex(off), 'num')]);
  lines.push([span(`  table root ${hex(levels[0]!.tableAddr ?? 0n)}`, 'addr')]);
  levels.forEach((x, i) => {
    const pad = '  ' + '    '.repeat(i + 1);
    const next = /table -> (?:next level at )?(0x[0-9a-f]+)/.exec(x.note);
    const leaf = /(?:page|block)(?: at|.*?(?:OA |-> ))\s*(0x[0-9a-f]+)/.exec(x.note);
    const what = next ? `${x.level} table ${hex(x.tableAddr ?? 0n)} [${x.index}] -> next table ${next[1]}` : leaf ? `${x.level} table ${hex(x.tableAddr ?? 0n)} [${x.index}] -> ${leafBlock ? 'block' : 'page'} ${leaf[1]}` : `${x.level} table ${hex(x.tableAddr ?? 0n)} [${x.index}]: ${x.note}`;
    lines.push([span(`${pad}└─[${x.index}] `, 'dim'), span(what, next || leaf ? undefined : 'bad')]);
  });
  const pad = '  ' + '    '.repeat(levels.length + 1);
  lines.push(end.ok ? [span(`${pad}└─ + ${hex(off)} -> `, 'dim'), span(`PA ${hex(end.pa)}`, 'ok')] : [span(`${pad}└─ `, 'dim'), span(end.what, 'bad')]);
  return lines;
}

export const walkCommand: CommandSpec = {
  name: 'walk',
  summary: "A device address's full translation walk through its IOMMU, read from memory (no side effects)",
  help: [
    "Follows what the device's IOMMU would do for one access by DEV to IOVA: for an SMMUv3 the",
    'stream table (level-1 descriptor, STE and its Config), the context descriptor (TTB0, ASID), then',
    'each page-table level: table address, index, descriptor address and value, and the decoded',
    'descriptor (type, output address, AP, AF, SH, AttrIndx, XN). It ends in the physical address, or',
    'in the fault the SMMU would report (name, code, meaning). The IOTLB and the configuration cache',
    'are neither used nor filled and no event is recorded. A device whose DMA does not go through an',
    'IOMMU uses the address as it is: the walk says so. For an Intel VT-d unit: the root entry (by bus),',
    'the context entry (P, FPD, TT, AW, DID, SLPTPTR), then each second-level table (PDP, PD, PT for 39',
    "bits); TT=2 (pass-through) ends at the context entry; a fault carries Linux's reason string.",
  ].join('\n'),
  examples: ['walk vda 0xffffd002', 'walk vda 0xffffc000 access=write', 'walk vda 0xfffffffd002 show=tree', 'walk 00:00.0 0x8800d002'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot kernel=4.10-rc'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'iova', kind: 'u64', desc: 'the bus address the device would issue (IOVA)' },
  ],
  opts: [
    { name: 'access', kind: 'enum', choices: ['read', 'write'], desc: 'the access to check permissions for (default read)' },
    { name: 'show', kind: 'enum', choices: ['tree'], desc: 'tree: draw the walk as a radix-tree path with the IOVA cut into its index fields' },
  ],
  mutates: false,
  run(s, a) {
    const r = walkRun(s, a);
    if (a.v.show !== 'tree') return r;
    const d = r.data as { ok: boolean; pa?: u64; bypass?: boolean; steps: WalkStepView[]; fault?: { name: string }; interrupt?: boolean };
    const tree = d.bypass || d.interrupt
      ? [[span('  (no page tables were walked: nothing to draw)', 'dim')]]
      : treeLines(d.steps, a.v.iova as u64, d.ok ? { ok: true, pa: d.pa! } : { ok: false, what: `FAULT ${d.fault?.name ?? ''}` });
    return { ...r, lines: [...r.lines, ...tree] };
  },
};

function walkRun(s: Parameters<CommandSpec['run']>[0], a: Parameters<CommandSpec['run']>[1]): ReturnType<CommandSpec['run']> {
  {
    const ref = findMaster(s, a.v.dev as string, a.span.dev);
    const iova = a.v.iova as u64;
    const write = a.v.access === 'write';
    const m = ref.master;
    const kdev = s.system.linux?.device(ref.name);
    const label = ref.pci ? `${ref.name} (${formatBdf(ref.pci.bdf)})` : ref.name;
    const lines: Line[] = [];
    const base = { device: ref.name, iova, access: write ? 'write' : 'read', path: m.path };
    if (m.path === 'bypass' || !m.iommu) {
      lines.push([span(`walk of ${hex(iova)} for ${label}`, 'head'), span(`: ${write ? 'write' : 'read'}`, 'dim')]);
      lines.push([span(`  ${ref.name}'s DMA does not go through an IOMMU (path: bypass): the address is used as-is, no tables are read`)]);
      if (kdev?.iommuName && kdev.dmaOps === 'iommu') {
        lines.push([span(`  (the kernel believes otherwise: firmware put ${kdev.name} behind ${kdev.iommuName}, group ${kdev.group ?? '-'}, with DMA ops ${s.system.linux ? dmaOpsName(s.system.linux, kdev) : 'iommu-dma'}: its DMA API hands out IOVAs this device would use as physical addresses)`, 'warn')]);
      } else if (kdev?.iommuName) {
        lines.push([span(`  (the kernel agrees in effect: ${kdev.name} is behind ${kdev.iommuName} per firmware, but uses dma-direct ops, so its DMA addresses are physical addresses too)`, 'dim')]);
      }
      lines.push([span('  -> '), span(`PA ${hex(iova)}`, 'ok')]);
      return { kind: 'walk', data: { ...base, ok: true, bypass: true, pa: iova, steps: [] }, lines, focus: { addr: iova, len: 16 } };
    }
    if (m.iommu.kind === 'vtd') return vtdWalk(m, label, iova, write, base);
    const t = m.iommu.translate({ sid: m.sid, addr: iova, write }, { record: false, useTlb: false });
    lines.push([span(`walk of ${hex(iova)} for ${label}`, 'head'), span(` through ${m.iommu.name} (${m.iommu.kind}), StreamID ${hex(m.sid)}, ${write ? 'write' : 'read'}; IOTLB and config cache not used, nothing recorded`, 'dim')]);
    const steps: WalkStepView[] = [];
    for (const st of t.steps) {
      const v = viewStep(st);
      steps.push(v.view);
      lines.push(v.text);
    }
    if (t.ok) {
      const bypassed = t.steps.some((x) => /bypass/.test(x.note));
      lines.push([span('  -> '), span(`PA ${hex(t.pa)}`, 'ok'), span(bypassed ? ' (not translated: the address is used as-is)' : '')]);
      return { kind: 'walk', data: { ...base, iommu: m.iommu.name, sid: m.sid, ok: true, bypass: bypassed, pa: t.pa, steps }, lines, focus: { addr: t.pa, len: 16 } };
    }
    const f = t.fault;
    const et = f.code >= 0 ? eventType(f.code) : undefined;
    lines.push([span('  -> '), span(`FAULT ${f.name}${f.code >= 0 ? ` (${hex(f.code, 2)})` : ''}`, 'bad'), span(et ? `: ${et.meaning}` : '')]);
    lines.push([span(`     ${f.detail}`)]);
    lines.push([span(`     (a real access would ${f.code >= 0 ? 'write this event to the event queue if the CD/STE says to record faults' : 'be terminated without an event'}; this walk recorded nothing)`, 'dim')]);
    return {
      kind: 'walk',
      data: { ...base, iommu: m.iommu.name, sid: m.sid, ok: false, fault: { name: f.name, code: f.code, detail: f.detail, meaning: et?.meaning }, steps },
      lines,
    };
  }
}

// ---- VT-d ------------------------------------------------------------------------------------------

const TT_WORD: Record<number, string> = { 0: 'second-level translation', 1: 'translation, ATS allowed', 2: 'pass-through', 3: 'reserved' };
const VTD_PTE_LEVEL: Record<string, number> = Object.fromEntries(Object.entries(LEVEL_NAMES).map(([k, v]) => [v, Number(k)]));

/** One VT-d step as data and a line: root and context entries decoded, page-table entries with R/W/PS/address. */
function viewVtdStep(st: TranslationStep): { view: WalkStepView; text: Line } {
  const view: WalkStepView = { level: st.level, tableAddr: st.tableAddr, index: st.index, descAddr: st.descAddr, desc: st.desc, note: st.note };
  const at = st.descAddr !== undefined ? [span(' @'), span(hex(st.descAddr), 'addr')] : [];
  const words = Array.isArray(st.desc) ? st.desc : undefined;
  const single = !Array.isArray(st.desc) ? st.desc : undefined;
  const head = (name: string): Line => [span('  '), span(name.padEnd(8), 'key')];
  if (st.level === 'root' && words) {
    view.fields = { P: words[0]! & 1n, CTP: words[0]! & ~0xfffn };
    return { view, text: [...head('root'), span(`[bus ${hex(st.index ?? 0, 2)}]`), ...at, span(` = lo ${hex(words[0]!, 16)} hi ${hex(words[1]!, 16)}`, 'num'), span(view.fields.P ? `  P=1, context table at ${hex(view.fields.CTP!)}` : '  P=0: not present', view.fields.P ? 'dim' : 'bad')] };
  }
  if (st.level === 'context' && words) {
    const g = (n: string): u64 => get(CONTEXT_ENTRY_LAYOUT, words, n);
    view.fields = { P: g('P'), FPD: g('FPD'), TT: g('TT'), SLPTPTR: g('SLPTPTR'), AW: g('AW'), DID: g('DID') };
    const f = view.fields;
    const aw = Number(f.AW);
    const txt = f.P
      ? `  P=1 FPD=${f.FPD} TT=${f.TT} (${TT_WORD[Number(f.TT)]}) AW=${aw} (${agawToWidth(aw)}-bit, ${agawToLevels(aw)}-level) DID ${f.DID}${f.TT === 2n ? '' : `, SLPTPTR ${hex(f.SLPTPTR!)}`}`
      : '  P=0: not present';
    return { view, text: [...head('context'), span(`[devfn ${hex(st.index ?? 0, 2)}]`), ...at, span(` = lo ${hex(words[0]!, 16)} hi ${hex(words[1]!, 16)}`, 'num'), span(txt, f.P ? 'dim' : 'bad')] };
  }
  const level = VTD_PTE_LEVEL[st.level];
  if (level !== undefined && single !== undefined) {
    const d = decodePte(single, level);
    view.kind = d.kind;
    view.fields = Object.fromEntries(d.rows.map((r) => [r.name, r.value]));
    return { view, text: [...head(st.level), span(`table ${hex(st.tableAddr ?? 0n)} [${st.index}]`), ...at, span(' = '), span(hex(single, 16), 'num'), span(`  ${st.note}`, d.kind === 'not present' || /no (read|write) permission|reserved/.test(st.note) ? 'bad' : undefined)] };
  }
  // GSTS (translation off), the pass-through step, a failed read.
  return { view, text: [...head(st.level), ...at, span(single !== undefined ? ` = ${hex(single, 16)}` : ''), span(`${at.length || single !== undefined ? '  ' : ''}${st.note}`, 'dim')] };
}

/** `walk` through a VT-d unit: the same look-only translate, with VT-d words. */
function vtdWalk(m: DmaMaster, label: string, iova: u64, write: boolean, base: Record<string, unknown>) {
  const unit = m.iommu!;
  const sid = m.sid;
  const lines: Line[] = [];
  lines.push([span(`walk of ${hex(iova)} for ${label}`, 'head'), span(` through ${unit.name} (Intel VT-d), source-id ${hex(sid, 4)} (${sidText(sid)}), ${write ? 'write' : 'read'}; IOTLB and context cache not used, nothing recorded`, 'dim')]);
  if (write && iova >= X86_MSI_BASE && iova < X86_MSI_BASE + X86_MSI_SIZE) {
    lines.push([span(`  a write to ${hex(iova)} is not DMA: the x86 interrupt window 0xfee00000-0xfeefffff takes it as an interrupt request before DMA remapping (msi DEV shows where it would land)`, 'warn')]);
    return { kind: 'walk', data: { ...base, iommu: unit.name, sid, ok: false, interrupt: true, steps: [] }, lines };
  }
  const t = unit.translate({ sid, addr: iova, write }, { record: false, useTlb: false });
  const steps: WalkStepView[] = [];
  for (const st of t.steps) {
    const v = viewVtdStep(st);
    steps.push(v.view);
    // The pass-through step says what the context line and the result already say.
    if (!(st.level === 'PT' && st.desc === undefined && /pass-through/.test(st.note))) lines.push(v.text);
  }
  const ctx = steps.find((x) => x.level === 'context' && x.fields?.P === 1n);
  if (t.ok) {
    const passThrough = t.steps.some((x) => x.level === 'PT' && /pass-through/.test(x.note));
    const off = t.steps.some((x) => x.level === 'GSTS');
    lines.push([span('  -> '), span(`PA ${hex(t.pa)}`, 'ok'), span(passThrough ? ' (context TT=2 pass-through: the address is used as-is)' : off ? ' (DMA remapping is off, GSTS.TES=0: the address is used as-is)' : '')]);
    return { kind: 'walk', data: { ...base, iommu: unit.name, sid, ok: true, bypass: passThrough || off, passThrough, pa: t.pa, steps }, lines, focus: { addr: t.pa, len: 16 } };
  }
  const f = t.fault;
  const fr = faultReason(f.code);
  const linux = linuxFaultReason(f.code).text;
  const reason = linux === 'Unknown' && fr ? `${linux} (Linux has no string for it; ${fr.meaning})` : linux;
  lines.push([span('  -> '), span(`FAULT ${f.name} (${hex(f.code, 2)})`, 'bad'), span(`: ${reason}`)]);
  lines.push([span(`     ${f.detail}`)]);
  const fpd = ctx?.fields?.FPD;
  const rec =
    fr?.qualified === false
      ? `a real access would record this in ${unit.name}'s fault recording registers (reason ${hex(f.code, 2)} is not qualified: recorded even with FPD=1)`
      : `a real access would record this in ${unit.name}'s fault recording registers unless FPD=1${fpd !== undefined ? ` (this context entry has FPD=${fpd})` : ''}`;
  lines.push([span(`     (${rec}; this walk recorded nothing)`, 'dim')]);
  return {
    kind: 'walk',
    data: { ...base, iommu: unit.name, sid, ok: false, fault: { name: f.name, code: f.code, detail: f.detail, meaning: reason, qualified: fr?.qualified ?? true, fpd: fpd ?? null }, steps },
    lines,
  };
}
