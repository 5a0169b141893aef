/**
 * SMMUv3 structures as plain data: STE, CD, event records, commands,
 * translation-table descriptors and ID registers decoded into field rows
 * (driven by the Layout tables in machine/smmuv3), plus a plain-language
 * reading of an event record. Renderers turn the rows into text or JSON.
 */
import { type u64, hex } from '../machine/u64.ts';
import { decode, get, type Layout } from '../machine/fields.ts';
import { STE_LAYOUT, L1STD_LAYOUT } from '../machine/smmuv3/ste.ts';
import { CD_LAYOUT } from '../machine/smmuv3/cd.ts';
import { cmdLayout, CMD_NAMES } from '../machine/smmuv3/cmd.ts';
import * as E from '../machine/smmuv3/event.ts';
import { TABLE_DESC_LAYOUT, S1_LEAF_LAYOUT, S2_LEAF_LAYOUT } from '../machine/smmuv3/vmsa.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import type { SmmuV3 } from '../machine/smmuv3/smmuv3.ts';
import { locateSte } from '../machine/smmuv3/config.ts';
import { SMMU_STRTAB_BASE, SMMU_STRTAB_BASE_CFG } from '../machine/smmuv3/regs.ts';
import { STE_DWORDS } from '../machine/smmuv3/ste.ts';
import { qIdx, qCount } from '../machine/smmuv3/queue.ts';
import type { TranslationStep } from '../machine/trace.ts';
import { IDR0_LAYOUT, IDR1_LAYOUT, IDR5_LAYOUT, CR0_LAYOUT, GBPA_LAYOUT, GERROR_LAYOUT, STRTAB_BASE_LAYOUT, STRTAB_BASE_CFG_LAYOUT, Q_BASE_LAYOUT } from '../machine/smmuv3/regs.ts';

export interface FieldRow {
  name: string;
  /** Where: "dw0[3:1]", "dw1[35]". */
  bits: string;
  value: u64;
  /** Value as shown (hex, flag, named encoding). */
  text: string;
  meaning: string;
}

const bitsText = (word: number, hi: number, lo: number, words: number): string => `${words > 1 ? `dw${word}` : ''}[${hi === lo ? hi : `${hi}:${lo}`}]`;

/** Decode any record with a Layout into rows. */
export function decodeRows(layout: Layout, words: readonly u64[]): FieldRow[] {
  return decode(layout, words).map((f) => ({ name: f.name, bits: bitsText(f.word, f.hi, f.lo, layout.words), value: f.value, text: f.text, meaning: f.desc }));
}

export const decodeSte = (words: readonly u64[]): FieldRow[] => decodeRows(STE_LAYOUT, words);
export const decodeCd = (words: readonly u64[]): FieldRow[] => decodeRows(CD_LAYOUT, words);
export const decodeL1Std = (desc: u64): FieldRow[] => decodeRows(L1STD_LAYOUT, [desc]);

/** Event rows; IPA and FetchAddr share dword 3, so only the one that applies to the type is shown. */
export function decodeEvent(words: readonly u64[]): FieldRow[] {
  const type = Number(get(E.EVENT_LAYOUT, words, 'Type'));
  const fetch = type === E.F_STE_FETCH || type === E.F_CD_FETCH || type === E.F_VMS_FETCH || type === E.F_WALK_EABT;
  return decodeRows(E.EVENT_LAYOUT, words).filter((r) => (fetch ? r.name !== 'IPA' : r.name !== 'FetchAddr'));
}

export function decodeCommand(words: readonly u64[]): FieldRow[] {
  return decodeRows(cmdLayout(Number(words[0]! & 0xffn)), words);
}
export const commandName = (words: readonly u64[]): string => CMD_NAMES[Number(words[0]! & 0xffn)] ?? `unknown opcode ${hex(words[0]! & 0xffn)}`;

/** A translation table descriptor at a level: invalid, table, or block/page rows. */
export function decodeDescriptor(desc: u64, level: number, stage: 1 | 2 = 1): { kind: 'invalid' | 'table' | 'block' | 'page' | 'reserved'; rows: FieldRow[] } {
  const t = Number(desc & 3n);
  if ((t & 1) === 0) return { kind: 'invalid', rows: [] };
  if (t === 3 && level < 3) return { kind: 'table', rows: decodeRows(TABLE_DESC_LAYOUT, [desc]) };
  if (t === 1 && (level === 3 || level === 0)) return { kind: 'reserved', rows: [] };
  return { kind: level === 3 ? 'page' : 'block', rows: decodeRows(stage === 1 ? S1_LEAF_LAYOUT : S2_LEAF_LAYOUT, [desc]) };
}

