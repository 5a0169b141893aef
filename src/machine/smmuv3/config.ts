/**
 * Fetching and checking an SMMUv3 configuration: locate the STE for a
 * StreamID (linear or 2-level stream table), read it, and for stage 1 read
 * and check its context descriptor. The result is the decoded configuration
 * the SMMU caches per StreamID, or the configuration error (C_BAD_STREAMID,
 * C_BAD_STE, C_BAD_CD, F_STE_FETCH, F_CD_FETCH) to report.
 *
 * What is ILLEGAL here follows QEMU hw/arm/smmuv3.c (decode_ste,
 * decode_cd) and this model's ID registers (smmuv3.ts): AArch64 tables,
 * little-endian, 4K granule, no stalls, TERM_MODEL = 1, SSIDSIZE = 0.
 */
import { type u64, hex } from '../u64.ts';
import { BusError } from '../errors.ts';
import type { TranslationStep } from '../trace.ts';
import { get } from '../fields.ts';
import { STE_LAYOUT, STE_DWORDS, STE_SIZE, L1STD_LAYOUT, STE_CFG_ABORT, STE_CFG_BYPASS, STE_CFG_S2_TRANS, STE_CFG_NESTED } from './ste.ts';
import { CD_LAYOUT, CD_DWORDS } from './cd.ts';
import * as E from './event.ts';
import { oasBits, startLevelFor, LEVEL_SHIFT, type WalkParams } from './vmsa.ts';

/** A decoded configuration for one StreamID (STE, plus CD for stage 1), as the config cache keeps it. */
export interface SmmuConfig {
  kind: 'abort' | 'bypass' | 's1' | 's2';
  steAddr: u64;
  ste: u64[];
  cdAddr?: u64;
  cd?: u64[];
  /** IOTLB tag: ASID for stage 1, 0x10000 + VMID for stage 2, -1 otherwise. */
  tag: number;
  walk?: WalkParams;
  /** Input addresses must be below this (2^ias). */
  iaLimit: u64;
  /** CD.R / STE.S2R: record translation faults. */
  record: boolean;
}

export interface ConfigError {
  type: number;
  detail: string;
  fetchAddr?: u64;
}

export interface StreamTableRegs {
  strtabBase: u64;
  strtabBaseCfg: number;
}

/** What the SMMU instance supports (its ID registers). */
export interface SmmuCaps {
  sidBits: number;
  oasBits: number;
  stage2: boolean;
  twoLevelStrtab: boolean;
  /**
   * QEMU 7.2 decode_cd: CD.HA or CD.HD set is C_BAD_CD ("HTTU = 0"), where
   * the architecture makes them RES0 (ignored) without IDR0.HTTU.
   */
  httuBitsIllegal?: boolean;
}

export interface WordReader {
  read64(addr: u64): u64;
  readWords(addr: u64, n: number): u64[];
}

const err = (type: number, detail: string, fetchAddr?: u64): ConfigError => (fetchAddr === undefined ? { type, detail } : { type, detail, fetchAddr });

