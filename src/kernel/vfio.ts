/**
 * VFIO with the type1 IOMMU backend, modelled: one container (the
 * /dev/vfio/vfio fd a user-space driver such as QEMU or DPDK opens), the
 * groups set into it, the unmanaged IOMMU domain(s) VFIO attaches them to,
 * and the DMA mappings the user asks for with VFIO_IOMMU_MAP_DMA.
 *
 * Sources: linux drivers/vfio/container.c, drivers/vfio/group.c,
 * drivers/vfio/vfio_iommu_type1.c (vfio_dma_do_map, vfio_dma_do_unmap,
 * vfio_iommu_type1_attach_group, vfio_iommu_resv_exclude,
 * vfio_iommu_iova_build_caps), include/uapi/linux/vfio.h;
 * REFERENCE.md section 6.
 *
 *   user space                       this module                        the rest of the model
 *   VFIO_GROUP_GET_STATUS        ->  groupStatus(id)                    driver core: who is bound
 *   VFIO_GROUP_SET_CONTAINER     ->  setContainer(id)                   iommu core: claim DMA ownership
 *   VFIO_SET_IOMMU(TYPE1v2)      ->  setIommu()                         unmanaged domain, attach, MSI cookie
 *   VFIO_IOMMU_GET_INFO          ->  info()                             pgsizes + IOVA-range capability
 *   VFIO_IOMMU_MAP_DMA           ->  mapDma(iova, size, prot, vaddr)    pin user pages, iommu_map
 *   VFIO_IOMMU_UNMAP_DMA         ->  unmapDma(iova, size)               iommu_unmap, unpin
 *   VFIO_DEVICE_SET_IRQS (MSI-X) ->  prepareMsi(dev, doorbell)          iommu_dma_prepare_msi in the SW_MSI window
 *
 * Every call returns 0 or a negative errno, as the ioctl would, and changes
 * nothing when it fails (the command layer also rolls back on error).
 *
 * User memory: the user process's anonymous memory is modelled as pages
 * the kernel allocates on first touch (first pin) and keeps for the
 * process, so a virtual address has a real physical page behind it and a
 * device that DMAs to the IOVA reaches those bytes.
 */
import { type u64, U64_MAX, hex } from '../machine/u64.ts';
import { clone, type Stateful } from '../machine/state.ts';
import { GicIts } from '../machine/gic-its.ts';
import { EEXIST, EINVAL, ENODEV, ENOMEM, ENOSPC, EPERM, EBUSY } from './iommu.ts';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, type IommuDomain, type KDevice, type ResvRegion } from './types.ts';
import type { Linux } from './linux.ts';
import { pciAllocIrqVectors, pciFreeIrqVectors, type MsiVector } from './pci-msi.ts';

const ERRNO_BY_NAME: Record<string, number> = { EINVAL, ENOSPC, ENOMEM, ENODEV };

// ---- include/uapi/linux/vfio.h --------------------------------------------------------

/** VFIO_TYPE (';') and VFIO_BASE: the ioctl numbers are _IO(';', 100 + n). */
export const VFIO_TYPE = 0x3b;
export const VFIO_BASE = 100;
export const VFIO_IOCTL = {
  VFIO_GET_API_VERSION: 0x3b64,
  VFIO_CHECK_EXTENSION: 0x3b65,
  VFIO_SET_IOMMU: 0x3b66,
  VFIO_GROUP_GET_STATUS: 0x3b67,
  VFIO_GROUP_SET_CONTAINER: 0x3b68,
  VFIO_GROUP_GET_DEVICE_FD: 0x3b6a,
  VFIO_IOMMU_GET_INFO: 0x3b70,
  VFIO_IOMMU_MAP_DMA: 0x3b71,
  VFIO_IOMMU_UNMAP_DMA: 0x3b72,
} as const;
/** VFIO_API_VERSION: what VFIO_GET_API_VERSION returns. */
export const VFIO_API_VERSION = 0;
/** IOMMU type / extension ids. */
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;
/** VFIO_GROUP_GET_STATUS flags. */
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;
/** vfio_iommu_type1_dma_map.flags (the device's view: READ = the device may read). */
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
/** vfio_iommu_type1_info.flags and the IOVA-range capability id. */
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;

/** vfio_iommu_type1 module parameter dma_entry_limit (default U16_MAX). */
export const DMA_ENTRY_LIMIT_DEFAULT = 65535;
/**
 * RLIMIT_MEMLOCK of an unprivileged process: MLOCK_LIMIT, 8 MiB since
 * v5.16 ("mm: increase default MLOCK_LIMIT to 8 MiB"), 64 KiB before.
 */
