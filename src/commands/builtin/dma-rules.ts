/**
 * The DMA API's rules made observable (issue 14):
 *
 *   dma sync DEV IOVA for_cpu|for_device [LEN] [dir=]   dma_sync_single_for_cpu / _for_device
 *   dma mapping-error DEV ADDR                           dma_mapping_error(), as a driver checks it
 *   dma map-sg DEV PA:LEN[,PA:LEN...] DIR                dma_map_sg: the segments (iommu-dma merges)
 *   dma unmap-sg DEV IOVA [dir=]                         dma_unmap_sg of a list map-sg made
 *   dma debug                                            DMA-API debug: its entries and error count
 *   cpu read ADDR LEN [expect=BYTE]                      a CPU load, through the cache when modelled
 *   cpu write ADDR BYTE LEN                              a CPU store (memset), through the cache
 *   cpu cache [ADDR [LEN]]                               the lines the CPU cache holds: dirty, stale
 *
 * The CPU cache exists on a machine with a non-coherent device
 * (`vda.coherent=no`, machine/cache.ts); `xp` shows RAM, which is what a
 * non-coherent device sees, `cpu read` what the CPU's loads return.
 * Driver scripts (`dma script`, `dma check`) are in dma-script.ts.
 */
import { type u64, hex } from '../../machine/u64.ts';
import { CACHE_LINE } from '../../machine/cache.ts';
import { clone, type Stateful } from '../../machine/state.ts';
import type { Linux } from '../../kernel/linux.ts';
import type { CacheOp } from '../../kernel/arch-dma.ts';
import type { DmaSegment, KDevice, SgEntry, DmaDirection } from '../../kernel/types.ts';
import { dmaToPhys } from '../../kernel/dma-direct.ts';
import { hexdump } from '../../inspect/hexdump.ts';
import { plain, span, type Line } from '../../inspect/view.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';
import { DIR_CHOICES, devLabel, dirName, kernelDevice, needLinux, parseDir } from '../kernel-device.ts';

/** Stated limits. */
export const CPU_ACCESS_MAX = 64 * 1024;
export const SG_MAX_ENTRIES = 32;
const SHOW_BYTES = 128;
const CACHE_LINES_SHOWN = 16;

/** Kernel log lines printed by `fn`. */
function withLog<T>(s: Session, fn: () => T): { value: T; log: string[] } {
  const before = s.kernel.dmesg();
  const last = before.length ? before[before.length - 1]!.time : -1;
  const value = fn();
  return { value, log: s.kernel.dmesg().filter((l) => l.time > last).map((l) => l.text) };
}

const OP_TEXT: Record<CacheOp['op'], string> = {
  clean: 'dcache_clean_poc (dc cvac: dirty lines written back to RAM, kept)',
  inval: 'dcache_inval_poc (dc ivac: lines dropped; dc civac on a partial line at either end)',
  'clean+inval': 'dcache_clean_inval_poc (dc civac: written back, then dropped)',
};

/** Lines for the cache maintenance a DMA API call did (non-coherent devices only). */
export function cacheOpLines(linux: Linux): Line[] {
  return linux.dma.takeCacheOps().map((o) => [span(`  arch cache maintenance: ${OP_TEXT[o.op]} over PA ${hex(o.pa)}+${o.len}`, 'dim')]);
}

const logLines = (log: string[]): Line[] => log.map((l) => [span(`  kernel: ${l}`, /DMA-API|dma-lab/.test(l) ? 'bad' : 'warn')]);

/** Who may touch a streaming buffer now, as dma-debug tracks it (when on). */
function ownerLine(linux: Linux, dev: KDevice, dma: u64): Line | undefined {
  const e = linux.dma.debug?.entries().find((x) => x.dev === dev.name && dma >= x.devAddr && dma < x.devAddr + BigInt(x.size));
  if (!e || e.type === 'coherent') return undefined;
  return [span(`  ownership: the ${e.owner === 'cpu' ? 'CPU' : 'device'} owns the buffer now`, 'dim')];
}

