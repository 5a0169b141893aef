/**
 * VMSAv8-64 translation tables, 4 KiB granule, as an SMMU walks them: the
 * descriptor formats and the table walk itself (stage 1 and stage 2).
 *
 * Input address, 48 bits, 4 levels (REFERENCE.md 2.1):
 *
 *   47      39 38      30 29      21 20      12 11         0
 *   [ L0 idx ][ L1 idx  ][ L2 idx  ][ L3 idx  ][  offset   ]
 *
 * Fewer input bits start lower: levels = ceil((ias - 12) / 9), start level
 * 4 - levels (linux io-pgtable-arm.c ARM_LPAE_START_LVL). Stage 2 takes the
 * start level from STE.S2SL0 and may concatenate up to 16 tables there.
 *
 * Descriptor bits [1:0]: x0 invalid; 01 block (L1/L2 only with 4K); 11 table
 * (L0-L2) or page (L3); 01 at L3 is reserved and treated as invalid
 * (REFERENCE.md 2.2). Attribute bits: REFERENCE.md 2.3 (stage 1), 2.4
 * (stage 2). Fault priority at a leaf: address size, then access flag, then
 * permission (the Arm ARM's ordering; the Arm ARM itself was not consulted,
 * this follows QEMU hw/arm/smmu-common.c).
 */
import type { Layout } from '../fields.ts';
import { type u64, hex } from '../u64.ts';
import { BusError } from '../errors.ts';
import type { TranslationStep } from '../trace.ts';
import { CLASS_IN, CLASS_TT } from './event.ts';

export const TABLE_DESC_LAYOUT: Layout = {
  name: 'table descriptor',
  words: 1,
  source: 'REFERENCE.md 2.2; linux io-pgtable-arm.c ARM_LPAE_PTE_*',
  fields: [
    { name: 'Valid', word: 0, hi: 0, lo: 0, kind: 'flag', desc: '1 = valid' },
    { name: 'Table', word: 0, hi: 1, lo: 1, kind: 'flag', desc: '1 = table (L0-L2) / page (L3); 0 = block' },
    { name: 'NextLevelTable', word: 0, hi: 47, lo: 12, kind: 'addr', desc: 'PA of the next-level table' },
    { name: 'PXNTable', word: 0, hi: 59, lo: 59, kind: 'flag', desc: 'no privileged execution below' },
    { name: 'XNTable', word: 0, hi: 60, lo: 60, kind: 'flag', desc: 'no unprivileged execution below (UXNTable)' },
    { name: 'APTable', word: 0, hi: 62, lo: 61, desc: 'access limits below: bit0 no unprivileged access, bit1 no writes' },
    { name: 'NSTable', word: 0, hi: 63, lo: 63, kind: 'flag', desc: 'next-level table is non-secure' },
  ],
};

