/**
 * Booting the Linux model on a machine, and the booted kernel's parts.
 *
 * The order follows a real arm64 boot: the banner and command line;
 * memory (the page allocator; swiotlb when some RAM is out of 32-bit
 * reach); the IOMMU core's policy; the SMMU driver probing its hardware
 * through MMIO; the PCI scan; every device the firmware puts behind an
 * IOMMU probed into a group with its default domain; drivers bound
 * (dma_configure installs iommu-dma or dma-direct); virtio-blk reads its
 * partition table; the SMMU's event-queue thread drains what the devices
 * caused. Everything is deterministic: printk times are simulated.
 *
 * Each subsystem is a `Stateful`; `Linux` saves and restores them together
 * with the per-device fields the kernel changes (masks, DMA ops, group).
 */
import type { u64 } from '../machine/u64.ts';
import { hexRaw } from '../machine/u64.ts';
import type { Machine } from '../machine/machine.ts';
import type { Firmware } from '../machine/firmware.ts';
import { formatBdf, type PciFunction, type PciHostBridge } from '../machine/pci.ts';
import { clone, type Stateful } from '../machine/state.ts';
import { dmaBitMask } from '../machine/u64.ts';
import type { Kernel } from './kernel.ts';
import { PageAllocator } from './page-alloc.ts';
import { VfioContainer } from './vfio.ts';
import { Swiotlb } from './swiotlb.ts';
import { DmaDirect } from './dma-direct.ts';
import { IommuCore } from './iommu.ts';
import { IommuDma } from './dma-iommu.ts';
import { DmaMapping } from './dma-mapping.ts';
import { ArmSmmuV3Driver } from './arm-smmu-v3.ts';
import { IntelIommuDriver } from './intel-iommu.ts';
import type { KDevice } from './types.ts';
import { KERNEL_ERAS, type KernelEra } from './era.ts';
import { Kmalloc } from './kmalloc.ts';
import type { VirtioEnv } from './virtio/env.ts';
import { VirtioBlkDisks, type VirtblkProbeResult } from './virtio/virtio-blk.ts';
import { DriverCore, type IommuDriverLoad } from './driver-core.ts';
import { dmaConfigureRange } from './dma-iommu.ts';
import { pciEnableSriov } from './pci-iov.ts';
import { GicIts } from '../machine/gic-its.ts';
import { GicV3ItsDriver } from './irq-gic-v3-its.ts';
import { PciMsiState, pciAllocIrqVectors, pciFreeIrqVectors } from './pci-msi.ts';
import { DmaDebug } from './dma-debug.ts';

/** Memory the kernel image and early allocations occupy at the bottom of RAM (not handed out). */
export const KERNEL_RESERVED = 64n << 20n;

/** The fields of a struct device the kernel changes after boot (saved for undo). */
type DevFields = Pick<KDevice, 'dmaMask' | 'coherentDmaMask' | 'busDmaLimit' | 'dmaOps' | 'group' | 'alias'>;

export class Linux implements Stateful {
  readonly devices: KDevice[] = [];
  /** The driver bound to each device (dev_name -> driver name). */
  readonly bound = new Map<string, string>();
  /** What firmware described (IOMMUs, coherency), for devices added after boot's scan (SR-IOV VFs). */
  firmware: Firmware | undefined;
  /** The Intel IOMMU driver, on x86 machines with a DMAR table. */
  intel: IntelIommuDriver | undefined;
  readonly smmus: ArmSmmuV3Driver[] = [];
  readonly disks = new VirtioBlkDisks();
  readonly probes = new Map<string, VirtblkProbeResult>();
  /** The PCI driver core: driver table, driver_override, bind/unbind, deferred probe (driver-core.ts). */
  readonly driverCore: DriverCore;
  /** VFIO's container with the type1 backend: what a user-space driver set up (vfio.ts). */
  readonly vfio: VfioContainer;
  /** The GICv3 ITS driver, on Arm machines whose ITS has tables (irq-gic-v3-its.ts). */
  its: GicV3ItsDriver | undefined;
  /** The PCI MSI layer's x86 vectors (pci-msi.ts). */
  readonly msi = new PciMsiState();
  private parts = new Map<string, Stateful>();

