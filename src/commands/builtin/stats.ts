/**
 * `stats [reset]`: what the DMA work since boot (or since the last `stats
 * reset`) cost, per device and in total, under the cost model of
 * kernel/cost.ts: DMA API maps and unmaps, IOMMU translations, IOTLB hits
 * and misses, table-walk reads, invalidation commands and syncs, flush-queue
 * drains, swiotlb bounces — and the modelled cycles each adds up to. The
 * same workload booted with iommu.passthrough=1, iommu.strict=1 and
 * iommu.strict=0 gives three totals to compare.
 *
 * `stats reset` takes a baseline instead of zeroing anything in the model:
 * the counters live in the hardware models and kernel layers, and undo
 * rewinds them. The baseline is kept per booted system in the session (so
 * `stats reset` is not an undo step, like `trace clear`); an undo that goes
 * back past it makes some count fall below the baseline, and then the
 * baseline is dropped and `stats` counts from boot again, saying so.
 */
import { span, plain, table, type Line, type Span } from '../../inspect/view.ts';
import type { System } from '../../scenarios/system.ts';
import {
  COST_TABLE, CYCLE_KEYS, MODEL_ASSUMPTIONS, MODEL_CPU_GHZ, cyclesOf, gatherCounters, pendingFlushQueue, snapshotBelow, subtractSnapshot,
  type CostCounters, type CostCycles, type CounterSnapshot,
} from '../../kernel/cost.ts';
import { IOVA_FQ_TIMEOUT } from '../../kernel/dma-iommu.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';

/** Baselines from `stats reset`, per booted system (a `boot` or `reset` starts without one). */
const baselines = new WeakMap<System, CounterSnapshot>();

/** 1234567 -> "1,234,567" (no locale: the output is the same everywhere). */
export const groupDigits = (n: number): string => {
  const s = String(Math.abs(n));
  return (n < 0 ? '-' : '') + s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
};

function snapshot(s: Session): CounterSnapshot {
  const linux = s.kernel.booted ? s.system.linux : undefined;
  return gatherCounters(s.machine, linux);
}

/** One column of the table: a device, "other" or the total. */
interface StatsColumn {
  label: string;
  counters: CostCounters;
  cycles: CostCycles;
}

type RowDef = { label: string; value: (c: CostCounters) => string; indent?: boolean };

const pair = (a: number, b: number): string => `${groupDigits(a)} / ${groupDigits(b)}`;

const COUNT_ROWS: RowDef[] = [
  { label: 'DMA API maps / unmaps', value: (c) => pair(c.maps, c.unmaps) },
  { label: 'served by iommu-dma', value: (c) => pair(c.iommuMaps, c.iommuUnmaps), indent: true },
  { label: 'map errors', value: (c) => groupDigits(c.mapErrors), indent: true },
  { label: 'IOMMU translations', value: (c) => groupDigits(c.translations) },
  { label: 'passed through (bypass)', value: (c) => groupDigits(c.bypass), indent: true },
  { label: 'IOTLB hits / misses', value: (c) => pair(c.iotlbHits, c.iotlbMisses), indent: true },
  { label: 'table walks / reads', value: (c) => pair(c.walks, c.walkReads) },
  { label: 'config fetches (STE/CD, context)', value: (c) => groupDigits(c.configReads) },
  { label: 'invalidation commands', value: (c) => groupDigits(c.invalidations) },
  { label: 'syncs (CMD_SYNC / wait)', value: (c) => groupDigits(c.syncs) },
  { label: 'strict unmaps (iotlb_sync)', value: (c) => groupDigits(c.iotlbSyncs), indent: true },
  { label: 'flush queue: IOVAs queued / flushes', value: (c) => pair(c.fqQueued, c.fqFlushes), indent: true },
  { label: 'swiotlb bounces / bytes', value: (c) => pair(c.bounces, c.bounceBytes) },
];

const CYCLE_LABEL: Record<(typeof CYCLE_KEYS)[number], string> = {
  dmaApi: 'DMA API (map/unmap software)',
  translations: 'translations and IOTLB hits',
  walks: 'table-walk reads',
  config: 'config fetches',
  invalidations: 'invalidation commands',
  syncs: 'syncs (waiting for completion)',
  bounces: 'bounce copies',
};

const isZero = (c: CostCounters): boolean => Object.values(c).every((v) => v === 0);