export const S1_LEAF_LAYOUT: Layout = {
  name: 'stage 1 block/page descriptor',
  words: 1,
  source: 'REFERENCE.md 2.3; linux io-pgtable-arm.c ARM_LPAE_PTE_*',
  fields: [
    { name: 'Valid', word: 0, hi: 0, lo: 0, kind: 'flag', desc: '1 = valid' },
    { name: 'Page', word: 0, hi: 1, lo: 1, kind: 'flag', desc: '1 = page (L3), 0 = block (L1/L2)' },
    { name: 'AttrIndx', word: 0, hi: 4, lo: 2, desc: 'MAIR index', values: { '0': 'Linux: normal NC', '1': 'Linux: normal WB cacheable', '2': 'Linux: device nGnRE', '3': 'Linux: inner NC, outer WB' } },
    { name: 'NS', word: 0, hi: 5, lo: 5, kind: 'flag', desc: 'non-secure output' },
    { name: 'AP[1]', word: 0, hi: 6, lo: 6, kind: 'flag', desc: '1 = unprivileged (EL0) access allowed' },
    { name: 'AP[2]', word: 0, hi: 7, lo: 7, kind: 'flag', desc: '1 = read-only' },
    { name: 'SH', word: 0, hi: 9, lo: 8, desc: 'shareability', values: { '0': 'non-shareable', '2': 'outer', '3': 'inner' } },
    { name: 'AF', word: 0, hi: 10, lo: 10, kind: 'flag', desc: 'access flag; 0 = access flag fault' },
    { name: 'nG', word: 0, hi: 11, lo: 11, kind: 'flag', desc: 'not global: TLB entry tagged with the ASID' },
    { name: 'OA', word: 0, hi: 47, lo: 12, kind: 'addr', desc: 'output address ([47:21] for 2M, [47:30] for 1G blocks)' },
    { name: 'DBM', word: 0, hi: 51, lo: 51, kind: 'flag', desc: 'dirty bit modifier' },
    { name: 'Contiguous', word: 0, hi: 52, lo: 52, kind: 'flag', desc: 'contiguous hint' },
    { name: 'PXN', word: 0, hi: 53, lo: 53, kind: 'flag', desc: 'privileged execute-never' },
    { name: 'UXN', word: 0, hi: 54, lo: 54, kind: 'flag', desc: 'unprivileged execute-never (XN)' },
    { name: 'SW', word: 0, hi: 58, lo: 55, desc: 'ignored by hardware' },
  ],
};

export const S2_LEAF_LAYOUT: Layout = {
  name: 'stage 2 block/page descriptor',
  words: 1,
  source: 'REFERENCE.md 2.4; linux io-pgtable-arm.c ARM_LPAE_PTE_HAP_*/MEMATTR_*',
  fields: [
    { name: 'Valid', word: 0, hi: 0, lo: 0, kind: 'flag', desc: '1 = valid' },
    { name: 'Page', word: 0, hi: 1, lo: 1, kind: 'flag', desc: '1 = page (L3), 0 = block' },
    { name: 'MemAttr', word: 0, hi: 5, lo: 2, desc: 'memory type', values: { '1': 'device nGnRE', '5': 'normal NC', '15': 'normal WB' } },
    { name: 'S2AP', word: 0, hi: 7, lo: 6, desc: 'access', values: { '0': 'none', '1': 'read', '2': 'write', '3': 'read/write' } },
    { name: 'SH', word: 0, hi: 9, lo: 8, desc: 'shareability', values: { '0': 'non-shareable', '2': 'outer', '3': 'inner' } },
    { name: 'AF', word: 0, hi: 10, lo: 10, kind: 'flag', desc: 'access flag' },
    { name: 'OA', word: 0, hi: 47, lo: 12, kind: 'addr', desc: 'output address' },
    { name: 'Contiguous', word: 0, hi: 52, lo: 52, kind: 'flag', desc: 'contiguous hint' },
    { name: 'XN', word: 0, hi: 54, lo: 53, desc: 'execute-never (bit 54 = no execution)' },
  ],
};

/** Output-size encoding shared by IDR5.OAS, CD.IPS and STE.S2PS. */
export const OAS_BITS = [32, 36, 40, 42, 44, 48, 52] as const;
export const oasBits = (enc: number): number => OAS_BITS[Math.min(enc, 6)]!;

export const LEVEL_SHIFT = [39, 30, 21, 12] as const;
/** Start level for an input size with the 4K granule (ARM_LPAE_START_LVL). */
export const startLevelFor = (ias: number): number => 4 - Math.ceil((ias - 12) / 9);

// Permission bits a walk grants (the IOTLB caches these).
export const PERM_PR = 1; // privileged read
export const PERM_PW = 2;
export const PERM_UR = 4;
export const PERM_UW = 8;
export const PERM_PX = 16;
export const PERM_UX = 32;

/** The permission an access needs. */
export function permNeeded(write: boolean, privileged: boolean, exec: boolean): number {
  if (exec) return privileged ? PERM_PX : PERM_UX;
  if (privileged) return write ? PERM_PW : PERM_PR;
  return write ? PERM_UW : PERM_UR;
}