/** Where the STE for a StreamID lives, per the stream table registers (reads the L1 descriptor for 2-level). */
export function locateSte(mem: WordReader, regs: StreamTableRegs, caps: SmmuCaps, sid: number, steps: TranslationStep[]): { steAddr: u64; tableAddr: u64; index: number } | ConfigError {
  const cfg = regs.strtabBaseCfg;
  const base = regs.strtabBase & 0x000f_ffff_ffff_ffc0n;
  const log2size = Math.min(cfg & 0x3f, caps.sidBits);
  const fmt = (cfg >> 16) & 3;
  if (sid < 0 || sid >= 2 ** log2size) {
    return err(E.C_BAD_STREAMID, `StreamID ${sid} is outside the stream table (STRTAB_BASE_CFG.LOG2SIZE = ${cfg & 0x3f}: ${2 ** log2size} entries)`);
  }
  if (fmt === 0) return { steAddr: base + BigInt(STE_SIZE * sid), tableAddr: base, index: sid };
  if (fmt !== 1 || !caps.twoLevelStrtab) {
    // Reserved format (or 2-level when IDR0.ST_LVL says unsupported): the model treats
    // the stream table as unusable and reports the StreamID as bad (a choice).
    return err(E.C_BAD_STREAMID, `STRTAB_BASE_CFG.FMT = ${fmt} is not a supported stream table format`);
  }
  const split = (cfg >> 6) & 0x1f;
  const l1Index = Math.floor(sid / 2 ** split);
  const l1Addr = base + BigInt(8 * l1Index);
  let l1: u64;
  try {
    l1 = mem.read64(l1Addr);
  } catch (e) {
    if (!(e instanceof BusError)) throw e;
    return err(E.F_STE_FETCH, `reading the level-1 stream table descriptor at ${hex(l1Addr)} failed`, l1Addr);
  }
  const span = Number(get(L1STD_LAYOUT, [l1], 'Span'));
  const l2 = get(L1STD_LAYOUT, [l1], 'L2Ptr');
  const step: TranslationStep = { level: 'L1STD', tableAddr: base, index: l1Index, descAddr: l1Addr, desc: l1, note: '' };
  steps.push(step);
  if (span === 0) {
    step.note = 'Span = 0: no level-2 table';
    return err(E.C_BAD_STREAMID, `the level-1 descriptor for StreamID ${sid} has Span = 0 (no level-2 table)`);
  }
  const l2Index = sid % 2 ** split;
  if (l2Index >= 2 ** (span - 1)) {
    step.note = `level-2 table has ${2 ** (span - 1)} STEs; index ${l2Index} is beyond it`;
    return err(E.C_BAD_STE, `StreamID ${sid} is beyond the level-2 table's span`);
  }
  step.note = `level-2 table at ${hex(l2)} (${2 ** (span - 1)} STEs)`;
  return { steAddr: l2 + BigInt(STE_SIZE * l2Index), tableAddr: l2, index: l2Index };
}

