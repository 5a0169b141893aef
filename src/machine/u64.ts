/**
 * Exact unsigned 64-bit arithmetic.
 *
 * Every address, mask, size and IOVA in the model is a `u64`: a bigint kept
 * in [0, 2^64). The helpers wrap exactly where the kernel's u64/dma_addr_t
 * arithmetic wraps (DMA_BIT_MASK(64) + 1 == 0), so nothing above 2^53 is
 * ever silently rounded the way a JS number would round it.
 *
 * Hot paths (page walks, IOTLB lookups) may move to plain numbers for page
 * frame numbers, which always fit (a 52-bit PA has a 40-bit PFN); use
 * `pfnOf` / `fromPfn` at those edges.
 */

export type u64 = bigint;

export const U64_MAX: u64 = 0xffff_ffff_ffff_ffffn;
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_MASK_U64: u64 = ~0xfffn & U64_MAX;

/** Reduce any bigint to its u64 value (two's complement wrap). */
export const u64 = (x: bigint | number): u64 => BigInt.asUintN(64, typeof x === 'number' ? BigInt(x) : x);

export const add = (a: u64, b: u64): u64 => BigInt.asUintN(64, a + b);
export const sub = (a: u64, b: u64): u64 => BigInt.asUintN(64, a - b);
export const mul = (a: u64, b: u64): u64 => BigInt.asUintN(64, a * b);
export const not = (a: u64): u64 => BigInt.asUintN(64, ~a);
export const shl = (a: u64, n: u64 | number): u64 => {
  const s = BigInt(n);
  return s >= 64n ? 0n : BigInt.asUintN(64, a << s);
};
export const shr = (a: u64, n: u64 | number): u64 => {
  const s = BigInt(n);
  return s >= 64n ? 0n : a >> s;
};

/** DMA_BIT_MASK(n) from include/linux/dma-mapping.h: all ones for n == 64. */
export const dmaBitMask = (n: number): u64 => (n >= 64 ? U64_MAX : (1n << BigInt(n)) - 1n);

/** Bits [hi:lo] of v, inclusive, as in the spec tables. */
export const bits = (v: u64, hi: number, lo: number): u64 => (v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
export const bit = (v: u64, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;
/** v with bits [hi:lo] replaced by field (field is masked to the width). */
export const setBits = (v: u64, hi: number, lo: number, field: u64): u64 => {
  const width = BigInt(hi - lo + 1);
  const m = ((1n << width) - 1n) << BigInt(lo);
  return (v & ~m & U64_MAX) | ((field << BigInt(lo)) & m);
};

export const alignDown = (v: u64, a: u64): u64 => v - (v % a);
/** Align up in u64: wraps to 0 past the top, as ALIGN() would. */
export const alignUp = (v: u64, a: u64): u64 => alignDown(add(v, a - 1n), a);

/** The number of the page holding `addr`, as a JS number (exact: < 2^52). */
export const pfnOf = (addr: u64): number => Number(addr >> 12n);
export const fromPfn = (pfn: number): u64 => BigInt(pfn) << 12n;

/** 0x-prefixed lower-case hex, zero-padded to `digits` when given. */
export function hex(v: u64 | number, digits = 0): string {
  const s = v.toString(16);
  return '0x' + (digits > s.length ? s.padStart(digits, '0') : s);
}
/** Hex without the prefix, zero-padded. */
export function hexRaw(v: u64 | number, digits = 0): string {
  const s = v.toString(16);
  return digits > s.length ? s.padStart(digits, '0') : s;
}

/** Human size: 4K, 2M, 1G, 1T, or bytes when not a whole unit. */
export function sizeStr(v: u64): string {
  const units: [u64, string][] = [
    [1n << 60n, 'E'], [1n << 50n, 'P'], [1n << 40n, 'T'], [1n << 30n, 'G'], [1n << 20n, 'M'], [1n << 10n, 'K'],
  ];
  for (const [u, n] of units) if (v >= u && v % u === 0n) return `${v / u}${n}`;
  return `${v}`;
}

export const minU = (a: u64, b: u64): u64 => (a < b ? a : b);
export const maxU = (a: u64, b: u64): u64 => (a > b ? a : b);
/** min_not_zero() from include/linux/minmax.h. */
export const minNotZero = (a: u64, b: u64): u64 => (a === 0n ? b : b === 0n ? a : minU(a, b));
