/**
 * `x86-q35-vtd`: QEMU's q35 machine with an emulated Intel IOMMU, as
 *
 *   qemu-system-x86_64 -M q35,kernel-irqchip=split -m 8G -nodefaults \
 *     -device intel-iommu,intremap=on \
 *     -device virtio-blk-pci,disable-legacy=on,iommu_platform=on,drive=d0 \
 *     -device e1000e,netdev=n0
 *
 * PCI (bus 0): 00:00.0 host bridge (8086:29c0), 00:01.0 virtio-blk
 * (1af4:1042), 00:02.0 e1000e (8086:10d3), and the ICH9 functions 00:1f.0
 * LPC/ISA bridge (8086:2918), 00:1f.2 AHCI (8086:2922), 00:1f.3 SMBus
 * (8086:2930) that q35 always has. Memory map (hw/i386/pc_q35.c, pc.c):
 * RAM below 4 GiB up to 2 GiB when there is more than 2.75 GiB, the rest
 * from 4 GiB; PCIe ECAM (MMCONFIG) at 0xb0000000; the 32-bit PCI windows
 * around it up to 0xfebfffff; IOAPIC 0xfec00000, HPET 0xfed00000, the
 * DMAR unit 0xfed90000, the interrupt (MSI) window 0xfee00000; the 64-bit
 * window of 32 GiB from the first 1 GiB boundary above RAM.
 *
 * Emulated PCI devices translate through the IOMMU. QEMU's virtio device
 * does so only with iommu_platform=on; without it its DMA bypasses VT-d
 * although the DMAR (INCLUDE_PCI_ALL) tells the guest it is covered —
 * the mismatch Woodhouse called out in 2015 (seed 001).
 *
 * `x86-q35-vtd-2015` is that era: a transitional virtio-blk without
 * iommu_platform (the property did not exist yet), a 4.9-era kernel.
 */
import { type u64, alignUp } from '../machine/u64.ts';
import { Machine } from '../machine/machine.ts';
import { PciFunction, PciHostBridge, type Bdf } from '../machine/pci.ts';
import { MsixNic } from '../machine/msix-nic.ts';
import { MmioStub } from '../machine/mmio-stub.ts';
import { VtdUnit } from '../machine/vtd/vtd.ts';
import { VTD_REG_SIZE } from '../machine/vtd/regs.ts';
import { X86InterruptWindow } from '../machine/vtd/interrupt-window.ts';
import { Q35_HOST_BRIDGE_IOMMU_ADDR, encodeDmar, qemuQ35Dmar } from '../machine/dmar.ts';
import { VirtioBlkDevice } from '../machine/virtio/blk.ts';
import { makeDmaLabDisk } from '../machine/virtio/disk.ts';
import { validateVirtioPciOptions } from '../machine/virtio/virtio-pci.ts';
import { VIRTIO_PCI_LEGACY_BAR, VIRTIO_PCI_MODERN_BAR, VIRTIO_PCI_MSIX_BAR } from '../machine/virtio/virtio-pci-regs.ts';
import type { DmaMaster } from '../machine/dma.ts';
import { Kernel } from '../kernel/kernel.ts';
import { KERNEL_ERAS, type KernelEra } from '../kernel/era.ts';
import { type OptionDef, type Preset, System } from './system.ts';
import { parseSizeOption, splitCmdline } from './options.ts';

const ON_OFF = ['on', 'off'];
const GiB = 1n << 30n;

