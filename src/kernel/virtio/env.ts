/**
 * What the virtio drivers need from the rest of the kernel model, and the
 * kernel-era knob that changes their DMA decision.
 *
 * The drivers are functions over plain-data state (VringState,
 * VirtioDevice, VirtioBlk) plus this environment, so the state can be
 * snapshotted with structuredClone and the environment stays outside it.
 */
import type { Machine } from '../../machine/machine.ts';
import type { Kernel } from '../kernel.ts';
import type { PageAllocator } from '../page-alloc.ts';
import type { DmaApi } from '../types.ts';
import type { Kmalloc } from '../kmalloc.ts';

/**
 * Which kernel's vring_use_dma_api() to model (REFERENCE.md 7.7; history
 * table beside vringUseDmaApi in virtio-ring.ts):
 *   '4.9'     v4.8..v4.9: VIRTIO_F_IOMMU_PLATFORM -> DMA API; Xen -> DMA API; else physical
 *   '4.10-rc' v4.10-rc with seed 000's patch: also legacy devices on ARM/arm64 -> DMA API
 *   '4.10'    v4.10 final: the patch reverted (same rule as '4.9')
 *   '6.x'     current: ACCESS_PLATFORM -> DMA API; xen_domain() -> DMA API; else physical
 */
export type VringDmaEra = '4.9' | '4.10-rc' | '4.10' | '6.x';
export const VRING_DMA_ERAS: readonly VringDmaEra[] = ['4.9', '4.10-rc', '4.10', '6.x'];

export interface VirtioKernelConfig {
  era: VringDmaEra;
  /** CONFIG_ARM / CONFIG_ARM64 vs x86: only the '4.10-rc' rule looks at it. */
  arch: 'aarch64' | 'x86_64';
  /** xen_domain(): the kernel runs as a Xen guest (dom0 or domU). */
  xenDomain: boolean;
  /**
   * The kernel version (major*100 + minor, era.ts), for the transport
   * feature bits vring_transport_features keeps (virtio-pci.ts). Default:
   * 615 for '6.x', 410 otherwise.
   */
  version?: number;
}

export interface VirtioEnv {
  /** CPU access to memory and MMIO (machine.memory), and the PCI topology. */
  machine: Machine;
  /** dmesg and simulated time. */
  kernel: Kernel;
  /** The page allocator (alloc_pages_exact for rings that skip the DMA API; request buffers). */
  pages: PageAllocator;
  /** The DMA API the device's `dmaOps` dispatch to (dma-direct, iommu-dma, ...). */
  dma: DmaApi;
  config: VirtioKernelConfig;
  /** kmalloc, for indirect descriptor tables (absent: whole pages from `pages`). */
  kmalloc?: Kmalloc;
  /**
   * The PCI MSI-X layer (kernel/pci-msi.ts), when the machine has an MSI
   * domain: pci_alloc_irq_vectors(nvec, nvec, PCI_IRQ_MSIX) + request_irq
   * for each named vector, and pci_free_irq_vectors. Absent: INTx only.
   */
  msix?: {
    alloc(kdev: import('../types.ts').KDevice, nvec: number, names: readonly string[], o?: { unmask?: boolean; preVectors?: number }): { ok: true } | { ok: false; why: string };
    free(kdev: import('../types.ts').KDevice): void;
  };
}