// ---- dma sync ----------------------------------------------------------------------

export const dmaSync: CommandSpec = {
  name: 'dma sync',
  summary: 'dma_sync_single_for_cpu / _for_device: hand a streaming buffer to the CPU or back to the device',
  help: [
    'Calls dma_sync_single_for_cpu (for_cpu) or dma_sync_single_for_device (for_device) on a DMA address a',
    'map returned. for_cpu: a non-coherent device gets arch_sync_dma_for_cpu (invalidate, unless DMA_TO_DEVICE),',
    'and a swiotlb bounce slot is copied back to the buffer (FROM_DEVICE, BIDIRECTIONAL). for_device: the buffer',
    'is copied into the slot (TO_DEVICE, BIDIRECTIONAL), then cleaned for a non-coherent device. With',
    'dma-api-debug on, check_sync reports a sync of memory not mapped, outside the mapping or in another',
    'direction. LEN defaults to the mapping\'s length and dir= to its direction, when `dma map` made it.',
  ].join('\n'),
  examples: ['dma sync vda $ for_cpu', 'dma sync vda $ for_device 2048 dir=from_device'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on', 'dma map vda 0x50000000 2048 from_device'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'iova', kind: 'u64', desc: 'the DMA address (or one inside the mapping)' },
    { name: 'who', kind: 'enum', choices: ['for_cpu', 'for_device'], desc: 'for_cpu: the CPU takes the buffer; for_device: the device does' },
    { name: 'len', kind: 'u64', desc: 'bytes (default: the mapping\'s length)', optional: true },
  ],
  opts: [{ name: 'dir', kind: 'enum', choices: DIR_CHOICES, desc: 'direction (default: the mapping\'s)' }],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const dma = a.v.iova as u64;
    const known = rememberedAt(k.linux, k.dev, dma);
    const lenV = a.v.len as u64 | undefined;
    if (lenV === undefined && !known) throw new CommandError(`no mapping made by 'dma map' holds ${hex(dma)} for ${k.ref.name}: give the length`, a.span.iova, 'IOVA LEN', `dma sync ${k.ref.name} ${hex(dma)} ${a.v.who as string} 4096`);
    if (lenV !== undefined && (lenV < 1n || lenV > 16n << 20n)) throw new CommandError(`${lenV} bytes: a sync covers 1 byte to 16 MiB (a stated limit)`, a.span.len, 'a length such as 2048');
    const len = lenV !== undefined ? Number(lenV) : known!.len - Number(dma - known!.dma);
    const dir = a.v.dir !== undefined ? parseDir(a.v.dir as string) : (known?.dir ?? 0);
    const forCpu = a.v.who === 'for_cpu';
    const call = `dma_sync_single_for_${forCpu ? 'cpu' : 'device'}(${devLabel(k.dev)}, ${hex(dma)}, ${len}, ${dirName(dir)})`;
    k.linux.dma.takeCacheOps();
    const sw = k.linux.swiotlb;
    const bounces = sw.bounceLog().length ? sw.bounceLog()[sw.bounceLog().length - 1]!.seq : -1;
    const { log } = withLog(s, () => (forCpu ? k.linux.dma.syncSingleForCpu(k.dev, dma, len, dir) : k.linux.dma.syncSingleForDevice(k.dev, dma, len, dir)));
    s.env.last = dma;
    const lines: Line[] = [[span(call, 'name'), span(' done')]];
    const ops = cacheOpLines(k.linux);
    lines.push(...ops);
    if (!ops.length) lines.push([span(`  no cache maintenance: ${k.dev.coherent ? `${k.ref.name} is dma-coherent (it snoops the CPU caches)` : 'DMA_TO_DEVICE: the device only read, nothing to invalidate'}`, 'dim')]);
    const copies = sw.bounceLog().filter((b) => b.seq > bounces);
    for (const b of copies) lines.push([span(`  swiotlb bounce: ${b.dir === 'to-device' ? `buffer PA ${hex(b.orig)} -> slot PA ${hex(b.tlb)}` : `slot PA ${hex(b.tlb)} -> buffer PA ${hex(b.orig)}`} (${b.len} bytes, a CPU copy)`)]);
    if (!copies.length && sw.isSwiotlbBuffer(dmaToPhys(k.dev, dma))) lines.push([span(`  swiotlb: no copy (${forCpu ? 'only FROM_DEVICE and BIDIRECTIONAL are copied back' : 'only TO_DEVICE and BIDIRECTIONAL are copied in'})`, 'dim')]);
    const own = ownerLine(k.linux, k.dev, dma);
    if (own) lines.push(own);
    lines.push(...logLines(log));
    return { kind: 'dma-sync', data: { device: k.dev.name, dma, len, dir: dirName(dir), to: forCpu ? 'cpu' : 'device', bounces: copies.length, log }, lines };
  },
};

