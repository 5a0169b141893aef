/**
 * The Xen-on-Arm kernel eras of seed 004's thread (Nov 2014), as an option
 * of the Xen preset rather than entries of kernel/era.ts: that table's
 * entries carry SMMU and virtio eras (all v4.9+) and every other preset
 * offers all of its entries as `kernel=` values, so a 3.18 entry there would
 * offer 2014 kernels on machines the lab models only from 2016 on. Here the
 * knob changes only what differs for dom0 on Xen.
 *
 * Versions are from the thread's date and series; the exact releases are
 * **approximate** (not verified against a tag):
 * - '3.18': XENFEAT_grant_map_identity. Xen (4.5-unstable) also mapped every
 *   grant at GFN == MFN in dom0, so dom0 could reach a foreign page by its
 *   machine address to clean or invalidate it (arch/arm/xen/mm32.c
 *   xen_mm32_remap_page; CONFIG_XEN_DOM0 had to depend on ARM_LPAE).
 *   Reverted by Stefano Stabellini in the seed-004 series.
 * - '3.19': GNTTABOP_cache_flush. dom0 asks Xen to do the maintenance by
 *   machine address, one hypercall per Xen page (arch/arm/xen/mm.c
 *   dma_cache_maint); without the hypercall (hypercall_cflush false) foreign
 *   pages for non-coherent devices are bounced. swiotlb-xen's bus address
 *   is Xen's machine address itself: no device DMA offset (Catalin's point).
 * - '6.x': current: the same cache-flush path, and xen_phys_to_dma() applies
 *   the device's phys_to_dma offset after Xen's pfn -> bfn translation.
 */
export type XenEra = '3.18' | '3.19' | '6.x';

export interface XenEraInfo {
  release: string;
  /** Xen advertises and dom0 uses XENFEAT_grant_map_identity. */
  grantMapIdentity: boolean;
  /** dom0 probes for GNTTABOP_cache_flush (hypercall_cflush). */
  probesCacheFlush: boolean;
  /** xen_phys_to_dma applies the device's DMA offset (current swiotlb-xen). */
  dmaOffset: boolean;
  what: string;
}

export const XEN_ERAS: Record<XenEra, XenEraInfo> = {
  '3.18': { release: '3.18.0', grantMapIdentity: true, probesCacheFlush: false, dmaOffset: false, what: 'Linux 3.18-era dom0 with XENFEAT_grant_map_identity (version approximate)' },
  '3.19': { release: '3.19.0', grantMapIdentity: false, probesCacheFlush: true, dmaOffset: false, what: 'Linux 3.19-era dom0 with GNTTABOP_cache_flush (version approximate)' },
  '6.x': { release: '6.12.0', grantMapIdentity: false, probesCacheFlush: true, dmaOffset: true, what: 'current Linux: GNTTABOP_cache_flush, xen_phys_to_dma with the device DMA offset' },
};
