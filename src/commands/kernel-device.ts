/**
 * What the kernel- and SMMU-facing commands share: the booted kernel (or a
 * clear error saying to boot), a device argument resolved to the kernel's
 * struct device, the machine's SMMUv3 (or a clear error on a machine
 * without one), and small renderers for DMA directions.
 */
import { INTEL_IOMMU_DMA_VERSION } from '../kernel/intel-iommu.ts';
import type { u64 } from '../machine/u64.ts';
import { SmmuV3 } from '../machine/smmuv3/smmuv3.ts';
import type { Linux } from '../kernel/linux.ts';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, DMA_DIR_NAMES, type DmaDirection, type KDevice } from '../kernel/types.ts';
import { CommandError, type SourceSpan } from './errors.ts';
import { findMaster, type DeviceRef } from './devices.ts';
import type { DmaMaster } from '../machine/dma.ts';
import type { Session } from './session.ts';

export const NOT_BOOTED = "the kernel has not booted: run 'boot' first";

/** The booted kernel, or the error every kernel-facing command gives before `boot`. */
export function needLinux(s: Session, sp: SourceSpan | undefined): Linux {
  const linux = s.system.linux;
  if (linux && s.kernel.booted) return linux;
  const bootable = s.system.extras.era !== undefined;
  throw new CommandError(
    NOT_BOOTED,
    sp,
    undefined,
    bootable ? 'boot' : `${s.system.preset.name} has no kernel to boot: machine arm-fastmodel or machine qemu-virt-smmuv3`,
  );
}

export interface KernelDeviceRef {
  ref: DeviceRef & { master: DmaMaster };
  dev: KDevice;
  linux: Linux;
}

/**
 * DEV ("vda" or a PCI address) as the booted kernel's struct device. A name
 * the machine does not know is reported first (it is wrong whether or not
 * the kernel booted), then a missing boot.
 */
export function kernelDevice(s: Session, text: string, sp: SourceSpan | undefined): KernelDeviceRef {
  const ref = findMaster(s, text, sp);
  const linux = needLinux(s, sp);
  const dev = linux.device(ref.name) ?? (ref.pci ? linux.devices.find((d) => d.pci === ref.pci) : undefined);
  if (!dev) throw new CommandError(`the booted kernel has no struct device for ${ref.name}`, sp, 'a device the kernel probed', "'info pci' and 'dmesg' show what was found");
  return { ref, dev, linux };
}

/** A short label for a kernel device: "vda (0000:00:00.0)". */
export const devLabel = (dev: KDevice): string => (dev.alias ? `${dev.alias} (${dev.name})` : dev.name);

/**
 * The name of a device's DMA ops as the booted kernel has them: before
 * v5.11 (the conversion to iommu-dma) a device behind intel-iommu used
 * intel-iommu's own intel_dma_ops, not iommu-dma (issue 11 item 7; the
 * model's mapping path is iommu-dma's either way, see README).
 */
export function dmaOpsName(linux: Linux | undefined, dev: KDevice): string {
  // v4.x intel_iommu_init set the global dma_ops = &intel_dma_ops: identity-mapped devices
  // went through it too (iommu_no_mapping handed back the physical address).
  if (linux?.intel && linux.intel.privateDomains() && dev.iommuName === linux.intel.name && linux.core.config.version < 500) return 'intel_dma_ops';
  if (dev.dmaOps !== 'iommu') return 'dma-direct';
  return linux?.intel && dev.iommuName === linux.intel.name && linux.core.config.version < INTEL_IOMMU_DMA_VERSION ? 'intel_dma_ops' : 'iommu-dma';
}

/**
 * A device's domain as the booted kernel has it, for one-line summaries:
 * "default domain DMA", or on v4.x intel-iommu (no default domains) the
 * private domain intel_dma_ops made at the device's first mapping, if any.
 */
export function domainText(linux: Linux, dev: KDevice, defaultType: string | undefined): string {
  if (linux.intel?.privateDomains() && dev.iommuName === linux.intel.name && linux.core.policy.type === 'identity') return "si_domain, the static identity domain of iommu=pt (v4.x had no default domains; the lab's per-group identity domain stands for it)";
  if (!linux.core.usesPrivateDomains(dev)) return `default domain ${defaultType ?? 'none'}`;
  const d = linux.core.getDmaDomain(dev);
  if (!d) return 'no domain yet (v4.x intel-iommu had no default domains; intel_dma_ops makes a private one at the first DMA mapping)';
  const tag = linux.intel?.domainTag(d);
  return `its private domain${tag ? ` (${tag})` : ''}, made by intel_dma_ops at its first DMA mapping (v4.x: no default domains)`;
}

/** The machine's SMMUv3, or an error that says this machine has none. */
export function needSmmu(s: Session, sp: SourceSpan | undefined): SmmuV3 {
  const smmu = s.machine.iommus.find((i): i is SmmuV3 => i instanceof SmmuV3);
  if (smmu) return smmu;
  throw new CommandError(
    `${s.system.preset.name} has no SMMU${s.machine.iommus.length ? ` (its IOMMUs: ${s.machine.iommus.map((i) => `${i.name} ${i.kind}`).join(', ')})` : ': nothing translates its DMA'}`,
    sp,
    undefined,
    'machine arm-fastmodel or machine qemu-virt-smmuv3',
  );
}

/** Where an MMIO handler sits in the physical memory map (its register frame base). */
export function mmioBase(s: Session, handler: unknown): u64 | undefined {
  return s.machine.memory.listRegions().find((r) => r.kind === 'mmio' && r.handler === handler)?.base;
}

/** DMA directions as users may type them: Linux's enum names or the short forms. */
export const DIR_CHOICES = ['to_device', 'from_device', 'bidirectional', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE', 'DMA_BIDIRECTIONAL'] as const;

export function parseDir(text: string): DmaDirection {
  const t = text.toUpperCase().replace(/^DMA_/, '');
  if (t === 'TO_DEVICE') return DMA_TO_DEVICE;
  if (t === 'FROM_DEVICE') return DMA_FROM_DEVICE;
  return DMA_BIDIRECTIONAL;
}

export const dirName = (d: DmaDirection): string => DMA_DIR_NAMES[d];