/** A mapping `dma map` remembered that holds `dma` (the store lives in dma.ts). */
function rememberedAt(linux: Linux, dev: KDevice, dma: u64): { dma: u64; len: number; dir: DmaDirection } | undefined {
  const st = rememberedMaps(linux);
  return st.find((m) => m.dev === dev.name && dma >= m.dma && dma < m.dma + BigInt(m.len));
}

/** Read access to dma.ts's per-kernel store of `dma map` mappings (set by dma.ts). */
export let rememberedMaps: (linux: Linux) => readonly { dev: string; dma: u64; len: number; dir: DmaDirection }[] = () => [];
export function setRememberedMaps(f: typeof rememberedMaps): void {
  rememberedMaps = f;
}

// ---- dma mapping-error ---------------------------------------------------------------

export const dmaMappingErrorCmd: CommandSpec = {
  name: 'dma mapping-error',
  summary: 'dma_mapping_error(DEV, ADDR), as a driver checks a map: 1 for DMA_MAPPING_ERROR; dma-debug records the check',
  help: [
    'A driver must test every address dma_map_single/page returns with dma_mapping_error() before giving it to',
    'the device. With dma-api-debug on, an unmap of a mapping whose address was never checked reports',
    '"device driver failed to check map error" (kernel/dma/debug.c check_unmap).',
  ].join('\n'),
  examples: ['dma mapping-error vda $'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on dma-api-debug=on', 'dma map vda 0x50000000 2048 from_device'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'addr', kind: 'u64', desc: 'the DMA address a map call returned' },
  ],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const addr = a.v.addr as u64;
    const bad = k.linux.dma.mappingError(k.dev, addr);
    return {
      kind: 'dma-mapping-error',
      data: { device: k.dev.name, addr, error: bad ? 1 : 0, debug: k.linux.dma.debug?.enabled ?? false },
      lines: [[span(`dma_mapping_error(${devLabel(k.dev)}, ${hex(addr)}) = `), span(bad ? '1 (DMA_MAPPING_ERROR: the map failed)' : '0', bad ? 'bad' : 'ok')], ...(k.linux.dma.debug?.enabled ? [[span('  dma-debug: the driver checked this mapping', 'dim')] as Line] : [])],
    };
  },
};

// ---- dma map-sg / unmap-sg -----------------------------------------------------------

interface SgMapping {
  dev: string;
  sg: SgEntry[];
  segs: DmaSegment[];
  dir: DmaDirection;
}

class SgStore implements Stateful {
  s: { maps: SgMapping[] } = { maps: [] };
  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as { maps: SgMapping[] });
  }
}
const sgStores = new WeakMap<Linux, SgStore>();
function sgStore(linux: Linux): SgStore {
  let st = sgStores.get(linux);
  if (!st) {
    st = new SgStore();
    sgStores.set(linux, st);
    linux.add('commands:dma-sg', st);
  }
  return st;
}