const x86Options = (d: { kernel: KernelEra; platform: string; legacy: string; dmar: 'include-all' | 'explicit' }): OptionDef[] => [
  { name: 'kernel', default: d.kernel, values: Object.keys(KERNEL_ERAS), desc: 'the Linux era modelled (4.9, 4.10-rc, 4.10, 4.11, 4.12, 4.13, 5.14, 6.1, 6.x; show kernel explains each)', scope: 'kernel' },
  { name: 'intel_iommu', default: 'on', values: ['on', 'off', ''], desc: 'intel_iommu=on|off: DMA remapping (interrupt remapping comes up either way) (kernel parameter)', scope: 'cmdline' },
  { name: 'iommu', default: '', values: ['', 'pt', 'nopt'], desc: 'iommu=pt: identity (passthrough) default domains; nopt: translated (x86 kernel parameter)', scope: 'cmdline' },
  { name: 'iommu.passthrough', default: '', values: ['', '0', '1'], desc: 'default domain: 1 identity, 0 translated (kernel parameter)', scope: 'cmdline' },
  { name: 'iommu.strict', default: '', values: ['', '0', '1'], desc: 'unmap invalidation: 1 synchronous (DMA), 0 lazy flush queue (DMA-FQ; the x86 default since v5.15) (kernel parameter)', scope: 'cmdline' },
  { name: 'swiotlb', default: '', desc: 'swiotlb=<nslabs>[,force|noforce] (kernel parameter)', scope: 'cmdline', validate: (v) => (v === '' || /^(?:[0-9]+(?:,[0-9]+)?)?(?:,?(?:force|noforce))?$/.test(v) ? undefined : 'swiotlb=<nslabs>[,<nareas>][,force|noforce]') },
  { name: 'cmdline', default: '', desc: 'any other kernel parameters, space separated', scope: 'cmdline' },
  { name: 'vda.disable-legacy', default: d.legacy, values: ON_OFF, desc: 'QEMU property: no legacy interface (x86 legacy virtio needs port I/O, which the lab does not model: the driver uses the modern interface)', scope: 'device' },
  { name: 'vda.disable-modern', default: 'off', values: ON_OFF, desc: 'QEMU property: no modern interface', scope: 'device' },
  { name: 'vda.iommu_platform', default: d.platform, values: ON_OFF, desc: 'QEMU property: offer VIRTIO_F_ACCESS_PLATFORM and translate DMA through the IOMMU', scope: 'device' },
  { name: 'vda.dma-path', default: 'auto', values: ['auto', 'translated', 'bypass'], desc: "what vda's DMA really goes through (auto: what QEMU does: translated only with iommu_platform=on)", scope: 'device' },
  { name: 'nic0.dma-path', default: 'auto', values: ['auto', 'translated', 'bypass'], desc: "what the e1000e's DMA really goes through (auto: translated, as QEMU's emulated devices are)", scope: 'device' },
  {
    name: 'dmar',
    default: d.dmar,
    values: ['explicit', 'include-all', 'omit-vda', 'omit-nic0'],
    desc: 'the DMAR table: explicit (DRHD flags 0 and a device scope for every PCI device: QEMU 6.0 and later), include-all (flags INCLUDE_PCI_ALL: QEMU before 6.0), or explicit scopes that leave a device out (firmware says it is not behind the IOMMU)',
    scope: 'machine',
  },
  { name: 'intel-iommu.aw-bits', default: '39', values: ['39', '48'], desc: "QEMU property of -device intel-iommu: address width, 39 (3-level tables) or 48 (4-level)", scope: 'device' },
  { name: 'ram', default: '8G', desc: 'RAM (QEMU -m): up to 2 GiB below 4 GiB, the rest from 4 GiB', scope: 'machine', validate: (v) => parseSizeOption(v, 1n << 30n, 64n << 30n) },
];

function stub(m: Machine, name: string, base: u64, size: u64, reset?: Map<number, u64>): void {
  const s = new MmioStub(name, reset);
  m.register(`mmio:${name}`, s);
  m.memory.addRegion({ name, base, size, kind: 'mmio', handler: s });
}

const onOff = (v: string | undefined): boolean => v === 'on';

