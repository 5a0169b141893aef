/**
 * `dma map DEV PADDR LEN DIR`, `dma unmap DEV IOVA [LEN]`, `dma alloc DEV LEN`:
 * call the booted kernel's DMA API (kernel/dma-mapping.ts: dma_map_single,
 * dma_unmap_single, dma_alloc_coherent, dma_free_coherent) for a device, as
 * a driver would, and show what came back: the DMA address, which
 * implementation served it (iommu-dma, dma-direct, or dma-direct bouncing
 * through swiotlb), the IOVA -> PA mapping the IOMMU now holds, and what the
 * device would really reach with that address through its DMA path.
 *
 * `dma unmap` needs the length the mapping was made with, as
 * dma_unmap_single does. Mappings made by `dma map` / `dma alloc` are
 * remembered per booted kernel (a Stateful part of it, so `undo` forgets
 * them too), which makes LEN optional for those. A remembered mapping is
 * checked against the model before it is used (a mapping that an `undo`
 * removed is not "remembered" any more).
 */
import { type u64, dmaBitMask, hex, sizeStr } from '../../machine/u64.ts';
import { clone, type Stateful } from '../../machine/state.ts';
import type { Linux } from '../../kernel/linux.ts';
import { dmaToPhys } from '../../kernel/dma-direct.ts';
import { INTEL_DEFERRED_HIGH_WATER_MARK } from '../../kernel/dma-iommu.ts';
import { DMA_BIDIRECTIONAL, DMA_MAPPING_ERROR, type DmaDirection, type KDevice } from '../../kernel/types.ts';
import { resolveBusAddr } from '../../inspect/virtio.ts';
import { plain, span, type Line } from '../../inspect/view.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';
import { DIR_CHOICES, devLabel, dirName, dmaOpsName, kernelDevice, parseDir, type KernelDeviceRef } from '../kernel-device.ts';
import { cacheOpLines, setRememberedMaps } from './dma-rules.ts';

/** Stated limits: one command maps or allocates at most this much. */
export const DMA_MAP_MAX = 16n << 20n;
export const DMA_ALLOC_MAX = 4n << 20n;
/** IOVA -> PA lines shown per mapping (the rest is summarised). */
const MAPPING_LINES = 8;

type OpsName = 'iommu-dma' | 'dma-direct' | 'swiotlb';

/** A mapping made by `dma map` (single) or `dma alloc` (coherent). */
export interface RememberedMapping {
  dev: string;
  dma: u64;
  len: number;
  dir: DmaDirection;
  /** The CPU-side buffer. */
  pa: u64;
  kind: 'single' | 'coherent';
  ops: OpsName;
}

class DmaCommandMappings implements Stateful {
  s: { maps: RememberedMapping[] } = { maps: [] };
  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as { maps: RememberedMapping[] });
  }
}

const stores = new WeakMap<Linux, DmaCommandMappings>();
function mappings(linux: Linux): DmaCommandMappings {
  let st = stores.get(linux);
  if (!st) {
    st = new DmaCommandMappings();
    stores.set(linux, st);
    linux.add('commands:dma-mappings', st);
  }
  return st;
}
setRememberedMaps((linux) => mappings(linux).s.maps);

/** Kernel log lines printed by `fn` (printk times strictly increase). */
function withLog<T>(s: Session, fn: () => T): { value: T; log: string[] } {
  const before = s.kernel.dmesg();
  const last = before.length ? before[before.length - 1]!.time : -1;
  const value = fn();
  return { value, log: s.kernel.dmesg().filter((l) => l.time > last).map((l) => l.text) };
}

/** Which DMA implementation served an address the API returned. */
function opsOf(linux: Linux, dev: KDevice, dma: u64): { ops: OpsName; slot?: u64 } {
  if (dev.dmaOps === 'iommu') return { ops: 'iommu-dma' };
  const pa = dmaToPhys(dev, dma);
  if (linux.swiotlb.isSwiotlbBuffer(pa)) return { ops: 'swiotlb', slot: pa };
  return { ops: 'dma-direct' };
}