function parseSgList(text: string, sp: SourceSpan | undefined): SgEntry[] {
  const parts = text.split(',');
  if (parts.length > SG_MAX_ENTRIES) throw new CommandError(`${parts.length} entries: a list holds at most ${SG_MAX_ENTRIES} here (a stated limit)`, sp);
  return parts.map((p) => {
    const m = /^\s*(0x[0-9a-f]+|\d+)\s*:\s*(0x[0-9a-f]+|\d+)([KM]?)\s*$/i.exec(p);
    if (!m) throw new CommandError(`'${p}' is not PA:LEN`, sp, 'entries PA:LEN separated by commas, e.g. 0x50000000:4096,0x50001000:4096');
    const len = Number(m[2]) * (m[3]?.toUpperCase() === 'K' ? 1024 : m[3]?.toUpperCase() === 'M' ? 1 << 20 : 1);
    if (len < 1 || len > 1 << 20) throw new CommandError(`an entry of ${len} bytes: each is 1 byte to 1 MiB here (a stated limit)`, sp);
    return { pa: BigInt(m[1]!), len };
  });
}

export const dmaMapSg: CommandSpec = {
  name: 'dma map-sg',
  summary: 'dma_map_sg(): a scatterlist mapped for a device; iommu-dma merges entries into fewer DMA segments',
  help: [
    'Maps a scatterlist (PA:LEN entries, comma separated) for DEV. dma-direct gives one segment per entry',
    '(each bounced through swiotlb if it must be); iommu-dma puts the whole list into one IOVA range and',
    'merges entries that meet on a page boundary into segments of at most dma_get_max_seg_size() bytes',
    '(__finalise_sg). Prints the nents it returns and each segment. `dma unmap-sg DEV IOVA` releases it.',
  ].join('\n'),
  examples: ['dma map-sg vda 0x50000000:4096,0x50003000:4096,0x50004000:512 to_device'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'list', kind: 'word', desc: 'PA:LEN[,PA:LEN...]' },
    { name: 'dir', kind: 'enum', choices: DIR_CHOICES, desc: 'DMA direction' },
  ],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const sg = parseSgList(a.v.list as string, a.span.list);
    for (const e of sg) {
      const r = s.machine.memory.listRegions().find((x) => x.kind === 'ram' && e.pa >= x.base && e.pa + BigInt(e.len) <= x.base + x.size);
      if (!r) throw new CommandError(`${hex(e.pa)}+${e.len} is not inside RAM`, a.span.list, "entries in RAM ('info mtree')");
    }
    const dir = parseDir(a.v.dir as string);
    k.linux.dma.takeCacheOps();
    const call = `dma_map_sg(${devLabel(k.dev)}, [${sg.length} entries], ${sg.length}, ${dirName(dir)})`;
    const { value: segs, log } = withLog(s, () => k.linux.dma.mapSg(k.dev, sg, dir));
    if (segs.length === 0) throw new CommandError(`${call} = 0 (the map failed)${log.length ? `; the kernel logged: ${log.join(' / ')}` : ''}`, a.all);
    sgStore(k.linux).s.maps.push({ dev: k.dev.name, sg, segs, dir });
    s.env.last = segs[0]!.dma;
    const ops = k.dev.dmaOps === 'iommu' ? 'iommu-dma' : 'dma-direct';
    const lines: Line[] = [[span(`${call} = `), span(String(segs.length), 'num'), span(` segment${segs.length === 1 ? '' : 's'} (${ops}, max segment ${k.linux.dma.dmaGetMaxSegSize(k.dev)} bytes)`)]];
    segs.forEach((g, i) => lines.push([span(`  segment ${i}: DMA `), span(hex(g.dma), 'addr'), span(` + ${g.len}`)]));
    if (ops === 'iommu-dma' && segs.length < sg.length) lines.push([span(`  iommu-dma merged ${sg.length} entries into ${segs.length}: entries that meet on a page boundary become one IOVA-contiguous segment`, 'ok')]);
    lines.push(...cacheOpLines(k.linux), ...logLines(log));
    lines.push([span(`  dma unmap-sg ${k.ref.name} ${hex(segs[0]!.dma)} releases it`, 'dim')]);
    return { kind: 'dma-map-sg', data: { device: k.dev.name, entries: sg, segments: segs, nents: segs.length, ops, dir: dirName(dir), log }, lines };
  },
};

