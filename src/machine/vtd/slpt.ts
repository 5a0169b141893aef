/**
 * VT-d second-level page tables (legacy mode): 4 KiB tables of 512
 * 64-bit entries, 3, 4 or 5 levels by the context entry's AW.
 *
 *   4-level input address (AW = 2, 48 bits):
 *   47     39 38     30 29     21 20     12 11        0
 *   [ PML4  ][  PDP   ][  PD    ][  PT    ][  offset   ]
 *   3-level (AW = 1, 39 bits) starts at PDP; 5-level (AW = 3) adds PML5 [56:48].
 *
 *   entry: 63 62 61..52   HAW-1..12   11   10..8  7   6..2  1  0
 *          [ig][TM][ig ][  address  ][SNP][ ig ][PS][ ig ][W][R]
 *
 * An entry is usable when it grants the access: R for reads, W for
 * writes, checked at every level (a table entry written by Linux has
 * R|W). A missing permission is the fault (0x06 read, 0x05 write); that is
 * also what a not-present (zero) entry raises. PS at the PD (2 MiB) or PDP
 * (1 GiB) level makes the entry a superpage when CAP.SLLPS allows it.
 *
 * Sources: REFERENCE.md 3.3; QEMU hw/i386/intel_iommu.c vtd_iova_to_slpte
 * (permission before reserved-bit checks, permissions ANDed over levels)
 * and intel_iommu_internal.h VTD_SPTE_*_RSVD_MASK, VTD_SL_IGN_COM; linux
 * drivers/iommu/intel/iommu.h DMA_PTE_READ/WRITE/LARGE_PAGE/SNP.
 */
import { type u64, hex } from '../u64.ts';
import type { Layout } from '../fields.ts';
import { BusError } from '../errors.ts';
import type { TranslationStep } from '../trace.ts';
import * as F from './fault.ts';

export const SL_PTE_LAYOUT: Layout = {
  name: 'second-level PTE',
  words: 1,
  source: 'REFERENCE.md 3.3; QEMU VTD_SL_*; linux DMA_PTE_*',
  fields: [
    { name: 'R', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'read access; a read through an entry without R faults (0x06)' },
    { name: 'W', word: 0, hi: 1, lo: 1, kind: 'flag', desc: 'write access; a write through an entry without W faults (0x05)' },
    { name: 'PS', word: 0, hi: 7, lo: 7, kind: 'flag', desc: 'page size: a 2 MiB (PD) or 1 GiB (PDP) superpage instead of a table pointer' },
    { name: 'SNP', word: 0, hi: 11, lo: 11, kind: 'flag', desc: 'snoop: force a snooped access (needs ECAP.SC, else reserved)' },
    { name: 'ADDR', word: 0, hi: 51, lo: 12, kind: 'addr', desc: 'next table or page address (bits above the host address width must be 0)' },
    { name: 'TM', word: 0, hi: 62, lo: 62, kind: 'flag', desc: 'transient mapping (device-TLB hint)' },
  ],
};

/** Linux's PTE bits (drivers/iommu/intel/iommu.h), exactly as REFERENCE 3.3 lists them. */
export const DMA_PTE_READ = 1n;
export const DMA_PTE_WRITE = 2n;
export const DMA_PTE_LARGE_PAGE = 0x80n;
export const DMA_PTE_SNP = 0x800n;
/** Bits the hardware ignores in every entry (QEMU VTD_SL_IGN_COM). */
export const VTD_SL_IGN_COM = 0xbff0_0000_0000_0000n;
export const VTD_SL_TM = 1n << 62n;
/** Entries per table and index bits per level (linux VTD_STRIDE_SHIFT). */
export const VTD_STRIDE_SHIFT = 9;

/** Names by level, as the VT-d spec and REFERENCE 3.3 call them (level 1 = PT). */
export const LEVEL_NAMES: Record<number, string> = { 5: 'PML5', 4: 'PML4', 3: 'PDP', 2: 'PD', 1: 'PT' };
/** Address bit where a level's index starts: 12, 21, 30, 39, 48. */
export const levelShift = (level: number): number => 12 + VTD_STRIDE_SHIFT * (level - 1);
/** Index of addr in the table of a level. */
export const levelIndex = (addr: u64, level: number): number => Number((addr >> BigInt(levelShift(level))) & 0x1ffn);

export interface SlWalkParams {
  /** SLPTPTR from the context entry. */
  root: u64;
  /** AW + 2. */
  levels: number;
  /** Host address width: table and page addresses above it are reserved. */
  haw: number;
  /** CAP.SLLPS bits: 1 = 2 MiB, 2 = 1 GiB. */
  sllps: number;
  /** ECAP.SC: SNP is a legal bit. */
  sc: boolean;
  /** ECAP.DT: TM is a legal bit in leaf entries. */
  dt: boolean;
}

export type SlWalk =
  | { ok: true; pa: u64; level: number; pageShift: number; pte: u64; read: boolean; write: boolean }
  | { ok: false; reason: number; level: number; detail: string; descAddr?: u64; pte?: u64 };