export function permText(p: number): string {
  const f = (b: number, c: string): string => (p & b ? c : '-');
  return `priv ${f(PERM_PR, 'r')}${f(PERM_PW, 'w')}${f(PERM_PX, 'x')} unpriv ${f(PERM_UR, 'r')}${f(PERM_UW, 'w')}${f(PERM_UX, 'x')}`;
}

export interface WalkParams {
  stage: 1 | 2;
  /** Level-0 (start level) table base. */
  ttb: u64;
  /** Input address bits (64 - T0SZ). */
  ias: number;
  startLevel: number;
  /** Effective output address bits (min of CD.IPS / STE.S2PS and IDR5.OAS). */
  oas: number;
}

export type WalkFault = 'translation' | 'addr-size' | 'access' | 'permission' | 'eabt';

export type WalkResult =
  | { ok: true; level: number; /** output address of the block/page base */ oa: u64; blockShift: number; perm: number; desc: u64 }
  | { ok: false; fault: WalkFault; level: number; cls: number; descAddr?: u64; detail: string };

export interface WordReader {
  read64(addr: u64): u64;
}

const ADDR_MASK = 0x0000_ffff_ffff_f000n; // [47:12]
const lvlName = (stage: 1 | 2, l: number): string => (stage === 1 ? `L${l}` : `S2 L${l}`);

/**
 * Walk the tables in memory for one address: every descriptor is read from
 * memory (this is an IOTLB miss). Pushes one step per level read.
 */
