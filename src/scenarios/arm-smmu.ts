/**
 * The two Arm machines with an SMMUv3 in front of PCI:
 *
 * `arm-fastmodel` — the Arm fast model of January 2017 (seed 000): SMMUv3
 * at 0x2b400000, a GICv3 ITS, a PCIe root complex whose every requester is
 * translated by the SMMU (iommu-map RID -> StreamID, identity), and a
 * legacy-only virtio-blk whose DMA really goes through the SMMU, like any
 * PCI master of the model. The seed's event records carry StreamID 0, so
 * the disk sits at 00:00.0 (RID 0). Memory map: the FVP's DRAM banks at
 * 0x80000000 (2 GiB) and 0x880000000, SMMU and GIC as in the FVP device
 * tree (arch/arm64/boot/dts/arm/fvp-base-revc.dts: pci@40000000 ECAM,
 * iommu-map <0x0 &smmu 0x0 0x10000>, smmu@2b400000); the PCIe windows
 * follow Juno's (mem32 0x50000000/128M, I/O 0x5f800000/8M, 64-bit
 * 0x4000000000/4G). The 2017 model's own device tree was not available:
 * its exact windows are unverified.
 *
 * `qemu-virt-smmuv3` — QEMU `-M virt,iommu=smmuv3` (hw/arm/virt.c: SMMU at
 * 0x09050000, ITS at 0x08080000, iommu-map identity over the root bus)
 * with `-device virtio-blk-pci` at 00:01.0 (StreamID 8). A modern device
 * by default (disable-legacy=on); without iommu_platform=on QEMU's virtio
 * device does not go through the SMMU at all: its DMA uses guest-physical
 * addresses, whatever the guest programs in the SMMU.
 */
import { type u64, alignUp } from '../machine/u64.ts';
import { Machine } from '../machine/machine.ts';
import { PciHostBridge } from '../machine/pci.ts';
import { SmmuV3 } from '../machine/smmuv3/smmuv3.ts';
import { SMMU_REGION_SIZE } from '../machine/smmuv3/regs.ts';
import { addGicV3 } from './gic.ts';
import { MsixNic, MSIX_NIC_BAR } from '../machine/msix-nic.ts';
import { qemu72SmmuOptions } from '../machine/smmuv3/qemu.ts';
import { VirtioBlkDevice } from '../machine/virtio/blk.ts';
import { makeDmaLabDisk } from '../machine/virtio/disk.ts';
import { validateVirtioPciOptions } from '../machine/virtio/virtio-pci.ts';
import { VIRTIO_PCI_LEGACY_BAR, VIRTIO_PCI_MODERN_BAR, VIRTIO_PCI_MSIX_BAR } from '../machine/virtio/virtio-pci-regs.ts';
import { Kernel } from '../kernel/kernel.ts';
import { type OptionDef, type Preset, System } from './system.ts';
import type { Firmware } from '../machine/firmware.ts';
import { parseSizeOption, splitCmdline } from './options.ts';
import { KERNEL_ERAS, type KernelEra } from '../kernel/era.ts';
import { CpuCache } from '../machine/cache.ts';

const ON_OFF = ['on', 'off'];
const onOff = (v: string | undefined): boolean => v === 'on';

/** Kernel parameters every Arm preset accepts (Linux's own names). */
export const CMDLINE_OPTIONS: OptionDef[] = [
  { name: 'iommu.passthrough', default: '', values: ['', '0', '1'], desc: 'default domain: 1 identity (passthrough), 0 translated (kernel parameter)', scope: 'cmdline' },
  { name: 'iommu.strict', default: '', values: ['', '0', '1'], desc: 'unmap invalidation: 1 synchronous (DMA), 0 lazy flush queue (DMA-FQ) (kernel parameter)', scope: 'cmdline' },
  { name: 'arm-smmu-v3.disable_bypass', default: '', values: ['', '0', '1'], desc: 'unattached StreamIDs abort (1) or bypass (0); default 0 in 4.x, removed in v6.10 (kernel parameter)', scope: 'cmdline' },
  { name: 'swiotlb', default: '', desc: 'swiotlb=<nslabs>[,force|noforce] bounce-buffer pool (kernel parameter)', scope: 'cmdline', validate: (v) => (v === '' || /^(?:[0-9]+(?:,[0-9]+)?)?(?:,?(?:force|noforce))?$/.test(v) ? undefined : 'swiotlb=<nslabs>[,<nareas>][,force|noforce], e.g. 32768, 65536,force or noforce') },
  { name: 'cmdline', default: '', desc: 'any other kernel parameters, space separated', scope: 'cmdline' },
];