function help(): string {
  const w = Math.max(...COST_TABLE.map((c) => c.key.length));
  return [
    'Counts what DMA did since boot (or since `stats reset`) and what it costs under a cost model: per',
    'device (the "other" column holds what names no single device: boot-time global invalidations, the',
    'flush-queue timer, a group of several devices) and in total. The counts are exact (the SMMU/VT-d',
    'models and the kernel layers count as they go); the cycles are a MODEL with stated assumptions, not',
    'a measurement of hardware. Compare one workload booted three ways: iommu.passthrough=1 (identity',
    'domain, dma-direct: no walks, no invalidations), iommu.strict=1 (every unmap invalidates and waits)',
    'and iommu.strict=0 (unmaps queue; one invalidation per full flush queue of 256).',
    '`stats reset` takes a baseline (not an undo step; an undo back past it drops the baseline).',
    '',
    `Constants (CPU cycles at an assumed ${MODEL_CPU_GHZ} GHz; src/kernel/cost.ts):`,
    ...COST_TABLE.map((c) => `  ${c.key.padEnd(w)}  ${String(c.cycles).padStart(4)} ${c.unit}: ${c.source}`),
  ].join('\n');
}

export const statsCommand: CommandSpec = {
  name: 'stats',
  summary: 'DMA cost model: maps, IOTLB hits/misses, walk reads, invalidations, bounces and their modelled cycles, per device',
  help: help(),
  examples: ['stats', 'stats reset'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on iommu.strict=1', 'blk read vda 0 8'],
  args: [{ name: 'action', kind: 'enum', choices: ['reset'], desc: 'reset: count from now on (takes a baseline)', optional: true }],
  mutates: false,
  run(s, a) {
    const now = snapshot(s);
    if (a.v.action === 'reset') {
      baselines.set(s.system, now);
      return { kind: 'stats-reset', data: { reset: true }, lines: [plain("DMA cost counters: counting from here (a baseline; 'stats' shows what happens next)")] };
    }
    let base = baselines.get(s.system);
    let dropped = false;
    if (base && snapshotBelow(now, base)) {
      baselines.delete(s.system);
      base = undefined;
      dropped = true;
    }
    const snap = base ? subtractSnapshot(now, base) : now;
    const linux = s.kernel.booted ? s.system.linux : undefined;
    const cols: StatsColumn[] = [];
    for (const d of snap.devices) {
      if (isZero(d.counters)) continue;
      cols.push({ label: d.alias ? `${d.alias} (${d.name})` : d.name, counters: d.counters, cycles: cyclesOf(d.counters) });
    }
    if (!isZero(snap.other)) cols.push({ label: 'other', counters: snap.other, cycles: cyclesOf(snap.other) });
    const total: StatsColumn = { label: 'total', counters: snap.total, cycles: cyclesOf(snap.total) };
    // One column that is the whole total is shown once.
    const shown = cols.length === 1 ? [{ ...total, label: `${cols[0]!.label} = total` }] : [...cols, total];
    const since = base ? "since 'stats reset'" : s.kernel.booted ? 'since boot' : 'since power-on; not booted: hardware counts only';
    const lines: Line[] = [[span('DMA cost model', 'head'), span(` (${since}) — modelled cycles, not a measurement`, 'dim')]];
    if (dropped) lines.push([span("  (an undo went back past the last 'stats reset': counting from boot again)", 'warn')]);
    const cols2 = [{ header: '' }, ...shown.map((c) => ({ header: c.label, align: 'right' as const, style: 'num' as const }))];
    const rows: (string | Span)[][] = COUNT_ROWS.map((r) => [(r.indent ? '  ' : '') + r.label, ...shown.map((c) => r.value(c.counters))]);
    rows.push(['cycles', ...shown.map(() => '')]);
    for (const k of CYCLE_KEYS) rows.push([`  ${CYCLE_LABEL[k]}`, ...shown.map((c) => groupDigits(c.cycles[k]))]);
    rows.push([span('  total cycles', 'head'), ...shown.map((c) => span(groupDigits(c.cycles.total), 'head'))]);
    lines.push(...table(cols2, rows, { indent: '  ' }));
    const pending = pendingFlushQueue(linux);
    if (pending) lines.push([span(`  ${pending} IOVA${pending === 1 ? '' : 's'} still wait in a flush queue: one more invalidation + sync when the ${IOVA_FQ_TIMEOUT} ms timer fires (not counted yet)`, 'dim')]);
    for (const l of MODEL_ASSUMPTIONS) lines.push([span(`  ${l}`, 'dim')]);
    const json = (c: StatsColumn): unknown => ({ label: c.label, counters: c.counters, cycles: c.cycles });
    return {
      kind: 'stats',
      data: {
        since: base ? 'reset' : 'boot',
        baselineDropped: dropped,
        devices: snap.devices.map((d) => ({ name: d.name, alias: d.alias, counters: d.counters, cycles: cyclesOf(d.counters) })),
        other: { counters: snap.other, cycles: cyclesOf(snap.other) },
        total: json(total),
        pendingFlushQueue: pending,
        constants: COST_TABLE,
        assumptions: MODEL_ASSUMPTIONS,
      },
      lines,
    };
  },
};

export const statsCommands: CommandSpec[] = [statsCommand];
