/**
 * `xen-arm`: Xen on an Arm board (QEMU virt memory map, no SMMU), the
 * hypervisor's view as well as the guests'. Machine RAM is 1 GiB at
 * 0x40000000. dom0 owns the first 256 MiB mapped 1:1 (GFN == MFN, as Xen
 * builds a direct-mapped Arm dom0), one domU has 16 MiB at
 * GUEST_RAM0_BASE on machine frames 0x60000..0x60fff handed out top down
 * (so neighbouring domU pages are never machine-contiguous), and Xen's heap
 * holds the grant-table frames at 0x7f000000. dom0 drives a platform disk
 * controller `sda` without an IOMMU: its bus addresses are machine
 * addresses (plus a dma-ranges offset when set), which is why dom0 needs
 * swiotlb-xen for pages the domU granted.
 *
 * dom0 and the domU are booted when the machine is built (there is no
 * separate `boot`): the `xen ...` commands act on them.
 */
import { Machine } from '../machine/machine.ts';
import { Kernel } from '../kernel/kernel.ts';
import { type Preset, System } from './system.ts';
import { splitCmdline } from './options.ts';
import { XenWorld, XEN_MACHINE_RAM, setXenWorld } from '../kernel/xen/world.ts';
import { XEN_ERAS, type XenEra } from '../kernel/xen/era.ts';
import type { CpuMemory } from '../kernel/xen/swiotlb-xen.ts';
import { CpuCache } from '../machine/cache.ts';

export const xenArm: Preset = {
  name: 'xen-arm',
  summary: 'Xen on Arm (QEMU virt map, no SMMU): dom0 1:1, one domU, grant tables in memory, swiotlb-xen, a disk controller',
  description:
    'Xen on an Arm board with 1 GiB of machine RAM and no SMMU. dom0 (256 MiB, GFN == MFN) runs blkback and swiotlb-xen over a platform disk controller; one domU (16 MiB on scattered machine frames) runs blkfront and grants its pages. Grant tables are frames of machine memory in the v1 format; hypercalls return Xen\'s GNTST_* codes.',
  options: [
    { name: 'kernel', default: '6.x', values: Object.keys(XEN_ERAS), desc: "dom0's Linux era: 3.18 (XENFEAT_grant_map_identity), 3.19 (GNTTABOP_cache_flush), 6.x (current: also the device's DMA offset)", scope: 'kernel' },
    { name: 'xen.cache-flush', default: 'yes', values: ['yes', 'no'], desc: 'the hypervisor implements GNTTABOP_cache_flush (Xen 4.5+); without it dom0 bounces foreign pages for non-coherent devices', scope: 'machine' },
    { name: 'sda.coherent', default: 'yes', values: ['yes', 'no'], desc: 'the disk controller snoops CPU caches (DT dma-coherent)', scope: 'device' },
    { name: 'sda.dma-offset', default: '0', values: ['0', '0x40000000'], desc: "DT dma-ranges: the controller's bus address 0 is CPU physical 0x40000000 (Catalin's point in seed 004)", scope: 'device' },
    { name: 'cmdline', default: '', desc: "dom0's kernel command line (swiotlb=force is honoured)", scope: 'cmdline' },
  ],
  panes: [{ title: 'domU grant table', run: 'xen grants 1' }],
  build(options) {
    const m = new Machine({ name: 'xen-arm', arch: 'aarch64', board: 'QEMU virt running Xen (no SMMU)', cpus: 2, description: xenArm.description });
    m.memory.addRegion({ name: 'machine.ram', base: XEN_MACHINE_RAM.base, size: XEN_MACHINE_RAM.size, kind: 'ram' });
    const cmdline = splitCmdline(options.get('cmdline') ?? '');
    const kernel = new Kernel(cmdline);
    // A coherent controller snoops the CPU caches, which is the same as the
    // CPU reading and writing RAM directly. A non-coherent one does not: the
    // CPU then goes through a write-back cache (machine/cache.ts) that only
    // cache maintenance -- dom0's by address, or Xen's GNTTABOP_cache_flush
    // by machine address -- reconciles with RAM.
    const coherent = (options.get('sda.coherent') ?? 'yes') === 'yes';
    const cache = coherent ? undefined : new CpuCache(m.memory);
    if (cache) m.register('cpu-cache', cache);
    // The machine's cache slot too (issue 14): `cpu read/write/cache` see it, and the DMA
    // engine knows the controller does not snoop it (DmaMaster.coherent false).
    m.cpuCache = cache;
    const cpu: CpuMemory = cache
      ? { read: (pa, len) => cache.read(pa, len), write: (pa, data) => cache.write(pa, data), clean: (pa, len) => cache.clean(pa, len), invalidate: (pa, len) => cache.invalidate(pa, len) }
      : { read: (pa, len) => m.memory.read(pa, len), write: (pa, data) => m.memory.write(pa, data), clean: () => {}, invalidate: () => {} };
    const world = new XenWorld(
      m,
      kernel,
      {
        era: (options.get('kernel') ?? '6.x') as XenEra,
        cacheFlush: (options.get('xen.cache-flush') ?? 'yes') === 'yes',
        coherent,
        dmaOffset: BigInt(options.get('sda.dma-offset') ?? '0'),
        swiotlbForce: (cmdline.get('swiotlb') ?? '').split(',').includes('force'),
      },
      cpu,
    );
    world.xen.cache = cache;
    setXenWorld(m, world);
    return new System(xenArm, options, m, kernel);
  },
};
