/**
 * `blk read DEV LBA [COUNT]`: read sectors through the booted virtio-blk
 * driver (kernel/virtio/virtio-blk.ts blkRead): the driver builds a
 * three-descriptor request (header, data, status), maps the buffers through
 * the DMA API or not (vring_use_dma_api), kicks the device and polls the
 * used ring a bounded number of times. The command shows the data, the
 * descriptors as they sit in the ring (the addresses the device was given)
 * and the outcome. It changes the ring and the device's state, so it is an
 * undoable step.
 */
import { type u64, hex } from '../../machine/u64.ts';
import type { PhysicalMemory } from '../../machine/memory.ts';
import { SECTOR_SIZE } from '../../machine/virtio/disk.ts';
import { VIRTQ_DESC_SIZE, decodeDesc } from '../../machine/virtio/ring.ts';
import { VIRTBLK_MAX_SECTORS, VIRTBLK_POLL_LIMIT, blkRead, type BlkRequestInfo } from '../../kernel/virtio/virtio-blk.ts';
import { DMA_DIR_NAMES } from '../../kernel/types.ts';
import { hexdump } from '../../inspect/hexdump.ts';
import { qemuDescFlags } from '../../inspect/virtio.ts';
import { plain, span, table, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import { devLabel, kernelDevice } from '../kernel-device.ts';

/** Bytes of data shown by default (one sector). */
const SHOW_DEFAULT = SECTOR_SIZE;

const ROLE = ['header (virtio_blk_outhdr, 16 bytes)', 'data', 'status byte'];

export const blkReadCommand: CommandSpec = {
  name: 'blk read',
  summary: `Read sectors through the booted virtio-blk driver: data, the descriptors it used, the outcome (at most ${VIRTBLK_MAX_SECTORS} sectors)`,
  help: [
    'Submits one VIRTIO_BLK_T_IN request for COUNT 512-byte sectors (default 1) from LBA, as the driver',
    'does: header, data buffer and status byte in one descriptor chain, each buffer mapped through the',
    "DMA API when the ring uses it (IOVAs) or given by physical address when it does not. The driver",
    `then polls the used ring at most ${VIRTBLK_POLL_LIMIT} times: a device that stopped (after a DMA fault) never`,
    'completes and the outcome is a timeout, where real Linux would wait for ever. Shows the first',
    `${SHOW_DEFAULT} bytes of the data (bytes=N for more), the descriptors as they sit in the ring, and the outcome.`,
  ].join('\n'),
  examples: ['blk read vda 0', 'blk read vda 2048 1', 'blk read vda 4096 2 bytes=1024'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot kernel=4.10-rc'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the virtio-blk device: vda or its PCI address' },
    { name: 'lba', kind: 'u64', desc: 'first 512-byte sector' },
    { name: 'count', kind: 'u64', desc: `number of sectors, 1..${VIRTBLK_MAX_SECTORS} (default 1)`, optional: true },
  ],
  opts: [{ name: 'bytes', kind: 'u64', desc: `how many bytes of the data to show (default ${SHOW_DEFAULT})` }],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const blk = k.linux.disks.list().find((b) => b.vdev.pciName === k.dev.name);
    if (!blk) {
      const p = k.linux.probes.get(k.dev.name);
      throw new CommandError(`${devLabel(k.dev)} has no virtio-blk disk${p && !p.ok ? `: the driver's probe failed (${p.error})` : ''}`, a.span.dev, 'a virtio-blk device the kernel probed', 'info virtio');
    }
    const lba = a.v.lba as u64;
    const countV = (a.v.count as u64 | undefined) ?? 1n;
    if (countV < 1n || countV > BigInt(VIRTBLK_MAX_SECTORS)) {
      throw new CommandError(`${countV} sectors: one request reads 1..${VIRTBLK_MAX_SECTORS} sectors (a stated limit)`, a.span.count, `a count from 1 to ${VIRTBLK_MAX_SECTORS}`);
    }
    const count = Number(countV);
    if (lba + countV > blk.capacity) {
      throw new CommandError(`attempt to access beyond end of device: ${blk.diskName} sectors ${lba}+${count} > ${blk.capacity}`, a.span.lba, `an LBA below ${blk.capacity - countV + 1n}`);
    }
    const total = count * SECTOR_SIZE;
    const showV = (a.v.bytes as u64 | undefined) ?? BigInt(SHOW_DEFAULT);
    const show = Number(showV > BigInt(total) ? BigInt(total) : showV);
    const before = s.kernel.dmesg();
    const lastT = before.length ? before[before.length - 1]!.time : -1;
    const r = blkRead(k.linux.env, k.dev, blk, lba, count);
    const log = s.kernel.dmesg().filter((l) => l.time > lastT).map((l) => l.text);
    if (!r.ok && r.reason === 'range') throw new CommandError(r.error, a.span.lba);
    const lines: Line[] = [[span(`blk read ${blk.diskName} (${k.dev.name}): sectors ${lba}..${lba + countV - 1n} (${total} bytes)`, 'head'), span(` — ring ${blk.vq.useDmaApi ? 'uses the DMA API' : 'bypasses the DMA API (physical addresses)'}`, 'dim')]];
    const req = r.request;
    const descs = req ? descriptorRows(k.linux.env.machine.memory, blk.vq.descPa, blk.vq.num, req) : [];
    if (req) {
      lines.push([span(`  descriptor chain from head ${req.head}, as the device reads it from the ring at ${hex(blk.vq.descPa)}${req.indirect ? ` and the indirect table at ${hex(req.indirect.pa)}` : ''}:`, 'dim')]);
      lines.push(
        ...table(
          [{ header: 'desc' }, { header: 'addr (given to the device)', style: 'addr' }, { header: 'len', align: 'right' }, { header: 'flags' }, { header: 'next', align: 'right' }, { header: 'buffer PA', style: 'addr' }, { header: 'what', style: 'dim' }],
          descs.map((d) => [d.index, hex(d.addr, 16), String(d.len), d.flags.join(',') || '-', d.flags.includes('next') ? String(d.next) : '-', hex(d.pa), `${d.role}${d.mapped ? `, ${d.dir} via the DMA API` : ', physical address'}`]),
          { indent: '    ' },
        ),
      );
    }
    let outcome: string;
    if (r.ok) {
      outcome = 'ok';
      lines.push([span('  outcome: '), span('ok', 'ok'), span(` (VIRTIO_BLK_S_OK after ${r.polls} poll${r.polls === 1 ? '' : 's'} of the used ring)`)]);
      lines.push([span(`  data (offsets on the disk; first ${show} of ${total} bytes):`, 'dim')]);
      lines.push(...hexdump(lba * BigInt(SECTOR_SIZE), r.data.subarray(0, show)).map((l) => [span('  '), ...l]));
      if (show < total) lines.push(plain(`  ... ${total - show} more bytes not shown (bytes=${total} shows them all)`));
    } else {
      outcome = r.reason;
      lines.push([span('  outcome: '), span(r.reason, 'bad'), span(`: ${r.error}`)]);
      if (r.reason === 'timeout') lines.push([span("  the request stays in flight (its descriptors are not reclaimed, mapped buffers stay mapped); 'trace show 5' and 'smmu events' show what the device did", 'dim')]);
    }
    for (const l of log) lines.push([span(`  kernel: ${l}`, 'warn')]);
    return {
      kind: 'blk-read',
      data: {
        device: k.dev.name,
        disk: blk.diskName,
        lba,
        count,
        outcome,
        polls: r.polls ?? null,
        error: r.ok ? null : r.error,
        data: r.ok ? r.data : null,
        request: req ? { head: req.head, hdrPa: req.hdrPa, dataPa: req.dataPa, statusPa: req.statusPa, descs } : null,
        useDmaApi: blk.vq.useDmaApi,
        log,
      },
      lines,
    };
  },
};