export const memlockDefault = (version: number): u64 => (version >= 516 ? 8n << 20n : 64n << 10n);

/** One VFIO_IOMMU_MAP_DMA mapping (struct vfio_dma). */
export interface VfioDma {
  iova: u64;
  size: u64;
  vaddr: u64;
  /** IOMMU_READ | IOMMU_WRITE (| IOMMU_CACHE when mapped). */
  prot: number;
}

/** An inclusive [start, end] range of the valid-IOVA list (struct vfio_iova). */
export interface VfioIova {
  start: u64;
  end: u64;
}

export interface VfioDomainState {
  domain: IommuDomain;
  groups: number[];
  /** iommu_get_msi_cookie was called (SW_MSI window, no hardware MSI region). */
  msiBase?: u64;
}

interface VfioState {
  /** Groups set into the container, in order. */
  groups: number[];
  /** SET_IOMMU done (TYPE1v2). */
  iommuSet: boolean;
  domains: VfioDomainState[];
  /**
   * vfio_iommu->dma_list (an rbtree in Linux): sorted by IOVA, kept as
   * chunks of at most DMA_CHUNK entries so that insert and remove cost
   * O(sqrt n) and lookups are binary searches, flat from 1k to 100k
   * mappings. Every chunk is non-empty; mappings never overlap.
   */
  chunks: VfioDma[][];
  count: number;
  iovaList: VfioIova[];
  /** Pages pinned (locked_vm) and the limit in bytes. */
  pinned: number;
  memlock: u64;
  dmaEntryLimit: number;
  allowUnsafeInterrupts: boolean;
  /** The user process's memory: virtual page number (hex) -> physical page. */
  userPages: Record<string, u64>;
  /** Pin counts of user pages mapped more than once. */
  pinCount: Record<string, number>;
  /** MSI-X vectors set up with VFIO_DEVICE_SET_IRQS: device, doorbell PA, message address. */
  irqs: { dev: string; doorbell: u64; msgAddr: u64; vectors?: { index: number; lpi: number; cpu: number; address?: u64; data?: number }[] }[];
}

/** Where a device's MSI write goes: delivered to the doorbell, or why not. */
export interface VfioIrqPath {
  dev: string;
  doorbell: u64;
  msgAddr: u64;
  delivered: boolean;
  /** 'ok' | 'bridge' (not forwarded upstream / claimed by a window) | 'fault' (IOMMU) | 'elsewhere'. */
  outcome: 'ok' | 'bridge' | 'fault' | 'elsewhere';
  detail: string;
  /** With an ITS: each vector's LPI, target CPU and how many times a CPU took it. */
  vectors?: { index: number; lpi: number; cpu: number; taken: number }[];
}

export interface VfioGroupStatus {
  id: number;
  flags: number;
  viable: boolean;
  containerSet: boolean;
  /** Devices and who holds them. */
  devices: { name: string; driver: string | undefined; ok: boolean }[];
}

export interface VfioInfo {
  flags: number;
  iovaPgsizes: u64;
  ranges: VfioIova[];
}

/** A failure with the errno the ioctl returns and the kernel's reason in words. */
export interface VfioError {
  errno: number;
  why: string;
}
export type VfioResult<T> = ({ ok: true } & T) | ({ ok: false } & VfioError);

const PAGE = 4096n;
/** Mappings per chunk of the sorted list (split at twice this). */
const DMA_CHUNK = 256;
const lowestPgsize = (bitmap: u64): u64 => bitmap & -bitmap;

export class VfioContainer implements Stateful {
  private s: VfioState;

  constructor(private readonly linux: Linux) {
    this.s = VfioContainer.empty(memlockDefault(linux.core.config.version));
  }

  private static empty(memlock: u64): VfioState {
    return { groups: [], iommuSet: false, domains: [], chunks: [], count: 0, iovaList: [], pinned: 0, memlock, dmaEntryLimit: DMA_ENTRY_LIMIT_DEFAULT, allowUnsafeInterrupts: false, userPages: {}, pinCount: {}, irqs: [] };
  }

  get groups(): readonly number[] {
    return this.s.groups;
  }
  get iommuSet(): boolean {
    return this.s.iommuSet;
  }
  /** Every mapping, by IOVA (a fresh flat array: for inspectors, not hot paths). */
  get dmas(): readonly VfioDma[] {
    return this.s.chunks.flat();
  }
  get dmaCount(): number {
    return this.s.count;
  }
  get domains(): readonly VfioDomainState[] {
    return this.s.domains;
  }
  get iovaList(): readonly VfioIova[] {
    return this.s.iovaList;
  }
  get pinnedBytes(): u64 {
    return BigInt(this.s.pinned) * PAGE;
  }
  get memlock(): u64 {
    return this.s.memlock;
  }
  get dmaEntryLimit(): number {
    return this.s.dmaEntryLimit;
  }
  get allowUnsafeInterrupts(): boolean {
    return this.s.allowUnsafeInterrupts;
  }