const OPS_TEXT: Record<OpsName, string> = {
  'iommu-dma': 'iommu-dma (an IOVA from the domain allocator, mapped in the IOMMU page tables)',
  'dma-direct': 'dma-direct (no IOMMU: the DMA address is the physical address)',
  swiotlb: 'dma-direct with a swiotlb bounce (the device is given a bounce slot; data is copied)',
};

/** OPS_TEXT, named as the booted kernel names it: intel_dma_ops before v5.11 (see dmaOpsName). */
function servedBy(linux: Linux, dev: KDevice, ops: OpsName): string {
  if (ops === 'iommu-dma' && dmaOpsName(linux, dev) === 'intel_dma_ops')
    return "intel_dma_ops (intel-iommu's own DMA ops before v5.11: an IOVA from the domain allocator, mapped in the VT-d page tables)";
  return OPS_TEXT[ops];
}

/** The buffer must be RAM, whole. */
function checkRam(s: Session, pa: u64, len: u64, sp: SourceSpan | undefined): void {
  const r = s.machine.memory.listRegions().find((x) => x.kind === 'ram' && pa >= x.base && pa < x.base + x.size);
  if (!r) throw new CommandError(`${hex(pa)} is not RAM: the DMA API maps kernel memory`, sp, 'a physical address in RAM', "'info mtree' shows the RAM regions");
  if (pa + len > r.base + r.size) throw new CommandError(`${hex(pa)} + ${len} runs past the end of ${r.name} (${hex(r.base + r.size - 1n)})`, sp, `a buffer inside ${r.name}`);
}

function checkLen(len: u64, max: u64, sp: SourceSpan | undefined): number {
  if (len === 0n) throw new CommandError('the length must be at least 1 byte', sp, 'a length such as 4096 or 4K');
  if (len > max) throw new CommandError(`${len} bytes is more than this command maps at once (${sizeStr(max)}, a stated limit)`, sp, `a length of at most ${sizeStr(max)}`);
  return Number(len);
}

/** IOVA page -> PA lines from the device's DMA domain page tables (iommu_iova_to_phys). */
function mappingLines(linux: Linux, dev: KDevice, dma: u64, len: number): { lines: Line[]; pages: { iova: u64; pa: u64 | undefined }[] } {
  const d = linux.core.getDmaDomain(dev);
  if (!d) return { lines: [], pages: [] };
  const first = dma & ~0xfffn;
  const last = (dma + BigInt(len) - 1n) & ~0xfffn;
  const n = Number((last - first) >> 12n) + 1;
  const pages: { iova: u64; pa: u64 | undefined }[] = [];
  // Name the domain by the id the hardware tags it with (the DID in the context
  // entry, the ASID in the CD), so it matches what `vtd context` and `smmu cd` print.
  const tag = linux.core.driver(d.iommu)?.domainTag?.(d);
  const lines: Line[] = [[span(`  ${d.iommu} ${linux.core.typeString(d.type)} domain${tag ? ` (${tag})` : ''} now maps:`, 'dim')]];
  for (let i = 0; i < n; i++) {
    const iova = first + BigInt(i * 4096);
    const pa = linux.core.iommuIovaToPhys(d, iova);
    pages.push({ iova, pa });
    if (i < MAPPING_LINES) lines.push([span('    IOVA '), span(hex(iova, 16), 'addr'), span(' -> '), pa === undefined ? span('nothing', 'bad') : span(`PA ${hex(pa, 16)}`, 'addr')]);
  }
  if (n > MAPPING_LINES) lines.push(plain(`    ... ${n - MAPPING_LINES} more page${n - MAPPING_LINES === 1 ? '' : 's'} (walk DEV IOVA shows any of them)`));
  return { lines, pages };
}