const DEVICE_OPTIONS = (dev: string, d: { legacy: string; modern: string; platform: string }): OptionDef[] => [
  { name: `${dev}.disable-legacy`, default: d.legacy, values: ON_OFF, desc: 'QEMU property: no legacy (I/O BAR) interface', scope: 'device' },
  { name: `${dev}.disable-modern`, default: d.modern, values: ON_OFF, desc: 'QEMU property: no modern (virtio 1.0) interface; a legacy device has only 32 feature bits', scope: 'device' },
  { name: `${dev}.iommu_platform`, default: d.platform, values: ON_OFF, desc: 'QEMU property: offer VIRTIO_F_ACCESS_PLATFORM (bit 33) and translate DMA through the IOMMU', scope: 'device' },
  {
    name: `${dev}.dma-path`,
    default: 'auto',
    values: ['auto', 'translated', 'bypass'],
    desc: 'what the device\'s DMA really goes through: auto = what this hypervisor does; translated = the IOMMU with its StreamID; bypass = guest-physical addresses',
    scope: 'device',
  },
  // As xen-arm's sda.coherent (issue 14): DT `dma-coherent` on the device's node.
  { name: `${dev}.coherent`, default: 'yes', values: ['yes', 'no'], desc: 'the device snoops CPU caches (DT dma-coherent); no: the machine models the CPU cache and the DMA API must clean/invalidate it (arm64 arch_sync_dma_*)', scope: 'device' },
];

/** CONFIG_DMA_API_DEBUG (kernel/dma-debug.ts), a kernel build option. */
export const DMA_API_DEBUG_OPTION: OptionDef = {
  name: 'dma-api-debug',
  default: 'off',
  values: ['off', 'on', 'all'],
  desc: 'CONFIG_DMA_API_DEBUG=y: kernel/dma/debug.c checks every DMA API call and prints "DMA-API: ..." (on: the first error only, as Linux; all: every error, as debugfs all_errors=1); dma_debug=off on the command line turns it off again',
  scope: 'kernel',
};

export const ERA_OPTION = (def: KernelEra): OptionDef => ({
  name: 'kernel',
  default: def,
  values: Object.keys(KERNEL_ERAS),
  desc: 'the Linux era modelled: 4.9, 4.10-rc (with the Jan 2017 "force DMA API for ARM legacy virtio" patch), 4.10 (patch reverted), 4.11, 4.12, 4.13, 5.14 (seed 003: probe deferral and the mask + 1 overflow), 6.1, 6.x; show kernel explains each',
  scope: 'kernel',
});

interface ArmSmmuBoard {
  preset: string;
  board: string;
  ram: { base: u64; size: u64 }[];
  smmuBase: u64;
  smmuName: string;
  /** Linux's dev_name for the SMMU, from the DT node name. */
  smmuDevName: string;
  itsBase: u64;
  gicdBase: u64;
  /** First redistributor frame (RD_base of CPU 0). */
  gicrBase: u64;
  ecamBase: u64;
  busEnd: number;
  windows: PciHostBridge['windows'];
  /** Inbound dma-ranges of the host bridge (absent: everything goes upstream). */
  dmaRanges?: PciHostBridge['dmaRanges'];
  /** The disk's slot and the hypervisor's DMA path when dma-path=auto. */
  diskDev: number;
  autoPath: (o: { iommuPlatform: boolean }) => 'translated' | 'bypass';
  /** A second PCIe function: a NIC with MSI-X and no kernel driver in the lab (seed 002's passed-through NIC). */
  nicDev?: number;
  unsetSsid: number;
  /** The SMMU is QEMU 7.2's (machine/smmuv3/qemu.ts): its ID registers, its event records, its memory core's split of faulting accesses. */
  qemuSmmu?: boolean;
  /** The disk's ring features when it is not QEMU's (QEMU: indirect_desc and event_idx on). */
  virtioRing?: { indirectDesc: boolean; eventIdx: boolean; badFeature: boolean };
}

