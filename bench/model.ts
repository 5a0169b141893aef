/**
 * Model throughput, on the real stack (no fakes): qemu-virt-smmuv3 booted
 * with vda.iommu_platform=on, so the disk is translated by the SMMUv3 and
 * its driver maps through iommu-dma, arm-smmu-v3 and io-pgtable-arm.
 * Prints one JSON line {title, figures}; scripts/bench.mjs runs it.
 */
import { createSession } from '../src/commands/index.ts';
import { DMA_BIDIRECTIONAL, DMA_MAPPING_ERROR } from '../src/kernel/types.ts';
import { blkRead } from '../src/kernel/virtio/virtio-blk.ts';
import { benchMapUnmap } from '../src/kernel/dma-iommu.ts';

const perSec = (n: number, ms: number): string => Math.round((n / ms) * 1000).toLocaleString('en-US');
const time = (f: () => void): number => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

const s = createSession('qemu-virt-smmuv3', new Map([['vda.iommu_platform', 'on'], ['iommu.strict', '1']]));
const boot = s.execute('boot');
if (!boot.ok) throw new Error('boot failed');
const linux = s.system.linux!;
const dev = linux.device('vda')!;
const smmu = dev.master.iommu!;
const sid = dev.master.sid;
s.machine.trace.enabled = false;

// A mapped IOVA to translate: map one page of RAM.
const pa = 0x4800_0000n;
const iova = linux.dma.mapSingle(dev, pa, 4096, DMA_BIDIRECTIONAL);
if (iova === DMA_MAPPING_ERROR) throw new Error('map failed');
const N = 1_000_000;
smmu.translate({ sid, addr: iova, write: false });
const hitMs = time(() => {
  for (let i = 0; i < N; i++) smmu.translate({ sid, addr: iova + BigInt(i & 0xff8), write: false });
});
const W = 100_000;
const walkMs = time(() => {
  for (let i = 0; i < W; i++) smmu.translate({ sid, addr: iova, write: false }, { useTlb: false });
});

function mapUnmap(live: number, pairs: number): string {
  const kept: bigint[] = [];
  for (let i = 0; i < live; i++) {
    const d = linux.dma.mapSingle(dev, pa, 4096, DMA_BIDIRECTIONAL);
    if (d === DMA_MAPPING_ERROR) throw new Error(`mapping ${i} failed`);
    kept.push(d);
  }
  const ms = time(() => {
    for (let i = 0; i < pairs; i++) {
      const d = linux.dma.mapSingle(dev, pa, 4096, DMA_BIDIRECTIONAL);
      linux.dma.unmapSingle(dev, d, 4096, DMA_BIDIRECTIONAL);
    }
  });
  for (const d of kept) linux.dma.unmapSingle(dev, d, 4096, DMA_BIDIRECTIONAL);
  return perSec(pairs, ms);
}
const small = mapUnmap(1_000, 200_000);
const big = mapUnmap(1_000_000, 200_000);

// The same pairs on a lazy (DMA-FQ, iommu.strict=0) domain: invalidations batched by the flush queue.
const lazy = createSession('qemu-virt-smmuv3', new Map([['vda.iommu_platform', 'on'], ['iommu.strict', '0']]));
if (!lazy.execute('boot').ok) throw new Error('boot failed');
lazy.machine.trace.enabled = false;
const ll = lazy.system.linux!;
const ldev = ll.device('vda')!;
const lazyMs = time(() => {
  for (let i = 0; i < 200_000; i++) {
    const d = ll.dma.mapSingle(ldev, pa, 4096, DMA_BIDIRECTIONAL);
    ll.dma.unmapSingle(ldev, d, 4096, DMA_BIDIRECTIONAL);
  }
});

const blk = linux.disks.get('vda')!;
const R = 2_000;
const readMs = time(() => {
  for (let i = 0; i < R; i++) {
    const r = blkRead(linux.env, dev, blk, BigInt(2048 + (i % 64) * 8), 8);
    if (!r.ok) throw new Error(r.error);
  }
});

console.log(
  JSON.stringify({
    title: 'model throughput (qemu-virt-smmuv3, iommu_platform=on, real SMMUv3 + iommu-dma stack)',
    figures: {
      'SMMUv3 translations/s, IOTLB hit (target >= 1,000,000)': perSec(N, hitMs),
      'SMMUv3 translations/s, full 4-level walk': perSec(W, walkMs),
      'dma map+unmap pairs/s, strict, 1,000 live mappings': small,
      'dma map+unmap pairs/s, strict, 1,000,000 live mappings': big,
      'dma map+unmap pairs/s, lazy (DMA-FQ)': perSec(200_000, lazyMs),
      'virtio-blk 4 KiB reads/s end to end': perSec(R, readMs),
      'iommu-dma + IOVA allocator only (map-only driver), 1,000 live': Math.round(benchMapUnmap(1_000, 200_000)).toLocaleString('en-US'),
      'iommu-dma + IOVA allocator only (map-only driver), 1,000,000 live': Math.round(benchMapUnmap(1_000_000, 200_000)).toLocaleString('en-US'),
    },
  }),
);
