/**
 * VT-d legacy-mode root and context tables: how a request's source-id
 * (PCI requester id) finds its domain.
 *
 *   source-id  15      8 7      3 2   0
 *             [   bus  ][  dev   ][fn ]          00:02.0 -> 0x0010
 *
 *   RTADDR -> root table (4 KiB, 256 x 16 bytes, by bus)
 *     root entry  lo: [63:12] CTP  [0] P          hi: reserved
 *   CTP    -> context table (4 KiB, 256 x 16 bytes, by devfn = dev<<3|fn)
 *     context lo: [63:12] SLPTPTR  [3:2] TT  [1] FPD  [0] P
 *             hi: [23:8] DID  [6:3] AVAIL  [2:0] AW
 *
 * Layouts: REFERENCE.md 3.2; QEMU hw/i386/intel_iommu_internal.h
 * (VTD_ROOT_ENTRY_*, VTD_CONTEXT_ENTRY_*). The checks and the fault each
 * one raises follow QEMU hw/i386/intel_iommu.c vtd_dev_to_context_entry:
 * root read fails -> 0x08, P = 0 -> 0x01, reserved bits -> 0x0A; context
 * read fails -> 0x09, P = 0 -> 0x02, reserved bits -> 0x0B, AW not in
 * CAP.SAGAW or TT not supported -> 0x03.
 */
import { type u64, hex } from '../u64.ts';
import { get, type Layout } from '../fields.ts';
import { BusError } from '../errors.ts';
import type { TranslationStep } from '../trace.ts';
import * as F from './fault.ts';

export const ROOT_ENTRY_SIZE = 16;
export const CONTEXT_ENTRY_SIZE = 16;

/** Context-entry TT encodings (REFERENCE 3.2; linux CONTEXT_TT_*). */
export const CONTEXT_TT_MULTI_LEVEL = 0;
export const CONTEXT_TT_DEV_IOTLB = 1;
export const CONTEXT_TT_PASS_THROUGH = 2;

export const ROOT_ENTRY_LAYOUT: Layout = {
  name: 'root entry',
  words: 2,
  source: 'REFERENCE.md 3.2; QEMU VTD_ROOT_ENTRY_P / VTD_ROOT_ENTRY_CTP',
  fields: [
    { name: 'P', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'present; 0 = every request from this bus faults with reason 0x01' },
    { name: 'CTP', word: 0, hi: 63, lo: 12, kind: 'addr', desc: 'context-table pointer: the 256 context entries of this bus' },
  ],
};

export const CONTEXT_ENTRY_LAYOUT: Layout = {
  name: 'context entry',
  words: 2,
  source: 'REFERENCE.md 3.2; QEMU VTD_CONTEXT_ENTRY_*; linux context_set_*',
  fields: [
    { name: 'P', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'present; 0 = requests from this device fault with reason 0x02' },
    { name: 'FPD', word: 0, hi: 1, lo: 1, kind: 'flag', desc: 'fault processing disable: qualified faults are not recorded' },
    {
      name: 'TT', word: 0, hi: 3, lo: 2, desc: 'translation type',
      values: { '0': 'untranslated requests via second-level tables', '1': 'also device-TLB (ATS) requests', '2': 'pass-through (address used as-is; needs ECAP.PT)', '3': 'reserved' },
    },
    { name: 'SLPTPTR', word: 0, hi: 63, lo: 12, kind: 'addr', desc: 'second-level page-table root (ignored for pass-through)' },
    { name: 'AW', word: 1, hi: 2, lo: 0, desc: 'address width', values: { '1': '39-bit, 3-level', '2': '48-bit, 4-level', '3': '57-bit, 5-level' } },
    { name: 'AVAIL', word: 1, hi: 6, lo: 3, desc: 'available to software' },
    { name: 'DID', word: 1, hi: 23, lo: 8, desc: 'domain id: tags IOTLB entries' },
  ],
};

/** Linux agaw arithmetic (REFERENCE 3.2): width = 30 + 9 * AW, levels = AW + 2. */
export const agawToWidth = (aw: number): number => 30 + 9 * aw;
export const agawToLevels = (aw: number): number => aw + 2;
/** width_to_agaw(): the AW encoding for an address width (39 -> 1, 48 -> 2, 57 -> 3). */
export const widthToAgaw = (width: number): number => Math.ceil((width - 30) / 9);

/** Source-id (requester id) of a PCI function: bus[15:8] dev[7:3] fn[2:0]. */
export const sourceId = (bus: number, dev: number, fn: number): number => ((bus & 0xff) << 8) | ((dev & 0x1f) << 3) | (fn & 7);
/** "00:02.0" as Linux prints a source-id (%02x:%02x.%d). */
export const sidText = (sid: number): string => `${((sid >> 8) & 0xff).toString(16).padStart(2, '0')}:${((sid >> 3) & 0x1f).toString(16).padStart(2, '0')}.${sid & 7}`;

/** What the unit supports, as the context checks need it. */
export interface ContextCaps {
  /** Host address width (CAP.MGAW + 1 in this model; QEMU's aw-bits). */
  haw: number;
  /** CAP.SAGAW bit mask. */
  sagaw: number;
  pt: boolean;
  dt: boolean;
}

/** A present, valid context entry as the context cache keeps it. */
export interface VtdContext {
  sid: number;
  rootAddr: u64;
  root: u64[];
  ctxAddr: u64;
  ctx: u64[];
  did: number;
  tt: number;
  aw: number;
  fpd: boolean;
  slptptr: u64;
}