/** Everything after option validation: build the machine and its firmware description. */
function buildArmSmmu(preset: Preset, b: ArmSmmuBoard, options: ReadonlyMap<string, string>): System {
  const get = (k: string): string => options.get(k) ?? preset.options.find((o) => o.name === k)!.default;
  const m = new Machine({ name: b.preset, arch: 'aarch64', board: b.board, cpus: 4, description: preset.description });
  const mem = m.memory;
  addGicV3(m, b);
  const smmu = new SmmuV3({ ...(b.qemuSmmu ? qemu72SmmuOptions() : {}), name: b.smmuName, memory: mem, interrupts: m.interrupts, unsetSsid: b.unsetSsid });
  m.qemuFaultSplit = b.qemuSmmu === true;
  mem.addRegion({ name: b.smmuName, base: b.smmuBase, size: SMMU_REGION_SIZE, kind: 'mmio', handler: smmu });
  m.addIommu(smmu);

  const host = new PciHostBridge({ name: 'pcie.0', segment: 0, busStart: 0, busEnd: b.busEnd, ecamBase: b.ecamBase, windows: b.windows, dmaRanges: b.dmaRanges });
  m.addPciHost(host);
  for (const w of host.windows) mem.addRegion({ name: `${host.name}-${w.kind}-window`, base: w.cpuBase, size: w.size, kind: 'mmio', handler: host.windowHandler(w) });
  b.ram.forEach((r, i) => mem.addRegion({ name: b.ram.length > 1 ? `dram${i}` : 'mach-virt.ram', base: r.base, size: r.size, kind: 'ram' }));

  const iommuPlatform = onOff(get('vda.iommu_platform'));
  const dev = new VirtioBlkDevice(m, {
    name: 'vda',
    bdf: { segment: 0, bus: 0, dev: b.diskDev, fn: 0 },
    description: 'SCSI storage controller: Red Hat, Inc. Virtio block device',
    disableLegacy: onOff(get('vda.disable-legacy')),
    disableModern: onOff(get('vda.disable-modern')),
    iommuPlatform,
    // QEMU 7.2 (queue_reset=on from its 7.2 machine type); the fast model and the iProc board are not QEMU.
    queueReset: b.qemuSmmu === true,
    // Seed 000's two events: the fast model's device reads avail.flags after its avail.idx read faulted (machine/virtio/virtio-pci.ts).
    readsFlagsAfterIdxFault: b.preset === 'arm-fastmodel',
    // QEMU 5.2+ virtio-blk-pci: one queue per vCPU when num-queues is unset, vectors = queues + 1.
    ...(b.qemuSmmu ? { numQueues: m.info.cpus, vectors: m.info.cpus + 1 } : {}),
    ...(b.virtioRing ?? {}),
    disk: makeDmaLabDisk('dma-lab-vda'),
  });
  m.addPciFunction(host, dev);
  // Firmware's BAR assignment, lowest addresses first in each window.
  const io = host.windows.find((w) => w.kind === 'io')!;
  const m32 = host.windows.find((w) => w.kind === 'mem32')!;
  const m64 = host.windows.find((w) => w.kind.startsWith('mem64'))!;
  if (dev.legacy) dev.assignBar(VIRTIO_PCI_LEGACY_BAR, alignUp(io.pciBase + 0x1000n, 0x40n));
  if (dev.vectors > 0) dev.assignBar(VIRTIO_PCI_MSIX_BAR, m32.pciBase);
  if (dev.modern) dev.assignBar(VIRTIO_PCI_MODERN_BAR, m64.pciBase);
  if (b.nicDev !== undefined) {
    const nic = new MsixNic(m, { name: 'nic0', bdf: { segment: 0, bus: 0, dev: b.nicDev, fn: 0 }, vendorId: 0x14e4, deviceId: 0x16d7, classCode: 0x020000, description: 'Ethernet controller: Broadcom NetXtreme-E (BCM57414 class; no driver in the lab)', vectors: 8 });
    m.addPciFunction(host, nic);
    nic.assignBar(MSIX_NIC_BAR, m64.pciBase + 0x10_0000n);
    nic.dmaMaster = { ...nic.dmaMaster, path: 'translated', iommu: smmu, rootComplex: host };
    m.masters.set('nic0', nic.dmaMaster);
  }
  const dmaPath = get('vda.dma-path');
  const path = dmaPath === 'auto' ? b.autoPath({ iommuPlatform }) : (dmaPath as 'translated' | 'bypass');
  const coherent = get('vda.coherent') !== 'no';
  dev.dmaMaster = { ...dev.dmaMaster, name: 'vda', rid: dev.rid, sid: dev.rid, path, iommu: smmu, rootComplex: host, ...(coherent ? {} : { coherent: false }) };
  m.masters.set('vda', dev.dmaMaster);
  // A device that does not snoop makes the CPU cache visible: model it (machine/cache.ts).
  if (!coherent) {
    m.cpuCache = new CpuCache(mem);
    m.register('cpu-cache', m.cpuCache);
  }

  const firmware: Firmware = {
    kind: 'dt',
    dmaCoherent: true,
    ...(coherent ? {} : { nonCoherent: ['vda'] }),
    smmus: [{ kind: 'smmuv3', base: b.smmuBase, hw: smmu, devName: b.smmuDevName, streamId: (h, f) => (h === host ? f.rid : undefined) }],
  };
  const cmdline = new Map<string, string>();
  for (const o of preset.options.filter((x) => x.scope === 'cmdline')) {
    const v = options.get(o.name);
    if (v === undefined || v === '') continue;
    if (o.name === 'cmdline') for (const [k, x] of splitCmdline(v)) cmdline.set(k, x);
    else cmdline.set(o.name, v);
  }
  const kernel = new Kernel(cmdline);
  const dbg = preset.options.some((o) => o.name === 'dma-api-debug') ? (get('dma-api-debug') as 'off' | 'on' | 'all') : 'off';
  return new System(preset, options, m, kernel, { firmware, era: get('kernel') as KernelEra, boot: { dmaApiDebug: dbg } });
}