export const dmaUnmapSg: CommandSpec = {
  name: 'dma unmap-sg',
  summary: 'dma_unmap_sg() of a list `dma map-sg` mapped, by its first DMA address',
  help: 'Unmaps the scatterlist whose first segment starts at IOVA (as dma_unmap_sg is given the list and the nents dma_map_sg was given). dir= overrides the direction (dma-debug reports a different one).',
  examples: ['dma unmap-sg vda $'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on', 'dma map-sg vda 0x50000000:4096,0x50001000:4096 to_device'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'iova', kind: 'u64', desc: 'the first segment\'s DMA address' },
  ],
  opts: [{ name: 'dir', kind: 'enum', choices: DIR_CHOICES, desc: 'direction (default: the one it was mapped with)' }],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const dma = a.v.iova as u64;
    const st = sgStore(k.linux);
    const i = st.s.maps.findIndex((m) => m.dev === k.dev.name && m.segs[0]!.dma === dma);
    if (i < 0) throw new CommandError(`no list mapped by 'dma map-sg' starts at ${hex(dma)} for ${k.ref.name}`, a.span.iova, 'the first DMA address dma map-sg printed');
    const m = st.s.maps[i]!;
    const dir = a.v.dir !== undefined ? parseDir(a.v.dir as string) : m.dir;
    k.linux.dma.takeCacheOps();
    const { log } = withLog(s, () => k.linux.dma.unmapSg(k.dev, m.segs, m.sg, dir));
    st.s.maps.splice(i, 1);
    return {
      kind: 'dma-unmap-sg',
      data: { device: k.dev.name, dma, segments: m.segs.length, dir: dirName(dir), log },
      lines: [[span(`dma_unmap_sg(${devLabel(k.dev)}, [${m.sg.length} entries], ${m.sg.length}, ${dirName(dir)})`, 'name'), span(' done')], ...cacheOpLines(k.linux), ...logLines(log)],
    };
  },
};

// ---- dma debug -----------------------------------------------------------------------

export const dmaDebugCmd: CommandSpec = {
  name: 'dma debug',
  summary: 'DMA-API debug (dma-api-debug=on): the mappings it tracks, who owns each, its error count',
  help: [
    'What kernel/dma/debug.c holds (debugfs dma-api/dump and error_count): one entry per live mapping with its',
    'type, device address, size, direction, CPU address and whether dma_mapping_error() was called, plus who owns',
    'a streaming buffer now (the lab\'s ownership check). Boot with dma-api-debug=on (or all) to enable it.',
  ].join('\n'),
  examples: ['dma debug'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on dma-api-debug=on'],
  args: [],
  mutates: false,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const d = linux.dma.debug;
    if (!d || !d.enabled) {
      return { kind: 'dma-debug', data: { enabled: false }, lines: [[span('DMA-API debug is off: boot with dma-api-debug=on (CONFIG_DMA_API_DEBUG=y) to check every DMA API call', 'dim')]] };
    }
    const lines: Line[] = [[span(`DMA-API debug: ${d.entries().length} entries, error_count ${d.errorCount}`, 'head')]];
    for (const e of d.entries()) {
      lines.push(plain(`  ${e.dev} ${e.type.padEnd(14)} device address ${hex(e.devAddr, 16)} size ${String(e.size).padStart(6)} ${dirName(e.dir).padEnd(17)} P=${hex(e.paddr)} ${e.mapErr}${e.type === 'coherent' ? '' : `; owner: ${e.owner}`}`));
    }
    for (const r of d.reports()) lines.push([span(`  reported: ${r.text}`, 'bad')]);
    return { kind: 'dma-debug', data: { enabled: true, errorCount: d.errorCount, entries: d.entries(), reports: d.reports() }, lines };
  },
};