export interface ContextFault {
  reason: number;
  detail: string;
  /** FPD of the context entry read (a not-present entry's FPD still counts, as in QEMU). */
  fpd: boolean;
}

export interface WordReader {
  readWords(addr: u64, n: number): u64[];
}

const hawMask = (haw: number): u64 => (1n << BigInt(haw)) - 1n;

/**
 * vtd_dev_to_context_entry: read the root entry for the bus and the
 * context entry for devfn, check them, and return the context or the
 * fault. Each read becomes a TranslationStep.
 */
export function fetchContext(mem: WordReader, rta: u64, sid: number, caps: ContextCaps, steps: TranslationStep[]): VtdContext | ContextFault {
  const bus = (sid >> 8) & 0xff;
  const devfn = sid & 0xff;
  const rootAddr = rta + BigInt(ROOT_ENTRY_SIZE * bus);
  let root: u64[];
  try {
    root = mem.readWords(rootAddr, 2);
  } catch (e) {
    if (!(e instanceof BusError)) throw e;
    steps.push({ level: 'root', tableAddr: rta, index: bus, descAddr: rootAddr, note: `read failed: ${e.message}` });
    return { reason: F.VTD_FR_ROOT_TABLE_INV, detail: `the root table at ${hex(rta)} cannot be read (${e.message})`, fpd: false };
  }
  const rp = get(ROOT_ENTRY_LAYOUT, root, 'P') === 1n;
  const ctp = get(ROOT_ENTRY_LAYOUT, root, 'CTP');
  steps.push({ level: 'root', tableAddr: rta, index: bus, descAddr: rootAddr, desc: root, note: rp ? `bus ${hex(bus, 2)}: P=1, context table at ${hex(ctp)}` : `bus ${hex(bus, 2)}: P=0` });
  if (!rp) return { reason: F.VTD_FR_ROOT_ENTRY_P, detail: `the root entry for bus ${hex(bus, 2)} at ${hex(rootAddr)} is not present (P=0)`, fpd: false };
  if ((root[0]! & (0xffen | (~hawMask(caps.haw) & 0xffff_ffff_ffff_ffffn))) !== 0n || root[1] !== 0n) {
    return { reason: F.VTD_FR_ROOT_ENTRY_RSVD, detail: `the root entry for bus ${hex(bus, 2)} has reserved bits set (lo ${hex(root[0]!, 16)}, hi ${hex(root[1]!, 16)})`, fpd: false };
  }
  const ctxAddr = ctp + BigInt(CONTEXT_ENTRY_SIZE * devfn);
  let ctx: u64[];
  try {
    ctx = mem.readWords(ctxAddr, 2);
  } catch (e) {
    if (!(e instanceof BusError)) throw e;
    steps.push({ level: 'context', tableAddr: ctp, index: devfn, descAddr: ctxAddr, note: `read failed: ${e.message}` });
    return { reason: F.VTD_FR_CONTEXT_TABLE_INV, detail: `the context table at ${hex(ctp)} cannot be read (${e.message})`, fpd: false };
  }
  const g = (n: string): u64 => get(CONTEXT_ENTRY_LAYOUT, ctx, n);
  const present = g('P') === 1n;
  const fpd = g('FPD') === 1n;
  const tt = Number(g('TT'));
  const aw = Number(g('AW'));
  const did = Number(g('DID'));
  const slptptr = g('SLPTPTR');
  const where = `devfn ${hex(devfn, 2)} (${sidText(sid)})`;
  steps.push({
    level: 'context', tableAddr: ctp, index: devfn, descAddr: ctxAddr, desc: ctx,
    note: present ? `${where}: P=1 DID ${did} TT=${tt} AW=${aw}${fpd ? ' FPD=1' : ''}${tt === CONTEXT_TT_PASS_THROUGH ? '' : `, tables at ${hex(slptptr)}`}` : `${where}: P=0`,
  });
  if (!present) return { reason: F.VTD_FR_CONTEXT_ENTRY_P, detail: `the context entry for ${where} at ${hex(ctxAddr)} is not present (P=0)`, fpd };
  if ((ctx[1]! & 0xffff_ffff_ff00_0080n) !== 0n || (ctx[0]! & (0xff0n | (~hawMask(caps.haw) & 0xffff_ffff_ffff_ffffn))) !== 0n) {
    return { reason: F.VTD_FR_CONTEXT_ENTRY_RSVD, detail: `the context entry for ${where} has reserved bits set (lo ${hex(ctx[0]!, 16)}, hi ${hex(ctx[1]!, 16)})`, fpd };
  }
  if (tt === 3 || (tt === CONTEXT_TT_PASS_THROUGH && !caps.pt) || (tt === CONTEXT_TT_DEV_IOTLB && !caps.dt)) {
    return { reason: F.VTD_FR_CONTEXT_ENTRY_INV, detail: `the context entry for ${where} asks for TT=${tt}, which this unit does not support${tt === 2 ? ' (ECAP.PT = 0)' : tt === 1 ? ' (ECAP.DT = 0)' : ''}`, fpd };
  }
  // AW is checked for every TT in QEMU (vtd_is_sl_level_supported); Linux writes msagaw for pass-through.
  if (aw < 1 || aw > 4 || ((caps.sagaw >> aw) & 1) === 0) {
    return { reason: F.VTD_FR_CONTEXT_ENTRY_INV, detail: `the context entry for ${where} has AW=${aw} (${agawToWidth(aw)}-bit), not in CAP.SAGAW ${hex(caps.sagaw)}`, fpd };
  }
  return { sid, rootAddr, root, ctxAddr, ctx, did, tt, aw, fpd, slptptr };
}
