/**
 * Drill: does a streaming mapping bounce through swiotlb? A device
 * without an IOMMU gets dma-direct (REFERENCE.md 5.4, linux
 * kernel/dma/direct.h dma_direct_map_phys / dma_direct_map_page):
 *
 *   dma = phys_to_dma(pa)                      (= pa here: no dma-ranges offset)
 *   swiotlb=force                     -> bounce
 *   !dma_capable(dev, dma, size)      -> bounce if there is a pool, else DMA_MAPPING_ERROR
 *   otherwise                         -> the buffer's own address
 *
 *   dma_capable: dma + size - 1 <= min_not_zero(*dev->dma_mask, dev->bus_dma_limit)
 *
 * The tests run every generated case through the lab's DmaDirect and
 * Swiotlb (src/kernel/dma-direct.ts, swiotlb.ts) and compare the outcome
 * (own address, bounce slot, or DMA_MAPPING_ERROR).
 */
import { hex, dmaBitMask, minNotZero, U64_MAX } from '../machine/u64.ts';
import type { Rng } from './rng.ts';
import { type Drill, valueAsk, wordAsk } from './drill.ts';

export const TOPIC = 'swiotlb';
export const SUMMARY = "say whether a buffer bounces through swiotlb, from the device's DMA mask and the buffer's address";

export type PoolMode = 'pool' | 'force' | 'none';
export type BounceOutcome = 'direct' | 'bounce' | 'fail';

export interface BounceCase {
  maskBits: number;
  /** dev->bus_dma_limit from firmware dma-ranges; 0 = none. */
  busLimit: bigint;
  pa: bigint;
  size: number;
  pool: PoolMode;
}

/** Where the tests' (and the question's) bounce pool lies: below every limit generated. */
export const POOL_BELOW = 0x4000_0000n;

export function generateCase(r: Rng): BounceCase {
  const maskBits = r.pick([30, 32, 32, 32, 36, 40, 48, 64]);
  const busLimit = r.chance(1, 4) ? r.pick([0x3fff_ffffn, 0xffff_ffffn, 0xf_ffff_ffffn, 0xff_ffff_ffffn]) : 0n;
  const size = r.pick([64, 512, 1536, 4096, 4096, 8192, 0x10000]);
  const pool: PoolMode = r.chance(1, 8) ? 'force' : r.chance(1, 7) ? 'none' : 'pool';
  const limit = minNotZero(dmaBitMask(maskBits), busLimit);
  let pa: bigint;
  if (limit === U64_MAX) pa = 0x8000_0000n + (r.bits(30) << 6n);
  else {
    const end = limit + 1n;
    const sz = BigInt(size);
    switch (r.int(0, 3)) {
      case 0: // straddles the limit: the first byte fits, the last does not
        pa = end - (BigInt(r.int(1, Math.max(1, size / 64 - 1))) * 64n) % sz;
        if (pa === end) pa = end - 64n;
        break;
      case 1: // the last byte is exactly at the limit
        pa = end - sz;
        break;
      case 2: // well below
        pa = end - sz - (r.bits(16) << 12n);
        break;
      default: // above
        pa = end + (r.bits(20) << 12n);
    }
    if (pa < POOL_BELOW) pa = POOL_BELOW + (r.bits(16) << 12n);
  }
  return { maskBits, busLimit, pa, size, pool };
}

export function outcome(c: BounceCase): { last: bigint; limit: bigint; capable: boolean; result: BounceOutcome } {
  const limit = minNotZero(dmaBitMask(c.maskBits), c.busLimit);
  const last = c.pa + BigInt(c.size) - 1n;
  const capable = last <= limit;
  const result: BounceOutcome = c.pool === 'force' ? 'bounce' : capable ? 'direct' : c.pool === 'pool' ? 'bounce' : 'fail';
  return { last, limit, capable, result };
}

const POOL_TEXT: Record<PoolMode, string> = {
  pool: 'The kernel set up the swiotlb bounce pool at boot (RAM reaches above 4 GiB); the pool lies below 1 GiB.',
  force: 'The kernel was booted with swiotlb=force; the pool lies below 1 GiB.',
  none: 'The kernel was booted with swiotlb=noforce: there is no bounce pool.',
};

export function generate(r: Rng, seed: number): Drill {
  const c = generateCase(r);
  const o = outcome(c);
  const mask = dmaBitMask(c.maskBits);
  const words: Record<BounceOutcome, string[]> = {
    direct: ['direct', 'no', 'own', 'none'],
    bounce: ['bounce', 'bounces', 'yes', 'swiotlb'],
    fail: ['fail', 'fails', 'error', 'dma_mapping_error'],
  };
  const working = [
    `phys_to_dma(${hex(c.pa)}) = ${hex(c.pa)} (no dma-ranges offset)`,
    `last byte = ${hex(c.pa)} + ${c.size} - 1 = ${hex(o.last)}`,
    `limit = min_not_zero(dma_mask ${hex(mask)}, bus_dma_limit ${hex(c.busLimit)}) = ${hex(o.limit)}`,
    `dma_capable: ${hex(o.last)} ${o.capable ? '<=' : '>'} ${hex(o.limit)} -> ${o.capable ? 'true' : 'false'}`,
    c.pool === 'force'
      ? 'swiotlb=force: dma-direct bounces every mapping, reachable or not -> bounce'
      : o.capable
        ? 'reachable and not forced: the device gets the buffer\'s own address -> direct'
        : c.pool === 'pool'
          ? 'not reachable, and the pool is there: the data is copied to a slot below the limit -> bounce'
          : 'not reachable and no pool: dma_map_single returns DMA_MAPPING_ERROR ("DMA addr ... overflow") -> fail',
  ];
  return {
    topic: TOPIC,
    seed,
    title: 'does this mapping bounce through swiotlb?',
    question: [
      `A PCI device without an IOMMU (dma-direct) has dma_mask DMA_BIT_MASK(${c.maskBits}) = ${hex(mask)}${c.busLimit ? ` and bus_dma_limit ${hex(c.busLimit)} (from the host bridge's dma-ranges)` : ', no bus_dma_limit'}.`,
      POOL_TEXT[c.pool],
      `Its driver calls dma_map_single() on ${c.size} bytes at physical address ${hex(c.pa)}, DMA_TO_DEVICE.`,
    ],
    asks: [
      valueAsk('last', "bus address of the buffer's last byte", o.last),
      wordAsk('result', 'direct, bounce or fail', o.result, words[o.result], { format: 'direct (its own address) | bounce (a swiotlb slot) | fail (DMA_MAPPING_ERROR)' }),
    ],
    working,
    explanation:
      o.result === 'bounce'
        ? 'A bounce costs a copy on map (to the device) or unmap (from it) and a slot of the pool: `dma map DEV ...` then `trace` shows it in the lab.'
        : o.result === 'fail'
          ? 'Without a pool nothing can rescue an unreachable buffer: the driver must check dma_mapping_error() or the device DMAs to a wrong address.'
          : 'dma_capable compares the last byte, not the first: a buffer that starts below the limit and ends above it still bounces.',
  };
}