const MASK64 = 0xffff_ffff_ffff_ffffn;

/** Reserved bits of an entry at a level (QEMU vtd_spte_rsvd / vtd_spte_rsvd_large, with this unit's features). */
export function reservedMask(p: SlWalkParams, level: number, large: boolean): u64 {
  const haw = (1n << BigInt(p.haw)) - 1n;
  const leaf = level === 1 || large;
  let mask = ~(haw | VTD_SL_IGN_COM | (p.dt && leaf ? VTD_SL_TM : 0n)) & MASK64;
  if (!p.sc) mask |= DMA_PTE_SNP;
  if (large) mask |= ((1n << BigInt(levelShift(level))) - 1n) & ~0xfffn; // address bits below the superpage size
  if (level >= 4) mask |= DMA_PTE_LARGE_PAGE; // no superpages at PML4/PML5
  return mask;
}

/**
 * Walk the tables in memory for one access (vtd_iova_to_slpte). Every
 * entry read becomes a TranslationStep. The caller has already checked the
 * address against the width (fault 0x04).
 */
export function walkSecondLevel(mem: { read64(a: u64): u64 }, p: SlWalkParams, addr: u64, write: boolean, steps: TranslationStep[]): SlWalk {
  const need = write ? DMA_PTE_WRITE : DMA_PTE_READ;
  const addrMask = ((1n << BigInt(p.haw)) - 1n) & ~0xfffn;
  let table = p.root;
  let read = true;
  let wr = true;
  for (let level = p.levels; level >= 1; level--) {
    const index = levelIndex(addr, level);
    const descAddr = table + BigInt(8 * index);
    const name = LEVEL_NAMES[level]!;
    let pte: u64;
    try {
      pte = mem.read64(descAddr);
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
      steps.push({ level: name, tableAddr: table, index, descAddr, note: `read failed: ${e.message}` });
      // QEMU: a failed read of the top-level table is an invalid context entry, below it an invalid table pointer.
      const reason = level === p.levels ? F.VTD_FR_CONTEXT_ENTRY_INV : F.VTD_FR_PAGING_ENTRY_INV;
      return { ok: false, reason, level, descAddr, detail: `the ${name} table at ${hex(table)} cannot be read (${e.message})` };
    }
    read = read && (pte & DMA_PTE_READ) !== 0n;
    wr = wr && (pte & DMA_PTE_WRITE) !== 0n;
    const large = (level === 2 || level === 3) && (pte & DMA_PTE_LARGE_PAGE) !== 0n;
    const rw = `${pte & DMA_PTE_READ ? 'R' : '-'}${pte & DMA_PTE_WRITE ? 'W' : '-'}`;
    if ((pte & need) === 0n) {
      steps.push({ level: name, tableAddr: table, index, descAddr, desc: pte, note: pte === 0n ? 'not present (0): no permission' : `${rw}: no ${write ? 'write' : 'read'} permission` });
      return {
        ok: false, reason: write ? F.VTD_FR_WRITE : F.VTD_FR_READ, level, descAddr, pte,
        detail: `the ${name} entry [${index}] at ${hex(descAddr)} is ${hex(pte, 16)}: ${pte === 0n ? 'nothing is mapped there' : `it does not grant ${write ? 'W' : 'R'}`}`,
      };
    }
    // A superpage the unit does not support is a reserved PS bit.
    const psUnsupported = large && ((level === 2 && (p.sllps & 1) === 0) || (level === 3 && (p.sllps & 2) === 0));
    const rsvd = pte & reservedMask(p, level, large);
    if (rsvd !== 0n || psUnsupported) {
      steps.push({ level: name, tableAddr: table, index, descAddr, desc: pte, note: `reserved bits set (${hex(psUnsupported ? DMA_PTE_LARGE_PAGE : rsvd)})` });
      return {
        ok: false, reason: F.VTD_FR_PAGING_ENTRY_RSVD, level, descAddr, pte,
        detail: `the ${name} entry at ${hex(descAddr)} (${hex(pte, 16)}) has reserved bits set: ${psUnsupported ? `PS at this level needs CAP.SLLPS bit ${level - 2}` : hex(rsvd)}`,
      };
    }
    const next = pte & addrMask;
    if (level === 1 || large) {
      const shift = levelShift(level);
      const size = 1n << BigInt(shift);
      const base = next & ~(size - 1n);
      steps.push({ level: name, tableAddr: table, index, descAddr, desc: pte, note: `${rw}${large ? ` ${size === 1n << 21n ? '2 MiB' : '1 GiB'} superpage` : ' 4 KiB page'} at ${hex(base)}` });
      return { ok: true, pa: base | (addr & (size - 1n)), level, pageShift: shift, pte, read, write: wr };
    }
    steps.push({ level: name, tableAddr: table, index, descAddr, desc: pte, note: `${rw} table -> ${hex(next)}` });
    table = next;
  }
  /* c8 ignore next */
  return { ok: false, reason: F.VTD_FR_PAGING_ENTRY_INV, level: 0, detail: 'walk ran out of levels' };
}
