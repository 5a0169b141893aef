/**
 * The kernel eras the lab models, one knob (`set kernel=...`) that sets
 * every era-dependent behaviour at once. Each subsystem keeps its own
 * history comment beside the behaviour; this table only maps the era to
 * their knobs.
 */
import type { VringDmaEra } from './virtio/env.ts';
import type { SmmuEra } from './arm-smmu-v3.ts';

export type KernelEra = '4.9' | '4.10-rc' | '4.10' | '6.1' | '6.x';

export interface EraInfo {
  /** major*100 + minor, as the iommu core and dma-iommu compare. */
  version: number;
  /** uname -r, for the banner. */
  release: string;
  smmu: SmmuEra;
  virtio: VringDmaEra;
  what: string;
}

export const KERNEL_ERAS: Record<KernelEra, EraInfo> = {
  '4.9': { version: 409, release: '4.9.0', smmu: '2017', virtio: '4.9', what: 'v4.9 (Dec 2016): the ring uses the DMA API only for IOMMU_PLATFORM devices and Xen' },
  '4.10-rc': {
    version: 410,
    release: '4.10.0-rc4',
    smmu: '2017',
    virtio: '4.10-rc',
    what: 'v4.10-rc with "vring: Force use of DMA API for ARM-based systems with legacy devices" (Jan 2017)',
  },
  '4.10': { version: 410, release: '4.10.0', smmu: '2017', virtio: '4.10', what: 'v4.10 (Feb 2017): that patch reverted before the release' },
  '6.1': { version: 601, release: '6.1.0', smmu: 'current', virtio: '6.x', what: 'Linux 6.1 (Dec 2022, LTS)' },
  '6.x': { version: 612, release: '6.12.0', smmu: 'current', virtio: '6.x', what: 'current Linux: ACCESS_PLATFORM (or Xen) means the DMA API; arm-smmu-v3.disable_bypass gone (v6.10)' },
};
