/**
 * The Intel IOMMU driver's second-level page tables (the dma_pte code of
 * linux drivers/iommu/intel/iommu.c): tables in simulated RAM, allocated
 * from the kernel's PageAllocator and zeroed; the VT-d unit walks the very
 * same bytes (machine/vtd/slpt.ts).
 *
 * Entries exactly as Linux writes them (REFERENCE.md 3.3):
 *   table entry: next table | DMA_PTE_READ | DMA_PTE_WRITE         (pfn_to_dma_pte)
 *   leaf:        page | (prot & (READ | WRITE | SNP)) [| LARGE_PAGE]  (__domain_mapping)
 *   a RW 4 KiB page at 0x80000000 is 0x80000003, a 2 MiB one 0x80000083.
 *
 * Behaviour kept from the kernel:
 *   - hardware_largepage_caps: the largest page the IOVA, the PA and the
 *     remaining length allow, up to what CAP.SLLPS offers (and
 *     intel_iommu=sp_off turns off);
 *   - switch_to_super_page: a superpage replaces a table, whose pages are
 *     freed (the caller must flush the IOTLB: `flush` in the result);
 *   - unmap (intel_iommu_unmap): an unmap that starts inside a superpage,
 *     or at an unmapped address whose walk stops above the PT level,
 *     unmaps that whole level's size ("Cope with horrid API ..."), and the
 *     returned size says so; tables a range covers entirely are freed
 *     (dma_pte_clear_level).
 *   - mapping over a live PTE: Linux prints "ERROR: DMA PTE for vPFN ...
 *     already set", WARNs and carries on; the model refuses instead
 *     (IntelPgtableError 'EEXIST' with that text) so callers see the bug.
 */
import { type u64, hex } from '../machine/u64.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import type { PageAllocator } from './page-alloc.ts';
import { DMA_PTE_READ, DMA_PTE_WRITE, DMA_PTE_LARGE_PAGE, DMA_PTE_SNP, levelIndex } from '../machine/vtd/slpt.ts';
import { agawToLevels, agawToWidth } from '../machine/vtd/context.ts';

export { DMA_PTE_READ, DMA_PTE_WRITE, DMA_PTE_LARGE_PAGE, DMA_PTE_SNP };

/** VTD_PAGE_MASK for addresses in entries (bits above 51 are ignored/XD). */
const DMA_PTE_ADDR = 0x000f_ffff_ffff_f000n;
const STRIDE = 9;

export interface PgtableCtx {
  memory: PhysicalMemory;
  pages: PageAllocator;
}

/** A domain's page table as plain data (the tables themselves are in memory). */
export interface IntelPgtable {
  pgd: u64;
  /** AW encoding (1 = 39-bit, 2 = 48-bit, 3 = 57-bit). */
  agaw: number;
  /** Guest address width: min(agaw width, CAP.MGAW + 1). */
  gaw: number;
  /** iommu_superpage: 0 none, 1 = 2 MiB, 2 = 2 MiB and 1 GiB. */
  superpage: number;
}

export class IntelPgtableError extends Error {
  constructor(
    readonly errno: 'EEXIST' | 'EINVAL' | 'EFAULT',
    message: string,
  ) {
    super(message);
  }
}

const present = (pte: u64): boolean => (pte & 3n) !== 0n;
const superpage = (pte: u64): boolean => (pte & DMA_PTE_LARGE_PAGE) !== 0n;
/** Pages (4 KiB) covered by one entry at a level: lvl_to_nr_pages. */
const lvlPages = (level: number): number => 2 ** (STRIDE * (level - 1));

function allocTable(ctx: PgtableCtx): u64 {
  const pa = ctx.pages.alloc(1);
  ctx.memory.fill(pa, 4096n, 0);
  return pa;
}

export function allocPgtable(ctx: PgtableCtx, agaw: number, gaw: number, superpage: number): IntelPgtable {
  return { pgd: allocTable(ctx), agaw, gaw, superpage };
}

/** The entry's address for pfn at `level` in `table`. */
const slot = (table: u64, pfn: number, level: number): u64 => table + BigInt(8 * levelIndex(BigInt(pfn) << 12n, level));

/**
 * pfn_to_dma_pte with a target level: walk down, creating R|W tables,
 * and return the entry's address at that level.
 */
