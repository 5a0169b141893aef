/**
 * io-pgtable-arm: Linux's builder of VMSAv8-64 stage-1 page tables for
 * IOMMUs (linux drivers/iommu/io-pgtable-arm.c, format ARM_64_LPAE_S1, 4 KiB
 * granule). The tables live in simulated RAM, allocated from the kernel's
 * PageAllocator and zeroed like __GFP_ZERO pages; the SMMU model walks the
 * very same bytes.
 *
 * PTE encoding (arm_lpae_prot_to_pte, REFERENCE.md 2.3):
 *   nG always; AP[1] (EL0 access) unless IOMMU_PRIV; AP[2] (read-only) for
 *   IOMMU_READ without IOMMU_WRITE; AttrIndx 2 (device) for IOMMU_MMIO,
 *   1 (cacheable) for IOMMU_CACHE, else 0 (non-cacheable); both XN bits for
 *   IOMMU_NOEXEC; AF; type page (0b11) at L3, block (0b01) at L1/L2.
 *   SH: current rule (since ~v5.4 "rationalise shareability") inner for
 *   IOMMU_CACHE, outer otherwise; legacy rule (<= ~v5.3): inner always.
 *   The rule is the `shareability` knob of the table's config.
 * Table descriptors: next table PA | 0b11 (no NSTable: no ARM_NS quirk).
 *
 * Behaviour kept from the kernel: iommu_pgsize-style splitting into the
 * largest page size that fits alignment (4K, 2M, 1G); mapping over an
 * existing leaf is -EEXIST; a block replaces an (unmapped-first) table by
 * freeing it; unmapping exactly a table-covered range frees the table;
 * unmapping part of a block unmaps nothing (current kernels; older ones
 * split the block, "iommu/io-pgtable-arm: Remove split on unmap behavior").
 */
