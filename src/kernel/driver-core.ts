/**
 * The driver core for PCI devices, after linux drivers/base/dd.c and
 * drivers/pci/pci-driver.c: a table of PCI drivers by name, matching
 * (pci_bus_match, with `driver_override`), really_probe (dma_configure,
 * then the driver's probe), release (the driver's remove, then
 * dma_deconfigure), the deferred-probe list and its retry.
 *
 *   bind:    driver_probe_device -> really_probe
 *              -> dma_configure (pci_dma_configure -> of/acpi_dma_configure
 *                 -> of_iommu_configure / iort_iommu_configure
 *                 -> arch_setup_dma_ops -> iommu_dma_init_domain)
 *              -> drv->probe
 *   unbind:  __device_release_driver -> drv->remove -> dma_deconfigure
 *
 * What is era-dependent (kernel/era.ts; REFERENCE.md 9.1):
 *  - before the "IOMMU probe deferral support" series (v4.12), DMA was
 *    configured once, when the PCI core created the device
 *    (pci_device_add -> pci_dma_configure). On arm64 the IOMMU attach was
 *    queued until the first driver bind (arch/arm64/mm/dma-mapping.c
 *    queue_iommu_attach / __iommu_attach_notifier on BUS_NOTIFY_BIND_DRIVER)
 *    but with the DMA range computed at creation, from the fresh 32-bit
 *    coherent mask. Later binds do not configure anything: a driver that
 *    widened the masks cannot break the next one.
 *  - from v4.12 really_probe calls dma_configure on every bind and
 *    dma_deconfigure on release; an IOMMU that firmware describes but whose
 *    driver has not probed yet makes dma_configure return -EPROBE_DEFER and
 *    the device waits on the deferred-probe list until a later bind
 *    triggers a retry (driver_deferred_probe_trigger).
 *  - on device-tree and ACPI arm64 the IOMMU fwspec, and with it the
 *    device's iommu_group, is set up by of_iommu_configure /
 *    iort_iommu_configure inside dma_configure: after the series a device
 *    gets its group when a driver first probes it (dev_info with the
 *    driver's name: "virtio-pci 0000:00:01.0: Adding to iommu group 0"),
 *    and a device no driver ever probed has no group.
 *
 * Not modelled: the device-link and fw_devlink machinery, async probing,
 * deferred_probe_timeout, and probe ordering beyond the one IOMMU driver.
 */