  constructor(
    readonly era: KernelEra,
    readonly pages: PageAllocator,
    readonly swiotlb: Swiotlb,
    readonly direct: DmaDirect,
    readonly core: IommuCore,
    readonly iommuDma: IommuDma,
    readonly dma: DmaMapping,
    readonly env: VirtioEnv,
  ) {
    this.add('pages', pages);
    this.add('swiotlb', swiotlb);
    this.add('dma-direct', direct);
    this.add('iommu', core);
    this.add('dma-iommu', iommuDma);
    this.add('dma', dma);
    this.add('disks', this.disks);
    this.driverCore = new DriverCore(this);
    this.add('driver-core', this.driverCore);
    this.vfio = new VfioContainer(this);
    this.add('vfio', this.vfio);
    this.add('pci-msi', this.msi);
  }

  add(name: string, s: Stateful): void {
    this.parts.set(name, s);
  }

  /** A device by dev_name ("0000:00:01.0"), driver alias ("vda") or model name. */
  device(name: string): KDevice | undefined {
    return this.devices.find((d) => d.name === name || d.alias === name || d.master.name === name);
  }

  saveState(): unknown {
    const parts = new Map<string, unknown>();
    for (const [k, p] of this.parts) parts.set(k, p.saveState());
    const devs: DevFields[] = this.devices.map((d) => ({ dmaMask: d.dmaMask, coherentDmaMask: d.coherentDmaMask, busDmaLimit: d.busDmaLimit, dmaOps: d.dmaOps, group: d.group, alias: d.alias }));
    return { parts, devs: clone(devs), bound: [...this.bound] };
  }

  restoreState(st: unknown): void {
    const s = st as { parts: Map<string, unknown>; devs: DevFields[]; bound: [string, string][] };
    for (const [k, p] of this.parts) if (s.parts.has(k)) p.restoreState(s.parts.get(k));
    // Devices added after the snapshot (SR-IOV VFs, kernel/pci-iov.ts) go away again.
    this.devices.length = Math.min(this.devices.length, s.devs.length);
    this.devices.forEach((d, i) => Object.assign(d, s.devs[i]));
    this.bound.clear();
    for (const [k, v] of s.bound) this.bound.set(k, v);
  }
}

/** The PCI scan line (drivers/pci/probe.c pci_setup_device; the v4.x-v6.6 form). */
export const pciScanLine = (f: PciFunction): string =>
  `pci ${formatBdf(f.bdf)}: [${hexRaw(f.vendorId, 4)}:${hexRaw(f.deviceId, 4)}] type 00 class 0x${hexRaw(f.classCode, 6)}`;

/**
 * pci_device_add() for one function: the kernel's struct device (32-bit
 * masks), what firmware says about its IOMMU, and, before v4.12 or under
 * VT-d, its IOMMU group. Used by the boot scan and by pci_iov_add_virtfn
 * (kernel/pci-iov.ts). Returns the new device, or undefined when the
 * machine has no DMA master for the function.
 */