function buildQ35(preset: Preset, options: ReadonlyMap<string, string>): System {
  const get = (k: string): string => options.get(k) ?? preset.options.find((o) => o.name === k)!.default;
  const ram = BigInt(parseSizeOption(get('ram'), 1n << 30n, 64n << 30n, true)!);
  // pc_q35_init: lowmem is 2 GiB when RAM >= 0xb0000000, else all of it below 4 GiB.
  const low = ram >= 0xb000_0000n ? 2n * GiB : ram;
  const high = ram - low;
  const m = new Machine({ name: preset.name, arch: 'x86_64', board: 'QEMU q35 (ICH9), intel-iommu,intremap=on', cpus: 4, description: preset.description });
  const mem = m.memory;
  mem.addRegion({ name: 'pc.ram (below 640K)', base: 0n, size: 0xa_0000n, kind: 'ram' });
  mem.addRegion({ name: 'isa-bios', base: 0xc_0000n, size: 0x4_0000n, kind: 'rom' });
  mem.addRegion({ name: 'pc.ram', base: 0x10_0000n, size: low - 0x10_0000n, kind: 'ram' });
  if (high) mem.addRegion({ name: 'pc.ram (above 4G)', base: 0x1_0000_0000n, size: high, kind: 'ram' });
  stub(m, 'ioapic', 0xfec0_0000n, 0x1000n);
  stub(m, 'hpet', 0xfed0_0000n, 0x400n);
  stub(m, 'apic-msi', 0xfee0_0000n, 0x10_0000n);
  mem.addRegion({ name: 'pc.bios', base: 0xfffc_0000n, size: 0x4_0000n, kind: 'rom' });
  const unit = new VtdUnit({ name: 'dmar0', memory: mem, interrupts: m.interrupts, haw: Number(get('intel-iommu.aw-bits')) });
  mem.addRegion({ name: 'intel_iommu', base: Q35_HOST_BRIDGE_IOMMU_ADDR, size: VTD_REG_SIZE, kind: 'mmio', handler: unit });
  m.addIommu(unit);
  m.interruptWindow = new X86InterruptWindow({ interrupts: m.interrupts, units: [unit] });

  const ramTop = high ? 0x1_0000_0000n + high : low;
  const hole64 = alignUp(ramTop > 0x1_0000_0000n ? ramTop : 0x1_0000_0000n, GiB);
  const host = new PciHostBridge({
    name: 'pcie.0',
    segment: 0,
    busStart: 0,
    busEnd: 255,
    ecamBase: 0xb000_0000n,
    windows: [
      { kind: 'mem32', cpuBase: low, pciBase: low, size: 0xb000_0000n - low },
      { kind: 'mem32', cpuBase: 0xc000_0000n, pciBase: 0xc000_0000n, size: 0xfec0_0000n - 0xc000_0000n },
      { kind: 'mem64-pref', cpuBase: hole64, pciBase: hole64, size: 32n * GiB },
    ],
  });
  m.addPciHost(host);
  for (const [i, w] of host.windows.entries()) mem.addRegion({ name: `pcie.0-${w.kind}-window${i ? `-${i}` : ''}`, base: w.cpuBase, size: w.size, kind: 'mmio', handler: host.windowHandler(w) });

  const fn = (name: string, bdf: Bdf, vendorId: number, deviceId: number, classCode: number, description: string, bars: PciFunction['bars'] = []): PciFunction =>
    m.addPciFunction(host, new PciFunction({ name, bdf, vendorId, deviceId, classCode, description, subsystemVendorId: 0x1af4, subsystemId: 0x1100, bars: bars.map(({ addr: _a, ...b }) => b), interruptPin: bars.length ? 1 : 0 }));
  const hb = fn('host-bridge', { segment: 0, bus: 0, dev: 0, fn: 0 }, 0x8086, 0x29c0, 0x060000, 'Host bridge: Intel Corporation 82G33/G31/P35/P31 Express DRAM Controller');

  const iommuPlatform = onOff(get('vda.iommu_platform'));
  const vda = new VirtioBlkDevice(m, {
    name: 'vda',
    bdf: { segment: 0, bus: 0, dev: 1, fn: 0 },
    description: 'SCSI storage controller: Red Hat, Inc. Virtio block device',
    disableLegacy: onOff(get('vda.disable-legacy')),
    disableModern: onOff(get('vda.disable-modern')),
    iommuPlatform,
    // QEMU 7.2's machine types offer VIRTIO_F_RING_RESET (queue_reset=on; hw_compat_7_1 turns it off); the 2015 board's QEMU had no such bit.
    queueReset: preset.name !== 'x86-q35-vtd-2015',
    // QEMU 5.2+ virtio-blk-pci: one queue per vCPU when num-queues is unset, vectors = queues + 1 (the 2015 QEMU: one queue, 2 vectors).
    ...(preset.name !== 'x86-q35-vtd-2015' ? { numQueues: m.info.cpus, vectors: m.info.cpus + 1 } : {}),
    disk: makeDmaLabDisk('dma-lab-vda'),
  });
  m.addPciFunction(host, vda);
  if (vda.legacy) vda.assignBar(VIRTIO_PCI_LEGACY_BAR, 0xc000n);
  if (vda.vectors > 0) vda.assignBar(VIRTIO_PCI_MSIX_BAR, 0xfebd_4000n);
  if (vda.modern) vda.assignBar(VIRTIO_PCI_MODERN_BAR, hole64);
  const path = (opt: string, auto: 'translated' | 'bypass'): 'translated' | 'bypass' => (get(opt) === 'auto' ? auto : (get(opt) as 'translated' | 'bypass'));
  const master = (f: PciFunction, p: 'translated' | 'bypass'): DmaMaster => ({ name: f.name, rid: f.rid, sid: f.rid, path: p, iommu: unit, rootComplex: host });
  vda.dmaMaster = { ...vda.dmaMaster, ...master(vda, path('vda.dma-path', iommuPlatform ? 'translated' : 'bypass')) };
  m.masters.set('vda', vda.dmaMaster);

  // e1000e (82574L): BAR0 128K MMIO, BAR1 128K flash, BAR2 32 bytes I/O, BAR3 16K MSI-X (hw/net/e1000e.c).
  // Addresses are illustrative (a firmware assigns them); none overlaps another BAR (test/machine/bars.test.ts).
  const nic = new MsixNic(m, {
    name: 'nic0',
    bdf: { segment: 0, bus: 0, dev: 2, fn: 0 },
    vendorId: 0x8086,
    deviceId: 0x10d3,
    classCode: 0x020000,
    description: 'Ethernet controller: Intel Corporation 82574L Gigabit Network Connection',
    subsystemVendorId: 0x1af4,
    subsystemId: 0x1100,
    interruptPin: 1,
    bars: [
      { index: 0, kind: 'mem32', size: 0x2_0000n, prefetchable: false },
      { index: 1, kind: 'mem32', size: 0x2_0000n, prefetchable: false },
      { index: 2, kind: 'io', size: 0x20n, prefetchable: false },
      { index: 3, kind: 'mem32', size: 0x4000n, prefetchable: false },
    ],
    // hw/net/e1000e.c: E1000E_MSIX_IDX 3, table at 0, PBA at 0x2000, E1000E_MSIX_VEC_NUM 5
    vectors: 5,
    msix: { bar: 3, tableOffset: 0, pbaOffset: 0x2000, vectors: 5 },
  });
  m.addPciFunction(host, nic);
  nic.assignBar(0, 0xfeb8_0000n);
  nic.assignBar(1, 0xfeba_0000n);
  nic.assignBar(2, 0xc080n);
  nic.assignBar(3, 0xfebd_0000n);
  nic.dmaMaster = master(nic, path('nic0.dma-path', 'translated'));
  m.masters.set('nic0', nic.dmaMaster);

  fn('lpc', { segment: 0, bus: 0, dev: 0x1f, fn: 0 }, 0x8086, 0x2918, 0x060100, 'ISA bridge: Intel Corporation 82801IB (ICH9) LPC Interface Controller');
  const sata = fn('sata', { segment: 0, bus: 0, dev: 0x1f, fn: 2 }, 0x8086, 0x2922, 0x010601, 'SATA controller: Intel Corporation 82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode]', [
    { index: 4, kind: 'io', size: 0x20n, prefetchable: false, addr: 0n },
    { index: 5, kind: 'mem32', size: 0x1000n, prefetchable: false, addr: 0n },
  ]);
  sata.assignBar(4, 0xc0a0n);
  sata.assignBar(5, 0xfebd_5000n);
  m.masters.set('sata', master(sata, 'translated'));
  const smbus = fn('smbus', { segment: 0, bus: 0, dev: 0x1f, fn: 3 }, 0x8086, 0x2930, 0x0c0500, 'SMBus: Intel Corporation 82801I (ICH9 Family) SMBus Controller', [{ index: 4, kind: 'io', size: 0x40n, prefetchable: false, addr: 0n }]);
  smbus.assignBar(4, 0x0700n);
  // Functions that do no DMA in the model still sit behind the IOMMU (the
  // kernel gives them groups); their path is what their DMA would take.
  for (const f of [hb, host.functions.find((x) => x.name === 'lpc')!, smbus]) m.masters.set(f.name, master(f, 'translated'));

  const dmarOpt = get('dmar');
  // QEMU walks the root bus in devfn order (pci_for_each_device_under_bus).
  const pciDevs = host.functions.map((f) => f.bdf).sort((a, b) => a.bus - b.bus || a.dev * 8 + a.fn - (b.dev * 8 + b.fn));
  const omit = dmarOpt === 'omit-vda' ? [vda.bdf] : dmarOpt === 'omit-nic0' ? [nic.bdf] : [];
  const table = qemuQ35Dmar({ haw: Number(get('intel-iommu.aw-bits')), intremap: true, style: dmarOpt === 'include-all' ? 'include-all' : 'explicit', devices: pciDevs, omit });

  const cmdline = new Map<string, string>();
  for (const o of preset.options.filter((x) => x.scope === 'cmdline')) {
    const v = get(o.name);
    if (!v) continue;
    if (o.name === 'cmdline') for (const [k, x] of splitCmdline(v)) cmdline.set(k, x);
    else cmdline.set(o.name, v);
  }
  const kernel = new Kernel(cmdline);
  return new System(preset, options, m, kernel, { firmware: { kind: 'acpi', dmaCoherent: true, smmus: [], dmar: { bytes: encodeDmar(table), units: [unit] } }, era: get('kernel') as KernelEra });
}