function pteAt(ctx: PgtableCtx, pt: IntelPgtable, pfn: number, target: number): u64 {
  let table = pt.pgd;
  for (let level = agawToLevels(pt.agaw); ; level--) {
    const at = slot(table, pfn, level);
    if (level === target) return at;
    let pte = ctx.memory.read64(at);
    if (present(pte) && superpage(pte)) {
      throw new IntelPgtableError('EEXIST', `ERROR: DMA PTE for vPFN 0x${pfn.toString(16)} already set (to ${pte.toString(16)}): a ${level === 2 ? '2 MiB' : '1 GiB'} superpage covers it`);
    }
    if (!present(pte)) {
      pte = allocTable(ctx) | DMA_PTE_READ | DMA_PTE_WRITE;
      ctx.memory.write64(at, pte);
    }
    table = pte & DMA_PTE_ADDR;
  }
}

/** hardware_largepage_caps: the level (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB) for this chunk. */
export function largepageLevel(superpageSupport: number, iovPfn: number, phyPfn: number, pages: number): number {
  let level = 1;
  let support = superpageSupport;
  let merge = iovPfn | phyPfn;
  let left = pages;
  while (support && merge % 512 === 0) {
    left = Math.floor(left / 512);
    if (!left) break;
    merge = Math.floor(merge / 512);
    level++;
    support--;
  }
  return level;
}

/** Every table page below an entry at `level` (dma_pte_list_pagetables), the child table itself included. */
function listTables(ctx: PgtableCtx, table: u64, level: number, out: u64[]): void {
  out.push(table);
  if (level === 1) return;
  for (let i = 0; i < 512; i++) {
    const pte = ctx.memory.read64(table + BigInt(8 * i));
    if (present(pte) && !superpage(pte)) listTables(ctx, pte & DMA_PTE_ADDR, level - 1, out);
  }
}

/**
 * __domain_mapping: map [iova, iova+size) to pa with DMA_PTE_* bits in
 * `attr`. Returns whether page-table pages were freed to make room for a
 * superpage (the IOTLB must then be flushed for the range).
 */
export function domainMapping(ctx: PgtableCtx, pt: IntelPgtable, iova: u64, pa: u64, size: u64, attr: u64): { flush: boolean; freed: u64[] } {
  if ((iova | pa | size) & 0xfffn) throw new IntelPgtableError('EINVAL', `unaligned: iova ${hex(iova)} pa ${hex(pa)} size ${hex(size)} must be multiples of 4K`);
  if ((attr & (DMA_PTE_READ | DMA_PTE_WRITE)) === 0n) throw new IntelPgtableError('EINVAL', 'no read or write permission: nothing to map (-EINVAL)');
  const end = iova + size;
  if (end > 1n << BigInt(pt.gaw)) {
    throw new IntelPgtableError('EFAULT', `intel_iommu_map: iommu width (${pt.gaw}) is not sufficient for the mapped address (${end.toString(16)})`);
  }
  let iovPfn = Number(iova >> 12n);
  let phyPfn = Number(pa >> 12n);
  let left = Number(size >> 12n);
  const freed: u64[] = [];
  while (left > 0) {
    const level = largepageLevel(pt.superpage, iovPfn, phyPfn, left);
    const at = pteAt(ctx, pt, iovPfn, level);
    let old = ctx.memory.read64(at);
    if (level > 1 && present(old) && !superpage(old)) {
      // switch_to_super_page: the small-page tables under this entry go.
      listTables(ctx, old & DMA_PTE_ADDR, level - 1, freed);
      ctx.memory.write64(at, 0n);
      old = 0n;
    }
    if (old !== 0n) {
      const want = (BigInt(phyPfn) << 12n) | attr | (level > 1 ? DMA_PTE_LARGE_PAGE : 0n);
      throw new IntelPgtableError('EEXIST', `ERROR: DMA PTE for vPFN 0x${iovPfn.toString(16)} already set (to ${old.toString(16)} not ${want.toString(16)})`);
    }
    ctx.memory.write64(at, (BigInt(phyPfn) << 12n) | attr | (level > 1 ? DMA_PTE_LARGE_PAGE : 0n));
    const n = lvlPages(level);
    iovPfn += n;
    phyPfn += n;
    left -= n;
  }
  for (const p of freed) ctx.pages.free(p, 1);
  return { flush: freed.length > 0, freed };
}

