/**
 * The IOMMU core, after linux drivers/iommu/iommu.c: IOMMU drivers register
 * here; devices are probed into iommu_groups; each group gets a default
 * domain whose type comes from the boot parameters and the build default;
 * reserved regions are collected per group; sysfs `type` and
 * `reserved_regions` are rendered exactly as the kernel prints them.
 *
 * Boot order a preset follows (see also dma-mapping.ts):
 *   1. new IommuCore(kernel, { arch, version })  (reads kernel.cmdline)
 *   2. core.subsysInit()                          iommu_subsys_init: the two
 *      "iommu: Default domain type ..." lines
 *   3. core.registerDriver(drv)                   iommu_device_register
 *   4. core.probeDevice(dev) for every device whose firmware names that
 *      IOMMU, in bus order                        bus_iommu_probe: group ids
 *      from 0 in probe order, "Adding to iommu group N"
 *   5. at each driver bind, DmaMapping.dmaConfigure(dev, ...) picks the DMA
 *      ops (iommu-dma for DMA/DMA-FQ default domains, else dma-direct).
 *
 * Kernel-era knobs live in IommuCoreConfig.version (major*100+minor). What
 * changed with the era is said beside the code that reads it.
 */
import { type u64, hexRaw, U64_MAX } from '../machine/u64.ts';
import { clone, type Stateful } from '../machine/state.ts';
import type { Kernel } from './kernel.ts';
import { type DomainType, type IommuDomain, type IommuDriver, type KDevice, type ResvRegion, type ResvType, resvTypeName } from './types.ts';

