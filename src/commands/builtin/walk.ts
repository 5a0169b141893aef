/**
 * `walk DEV IOVA`: the whole translation of one bus address of a device,
 * as its IOMMU would do it, read from memory now. The walk bypasses the
 * IOTLB and the configuration cache and records nothing (translate with
 * record:false, useTlb:false): it is a look, not an access, so the event
 * queue and the IOTLB are the same afterwards.
 *
 *   SMMUv3:  [L1STD] -> STE (Config) -> CD (TTB0, ASID) -> L0 -> L1 -> L2 -> L3 -> PA
 *            each table level: table address, index, descriptor address and value, decoded
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
    'IOMMU uses the address as it is: the walk says so.',
  ].join('\n'),
  examples: ['walk vda 0xffffd002', 'walk vda 0xffffc000 access=write', 'walk 00:00.0 0x8800d002'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot kernel=4.10-rc'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'iova', kind: 'u64', desc: 'the bus address the device would issue (IOVA)' },
  ],
  opts: [{ name: 'access', kind: 'enum', choices: ['read', 'write'], desc: 'the access to check permissions for (default read)' }],
  mutates: false,
  run(s, a) {
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
        lines.push([span(`  (the kernel believes otherwise: firmware put ${kdev.name} behind ${kdev.iommuName}, group ${kdev.group ?? '-'}, with iommu-dma ops: its DMA API hands out IOVAs this device would use as physical addresses)`, 'warn')]);
      } else if (kdev?.iommuName) {
        lines.push([span(`  (the kernel agrees in effect: ${kdev.name} is behind ${kdev.iommuName} per firmware, but uses dma-direct ops, so its DMA addresses are physical addresses too)`, 'dim')]);
      }
      lines.push([span('  -> '), span(`PA ${hex(iova)}`, 'ok')]);
      return { kind: 'walk', data: { ...base, ok: true, bypass: true, pa: iova, steps: [] }, lines, focus: { addr: iova, len: 16 } };
    }
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
  },
};