/** The entry that maps pfn, or where the walk stops: (address, value, level) as pfn_to_dma_pte(target 0). */
function leafOrStop(ctx: PgtableCtx, pt: IntelPgtable, pfn: number): { at: u64; pte: u64; level: number } {
  let table = pt.pgd;
  for (let level = agawToLevels(pt.agaw); ; level--) {
    const at = slot(table, pfn, level);
    const pte = ctx.memory.read64(at);
    if (level === 1 || !present(pte) || superpage(pte)) return { at, pte, level };
    table = pte & DMA_PTE_ADDR;
  }
}

/** dma_pte_clear_level: clear leaves in [start, last] (pfns), collect tables the range covers entirely. */
function clearLevel(ctx: PgtableCtx, level: number, table: u64, pfn0: number, start: number, last: number, freelist: u64[]): void {
  const size = lvlPages(level);
  let pfn = Math.max(start, pfn0);
  let idx = levelIndex(BigInt(pfn) << 12n, level);
  do {
    const levelPfn = pfn - (pfn % size);
    const at = table + BigInt(8 * idx);
    const pte = ctx.memory.read64(at);
    if (present(pte)) {
      if (start <= levelPfn && last >= levelPfn + size - 1) {
        if (level > 1 && !superpage(pte)) listTables(ctx, pte & DMA_PTE_ADDR, level - 1, freelist);
        ctx.memory.write64(at, 0n);
      } else if (level > 1 && !superpage(pte)) {
        clearLevel(ctx, level - 1, pte & DMA_PTE_ADDR, levelPfn, start, last, freelist);
      }
    }
    pfn = levelPfn + size;
    idx++;
  } while (idx < 512 && pfn <= last);
}

/**
 * intel_iommu_unmap: returns the size really unmapped, which is bigger
 * than asked when the IOVA lies in a superpage (or in a hole whose walk
 * stops above the PT level), and the table pages to free after the IOTLB
 * flush (the caller frees them: Linux's gather freelist).
 */
export function domainUnmap(ctx: PgtableCtx, pt: IntelPgtable, iova: u64, size: u64): { size: u64; freelist: u64[] } {
  if ((iova | size) & 0xfffn) throw new IntelPgtableError('EINVAL', `unaligned unmap: iova ${hex(iova)} size ${hex(size)}`);
  if (iova + size > 1n << BigInt(pt.gaw)) throw new IntelPgtableError('EINVAL', `unmap of ${hex(iova)}+${hex(size)} beyond the ${pt.gaw}-bit domain`);
  const { level } = leafOrStop(ctx, pt, Number(iova >> 12n));
  const levelSize = 1n << BigInt(12 + STRIDE * (level - 1));
  if (size < levelSize) {
    size = levelSize;
    // Linux keeps the start as given: fine for the aligned IOVAs the iommu core passes for superpages.
    // An unaligned one would make dma_pte_clear_level walk into the superpage's data; the model aligns down.
    iova &= ~(levelSize - 1n);
  }
  const start = Number(iova >> 12n);
  const last = Number((iova + size - 1n) >> 12n);
  const freelist: u64[] = [];
  clearLevel(ctx, agawToLevels(pt.agaw), pt.pgd, 0, start, last, freelist);
  return { size, freelist };
}

/** intel_iommu_iova_to_phys: walk the tables in memory. */
export function iovaToPhys(ctx: PgtableCtx, pt: IntelPgtable, iova: u64): u64 | undefined {
  if (iova >> BigInt(agawToWidth(pt.agaw)) !== 0n) return undefined;
  const { pte, level } = leafOrStop(ctx, pt, Number(iova >> 12n));
  if (!present(pte)) return undefined;
  const mask = (1n << BigInt(12 + STRIDE * (level - 1))) - 1n;
  return ((pte & DMA_PTE_ADDR) & ~mask) | (iova & mask);
}

/** domain_exit / dma_pte_free_pagetable over the whole domain: every table page back. */
export function freePgtable(ctx: PgtableCtx, pt: IntelPgtable): void {
  const all: u64[] = [];
  listTables(ctx, pt.pgd, agawToLevels(pt.agaw), all);
  for (const p of all) ctx.pages.free(p, 1);
}