// ---- errno (include/uapi/asm-generic/errno-base.h) ---------------------------
export const EPERM = 1;
export const EIO = 5;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ERRNO_NAMES: Record<number, string> = {
  [EPERM]: 'EPERM', [EIO]: 'EIO', [ENOMEM]: 'ENOMEM', [EACCES]: 'EACCES', [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY', [EEXIST]: 'EEXIST', [ENODEV]: 'ENODEV', [EINVAL]: 'EINVAL', [ENOSPC]: 'ENOSPC',
};

// ---- era -----------------------------------------------------------------------

export type KernelArch = 'aarch64' | 'x86_64';
/** A kernel version as major*100 + minor: 412 = v4.12, 515 = v5.15, 610 = v6.10. */
export type KernelVersion = number;
/** "6.6" or "v4.12" -> 606 / 412. */
export function kver(s: string): KernelVersion {
  const m = /^v?(\d+)\.(\d+)/.exec(s.trim());
  if (!m) throw new Error(`'${s}' is not a kernel version (write it like 6.6 or v4.12)`);
  return Number(m[1]) * 100 + Number(m[2]);
}
export const kverString = (v: KernelVersion): string => `v${Math.floor(v / 100)}.${v % 100}`;
/** The default era when a preset says nothing: a 2025-era mainline. */
export const CURRENT_KERNEL: KernelVersion = 615;

export interface IommuCoreConfig {
  arch: KernelArch;
  version: KernelVersion;
  /**
   * The Kconfig "IOMMU default domain type" choice. When unset: since v5.15
   * IOMMU_DEFAULT_DMA_LAZY on x86 and IOMMU_DEFAULT_DMA_STRICT elsewhere
   * (drivers/iommu/Kconfig). Before v5.15 the same split came from the
   * drivers (intel-iommu lazy unless intel_iommu=strict; arm-smmu strict).
   */
  kconfigDefault?: 'strict' | 'lazy' | 'passthrough';
}

// ---- boot parameters ------------------------------------------------------------

/** kstrtobool() (lib/kstrtox.c): y/Y/t/T/1/on -> true, n/N/f/F/0/off -> false. */
export function kstrtobool(s: string): boolean | undefined {
  const c = s[0];
  if (c === 'y' || c === 'Y' || c === 't' || c === 'T' || c === '1') return true;
  if (c === 'n' || c === 'N' || c === 'f' || c === 'F' || c === '0') return false;
  if (c === 'o' || c === 'O') {
    const d = s[1];
    if (d === 'n' || d === 'N') return true;
    if (d === 'f' || d === 'F') return false;
  }
  return undefined;
}

/** What iommu_subsys_init() ends up with: iommu_def_domain_type and friends. */
export interface DefaultDomainPolicy {
  /** The global default domain type (iommu_def_domain_type after subsys init). */
  type: DomainType;
  /** iommu_dma_strict. */
  strict: boolean;
  /** IOMMU_CMD_LINE_DMA_API: the passthrough choice came from the command line. */
  typeFromCmdline: boolean;
  /** IOMMU_CMD_LINE_STRICT. */
  strictFromCmdline: boolean;
  /** iommu.forcedac=1 (dma-iommu.c, v5.13+): no 32-bit-first IOVA for PCI devices. */
  forcedac: boolean;
  /** Parameters whose value kstrtobool refused (init/main.c: "Malformed early option"). */
  malformed: string[];
  /** IOMMU parameters this era does not have yet (a real kernel passes them on to init). */
  ignored: string[];
}

/**
 * Default-domain policy from the command line, the arch and the era
 * (drivers/iommu/iommu.c iommu_subsys_init, iommu_set_def_domain_type,
 * iommu_dma_setup; arch/x86/kernel/pci-dma.c iommu_setup for `iommu=pt|nopt`).
 * Parameters are applied in command-line order, as early_param handlers run.
 */
export function iommuDefaultDomainPolicy(cmdline: ReadonlyMap<string, string>, cfg: IommuCoreConfig): DefaultDomainPolicy {
  const kdef = cfg.kconfigDefault ?? (cfg.arch === 'x86_64' ? 'lazy' : 'strict');
  let passthrough: boolean | undefined;
  // iommu_dma_strict = IS_ENABLED(CONFIG_IOMMU_DEFAULT_DMA_STRICT): with the
  // passthrough Kconfig choice a translated domain asked for on the command
  // line is lazy.
  let strict = kdef === 'strict';
  let typeFromCmdline = false;
  let strictFromCmdline = false;
  let forcedac = false;
  const malformed: string[] = [];
  const ignored: string[] = [];
  const v = cfg.version;
  const bool = (k: string, val: string): boolean | undefined => {
    const b = kstrtobool(val);
    if (b === undefined) malformed.push(k);
    return b;
  };
  for (const [k, val] of cmdline) {
    if (k === 'iommu.passthrough') {
      // iommu.c early_param since ~v4.14 (version approximate).
      if (v < 414) {
        ignored.push(k);
        continue;
      }
      const b = bool(k, val);
      if (b !== undefined) {
        passthrough = b;
        typeFromCmdline = true;
      }
    } else if (k === 'iommu.strict') {
      // v4.20 for arm64 (68a6efe86f6a "iommu: Add iommu.strict command line
      // option"); it took effect on x86 only when the flush-queue code was
      // consolidated (v5.14). Before that x86 had intel_iommu=strict.
      if (v < (cfg.arch === 'x86_64' ? 514 : 420)) {
        ignored.push(k);
        continue;
      }
      const b = bool(k, val);
      if (b !== undefined) {
        strict = b;
        strictFromCmdline = true;
      }
    } else if (k === 'intel_iommu' && cfg.arch === 'x86_64') {
      if (val.split(',').includes('strict')) {
        strict = true;
        strictFromCmdline = true;
      }
    } else if (k === 'iommu.forcedac') {
      if (v < 513) {
        ignored.push(k);
        continue;
      }
      const b = bool(k, val);
      if (b !== undefined) forcedac = b;
    } else if (k === 'iommu' && cfg.arch === 'x86_64') {
      // x86 only: a comma list; "pt" and "nopt" set the default domain type.
      for (const w of val.split(',')) {
        if (w === 'pt') {
          passthrough = true;
          typeFromCmdline = true;
        } else if (w === 'nopt') {
          passthrough = false;
          typeFromCmdline = true;
        }
      }
    }
  }
  // arm64 before v4.20 had no lazy mode at all.
  if (cfg.arch === 'aarch64' && v < 420) strict = true;
  if (passthrough === undefined) passthrough = kdef === 'passthrough';
  const type: DomainType = passthrough ? 'identity' : strict ? 'DMA' : 'DMA-FQ';
  return { type, strict, typeFromCmdline, strictFromCmdline, forcedac, malformed, ignored };
}

// ---- device printk prefixes -----------------------------------------------------

/** dev_info() prefix: "<driver or bus> <dev_name>: ". */
export const devPrefix = (dev: KDevice, driver?: string): string => `${driver ?? (dev.pci ? 'pci' : 'platform')} ${dev.name}: `;

// ---- groups ---------------------------------------------------------------------

/** What `info groups` shows. */
export interface IommuGroupInfo {
  id: number;
  /** The sysfs `type` string (without the newline). */
  type: string;
  devices: string[];
}

interface GroupState {
  id: number;
  /** dev_name()s in the order they joined. */
  devices: string[];
  defaultDomain: IommuDomain | null;
  /** The domain the group is attached to now (default, or e.g. VFIO's unmanaged one). */
  domain: IommuDomain | null;
  /** group->owner_cnt: kernel drivers using the DMA API (and a DMA owner claim). */
  ownerCnt: number;
  /** group->owner: who claimed DMA ownership (VFIO), null for the kernel. */
  owner: string | null;
}

interface DevState {
  group: number;
  iommu: string;
  /** The bound driver's name, when a driver is bound (device_is_bound). */
  driver?: string;
  /** It took DMA-API ownership at bind (iommu_device_use_default_domain). */
  usesDefaultDomain?: boolean;
  /** dev->iommu->pci_32bit_workaround (v6.4+: cleared after the first 32-bit failure). */
  pci32bitWorkaround: boolean;
}

export interface IommuCoreStats {
  /** iommu_map / iommu_unmap calls and bytes. */
  maps: number;
  unmaps: number;
  bytesMapped: number;
  bytesUnmapped: number;
  /** iommu_iotlb_sync (a range invalidation + CMD_SYNC). */
  iotlbSyncs: number;
  /** iommu_flush_iotlb_all. */
  flushAlls: number;
}

interface CoreState {
  groups: GroupState[];
  devs: Record<string, DevState>;
  /**
   * Domains with DOMAIN_ATTR_DMA_USE_FLUSH_QUEUE: before v5.15 a lazy
   * default domain was a DMA domain carrying this attribute (no DMA_FQ type).
   */
  fqDomains: string[];
  stats: IommuCoreStats;
  /** IOMMU instances whose driver has not probed yet (markLate). */
  late?: string[];
  /**
   * Private per-device domains of a driver without default domains
   * (IommuDriver.privateDomains: v4.x intel-iommu), by dev_name().
   */
  priv?: Record<string, IommuDomain>;
}

/** Hooks the DMA layer registers (dma-iommu reacts to default-domain changes). */
export interface IommuCoreListener {
  /** A group's default domain was replaced (sysfs type change); the old one is gone. */
  defaultDomainChanged?(group: number, oldDomain: IommuDomain | null, newDomain: IommuDomain): void;
  /** DMA -> DMA-FQ on a live domain (iommu_dma_init_fq). */
  flushQueueEnabled?(domain: IommuDomain): void;
}

/** The key a domain is known by across snapshots: its IOMMU and id. */
export const domainKey = (d: IommuDomain): string => `${d.iommu}:${d.id}`;

/** IOMMU_DOMAIN_* values (include/linux/iommu.h, REFERENCE.md 4.1). */
export const DOMAIN_TYPE_VALUE: Record<DomainType, number> = { blocked: 0, identity: 0x4, unmanaged: 0x1, DMA: 0x3, 'DMA-FQ': 0xb };

const RESV_ORDER: Record<ResvType, number> = { direct: 0, 'direct-relaxable': 1, reserved: 2, msi: 3, 'sw-msi': 4 };

/**
 * iommu_insert_resv_region() applied to a list: sorted by start (then by
 * type, enum order), overlapping or adjacent regions of the same type merged.
 */
export function mergeResvRegions(regions: readonly ResvRegion[]): ResvRegion[] {
  const sorted = regions
    .map((r) => ({ ...r }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : RESV_ORDER[a.type] - RESV_ORDER[b.type]));
  const out: ResvRegion[] = [];
  for (const r of sorted) {
    let top: ResvRegion | undefined;
    for (let i = out.length - 1; i >= 0; i--) {
      if (out[i]!.type === r.type) {
        top = out[i];
        break;
      }
    }
    const rEnd = r.start + r.length - 1n;
    if (top) {
      const topEnd = top.start + top.length - 1n;
      if (r.start <= topEnd + 1n) {
        top.length = (rEnd > topEnd ? rEnd : topEnd) - top.start + 1n;
        continue;
      }
    }
    out.push(r);
  }
  return out;
}

/** One line of /sys/kernel/iommu_groups/N/reserved_regions: "0x%016llx 0x%016llx %s\n". */
export const resvRegionLine = (r: ResvRegion): string =>
  `0x${hexRaw(r.start, 16)} 0x${hexRaw((r.start + r.length - 1n) & U64_MAX, 16)} ${resvTypeName(r.type)}\n`;

export class IommuCore implements Stateful {
  readonly policy: DefaultDomainPolicy;
  private drivers = new Map<string, IommuDriver>();
  private devices = new Map<string, KDevice>();
  private listeners: IommuCoreListener[] = [];
  private s: CoreState = { groups: [], devs: {}, fqDomains: [], stats: { maps: 0, unmaps: 0, bytesMapped: 0, bytesUnmapped: 0, iotlbSyncs: 0, flushAlls: 0 } };
  /**
   * Firmware-described reserved regions for a device (IORT RMR, DT
   * reserved-memory iommu-addresses, an ACPI ITS HW MSI window): what
   * iommu_dma_get_resv_regions()/of_iommu_get_resv_regions() add to the
   * driver's own. The preset sets it; default none.
   */
  firmwareResvRegions: (dev: KDevice) => ResvRegion[] = () => [];

  constructor(
    readonly kernel: Kernel,
    readonly config: IommuCoreConfig = { arch: 'aarch64', version: CURRENT_KERNEL },
  ) {
    this.policy = iommuDefaultDomainPolicy(kernel.cmdline, config);
  }

  addListener(l: IommuCoreListener): void {
    this.listeners.push(l);
  }

  /** Does unmap in this domain go through a flush queue (DMA-FQ, or the pre-v5.15 attribute)? */
  domainUsesFlushQueue(d: IommuDomain): boolean {
    return d.type === 'DMA-FQ' || this.s.fqDomains.includes(domainKey(d));
  }

  /** iommu_def_domain_type. */
  get defaultDomainType(): DomainType {
    return this.policy.type;
  }

  /**
   * The sysfs string of a domain type in this era. Before v5.15 there was no
   * DMA_FQ type: a lazy domain was a DMA domain with a flush-queue attribute
   * and sysfs said "DMA".
   */
  typeString(t: DomainType): string {
    return t === 'DMA-FQ' && this.config.version < 515 ? 'DMA' : t;
  }

  /**
   * iommu_subsys_init(): log the default domain type and invalidation
   * policy. Lines as in iommu.c (pr_fmt "iommu: "; the format's "%s %s"
   * leaves a trailing space when the suffix is empty). Printed since ~v5.7
   * (type) and ~v5.14 (policy); those first versions are **unverified**.
   */
  subsysInit(): void {
    for (const k of this.policy.malformed) this.kernel.log('warn', `Malformed early option '${k}'`);
    if (this.policy.forcedac) this.kernel.log('info', 'Forcing DAC for PCI devices');
    const v = this.config.version;
    const t = this.policy.type;
    const typeStr = t === 'identity' ? 'Passthrough' : t === 'blocked' ? 'Blocked' : t === 'unmanaged' ? 'Unmanaged' : 'Translated';
    if (v >= 507) {
      this.kernel.log('info', `iommu: Default domain type: ${typeStr} ${this.policy.typeFromCmdline ? '(set via kernel command line)' : ''}`);
    }
    if (v >= 514 && t !== 'identity') {
      this.kernel.log('info', `iommu: DMA domain TLB invalidation policy: ${this.policy.strict ? 'strict' : 'lazy'} mode ${this.policy.strictFromCmdline ? '(set via kernel command line)' : ''}`);
    }
  }

  /** Has an IOMMU driver registered this instance (iommu_ops_from_fwnode finds it)? */
  hasDriver(name: string): boolean {
    return this.drivers.has(name) && !(this.s.late ?? []).includes(name);
  }

  /**
   * An IOMMU whose driver probes late (a later initcall, or a module):
   * known to the model from boot, so undo can take a late load back, but
   * invisible to the core until driverReady() (kernel/driver-core.ts).
   */
  markLate(name: string): void {
    (this.s.late ??= []).push(name);
  }

  /** The late driver has probed: iommu_device_register. */
  driverReady(name: string): void {
    this.s.late = (this.s.late ?? []).filter((n) => n !== name);
  }

  /** iommu_device_register(): make a driver's IOMMU instance known by its name. */
  registerDriver(drv: IommuDriver): number {
    if (this.drivers.has(drv.name)) return -EBUSY;
    this.drivers.set(drv.name, drv);
    return 0;
  }

  driver(name: string): IommuDriver | undefined {
    return this.drivers.get(name);
  }

  device(name: string): KDevice | undefined {
    return this.devices.get(name);
  }

  private group(id: number): GroupState | undefined {
    return this.s.groups.find((g) => g.id === id);
  }

  groupOf(dev: KDevice): number | undefined {
    return this.s.devs[dev.name]?.group;
  }

  /** The device's driver-side state, for the DMA layer. */
  devState(dev: KDevice): Readonly<DevState> | undefined {
    return this.s.devs[dev.name];
  }

  /** Bound driver's name (for dev_* printk prefixes). */
  boundDriver(dev: KDevice): string | undefined {
    return this.s.devs[dev.name]?.driver;
  }

  /** iommu_get_def_domain_type(): a device's own requirement, if any. */
  private devDefDomainType(dev: KDevice): DomainType | undefined {
    // Untrusted (external-facing) PCI devices always get a strict DMA domain (v5.1+).
    if (dev.pci && dev.untrusted) return 'DMA';
    return undefined;
  }

  /**
   * iommu_group_alloc_default_domain(): a driver that cannot make the
   * requested type gets a DMA domain instead (message as in ~v5.x iommu.c;
   * the type is printed as its number, the unnamed group as "(null)").
   */
  private allocDefaultDomain(drv: IommuDriver, type: DomainType): IommuDomain | null {
    // Before v5.15: a DMA domain, plus the flush-queue attribute when lazy.
    if (this.config.version < 515 && (type === 'DMA-FQ' || type === 'DMA')) {
      const lazy = type === 'DMA-FQ' || !this.policy.strict;
      let d: IommuDomain;
      try {
        d = drv.domainAlloc('DMA');
      } catch {
        return null;
      }
      if (lazy) this.s.fqDomains.push(domainKey(d));
      return d;
    }
    try {
      return drv.domainAlloc(type);
    } catch {
      if (type === 'DMA') return null;
      this.kernel.log('warn', `iommu: Failed to allocate default IOMMU domain of type ${DOMAIN_TYPE_VALUE[type]} for group (null) - Falling back to IOMMU_DOMAIN_DMA`);
      try {
        return drv.domainAlloc('DMA');
      } catch {
        return null;
      }
    }
  }

  /** A domain of exactly this type, never lazy (untrusted devices). */
  private allocStrict(drv: IommuDriver, type: DomainType): IommuDomain | null {
    try {
      return drv.domainAlloc(type);
    } catch {
      return null;
    }
  }

  /** Lowest free group id: ida_alloc() in iommu_group_alloc(). */
  private nextGroupId(): number {
    const used = new Set(this.s.groups.map((g) => g.id));
    let id = 0;
    while (used.has(id)) id++;
    return id;
  }

  /**
   * iommu_probe_device(): put the device in a group (a new one, or the
   * group of `shareWith` when the bus says they cannot be isolated: PCI
   * aliases, no ACS), give a new group its default domain, attach.
   * Returns the group id, or -errno (-ENODEV when no driver claims it).
   */
  probeDevice(dev: KDevice, opts: { shareWith?: string; driver?: string } = {}): number {
    const drv = dev.iommuName && this.hasDriver(dev.iommuName) ? this.drivers.get(dev.iommuName) : undefined;
    if (!drv) return -ENODEV;
    const prev = this.s.devs[dev.name];
    if (prev) return prev.group;
    this.devices.set(dev.name, dev);
    let g = opts.shareWith !== undefined ? this.group(this.s.devs[opts.shareWith]?.group ?? -1) : undefined;
    if (!g) {
      g = { id: this.nextGroupId(), devices: [], defaultDomain: null, domain: null, ownerCnt: 0, owner: null };
      this.s.groups.push(g);
      this.s.groups.sort((a, b) => a.id - b.id);
    }
    g.devices.push(dev.name);
    this.s.devs[dev.name] = { group: g.id, iommu: drv.name, pci32bitWorkaround: !!dev.pci && !this.policy.forcedac };
    dev.group = g.id;
    // v4.x printed pr_info("Adding device %s to group %d") with pr_fmt "iommu: "
    // (verified in the v4.10/4.11-era iommu.c); later kernels use dev_info
    // "Adding to iommu group %d". The switch-over release (~v5.6) is **unverified**.
    if (this.config.version < 506) this.kernel.log('info', `iommu: Adding device ${dev.name} to group ${g.id}`);
    // After the probe-deferral series on DT/ACPI arm64 this runs inside
    // really_probe (of_iommu_configure), so dev_info carries the driver's name.
    else this.kernel.log('info', `${devPrefix(dev, opts.driver)}Adding to iommu group ${g.id}`);
    if (!g.defaultDomain && !this.usesPrivateDomains(dev)) {
      const forced = this.devDefDomainType(dev);
      const d = forced ? this.allocStrict(drv, forced) : this.allocDefaultDomain(drv, this.policy.type);
      if (d) {
        g.defaultDomain = d;
        g.domain = d;
      }
    }
    // A device joining a group claimed by VFIO is not attached to the default domain.
    if (g.domain && !g.owner) {
      drv.attachDev(dev, g.domain);
      this.createDeviceDirectMappings(g, dev);
    } else if (g.domain && g.owner) {
      drv.attachDev(dev, g.domain);
    }
    return g.id;
  }

  /** iommu_release_device(): "Removing from iommu group N". */
  releaseDevice(dev: KDevice): void {
    const ds = this.s.devs[dev.name];
    if (!ds) return;
    const g = this.group(ds.group)!;
    if (this.config.version < 506) this.kernel.log('info', `iommu: Removing device ${dev.name} from group ${g.id}`);
    else this.kernel.log('info', `${devPrefix(dev, ds.driver)}Removing from iommu group ${g.id}`);
    g.devices = g.devices.filter((n) => n !== dev.name);
    delete this.s.devs[dev.name];
    dev.group = undefined;
    if (g.devices.length === 0) this.s.groups = this.s.groups.filter((x) => x !== g);
  }

  /**
   * iommu_create_device_direct_mappings(): identity-map DIRECT and
   * DIRECT_RELAXABLE regions in DMA domains, then flush.
   */
  private createDeviceDirectMappings(g: GroupState, dev: KDevice): void {
    const d = g.defaultDomain;
    if (!d || (d.type !== 'DMA' && d.type !== 'DMA-FQ')) return;
    const drv = this.drivers.get(d.iommu)!;
    const pg = lowestPageSize(d.pgsizeBitmap);
    let mapped = false;
    for (const r of this.getResvRegions(dev)) {
      if (r.type !== 'direct' && r.type !== 'direct-relaxable') continue;
      const start = alignUpU(r.start, pg);
      const end = alignUpU(r.start + r.length, pg);
      for (let a = start; a < end; a += pg) {
        if (drv.iovaToPhys(d, a) !== undefined) continue;
        this.iommuMap(d, a, a, pg, r.prot);
        mapped = true;
      }
    }
    if (mapped) this.iommuFlushIotlbAll(d);
  }

  // ---- driver binding and DMA ownership (drivers/base/dd.c, iommu.c) --------------

  /**
   * A driver binds (really_probe -> dma_configure). Unless the driver
   * manages DMA itself (vfio-pci: driver_managed_dma), it takes DMA-API
   * ownership of the group: iommu_device_use_default_domain(), -EBUSY when
   * the group is claimed by a user (VFIO). Ownership accounting is v5.19+;
   * earlier kernels only knew "a driver is bound", which the sysfs type
   * check of those eras reads instead.
   */
  deviceBind(dev: KDevice, driver: string, driverManagedDma = false): number {
    const ds = this.s.devs[dev.name];
    if (!ds) return 0;
    const g = this.group(ds.group)!;
    if (!driverManagedDma) {
      if (g.owner) return -EBUSY;
      g.ownerCnt++;
      ds.usesDefaultDomain = true;
    }
    ds.driver = driver;
    return 0;
  }

  /** The driver unbinds: iommu_device_unuse_default_domain(). */
  deviceUnbind(dev: KDevice): void {
    const ds = this.s.devs[dev.name];
    if (!ds) return;
    const g = this.group(ds.group)!;
    if (ds.usesDefaultDomain) {
      g.ownerCnt = Math.max(0, g.ownerCnt - 1);
      ds.usesDefaultDomain = false;
    }
    ds.driver = undefined;
  }

  /**
   * iommu_group_claim_dma_owner(): a user (VFIO) takes the group; -EPERM
   * while kernel drivers use the DMA API in it, -EBUSY if another owner has it.
   */
  groupClaimDmaOwner(id: number, owner: string): number {
    const g = this.group(id);
    if (!g) return -ENODEV;
    if (g.owner) return g.owner === owner ? 0 : -EBUSY;
    if (g.ownerCnt) return -EPERM;
    g.owner = owner;
    g.ownerCnt = 1;
    return 0;
  }

  /** iommu_group_release_dma_owner(): back to the default domain. */
  groupReleaseDmaOwner(id: number): void {
    const g = this.group(id);
    if (!g || !g.owner) return;
    g.owner = null;
    g.ownerCnt = 0;
    if (g.defaultDomain && g.domain && domainKey(g.domain) !== domainKey(g.defaultDomain)) this.setGroupDomain(g, g.defaultDomain);
    else if (!g.defaultDomain) this.detachToNothing(g);
  }

  /** iommu_domain_alloc() on a device's IOMMU (VFIO's unmanaged domains). */
  domainAlloc(iommu: string, type: DomainType): IommuDomain | undefined {
    const drv = this.drivers.get(iommu);
    if (!drv) return undefined;
    try {
      return drv.domainAlloc(type);
    } catch {
      return undefined;
    }
  }

  private setGroupDomain(g: GroupState, d: IommuDomain): void {
    const drv = this.drivers.get(d.iommu)!;
    for (const n of g.devices) drv.attachDev(this.devices.get(n)!, d);
    g.domain = d;
  }

  /** iommu_attach_group(): only a group owned by a user may leave its default domain. */
  attachGroup(id: number, d: IommuDomain): number {
    const g = this.group(id);
    if (!g) return -ENODEV;
    if (g.domain && (!g.defaultDomain || domainKey(g.domain) !== domainKey(g.defaultDomain))) return -EBUSY;
    this.setGroupDomain(g, d);
    // The devices left their private domains as they were attached (the old context entries' DIDs released).
    if (!g.defaultDomain) this.dropPrivateDomains(g);
    return 0;
  }

  /** iommu_detach_group(): back to the default domain (none: detached). */
  detachGroup(id: number): void {
    const g = this.group(id);
    if (g?.defaultDomain) this.setGroupDomain(g, g.defaultDomain);
    else if (g) this.detachToNothing(g);
  }

  /** iommu_get_domain_for_dev(): the group's current domain (or, without default domains, the device's private one). */
  getDomainForDev(dev: KDevice): IommuDomain | undefined {
    const ds = this.s.devs[dev.name];
    return ds ? (this.group(ds.group)?.domain ?? this.s.priv?.[dev.name]) : undefined;
  }

  /** iommu_get_dma_domain(): the group's default domain (what iommu-dma maps into), or the device's private one. */
  getDmaDomain(dev: KDevice): IommuDomain | undefined {
    const ds = this.s.devs[dev.name];
    return ds ? (this.group(ds.group)?.defaultDomain ?? this.s.priv?.[dev.name]) : this.s.priv?.[dev.name];
  }

  /**
   * Does the device's IOMMU driver give it a private domain at its first
   * mapping instead of a default domain (IommuDriver.privateDomains)? Only
   * for a translated policy: with iommu=pt the v4.x driver put every device
   * in its identity si_domain at boot, which the lab keeps as per-group
   * identity domains.
   */
  usesPrivateDomains(dev: KDevice): boolean {
    const drv = dev.iommuName ? this.drivers.get(dev.iommuName) : undefined;
    return !!drv?.privateDomains?.() && this.policy.type !== 'identity';
  }

  /**
   * The device's private domain, made on first use (v4.x intel-iommu's
   * get_valid_domain_for_dev: domain_init, then domain_context_mapping, which
   * writes the context entry). Lazy unless intel_iommu=strict, as the
   * deferred-flush list of that driver. Undefined when the driver cannot.
   */
  privateDomain(dev: KDevice): IommuDomain | undefined {
    const have = this.s.priv?.[dev.name];
    if (have) return have;
    const drv = dev.iommuName ? this.drivers.get(dev.iommuName) : undefined;
    if (!drv || !this.usesPrivateDomains(dev)) return undefined;
    const d = this.allocDefaultDomain(drv, 'DMA');
    if (!d) return undefined;
    try {
      drv.attachDev(dev, d);
    } catch {
      drv.domainFree?.(d);
      return undefined;
    }
    this.devices.set(dev.name, dev);
    (this.s.priv ??= {})[dev.name] = d;
    return d;
  }

  /** Is this one of the private per-device domains (IommuDriver.privateDomains)? */
  isPrivateDomain(d: IommuDomain): boolean {
    const k = domainKey(d);
    return !!this.s.priv && Object.values(this.s.priv).some((p) => domainKey(p) === k);
  }

  /** A global IOTLB invalidation on an IOMMU (the driver's, else every domain's flush_iotlb_all is not modelled: no-op). */
  iommuFlushIotlbGlobal(iommu: string): void {
    this.drivers.get(iommu)?.flushIotlbGlobal?.();
  }

  /** Drop the private domains of a group's devices (a user domain replaces them; intel_iommu_attach_device). */
  private dropPrivateDomains(g: GroupState): void {
    for (const n of g.devices) {
      const d = this.s.priv?.[n];
      if (!d) continue;
      delete this.s.priv![n];
      this.s.fqDomains = this.s.fqDomains.filter((k) => k !== domainKey(d));
      this.drivers.get(d.iommu)?.domainFree?.(d);
    }
  }

  /** Without a default domain to go back to, a group leaving a user's domain is detached (its context entries cleared). */
  private detachToNothing(g: GroupState): void {
    const d = g.domain;
    if (!d) return;
    const drv = this.drivers.get(d.iommu) as (IommuDriver & { detachDev?(dev: KDevice): void }) | undefined;
    for (const n of g.devices) drv?.detachDev?.(this.devices.get(n)!);
    g.domain = null;
  }

  /** The devices of a group (KDevice objects). */
  groupDevices(id: number): KDevice[] {
    return (this.group(id)?.devices ?? []).map((n) => this.devices.get(n)!).filter(Boolean);
  }

  // ---- reserved regions -----------------------------------------------------------

  /** iommu_get_resv_regions(): the driver's regions plus firmware-described ones. */
  getResvRegions(dev: KDevice): ResvRegion[] {
    const ds = this.s.devs[dev.name];
    const drv = this.drivers.get(ds?.iommu ?? dev.iommuName ?? '');
    return [...(drv ? drv.getResvRegions(dev) : []), ...this.firmwareResvRegions(dev)];
  }

  /** iommu_get_group_resv_regions(): every device's regions, sorted and merged. */
  getGroupResvRegions(id: number): ResvRegion[] {
    const g = this.group(id);
    if (!g) return [];
    return mergeResvRegions(g.devices.flatMap((n) => this.getResvRegions(this.devices.get(n)!)));
  }

  /** The exact text of /sys/kernel/iommu_groups/N/reserved_regions. */
  groupShowResvRegions(id: number): string {
    return this.getGroupResvRegions(id).map(resvRegionLine).join('');
  }

  // ---- sysfs type -----------------------------------------------------------------

  /** The exact text of /sys/kernel/iommu_groups/N/type. */
  groupShowType(id: number): string {
    const d = this.group(id)?.defaultDomain;
    return `${d ? this.typeString(d.type) : 'unknown'}\n`;
  }

  /**
   * Write /sys/kernel/iommu_groups/N/type (iommu_group_store_type). Returns
   * the byte count on success or -errno, as the write(2) would:
   *  - before v5.11 the file is read-only (0444): -EACCES;
   *  - a string other than identity / DMA / DMA-FQ / auto: -EINVAL;
   *  - DMA -> DMA-FQ is done in place (iommu_dma_init_fq) even with a driver bound (v5.15+);
   *  - v5.11 .. ~v6.3: a group with more than one device: -EINVAL ("Group has
   *    more than one device"); a bound driver: -EBUSY ("Device is still bound to driver");
   *  - ~v6.4+: multi-device groups allowed; kernel DMA users or a DMA owner
   *    (group->owner_cnt): -EPERM. (The -EBUSY -> -EPERM switch version is
   *    approximate, **unverified**.)
   *  - a device that cannot be in that domain (untrusted: DMA only): -EINVAL.
   */
  groupStoreType(id: number, buf: string): number {
    const v = this.config.version;
    if (v < 511) return -EACCES;
    const g = this.group(id);
    if (!g || !g.defaultDomain) return -EINVAL;
    const req = buf.replace(/\n$/, '');
    let type: DomainType | 'auto';
    if (req === 'identity') type = 'identity';
    else if (req === 'DMA') type = 'DMA';
    else if (req === 'DMA-FQ' && v >= 515) type = 'DMA-FQ';
    else if (req === 'auto') type = 'auto';
    else return -EINVAL;
    const count = buf.length;
    const cur = g.defaultDomain;
    const inPlaceFq = type === 'DMA-FQ' && cur.type === 'DMA';
    if (v >= 604) {
      if (inPlaceFq) return this.enableFq(g, cur) ? count : -ENOMEM;
      if (g.devices.length === 0 || g.ownerCnt) return -EPERM;
    } else {
      if (g.devices.length !== 1) {
        this.kernel.log('err', 'iommu: Cannot change default domain: Group has more than one device');
        return -EINVAL;
      }
      const ds = this.s.devs[g.devices[0]!]!;
      if (ds.driver !== undefined && !inPlaceFq) {
        this.kernel.log('err', 'iommu: Device is still bound to driver');
        return -EBUSY;
      }
      if (g.domain && domainKey(g.domain) !== domainKey(cur)) return -EBUSY;
    }
    // iommu_change_dev_def_domain / iommu_setup_default_domain
    const devs = this.groupDevices(g.id);
    const need = devs.map((d) => this.devDefDomainType(d)).find((t) => t !== undefined);
    let want: DomainType;
    if (type === 'auto') want = need ?? this.policy.type;
    else {
      if (need && type !== need) {
        this.kernel.log('err', `${devPrefix(devs[0]!)}Device cannot be in ${type === 'identity' ? 'Passthrough' : 'Translated'} domain`);
        return -EINVAL;
      }
      want = type;
    }
    if (cur.type === want) return count;
    if (want === 'DMA-FQ' && cur.type === 'DMA') return this.enableFq(g, cur) ? count : -ENOMEM;
    const drv = this.drivers.get(cur.iommu)!;
    const nd = need ? this.allocStrict(drv, want) : this.allocDefaultDomain(drv, want);
    if (!nd) return -ENOMEM;
    const old = g.defaultDomain;
    g.defaultDomain = nd;
    this.setGroupDomain(g, nd);
    for (const d of devs) this.createDeviceDirectMappings(g, d);
    for (const l of this.listeners) l.defaultDomainChanged?.(g.id, old, nd);
    this.s.fqDomains = this.s.fqDomains.filter((k) => k !== domainKey(old));
    drv.domainFree?.(old);
    return count;
  }

  private enableFq(g: GroupState, d: IommuDomain): boolean {
    d.type = 'DMA-FQ';
    if (g.domain && domainKey(g.domain) === domainKey(d)) g.domain.type = 'DMA-FQ';
    for (const l of this.listeners) l.flushQueueEnabled?.(d);
    return true;
  }

  /** For `info groups`: group number, sysfs type, devices. */
  groupsInfo(): IommuGroupInfo[] {
    return this.s.groups.map((g) => ({
      id: g.id,
      type: g.defaultDomain ? this.typeString(g.defaultDomain.type) : 'unknown',
      devices: [...g.devices],
    }));
  }

  /** The group's owner and owner count (VFIO viability checks, inspectors). */
  groupOwnership(id: number): { owner: string | null; ownerCnt: number } | undefined {
    const g = this.group(id);
    return g ? { owner: g.owner, ownerCnt: g.ownerCnt } : undefined;
  }

  // ---- the IOMMU API on a domain (iommu_map and friends) ------------------------

  /** iommu_map(): throws when the driver refuses (the caller unwinds). */
  iommuMap(d: IommuDomain, iova: u64, pa: u64, size: u64, prot: number): void {
    this.drivers.get(d.iommu)!.map(d, iova, pa, size, prot);
    this.s.stats.maps++;
    this.s.stats.bytesMapped += Number(size);
  }

  /** iommu_unmap_fast(): no invalidation. */
  iommuUnmapFast(d: IommuDomain, iova: u64, size: u64): u64 {
    const n = this.drivers.get(d.iommu)!.unmap(d, iova, size);
    this.s.stats.unmaps++;
    this.s.stats.bytesUnmapped += Number(n);
    return n;
  }

  /** iommu_unmap(): unmap then invalidate that range (strict). */
  iommuUnmap(d: IommuDomain, iova: u64, size: u64): u64 {
    const n = this.iommuUnmapFast(d, iova, size);
    this.iommuIotlbSync(d, iova, size);
    return n;
  }

  iommuIotlbSync(d: IommuDomain, iova: u64, size: u64): void {
    this.drivers.get(d.iommu)!.iotlbSync(d, iova, size);
    this.s.stats.iotlbSyncs++;
  }

  iommuFlushIotlbAll(d: IommuDomain): void {
    this.drivers.get(d.iommu)!.flushIotlbAll(d);
    this.s.stats.flushAlls++;
  }

  iommuIovaToPhys(d: IommuDomain, iova: u64): u64 | undefined {
    return this.drivers.get(d.iommu)!.iovaToPhys(d, iova);
  }

  stats(): Readonly<IommuCoreStats> {
    return this.s.stats;
  }

  /** Set dev->iommu->pci_32bit_workaround (dma-iommu clears it on v6.4+). */
  setPci32bitWorkaround(dev: KDevice, on: boolean): void {
    const ds = this.s.devs[dev.name];
    if (ds) ds.pci32bitWorkaround = on;
  }

  // ---- state ----------------------------------------------------------------

  saveState(): unknown {
    return clone(this.s);
  }

  restoreState(state: unknown): void {
    this.s = clone(state as CoreState);
    // dev->iommu_group lives on the device: put it back as the snapshot had it.
    for (const [name, dev] of this.devices) dev.group = this.s.devs[name]?.group;
  }
}

/** 1 << __ffs(pgsize_bitmap): the smallest page size. */
export const lowestPageSize = (bitmap: u64): u64 => {
  if (bitmap === 0n) return 4096n;
  let b = 1n;
  while ((bitmap & b) === 0n) b <<= 1n;
  return b;
};

const alignUpU = (v: u64, a: u64): u64 => ((v + a - 1n) / a) * a;
