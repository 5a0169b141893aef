/**
 * Drill: split an IOVA into page-table indices and the page offset.
 *
 * Arm (io-pgtable-arm, ARM_64_LPAE_S1, as linux
 * drivers/iommu/io-pgtable-arm.c computes it):
 *   bits_per_level = log2(granule) - 3          (8-byte entries: 4K 9, 16K 11, 64K 13)
 *   levels         = ceil((ias - log2(granule)) / bits_per_level)
 *   start level    = 4 - levels                 (ARM_LPAE_START_LVL)
 *   shift(level)   = (4 - level) * bits_per_level + 3   (ARM_LPAE_LVL_SHIFT)
 *   the start level takes the bits left over: ias - shift(start)
 *
 *   4K,  48-bit: [47:39 L0][38:30 L1][29:21 L2][20:12 L3][11:0]
 *   16K, 48-bit: [47 L0][46:36 L1][35:25 L2][24:14 L3][13:0]
 *   64K, 48-bit: [47:42 L1][41:29 L2][28:16 L3][15:0]
 *
 * VT-d second level (legacy mode): 9 bits a level from bit 12: 4-level
 * (AW = 2, 48-bit) PML4 [47:39] PDP [38:30] PD [29:21] PT [20:12];
 * 3-level (AW = 1, 39-bit) starts at PDP (REFERENCE.md 3.3).
 *
 * The tests map each generated IOVA with the lab's page-table builders
 * (io-pgtable-arm, intel-pgtable) and walk it with the hardware models'
 * walkers (walkVmsa, walkSecondLevel), whose steps carry the index read at
 * every level. The model's SMMU walker has only the 4 KiB granule; 16K
 * and 64K answers are checked against the Arm ARM layouts above and by
 * reassembling the IOVA.
 */
import { hex } from '../machine/u64.ts';
import type { Rng } from './rng.ts';
import { type Ask, type Drill, valueAsk } from './drill.ts';

export const TOPIC = 'iova-split';
export const SUMMARY = 'split an IOVA into page-table indices: Arm LPAE 4K/16K/64K granules, VT-d 4-level';

export interface SplitLevel {
  /** "L2", "PD". */
  name: string;
  hi: number;
  lo: number;
  index: number;
}

export type SplitFormat = { kind: 'arm'; granule: 4096 | 16384 | 65536; ias: number } | { kind: 'vtd'; levels: 3 | 4 };

export interface Split {
  levels: SplitLevel[];
  offsetBits: number;
  offset: bigint;
}

const log2 = (n: number): number => 31 - Math.clz32(n);

/** The levels of a format, top first: name and bit range. */
export function levelsOf(f: SplitFormat): { name: string; hi: number; lo: number }[] {
  if (f.kind === 'vtd') {
    const names = ['PT', 'PD', 'PDP', 'PML4'];
    const out = [];
    for (let level = f.levels; level >= 1; level--) out.push({ name: names[level - 1]!, hi: 12 + 9 * level - 1, lo: 12 + 9 * (level - 1) });
    return out;
  }
  const pg = log2(f.granule);
  const bpl = pg - 3;
  const levels = Math.ceil((f.ias - pg) / bpl);
  const start = 4 - levels;
  const out = [];
  for (let l = start; l <= 3; l++) {
    const shift = (4 - l) * bpl + 3;
    const width = l === start ? f.ias - shift : bpl;
    out.push({ name: `L${l}`, hi: shift + width - 1, lo: shift });
  }
  return out;
}

export function splitIova(f: SplitFormat, iova: bigint): Split {
  const levels = levelsOf(f).map((l) => ({ ...l, index: Number((iova >> BigInt(l.lo)) & ((1n << BigInt(l.hi - l.lo + 1)) - 1n)) }));
  const offsetBits = levels[levels.length - 1]!.lo;
  return { levels, offsetBits, offset: iova & ((1n << BigInt(offsetBits)) - 1n) };
}

/** Input bits of a format. */
export const inputBits = (f: SplitFormat): number => (f.kind === 'arm' ? f.ias : 12 + 9 * f.levels);