export const REGISTER_LAYOUTS: Record<string, Layout> = {
  IDR0: IDR0_LAYOUT, IDR1: IDR1_LAYOUT, IDR5: IDR5_LAYOUT, CR0: CR0_LAYOUT, CR0ACK: CR0_LAYOUT, GBPA: GBPA_LAYOUT,
  GERROR: GERROR_LAYOUT, GERRORN: GERROR_LAYOUT, STRTAB_BASE: STRTAB_BASE_LAYOUT, STRTAB_BASE_CFG: STRTAB_BASE_CFG_LAYOUT,
  CMDQ_BASE: Q_BASE_LAYOUT, EVENTQ_BASE: Q_BASE_LAYOUT,
};
export function decodeRegister(name: string, value: u64): FieldRow[] | undefined {
  const l = REGISTER_LAYOUTS[name];
  return l && decodeRows(l, [value]);
}

/** The event code table (REFERENCE.md 1.5): there is no F_BAD_STE. */
export const EVENT_NAMES: readonly E.EventType[] = E.EVENT_TYPES;

/** An event record's fields by name (what Linux's arm_smmu_decode_event extracts, plus raw SubstreamID). */
export interface EventSummary {
  type: number;
  name: string;
  sid: number;
  ssv: boolean;
  /** The raw SubstreamID field (meaningless when SSV = 0: the Arm FVP leaves 0xfffff there). */
  ssidField: number;
  stag: number;
  stall: boolean;
  privileged: boolean;
  instruction: boolean;
  read: boolean;
  s2: boolean;
  class: number;
  className: string;
  ttRead: boolean;
  inputAddr: u64;
  ipa: u64;
  fetchAddr: u64;
}

export function summarizeEvent(words: readonly u64[]): EventSummary {
  const g = (n: string): u64 => get(E.EVENT_LAYOUT, words, n);
  const type = Number(g('Type'));
  const cls = Number(g('CLASS'));
  return {
    type, name: E.eventName(type), sid: Number(g('StreamID')), ssv: g('SSV') === 1n, ssidField: Number(g('SubstreamID')),
    stag: Number(g('STAG')), stall: g('Stall') === 1n, privileged: g('PnU') === 1n, instruction: g('InD') === 1n,
    read: g('RnW') === 1n, s2: g('S2') === 1n, class: cls, className: E.EVENT_CLASS_STR[cls]!, ttRead: g('TTRnW') === 1n,
    inputAddr: g('InputAddr'), ipa: g('IPA'), fetchAddr: g('FetchAddr'),
  };
}

/**
 * One or two sentences saying what an event record means, e.g. "StreamID
 * 0x0 read IOVA 0x8fa081002 and stage 1 had no valid descriptor for it".
 */