export function pciDeviceAdd(linux: Linux, h: PciHostBridge, f: PciFunction, opts: { deferIommuProbe?: boolean } = {}): KDevice | undefined {
  const m = linux.env.machine;
  const core = linux.core;
  const master = m.masters.get(f.name);
  if (!master) return undefined;
  const fwAll = linux.firmware;
  const fw = fwAll?.smmus.find((s) => s.streamId(h, f) !== undefined);
  const intel = linux.intel && core.hasDriver(linux.intel.name) ? linux.intel : undefined;
  const version = core.config.version;
  const dev: KDevice = {
    name: formatBdf(f.bdf),
    pci: f,
    master,
    // PCI devices start with 32-bit masks (drivers/pci/probe.c).
    dmaMask: dmaBitMask(32),
    coherentDmaMask: dmaBitMask(32),
    busDmaLimit: 0n,
    dmaOps: 'direct',
    iommuName: fw ? linux.smmus[fwAll!.smmus.indexOf(fw)]!.name : intel && intel.deviceLookup(f.bdf) ? intel.name : undefined,
    fwSid: fw ? fw.streamId(h, f) : undefined,
    // DT dma-coherent: the whole bus, less the devices firmware leaves it off (issue 14).
    coherent: (fwAll?.dmaCoherent ?? true) && !(fwAll?.nonCoherent ?? []).includes(master.name),
  };
  linux.devices.push(dev);
  // Before v4.12 the device's DMA was configured here, once, at creation
  // (pci_device_add -> of/acpi_dma_configure; the IOMMU group came with it).
  // From v4.12 an SMMU's fwspec and the group are set up when a driver first
  // probes the device (driver-core.ts); VT-d still probes every device it
  // covers when its driver registers (bus_iommu_probe). Functions of one
  // multi-function device without ACS share a group (drivers/iommu/iommu.c
  // pci_device_group: get_pci_function_alias_group).
  if (dev.iommuName && !(fw && version >= 412) && !opts.deferIommuProbe) iommuProbeAtCreation(linux, dev);
  return dev;
}

/** The IOMMU group of a device whose IOMMU is probed when the device is created (or, v4.x VT-d, by bus_set_iommu). */
function iommuProbeAtCreation(linux: Linux, dev: KDevice): void {
  const version = linux.core.config.version;
  const sibling = linux.driverCore.groupSibling(dev);
  const g = linux.core.probeDevice(dev, sibling ? { shareWith: sibling.name } : {});
  if (g >= 0 && version < 412) linux.driverCore.s.creation[dev.name] = { range: dmaConfigureRange(dev, version), configured: false };
}

export interface BootOptions {
  era: KernelEra;
  firmware?: Firmware;
  /**
   * When the SMMU driver probes (driver-core.ts): 'builtin' before the PCI
   * drivers (the default), 'late' built in but after them (a later initcall
   * or link order), 'module' loaded by user space after boot (`modprobe`).
   */
  iommuDriver?: IommuDriverLoad;
  /**
   * `echo N > /sys/bus/pci/devices/PF/sriov_numvfs` after the drivers
   * loaded (what the thread did), by the PF's machine name: kernel/pci-iov.ts.
   */
  sriovNumVfs?: Record<string, number>;
  /** The thread's debug patch: dev_info of base, size, aperture and masks in iommu_dma_init_domain (dma-iommu.ts). */
  debugDmaConfigure?: boolean;
  /**
   * CONFIG_DMA_API_DEBUG=y (kernel/dma-debug.ts): 'on' prints the first
   * error, 'all' every one (debugfs dma-api/all_errors = 1). `dma_debug=off`
   * on the command line turns it off again, as in Linux.
   */
  dmaApiDebug?: 'off' | 'on' | 'all';
}