interface DescRow {
  /** Ring descriptor index, or "iK" for entry K of an indirect table. */
  index: string;
  addr: u64;
  len: number;
  flags: string[];
  next: number;
  pa: u64;
  mapped: boolean;
  dir: string;
  role: string;
}

/**
 * The chain as it is in the descriptor table now, beside the buffers the
 * driver mapped. An indirect request: the ring's one descriptor (the
 * table), then the table's descriptors ("i0", "i1", ...).
 */
function descriptorRows(mem: PhysicalMemory, descPa: u64, num: number, req: BlkRequestInfo): DescRow[] {
  const out: DescRow[] = [];
  const roleOf = (k: number): string => ROLE[k === 0 ? 0 : k === req.maps.length - 1 ? 2 : 1]!;
  if (req.indirect) {
    const ind = req.indirect;
    const d = decodeDesc(mem.read(descPa + BigInt(VIRTQ_DESC_SIZE * req.head), VIRTQ_DESC_SIZE));
    out.push({ index: String(req.head), addr: d.addr, len: d.len, flags: qemuDescFlags(d.flags), next: d.next, pa: ind.pa, mapped: ind.map.mapped, dir: DMA_DIR_NAMES[ind.map.dir], role: `indirect table (${ind.n} descriptors)` });
    for (let k = 0; k < ind.n && k < req.maps.length; k++) {
      const t = decodeDesc(mem.read(ind.pa + BigInt(VIRTQ_DESC_SIZE * k), VIRTQ_DESC_SIZE));
      const m = req.maps[k]!;
      out.push({ index: `i${k}`, addr: t.addr, len: t.len, flags: qemuDescFlags(t.flags), next: t.next, pa: m.pa, mapped: m.mapped, dir: DMA_DIR_NAMES[m.dir], role: roleOf(k) });
    }
    return out;
  }
  let i = req.head;
  for (let k = 0; k < req.maps.length && k < num; k++) {
    const d = decodeDesc(mem.read(descPa + BigInt(VIRTQ_DESC_SIZE * i), VIRTQ_DESC_SIZE));
    const m = req.maps[k]!;
    out.push({ index: String(i), addr: d.addr, len: d.len, flags: qemuDescFlags(d.flags), next: d.next, pa: m.pa, mapped: m.mapped, dir: DMA_DIR_NAMES[m.dir], role: roleOf(k) });
    i = d.next;
  }
  return out;
}

export const blkCommands: CommandSpec[] = [blkReadCommand];