import { type u64, hex } from '../machine/u64.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import type { PageAllocator } from './page-alloc.ts';
import { field, type Layout } from '../machine/fields.ts';
import { S1_LEAF_LAYOUT, TABLE_DESC_LAYOUT, LEVEL_SHIFT, startLevelFor, OAS_BITS } from '../machine/smmuv3/vmsa.ts';
import { IOMMU_CACHE, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from './types.ts';

const bitOf = (l: Layout, name: string): u64 => 1n << BigInt(field(l, name).lo);
const valOf = (l: Layout, name: string, v: number): u64 => BigInt(v) << BigInt(field(l, name).lo);

// Linux names (io-pgtable-arm.c), values taken from the descriptor layouts in machine/smmuv3/vmsa.ts.
export const ARM_LPAE_PTE_TYPE_BLOCK = 1n;
export const ARM_LPAE_PTE_TYPE_TABLE = 3n;
export const ARM_LPAE_PTE_TYPE_PAGE = 3n;
export const ARM_LPAE_PTE_NSTABLE = bitOf(TABLE_DESC_LAYOUT, 'NSTable');
export const ARM_LPAE_PTE_XN = bitOf(S1_LEAF_LAYOUT, 'PXN') | bitOf(S1_LEAF_LAYOUT, 'UXN');
export const ARM_LPAE_PTE_AF = bitOf(S1_LEAF_LAYOUT, 'AF');
export const ARM_LPAE_PTE_SH_OS = valOf(S1_LEAF_LAYOUT, 'SH', 2);
export const ARM_LPAE_PTE_SH_IS = valOf(S1_LEAF_LAYOUT, 'SH', 3);
export const ARM_LPAE_PTE_NS = bitOf(S1_LEAF_LAYOUT, 'NS');
export const ARM_LPAE_PTE_AP_UNPRIV = bitOf(S1_LEAF_LAYOUT, 'AP[1]');
export const ARM_LPAE_PTE_AP_RDONLY = bitOf(S1_LEAF_LAYOUT, 'AP[2]');
export const ARM_LPAE_PTE_nG = bitOf(S1_LEAF_LAYOUT, 'nG');
export const ARM_LPAE_MAIR_ATTR_IDX_NC = 0;
export const ARM_LPAE_MAIR_ATTR_IDX_CACHE = 1;
export const ARM_LPAE_MAIR_ATTR_IDX_DEV = 2;
export const ARM_LPAE_MAIR_ATTR_IDX_INC_OCACHE = 3;
export const ARM_LPAE_MAIR_ATTR_NC = 0x44n;
export const ARM_LPAE_MAIR_ATTR_WBRWA = 0xffn;
export const ARM_LPAE_MAIR_ATTR_DEVICE = 0x04n;
export const ARM_LPAE_MAIR_ATTR_INC_OWBRWA = 0xf4n;
/** TCR cacheability/shareability encodings (ARM_LPAE_TCR_RGN_*, ARM_LPAE_TCR_SH_*). */
export const ARM_LPAE_TCR_RGN_NC = 0;
export const ARM_LPAE_TCR_RGN_WBWA = 1;
export const ARM_LPAE_TCR_SH_OS = 2;
export const ARM_LPAE_TCR_SH_IS = 3;

const ADDR_MASK = 0x0000_ffff_ffff_f000n;
const attrIndx = (i: number): u64 => valOf(S1_LEAF_LAYOUT, 'AttrIndx', i);

export const SZ_4K = 0x1000n;
export const SZ_2M = 0x20_0000n;
export const SZ_1G = 0x4000_0000n;

export interface IoPgtableContext {
  memory: PhysicalMemory;
  pages: PageAllocator;
}

/** Stage-1 TCR fields as the SMMU driver copies them into the CD. */
export interface ArmLpaeS1Tcr {
  t0sz: number;
  tg: number;
  irgn: number;
  orgn: number;
  sh: number;
  ips: number;
}

/** One page table, as plain data (the tables themselves are in memory). */
export interface IoPgtableArm {
  fmt: 'ARM_64_LPAE_S1';
  ias: number;
  oas: number;
  pgsizeBitmap: u64;
  coherentWalk: boolean;
  shareability: 'current' | 'legacy';
  startLevel: number;
  /** PA of the start-level table (TTBR0). */
  pgd: u64;
  tcr: ArmLpaeS1Tcr;
  mair: u64;
}

export interface IoPgtableCfg {
  /** Input (IOVA) bits; Linux SMMUv3: min(48, VA_BITS). */
  ias: number;
  /** Output bits (the SMMU's OAS). */
  oas: number;
  /** Walks are cache-coherent (IDR0.COHACC): WBWA/inner walk attributes. Default true. */
  coherentWalk?: boolean;
  /** SH rule for leaves: 'current' (default) or 'legacy' (<= ~v5.3, inner always). */
  shareability?: 'current' | 'legacy';
  /** MAIR index 3 = inner-NC/outer-WB (0xf4), present since ~v5.3; default true. */
  mairIncOcache?: boolean;
}

export class IoPgtableError extends Error {
  constructor(readonly errno: 'EEXIST' | 'EINVAL' | 'ERANGE', message: string) {
    super(message);
  }
}

/** arm_64_lpae_alloc_pgtable_s1: allocate the pgd and compute TCR/MAIR. */
export function allocIoPgtableArmS1(ctx: IoPgtableContext, cfg: IoPgtableCfg): IoPgtableArm {
  if (cfg.ias > 48 || cfg.ias < 21) throw new IoPgtableError('EINVAL', `io-pgtable-arm: unsupported ias ${cfg.ias}`);
  const coherent = cfg.coherentWalk ?? true;
  const ips = OAS_BITS.indexOf(cfg.oas as (typeof OAS_BITS)[number]);
  if (ips < 0) throw new IoPgtableError('EINVAL', `io-pgtable-arm: unsupported oas ${cfg.oas}`);
  const mair =
    (ARM_LPAE_MAIR_ATTR_NC << BigInt(8 * ARM_LPAE_MAIR_ATTR_IDX_NC)) |
    (ARM_LPAE_MAIR_ATTR_WBRWA << BigInt(8 * ARM_LPAE_MAIR_ATTR_IDX_CACHE)) |
    (ARM_LPAE_MAIR_ATTR_DEVICE << BigInt(8 * ARM_LPAE_MAIR_ATTR_IDX_DEV)) |
    ((cfg.mairIncOcache ?? true) ? ARM_LPAE_MAIR_ATTR_INC_OWBRWA << BigInt(8 * ARM_LPAE_MAIR_ATTR_IDX_INC_OCACHE) : 0n);
  return {
    fmt: 'ARM_64_LPAE_S1',
    ias: cfg.ias,
    oas: cfg.oas,
    pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G,
    coherentWalk: coherent,
    shareability: cfg.shareability ?? 'current',
    startLevel: startLevelFor(cfg.ias),
    pgd: allocTable(ctx),
    tcr: {
      t0sz: 64 - cfg.ias,
      tg: 0,
      irgn: coherent ? ARM_LPAE_TCR_RGN_WBWA : ARM_LPAE_TCR_RGN_NC,
      orgn: coherent ? ARM_LPAE_TCR_RGN_WBWA : ARM_LPAE_TCR_RGN_NC,
      sh: coherent ? ARM_LPAE_TCR_SH_IS : ARM_LPAE_TCR_SH_OS,
      ips,
    },
    mair,
  };
}

function allocTable(ctx: IoPgtableContext): u64 {
  const pa = ctx.pages.alloc(1);
  ctx.memory.fill(pa, 4096n, 0);
  return pa;
}

/** arm_lpae_prot_to_pte for ARM_64_LPAE_S1: attribute bits only (no OA, no type). */
export function armLpaeProtToPte(prot: number, shareability: 'current' | 'legacy' = 'current'): u64 {
  let pte = ARM_LPAE_PTE_nG;
  if (!(prot & IOMMU_WRITE) && prot & IOMMU_READ) pte |= ARM_LPAE_PTE_AP_RDONLY;
  if (!(prot & IOMMU_PRIV)) pte |= ARM_LPAE_PTE_AP_UNPRIV;
  if (prot & IOMMU_MMIO) pte |= attrIndx(ARM_LPAE_MAIR_ATTR_IDX_DEV);
  else if (prot & IOMMU_CACHE) pte |= attrIndx(ARM_LPAE_MAIR_ATTR_IDX_CACHE);
  if (shareability === 'legacy' || prot & IOMMU_CACHE) pte |= ARM_LPAE_PTE_SH_IS;
  else pte |= ARM_LPAE_PTE_SH_OS;
  if (prot & IOMMU_NOEXEC) pte |= ARM_LPAE_PTE_XN;
  return pte | ARM_LPAE_PTE_AF;
}

// Per-level constants as bigints, computed once (the map/unmap path runs them for every page).
const LEVEL_SHIFT_N = LEVEL_SHIFT.map((x) => BigInt(x));
const BLOCK_SIZE = LEVEL_SHIFT.map((x) => 1n << BigInt(x));
const blockSize = (lvl: number): u64 => BLOCK_SIZE[lvl]!;
const indexAt = (data: IoPgtableArm, iova: u64, lvl: number): number => {
  const shift = LEVEL_SHIFT[lvl]!;
  const bits = lvl === data.startLevel ? data.ias - shift : 9;
  return Number((iova >> LEVEL_SHIFT_N[lvl]!) & (bits === 9 ? 0x1ffn : BigInt(2 ** bits - 1)));
};
const isTable = (pte: u64, lvl: number): boolean => lvl < 3 && (pte & 3n) === ARM_LPAE_PTE_TYPE_TABLE;
const isLeaf = (pte: u64, lvl: number): boolean => (lvl === 3 ? (pte & 3n) === ARM_LPAE_PTE_TYPE_PAGE : (pte & 3n) === ARM_LPAE_PTE_TYPE_BLOCK);

/** iommu_pgsize(): the largest supported page size for this iova/paddr/size. */
export function iommuPgsize(bitmap: u64, iova: u64, paddr: u64, size: u64): u64 {
  let best = 0n;
  for (const sz of [SZ_1G, SZ_2M, SZ_4K]) {
    if (!(bitmap & sz) || sz > size) continue;
    if ((iova | paddr) % sz !== 0n) continue;
    best = sz;
    break;
  }
  return best;
}

function checkRange(data: IoPgtableArm, iova: u64, size: u64): void {
  if (iova >> BigInt(data.ias) !== 0n || (iova + size - 1n) >> BigInt(data.ias) !== 0n) {
    throw new IoPgtableError('ERANGE', `iova ${hex(iova)} + ${hex(size)} is outside the ${data.ias}-bit input range`);
  }
}

/**
 * Map [iova, iova+size) to paddr with IOMMU_* prot, in the largest pages the
 * alignment allows (iommu_map + arm_lpae_map_pages). Returns bytes mapped.
 */
export function armLpaeMap(ctx: IoPgtableContext, data: IoPgtableArm, iova: u64, paddr: u64, size: u64, prot: number): u64 {
  if ((iova | paddr | size) % SZ_4K !== 0n) {
    throw new IoPgtableError('EINVAL', `unaligned: iova ${hex(iova)} pa ${hex(paddr)} size ${hex(size)} must be multiples of 4K`);
  }
  if (size === 0n) return 0n;
  checkRange(data, iova, size);
  // arm_lpae_map_pages: no permissions, nothing to map (and no error).
  if (!(prot & (IOMMU_READ | IOMMU_WRITE))) return 0n;
  const attrs = armLpaeProtToPte(prot, data.shareability);
  let done = 0n;
  while (done < size) {
    const pgsize = iommuPgsize(data.pgsizeBitmap, iova + done, paddr + done, size - done);
    mapOne(ctx, data, iova + done, paddr + done, pgsize, attrs, data.startLevel, data.pgd);
    done += pgsize;
  }
  return done;
}

function mapOne(ctx: IoPgtableContext, data: IoPgtableArm, iova: u64, paddr: u64, size: u64, attrs: u64, lvl: number, table: u64): void {
  const ptep = table + BigInt(8 * indexAt(data, iova, lvl));
  const pte = ctx.memory.read64(ptep);
  if (size === blockSize(lvl)) {
    if (isLeaf(pte, lvl)) throw new IoPgtableError('EEXIST', `iova ${hex(iova)} is already mapped (PTE ${hex(pte, 16)} at ${hex(ptep)}); unmap it first`);
    if (isTable(pte, lvl)) {
      // arm_lpae_init_pte: a block replaces a table only after the table's mappings are gone.
      freeTables(ctx, data, pte & ADDR_MASK, lvl + 1);
    }
    ctx.memory.write64(ptep, attrs | paddr | (lvl === 3 ? ARM_LPAE_PTE_TYPE_PAGE : ARM_LPAE_PTE_TYPE_BLOCK));
    return;
  }
  if (lvl >= 3) throw new IoPgtableError('EINVAL', `no page size ${hex(size)} at level ${lvl}`);
  let next: u64;
  if (isTable(pte, lvl)) next = pte & ADDR_MASK;
  else if (isLeaf(pte, lvl)) throw new IoPgtableError('EEXIST', `iova ${hex(iova)} is inside an existing ${hex(blockSize(lvl))} block mapping (PTE ${hex(pte, 16)})`);
  else {
    next = allocTable(ctx);
    ctx.memory.write64(ptep, next | ARM_LPAE_PTE_TYPE_TABLE);
  }
  mapOne(ctx, data, iova, paddr, size, attrs, lvl + 1, next);
}

function freeTables(ctx: IoPgtableContext, data: IoPgtableArm, table: u64, lvl: number): void {
  if (lvl < 3) {
    for (let i = 0; i < 512; i++) {
      const pte = ctx.memory.read64(table + BigInt(8 * i));
      if (isTable(pte, lvl)) freeTables(ctx, data, pte & ADDR_MASK, lvl + 1);
    }
  }
  ctx.pages.free(table, 1);
}

/**
 * Unmap [iova, iova+size): clear leaves (and whole tables when a range
 * covers one). Returns bytes unmapped; stops at the first hole, like
 * iommu_unmap. The IOTLB is not touched: the caller syncs it.
 */
export function armLpaeUnmap(ctx: IoPgtableContext, data: IoPgtableArm, iova: u64, size: u64): u64 {
  if ((iova | size) % SZ_4K !== 0n) throw new IoPgtableError('EINVAL', `unaligned unmap: iova ${hex(iova)} size ${hex(size)}`);
  checkRange(data, iova, size);
  let done = 0n;
  while (done < size) {
    const pgsize = iommuPgsize(data.pgsizeBitmap, iova + done, 0n, size - done);
    const n = unmapOne(ctx, data, iova + done, pgsize, data.startLevel, data.pgd);
    if (n === 0n) break;
    done += n;
  }
  return done;
}

function unmapOne(ctx: IoPgtableContext, data: IoPgtableArm, iova: u64, size: u64, lvl: number, table: u64): u64 {
  const ptep = table + BigInt(8 * indexAt(data, iova, lvl));
  const pte = ctx.memory.read64(ptep);
  if ((pte & 1n) === 0n) return 0n;
  if (size === blockSize(lvl)) {
    ctx.memory.write64(ptep, 0n);
    if (isTable(pte, lvl)) freeTables(ctx, data, pte & ADDR_MASK, lvl + 1);
    return size;
  }
  if (isLeaf(pte, lvl)) return 0n; // part of a block: not split (current kernels)
  if (lvl >= 3) return 0n;
  return unmapOne(ctx, data, iova, size, lvl + 1, pte & ADDR_MASK);
}

/** arm_lpae_iova_to_phys: walk the tables in memory. */
export function armLpaeIovaToPhys(ctx: IoPgtableContext, data: IoPgtableArm, iova: u64): u64 | undefined {
  if (iova >> BigInt(data.ias) !== 0n) return undefined;
  let table = data.pgd;
  for (let lvl = data.startLevel; lvl <= 3; lvl++) {
    const pte = ctx.memory.read64(table + BigInt(8 * indexAt(data, iova, lvl)));
    if ((pte & 1n) === 0n) return undefined;
    if (isLeaf(pte, lvl)) {
      const mask = blockSize(lvl) - 1n;
      return (pte & ADDR_MASK & ~mask) | (iova & mask);
    }
    if (!isTable(pte, lvl)) return undefined;
    table = pte & ADDR_MASK;
  }
  return undefined;
}

/** free_io_pgtable_ops: give every table page back. */
export function freeIoPgtable(ctx: IoPgtableContext, data: IoPgtableArm): void {
  freeTables(ctx, data, data.pgd, data.startLevel);
}