/** What the device reaches when it issues `dma`: its real DMA path, walked without side effects. */
function deviceCheck(k: KernelDeviceRef, dma: u64, expectPa: u64, what = 'the buffer'): { line: Line; reaches?: u64; ok: boolean } {
  const r = resolveBusAddr(k.ref.master, dma);
  const m = k.ref.master;
  const idName = m.iommu?.kind === 'vtd' ? 'source-id' : 'StreamID';
  const via = m.path === 'bypass' ? 'its DMA bypasses the IOMMU' : `through ${m.iommu?.name ?? 'its IOMMU'}, ${idName} ${hex(m.sid)}`;
  if (r.pa === undefined) return { ok: false, line: [span(`  device check: ${k.ref.name} issuing ${hex(dma)} (${via}) would FAULT: ${r.note}`, 'bad')] };
  const ok = r.pa === expectPa;
  return {
    ok,
    reaches: r.pa,
    line: ok
      ? [span(`  device check: ${k.ref.name} issuing ${hex(dma)} (${via}) reaches PA ${hex(r.pa)}, ${what}`, 'ok')]
      : [span(`  device check: ${k.ref.name} issuing ${hex(dma)} (${via}) reaches PA ${hex(r.pa)}, NOT ${what} at ${hex(expectPa)}`, 'bad')],
  };
}

/** Warnings when what the kernel configured and what the device does disagree. */
function mismatchLines(k: KernelDeviceRef): Line[] {
  const m = k.ref.master;
  if (k.dev.dmaOps === 'iommu' && m.path === 'bypass') {
    return [[span(`  note: the kernel gave ${k.ref.name} the DMA ops ${dmaOpsName(k.linux, k.dev)} (firmware put it behind ${k.dev.iommuName}), but its DMA really bypasses the IOMMU: it would use an IOVA as a physical address`, 'warn')]];
  }
  // An identity (passthrough) domain's STE/context entry passes the address through: nothing to warn about.
  if (k.dev.dmaOps === 'direct' && m.path === 'translated' && k.dev.iommuName && k.linux.core.getDomainForDev(k.dev)?.type !== 'identity') {
    return [[span(`  note: the kernel gave ${k.ref.name} dma-direct ops, but its DMA goes through ${m.iommu?.name} (${m.iommu?.kind === 'vtd' ? 'source-id' : 'StreamID'} ${hex(m.sid)}): the ${m.iommu?.kind === 'vtd' ? 'remapping unit' : 'SMMU'} translates what the kernel meant as a physical address`, 'warn')]];
  }
  return [];
}

