/**
 * Plain data for the IOMMU-core commands: `info groups`, `info resv DEV`
 * and `iova DEV`. Renderers turn these into tables; the reserved-regions
 * text is the exact sysfs file content (drivers/iommu/iommu.c
 * iommu_group_show_resv_regions).
 */
import { type u64, hex } from '../machine/u64.ts';
import type { IommuCore } from '../kernel/iommu.ts';
import type { IommuDma } from '../kernel/dma-iommu.ts';
import type { KDevice } from '../kernel/types.ts';
import { resvTypeName } from '../kernel/types.ts';

export interface GroupRow {
  group: number;
  type: string;
  devices: string[];
}

/** `info groups`: one row per iommu_group, in id order. */
export function infoGroups(core: IommuCore): GroupRow[] {
  return core.groupsInfo().map((g) => ({ group: g.id, type: g.type, devices: g.devices }));
}

export interface ResvInfo {
  device: string;
  group: number | undefined;
  /** The file's content, byte for byte ("" when the device has no group). */
  text: string;
  /** The same regions as data, with the type kept distinct (SW_MSI vs MSI). */
  regions: { start: u64; end: u64; type: string; kind: string }[];
}

/** `info resv DEV`: /sys/kernel/iommu_groups/N/reserved_regions of the device's group. */
export function infoResv(core: IommuCore, dev: KDevice): ResvInfo {
  const group = core.groupOf(dev);
  if (group === undefined) return { device: dev.name, group, text: '', regions: [] };
  return {
    device: dev.name,
    group,
    text: core.groupShowResvRegions(group),
    regions: core.getGroupResvRegions(group).map((r) => ({ start: r.start, end: r.start + r.length - 1n, type: resvTypeName(r.type), kind: r.type })),
  };
}

export interface IovaRow {
  start: u64;
  /** Inclusive. */
  end: u64;
  pages: number;
  /**
   * 'reserved': carved out (PCI window, reserved region); 'allocated': in
   * use by a mapping; 'cached': freed into an rcache magazine (still taken
   * in the tree); 'flush-queue': unmapped, waiting for the IOTLB flush.
   */
  kind: 'reserved' | 'allocated' | 'cached' | 'flush-queue';
}

export interface IovaInfo {
  device: string;
  /** e.g. "smmu0:3 (DMA-FQ)", or why there is no allocator. */
  domain: string;
  granule?: number;
  startPfn?: number;
  rows: IovaRow[];
  /** Ranges in the allocator; rows shows at most `max`. */
  total: number;
  truncated: boolean;
  /** Doorbell pages mapped for MSIs (iommu_dma_prepare_msi). */
  msiPages: { phys: u64; iova: u64 }[];
}

/**
 * `iova DEV`: the ranges of the device's DMA domain allocator, in address
 * order, at most `max` rows (a stated limit for huge domains).
 */
export function iovaInfo(core: IommuCore, dma: IommuDma, dev: KDevice, max = 256): IovaInfo {
  const d = core.getDmaDomain(dev);
  const empty = (why: string): IovaInfo => ({ device: dev.name, domain: why, rows: [], total: 0, truncated: false, msiPages: [] });
  if (!d && core.usesPrivateDomains(dev)) return empty('no IOMMU domain yet (v4.x intel-iommu: intel_dma_ops makes a private one at the first DMA mapping)');
  if (!d) return empty('no IOMMU domain (the device is not behind an IOMMU, or not probed)');
  const label = `${d.iommu}:${d.id} (${core.typeString(d.type)})`;
  const iovad = dma.iovaDomainOf(dev);
  const cookie = dma.cookieOf(d);
  if (!iovad || !cookie) return empty(`${label}: no IOVA allocator (${d.type === 'identity' ? 'identity domain: DMA address = physical address' : 'iommu-dma not set up for this domain'})`);
  const shift = BigInt(iovad.shift);
  const queued = new Set([...cookie.fqEntries.map(([pfn]) => pfn), ...dma.deferredOf(d)]);
  const { ranges, total } = iovad.ranges(max);
  const rows: IovaRow[] = ranges.map((r) => ({
    start: BigInt(r.lo) << shift,
    end: ((BigInt(r.hi) + 1n) << shift) - 1n,
    pages: r.hi - r.lo + 1,
    kind: queued.has(r.lo) ? 'flush-queue' : r.kind,
  }));
  return {
    device: dev.name,
    domain: label,
    granule: iovad.granule,
    startPfn: iovad.startPfn,
    rows,
    total,
    truncated: total > rows.length,
    msiPages: cookie.msiPages.map((p) => ({ ...p })),
  };
}

/** One line per row, for scripts and golden files: "0x...-0x... 4 pages allocated". */
export const iovaRowText = (r: IovaRow): string => `${hex(r.start, 16)}-${hex(r.end, 16)} ${r.pages} page${r.pages === 1 ? '' : 's'} ${r.kind}`;