import { hexRaw } from '../machine/u64.ts';
import { clone, type Stateful } from '../machine/state.ts';
import { dmaBitMask } from '../machine/u64.ts';
import { VirtioPciDevice } from '../machine/virtio/virtio-pci.ts';
import { PCI_COMMAND, PCI_COMMAND_IO, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from '../machine/pci.ts';
import type { Linux } from './linux.ts';
import type { KDevice } from './types.ts';
import type { u64 } from '../machine/u64.ts';
import { EBUSY, EINVAL, ENODEV, ERRNO_NAMES } from './iommu.ts';
import { virtblkProbe, type VirtioBlk } from './virtio/virtio-blk.ts';
import { vpDelVqIrqs, vpReset } from './virtio/virtio-pci.ts';
import { vringDelVirtqueue } from './virtio/virtio-ring.ts';

/** include/linux/errno.h: kernel-internal, never seen by user space. */
export const EPROBE_DEFER = 517;
export const ERRNO_NAME = (e: number): string => (e === EPROBE_DEFER ? 'EPROBE_DEFER' : (ERRNO_NAMES[e] ?? String(e)));

/** What a driver's probe or remove gets: the booted kernel and the device. */
export interface ProbeContext {
  linux: Linux;
  dev: KDevice;
  /** dev_info(): "DRIVER DEV: text". */
  info(text: string): void;
}

/** A PCI driver as the lab knows it (struct pci_driver, reduced). */
export interface PciDriverDef {
  name: string;
  /** vendor:device ids of its id_table, lowercase hex ("8086:10ed"); empty = binds only through driver_override (vfio-pci). */
  ids: string[];
  /** Matches every virtio PCI function (virtio-pci's id_table is vendor 0x1af4, any device). */
  virtio?: boolean;
  /** The DMA mask its probe asks for with dma_set_mask_and_coherent(DMA_BIT_MASK(n)); none = no DMA. */
  mask?: number;
  /** driver_managed_dma (v5.19+; vfio-pci): dma_configure does not take DMA-API ownership of the group. */
  driverManagedDma?: boolean;
  /** One line for `driver list`. */
  desc: string;
  /** What the module prints when it loads (module_init), before its first probe; by kernel version. */
  banner?(version: number): string[];
  /** The PF driver's sriov_configure (sysfs sriov_numvfs), before the VFs are added: its messages. */
  sriovConfigure?(ctx: ProbeContext, numVfs: number): void;
  /** The driver's own probe, after dma_configure; returns 0 or -errno. */
  probe?(ctx: ProbeContext): number;
  /** The driver's remove, before dma_deconfigure. */
  remove?(ctx: ProbeContext): void;
}

const diskOf = (linux: Linux, dev: KDevice): VirtioBlk | undefined => linux.disks.list().find((b) => b.vdev.pciName === dev.name);

/** The lowest index not in use: what ida_alloc() hands out (virtio bus index, virtblk disk index). */
const lowestFree = (used: number[]): number => {
  let i = 0;
  while (used.includes(i)) i++;
  return i;
};

const diskIndexOf = (name: string): number => {
  // vda..vdz, vdaa...: base-26 with a one-based twist (virtblk_name_format).
  let n = 0;
  for (const ch of name.slice(2)) n = n * 26 + (ch.charCodeAt(0) - 96);
  return n - 1;
};

/**
 * pci_enable_device + pci_set_master: memory decoding on, then bus
 * mastering; the PCI core prints the command register's change
 * (drivers/pci/setup-res.c pci_enable_resources: "enabling device (%04x -> %04x)").
 */
export function pciEnableDevice(ctx: ProbeContext): void {
  const f = ctx.dev.pci;
  if (!f) return;
  const old = f.command;
  const cmd = old | PCI_COMMAND_MEMORY | (f.bars.some((b) => b.kind === 'io') ? PCI_COMMAND_IO : 0);
  if (cmd !== old) ctx.info(`enabling device (${hexRaw(old, 4)} -> ${hexRaw(cmd, 4)})`);
  f.configWrite(PCI_COMMAND, 2, BigInt(cmd | PCI_COMMAND_MASTER));
}

/** A module's init messages, printed once per boot, when its first device binds (module_init). */
function moduleInit(ctx: ProbeContext, name: string, lines: string[]): void {
  const st = ctx.linux.driverCore.s;
  const loaded = (st.modules ??= []);
  if (loaded.includes(name)) return;
  loaded.push(name);
  for (const l of lines) ctx.linux.env.kernel.log('info', l);
}

/** A driver whose probe only asks for its DMA mask (the lab does not model its I/O). */
const maskProbe = (bits: number) => (ctx: ProbeContext): number => {
  ctx.linux.dma.dmaSetMaskAndCoherent(ctx.dev, dmaBitMask(bits));
  return 0;
};

/**
 * The PCI drivers the lab knows, in registration order (the order
 * device_attach tries them). Add entries with registerPciDriver().
 */
const BUILTIN_DRIVERS: PciDriverDef[] = [
  {
    name: 'virtio-pci',
    ids: [],
    virtio: true,
    desc: 'virtio over PCI, with virtio_blk on top (drivers/virtio/virtio_pci_common.c)',
    probe(ctx) {
      const { linux, dev } = ctx;
      const disks = linux.disks.list();
      const p = virtblkProbe(linux.env, dev, {
        virtioIndex: lowestFree(disks.map((b) => b.vdev.index)),
        diskIndex: lowestFree(disks.map((b) => diskIndexOf(b.diskName))),
      });
      linux.probes.set(dev.name, p);
      if (p.ok) linux.disks.add(p.blk);
      for (const drv of linux.smmus) drv.evtqThread();
      return 0;
    },
    remove(ctx) {
      // virtblk_remove: del_gendisk, reset the device, vdev->config->del_vqs.
      const { linux, dev } = ctx;
      const blk = diskOf(linux, dev);
      if (!blk) return;
      vpReset(linux.env, blk.vdev);
      vpDelVqIrqs(linux.env, dev, blk.vdev);
      vringDelVirtqueue(linux.env, dev, blk.vq);
      for (const vq of blk.otherVqs ?? []) vringDelVirtqueue(linux.env, dev, vq);
      linux.disks.restoreState({ disks: linux.disks.list().filter((b) => b !== blk) });
    },
  },
  // Drivers bound without modelling their I/O: the DMA mask they set matters
  // (dma_set_mask_and_coherent(DMA_BIT_MASK(64)) in their probe).
  {
    name: 'e1000e',
    ids: ['8086:10d3'],
    mask: 64,
    desc: 'Intel 82574L Gigabit Ethernet (drivers/net/ethernet/intel/e1000e), 64-bit DMA, MSI-X',
    probe(ctx) {
      maskProbe(64)(ctx);
      // e1000e_set_interrupt_capability (from e1000_sw_init at probe): 82574 has FLAG_HAS_MSIX, so
      // pci_enable_msix_range(3, 3): RxQ0, TxQ0 and "other". x86's MSI domain activates early, so the
      // IRTEs and table entries exist now; request_irq (and the unmask) waits for the interface to come up.
      const r = ctx.linux.env.msix?.alloc(ctx.dev, 3, ['eth0-rx-0', 'eth0-tx-0', 'eth0'], { unmask: false });
      void r; // on failure e1000e falls back to MSI, then INTx: not modelled further
      return 0;
    },
    remove(ctx) {
      ctx.linux.env.msix?.free(ctx.dev);
    },
  },
  { name: 'ahci', ids: ['8086:2922'], mask: 64, desc: 'ICH9 AHCI SATA (drivers/ata/ahci.c), 64-bit DMA' },
  { name: 'lpc_ich', ids: ['8086:2918'], desc: 'ICH9 LPC bridge (drivers/mfd/lpc_ich.c), no DMA' },
  { name: 'i801_smbus', ids: ['8086:2930'], desc: 'ICH9 SMBus (drivers/i2c/busses/i2c-i801.c), no DMA' },
  {
    name: 'ixgbe',
    ids: ['8086:10fb'],
    mask: 64,
    desc: 'Intel 82599 10GbE physical function (drivers/net/ethernet/intel/ixgbe), 64-bit DMA; SR-IOV through sriov_numvfs',
    probe(ctx) {
      // ixgbe_probe: pci_enable_device_mem, dma_set_mask_and_coherent(64), ...
      pciEnableDevice(ctx);
      ctx.linux.dma.dmaSetMaskAndCoherent(ctx.dev, dmaBitMask(64));
      ctx.info('Intel(R) 10 Gigabit Network Connection');
      return 0;
    },
    // ixgbe_pci_sriov_configure -> __ixgbe_enable_sriov (e_dev_info, netdev-prefixed; the model's netdev is eth0).
    sriovConfigure(ctx, n) {
      ctx.linux.env.kernel.log('info', `ixgbe ${ctx.dev.name} eth0: SR-IOV enabled with ${n} VFs`);
    },
  },
  {
    name: 'ixgbevf',
    ids: ['8086:10ed'],
    mask: 64,
    desc: 'Intel 82599 virtual function (drivers/net/ethernet/intel/ixgbevf), 64-bit DMA',
    // The module's banner as seed 003's 4.11-rc1 log has it (the driver
    // version string went away in later kernels; when is unverified).
    banner: (v) => [`ixgbevf: Intel(R) 10 Gigabit PCI Express Virtual Function Network Driver${v < 500 ? ' - version 3.2.2-k' : ''}`, 'ixgbevf: Copyright (c) 2009 - 2015 Intel Corporation.'],
    probe(ctx) {
      // ixgbevf_probe: pci_enable_device, then dma_set_mask_and_coherent(DMA_BIT_MASK(64)).
      pciEnableDevice(ctx);
      ctx.linux.dma.dmaSetMaskAndCoherent(ctx.dev, dmaBitMask(64));
      // What the VF printed in seed 003 with its PF's interface down (the
      // "random" MAC is the thread's, so the model stays deterministic).
      ctx.info('PF still in reset state.  Is the PF interface up?');
      ctx.info('Assigning random MAC address');
      ctx.info('be:30:8f:ed:f8:02');
      ctx.info('MAC: 1');
      ctx.info('Intel(R) 82599 Virtual Function');
      return 0;
    },
  },
  {
    name: 'vfio-pci',
    ids: [],
    driverManagedDma: true,
    desc: 'VFIO PCI: hands the device to user space; no id table (driver_override or new_id), no DMA of its own',
    // vfio_init(): printed once, when the vfio module loads.
    banner: () => ['VFIO - User Level meta-driver version: 0.3'],
    probe(ctx) {
      // vfio_pci_probe -> vfio_register_group_dev: the device must be in an
      // IOMMU group (vfio_group_find_or_alloc; -EINVAL without one unless
      // noiommu). DMA: nothing; dma_configure already ran in really_probe.
      const { linux, dev } = ctx;
      const st = linux.driverCore.s;
      st.vfioLoaded = true;
      // vfio_pci_enable runs at open, not at probe: the command register stays.
      if (linux.core.groupOf(dev) === undefined) return -EINVAL;
      if (!st.vfio.includes(dev.name)) st.vfio.push(dev.name);
      return 0;
    },
    remove(ctx) {
      const st = ctx.linux.driverCore.s;
      // The device fd is closed before an unbind can finish: vfio_pci_disable frees the vectors.
      ctx.linux.vfio.disableMsi(ctx.dev);
      st.vfio = st.vfio.filter((n) => n !== ctx.dev.name);
    },
  },
];

const extraDrivers: PciDriverDef[] = [];

/** Add or replace a driver (by name) in the table: for other areas' drivers (a fuller vfio-pci, ...). */
export function registerPciDriver(d: PciDriverDef): void {
  const i = extraDrivers.findIndex((x) => x.name === d.name);
  if (i >= 0) extraDrivers[i] = d;
  else extraDrivers.push(d);
}

/** Every driver the lab knows, in the order device_attach tries them. */
export function pciDrivers(): PciDriverDef[] {
  const out = BUILTIN_DRIVERS.filter((b) => !extraDrivers.some((x) => x.name === b.name));
  const merged = [...out];
  for (const x of extraDrivers) {
    const i = BUILTIN_DRIVERS.findIndex((b) => b.name === x.name);
    if (i >= 0) merged.splice(Math.min(i, merged.length), 0, x);
    else merged.push(x);
  }
  return merged;
}

export function findPciDriver(name: string): PciDriverDef | undefined {
  return pciDrivers().find((d) => d.name === name);
}

/** "8086:10ed" for a device. */
export const pciId = (dev: KDevice): string | undefined => (dev.pci ? `${hexRaw(dev.pci.vendorId, 4)}:${hexRaw(dev.pci.deviceId, 4)}` : undefined);

/** The id table half of pci_bus_match (no driver_override). */
export function idMatches(d: PciDriverDef, dev: KDevice): boolean {
  if (!dev.pci) return false;
  if (d.virtio) return dev.pci instanceof VirtioPciDevice;
  const id = pciId(dev);
  return id !== undefined && d.ids.includes(id);
}

/** When the SMMU driver probes: before the PCI drivers, after them (built in), or as a module after boot. */
export type IommuDriverLoad = 'builtin' | 'late' | 'module';
export const IOMMU_DRIVER_LOADS: readonly IommuDriverLoad[] = ['builtin', 'late', 'module'];

/**
 * From which release a missing *modular* IOMMU driver is waited for.
 * v4.12's of_iommu_xlate waited only for drivers that declared themselves
 * built in (IOMMU_OF_DECLARE; commit "iommu/of: Prepare for deferred IOMMU
 * configuration": "whether a not-yet present IOMMU should be waited for or
 * skipped (by virtue of having declared a built-in driver or not)"); a
 * module's devices went without an IOMMU. Later kernels defer until the
 * module loads (driver_deferred_probe_check_state, then
 * deferred_probe_timeout, not modelled). The switch-over release (≈v4.19,
 * when IOMMU_OF_DECLARE went away) is **unverified**.
 */
export const MODULE_IOMMU_WAITED_FROM = 419;

export interface DriverCoreState {
  /** /sys/bus/pci/devices/DEV/driver_override, per dev_name. */
  override: Record<string, string>;
  /** The driver a device had before its last unbind (the lab's `driver bind DEV` binds it again). */
  last: Record<string, string>;
  /** deferred_probe_pending_list, in order (dev_name), with the driver that asked to defer and the reason. */
  deferred: { dev: string; driver: string; reason: string }[];
  /** Pre-v4.12: the DMA range computed when the device was created, applied at the first bind (queue_iommu_attach). */
  creation: Record<string, { range: { base: u64; size: u64; limit: u64 }; configured: boolean }>;
  /** IOMMU drivers loaded after boot (`modprobe`). */
  loaded?: string[];
  /** Modules whose init messages were printed. */
  modules?: string[];
  /** Devices vfio-pci has claimed (vfio_register_group_dev). */
  vfio: string[];
  vfioLoaded: boolean;
}

export type BindResult =
  | { ok: true; driver: string; log: string[] }
  | { ok: false; driver: string; errno: number; stage: 'match' | 'busy' | 'dma_configure' | 'probe' | 'defer'; log: string[] };

/**
 * The driver core's state for one booted kernel. A Stateful part of
 * Linux, so undo and failed commands restore overrides, the deferred list
 * and who had which driver.
 */
export class DriverCore implements Stateful {
  s: DriverCoreState = { override: {}, last: {}, deferred: [], creation: {}, vfio: [], vfioLoaded: false };
  /** How this boot's SMMU driver loads (a boot option, not state). */
  iommuLoad: IommuDriverLoad = 'builtin';

  constructor(private readonly linux: Linux) {}

  private get version(): number {
    return this.linux.core.config.version;
  }

  /** Does firmware put this device behind an SMMU (fwspec set up by of/iort_iommu_configure)? */
  private behindSmmu(dev: KDevice): boolean {
    return !!dev.iommuName && this.linux.smmus.some((x) => x.name === dev.iommuName);
  }

  /**
   * A function of the same multi-function device already in a group: they
   * share it without ACS (drivers/iommu/iommu.c pci_device_group,
   * get_pci_function_alias_group).
   */
  groupSibling(dev: KDevice): KDevice | undefined {
    const f = dev.pci;
    if (!f || f.bdf.fn === 0) return undefined;
    return this.linux.devices.find((d) => d.pci && d !== dev && d.pci.bdf.segment === f.bdf.segment && d.pci.bdf.bus === f.bdf.bus && d.pci.bdf.dev === f.bdf.dev && d.group !== undefined);
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as DriverCoreState);
  }

  /** The driver bound to a device now. */
  boundDriver(dev: KDevice): string | undefined {
    return this.linux.bound.get(dev.name) ?? this.linux.core.boundDriver(dev);
  }

  /** driver_override, or undefined. */
  override(dev: KDevice): string | undefined {
    return this.s.override[dev.name];
  }

  /** `echo NAME > .../driver_override`; undefined (`echo > ...`, "none" in the lab) clears it. */
  setOverride(dev: KDevice, name: string | undefined): void {
    if (name === undefined || name === '') delete this.s.override[dev.name];
    else this.s.override[dev.name] = name;
  }

  /** pci_bus_match(): with driver_override set only that driver matches (drivers/pci/pci-driver.c). */
  matches(d: PciDriverDef, dev: KDevice): boolean {
    const o = this.s.override[dev.name];
    if (o !== undefined) return o === d.name;
    return idMatches(d, dev);
  }

  /**
   * The driver `driver bind DEV` (no driver named) would try: the
   * override, else the driver the device had before if it still matches,
   * else the first one matching (device_attach / drivers_probe).
   */
  pickDriver(dev: KDevice): PciDriverDef | undefined {
    const o = this.s.override[dev.name];
    if (o !== undefined) return findPciDriver(o);
    const last = this.s.last[dev.name];
    if (last) {
      const d = findPciDriver(last);
      if (d && this.matches(d, dev)) return d;
    }
    return pciDrivers().find((d) => idMatches(d, dev));
  }

  /** Is vfio-pci holding the device for VFIO? */
  vfioClaimed(dev: KDevice): boolean {
    return this.s.vfio.includes(dev.name);
  }

  /** Kernel log lines printed by `fn`. */
  private withLog<T>(fn: () => T): { value: T; log: string[] } {
    const k = this.linux.env.kernel;
    const before = k.dmesg();
    const last = before.length ? before[before.length - 1]!.time : -1;
    const value = fn();
    return { value, log: k.dmesg().filter((l) => l.time > last).map((l) => l.text) };
  }

  private ctx(dev: KDevice, drv: string): ProbeContext {
    const k = this.linux.env.kernel;
    return { linux: this.linux, dev, info: (t) => k.log('info', `${drv} ${dev.name}: ${t}`) };
  }

  /**
   * dma_configure() as really_probe calls it, by era. Returns 0 or -errno
   * (-EPROBE_DEFER while the IOMMU firmware names has no driver yet, from
   * v4.12; -EBUSY from the ownership check).
   */
  dmaConfigure(dev: KDevice, d: PciDriverDef): number {
    const linux = this.linux;
    const opts = { driver: d.name, driverManagedDma: d.driverManagedDma ?? false };
    if (this.version < 412) {
      // Configured at creation; arm64 attached the IOMMU at the first bind
      // with the creation-time range (queue_iommu_attach); later binds only
      // record the driver.
      const c = this.s.creation[dev.name];
      if (!c || c.configured) return linux.dma.dmaConfigure(dev, { ...opts, setupOps: false });
      c.configured = true;
      return linux.dma.dmaConfigure(dev, { ...opts, range: c.range });
    }
    // of_iommu_configure / iort_iommu_configure: the fwspec, then the group.
    if (this.behindSmmu(dev) && linux.core.groupOf(dev) === undefined) {
      if (!linux.core.hasDriver(dev.iommuName!)) {
        const waited = this.iommuLoad !== 'module' || this.version >= MODULE_IOMMU_WAITED_FROM;
        if (waited) return -EPROBE_DEFER;
        // A modular driver was not waited for: the device goes without an IOMMU.
      } else {
        const sib = this.groupSibling(dev);
        linux.core.probeDevice(dev, { driver: d.name, ...(sib ? { shareWith: sib.name } : {}) });
      }
    }
    if (dev.iommuName && !this.behindSmmu(dev)) {
      // VT-d: the range never came from the masks. Before its conversion to
      // iommu-dma intel-iommu had its own DMA ops; after it, its
      // probe_finalize passes base IOVA_START_PFN << VTD_PAGE_SHIFT and the
      // domain's top (__DOMAIN_MAX_ADDR(gaw)) (drivers/iommu/intel/iommu.c).
      // Only the arm64 of/acpi_dma_configure path computed mask + 1.
      const d = linux.core.getDomainForDev(dev);
      if (d) {
        const base = 0x1000n;
        return linux.dma.dmaConfigure(dev, { ...opts, range: { base, size: d.apertureEnd - base, limit: d.apertureEnd } });
      }
    }
    return linux.dma.dmaConfigure(dev, opts);
  }

  /** /sys/kernel/debug/devices_deferred: the pending list. */
  deferredList(): readonly { dev: string; driver: string; reason: string }[] {
    return this.s.deferred;
  }

  /**
   * A late SMMU driver probes (a later initcall, or `modprobe
   * arm_smmu_v3`): its hardware probe and iommu_device_register, then
   * driver_deferred_probe_trigger: every deferred device is tried again,
   * in list order. Returns the devices retried, or [] when nothing was late.
   */
  loadIommuDrivers(): string[] {
    const linux = this.linux;
    let any = false;
    for (const drv of linux.smmus) {
      if (linux.core.hasDriver(drv.name)) continue;
      drv.probe();
      linux.core.driverReady(drv.name);
      (this.s.loaded ??= []).push(drv.name);
      any = true;
    }
    if (!any) return [];
    return this.deferredProbeTrigger();
  }

  /** driver_deferred_probe_trigger + deferred_probe_work_func: retry every deferred device. */
  deferredProbeTrigger(): string[] {
    const retried: string[] = [];
    const pending = [...this.s.deferred];
    this.s.deferred = [];
    for (const p of pending) {
      const dev = this.linux.device(p.dev);
      if (!dev || this.boundDriver(dev)) continue;
      retried.push(p.dev);
      this.attach(dev);
    }
    for (const drv of this.linux.smmus) drv.evtqThread();
    return retried;
  }

  /**
   * driver_probe_device -> really_probe. Validates the match first
   * (sysfs bind: -ENODEV when the driver does not match, -EBUSY when a
   * driver is bound); on a failed probe the device is left unbound, with
   * what Linux prints ("DRIVER: probe of DEV failed with error -N").
   */
  bind(dev: KDevice, d: PciDriverDef): BindResult {
    if (this.boundDriver(dev)) return { ok: false, driver: d.name, errno: EBUSY, stage: 'busy', log: [] };
    if (!this.matches(d, dev)) return { ok: false, driver: d.name, errno: ENODEV, stage: 'match', log: [] };
    const { value, log } = this.withLog(() => this.reallyProbe(dev, d));
    return value.ok ? { ok: true, driver: d.name, log } : { ...value, log };
  }

  private reallyProbe(dev: KDevice, d: PciDriverDef): BindResult {
    const linux = this.linux;
    const k = linux.env.kernel;
    if (d.banner) moduleInit(this.ctx(dev, d.name), d.name, d.banner(this.version));
    const rc = this.dmaConfigure(dev, d);
    if (rc === -EPROBE_DEFER) {
      // driver_deferred_probe_add; dev_dbg "Driver %s requests probe deferral"
      // is not printed at the default loglevel.
      if (!this.s.deferred.some((x) => x.dev === dev.name)) this.s.deferred.push({ dev: dev.name, driver: d.name, reason: '' });
      return { ok: false, driver: d.name, errno: EPROBE_DEFER, stage: 'defer', log: [] };
    }
    if (rc < 0) {
      // really_probe's probe_failed path; -EBUSY from dma_configure is printed.
      k.log('warn', `${d.name}: probe of ${dev.name} failed with error -${-rc}`);
      return { ok: false, driver: d.name, errno: -rc, stage: 'dma_configure', log: [] };
    }
    linux.bound.set(dev.name, d.name);
    const ctx = this.ctx(dev, d.name);
    const prc = d.probe ? d.probe(ctx) : d.mask ? maskProbe(d.mask)(ctx) : 0;
    if (prc < 0) {
      linux.bound.delete(dev.name);
      linux.dma.dmaDeconfigure(dev);
      k.log('warn', `${d.name}: probe of ${dev.name} failed with error -${-prc}`);
      return { ok: false, driver: d.name, errno: -prc, stage: 'probe', log: [] };
    }
    delete this.s.last[dev.name];
    this.s.deferred = this.s.deferred.filter((x) => x.dev !== dev.name);
    return { ok: true, driver: d.name, log: [] };
  }

  /** __device_release_driver: the driver's remove, then dma_deconfigure. Returns the driver unbound. */
  unbind(dev: KDevice): { driver: string | undefined; log: string[] } {
    const driver = this.boundDriver(dev);
    if (!driver) return { driver: undefined, log: [] };
    const d = findPciDriver(driver);
    const { log } = this.withLog(() => {
      d?.remove?.(this.ctx(dev, driver));
      // device_unbind_cleanup -> iommu_device_unuse_default_domain (and dma_deconfigure).
      this.linux.dma.dmaDeconfigure(dev);
    });
    this.s.last[dev.name] = driver;
    this.linux.bound.delete(dev.name);
    return { driver, log };
  }

  /** device_attach: the first matching driver; nothing for a device that has one. */
  attach(dev: KDevice): BindResult | undefined {
    if (this.boundDriver(dev)) return undefined;
    const d = pciDrivers().find((x) => this.matches(x, dev));
    if (!d) return undefined;
    return this.bind(dev, d);
  }
}

/** strerror-style name of a bind failure for messages: "-ENODEV". */
export const errnoName = (e: number): string => `-${ERRNO_NAME(e)}`;
