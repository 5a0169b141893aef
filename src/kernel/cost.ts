/**
 * A cost model for DMA through an IOMMU: what the same workload costs in
 * passthrough (identity domain, dma-direct), translated-strict (DMA domain:
 * every unmap invalidates and waits) and translated-lazy (DMA-FQ: unmaps
 * queue their IOVAs and one invalidation covers a whole flush queue).
 *
 * It is a MODEL, not a measurement. The model counts events exactly (the
 * hardware models and kernel layers count them as they happen) and charges
 * each event a fixed number of CPU cycles from the table below. The
 * constants are round numbers of the right order of magnitude, each with
 * where it came from or the word "assumed". What the model leaves out is
 * said in MODEL_ASSUMPTIONS: no page-walk caches, no contention on the
 * command queue, no overlap of a walk with other work, the device's own
 * data transfer not counted (it is the same in every mode).
 *
 * Where the counts come from (all plain state, so undo rewinds them):
 *  - machine/smmuv3/smmuv3.ts SmmuV3.stats(): bySid (translations, bypass,
 *    IOTLB hits/misses, walks, walk reads, STE/CD reads), byTag (TLBI
 *    commands and CMD_SYNCs per ASID/VMID), tlbiCommands, cfgiCommands, syncs;
 *  - machine/vtd/vtd.ts VtdUnit.stats(): bySid (the same per source-id),
 *    byDid (IOTLB invalidations and waits per domain id), waits;
 *  - kernel/dma-mapping.ts DmaMapping.devStats(): per device, the DMA API
 *    calls, which implementation served them, strict syncs, flush-queue
 *    drains and swiotlb bounces they caused.
 *
 * Attribution to devices: per-StreamID/source-id counts go to the device
 * with that ID; invalidations go to the device whose DMA domain owns the
 * ASID (SMMU) or DID (VT-d) *now*; what names no single device (boot-time
 * CFGI_ALL / TLBI_NSNH_ALL, global flushes, a tag shared by a group of
 * several devices, the flush-queue timer) is in the "other" column.
 */
import type { Machine } from '../machine/machine.ts';
import { SmmuV3, type SmmuSidCounts } from '../machine/smmuv3/smmuv3.ts';
import { VtdUnit, type VtdSidCounts } from '../machine/vtd/vtd.ts';
import type { Linux } from './linux.ts';
import type { IommuDomain, KDevice } from './types.ts';

// ---- the constants -------------------------------------------------------------

/** The CPU clock the model converts nanoseconds with (assumed). */
export const MODEL_CPU_GHZ = 2;

export interface CostConstant {
  key: keyof typeof COST;
  /** The value (cycles, except bounceBytesPerCycle: bytes per cycle). */
  cycles: number;
  /** What the value is per: "cycles per IOTLB hit". */
  unit: string;
  /** Where the number comes from, or "assumed" and why it is plausible. */
  source: string;
}

/** Cycles per event (per byte for bounceBytesPerCycle: bytes copied per cycle). */
export const COST = {
  /** A transaction the IOMMU translates from its IOTLB, or passes through (STE bypass / context TT=2). */
  translation: 0,
  iotlbHit: 0,
  /** One page-table descriptor read by a walk (one per level: a 4-level walk is 4 dependent reads). */
  walkRead: 200,
  /** One STE/CD (or root/context entry) read on a configuration-cache miss. */
  configRead: 200,
  /** Writing one invalidation command (TLBI_*, CFGI_*; a VT-d descriptor or register write). */
  invalidation: 100,
  /** Waiting for one CMD_SYNC / wait descriptor / register-invalidation poll to complete. */
  sync: 2000,
  /** dma-direct map or unmap: phys_to_dma and dma_capable, no IOMMU work. */
  mapDirect: 50,
  /** iommu-dma map: IOVA allocation (rcache hit) and the page-table writes. */
  mapIommu: 400,
  /** iommu-dma unmap: clearing the page-table entries and freeing (or queueing) the IOVA; the invalidation is counted apart. */
  unmapIommu: 300,
  /** swiotlb bookkeeping per bounce copy (slot search, orig_addr lookup). */
  bounce: 200,
  /** Bounce copy speed in bytes per cycle. */
  bounceBytesPerCycle: 4,
} as const;

