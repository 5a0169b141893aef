/**
 * The DMA path: how a device's memory transaction reaches memory.
 *
 *   device --(bus address)--> [PCIe fabric: inside a host-bridge window?
 *                              -> routed peer to peer, never upstream]
 *          --> [platform interrupt window? -> interrupt request]
 *          --> [IOMMU, when the device's path is 'translated']
 *          --> system bus: RAM, or MMIO such as an ITS doorbell
 *
 * A device's `path` is what its transactions really go through. It is
 * hardware truth, separate from what firmware tells the kernel: QEMU's
 * virtio device without iommu_platform=on uses guest-physical addresses
 * ('bypass') even when an SMMU sits above it; the Arm fast model's legacy
 * virtio-blk is translated like any other PCI master.
 */
import { type u64, hex } from './u64.ts';
import type { Stateful } from './state.ts';
import type { DmaFault, TranslationStep } from './trace.ts';
import type { PciHostBridge } from './pci.ts';

export interface DmaRequest {
  /** StreamID (SMMU) or source-id (VT-d) the IOMMU sees. */
  sid: number;
  ssid?: number;
  addr: u64;
  write: boolean;
  privileged?: boolean;
  exec?: boolean;
}

export interface TranslateOptions {
  /** Write a fault record to the IOMMU's event queue / fault log (default true). */
  record?: boolean;
  /** Consult and fill the IOTLB (default true). A `walk` command turns this off. */
  useTlb?: boolean;
}

export type Translation =
  | { ok: true; pa: u64; steps: TranslationStep[]; iotlbHit: boolean }
  | { ok: false; fault: DmaFault; steps: TranslationStep[] };

/** What the DMA engine needs from an IOMMU model (SMMUv3, VT-d). */
export interface Iommu extends Stateful {
  readonly name: string;
  readonly kind: 'smmuv3' | 'vtd';
  translate(req: DmaRequest, opts?: TranslateOptions): Translation;
}

/** A device that issues DMA, and what its transactions go through. */
export interface DmaMaster {
  name: string;
  /** PCI requester ID, when a PCI function. */
  rid?: number;
  /** StreamID / source-id presented upstream. */
  sid: number;
  path: 'translated' | 'bypass';
  iommu?: Iommu;
  /** The root complex the device sits below (for peer-to-peer routing). */
  rootComplex?: PciHostBridge;
  /**
   * Whether the device's accesses snoop the CPU caches (DT `dma-coherent`).
   * Absent or true: coherent. false: its reads and writes go to RAM only,
   * past whatever the CPU cache (machine/cache.ts) holds.
   */
  coherent?: boolean;
}

export type DmaReadResult = { ok: true; data: Uint8Array } | { ok: false; fault: DmaFault; at: u64 };
export type DmaWriteResult = { ok: true } | { ok: false; fault: DmaFault; at: u64 };

/** A platform's interrupt address window (x86: 0xFEE00000-0xFEEFFFFF). */
export interface InterruptWindow {
  base: u64;
  size: u64;
  /** Deliver a write to the window as an interrupt request. */
  deliver(m: DmaMaster, addr: u64, data: Uint8Array): { ok: boolean; detail: string; fault?: DmaFault };
}

export const busFault = (name: string, detail: string): DmaFault => ({ source: 'bus', code: -1, name, detail, recorded: false });

export const describeFault = (f: DmaFault): string => `${f.source}: ${f.name}${f.code >= 0 ? ` (${hex(f.code)})` : ''}: ${f.detail}`;