function deviceCheck(options: ReadonlyMap<string, string>, preset: Preset): string | undefined {
  const get = (k: string): string => options.get(k) ?? preset.options.find((o) => o.name === k)!.default;
  return validateVirtioPciOptions({ disableLegacy: onOff(get('vda.disable-legacy')), disableModern: onOff(get('vda.disable-modern')), iommuPlatform: onOff(get('vda.iommu_platform')) });
}

const GiB = 1n << 30n;

export const armFastmodel: Preset = {
  name: 'arm-fastmodel',
  summary: 'Arm fast model, Jan 2017: SMMUv3 at 0x2b400000 translating PCI, legacy virtio-blk, Linux 4.10',
  description:
    'The machine of seed 000: an Arm fast model whose PCIe root complex sits behind an SMMUv3. Its legacy virtio-blk (vda, 00:00.0, StreamID 0) is a PCI master like any other: every access it makes is translated by the SMMU. Linux 4.10 attaches it to a DMA domain, but the virtio ring does not use the DMA API for a legacy device.',
  options: [
    ERA_OPTION('4.10'),
    ...CMDLINE_OPTIONS,
    DMA_API_DEBUG_OPTION,
    ...DEVICE_OPTIONS('vda', { legacy: 'off', modern: 'on', platform: 'off' }),
    { name: 'ram', default: '4G', desc: 'DRAM: 2 GiB at 0x80000000, the rest at 0x880000000', scope: 'machine', validate: (v) => parseSizeOption(v, 1n << 30n, 64n << 30n) },
  ],
  panes: [
    { title: 'SMMU events', run: 'smmu events' },
    { title: 'virtqueue', run: 'info virtio-queue-element vda 0' },
  ],
  validate(options) {
    return deviceCheck(options, armFastmodel);
  },
  build(options) {
    const total = BigInt(parseSizeOption(options.get('ram') ?? '4G', 1n << 30n, 64n << 30n, true)!);
    const low = total < 2n * GiB ? total : 2n * GiB;
    const ram = [{ base: 0x8000_0000n, size: low }];
    if (total > low) ram.push({ base: 0x8_8000_0000n, size: total - low });
    return buildArmSmmu(armFastmodel, {
      preset: 'arm-fastmodel',
      board: 'Arm FVP Base (AEMv8-A) with SMMUv3 and PCIe',
      ram,
      smmuBase: 0x2b40_0000n,
      smmuName: 'smmuv3',
      smmuDevName: '2b400000.smmu',
      itsBase: 0x2f02_0000n,
      gicdBase: 0x2f00_0000n,
      // fvp-base-revc.dts: GICR at 0x2f100000
      gicrBase: 0x2f10_0000n,
      ecamBase: 0x4000_0000n,
      busEnd: 1,
      windows: [
        { kind: 'mem32', cpuBase: 0x5000_0000n, pciBase: 0x5000_0000n, size: 0x800_0000n },
        { kind: 'io', cpuBase: 0x5f80_0000n, pciBase: 0x0n, size: 0x80_0000n },
        { kind: 'mem64-pref', cpuBase: 0x40_0000_0000n, pciBase: 0x40_0000_0000n, size: 0x1_0000_0000n },
      ],
      diskDev: 0,
      autoPath: () => 'translated',
      // The fast model leaves 0xfffff in SubstreamID when SSV=0 (seed 000's dword 0).
      unsetSsid: 0xfffff,
      // The FVP's virtio-blk is not QEMU's and its feature set is not documented. Seed 000's
      // second event is a read of avail.flags, which a device reads when EVENT_IDX is not in
      // use (a 4.10 driver accepts EVENT_IDX whenever offered): so no EVENT_IDX. No indirect
      // descriptors either (unverified; the thread's dump does not show a request's layout), and
      // not QEMU's VIRTIO_F_BAD_FEATURE.
      virtioRing: { indirectDesc: false, eventIdx: false, badFeature: false },
    }, options);
  },
};