export const COST_TABLE: readonly CostConstant[] = [
  { key: 'translation', cycles: COST.translation, unit: 'cycles per transaction through the IOMMU', source: 'assumed: the config-cache/IOTLB lookup is pipelined with the transaction (the gem5 SMMUv3 model charges 1-3 SMMU cycles for a micro-TLB/main-TLB lookup, src/dev/arm/SMMUv3.py utlb_lat/tlb_lat)' },
  { key: 'iotlbHit', cycles: COST.iotlbHit, unit: 'cycles per IOTLB hit', source: 'as translation: no memory access' },
  { key: 'walkRead', cycles: COST.walkRead, unit: 'cycles per page-table descriptor read', source: '100 ns DRAM read ("main memory reference", Latency Numbers Every Programmer Should Know) at an assumed 2 GHz; no walk cache, so every level is a DRAM read' },
  { key: 'configRead', cycles: COST.configRead, unit: 'cycles per STE/CD or root/context entry read', source: 'as walkRead (one DRAM read each)' },
  { key: 'invalidation', cycles: COST.invalidation, unit: 'cycles per invalidation command', source: 'assumed: build a 16-byte command and store it in the queue in cacheable memory (or one register write)' },
  { key: 'sync', cycles: COST.sync, unit: 'cycles per CMD_SYNC / wait descriptor / register poll', source: 'assumed ~1 us: a doorbell MMIO write, the IOMMU fetching and executing the queue, the CPU polling for completion. For scale only: the series that brought lazy (non-strict) mode to SMMUv3 (Zhen Lei, 2018) reported NVMe random reads at 146K IOPS strict vs 573K lazy' },
  { key: 'mapDirect', cycles: COST.mapDirect, unit: 'cycles per dma-direct map or unmap', source: 'assumed: a few dozen instructions (phys_to_dma, dma_capable)' },
  { key: 'mapIommu', cycles: COST.mapIommu, unit: 'cycles per iommu-dma map', source: 'assumed: IOVA allocation from a per-CPU rcache plus PTE writes and a barrier' },
  { key: 'unmapIommu', cycles: COST.unmapIommu, unit: 'cycles per iommu-dma unmap', source: 'assumed: PTE clears plus IOVA free (or flush-queue entry); invalidation charged separately' },
  { key: 'bounce', cycles: COST.bounce, unit: 'cycles per swiotlb bounce copy', source: 'assumed: slot bookkeeping per copy' },
  { key: 'bounceBytesPerCycle', cycles: COST.bounceBytesPerCycle, unit: 'bytes copied per cycle', source: 'assumed ~8 GB/s memcpy at 2 GHz (the 2012 Latency Numbers list gives 250 us per MB read sequentially, ~4 GB/s; current cores copy faster)' },
];

/** What the model leaves out, in one or two lines (the `stats` footer). */
export const MODEL_ASSUMPTIONS = [
  `model, not a measurement: cycles at an assumed ${MODEL_CPU_GHZ} GHz CPU; DRAM read ${COST.walkRead}, IOTLB hit ${COST.iotlbHit}, invalidation command ${COST.invalidation} + sync ${COST.sync}, iommu-dma map ${COST.mapIommu} / unmap ${COST.unmapIommu}, dma-direct ${COST.mapDirect}, bounce ${COST.bounce} + 1 per ${COST.bounceBytesPerCycle} bytes.`,
  'no walk caches, no command-queue contention, no overlap; the device\'s data transfer is the same in every mode and not counted. Constants and sources: help stats.',
];

// ---- counters --------------------------------------------------------------------