  /** RLIMIT_MEMLOCK of the user process (ulimit -l), in bytes. */
  setMemlock(bytes: u64): void {
    this.s.memlock = bytes;
  }
  /** vfio_iommu_type1.dma_entry_limit (module parameter; applies to a new container). */
  setDmaEntryLimit(n: number): void {
    this.s.dmaEntryLimit = n;
  }
  /** vfio_iommu_type1.allow_unsafe_interrupts. */
  setAllowUnsafeInterrupts(on: boolean): void {
    this.s.allowUnsafeInterrupts = on;
  }

  // ---- groups ------------------------------------------------------------------------

  /**
   * VFIO_GROUP_GET_STATUS. VIABLE: every device of the group is bound to
   * vfio-pci or to no driver (vfio_group_viable / the DMA-ownership check).
   */
  groupStatus(id: number): VfioGroupStatus | undefined {
    const devs = this.linux.core.groupDevices(id);
    if (!devs.length) return undefined;
    const devices = devs.map((d) => {
      const driver = this.linux.bound.get(d.name);
      return { name: d.name, driver, ok: driver === undefined || (driver === 'vfio-pci' && this.linux.driverCore.vfioClaimed(d)) };
    });
    const viable = devices.every((d) => d.ok);
    const containerSet = this.s.groups.includes(id);
    return { id, flags: (viable ? VFIO_GROUP_FLAGS_VIABLE : 0) | (containerSet ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0), viable, containerSet, devices };
  }

  /**
   * VFIO_GROUP_SET_CONTAINER: the group joins the container, VFIO takes
   * DMA ownership of it (iommu_group_claim_dma_owner: -EPERM while a kernel
   * driver uses the DMA API in it). After SET_IOMMU a new group is attached
   * at once (vfio_iommu_type1_attach_group).
   */
  setContainer(id: number): VfioResult<object> {
    const st = this.groupStatus(id);
    if (!st) return { ok: false, errno: ENODEV, why: `there is no IOMMU group ${id} (no /dev/vfio/${id})` };
    if (st.containerSet) return { ok: false, errno: EINVAL, why: `group ${id} is already in a container` };
    if (!st.viable) {
      const bad = st.devices.find((d) => !d.ok)!;
      return { ok: false, errno: EPERM, why: `group ${id} is not viable: ${bad.name} is bound to ${bad.driver}, a kernel driver using the DMA API (bind every device of the group to vfio-pci, or unbind it)` };
    }
    const r = this.linux.core.groupClaimDmaOwner(id, 'vfio');
    if (r < 0) return { ok: false, errno: -r, why: `iommu_group_claim_dma_owner(group ${id}) failed` };
    if (this.s.iommuSet) {
      const a = this.attachGroup(id);
      if (!a.ok) {
        this.linux.core.groupReleaseDmaOwner(id);
        return a;
      }
    }
    this.s.groups.push(id);
    return { ok: true };
  }

  /** VFIO_GROUP_UNSET_CONTAINER: detach, back to the default domain; the last group out empties the container. */
  unsetContainer(id: number): VfioResult<object> {
    if (!this.s.groups.includes(id)) return { ok: false, errno: EINVAL, why: `group ${id} is not in the container` };
    if (this.s.iommuSet) this.detachGroup(id);
    this.linux.core.groupReleaseDmaOwner(id);
    this.s.groups = this.s.groups.filter((g) => g !== id);
    if (!this.s.groups.length) {
      // The last group gone: the container's IOMMU goes with it (vfio_container_detach_group).
      for (const d of this.dmas) this.removeDma(d);
      this.s.iommuSet = false;
      this.s.domains = [];
      this.s.iovaList = [];
    }
    return { ok: true };
  }

  /** VFIO_CHECK_EXTENSION(TYPE1v2) then VFIO_SET_IOMMU: attach every group. */
  setIommu(type = VFIO_TYPE1v2_IOMMU): VfioResult<object> {
    if (type !== VFIO_TYPE1v2_IOMMU && type !== VFIO_TYPE1_IOMMU) return { ok: false, errno: EINVAL, why: `IOMMU type ${type} is not supported here (VFIO_TYPE1_IOMMU 1 or VFIO_TYPE1v2_IOMMU 3)` };
    if (!this.s.groups.length) return { ok: false, errno: EINVAL, why: 'the container has no group: VFIO_GROUP_SET_CONTAINER first' };
    if (this.s.iommuSet) return { ok: false, errno: EBUSY, why: 'the container already has an IOMMU backend' };
    const done: number[] = [];
    for (const id of this.s.groups) {
      const r = this.attachGroup(id);
      if (!r.ok) {
        for (const g of done) this.detachGroup(g);
        this.s.domains = [];
        this.s.iovaList = [];
        return r;
      }
      done.push(id);
    }
    this.s.iommuSet = true;
    return { ok: true };
  }