export const qemuVirtSmmuv3: Preset = {
  name: 'qemu-virt-smmuv3',
  summary: 'QEMU virt, iommu=smmuv3: modern virtio-blk that bypasses the SMMU unless iommu_platform=on',
  description:
    'QEMU -M virt,iommu=smmuv3 -device virtio-blk-pci,disable-legacy=on[,iommu_platform=on]. The SMMUv3 (0x09050000) translates PCI requesters by StreamID = RID. QEMU\'s virtio device goes through the SMMU only with iommu_platform=on, which also offers VIRTIO_F_ACCESS_PLATFORM; without it the device uses guest-physical addresses.',
  options: [
    ERA_OPTION('6.x'),
    ...CMDLINE_OPTIONS,
    DMA_API_DEBUG_OPTION,
    ...DEVICE_OPTIONS('vda', { legacy: 'on', modern: 'off', platform: 'off' }),
    { name: 'ram', default: '1G', desc: 'RAM at 0x40000000 (QEMU -m)', scope: 'machine', validate: (v) => parseSizeOption(v, 128n << 20n, 255n << 30n) },
  ],
  panes: [
    { title: 'SMMU events', run: 'smmu events' },
    { title: 'virtqueue', run: 'info virtio-queue-element vda 0' },
  ],
  validate(options) {
    return deviceCheck(options, qemuVirtSmmuv3);
  },
  build(options) {
    const ram = BigInt(parseSizeOption(options.get('ram') ?? '1G', 128n << 20n, 255n << 30n, true)!);
    return buildArmSmmu(qemuVirtSmmuv3, {
      preset: 'qemu-virt-smmuv3',
      board: 'QEMU virt (gic-version=3, iommu=smmuv3)',
      ram: [{ base: 0x4000_0000n, size: ram }],
      smmuBase: 0x0905_0000n,
      smmuName: 'smmuv3',
      smmuDevName: '9050000.smmuv3',
      itsBase: 0x0808_0000n,
      gicdBase: 0x0800_0000n,
      // hw/arm/virt.c VIRT_GIC_REDIST
      gicrBase: 0x080a_0000n,
      ecamBase: 0x3f00_0000n,
      busEnd: 15,
      windows: [
        { kind: 'mem32', cpuBase: 0x1000_0000n, pciBase: 0x1000_0000n, size: 0x2eff_0000n },
        { kind: 'io', cpuBase: 0x3eff_0000n, pciBase: 0x0n, size: 0x1_0000n },
        { kind: 'mem64-pref', cpuBase: 0x80_0000_0000n, pciBase: 0x80_0000_0000n, size: 0x80_0000_0000n },
      ],
      diskDev: 1,
      autoPath: (o) => (o.iommuPlatform ? 'translated' : 'bypass'),
      unsetSsid: 0,
      qemuSmmu: true,
    }, options);
  },
};