/** Fetch and check the configuration for a StreamID from memory (a config cache miss). */
export function fetchConfig(mem: WordReader, regs: StreamTableRegs, caps: SmmuCaps, sid: number, steps: TranslationStep[]): { cfg: SmmuConfig } | ConfigError {
  const loc = locateSte(mem, regs, caps, sid, steps);
  if ('type' in loc) return loc;
  const steAddr = loc.steAddr;
  let ste: u64[];
  try {
    ste = mem.readWords(steAddr, STE_DWORDS);
  } catch (e) {
    if (!(e instanceof BusError)) throw e;
    return err(E.F_STE_FETCH, `fetching the STE at ${hex(steAddr)} failed`, steAddr);
  }
  const step: TranslationStep = { level: 'STE', tableAddr: loc.tableAddr, index: loc.index, descAddr: steAddr, desc: ste, note: '' };
  steps.push(step);
  const g = (n: string): number => Number(get(STE_LAYOUT, ste, n));
  const bad = (why: string): ConfigError => {
    step.note = `C_BAD_STE: ${why}`;
    return err(E.C_BAD_STE, `the STE for StreamID ${sid} at ${hex(steAddr)} ${why}`);
  };
  if (!g('V')) return bad('is not valid (V=0)');
  const config = g('Config');
  let cfg: SmmuConfig;
  const base = { steAddr, ste, tag: -1, iaLimit: 0n, record: false };
  if ((config & 0b100) === 0 || config === STE_CFG_ABORT) {
    // 0b000 abort; 0b001-0b011 reserved: treated as abort, as QEMU does (spec wording unverified).
    step.note = config === STE_CFG_ABORT ? 'Config=abort: terminate without an event' : `Config=${config.toString(2).padStart(3, '0')} (reserved): treated as abort`;
    cfg = { ...base, kind: 'abort' };
  } else if (config === STE_CFG_BYPASS) {
    step.note = 'Config=bypass: address passes through untranslated';
    cfg = { ...base, kind: 'bypass' };
  } else if (config === STE_CFG_NESTED) {
    return bad('has Config=nested, which this model does not implement');
  } else if (config === STE_CFG_S2_TRANS) {
    if (!caps.stage2) return bad('asks for stage 2, but IDR0.S2P = 0');
    if (!g('S2AA64')) return bad('has S2AA64 = 0 (AArch32 tables are not supported)');
    if (g('S2TG') !== 0) return bad(`has S2TG = ${g('S2TG')}; only the 4K granule is supported`);
    if (g('S2ENDI')) return bad('has S2ENDI = 1; only little-endian tables are supported');
    if (g('S2S')) return bad('has S2S = 1; stalls are not supported');
    const t0sz = g('S2T0SZ');
    const sl0 = g('S2SL0');
    if (t0sz < 16 || t0sz > 39 || sl0 === 3) return bad(`has an illegal S2T0SZ/S2SL0 (${t0sz}/${sl0})`);
    const ias = 64 - t0sz;
    const start = 2 - sl0;
    const bitsAtStart = ias - LEVEL_SHIFT[start]!;
    if (bitsAtStart < 1 || bitsAtStart > 13) return bad(`needs ${bitsAtStart > 13 ? 'more than 16 concatenated' : 'no'} start-level tables (S2T0SZ ${t0sz}, S2SL0 ${sl0})`);
    const oas = Math.min(oasBits(g('S2PS')), caps.oasBits);
    const ttb = get(STE_LAYOUT, ste, 'S2TTB');
    if (ttb >> BigInt(oas) !== 0n) return bad(`has S2TTB ${hex(ttb)} beyond the ${oas}-bit output size`);
    step.note = `Config=stage 2: VMID ${g('S2VMID')}, S2TTB ${hex(ttb)}, ${ias}-bit IPA, start level ${start}`;
    cfg = { ...base, kind: 's2', tag: 0x10000 + g('S2VMID'), walk: { stage: 2, ttb, ias, startLevel: start, oas }, iaLimit: 1n << BigInt(ias), record: g('S2R') === 1 };
  } else {
    // STE_CFG_S1_TRANS
    if (g('S1CDMax') !== 0) return bad(`has S1CDMax = ${g('S1CDMax')}, more than IDR1.SSIDSIZE = 0 allows`);
    const cdAddr = get(STE_LAYOUT, ste, 'S1ContextPtr');
    step.note = `Config=stage 1: CD at ${hex(cdAddr)}`;
    let cd: u64[];
    try {
      cd = mem.readWords(cdAddr, CD_DWORDS);
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
      return err(E.F_CD_FETCH, `fetching the CD at ${hex(cdAddr)} failed`, cdAddr);
    }
    const cdStep: TranslationStep = { level: 'CD', tableAddr: cdAddr, index: 0, descAddr: cdAddr, desc: cd, note: '' };
    steps.push(cdStep);
    const d = (n: string): number => Number(get(CD_LAYOUT, cd, n));
    const badCd = (why: string): ConfigError => {
      cdStep.note = `C_BAD_CD: ${why}`;
      return err(E.C_BAD_CD, `the CD at ${hex(cdAddr)} ${why}`);
    };
    if (!d('V')) return badCd('is not valid (V=0)');
    if (!d('AA64')) return badCd('has AA64 = 0 (AArch32 tables are not supported)');
    if (d('ENDI')) return badCd('has ENDI = 1; only little-endian tables are supported');
    if (d('S')) return badCd('has S = 1; stalls are not supported (IDR0.STALL_MODEL = 1)');
    if (!d('A')) return badCd('has A = 0, illegal with IDR0.TERM_MODEL = 1');
    if (caps.httuBitsIllegal && (d('HA') || d('HD'))) return badCd('has HA or HD set, which QEMU refuses without hardware access/dirty flag updates (IDR0.HTTU = 0)');
    const oas = Math.min(oasBits(d('IPS')), caps.oasBits);
    const record = d('R') === 1;
    const asid = d('ASID');
    const cdBase = { ...base, kind: 's1' as const, cdAddr, cd, tag: asid, record };
    if (d('EPD0')) {
      // TTB0 walks disabled: every address faults (no walk).
      cdStep.note = `EPD0 = 1: TTB0 walks disabled, ASID ${asid}`;
      cfg = { ...cdBase, walk: { stage: 1, ttb: 0n, ias: 0, startLevel: 0, oas }, iaLimit: 0n };
    } else {
      if (d('TG0') !== 0) return badCd(`has TG0 = ${d('TG0')}; only the 4K granule is supported`);
      const t0sz = d('T0SZ');
      if (t0sz < 16 || t0sz > 39) return badCd(`has T0SZ = ${t0sz}, outside 16..39`);
      const ttb = get(CD_LAYOUT, cd, 'TTB0');
      if (ttb >> BigInt(oas) !== 0n) return badCd(`has TTB0 ${hex(ttb)} beyond the ${oas}-bit output size`);
      const ias = 64 - t0sz;
      cdStep.note = `ASID ${asid}, TTB0 ${hex(ttb)}, ${ias}-bit input, ${oas}-bit output, R=${record ? 1 : 0}`;
      cfg = { ...cdBase, walk: { stage: 1, ttb, ias, startLevel: startLevelFor(ias), oas }, iaLimit: 1n << BigInt(ias) };
    }
  }
  return { cfg };
}