  /** Is MSI isolated for this group's devices (iommu_group_has_isolated_msi)? */
  private msiIsolated(id: number): boolean {
    const devs = this.linux.core.groupDevices(id);
    if (this.linux.intel) return this.linux.intel.irqRemappingEnabled;
    // Arm: a GICv3 ITS translates (DeviceID, EventID): IRQ_DOMAIN_FLAG_ISOLATED_MSI.
    const m = devs[0]?.pci ? this.linux.env.machine : undefined;
    return !!m?.memory.listRegions().some((r) => r.kind === 'mmio' && r.handler instanceof GicIts);
  }

  /**
   * vfio_iommu_type1_attach_group: allocate an unmanaged domain on the
   * group's IOMMU (or reuse one on the same IOMMU), attach, exclude the
   * group's reserved regions from the valid-IOVA list, set up the MSI
   * cookie for a SW_MSI window.
   */
  private attachGroup(id: number): VfioResult<object> {
    const devs = this.linux.core.groupDevices(id);
    const iommu = devs[0]?.iommuName;
    if (!iommu) return { ok: false, errno: ENODEV, why: `group ${id} has no IOMMU` };
    if (!this.s.allowUnsafeInterrupts && !this.msiIsolated(id)) {
      return { ok: false, errno: EPERM, why: 'vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param "allow_unsafe_interrupts" to enable VFIO IOMMU support on this platform' };
    }
    const resv: ResvRegion[] = this.linux.core.getGroupResvRegions(id);
    const hasHwMsi = resv.some((r) => r.type === 'msi');
    const sw = resv.find((r) => r.type === 'sw-msi');
    let ds = this.s.domains.find((d) => d.domain.iommu === iommu);
    const fresh = !ds;
    if (!ds) {
      const domain = this.linux.core.domainAlloc(iommu, 'unmanaged');
      if (!domain) return { ok: false, errno: ENOMEM, why: `iommu_domain_alloc on ${iommu} failed` };
      ds = { domain, groups: [] };
    }
    // The new aperture and the group's reserved regions must not cut an existing mapping.
    const list = this.buildIovaList([...this.s.domains.filter((d) => d !== ds).map((d) => d.domain), ds.domain], [...this.s.groups.filter((g) => g !== id && this.s.domains.some((d) => d.groups.includes(g))), id]);
    const cut = this.dmas.find((d) => !list.some((r) => d.iova >= r.start && d.iova + d.size - 1n <= r.end));
    if (cut) return { ok: false, errno: EINVAL, why: `a mapping at ${hex(cut.iova)} lies outside the new valid IOVA ranges` };
    const r = this.linux.core.attachGroup(id, ds.domain);
    if (r < 0) return { ok: false, errno: -r, why: `iommu_attach_group(group ${id}) failed` };
    if (fresh) {
      this.s.domains.push(ds);
      // Existing mappings are replayed into a new domain (vfio_iommu_replay).
      for (const d of this.dmas) this.iommuMapDma(ds.domain, d);
      if (sw && !hasHwMsi) {
        this.linux.iommuDma.iommuGetMsiCookie(ds.domain, sw.start);
        ds.msiBase = sw.start;
      }
    }
    ds.groups.push(id);
    this.s.iovaList = list;
    return { ok: true };
  }

  private detachGroup(id: number): void {
    const ds = this.s.domains.find((d) => d.groups.includes(id));
    this.linux.core.detachGroup(id);
    if (!ds) return;
    ds.groups = ds.groups.filter((g) => g !== id);
    if (!ds.groups.length) {
      for (const d of this.dmas) this.linux.core.iommuUnmap(ds.domain, d.iova, d.size);
      this.linux.iommuDma.iommuPutDmaCookie(ds.domain);
      this.s.domains = this.s.domains.filter((d) => d !== ds);
    }
    this.s.iovaList = this.buildIovaList(this.s.domains.map((d) => d.domain), this.s.domains.flatMap((d) => d.groups));
  }