export const dmaMap: CommandSpec = {
  name: 'dma map',
  summary: 'dma_map_single() for a device: the DMA address, which ops served it, the IOVA mapping',
  help: [
    'Maps LEN bytes of RAM at PADDR for DEV in direction DIR (to_device, from_device, bidirectional, or',
    "Linux's names DMA_TO_DEVICE ...) through the booted kernel's DMA API, as a driver would. Shows the",
    'DMA address handed to the device, which implementation served it (iommu-dma: an IOVA, allocated',
    'top-down below the device\'s DMA mask; dma-direct: the physical address; swiotlb: a bounce slot),',
    'the IOVA -> PA pages the IOMMU now maps, and what the device itself would reach with that address.',
    'DMA_MAPPING_ERROR is reported as an error (the machine is left unchanged). `$` holds the DMA',
    'address afterwards, so `dma unmap vda $` releases it.',
  ].join('\n'),
  examples: ['dma map vda 0x41000000 4096 to_device', 'dma map vda 0x41000100 512 DMA_FROM_DEVICE', 'dma map 00:01.0 0x41000000 3*4K bidirectional'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'paddr', kind: 'u64', desc: 'physical address of the buffer (RAM)' },
    { name: 'len', kind: 'u64', desc: 'length in bytes' },
    { name: 'dir', kind: 'enum', choices: DIR_CHOICES, desc: 'DMA direction' },
  ],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const pa = a.v.paddr as u64;
    const len = checkLen(a.v.len as u64, DMA_MAP_MAX, a.span.len);
    checkRam(s, pa, BigInt(len), a.span.paddr);
    const dir = parseDir(a.v.dir as string);
    const call = `dma_map_single(${devLabel(k.dev)}, ${hex(pa)}, ${len}, ${dirName(dir)})`;
    k.linux.dma.takeCacheOps();
    const { value: dma, log } = withLog(s, () => k.linux.dma.mapSingle(k.dev, pa, len, dir));
    if (dma === DMA_MAPPING_ERROR) {
      throw new CommandError(
        `${call} returned DMA_MAPPING_ERROR${log.length ? `; the kernel logged: ${log.join(' / ')}` : ''}`,
        a.all,
        undefined,
        `the device's DMA mask is ${hex(k.dev.dmaMask)}; 'iova ${k.ref.name}' shows its IOVA space`,
      );
    }
    const o = opsOf(k.linux, k.dev, dma);
    mappings(k.linux).s.maps.push({ dev: k.dev.name, dma, len, dir, pa, kind: 'single', ops: o.ops });
    s.env.last = dma;
    const lines: Line[] = [
      [span(`${call} = `), span(hex(dma), 'addr')],
      [span('  served by '), span(servedBy(k.linux, k.dev, o.ops), 'name')],
    ];
    let pages: { iova: u64; pa: u64 | undefined }[] = [];
    if (o.ops === 'iommu-dma') {
      const ml = mappingLines(k.linux, k.dev, dma, len);
      lines.push(...ml.lines);
      pages = ml.pages;
    }
    if (o.ops === 'swiotlb') lines.push([span(`  bounce slot at PA ${hex(o.slot!)}; ${dir === 1 || dir === 0 ? 'the buffer was copied into it' : 'the device writes there; unmap copies it back'}`)]);
    const expect = o.ops === 'swiotlb' ? o.slot! : pa;
    const dc = deviceCheck(k, dma, expect, o.ops === 'swiotlb' ? 'the bounce slot' : 'the buffer');
    if (!s.diagnosis) lines.push(dc.line, ...mismatchLines(k));
    lines.push(...cacheOpLines(k.linux));
    for (const l of log) lines.push([span(`  kernel: ${l}`, 'warn')]);
    lines.push([span(`  dma unmap ${k.ref.name} ${hex(dma)} (or: dma unmap ${k.ref.name} $) releases it`, 'dim')]);
    return {
      kind: 'dma-map',
      data: { device: k.dev.name, alias: k.dev.alias, pa, len, dir: dirName(dir), dma, ops: o.ops, bounceSlot: o.slot, pages, deviceReaches: dc.reaches, deviceOk: dc.ok, log },
      lines,
      focus: { addr: pa, len: Math.min(len, 4096) },
    };
  },
};

export const dmaAlloc: CommandSpec = {
  name: 'dma alloc',
  summary: 'dma_alloc_coherent() for a device: zeroed memory, its CPU address and DMA handle',
  help: [
    'Allocates LEN bytes of coherent DMA memory for DEV (limited by its coherent DMA mask) through the',
    "booted kernel's DMA API. Shows the physical address the CPU uses, the DMA handle the device uses,",
    'which implementation served it and, for iommu-dma, the IOVA -> PA pages. `dma unmap DEV HANDLE`',
    'frees it (dma_free_coherent); `$` holds the handle afterwards.',
  ].join('\n'),
  examples: ['dma alloc vda 4096', 'dma alloc vda 10000'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'len', kind: 'u64', desc: 'length in bytes' },
  ],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const len = checkLen(a.v.len as u64, DMA_ALLOC_MAX, a.span.len);
    const call = `dma_alloc_coherent(${devLabel(k.dev)}, ${len})`;
    k.linux.dma.takeCacheOps();
    const { value: r, log } = withLog(s, () => k.linux.dma.allocCoherent(k.dev, len));
    if (!r) {
      throw new CommandError(`${call} failed (NULL)${log.length ? `; the kernel logged: ${log.join(' / ')}` : ''}`, a.all, undefined, `the coherent DMA mask is ${hex(k.dev.coherentDmaMask)}`);
    }
    const o = opsOf(k.linux, k.dev, r.dma);
    mappings(k.linux).s.maps.push({ dev: k.dev.name, dma: r.dma, len, dir: DMA_BIDIRECTIONAL, pa: r.pa, kind: 'coherent', ops: o.ops });
    s.env.last = r.dma;
    const lines: Line[] = [
      [span(`${call}: CPU buffer at PA `), span(hex(r.pa), 'addr'), span(', DMA handle '), span(hex(r.dma), 'addr')],
      [span('  served by '), span(servedBy(k.linux, k.dev, o.ops), 'name')],
    ];
    let pages: { iova: u64; pa: u64 | undefined }[] = [];
    if (o.ops === 'iommu-dma') {
      const ml = mappingLines(k.linux, k.dev, r.dma, len);
      lines.push(...ml.lines);
      pages = ml.pages;
    }
    const dc = deviceCheck(k, r.dma, r.pa);
    if (!s.diagnosis) lines.push(dc.line, ...mismatchLines(k));
    const prep = cacheOpLines(k.linux);
    if (prep.length) lines.push(...prep, [span('  the CPU maps the buffer non-cacheable (arch_dma_prep_coherent, then a Normal-NC mapping): no syncs are needed on it', 'dim')]);
    for (const l of log) lines.push([span(`  kernel: ${l}`, 'warn')]);
    lines.push([span(`  dma unmap ${k.ref.name} ${hex(r.dma)} frees it (dma_free_coherent)`, 'dim')]);
    return {
      kind: 'dma-alloc',
      data: { device: k.dev.name, alias: k.dev.alias, len, pa: r.pa, dma: r.dma, ops: o.ops, pages, deviceReaches: dc.reaches, deviceOk: dc.ok, log },
      lines,
      focus: { addr: r.pa, len: Math.min(len, 4096) },
    };
  },
};