/** Everything the model counts, for one device or a total. */
export interface CostCounters {
  /** DMA API calls (map = map_single/map_sg/alloc_coherent; unmap = unmap/free). */
  maps: number;
  unmaps: number;
  mapErrors: number;
  /** Of those, served by iommu-dma. */
  iommuMaps: number;
  iommuUnmaps: number;
  /** Transactions presented to an IOMMU, and those passed through untranslated. */
  translations: number;
  bypass: number;
  iotlbHits: number;
  iotlbMisses: number;
  walks: number;
  walkReads: number;
  configReads: number;
  /** Invalidation commands (SMMU TLBI + CFGI; VT-d IOTLB + context invalidations). */
  invalidations: number;
  /** CMD_SYNCs / wait descriptors / register-invalidation polls. */
  syncs: number;
  /** Kernel side: strict iotlb_syncs, IOVAs queued, flush-queue drains. */
  iotlbSyncs: number;
  fqQueued: number;
  fqFlushes: number;
  bounces: number;
  bounceBytes: number;
}

export const COUNTER_KEYS = [
  'maps', 'unmaps', 'mapErrors', 'iommuMaps', 'iommuUnmaps', 'translations', 'bypass', 'iotlbHits', 'iotlbMisses', 'walks', 'walkReads',
  'configReads', 'invalidations', 'syncs', 'iotlbSyncs', 'fqQueued', 'fqFlushes', 'bounces', 'bounceBytes',
] as const satisfies readonly (keyof CostCounters)[];

export const zeroCounters = (): CostCounters => Object.fromEntries(COUNTER_KEYS.map((k) => [k, 0])) as unknown as CostCounters;

const addInto = (a: CostCounters, b: Partial<CostCounters>): void => {
  for (const k of COUNTER_KEYS) a[k] += b[k] ?? 0;
};

/** One device's row. */
export interface DeviceCounters {
  /** dev_name ("0000:00:01.0"). */
  name: string;
  /** The driver's name for it ("vda"), when it has one. */
  alias?: string;
  counters: CostCounters;
}

/** All the counts at one moment: per device, what names no single device, and the total. */
export interface CounterSnapshot {
  devices: DeviceCounters[];
  other: CostCounters;
  total: CostCounters;
}

/** The per-SID counts of either IOMMU kind. */
type SidCounts = SmmuSidCounts | VtdSidCounts;

const sidInto = (c: CostCounters, s: SidCounts | undefined): void => {
  if (!s) return;
  c.translations += s.translations;
  c.bypass += s.bypass;
  c.iotlbHits += s.tlbHits;
  c.iotlbMisses += s.tlbMisses;
  c.walks += s.walks;
  c.walkReads += s.walkReads;
  c.configReads += s.cfgReads;
  c.invalidations += s.cfgInvalidations;
};

/** The narrow views of the two IOMMU drivers' domainInfo() the attribution needs. */
interface DomainInfoView {
  domainInfo?(d: IommuDomain): { stage?: string; asid?: number; dids?: Record<string, number> } | undefined;
}

/** The invalidation tag (SMMU ASID, or VT-d DID on `unitName`) of a device's current domain. */
function tagOf(linux: Linux, dev: KDevice, unitName: string): number | undefined {
  const d = linux.core.getDomainForDev(dev);
  if (!d) return undefined;
  const drv = linux.core.driver(d.iommu) as DomainInfoView | undefined;
  const info = drv?.domainInfo?.(d);
  if (!info) return undefined;
  if (info.dids) {
    const ids = Object.entries(info.dids);
    const hit = ids.find(([u]) => u === unitName) ?? (ids.length === 1 ? ids[0] : undefined);
    return hit?.[1];
  }
  return info.stage === 's1' && info.asid !== undefined ? info.asid : undefined;
}

/**
 * Gather every counter the model uses from the machine and (when booted)
 * the kernel. Deterministic and read-only.
 */