export function generateFormat(r: Rng): SplitFormat {
  if (r.chance(1, 3)) return { kind: 'vtd', levels: r.chance(3, 4) ? 4 : 3 };
  const granule = r.pick([4096, 4096, 16384, 65536] as const);
  const ias = r.pick(granule === 4096 ? [32, 39, 40, 42, 44, 48, 48] : granule === 16384 ? [36, 40, 42, 47, 48, 48] : [36, 40, 42, 48, 48]);
  return { kind: 'arm', granule, ias };
}

export function generateIova(r: Rng, bits: number): bigint {
  const top = 1n << BigInt(bits);
  switch (r.int(0, 2)) {
    case 0:
      return (top < 1n << 32n ? top : 1n << 32n) - 1n - r.bits(Math.min(bits, 24)); // top-down below 4 GiB
    case 1:
      return top - 1n - r.bits(Math.min(bits, 36)); // top-down from the end of the input range
    default:
      return r.bits(bits);
  }
}

const formatText = (f: SplitFormat): string =>
  f.kind === 'arm'
    ? `an Arm SMMUv3 stage-1 table (io-pgtable-arm), ${f.granule >> 10} KiB granule, ${f.ias}-bit input (T0SZ = ${64 - f.ias})`
    : `Intel VT-d second-level tables, ${f.levels}-level (AW = ${f.levels - 2}, ${inputBits(f)}-bit)`;

export function generate(r: Rng, seed: number): Drill {
  const f = generateFormat(r);
  const iova = generateIova(r, inputBits(f));
  const s = splitIova(f, iova);
  const asks: Ask[] = s.levels.map((l) => valueAsk(l.name, `${l.name} index`, BigInt(l.index), { decimal: true, format: `a number from 0 to ${2 ** (l.hi - l.lo + 1) - 1}` }));
  asks.push(valueAsk('offset', 'page offset', s.offset));
  const diagram = s.levels.map((l) => `[${l.hi === l.lo ? l.hi : `${l.hi}:${l.lo}`} ${l.name}]`).join('') + `[${s.offsetBits - 1}:0 offset]`;
  const working = [
    f.kind === 'arm'
      ? `${f.granule >> 10} KiB granule: ${log2(f.granule)} offset bits, ${log2(f.granule) - 3} index bits a level (a table is one granule of 8-byte entries); ${s.levels.length} levels for ${f.ias} bits, starting at ${s.levels[0]!.name}`
      : `VT-d: 12 offset bits, 9 index bits a level; ${s.levels.length} levels for ${inputBits(f)} bits, starting at ${s.levels[0]!.name}`,
    `layout: ${diagram}`,
    ...s.levels.map((l) => `${l.name.padEnd(4)} = IOVA[${l.hi === l.lo ? l.hi : `${l.hi}:${l.lo}`}] = (${hex(iova)} >> ${l.lo}) & ${hex(2 ** (l.hi - l.lo + 1) - 1)} = ${l.index} (${hex(l.index)})`),
    `offset = IOVA[${s.offsetBits - 1}:0] = ${hex(s.offset)}`,
  ];
  const first = s.levels[0]!;
  return {
    topic: TOPIC,
    seed,
    title: 'split this IOVA into page-table indices',
    question: [`IOVA ${hex(iova)}, translated by ${formatText(f)}.`, 'Give the index at each level, top first, and the offset into the page.'],
    asks,
    working,
    explanation:
      f.kind === 'arm' && first.hi - first.lo + 1 !== log2(f.granule) - 3
        ? `The start level ${first.name} resolves only ${first.hi - first.lo + 1} bit${first.hi === first.lo ? '' : 's'}: its table has ${2 ** (first.hi - first.lo + 1)} entries, not ${2 ** (log2(f.granule) - 3)}.${f.granule === 4096 ? ' `walk DEV IOVA` shows the same indices in a real walk.' : ''}`
        : `Each level's index selects one 8-byte entry in that level's table (${f.kind === 'arm' ? `${2 ** (log2(f.granule) - 3)}` : '512'} a table).${f.kind === 'vtd' || f.granule === 4096 ? ' `walk DEV IOVA` shows the same indices in a real walk.' : ' (The lab\'s SMMU model walks 4 KiB tables only.)'}`,
  };
}