/** arm-smmu-v3.msi_iova_base: seed 002's proposed parameter (kernel/arm-smmu-v3.ts msiIovaBase). */
const MSI_IOVA_BASE_OPTION: OptionDef = {
  name: 'arm-smmu-v3.msi_iova_base',
  default: '',
  desc: "the SW_MSI window's base, default 0x8000000 (MSI_IOVA_BASE); seed 002's RFC proposed this parameter (never merged): the lab applies it to the SMMUv3 driver (kernel parameter)",
  scope: 'cmdline',
  validate: (v) => (v === '' || (/^0x[0-9a-f]+$/i.test(v) && (BigInt(v) & 0xfffffn) === 0n && BigInt(v) < 1n << 48n) ? undefined : 'a 1 MiB-aligned address below 2^48 in hex, e.g. 0xa0000000'),
};

export const armIprocSmmuv3: Preset = {
  name: 'arm-iproc-smmuv3',
  summary: "seed 002's platform class: SMMUv3 + ITS, a PCIe host bridge whose inbound dma-ranges leave out 0x8000000",
  description:
    "A Broadcom iProc-class arm64 board (seed 002, May 2020), illustrative memory map: the PCIe host bridge forwards device requests upstream only for its inbound dma-ranges (0x80000000-0xffffffff and 0x800000000-0xfffffffff, where the RAM is), so a device write to IOVA 0x8000000 -- the SMMU driver's hard-coded SW_MSI window -- never reaches the SMMU or the ITS. Kernel DMA domains avoid the gaps (aadad097cd46); VFIO's unmanaged domain does not. arm-smmu-v3.msi_iova_base moves the window (the RFC's proposal). A modern virtio-blk with iommu_platform=on stands in for the thread's NIC.",
  options: [
    ERA_OPTION('6.1'),
    ...CMDLINE_OPTIONS,
    DMA_API_DEBUG_OPTION,
    MSI_IOVA_BASE_OPTION,
    ...DEVICE_OPTIONS('vda', { legacy: 'on', modern: 'off', platform: 'on' }),
  ],
  panes: [
    { title: 'SMMU events', run: 'smmu events' },
    { title: 'VFIO', run: 'vfio maps' },
  ],
  validate(options) {
    return deviceCheck(options, armIprocSmmuv3);
  },
  build(options) {
    return buildArmSmmu(armIprocSmmuv3, {
      preset: 'arm-iproc-smmuv3',
      board: 'iProc-class arm64 board (illustrative memory map)',
      ram: [{ base: 0x8000_0000n, size: 2n * GiB }, { base: 0x8_8000_0000n, size: 2n * GiB }],
      smmuBase: 0x6400_0000n,
      smmuName: 'smmuv3',
      smmuDevName: '64000000.smmu',
      itsBase: 0x63c2_0000n,
      gicdBase: 0x63c0_0000n,
      gicrBase: 0x63e0_0000n,
      ecamBase: 0x6000_0000n,
      busEnd: 15,
      windows: [
        { kind: 'mem32', cpuBase: 0x4000_0000n, pciBase: 0x4000_0000n, size: 0x2000_0000n },
        { kind: 'io', cpuBase: 0x6200_0000n, pciBase: 0x0n, size: 0x1_0000n },
        { kind: 'mem64-pref', cpuBase: 0x40_0000_0000n, pciBase: 0x40_0000_0000n, size: 0x40_0000_0000n },
      ],
      dmaRanges: [
        { pciBase: 0x8000_0000n, size: 0x8000_0000n },
        { pciBase: 0x8_0000_0000n, size: 0x8_0000_0000n },
      ],
      diskDev: 1,
      nicDev: 2,
      autoPath: (o) => (o.iommuPlatform ? 'translated' : 'bypass'),
      unsetSsid: 0,
    }, options);
  },
};
