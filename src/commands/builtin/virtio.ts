/**
 * `info virtio`, `info virtio-queue-status DEV Q`, `info virtio-queue-element
 * DEV Q [IDX]`: virtio devices from both sides. `info virtio` puts the
 * device (transport, offered features, status, where its DMA goes) beside
 * the driver (negotiated features, whether its ring uses the DMA API and
 * which clause of vring_use_dma_api() decided, the ring addresses it
 * programmed, the disk's partition line). The other two print what QEMU's
 * HMP commands of the same names print (hw/virtio/virtio-hmp-cmds.c
 * hmp_virtio_queue_status / hmp_virtio_queue_element), field for field,
 * from inspect/virtio.ts; lines after QEMU's block say where the
 * addresses lead in this machine.
 */
import { dmaOpsName } from '../kernel-device.ts';
import { type u64, hex } from '../../machine/u64.ts';
import { formatBdf } from '../../machine/pci.ts';
import { VirtioPciDevice } from '../../machine/virtio/virtio-pci.ts';
import type { Linux } from '../../kernel/linux.ts';
import type { KDevice } from '../../kernel/types.ts';
import type { VirtioBlk } from '../../kernel/virtio/virtio-blk.ts';
import { qemuPath, virtioQueueElement, virtioQueueStatus, virtioStatus, type VirtQueueStatusInfo } from '../../inspect/virtio.ts';
import { plain, span, styled, table, type Line } from '../../inspect/view.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';
import { findDevice } from '../devices.ts';

const hexFeatures = (f: u64): string => hex(f, 16);

/** DEV as a virtio PCI function, or an error at its span. */
export function findVirtio(s: Session, text: string, sp: SourceSpan | undefined): VirtioPciDevice {
  const d = findDevice(s, text, sp);
  if (!(d.pci instanceof VirtioPciDevice)) {
    const names = s.machine.pciFunctions().filter((f) => f instanceof VirtioPciDevice).map((f) => f.name);
    throw new CommandError(`${d.name} is not a virtio device`, sp, names.length ? `a virtio device: ${names.join(', ')}` : 'a virtio device, but this machine has none');
  }
  return d.pci;
}

/** The kernel's side of a virtio PCI function: its struct device and the virtio-blk disk on it. */
export function virtioKernelSide(linux: Linux | undefined, dev: VirtioPciDevice): { kdev?: KDevice; blk?: VirtioBlk; probe?: ReturnType<Linux['probes']['get']> } {
  if (!linux) return {};
  const kdev = linux.devices.find((d) => d.pci === dev);
  if (!kdev) return {};
  // The disks are looked up afresh (restoreState replaces the objects).
  const blk = linux.disks.list().find((b) => b.vdev.pciName === kdev.name);
  return { kdev, blk, probe: linux.probes.get(kdev.name) };
}

const transportOf = (dev: VirtioPciDevice): 'legacy' | 'modern' | 'transitional' => (dev.legacy && dev.modern ? 'transitional' : dev.legacy ? 'legacy' : 'modern');