  /**
   * The valid-IOVA list (vfio_iommu_aper_resize + vfio_iommu_resv_exclude):
   * the intersection of the domains' apertures, minus every reserved region
   * of every attached group except direct-relaxable ones.
   */
  private buildIovaList(domains: IommuDomain[], groups: number[]): VfioIova[] {
    if (!domains.length) return [];
    let start = 0n;
    let end = U64_MAX;
    for (const d of domains) {
      if (d.apertureStart > start) start = d.apertureStart;
      if (d.apertureEnd < end) end = d.apertureEnd;
    }
    let list: VfioIova[] = start <= end ? [{ start, end }] : [];
    const regions = groups.flatMap((g) => this.linux.core.getGroupResvRegions(g)).filter((r) => r.type !== 'direct-relaxable');
    for (const r of regions) {
      const rs = r.start;
      const re = r.start + r.length - 1n;
      const next: VfioIova[] = [];
      for (const n of list) {
        if (re < n.start || rs > n.end) {
          next.push(n);
          continue;
        }
        if (rs > n.start) next.push({ start: n.start, end: rs - 1n });
        if (re < n.end) next.push({ start: re + 1n, end: n.end });
      }
      list = next;
    }
    return list.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }

  // ---- VFIO_IOMMU_GET_INFO -------------------------------------------------------------

  /** VFIO_IOMMU_GET_INFO with VFIO_IOMMU_INFO_CAPS: page sizes and the valid IOVA ranges. */
  info(): VfioResult<{ info: VfioInfo }> {
    if (!this.s.iommuSet) return { ok: false, errno: EINVAL, why: 'no IOMMU backend: VFIO_SET_IOMMU first' };
    return { ok: true, info: { flags: VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS, iovaPgsizes: this.pgsizeBitmap(), ranges: this.s.iovaList.map((r) => ({ ...r })) } };
  }

  /** vfio_pgsize_bitmap: what every domain supports. */
  private pgsizeBitmap(): u64 {
    let b = U64_MAX;
    for (const d of this.s.domains) b &= d.domain.pgsizeBitmap;
    return b === U64_MAX ? PAGE : b;
  }

  // ---- MAP / UNMAP ---------------------------------------------------------------------