/** Is a remembered mapping still what the model holds (an undo may have removed it)? */
function stillLive(linux: Linux, dev: KDevice, m: RememberedMapping): boolean {
  if (m.ops === 'iommu-dma') {
    const d = linux.core.getDmaDomain(dev);
    return d !== undefined && linux.core.iommuIovaToPhys(d, m.dma) === m.pa;
  }
  if (m.ops === 'swiotlb') return linux.swiotlb.origOf(dmaToPhys(dev, m.dma)) === m.pa;
  return true;
}

export const dmaUnmap: CommandSpec = {
  name: 'dma unmap',
  summary: 'dma_unmap_single() (or dma_free_coherent for `dma alloc` memory) for a device',
  help: [
    'Releases a mapping by its DMA address, as a driver does: dma_unmap_single takes only the DMA address',
    'and the length, never the CPU address. LEN may be left out for mappings made by `dma map` or',
    '`dma alloc` (the lab remembers their length and direction); memory from `dma alloc` is freed with',
    'dma_free_coherent. Under iommu-dma the page-table entries are cleared, then the IOTLB is',
    'invalidated at once (strict DMA domain) or the IOVA waits in the flush queue (lazy DMA-FQ).',
  ].join('\n'),
  examples: ['dma unmap vda $', 'dma unmap vda $ 4096', 'dma unmap vda $ 4096 dir=to_device'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on', 'dma map vda 0x41000000 4096 to_device'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'iova', kind: 'u64', desc: 'the DMA address the map call returned' },
    { name: 'len', kind: 'u64', desc: 'length in bytes (optional for mappings made by dma map / dma alloc)', optional: true },
  ],
  opts: [{ name: 'dir', kind: 'enum', choices: DIR_CHOICES, desc: 'direction (default: the one it was mapped with, else bidirectional)' }],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const dma = a.v.iova as u64;
    const store = mappings(k.linux);
    const idx = store.s.maps.findIndex((m) => m.dev === k.dev.name && m.dma === dma && stillLive(k.linux, k.dev, m));
    const known = idx >= 0 ? store.s.maps[idx]! : undefined;
    if (a.v.len === undefined && !known) {
      throw new CommandError(
        `no mapping made by 'dma map' or 'dma alloc' starts at ${hex(dma)} for ${k.ref.name}: give its length`,
        a.span.iova,
        'the DMA address a dma map / dma alloc printed, or IOVA LEN',
        `dma unmap ${k.ref.name} ${hex(dma)} 4096`,
      );
    }
    const len = a.v.len !== undefined ? checkLen(a.v.len as u64, DMA_MAP_MAX, a.span.len) : known!.len;
    const dir = a.v.dir !== undefined ? parseDir(a.v.dir as string) : (known?.dir ?? DMA_BIDIRECTIONAL);
    const domain = k.dev.dmaOps === 'iommu' ? k.linux.core.getDmaDomain(k.dev) : undefined;
    // With DMA-API debug on, the call is made anyway, as a buggy driver makes it: check_unmap reports it.
    if (domain && k.linux.core.iommuIovaToPhys(domain, dma) === undefined && !k.linux.dma.debug?.enabled) {
      throw new CommandError(`nothing is mapped at IOVA ${hex(dma)} in ${k.ref.name}'s DMA domain (already unmapped?)`, a.span.iova, 'an IOVA a dma map returned', `iova ${k.ref.name} lists the allocated ranges`);
    }
    const coherent = known?.kind === 'coherent';
    const call = coherent ? `dma_free_coherent(${devLabel(k.dev)}, ${len}, PA ${hex(known!.pa)}, ${hex(dma)})` : `dma_unmap_single(${devLabel(k.dev)}, ${hex(dma)}, ${len}, ${dirName(dir)})`;
    const lazy = domain ? k.linux.core.domainUsesFlushQueue(domain) : false;
    k.linux.dma.takeCacheOps();
    const { log } = withLog(s, () => (coherent ? k.linux.dma.freeCoherent(k.dev, len, known!.pa, dma) : k.linux.dma.unmapSingle(k.dev, dma, len, dir)));
    if (idx >= 0) store.s.maps.splice(idx, 1);
    const lines: Line[] = [[span(call, 'name'), span(' done')]];
    let after: { pa?: u64; note?: string } | undefined;
    if (domain) {
      const left = k.linux.core.iommuIovaToPhys(domain, dma);
      lines.push([span(`  ${dmaOpsName(k.linux, k.dev)}: page-table entries ${left === undefined ? 'cleared' : `NOT cleared (still -> ${hex(left)})`}; ${lazy && k.linux.core.isPrivateDomain(domain) ? `the IOVA waits on intel_dma_ops' deferred-unmap list (v4.x: ${INTEL_DEFERRED_HIGH_WATER_MARK} entries for all domains, then one global IOTLB flush; or its 10 ms timer): the IOTLB may still hold the old translation until then` : lazy ? 'the IOVA waits in the flush queue (lazy DMA-FQ): the IOTLB may still hold the old translation until the queue is flushed' : 'IOTLB invalidated at once (strict DMA domain), IOVA returned to the allocator'}`)]);
      after = resolveBusAddr(k.ref.master, dma);
      if (k.ref.master.path === 'translated') lines.push([span(`  walk now (the tables in memory): ${after.pa === undefined ? `${after.note}${lazy ? ' (but a translation cached in the IOTLB still works until the flush queue is drained)' : ' (the device can no longer reach it)'}` : `still reaches PA ${hex(after.pa)}`}`, after.pa === undefined && !lazy ? 'ok' : 'warn')]);
    } else {
      lines.push([span(`  dma-direct: ${known?.ops === 'swiotlb' ? 'the bounce slot was released (copied back first for from_device/bidirectional)' : 'nothing to undo in hardware: the DMA address was the physical address'}`)]);
    }
    lines.push(...cacheOpLines(k.linux));
    for (const l of log) lines.push([span(`  kernel: ${l}`, 'warn')]);
    return {
      kind: 'dma-unmap',
      data: { device: k.dev.name, alias: k.dev.alias, dma, len, dir: dirName(dir), coherent, remembered: known !== undefined, lazy, walkAfter: after ?? null, log },
      lines,
    };
  },
};

/** Highest RAM address + 1 (what a DMA mask must cover for dma-direct never to bounce). */
function ramTop(s: Session): u64 {
  return s.machine.memory.listRegions().filter((r) => r.kind === 'ram').reduce<u64>((a, r) => (r.base + r.size > a ? r.base + r.size : a), 0n);
}

/**
 * `dma mask DEV BITS`: dma_set_mask_and_coherent(dev, DMA_BIT_MASK(BITS)),
 * as a driver's probe calls it (kernel/dma-mapping.ts dmaSetMaskAndCoherent):
 * -EIO when the device's DMA ops cannot honour the mask (dma-direct below
 * 32 bits; iommu-dma takes any mask). A narrower mask makes dma-direct
 * bounce buffers it cannot reach through swiotlb, and makes iommu-dma
 * allocate IOVAs below it.
 */
export const dmaMask: CommandSpec = {
  name: 'dma mask',
  summary: 'dma_set_mask_and_coherent(DEV, DMA_BIT_MASK(BITS)), as a driver does: -EIO when unsupported',
  help: [
    "Sets DEV's streaming and coherent DMA masks to DMA_BIT_MASK(BITS) (1..64) through the booted kernel's",
    'DMA API, as a driver\'s probe does. It fails with -EIO, leaving the machine unchanged, when the',
    "device's DMA ops cannot honour the mask (dma-direct: less than 32 bits; iommu-dma takes any mask).",
    'With dma-direct, a buffer the mask cannot reach is then bounced through swiotlb (`dma map` shows the',
    'bounce slot; `stats` counts the copies); with iommu-dma, IOVAs come from below the mask.',
    '`driver unbind` leaves the masks as they are (Linux does not reset them); a driver\'s probe sets its',
    'own at `driver bind` (virtio-pci: 64 bits).',
  ].join('\n'),
  examples: ['dma mask vda 32', 'dma mask vda 64', 'dma mask 00:01.0 40'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot ram=8G iommu.passthrough=1 vda.iommu_platform=on'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'bits', kind: 'u64', desc: 'mask width in bits, 1..64 (DMA_BIT_MASK(BITS))' },
  ],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const bitsV = a.v.bits as u64;
    if (bitsV < 1n || bitsV > 64n) throw new CommandError(`DMA_BIT_MASK(${bitsV}): the width must be 1..64 bits`, a.span.bits, 'a width such as 32 or 64');
    const bits = Number(bitsV);
    const mask = dmaBitMask(bits);
    const old = { dma: k.dev.dmaMask, coherent: k.dev.coherentDmaMask };
    const call = `dma_set_mask_and_coherent(${devLabel(k.dev)}, DMA_BIT_MASK(${bits}))`;
    const ops: OpsName = k.dev.dmaOps === 'iommu' ? 'iommu-dma' : 'dma-direct';
    const rc = k.linux.dma.dmaSetMaskAndCoherent(k.dev, mask);
    if (rc < 0) {
      throw new CommandError(
        `${call} = -EIO: ${ops} cannot honour a ${bits}-bit mask${ops === 'dma-direct' ? ' (dma_direct_supported: the mask must cover 32 bits, or all of the lowest memory zone)' : ''}; the masks stay ${hex(old.dma)}`,
        a.span.bits,
        ops === 'dma-direct' ? 'a width of at least 32 bits' : undefined,
      );
    }
    const top = ramTop(s);
    const lines: Line[] = [
      [span(`${call} = 0`, 'name')],
      [span(`  dma_mask ${hex(old.dma)} -> `), span(hex(mask), 'num'), span(`, coherent_dma_mask ${hex(old.coherent)} -> `), span(hex(mask), 'num')],
    ];
    if (ops === 'iommu-dma') {
      lines.push(plain(`  iommu-dma: IOVAs for ${k.ref.name} now come from below ${hex(mask)} (the IOMMU maps them to any RAM)`));
    } else if (mask < top - 1n) {
      const sw = k.linux.swiotlb;
      lines.push(
        sw.active
          ? [span(`  dma-direct: RAM above ${hex(mask)} is out of ${k.ref.name}'s reach: buffers there are bounced through swiotlb (pool at ${hex(sw.start)})`, 'warn')]
          : [span(`  dma-direct: RAM above ${hex(mask)} is out of ${k.ref.name}'s reach, and this kernel has no swiotlb pool (all RAM was below 4 GiB at boot): mapping a buffer there fails`, 'warn')],
      );
    } else {
      lines.push(plain(`  dma-direct: all RAM (up to ${hex(top - 1n)}) is within reach: no bouncing`));
    }
    return { kind: 'dma-mask', data: { device: k.dev.name, alias: k.dev.alias, bits, mask, old, ops }, lines };
  },
};

export const dmaCommands: CommandSpec[] = [dmaMap, dmaUnmap, dmaAlloc, dmaMask];