export function gatherCounters(machine: Machine, linux: Linux | undefined): CounterSnapshot {
  const devs: KDevice[] = linux ? linux.devices : [];
  const rows = new Map<string, DeviceCounters>();
  for (const d of devs) rows.set(d.name, { name: d.name, alias: d.alias, counters: zeroCounters() });
  const total = zeroCounters();
  const attributed = zeroCounters();

  // Hardware: per IOMMU, per StreamID / source-id, per tag.
  for (const iommu of machine.iommus) {
    let bySid: Record<number, SidCounts>;
    let byTag: Record<number, { invalidations: number; syncs: number }>;
    if (iommu instanceof SmmuV3) {
      const st = iommu.stats();
      bySid = st.bySid;
      byTag = Object.fromEntries(Object.entries(st.byTag).map(([k, v]) => [k, { invalidations: v.tlbi, syncs: v.syncs }]));
      total.invalidations += st.tlbiCommands + st.cfgiCommands;
      total.syncs += st.syncs;
    } else if (iommu instanceof VtdUnit) {
      const st = iommu.stats();
      bySid = st.bySid;
      byTag = Object.fromEntries(Object.entries(st.byDid).map(([k, v]) => [k, { invalidations: v.invalidations, syncs: v.waits }]));
      total.invalidations += st.iotlbInvalidations + st.contextInvalidations;
      total.syncs += st.waits;
    } else continue;
    for (const s of Object.values(bySid)) {
      const c = zeroCounters();
      sidInto(c, s);
      addInto(total, { ...c, invalidations: 0 }); // cfgInvalidations are in the IOMMU's command total already
    }
    // Per device: its StreamID's counts (the first device presenting a StreamID takes them).
    const seenSid = new Set<number>();
    const tagUsers = new Map<number, KDevice[]>();
    for (const d of devs) {
      if (d.master.iommu !== iommu || d.master.path !== 'translated') continue;
      const row = rows.get(d.name)!;
      if (!seenSid.has(d.master.sid)) {
        seenSid.add(d.master.sid);
        sidInto(row.counters, bySid[d.master.sid]);
        sidInto(attributed, bySid[d.master.sid]);
      }
      const tag = linux ? tagOf(linux, d, iommu.name) : undefined;
      if (tag !== undefined) tagUsers.set(tag, [...(tagUsers.get(tag) ?? []), d]);
    }
    // Per device: invalidations of the ASID/DID only it uses now.
    for (const [tag, users] of tagUsers) {
      const t = byTag[tag];
      if (!t || users.length !== 1) continue;
      const row = rows.get(users[0]!.name)!;
      row.counters.invalidations += t.invalidations;
      row.counters.syncs += t.syncs;
      attributed.invalidations += t.invalidations;
      attributed.syncs += t.syncs;
    }
  }

  // Kernel: the DMA API per device.
  if (linux) {
    const per = linux.dma.devStats();
    for (const [name, s] of Object.entries(per)) {
      const row = rows.get(name);
      const k: Partial<CostCounters> = {
        maps: s.maps, unmaps: s.unmaps, mapErrors: s.mapErrors, iommuMaps: s.iommuMaps, iommuUnmaps: s.iommuUnmaps,
        iotlbSyncs: s.iotlbSyncs, fqQueued: s.fqQueued, fqFlushes: s.fqFlushes, bounces: s.bounces, bounceBytes: s.bounceBytes,
      };
      if (row) addInto(row.counters, k);
      addInto(attributed, k);
      addInto(total, k);
    }
    // Work no DMA API call of a device did: the flush-queue timer's drains (iommuDmaFlushQueues), bounces outside the API.
    const i = linux.iommuDma.stats();
    const sw = linux.swiotlb.stats();
    const extra: Partial<CostCounters> = {
      fqFlushes: Math.max(0, i.flushAlls - attributedKernel(per, 'fqFlushes')),
      bounces: Math.max(0, sw.bouncesToDevice + sw.bouncesFromDevice - attributedKernel(per, 'bounces')),
      bounceBytes: Math.max(0, sw.bytesToDevice + sw.bytesFromDevice - attributedKernel(per, 'bounceBytes')),
    };
    addInto(total, extra);
  }

  const other = zeroCounters();
  for (const k of COUNTER_KEYS) other[k] = total[k] - attributed[k];
  return { devices: [...rows.values()], other, total };
}