// ---- cpu read / write / cache ---------------------------------------------------------

function cpuRange(s: Session, addr: u64, lenV: u64, sp: { addr?: SourceSpan; len?: SourceSpan }): number {
  if (lenV < 1n || lenV > BigInt(CPU_ACCESS_MAX)) throw new CommandError(`${lenV} bytes: one CPU access covers 1..${CPU_ACCESS_MAX} bytes (a stated limit)`, sp.len, `a length from 1 to ${CPU_ACCESS_MAX}`);
  const r = s.machine.memory.listRegions().find((x) => x.kind === 'ram' && addr >= x.base && addr + lenV <= x.base + x.size);
  if (!r) throw new CommandError(`${hex(addr)}+${lenV} is not inside RAM: the cpu commands load and store normal memory`, sp.addr, 'an address in RAM', "'info mtree' shows the RAM regions");
  return Number(lenV);
}

/** dma-debug's ownership check for a CPU access (when a kernel with it is booted). */
function cpuAccessCheck(s: Session, pa: u64, len: number): string[] {
  const linux = s.system.linux && s.kernel.booted ? s.system.linux : undefined;
  const d = linux?.dma.debug;
  if (!d || !linux) return [];
  return withLog(s, () => d.cpuAccess(pa, len, (n) => linux.device(n))).log;
}

function cacheNote(s: Session): Line {
  const nc = [...s.machine.masters.values()].filter((m) => m.coherent === false).map((m) => m.name);
  return s.machine.cpuCache
    ? [span(`  through the CPU cache (not snooped by ${nc.length ? nc.join(', ') : 'a device'}: no dma-coherent)`, 'dim')]
    : [span('  no cache modelled: every device on this machine is coherent, so what the CPU sees is RAM', 'dim')];
}

export const cpuRead: CommandSpec = {
  name: 'cpu read',
  summary: 'A CPU load of LEN bytes: through the CPU cache when the machine models one (it may be stale)',
  help: [
    'Reads LEN bytes as the CPU does: a line the cache holds is returned from the cache (and an absent line is',
    'filled from RAM), so after a non-coherent device wrote RAM the CPU can see old bytes until the line is',
    'invalidated (dma_sync_single_for_cpu, dma_unmap). `xp` shows RAM itself. expect=BYTE makes the command fail',
    'unless every byte is BYTE (a driver script\'s assertion). With dma-api-debug on, touching a buffer the device',
    'owns is reported.',
  ].join('\n'),
  examples: ['cpu read 0x50000000 16', 'cpu read 0x50000000 64 expect=0'],
  exampleMachine: 'qemu-virt-smmuv3',
  args: [
    { name: 'addr', kind: 'u64', desc: 'physical address (RAM)' },
    { name: 'len', kind: 'u64', desc: `bytes, 1..${CPU_ACCESS_MAX}` },
  ],
  opts: [{ name: 'expect', kind: 'u64', desc: 'fail unless every byte read is this value' }],
  mutates: true,
  run(s, a) {
    const addr = a.v.addr as u64;
    const len = cpuRange(s, addr, a.v.len as u64, a.span);
    const log = cpuAccessCheck(s, addr, len);
    const data = s.machine.cpuRead(addr, len);
    const exp = a.v.expect as u64 | undefined;
    if (exp !== undefined) {
      if (exp > 0xffn) throw new CommandError(`${hex(exp)} is not a byte`, a.span.expect, 'a value from 0 to 0xff');
      const bad = data.findIndex((b) => b !== Number(exp));
      if (bad >= 0) {
        const at = addr + BigInt(bad);
        const ram = s.machine.memory.read(at, 1)[0]!;
        const cached = s.machine.cpuCache?.lineBytes(at) !== undefined;
        const why =
          cached && ram === Number(exp)
            ? 'a stale line: RAM holds the new bytes, the CPU cache an old copy (no dma_sync_single_for_cpu or unmap before the read?)'
            : ram !== Number(exp)
              ? 'RAM does not hold them either: the data never reached this buffer (a swiotlb slot not copied back? the device wrote elsewhere?)'
              : 'the CPU read something else';
        const n = data.filter((b) => b !== Number(exp)).length;
        throw new CommandError(`the CPU read ${hex(data[bad]!, 2)} at ${hex(at)}, expected ${hex(exp, 2)} (${n} of ${len} bytes differ): ${why}${log.length ? `; the kernel logged: ${log.join(' / ')}` : ''}`, a.span.expect);
      }
    }
    const lines: Line[] = [[span(`cpu read: ${len} byte${len === 1 ? '' : 's'} at ${hex(addr)}`, 'head')], ...hexdump(addr, data.subarray(0, SHOW_BYTES)).map((l) => [span('  '), ...l])];
    if (len > SHOW_BYTES) lines.push(plain(`  ... ${len - SHOW_BYTES} more bytes not shown (a stated limit of ${SHOW_BYTES})`));
    lines.push(cacheNote(s), ...logLines(log));
    if (exp !== undefined) lines.push([span(`  every byte is ${hex(exp, 2)}`, 'ok')]);
    return { kind: 'cpu-read', data: { addr, len, bytes: Buffer.from(data).toString('hex'), cached: s.machine.cpuCache !== undefined, log }, lines, focus: { addr, len: Math.min(len, 4096) } };
  },
};