export function explainEvent(words: readonly u64[]): string {
  const e = summarizeEvent(words);
  const who = `StreamID ${hex(e.sid)}${e.ssv ? ` (SubstreamID ${hex(e.ssidField)})` : ''}`;
  const access = `${e.privileged ? 'privileged' : 'unprivileged'} ${e.instruction ? 'instruction fetch' : e.read ? 'data read' : 'data write'}`;
  const verb = e.instruction ? 'fetched an instruction from' : e.read ? 'read' : 'wrote';
  const stage = e.s2 ? 'stage 2' : 'stage 1';
  const what = `the device (${who}) ${verb} IOVA ${hex(e.inputAddr)}`;
  const end = e.stall ? `; the transaction is stalled (STAG ${hex(e.stag)}) until software resumes or terminates it` : '; the transaction was terminated (not stalled)';
  const ssidNote = !e.ssv && e.ssidField !== 0 ? ` The SubstreamID field holds ${hex(e.ssidField)} but SSV = 0, so it means nothing.` : '';
  let s: string;
  switch (e.type) {
    case E.F_TRANSLATION:
      s = `${what} and ${stage} had no valid descriptor for it (F_TRANSLATION, ${access})${end}.`;
      break;
    case E.F_ACCESS:
      s = `${what} and the ${stage} descriptor mapping it has AF = 0 (F_ACCESS, access flag fault; the SMMU does not set AF itself)${end}.`;
      break;
    case E.F_PERMISSION:
      s = `${what}, but the ${stage} descriptor does not allow an ${access} there (F_PERMISSION)${e.class === E.CLASS_TT ? ' — raised on a table access' : ''}${end}.`;
      break;
    case E.F_ADDR_SIZE:
      s = `${what} and the ${stage} walk produced an address beyond the configured output size (F_ADDR_SIZE${e.class === E.CLASS_TT ? ', a table address' : ', the output address'})${end}.`;
      break;
    case E.C_BAD_STREAMID:
      s = `${who} is outside the stream table (C_BAD_STREAMID): the SMMU has no STE for it and terminated the transaction.`;
      break;
    case E.C_BAD_STE:
      s = `The stream table entry for ${who} is invalid or illegally configured (C_BAD_STE): the transaction was terminated before any translation.`;
      break;
    case E.C_BAD_CD:
      s = `The context descriptor for ${who} is invalid or illegally configured (C_BAD_CD): stage 1 could not start.`;
      break;
    case E.C_BAD_SUBSTREAMID:
      s = `${who} sent a SubstreamID its STE does not allow (C_BAD_SUBSTREAMID).`;
      break;
    case E.F_STREAM_DISABLED:
      s = `${who} sent traffic without a SubstreamID and its STE says to terminate such traffic (F_STREAM_DISABLED).`;
      break;
    case E.F_STE_FETCH:
    case E.F_CD_FETCH:
    case E.F_VMS_FETCH:
      s = `For ${who} the SMMU could not fetch its ${e.type === E.F_STE_FETCH ? 'STE' : e.type === E.F_CD_FETCH ? 'CD' : 'VMS'} at ${hex(e.fetchAddr)} (${E.eventName(e.type)}).`;
      break;
    case E.F_WALK_EABT:
      s = `${what} and a translation table read failed (F_WALK_EABT, external abort)${end}.`;
      break;
    default: {
      const t = E.eventType(e.type);
      s = t ? `${who}: ${t.name} — ${t.meaning}.` : `${who}: event type ${hex(e.type)} is reserved/unknown.`;
    }
  }
  // QEMU 7.2 (hw/arm/smmuv3.c smmuv3_translate) fills only the address and RnW of these faults: CLASS stays 0.
  const qemuClass = e.class === E.CLASS_CD && !e.s2 && (e.type === E.F_TRANSLATION || e.type === E.F_ADDR_SIZE || e.type === E.F_ACCESS || e.type === E.F_PERMISSION)
    ? ' CLASS reads 0 (CD fetch), as QEMU 7.2 writes every such fault (it fills only the address and RnW); on hardware CLASS = CD would mean the fault came from fetching the CD through stage 2.'
    : '';
  return s.charAt(0).toUpperCase() + s.slice(1) + ssidNote + qemuClass;
}

// ---- views that read an SMMU's structures from memory -----------------------------------


/** The STE of a StreamID as it is in memory now (not the SMMU's cached copy). */
export function steInMemory(mem: PhysicalMemory, smmu: SmmuV3, sid: number): { addr?: u64; words?: u64[]; rows?: FieldRow[]; error?: string; steps: TranslationStep[] } {
  const steps: TranslationStep[] = [];
  const regs = { strtabBase: smmu.reg64(SMMU_STRTAB_BASE), strtabBaseCfg: smmu.reg32(SMMU_STRTAB_BASE_CFG) };
  const loc = locateSte(mem, regs, { sidBits: smmu.sidBits, oasBits: smmu.oasBits, stage2: true, twoLevelStrtab: true }, sid, steps);
  if ('type' in loc) return { error: `${E.eventName(loc.type)}: ${loc.detail}`, steps };
  const words = mem.readWords(loc.steAddr, STE_DWORDS);
  return { addr: loc.steAddr, words, rows: decodeSte(words), steps };
}

export interface QueuedEvent {
  /** Queue index the record sits at. */
  index: number;
  addr: u64;
  words: u64[];
  summary: EventSummary;
  text: string;
}

/** Records between EVENTQ_CONS and EVENTQ_PROD: written by the SMMU, not yet consumed by software. */
export function pendingEvents(mem: PhysicalMemory, smmu: SmmuV3): QueuedEvent[] {
  const q = smmu.eventQueue();
  const out: QueuedEvent[] = [];
  const n = qCount(q.prod, q.cons, q.shift);
  for (let i = 0; i < n; i++) {
    const index = qIdx(q.cons + i, q.shift);
    const addr = q.base + BigInt(E.EVT_SIZE * index);
    const words = mem.readWords(addr, E.EVT_DWORDS);
    out.push({ index, addr, words, summary: summarizeEvent(words), text: explainEvent(words) });
  }
  return out;
}