/** Boot Linux on `m`. Returns the booted kernel (the caller keeps it on the System). */
export function bootLinux(m: Machine, kernel: Kernel, o: BootOptions): Linux {
  const era = KERNEL_ERAS[o.era];
  const log = (lvl: Parameters<Kernel['log']>[0], text: string): void => kernel.log(lvl, text);
  const x86 = m.info.arch === 'x86_64';
  // arch/arm64/kernel/setup.c prints this; x86 has no such line.
  if (!x86) log('info', 'Booting Linux on physical CPU 0x0');
  log('notice', `Linux version ${era.release} (dma-lab model of ${era.what})`);
  log('notice', `Kernel command line: ${[...kernel.cmdline].map(([k, v]) => (v === '1' && !k.includes('.') ? k : `${k}=${v}`)).join(' ')}`.trimEnd());

  // Memory: RAM regions minus what the kernel image occupies at the bottom.
  const ram = m.memory.listRegions().filter((r) => r.kind === 'ram');
  // The kernel image and early allocations take the first KERNEL_RESERVED bytes of RAM.
  const resEnd = ram[0]!.base + KERNEL_RESERVED;
  const ranges = ram
    .map((r) => (r.base + r.size <= resEnd ? undefined : r.base < resEnd ? { base: resEnd, size: r.base + r.size - resEnd } : { base: r.base, size: r.size }))
    .filter((r): r is { base: u64; size: u64 } => r !== undefined);
  // GFP_KERNEL pages from the highest zone first; the order inside it by era (page-alloc.ts).
  const pages = new PageAllocator(ranges, era.version >= 510 ? 'zone-ascending' : 'zone-blocks-from-top');
  const top = ram.reduce<u64>((a, r) => (r.base + r.size > a ? r.base + r.size : a), 0n);
  // The linear map the v4.x swiotlb line prints addresses in (swiotlb.ts printInfo).
  const linearMap = x86 ? { base: 0xffff_8800_0000_0000n, physOffset: 0n } : { base: 0xffff_8000_0000_0000n, physOffset: ram[0]!.base & ~0x3fff_ffffn };
  const swiotlb = new Swiotlb(kernel, m.memory, pages, { version: era.version, linearMap });
  // x86 allocates the pool in mem_init but prints it from pci_iommu_init,
  // after the IOMMU driver (arch/x86/kernel/pci-dma.c); arm64 prints at once.
  swiotlb.swiotlbInit(top > 0x1_0000_0000n, { verbose: !x86 });
  swiotlb.onBounce = (dev, from, to, len, why) =>
    m.trace.add({ device: dev.master.name, rid: dev.pci?.rid, op: 'write', addr: from, len, path: 'bypass', steps: [], outcome: { kind: 'ok', pa: to }, what: `swiotlb bounce on ${why}`, cpu: 'swiotlb' });
  // The CPU's view for the bounce copies, and the cache dma-direct and
  // iommu-dma maintain for non-coherent devices (arch-dma.ts); both are RAM
  // itself when the machine models no cache.
  swiotlb.cpu = { read: (pa, len) => m.cpuRead(pa, len), write: (pa, data) => m.cpuWrite(pa, data) };
  const direct = new DmaDirect(kernel, m.memory, pages, swiotlb);
  direct.cpuCache = m.cpuCache;
  const core = new IommuCore(kernel, { arch: m.info.arch, version: era.version });
  const iommuDma = new IommuDma(kernel, core, { memory: m.memory, pages });
  iommuDma.debugInitDomain = o.debugDmaConfigure ?? false;
  iommuDma.cpuCache = m.cpuCache;
  const dma = new DmaMapping(kernel, direct, iommuDma, core);
  // kmalloc for the virtio rings' indirect tables (kernel/kmalloc.ts); registered for undo below.
  const kmalloc = new Kmalloc(pages);
  const env: VirtioEnv = { machine: m, kernel, pages, dma, kmalloc, config: { era: era.virtio, arch: m.info.arch, xenDomain: false, version: era.version } };
  const linux = new Linux(o.era, pages, swiotlb, direct, core, iommuDma, dma, env);
  linux.add('kmalloc', kmalloc);
  // The PCI MSI-X layer the drivers call (pci_alloc_irq_vectors), when there is an MSI domain.
  env.msix = {
    alloc: (kdev, nvec, names, opt) => {
      const r = pciAllocIrqVectors(linux, kdev, nvec, (i) => names[i] ?? `${kdev.name}-${i}`, opt);
      return r.ok ? { ok: true } : { ok: false, why: r.why };
    },
    free: (kdev) => pciFreeIrqVectors(linux, kdev),
  };

  // init_IRQ: the GICv3 driver and its ITS (tables, LPIs, collections), before any device driver.
  const itsHw = m.memory.listRegions().map((r) => r.handler).find((h): h is GicIts => h instanceof GicIts && !!h.redist);
  if (itsHw) {
    linux.its = new GicV3ItsDriver({ memory: m.memory, its: itsHw, redist: itsHw.redist!, ramBase: ram[0]!.base, version: era.version, log });
    linux.its.init();
    linux.add('gic-its', linux.its);
  }

  // dma_debug_init() is a core_initcall: before the IOMMU and PCI drivers.
  m.dmaObserver = undefined;
  if (o.dmaApiDebug && o.dmaApiDebug !== 'off') {
    const dbg = new DmaDebug(kernel, { allErrors: o.dmaApiDebug === 'all' });
    dbg.driverOf = (dev) => linux.bound.get(dev.name) ?? (dev.pci ? 'pci' : 'platform');
    dbg.init(kernel.cmdline);
    dma.debug = dbg;
    linux.add('dma-debug', dbg);
    m.dmaObserver = (a) => {
      const dev = linux.devices.find((d) => d.master === a.master);
      if (dev) dbg.deviceAccess(dev, a.addr, a.len, a.write);
    };
  }

  // IOMMU drivers for what firmware describes.
  const lateIommu = !!o.iommuDriver && o.iommuDriver !== 'builtin';
  linux.driverCore.iommuLoad = o.iommuDriver ?? 'builtin';
  const disableBypass = kernel.cmdline.get('arm-smmu-v3.disable_bypass');
  for (const fs of o.firmware?.smmus ?? []) {
    const drv = new ArmSmmuV3Driver({
      memory: m.memory,
      pages,
      base: fs.base,
      devName: fs.devName,
      era: era.smmu,
      eventLog: era.version >= 614 ? 'decoded' : 'raw',
      steForm: era.version >= 609 ? 'make_ste' : 'write_strtab_ent',
      // Seed 002's proposed (unmerged) parameter; see ArmSmmuV3DriverOptions.msiIovaBase.
      msiIovaBase: kernel.cmdline.has('arm-smmu-v3.msi_iova_base') ? BigInt(kernel.cmdline.get('arm-smmu-v3.msi_iova_base')!) : undefined,
      // A module parameter the driver no longer has (v6.10+) is ignored silently
      // (init/main.c: unknown dotted parameters are not passed to init).
      disableBypass: era.version >= 610 || disableBypass === undefined ? undefined : disableBypass === '1' || disableBypass === 'Y' || disableBypass === 'y',
      log,
    });
    if (lateIommu) core.markLate(drv.name);
    // Before ~v4.17 arm-smmu-v3 was IOMMU_OF_DECLAREd and probed from
    // of_iommu_init (core_initcall), before any bus scan; later it is an
    // ordinary platform driver probed at device_initcall, after
    // iommu_subsys_init and after drivers/pci (linked first) scanned the
    // host bridge. The '2017' era probes here, the current one below.
    else if (drv.era === '2017') drv.probe();
    core.registerDriver(drv);
    linux.smmus.push(drv);
    linux.add(`smmu:${drv.name}`, drv);
  }
  // x86: the DMAR table, interrupt remapping (set up early, even with intel_iommu=off).
  let intel: IntelIommuDriver | undefined;
  if (o.firmware?.dmar) {
    intel = new IntelIommuDriver({ memory: m.memory, pages, dmar: o.firmware.dmar.bytes, version: era.version, cpus: m.info.cpus, cmdline: kernel.cmdline, log, now: () => kernel.dmesg().at(-1)?.time ?? 0 });
    intel.earlyParams();
    intel.irqRemappingInit();
    linux.add('intel-iommu', intel);
    linux.intel = intel;
  }
  // The PCI scan, about a second into boot as on the seed's fast model.
  // With ACPI the root bridges are scanned by acpi_init, a subsys_initcall
  // linked before drivers/iommu's iommu_subsys_init; on device-tree boots
  // the host bridge is a platform driver probed at device_initcall, after it.
  const acpi = o.firmware?.kind === 'acpi';
  const pciScan = (): void => {
    kernel.tick(1_100_000);
    for (const h of m.pciHosts) for (const f of h.functions) if (f.present) log('info', pciScanLine(f));
  };
  if (acpi) pciScan();
  core.subsysInit();
  if (!acpi) pciScan();
  for (const drv of linux.smmus) if (!lateIommu && drv.era !== '2017') drv.probe();
  // intel_iommu_init (a rootfs initcall, after the PCI scan): units, root tables, QI.
  const intelOn = intel ? intel.init() : false;
  if (intel && intelOn) core.registerDriver(intel);
  linux.firmware = o.firmware;
  // v4.x intel_iommu_init (drivers/iommu/intel-iommu.c, v4.9): init_dmars maps the
  // RMRRs and the LPC's 0-16MiB ("Setting RMRR:", iommu_prepare_isa) and enables
  // translation, the "Intel(R) Virtualization Technology" line follows, and
  // only then bus_set_iommu adds the devices to groups. Later kernels probe
  // the devices first and print that line last.
  const legacyIntel = intel && intelOn && intel.privateDomains() ? intel : undefined;
  for (const h of m.pciHosts) for (const f of h.functions) if (f.present) pciDeviceAdd(linux, h, f, { deferIommuProbe: !!legacyIntel });
  if (legacyIntel) {
    legacyIntel.prepareIsa(linux.devices, (dev) => core.privateDomain(dev), { staticIdentity: core.policy.type === 'identity' });
    legacyIntel.enableTranslation();
    for (const dev of linux.devices) if (dev.iommuName) iommuProbeAtCreation(linux, dev);
  } else if (intel && intelOn) intel.enableTranslation();
  if (x86) {
    // pci_iommu_init: before v5.x a working intel-iommu set swiotlb = 0 and
    // the pool was freed (intel_iommu_init, drivers/iommu/intel-iommu.c v4.9);
    // later kernels keep it (bounce pages for untrusted devices) and print it.
    if (intelOn && era.version < 500) swiotlb.swiotlbExit();
    else if (swiotlb.active) {
      log('info', 'PCI-DMA: Using software bounce buffering for IO (SWIOTLB)');
      swiotlb.printInfo();
    }
  }

  // Drivers: the first matching driver for each device, in bus order
  // (driver-core.ts; virtio-pci probes virtio_blk, whose partition-table
  // read runs through the device's DMA ops).
  for (const dev of linux.devices) {
    const r = linux.driverCore.attach(dev);
    if (!r?.ok) continue;
    const p = linux.probes.get(dev.name);
    if (r.driver === 'virtio-pci' && p?.ok && p.scan && !p.scan.ok && p.scan.io.reason === 'timeout') {
      log('err', `dma-lab: the read of ${p.blk.diskName}'s partition table never completed (gave up after ${p.scan.io.polls ?? 0} polls); a real kernel waits here for ever: "system hangs failing to read partition table"`);
    }
  }
  // A built-in SMMU driver that probes after the PCI drivers: it registers,
  // then driver_deferred_probe_trigger retries the deferred devices.
  if (o.iommuDriver === 'late') linux.driverCore.loadIommuDrivers();
  // User space after boot: enable the VFs a preset asks for.
  for (const [name, n] of Object.entries(o.sriovNumVfs ?? {})) {
    const pf = linux.devices.find((d) => d.master.name === name);
    if (pf && n > 0) pciEnableSriov(linux, pf, n);
  }
  for (const drv of linux.smmus) drv.evtqThread();
  intel?.dmarFault();
  kernel.booted = true;
  return linux;
}