export const cpuWrite: CommandSpec = {
  name: 'cpu write',
  summary: 'A CPU store of BYTE x LEN (a memset): into the CPU cache when the machine models one (dirty lines)',
  help: [
    'Stores LEN bytes of BYTE as the CPU does: with a cache modelled the lines become dirty and RAM keeps its',
    'old bytes until they are cleaned (dma_map / dma_sync_single_for_device on a non-coherent device) or evicted.',
    '`write`/`fill` store to RAM directly (a debugger\'s view). With dma-api-debug on, touching a buffer the',
    'device owns is reported.',
  ].join('\n'),
  examples: ['cpu write 0x50000000 0xab 64'],
  exampleMachine: 'qemu-virt-smmuv3',
  args: [
    { name: 'addr', kind: 'u64', desc: 'physical address (RAM)' },
    { name: 'byte', kind: 'u64', desc: 'the byte value, 0..0xff' },
    { name: 'len', kind: 'u64', desc: `bytes, 1..${CPU_ACCESS_MAX}` },
  ],
  mutates: true,
  run(s, a) {
    const addr = a.v.addr as u64;
    const b = a.v.byte as u64;
    if (b > 0xffn) throw new CommandError(`${hex(b)} is not a byte`, a.span.byte, 'a value from 0 to 0xff');
    const len = cpuRange(s, addr, a.v.len as u64, a.span);
    const log = cpuAccessCheck(s, addr, len);
    s.machine.cpuWrite(addr, new Uint8Array(len).fill(Number(b)));
    const c = s.machine.cpuCache;
    const lines: Line[] = [[span(`cpu write: ${hex(b, 2)} x ${len} at ${hex(addr)}`, 'head')], cacheNote(s)];
    if (c) {
      const held = c.linesIn(addr, len);
      const dirty = held.filter((l) => l.dirty).length;
      if (dirty) lines.push([span(`  ${dirty} dirty line${dirty === 1 ? '' : 's'} now hold the bytes; RAM still has the old ones (xp shows RAM)`, 'warn')]);
      else lines.push([span('  the buffer is mapped non-cacheable (dma_alloc_coherent for a non-coherent device): the store went to RAM', 'dim')]);
    }
    lines.push(...logLines(log));
    return { kind: 'cpu-write', data: { addr, len, byte: b, log }, lines, focus: { addr, len: Math.min(len, 4096) } };
  },
};