  /** Chunk and index of the first mapping that ends above `iova` (ci = chunks.length: none). */
  private locate(iova: u64): { ci: number; ei: number } {
    const c = this.s.chunks;
    const endOf = (d: VfioDma): u64 => d.iova + d.size;
    let lo = 0;
    let hi = c.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const ch = c[mid]!;
      if (endOf(ch[ch.length - 1]!) <= iova) lo = mid + 1;
      else hi = mid;
    }
    if (lo === c.length) return { ci: lo, ei: 0 };
    const ch = c[lo]!;
    let a = 0;
    let b = ch.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (endOf(ch[mid]!) <= iova) a = mid + 1;
      else b = mid;
    }
    return { ci: lo, ei: a };
  }

  /** vfio_find_dma: the first mapping overlapping [iova, iova + size). */
  private findDma(iova: u64, size: u64): VfioDma | undefined {
    const { ci, ei } = this.locate(iova);
    const d = this.s.chunks[ci]?.[ei];
    return d && d.iova < iova + size ? d : undefined;
  }

  /** Insert a mapping that overlaps none (vfio_link_dma). */
  private linkDma(d: VfioDma): void {
    const c = this.s.chunks;
    let { ci, ei } = this.locate(d.iova);
    if (ci === c.length) {
      if (!c.length) c.push([]);
      ci = c.length - 1;
      ei = c[ci]!.length;
    }
    const ch = c[ci]!;
    ch.splice(ei, 0, d);
    if (ch.length > 2 * DMA_CHUNK) c.splice(ci + 1, 0, ch.splice(DMA_CHUNK));
    this.s.count++;
  }

  /** Remove a mapping that is in the list (vfio_unlink_dma). */
  private unlinkDma(d: VfioDma): void {
    const { ci, ei } = this.locate(d.iova);
    const ch = this.s.chunks[ci]!;
    ch.splice(ei, 1);
    if (!ch.length) this.s.chunks.splice(ci, 1);
    this.s.count--;
  }

  /**
   * VFIO_IOMMU_MAP_DMA (vfio_dma_do_map), the checks in the kernel's order
   * (REFERENCE.md 6.2). The struct's fields are all __u64 and the model's
   * dma_addr_t, size_t and unsigned long are 64-bit, so check 1 (a field
   * that does not fit its native type) cannot fail here.
   */
  mapDma(iova: u64, size: u64, flags: number, vaddr: u64 = iova): VfioResult<{ dma: VfioDma }> {
    if (!this.s.iommuSet) return { ok: false, errno: EINVAL, why: 'no IOMMU backend: VFIO_SET_IOMMU first' };
    let prot = 0;
    if (flags & VFIO_DMA_MAP_FLAG_WRITE) prot |= IOMMU_WRITE;
    if (flags & VFIO_DMA_MAP_FLAG_READ) prot |= IOMMU_READ;
    if (!prot) return { ok: false, errno: EINVAL, why: 'flags name neither READ nor WRITE (and this is not a VADDR update)' };
    const pgsize = lowestPgsize(this.pgsizeBitmap());
    if (size === 0n) return { ok: false, errno: EINVAL, why: 'size is 0' };
    if ((size | iova | vaddr) & (pgsize - 1n)) {
      const what = size & (pgsize - 1n) ? 'size' : iova & (pgsize - 1n) ? 'iova' : 'vaddr';
      return { ok: false, errno: EINVAL, why: `${what} is not a multiple of the smallest IOMMU page size (${hex(pgsize)})` };
    }
    if (iova + size - 1n > U64_MAX || vaddr + size - 1n > U64_MAX) {
      return { ok: false, errno: EINVAL, why: `${iova + size - 1n > U64_MAX ? 'iova' : 'vaddr'} + size - 1 wraps past 2^64` };
    }
    const over = this.findDma(iova, size);
    if (over) return { ok: false, errno: EEXIST, why: `it overlaps the mapping at ${hex(over.iova)} (${hex(over.size)} bytes)` };
    if (this.s.count >= this.s.dmaEntryLimit) return { ok: false, errno: ENOSPC, why: `the container has ${this.s.count} mappings, dma_entry_limit (${this.s.dmaEntryLimit})` };
    const last = iova + size - 1n;
    if (!this.s.iovaList.some((r) => iova >= r.start && last <= r.end)) {
      return { ok: false, errno: EINVAL, why: `[${hex(iova)}, ${hex(last)}] is not inside one valid IOVA range (a reserved region or the aperture's end cuts it): vfio info lists them` };
    }
    // vfio_pin_map_dma: pin (charging RLIMIT_MEMLOCK), then iommu_map every domain.
    const pages = Number(size / PAGE);
    const newPins = this.countNewPins(vaddr, pages);
    if (BigInt(this.s.pinned + newPins) * PAGE > this.s.memlock) {
      return { ok: false, errno: ENOMEM, why: `vfio_pin_pages_remote: RLIMIT_MEMLOCK (${this.s.memlock}) exceeded: ${hex(BigInt(this.s.pinned + newPins) * PAGE)} bytes would be locked` };
    }
    const dma: VfioDma = { iova, size, vaddr, prot };
    this.pin(vaddr, pages);
    try {
      for (const ds of this.s.domains) this.iommuMapDma(ds.domain, dma);
    } catch (e) {
      for (const ds of this.s.domains) this.linux.core.iommuUnmap(ds.domain, iova, size);
      this.unpin(vaddr, pages);
      return { ok: false, errno: ENOMEM, why: `iommu_map failed: ${(e as Error).message}` };
    }
    this.linkDma(dma);
    return { ok: true, dma };
  }

  /** iommu_map of a mapping's pages into one domain (prot | IOMMU_CACHE, as type1 maps). */
  private iommuMapDma(domain: IommuDomain, d: VfioDma): void {
    const pages = Number(d.size / PAGE);
    for (let i = 0; i < pages; i++) {
      const pa = this.s.userPages[(d.vaddr / PAGE + BigInt(i)).toString(16)]!;
      this.linux.core.iommuMap(domain, d.iova + BigInt(i) * PAGE, pa, PAGE, d.prot | IOMMU_CACHE);
    }
  }

  /**
   * VFIO_IOMMU_UNMAP_DMA (v2 semantics): a request may not bisect a
   * mapping (-EINVAL, nothing unmapped); every mapping wholly inside is
   * unmapped and unpinned; returns the bytes unmapped (0 is not an error).
   */
  unmapDma(iova: u64, size: u64): VfioResult<{ unmapped: u64 }> {
    if (!this.s.iommuSet) return { ok: false, errno: EINVAL, why: 'no IOMMU backend: VFIO_SET_IOMMU first' };
    const pgsize = lowestPgsize(this.pgsizeBitmap());
    if (size === 0n || (iova | size) & (pgsize - 1n)) return { ok: false, errno: EINVAL, why: size === 0n ? 'size is 0' : `iova and size must be multiples of ${hex(pgsize)}` };
    if (iova + size - 1n > U64_MAX) return { ok: false, errno: EINVAL, why: 'iova + size - 1 wraps past 2^64' };
    const first = this.findDma(iova, 1n);
    if (first && first.iova !== iova) return { ok: false, errno: EINVAL, why: `it would bisect the mapping at ${hex(first.iova)} (v2 unmaps whole mappings only)` };
    const lastD = this.findDma(iova + size - 1n, 1n);
    if (lastD && lastD.iova + lastD.size !== iova + size) return { ok: false, errno: EINVAL, why: `it would bisect the mapping at ${hex(lastD.iova)} (v2 unmaps whole mappings only)` };
    let unmapped = 0n;
    for (;;) {
      const d = this.findDma(iova, size);
      if (!d) break;
      this.removeDma(d);
      unmapped += d.size;
    }
    return { ok: true, unmapped };
  }

  private removeDma(d: VfioDma): void {
    for (const ds of this.s.domains) this.linux.core.iommuUnmap(ds.domain, d.iova, d.size);
    this.unpin(d.vaddr, Number(d.size / PAGE));
    this.unlinkDma(d);
  }

  // ---- the user process's pages ------------------------------------------------------

  private countNewPins(vaddr: u64, pages: number): number {
    let n = 0;
    for (let i = 0; i < pages; i++) if (!this.s.pinCount[(vaddr / PAGE + BigInt(i)).toString(16)]) n++;
    return n;
  }

  private pin(vaddr: u64, pages: number): void {
    for (let i = 0; i < pages; i++) {
      const k = (vaddr / PAGE + BigInt(i)).toString(16);
      if (this.s.userPages[k] === undefined) {
        // An anonymous page is zero-filled at its first touch (do_anonymous_page):
        // a recycled kernel page must not show its old bytes to the process.
        const pa = this.linux.pages.alloc(1);
        this.linux.env.machine.memory.fill(pa, PAGE, 0);
        this.s.userPages[k] = pa;
      }
      const c = this.s.pinCount[k] ?? 0;
      if (c === 0) this.s.pinned++;
      this.s.pinCount[k] = c + 1;
    }
  }

  private unpin(vaddr: u64, pages: number): void {
    for (let i = 0; i < pages; i++) {
      const k = (vaddr / PAGE + BigInt(i)).toString(16);
      const c = (this.s.pinCount[k] ?? 0) - 1;
      if (c <= 0) {
        delete this.s.pinCount[k];
        this.s.pinned--;
      } else this.s.pinCount[k] = c;
    }
  }

  /** The physical page behind a user virtual address (once touched), for inspectors. */
  userPhys(vaddr: u64): u64 | undefined {
    const pa = this.s.userPages[(vaddr / PAGE).toString(16)];
    return pa === undefined ? undefined : pa + (vaddr & (PAGE - 1n));
  }

  // ---- interrupts ------------------------------------------------------------------------

  /**
   * VFIO_DEVICE_SET_IRQS for MSI/MSI-X: vfio-pci requests the vector and the
   * irqchip prepares the doorbell (iommu_dma_prepare_msi): in VFIO's domain
   * that is the MSI cookie, so the doorbell page lands at the next page of
   * the SW_MSI window (REFERENCE.md 6.4).
   */
  prepareMsi(dev: KDevice, doorbell: u64, count = 1): VfioResult<{ iova: u64 | undefined; msgAddr: u64; vectors?: MsiVector[] }> {
    if (!this.linux.driverCore.vfioClaimed(dev)) return { ok: false, errno: EINVAL, why: `${dev.name} is not bound to vfio-pci` };
    const id = this.linux.core.groupOf(dev);
    if (id === undefined || !this.s.groups.includes(id) || !this.s.iommuSet) return { ok: false, errno: EINVAL, why: `${dev.name}'s group is not in a container with an IOMMU set (a device fd needs both)` };
    if (this.linux.its || this.linux.env.machine.info.arch === 'x86_64') {
      // vfio_msi_enable: pci_alloc_irq_vectors(MSI-X), then vfio_msi_set_vector_signal -> request_irq per vector.
      if (this.s.irqs.some((x) => x.dev === dev.name)) return { ok: false, errno: EINVAL, why: `${dev.name} already has MSI-X vectors set up (vfio_msi_enable refuses while enabled: disable with count 0 first)` };
      const r = pciAllocIrqVectors(this.linux, dev, count, (i) => `vfio-msix[${i}](${dev.name})`);
      if (!r.ok) return { ok: false, errno: ERRNO_BY_NAME[r.errno] ?? EINVAL, why: r.why };
      const msgAddr = r.vectors[0]!.address;
      this.s.irqs.push({ dev: dev.name, doorbell, msgAddr, vectors: r.vectors.map((v) => ({ index: v.index, lpi: v.lpi, cpu: v.cpu, address: v.address, data: v.data })) });
      return { ok: true, iova: r.iova, msgAddr, vectors: r.vectors };
    }
    const r = this.linux.iommuDma.iommuDmaPrepareMsi(dev, doorbell);
    if (!r.ok) return { ok: false, errno: r.errno, why: `iommu_dma_prepare_msi(${hex(doorbell)}) failed` };
    this.s.irqs = this.s.irqs.filter((x) => x.dev !== dev.name);
    this.s.irqs.push({ dev: dev.name, doorbell, msgAddr: r.msgAddr });
    return { ok: true, iova: r.iova, msgAddr: r.msgAddr };
  }

  /** VFIO_DEVICE_SET_IRQS with count 0 (DATA_NONE, ACTION_TRIGGER): free_irq and pci_free_irq_vectors. */
  disableMsi(dev: KDevice): boolean {
    if (!this.s.irqs.some((x) => x.dev === dev.name)) return false;
    pciFreeIrqVectors(this.linux, dev);
    this.s.irqs = this.s.irqs.filter((x) => x.dev !== dev.name);
    return true;
  }

  /**
   * For every vector set up: follow the device's MSI write as the hardware
   * would (host bridge windows and dma-ranges, then the IOMMU), without
   * making it or recording anything.
   */
  irqPaths(): VfioIrqPath[] {
    return this.s.irqs.map((q) => {
      const dev = this.linux.device(q.dev);
      const m = dev?.master;
      const redist = this.linux.its?.redist;
      const irLog = this.linux.env.machine.interrupts.records();
      // x86: a vector was taken each time the unit delivered its IRTE (remappable) or its vector (compatibility format).
      const x86Taken = (v: { address?: u64; data?: number }): number => {
        const idx = v.address !== undefined && (v.address & 0x10n) ? Number((v.address >> 5n) & 0x7fffn) + (v.data ?? 0) : undefined;
        return irLog.filter((x) => (idx !== undefined ? x.controller === 'ir' && x.detail.includes(`IRTE ${idx} `) : x.addr === v.address && x.data === BigInt(v.data ?? -1))).length;
      };
      const base = { dev: q.dev, doorbell: q.doorbell, msgAddr: q.msgAddr, ...(q.vectors ? { vectors: q.vectors.map((v) => ({ index: v.index, lpi: v.lpi, cpu: v.cpu, taken: redist ? redist.takenAll(v.lpi) : x86Taken(v) })) } : {}) };
      if (!redist && this.linux.intel) {
        // x86: the interrupt window is decoded before any translation; interrupt remapping decides.
        const unit = m?.iommu && 'interruptRequest' in m.iommu ? (m.iommu as unknown as { interruptRequest(sid: number, a: u64, d: number, rec: boolean): { ok: boolean; detail: string } }) : undefined;
        const v0 = q.vectors?.[0];
        if (m && unit && v0?.address !== undefined) {
          const out = unit.interruptRequest(m.rid ?? m.sid, v0.address, v0.data ?? 0, false);
          return { ...base, delivered: out.ok, outcome: out.ok ? ('ok' as const) : ('fault' as const), detail: out.detail };
        }
      }
      if (!m) return { ...base, delivered: false, outcome: 'elsewhere' as const, detail: 'the device is gone' };
      const rc = m.rootComplex;
      const win = rc?.windows.find((w) => w.kind !== 'io' && q.msgAddr >= w.pciBase && q.msgAddr - w.pciBase < w.size);
      if (win) return { ...base, delivered: false, outcome: 'bridge' as const, detail: `${hex(q.msgAddr)} is inside ${rc!.name}'s ${win.kind} window: routed peer to peer` };
      if (rc && !rc.forwardsUpstream(q.msgAddr)) return { ...base, delivered: false, outcome: 'bridge' as const, detail: `${hex(q.msgAddr)} is outside ${rc.name}'s inbound dma-ranges: not forwarded upstream` };
      let pa = q.msgAddr;
      if (m.path === 'translated' && m.iommu) {
        const t = m.iommu.translate({ sid: m.sid, addr: q.msgAddr, write: true }, { record: false, useTlb: false });
        if (!t.ok) return { ...base, delivered: false, outcome: 'fault' as const, detail: `${m.iommu.name}: ${t.fault.name}` };
        pa = t.pa;
      }
      return pa === q.doorbell
        ? { ...base, delivered: true, outcome: 'ok' as const, detail: `reaches the doorbell ${hex(pa)}` }
        : { ...base, delivered: false, outcome: 'elsewhere' as const, detail: `reaches ${hex(pa)}, not the doorbell` };
    });
  }

  // ---- state -----------------------------------------------------------------------------

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(state: unknown): void {
    this.s = clone(state as VfioState);
  }
}

