// The page allocator's policies (src/kernel/page-alloc.ts): the highest zone
// first for GFP_KERNEL; v5.10+ ascending inside the zone ("mm/page_alloc:
// place pages to tail in __free_pages_core()"); before, 4 MiB blocks from the
// top of the zone down, ascending inside a block.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PageAllocator, MAX_ORDER_PAGES } from '../../src/kernel/page-alloc.ts';

// q35 with 8 GiB: 64 MiB-2 GiB below 4 GiB (after the kernel image), 4-10 GiB above.
const RANGES = [{ base: 0x400_0000n, size: 0x7c00_0000n }, { base: 0x1_0000_0000n, size: 0x1_8000_0000n }];

test("'lowest' keeps the given order (hand-built allocators in unit tests)", () => {
  const p = new PageAllocator(RANGES);
  assert.is(p.alloc(), 0x400_0000n);
});

test('v5.10+: ZONE_NORMAL first, from its bottom up; a DMA32 limit goes below 4 GiB', () => {
  const p = new PageAllocator(RANGES, 'zone-ascending');
  assert.is(p.alloc(), 0x1_0000_0000n);
  assert.is(p.alloc(), 0x1_0000_1000n);
  assert.is(p.alloc(4), 0x1_0000_4000n, 'naturally aligned, as the buddy allocator');
  assert.is(p.alloc(1, 0xffff_ffffn), 0x400_0000n);
});

test('before v5.10: the top 4 MiB block of ZONE_NORMAL first, ascending in it, then the block below', () => {
  const p = new PageAllocator(RANGES, 'zone-blocks-from-top');
  const top = 0x2_8000_0000n;
  const blk = top - BigInt(MAX_ORDER_PAGES * 4096);
  assert.is(p.alloc(), blk);
  assert.is(p.alloc(), blk + 0x1000n);
  assert.is(p.alloc(256), blk + 0x10_0000n, 'a 1 MiB allocation, aligned to 1 MiB inside the block');
  // The 1 MiB ended at page 512: fill pages 512-1023; the next page comes from the block below.
  for (let i = 0; i < MAX_ORDER_PAGES - 512; i++) p.alloc();
  assert.is(p.alloc(), blk - 0x40_0000n, 'the block below (pages 2-255 of the first were skipped by the aligned 1 MiB, as the buddy would leave them on smaller lists)');
  assert.is(p.alloc(1, 0xffff_ffffn), 0x8000_0000n - BigInt(MAX_ORDER_PAGES * 4096), 'DMA32: the top block of the low range');
});

test('memblock carves the top of a range before the buddy allocator; the blocks start below it', () => {
  const p = new PageAllocator(RANGES, 'zone-blocks-from-top');
  assert.is(p.memblockAllocTopDown(0x4000, 0xffff_ffffn), 0x7c00_0000n, 'the 64 MiB swiotlb pool at the top of low memory');
  assert.is(p.alloc(1, 0xffff_ffffn), 0x7bc0_0000n);
  assert.throws(() => p.memblockAllocTopDown(1, 0xffff_ffffn), /memblock/, 'not after the buddy allocator has taken blocks there');
});

test.run();