export function walkVmsa(mem: WordReader, p: WalkParams, addr: u64, access: { write: boolean; privileged: boolean; exec: boolean }, steps: TranslationStep[]): WalkResult {
  const L = (l: number): string => lvlName(p.stage, l);
  if (p.ias === 0) {
    return { ok: false, fault: 'translation', level: p.startLevel, cls: CLASS_IN, detail: 'TTB0 walks are disabled (CD.EPD0 = 1)' };
  }
  if (addr >> BigInt(p.ias) !== 0n) {
    return { ok: false, fault: 'translation', level: p.startLevel, cls: CLASS_IN, detail: `input address ${hex(addr)} is above the ${p.ias}-bit input range (T0SZ = ${64 - p.ias})` };
  }
  const oaLimit = p.oas >= 64 ? 0n : 1n << BigInt(p.oas);
  let table = p.ttb;
  // Table-level restrictions accumulated on the way down (APTable, XNTable, PXNTable).
  let noWrite = false;
  let noUnpriv = false;
  let noUx = false;
  let noPx = false;
  for (let level = p.startLevel; level <= 3; level++) {
    const shift = LEVEL_SHIFT[level]!;
    const bitsHere = level === p.startLevel ? p.ias - shift : 9;
    const index = Number((addr >> BigInt(shift)) & ((1n << BigInt(bitsHere)) - 1n));
    const descAddr = table + BigInt(index * 8);
    let desc: u64;
    try {
      desc = mem.read64(descAddr);
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
      steps.push({ level: L(level), tableAddr: table, index, descAddr, note: `read of ${hex(descAddr)} failed: ${e.message}` });
      return { ok: false, fault: 'eabt', level, cls: CLASS_TT, descAddr, detail: `the level ${level} descriptor at ${hex(descAddr)} could not be read (external abort)` };
    }
    const type = Number(desc & 3n);
    const step: TranslationStep = { level: L(level), tableAddr: table, index, descAddr, desc, note: '' };
    steps.push(step);
    if ((type & 1) === 0 || (type === 1 && (level === 3 || level === 0))) {
      step.note = type === 1 ? `bits[1:0]=01 is reserved at level ${level}: invalid` : `invalid (bits[1:0]=${type.toString(2).padStart(2, '0')})`;
      return { ok: false, fault: 'translation', level, cls: CLASS_IN, descAddr, detail: `the level ${level} descriptor at ${hex(descAddr)} is invalid (${hex(desc, 16)})` };
    }
    if (type === 3 && level < 3) {
      const next = desc & ADDR_MASK;
      if (oaLimit && next >= oaLimit) {
        step.note = `table -> ${hex(next)}: beyond the ${p.oas}-bit output size`;
        return { ok: false, fault: 'addr-size', level, cls: CLASS_TT, descAddr, detail: `the next-level table address ${hex(next)} is beyond the ${p.oas}-bit output size` };
      }
      if (p.stage === 1) {
        if (desc & (1n << 62n)) noWrite = true;
        if (desc & (1n << 61n)) noUnpriv = true;
        if (desc & (1n << 60n)) noUx = true;
        if (desc & (1n << 59n)) noPx = true;
      }
      step.note = `table -> ${hex(next)}`;
      table = next;
      continue;
    }
    // Block (L1/L2) or page (L3).
    const blockShift = shift;
    const oa = desc & ADDR_MASK & ~((1n << BigInt(blockShift)) - 1n);
    const kind = level === 3 ? 'page' : `${blockShift === 30 ? '1G' : '2M'} block`;
    if (oaLimit && oa >= oaLimit) {
      step.note = `${kind} -> ${hex(oa)}: beyond the ${p.oas}-bit output size`;
      return { ok: false, fault: 'addr-size', level, cls: CLASS_IN, descAddr, detail: `the output address ${hex(oa)} is beyond the ${p.oas}-bit output size` };
    }
    if ((desc & (1n << 10n)) === 0n) {
      step.note = `${kind} -> ${hex(oa)}, AF=0: access flag fault`;
      return { ok: false, fault: 'access', level, cls: CLASS_IN, descAddr, detail: `the ${kind} descriptor at ${hex(descAddr)} has AF=0 (access flag fault; no hardware AF update)` };
    }
    let perm: number;
    if (p.stage === 1) {
      const ap = Number((desc >> 6n) & 3n);
      perm = PERM_PR | PERM_PX | PERM_UX;
      if ((ap & 2) === 0) perm |= PERM_PW;
      if (ap & 1) perm |= PERM_UR | ((ap & 2) === 0 ? PERM_UW : 0);
      if (desc & (1n << 53n)) perm &= ~PERM_PX;
      if (desc & (1n << 54n)) perm &= ~PERM_UX;
      // A region writable at EL0 is never executable at EL1 (AArch64 EL1&0 rule).
      if (perm & PERM_UW) perm &= ~PERM_PX;
      if ((perm & PERM_UR) === 0) perm &= ~PERM_UX;
      if (noWrite) perm &= ~(PERM_PW | PERM_UW);
      if (noUnpriv) perm &= ~(PERM_UR | PERM_UW | PERM_UX);
      if (noUx) perm &= ~PERM_UX;
      if (noPx) perm &= ~PERM_PX;
      step.note = `${kind} -> ${hex(oa)} (AP[2:1]=${ap.toString(2).padStart(2, '0')}, ${permText(perm)})`;
    } else {
      const s2ap = Number((desc >> 6n) & 3n);
      perm = 0;
      if (s2ap & 1) perm |= PERM_PR | PERM_UR | PERM_PX | PERM_UX;
      if (s2ap & 2) perm |= PERM_PW | PERM_UW;
      if (desc & (1n << 54n)) perm &= ~(PERM_PX | PERM_UX);
      step.note = `${kind} -> ${hex(oa)} (S2AP=${s2ap.toString(2).padStart(2, '0')}, ${permText(perm)})`;
    }
    const need = permNeeded(access.write, access.privileged, access.exec);
    if ((perm & need) !== need) {
      step.note += ': permission fault';
      return {
        ok: false, fault: 'permission', level, cls: CLASS_IN, descAddr,
        detail: `${access.privileged ? 'privileged' : 'unprivileged'} ${access.exec ? 'instruction fetch' : access.write ? 'write' : 'read'} not allowed by the ${kind} descriptor (${permText(perm)})`,
      };
    }
    return { ok: true, level, oa, blockShift, perm, desc };
  }
  // Unreachable: level 3 always ends the walk.
  return { ok: false, fault: 'translation', level: 3, cls: CLASS_IN, detail: 'walk did not terminate' };
}