const attributedKernel = (per: Readonly<Record<string, Readonly<Record<string, number>>>>, k: string): number => Object.values(per).reduce((a, s) => a + (s[k] ?? 0), 0);

/** a - b, field by field (b: a baseline taken earlier). Devices absent from b count from zero. */
export function subtractSnapshot(a: CounterSnapshot, b: CounterSnapshot): CounterSnapshot {
  const sub = (x: CostCounters, y: CostCounters | undefined): CostCounters => {
    const out = zeroCounters();
    for (const k of COUNTER_KEYS) out[k] = x[k] - (y?.[k] ?? 0);
    return out;
  };
  return {
    devices: a.devices.map((d) => ({ ...d, counters: sub(d.counters, b.devices.find((e) => e.name === d.name)?.counters) })),
    other: sub(a.other, b.other),
    total: sub(a.total, b.total),
  };
}

/** True when some count in `a` is below `b`'s: `b` is not an earlier moment of the same history (an undo went back past it). */
export function snapshotBelow(a: CounterSnapshot, b: CounterSnapshot): boolean {
  for (const k of COUNTER_KEYS) if (a.total[k] < b.total[k]) return true;
  for (const d of b.devices) {
    const x = a.devices.find((e) => e.name === d.name);
    if (x && COUNTER_KEYS.some((k) => x.counters[k] < d.counters[k])) return true;
  }
  return false;
}

// ---- cycles ----------------------------------------------------------------------

/** Modelled cycles by what they were spent on. */
export interface CostCycles {
  /** DMA API software: iommu-dma and dma-direct map/unmap. */
  dmaApi: number;
  /** Translations and IOTLB hits (0 with the constants as they are). */
  translations: number;
  walks: number;
  config: number;
  invalidations: number;
  syncs: number;
  bounces: number;
  total: number;
}

export const CYCLE_KEYS = ['dmaApi', 'translations', 'walks', 'config', 'invalidations', 'syncs', 'bounces'] as const;

/** The model: cycles for a set of counts. */
export function cyclesOf(c: CostCounters): CostCycles {
  const directMaps = c.maps - c.iommuMaps;
  const directUnmaps = c.unmaps - c.iommuUnmaps;
  const out: CostCycles = {
    dmaApi: c.iommuMaps * COST.mapIommu + c.iommuUnmaps * COST.unmapIommu + (directMaps + directUnmaps) * COST.mapDirect,
    translations: c.translations * COST.translation + c.iotlbHits * COST.iotlbHit,
    walks: c.walkReads * COST.walkRead,
    config: c.configReads * COST.configRead,
    invalidations: c.invalidations * COST.invalidation,
    syncs: c.syncs * COST.sync,
    bounces: c.bounces * COST.bounce + Math.ceil(c.bounceBytes / COST.bounceBytesPerCycle),
    total: 0,
  };
  out.total = CYCLE_KEYS.reduce((a, k) => a + out[k], 0);
  return out;
}

/** IOVAs waiting in flush queues now (their invalidation is still to come). */
export function pendingFlushQueue(linux: Linux | undefined): number {
  if (!linux) return 0;
  const seen = new Set<string>();
  let n = 0;
  for (const dev of linux.devices) {
    const d = linux.core.getDmaDomain(dev);
    if (!d) continue;
    const key = `${d.iommu}:${d.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    n += linux.iommuDma.cookieOf(d)?.fqEntries.length ?? 0;
  }
  return n;
}