export const infoVirtio: CommandSpec = {
  name: 'info virtio',
  summary: 'Each virtio device: transport, features, status, DMA path, whether its ring uses the DMA API, ring addresses, disk',
  help: [
    'For every virtio PCI function, the device\'s side (transport: legacy, modern or transitional; the',
    'features it offers; its status bits; what its DMA goes through: an IOMMU with its StreamID, or',
    'straight to memory) beside the booted driver\'s side (the features negotiated; whether the ring',
    'uses the DMA API and the clause of vring_use_dma_api() that decided it; each queue\'s ring',
    'addresses as the driver programmed them: DMA addresses (IOVAs) or physical addresses; and the',
    'disk\'s partition line, or why there is none).',
  ].join('\n'),
  examples: ['info virtio'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot'],
  args: [],
  mutates: false,
  run(s) {
    const linux = s.kernel.booted ? s.system.linux : undefined;
    const devs = s.machine.pciFunctions().filter((f): f is VirtioPciDevice => f instanceof VirtioPciDevice);
    const lines: Line[] = [];
    const data: unknown[] = [];
    for (const dev of devs) {
      const st = virtioStatus(dev);
      const side = virtioKernelSide(linux, dev);
      const m = dev.dmaMaster;
      const transport = transportOf(dev);
      const vdev = side.blk?.vdev ?? (side.probe && !side.probe.ok ? side.probe.vdev : undefined);
      const vq = side.blk?.vq;
      const rows: [string, string][] = [];
      rows.push(['pci', `${formatBdf(dev.bdf)} [${hex(dev.vendorId, 4).slice(2)}:${hex(dev.deviceId, 4).slice(2)}], RID ${hex(dev.rid, 4)}`]);
      rows.push(['transport', `${transport}${vdev ? `; the driver uses its ${vdev.transport.mode} interface` : ''}`]);
      const hidden = st.host_features.filter((n) => !st.offered_features.includes(n));
      rows.push(['device features', `${hexFeatures(dev.offeredFeatures())}  ${st.offered_features.join(' ')}${hidden.length ? ` (QEMU also holds ${hidden.join(' ')}, which this interface does not show)` : ''}`]);
      rows.push(['driver features', `${hexFeatures(dev.guestFeatures)}  ${st.guest_features.join(' ') || '(none)'}${dev.legacy && !dev.modern ? ' (a legacy interface has only 32 feature bits)' : ''}`]);
      rows.push(['status', `${hex(dev.status, 2)}  ${st.status.join('|') || '0 (reset)'}`]);
      if (s.diagnosis) rows.push(['DMA path', 'not shown in diagnosis mode (a running kernel cannot see it)']);
      else rows.push(['DMA path', m.path === 'translated' ? `translated by ${m.iommu?.name ?? '?'} (${m.iommu?.kind ?? '?'}), StreamID ${hex(m.sid)}` : 'bypass: its bus addresses reach memory untranslated (guest-physical)']);
      if (side.kdev) {
        rows.push(['kernel', `${side.kdev.name}${side.kdev.alias ? ` (${side.kdev.alias})` : ''}: ${side.kdev.iommuName ? `behind ${side.kdev.iommuName}, group ${side.kdev.group ?? '-'}` : 'no IOMMU'}, DMA ops ${dmaOpsName(linux, side.kdev)}`]);
      }
      if (vq) rows.push(['ring DMA API', `${vq.useDmaApi ? 'yes' : 'no'}: ${vq.rule}`]);
      else rows.push(['ring DMA API', linux ? (side.probe && !side.probe.ok ? `no ring: the probe failed (${side.probe.error})` : 'no driver bound') : 'the kernel has not booted']);
      const queues: unknown[] = [];
      for (let q = 0; q < dev.numQueues; q++) {
        const qs = dev.queueState(q)!;
        const drv = vq && vq.index === q ? vq : undefined;
        const kind = drv ? (drv.useDmaApi ? 'DMA addresses from the DMA API' : 'physical addresses') : 'bus addresses';
        if (!qs.enabled && !drv) {
          rows.push([`queue ${q}`, `not set up (${qs.numMax} entries offered)`]);
        } else {
          // The driver's ring layout alignment (Linux: 4096 legacy, SMP_CACHE_BYTES = 64 modern); QEMU's own vring_align is in info virtio-queue-status.
          rows.push([`queue ${q}${drv ? ` (${drv.name})` : ''}`, `${qs.num} entries, align ${drv ? drv.align : qs.align}: desc ${hex(qs.desc)} avail ${hex(qs.avail)} used ${hex(qs.used)} (${kind}, as programmed)`]);
          if (drv) rows.push(['', `ring memory at PA ${hex(drv.pa)} (${drv.allocator}, ${drv.allocBytes} bytes): desc ${hex(drv.descPa)} avail ${hex(drv.availPa)} used ${hex(drv.usedPa)}; avail.idx at ${hex(qs.avail + 2n)}`]);
          rows.push(['', `device: last_avail_idx ${qs.lastAvailIdx}, used_idx ${qs.usedIdx}, inuse ${qs.inuse}`]);
        }
        queues.push({
          index: q,
          name: drv?.name,
          num: qs.num,
          align: qs.align,
          enabled: qs.enabled,
          desc: qs.desc,
          avail: qs.avail,
          used: qs.used,
          availIdxAddr: qs.avail + 2n,
          addrKind: drv ? (drv.useDmaApi ? 'dma' : 'physical') : 'bus',
          ringPa: drv ? { base: drv.pa, desc: drv.descPa, avail: drv.availPa, used: drv.usedPa, allocator: drv.allocator } : null,
          lastAvailIdx: qs.lastAvailIdx,
          usedIdx: qs.usedIdx,
          inuse: qs.inuse,
        });
      }
      let disk: unknown = null;
      if (side.blk) {
        const b = side.blk;
        const scan = side.probe?.ok ? side.probe.scan : undefined;
        const why = b.partitions?.line ? `"${b.partitions.line}"` : scan && !scan.ok ? (scan.io.reason === 'timeout' ? `no partition line: the partition-table read never completed (${scan.io.polls ?? 0} polls; the device stopped)` : `no partition line: ${scan.io.error}`) : 'no partition line';
        rows.push(['disk', `${b.diskName}: ${b.capacity} sectors of 512 bytes; ${why}`]);
        disk = { name: b.diskName, capacity: b.capacity, partitions: b.partitions?.line ?? null, scanError: scan && !scan.ok ? { reason: scan.io.reason, error: scan.io.error } : null, stalled: b.stalled };
      }
      if (st.broken) rows.push(['broken', `yes: ${st.broken_reason}`]);
      if (st.last_fault) rows.push(['last fault', `queue ${st.last_fault.queue} ${st.last_fault.what} at ${st.last_fault.addr}: ${st.last_fault.fault}`]);
      lines.push([span(dev.name, 'head'), span(`: ${st.device_name} (device id ${st.device_id}), ${transport}`)]);
      lines.push(...table([{ header: '', style: 'name' }, { header: '' }], rows, { header: false, indent: '  ' }));
      data.push({
        name: dev.name,
        bdf: formatBdf(dev.bdf),
        deviceName: st.device_name,
        deviceId: st.device_id,
        transport,
        driverInterface: vdev?.transport.mode ?? null,
        hostFeatures: dev.hostFeatures(),
        hostFeatureNames: st.host_features,
        guestFeatures: dev.guestFeatures,
        guestFeatureNames: st.guest_features,
        status: dev.status,
        statusNames: st.status,
        dmaPath: { path: m.path, iommu: m.path === 'translated' ? m.iommu?.name : undefined, sid: m.sid },
        kernel: side.kdev ? { device: side.kdev.name, alias: side.kdev.alias, dmaOps: side.kdev.dmaOps, group: side.kdev.group, iommu: side.kdev.iommuName } : null,
        ring: vq ? { useDmaApi: vq.useDmaApi, rule: vq.rule } : null,
        queues,
        disk,
        broken: st.broken ? st.broken_reason : null,
        lastFault: st.last_fault ?? null,
      });
    }
    if (!devs.length) lines.push(plain(`${s.system.preset.name} has no virtio devices`));
    return { kind: 'virtio', data: { booted: linux !== undefined, devices: data }, lines };
  },
};

function queueArg(dev: VirtioPciDevice, q: u64, sp: SourceSpan | undefined): number {
  if (q >= BigInt(dev.numQueues)) throw new CommandError(`Invalid virtqueue number ${q}`, sp, `a queue of ${dev.name}: 0${dev.numQueues > 1 ? `..${dev.numQueues - 1}` : ''}`);
  return Number(q);
}

export const infoVirtioQueueStatus: CommandSpec = {
  name: 'info virtio-queue-status',
  summary: "A virtqueue's device-side state, as QEMU's HMP info virtio-queue-status prints it",
  help: [
    "QEMU's fields: inuse (chains taken, not yet returned), used_idx, signalled_used, last_avail_idx",
    '(the next avail entry the device takes), shadow_avail_idx (the avail.idx it last read), and the',
    'VRing addresses as the driver gave them: bus addresses, i.e. IOVAs when the driver used the DMA',
    'API under an IOMMU, guest-physical addresses otherwise. QEMU names the device by its QOM path.',
  ].join('\n'),
  examples: ['info virtio-queue-status vda 0', 'info virtio-queue-status vda 0 show=layout'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on'],
  args: [
    { name: 'dev', kind: 'device', desc: 'a virtio device: vda or its PCI address' },
    { name: 'queue', kind: 'u64', desc: 'queue index' },
  ],
  opts: [{ name: 'show', kind: 'enum', choices: ['layout'], desc: "layout: draw the split ring's three areas with their addresses, sizes and fields" }],
  mutates: false,
  run(s, a) {
    const dev = findVirtio(s, a.v.dev as string, a.span.dev);
    const q = queueArg(dev, a.v.queue as u64, a.span.queue);
    const r = virtioQueueStatus(dev, q);
    if (!r.ok) throw new CommandError(r.error, a.span.queue);
    const v = r.value;
    const x16 = (n: u64): string => `0x${n.toString(16).padStart(16, '0')}`;
    const lines: Line[] = [
      `${v.path}:`,
      `  device_name:          ${v.name}`,
      `  queue_index:          ${v.queue_index}`,
      `  inuse:                ${v.inuse}`,
      `  used_idx:             ${v.used_idx}`,
      `  signalled_used:       ${v.signalled_used}`,
      `  signalled_used_valid: ${v.signalled_used_valid ? 'true' : 'false'}`,
      `  last_avail_idx:       ${v.last_avail_idx}`,
      `  shadow_avail_idx:     ${v.shadow_avail_idx}`,
      '  VRing:',
      `    num:          ${v.vring_num}`,
      `    num_default:  ${v.vring_num_default}`,
      `    align:        ${v.vring_align}`,
      `    desc:         ${x16(v.vring_desc)}`,
      `    avail:        ${x16(v.vring_avail)}`,
      `    used:         ${x16(v.vring_used)}`,
    ].map((t) => plain(t));
    if (a.v.show === 'layout') lines.push(...ringLayout(dev, v));
    return { kind: 'virtio-queue-status', data: v, lines };
  },
};

/** VIRTIO_RING_F_EVENT_IDX (virtio spec 2.7.10): adds used_event after avail.ring and avail_event after used.ring. */
const VIRTIO_RING_F_EVENT_IDX = 29n;

/**
 * The split ring drawn (virtio spec 2.7, "Split Virtqueues"): descriptor
 * table 16 bytes per entry; available ring flags, idx, ring[num] (le16) and
 * used_event; used ring flags, idx, ring[num] of {id le32, len le32} and
 * avail_event; the legacy interface lays them out in one block with the
 * used ring aligned to 4096 (QUEUE_PFN), the modern one takes three addresses.
 */
function ringLayout(dev: VirtioPciDevice, v: VirtQueueStatusInfo): Line[] {
  const num = v.vring_num;
  const ev = ((dev.guestFeatures >> VIRTIO_RING_F_EVENT_IDX) & 1n) === 1n;
  const descSize = 16n * BigInt(num);
  const availSize = 4n + 2n * BigInt(num) + (ev ? 2n : 0n);
  const usedSize = 4n + 8n * BigInt(num) + (ev ? 2n : 0n);
  const row = (addr: u64, mark: string, what: string, style?: 'dim'): Line => [span(`  ${hex(addr, 16)} `, 'addr'), span(`${mark} `, 'dim'), span(what, style)];
  const lines: Line[] = [plain(''), [span(`ring layout: split virtqueue, ${num} entries${ev ? ', VIRTIO_RING_F_EVENT_IDX negotiated' : ''} (bus addresses, as the device was given them)`, 'head')]];
  lines.push(row(v.vring_desc, '┬', `descriptor table   ${num} x 16 = ${descSize} bytes: addr le64, len le32, flags le16, next le16`));
  const gap1 = v.vring_avail - (v.vring_desc + descSize);
  if (v.vring_avail !== v.vring_desc + descSize) lines.push(row(v.vring_desc + descSize, '│', gap1 > 0n && gap1 < 0x10000n ? `(${gap1} bytes not used)` : '(the available ring is elsewhere)', 'dim'));
  lines.push(row(v.vring_avail, '┼', `available ring     4 + ${num} x 2${ev ? ' + 2' : ''} = ${availSize} bytes: flags, idx (device last read ${v.shadow_avail_idx}), ring[${num}]${ev ? ', used_event' : ''}`));
  const availEnd = v.vring_avail + availSize;
  const gap2 = v.vring_used - availEnd;
  if (v.vring_used !== availEnd) lines.push(row(availEnd, '│', gap2 > 0n && gap2 < 0x10000n ? `(padding: ${gap2} bytes up to the used ring's alignment, 4096 on the legacy interface, the driver's choice on the modern one: Linux takes 64)` : '(the used ring is elsewhere)', 'dim'));
  lines.push(row(v.vring_used, '┼', `used ring          4 + ${num} x 8${ev ? ' + 2' : ''} = ${usedSize} bytes: flags, idx (now ${v.used_idx}), ring[${num}] of {id le32, len le32}${ev ? ', avail_event' : ''}`));
  const end = v.vring_used + usedSize;
  const total = v.vring_used >= v.vring_desc && end - v.vring_desc < 0x100000n ? ` (${end - v.vring_desc} bytes from the descriptor table)` : '';
  lines.push(row(end, '┴', `end${total}`, 'dim'));
  return lines;
}

export const infoVirtioQueueElement: CommandSpec = {
  name: 'info virtio-queue-element',
  summary: "One element of a virtqueue (its descriptor chain), as QEMU's HMP info virtio-queue-element prints it",
  help: [
    'The chain at avail ring index IDX (default: last_avail_idx, the next one the device will take),',
    "read from the ring in memory through the device's DMA path without side effects: the head",
    "(QEMU's `index`), each descriptor's addr, len and flags, and the avail/used ring headers. The",
    "lines after QEMU's block say which physical page each descriptor address reaches.",
  ].join('\n'),
  examples: ['info virtio-queue-element vda 0', 'info virtio-queue-element vda 0 0'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on'],
  args: [
    { name: 'dev', kind: 'device', desc: 'a virtio device: vda or its PCI address' },
    { name: 'queue', kind: 'u64', desc: 'queue index' },
    { name: 'index', kind: 'u64', desc: 'avail ring index (default last_avail_idx)', optional: true },
  ],
  mutates: false,
  run(s, a) {
    const dev = findVirtio(s, a.v.dev as string, a.span.dev);
    const q = queueArg(dev, a.v.queue as u64, a.span.queue);
    const idxArg = a.v.index as u64 | undefined;
    if (idxArg !== undefined && idxArg > 0xffffn) throw new CommandError(`index ${idxArg} is not a 16-bit ring index`, a.span.index, 'an index 0..65535');
    const r = virtioQueueElement(s.machine, dev, q, idxArg === undefined ? undefined : Number(idxArg));
    if (!r.ok) throw new CommandError(r.error, idxArg !== undefined ? a.span.index : a.span.queue);
    const e = r.value;
    const out: string[] = [`${qemuPath(dev)}:`, `  device_name: ${e.name}`, `  index:   ${e.index}`, '  desc:', '    descs:'];
    e.descs.forEach((d, i) => {
      out.push(`        addr 0x${d.addr.toString(16)} len ${d.len}${d.flags.length ? ` (${d.flags.join(', ')})` : ''}${i < e.descs.length - 1 ? ',' : ''}`);
    });
    out.push('  avail:', `    flags: ${e.avail.flags}`, `    idx:   ${e.avail.idx}`, `    ring:  ${e.avail.ring}`, '  used:', `    flags: ${e.used.flags}`, `    idx:   ${e.used.idx}`);
    const lines: Line[] = out.map((t) => plain(t));
    const m = dev.dmaMaster;
    const qs = dev.queueState(q)!;
    const at = idxArg === undefined ? qs.lastAvailIdx : Number(idxArg);
    const toAvail = (e.avail.idx - at) & 0xffff;
    const fromLast = (at - qs.lastAvailIdx) & 0xffff;
    const state =
      toAvail === 0 || toAvail > qs.num
        ? `not made available: avail.idx is ${e.avail.idx}, so the slot holds whatever an earlier request left there`
        : fromLast < toAvail
          ? 'available and not yet taken by the device'
          : `already taken by the device (its last_avail_idx is ${qs.lastAvailIdx}); a completed request's buffers may be unmapped by now`;
    lines.push(styled(`(avail index ${at}, slot ${e.avail_slot}: ${state})`, 'dim'));
    lines.push(styled(`(descriptor addresses now, through ${dev.name}'s DMA path, ${m.path === 'translated' ? `${m.iommu?.name} StreamID ${hex(m.sid)}` : 'bypass'}:)`, 'dim'));
    for (const d of e.descs) lines.push([span(`  ${hex(d.addr)} -> `, 'dim'), d.pa !== undefined ? span(`PA ${hex(d.pa)}`, 'addr') : span(d.note ?? 'does not resolve', 'bad')]);
    if (e.truncated) lines.push(styled(`(${e.truncated})`, 'warn'));
    return { kind: 'virtio-queue-element', data: e, lines };
  },
};

/**
 * `info dma-2x2 [DEV]`: lesson 01's board, live. Two questions decide what a
 * virtio ring's addresses do: does the driver hand out IOVAs (the ring uses
 * the DMA API) or physical addresses, and does the device's DMA go through
 * the IOMMU or around it. The command marks the cell this machine is in and
 * says what the device did there (from the model's record of its last
 * fault and the partition-table read).
 */
export const infoDma2x2: CommandSpec = {
  name: 'info dma-2x2',
  summary: "Lesson 01's 2x2, live: IOVAs or physical addresses x translated or bypassing DMA, and what this machine did",
  help: [
    "Rows: what the driver gives the device (IOVAs from the DMA API, or physical addresses); columns: where",
    "the device's DMA goes (through its IOMMU, or around it). The cell this machine is in is marked, with",
    'what happened there: the partition table read (works), an IOMMU fault, a bus error, or a read that',
    'found the wrong memory and no fault (silent). Before boot, or without a ring, there is no cell yet.',
  ].join('\n'),
  examples: ['info dma-2x2', 'info dma-2x2 vda'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot'],
  args: [{ name: 'dev', kind: 'device', desc: 'a virtio device (default: the first)', optional: true }],
  mutates: false,
  run(s, a) {
    const devs = s.machine.pciFunctions().filter((f): f is VirtioPciDevice => f instanceof VirtioPciDevice);
    const dev = a.v.dev === undefined ? devs[0] : findVirtio(s, a.v.dev as string, a.span.dev);
    if (!dev) throw new CommandError(`${s.system.preset.name} has no virtio devices`, a.span.dev);
    const linux = s.kernel.booted ? s.system.linux : undefined;
    const side = virtioKernelSide(linux, dev);
    const vq = side.blk?.vq;
    const st = virtioStatus(dev);
    const path = dev.dmaMaster.path;
    const row = vq ? (vq.useDmaApi ? 'iova' : 'physical') : undefined;
    const fault = st.last_fault?.fault ?? '';
    const outcome = !vq ? 'no ring yet' : side.blk?.partitions?.line ? 'works: the partition table was read' : /^bus:/.test(fault) ? 'bus error: nothing answers at that address' : fault ? `${dev.dmaMaster.iommu?.kind === 'vtd' ? 'DMAR' : 'SMMU'} fault: ${fault.split(': ')[1] ?? fault}` : side.blk?.stalled ? 'silent: no fault, the device read the wrong memory and found no work' : 'nothing has happened yet';
    const cell = (r: 'iova' | 'physical', c: 'translated' | 'bypass', text: string): string => `${row === r && path === c ? '▶ ' : '  '}${text}`.padEnd(46);
    const iommu = dev.dmaMaster.iommu?.name ?? 'the IOMMU';
    const lines: Line[] = [
      [span(`${dev.name}: who gives the ring its addresses x where the device's DMA goes`, 'head')],
      plain(`${''.padEnd(24)}${`translated by ${iommu}`.padEnd(46)}bypasses the IOMMU`),
      plain(`${'IOVAs (DMA API)'.padEnd(22)}${cell('iova', 'translated', 'works')}${cell('iova', 'bypass', 'bus error (a hole) or silent (RAM)')}`.trimEnd()),
      plain(`${'physical addresses'.padEnd(22)}${cell('physical', 'translated', 'an IOMMU fault')}${cell('physical', 'bypass', 'works')}`.trimEnd()),
      [span('  this machine: ', 'dim'), span(row ? `${row === 'iova' ? 'IOVAs' : 'physical addresses'}, ${path === 'translated' ? 'translated' : 'bypass'}` : linux ? 'no virtio ring (no driver bound)' : 'not booted'), span(` -> ${outcome}`, /^works/.test(outcome) ? 'ok' : /fault|error|silent/.test(outcome) ? 'bad' : 'dim')],
    ];
    return { kind: 'dma-2x2', data: { device: dev.name, addresses: row ?? null, path, outcome }, lines };
  },
};

export const virtioCommands: CommandSpec[] = [infoVirtio, infoVirtioQueueStatus, infoVirtioQueueElement, infoDma2x2];