export const cpuCacheCmd: CommandSpec = {
  name: 'cpu cache',
  summary: 'The lines the CPU cache holds (64 bytes each): dirty (newer than RAM) or stale (older than RAM)',
  help: [
    'Lists what the CPU data cache (machine/cache.ts: write-back, 64-byte lines) holds, in a range or all of it:',
    'each line\'s address, dirty (the CPU wrote it, RAM is older) or stale (RAM changed under it: a device wrote',
    'there), and where cache and RAM differ. Exists on a machine with a non-coherent device (vda.coherent=no).',
  ].join('\n'),
  examples: ['cpu cache', 'cpu cache 0x50000000 4096'],
  exampleMachine: 'qemu-virt-smmuv3',
  args: [
    { name: 'addr', kind: 'u64', desc: 'physical address', optional: true },
    { name: 'len', kind: 'u64', desc: 'bytes (default 4096)', optional: true },
  ],
  mutates: false,
  run(s, a) {
    const c = s.machine.cpuCache;
    if (!c) return { kind: 'cpu-cache', data: { modelled: false, lines: [] }, lines: [[span('no CPU cache is modelled: every device on this machine is dma-coherent (boot vda.coherent=no for one that is not)', 'dim')]] };
    const addr = (a.v.addr as u64 | undefined) ?? 0n;
    const lenV = (a.v.len as u64 | undefined) ?? (a.v.addr === undefined ? 0n : 4096n);
    const all = a.v.addr === undefined;
    if (!all && (lenV < 1n || lenV > 1n << 24n)) throw new CommandError(`${lenV} bytes: 1 byte to 16 MiB`, a.span.len);
    const held = all ? c.linesIn(0n, 0) : c.linesIn(addr, Number(lenV));
    const rows = all ? allLines(c) : held;
    const lines: Line[] = [[span(`CPU cache: ${c.size} line${c.size === 1 ? '' : 's'} held${all ? '' : `; ${rows.length} in ${hex(addr)}+${lenV}`} (fills ${c.stats.fills}, write-backs ${c.stats.writebacks}, dirty lines dropped ${c.stats.dropped})`, 'head')]];
    for (const r of rows.slice(0, CACHE_LINES_SHOWN)) {
      const cached = c.lineBytes(r.line)!;
      const ram = s.machine.memory.read(r.line, CACHE_LINE);
      const diff = cached.findIndex((b, i) => b !== ram[i]);
      lines.push([
        span(`  line ${hex(r.line, 10)} `),
        span(r.dirty ? 'dirty' : r.stale ? 'stale' : 'clean', r.dirty ? 'warn' : r.stale ? 'bad' : 'ok'),
        span(diff < 0 ? '  same as RAM' : `  cache ${hex(cached[diff]!, 2)} / RAM ${hex(ram[diff]!, 2)} at +${diff}`, 'dim'),
      ]);
    }
    if (rows.length > CACHE_LINES_SHOWN) lines.push(plain(`  ... ${rows.length - CACHE_LINES_SHOWN} more lines (a stated limit of ${CACHE_LINES_SHOWN}; give a range)`));
    return { kind: 'cpu-cache', data: { modelled: true, held: c.size, lines: rows, dirty: rows.filter((r) => r.dirty).length, stale: rows.filter((r) => r.stale).length, stats: { ...c.stats } }, lines };
  },
};

/** Every line the cache holds, in address order. */
function allLines(c: NonNullable<Session['machine']['cpuCache']>): { line: u64; dirty: boolean; stale: boolean }[] {
  const st = c.saveState() as { lines: [number, Uint8Array, boolean][] };
  return st.lines
    .map(([la]) => la)
    .sort((x, y) => x - y)
    .flatMap((la) => c.linesIn(BigInt(la), CACHE_LINE));
}

export const dmaRulesCommands: CommandSpec[] = [dmaSync, dmaMappingErrorCmd, dmaMapSg, dmaUnmapSg, dmaDebugCmd];
export const cpuCommands: CommandSpec[] = [cpuRead, cpuWrite, cpuCacheCmd];
