/**
 * Xen grant-table throughput on the xen-arm preset: GNTTABOP_map_grant_ref
 * + GNTTABOP_unmap_grant_ref pairs at the hypervisor (the entry's
 * GTF_reading/GTF_writing updated in memory each time), the same through
 * dom0 Linux's gnttab_map_refs/unmap_refs (balloon page, foreign p2m), and
 * a full blkfront -> blkback -> swiotlb-xen -> disk DMA read. Prints one
 * JSON line {title, figures}; scripts/bench.mjs runs it. Target: >= 100k
 * map+unmap pairs per second.
 */
import { xenArm } from '../src/scenarios/xen-arm.ts';
import { xenWorldOf, DOMU_ID } from '../src/kernel/xen/world.ts';
import { GNTMAP_host_map } from '../src/machine/xen/abi.ts';

const perSec = (n: number, ms: number): string => Math.round((n / ms) * 1000).toLocaleString('en-US');
const time = (f: () => void): number => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

const sys = xenArm.build(new Map());
sys.machine.trace.enabled = false;
const w = xenWorldOf(sys.machine)!;
const g = w.front.grantForeignAccess(0, 0x40800, false);
if (!g.ok) throw new Error('grant failed');
const host = 0x4f00_0000n;
const N = 200_000;
for (let i = 0; i < 1000; i++) {
  const r = w.xen.mapGrantRef(0, { host_addr: host, flags: GNTMAP_host_map, ref: g.ref, dom: DOMU_ID });
  w.xen.unmapGrantRef(0, { host_addr: host, dev_bus_addr: 0n, handle: r.handle });
}
const hyp = time(() => {
  for (let i = 0; i < N; i++) {
    const r = w.xen.mapGrantRef(0, { host_addr: host, flags: GNTMAP_host_map, ref: g.ref, dom: DOMU_ID });
    if (r.status !== 0) throw new Error(`map: ${r.status}`);
    if (w.xen.unmapGrantRef(0, { host_addr: host, dev_bus_addr: 0n, handle: r.handle }).status !== 0) throw new Error('unmap');
  }
});
const L = 100_000;
const linux = time(() => {
  for (let i = 0; i < L; i++) {
    const m = w.back.mapRef(DOMU_ID, g.ref, false);
    if (!m.ok) throw new Error(m.message);
    w.back.unmapHandle(m.mapping.handle);
  }
});
w.front.endForeignAccess(g.ref);
const B = 2_000;
const blk = time(() => {
  for (let i = 0; i < B; i++) {
    const s2 = xenArm.build(new Map());
    s2.machine.trace.enabled = false;
    const w2 = xenWorldOf(s2.machine)!;
    if (!w2.blkRead(BigInt(i % 64), 1, 'swiotlb-xen').ok) throw new Error('blk');
  }
});
const build = time(() => {
  for (let i = 0; i < B; i++) xenArm.build(new Map());
});

console.log(
  JSON.stringify({
    title: 'Xen grant tables (xen-arm; measured under shared load)',
    figures: {
      'GNTTABOP map+unmap pairs/s (hypervisor; target >= 100k)': perSec(N, hyp),
      'gnttab_map_refs+unmap_refs pairs/s (dom0 Linux)': perSec(L, linux),
      'blkfront read through swiotlb-xen, /s (incl. preset build)': perSec(B, blk),
      'xen-arm preset builds/s': perSec(B, build),
    },
  }),
);