const check = (preset: Preset) => (options: ReadonlyMap<string, string>): string | undefined => {
  const get = (k: string): string => options.get(k) ?? preset.options.find((o) => o.name === k)!.default;
  return validateVirtioPciOptions({ disableLegacy: onOff(get('vda.disable-legacy')), disableModern: onOff(get('vda.disable-modern')), iommuPlatform: onOff(get('vda.iommu_platform')) });
};

const X86_PANES = [
  { title: 'VT-d faults', run: 'vtd faults' },
  { title: 'groups', run: 'info groups' },
  { title: 'virtqueue', run: 'info virtio-queue-element vda 0' },
];

export const x86Q35Vtd: Preset = {
  name: 'x86-q35-vtd',
  summary: 'QEMU q35 with intel-iommu (interrupt remapping on), virtio-blk iommu_platform=on, e1000e, 8 GiB RAM',
  description:
    'QEMU -M q35 -m 8G -device intel-iommu,intremap=on with a modern virtio-blk (iommu_platform=on, 00:01.0), an e1000e NIC (00:02.0) and the ICH9 LPC, AHCI and SMBus functions (00:1f.x). The DMAR table lists every PCI device in explicit device scopes (DRHD flags 0x0, as QEMU 6.0 and later build it); every emulated device translates through VT-d.',
  options: x86Options({ kernel: '6.1', platform: 'on', legacy: 'on', dmar: 'explicit' }),
  panes: X86_PANES,
  validate: (o) => check(x86Q35Vtd)(o),
  build: (o) => buildQ35(x86Q35Vtd, o),
};

export const x86Q35Vtd2015: Preset = {
  name: 'x86-q35-vtd-2015',
  summary: 'q35 + intel-iommu as in 2015: the DMAR says virtio is covered, but QEMU\'s virtio bypasses VT-d',
  description:
    'The 2015 situation (seed 001): QEMU\'s DMAR covers every PCI device, but its virtio device model (no iommu_platform then) uses guest-physical addresses and never goes through VT-d. A 4.9-era kernel: the virtio ring does not use the DMA API, so the disk still works; any driver that maps through the DMA API for that device would hand it IOVAs it does not translate.',
  options: x86Options({ kernel: '4.9', platform: 'off', legacy: 'off', dmar: 'include-all' }),
  panes: X86_PANES,
  validate: (o) => check(x86Q35Vtd2015)(o),
  build: (o) => buildQ35(x86Q35Vtd2015, o),
};
