/**
 * The virtio-blk driver: linux drivers/block/virtio_blk.c (virtblk_probe,
 * init_vq, virtblk_update_capacity, virtio_queue_rq, virtblk_done), plus
 * the partition scan that device_add_disk starts.
 *
 * A request is three buffers in one chain: the 16-byte header
 * (DMA_TO_DEVICE), the data (DMA_FROM_DEVICE for a read) and the status
 * byte (DMA_FROM_DEVICE). Header and status live in one request structure
 * (Linux struct virtblk_req: out_hdr at +0, status at +16) but are mapped
 * separately, so under an IOMMU they get two IOVAs.
 *
 * Completion: Linux sleeps until the interrupt. The device model works
 * synchronously on the notify, so the driver here polls the used ring a
 * bounded number of times (VIRTBLK_POLL_LIMIT), reading the ISR each time
 * as vp_interrupt would. A device that never completes (it faulted and
 * stopped) makes the poll give up and return 'timeout'; real Linux would
 * wait forever -- seed 000's "system hangs failing to read partition
 * table".
 *
 * Log lines (dmesg), by era:
 *   '6.x' (current virtio_blk.c; the probe-time capacity print arrived
 *   after v4.10 -- exact release unverified; the queue line with poll
 *   queues around v5.19, approximate):
 *     virtio_blk virtio0: 1/0/0 default/read/poll queues
 *     virtio_blk virtio0: [vda] 2097152 512-byte logical blocks (1.07 GB/1.00 GiB)
 *   '4.9' / '4.10-rc' / '4.10': nothing at probe. The v4.x driver printed
 *     the size only from virtblk_config_changed_work, on a resize:
 *     "virtio_blk virtio0: new size: 2097152 512-byte logical blocks (1.07 GB/1.00 GiB)"
 *   every era, from the partition scan (KERN_INFO, leading space included):
 *      vda: vda1 vda2
 */
import { type u64, PAGE_SIZE } from '../../machine/u64.ts';
import type { KDevice } from '../types.ts';
import { featureBit, hasFeature } from '../../machine/virtio/virtio-config.ts';
import {
  VIRTIO_BLK_CFG_BLK_SIZE,
  VIRTIO_BLK_CFG_CAPACITY,
  VIRTIO_BLK_CFG_SEG_MAX,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_CONFIG_WCE,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_GEOMETRY,
  VIRTIO_BLK_F_MQ,
  VIRTIO_BLK_CFG_NUM_QUEUES,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_TOPOLOGY,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from '../../machine/virtio/blk.ts';
import { VIRTIO_ID_BLOCK } from '../../machine/virtio/virtio-config.ts';
import { SECTOR_SIZE } from '../../machine/virtio/disk.ts';
import { virtqueueAddSgs, virtqueueGetBuf, virtqueueKickPrepare, type VringMapping, type VringState } from './virtio-ring.ts';
import { type VirtioDevice, virtioDeviceReady, virtioNegotiate, virtioPciProbe, vpConfigRead, vpNotify, vpReadIsr, vpFindVqs } from './virtio-pci.ts';
import { msdosPartition, type PartitionScan } from './msdos.ts';
import type { VirtioEnv } from './env.ts';
import { clone, type Stateful } from '../../machine/state.ts';

/** Stated limit: used-ring polls before the driver gives up on a request. */
export const VIRTBLK_POLL_LIMIT = 16;
/** Simulated time per poll, microseconds. */
export const VIRTBLK_POLL_US = 1000;
/** Stated limit: sectors in one request of `blk read` / `blk write` (128 KiB). */
export const VIRTBLK_MAX_SECTORS = 256;

/** The driver's feature table (virtio_blk.c features[]), the part the model understands. */
export const VIRTBLK_FEATURES: u64 = [
  VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_GEOMETRY, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_TOPOLOGY, VIRTIO_BLK_F_CONFIG_WCE, VIRTIO_BLK_F_MQ,
].reduce((a, b) => a | featureBit(b), 0n);

/** struct virtio_blk, as plain data. */
export interface VirtioBlk {
  vdev: VirtioDevice;
  /** "vda" */
  diskName: string;
  /** 512-byte sectors (virtio_blk_config.capacity). */
  capacity: u64;
  blkSize: number;
  segMax: number;
  /** req.0, the queue CPU0's requests use (blk-mq maps each CPU to a queue; the lab submits from CPU0). */
  vq: VringState;
  /** req.1 .. req.N-1 with VIRTIO_BLK_F_MQ: set up, never used here. */
  otherVqs: VringState[];
  partitions: PartitionScan | undefined;
  nextToken: number;
  /** Requests given up on (never completed). */
  stalled: number;
}

/** virtblk_name_format("vd", index): vda..vdz, vdaa, ... */
export function virtblkName(index: number): string {
  let s = '';
  let i = index;
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return `vd${s}`;
}

/**
 * string_get_size(size, blk_size, units) from linux lib/string_helpers.c:
 * three significant figures, truncated after rounding the remainder
 * ("1.07 GB", "1.00 GiB").
 */
export function stringGetSize(size: u64, blkSize: u64, units: 2 | 10): string {
  const divisor = units === 10 ? 1000n : 1024n;
  const names = units === 10 ? ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'] : ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];
  const rounding = [500n, 50n, 5n];
  let i = 0;
  let tmp = '';
  if (blkSize === 0n) size = 0n;
  if (size !== 0n) {
    // Napier's algorithm: keep both factors under 32 bits so the product fits.
    while (blkSize >> 32n) {
      blkSize /= divisor;
      i++;
    }
    while (size >> 32n) {
      size /= divisor;
      i++;
    }
    size *= blkSize;
    let remainder = 0n;
    while (size >= divisor) {
      remainder = size % divisor;
      size /= divisor;
      i++;
    }
    let sf = size;
    let j = 0;
    for (; sf * 10n < 1000n; j++) sf *= 10n;
    if (units === 2) remainder = (remainder * 1000n) >> 10n;
    remainder += rounding[j] ?? 0n;
    if (remainder >= 1000n) {
      remainder -= 1000n;
      size += 1n;
    }
    if (j) tmp = '.' + remainder.toString().padStart(3, '0').slice(0, j);
  }
  return `${size}${tmp} ${i >= names.length ? 'UNK' : names[i]}`;
}

/** The capacity line: current format with `[vda]`, or the 2017 resize-time wording. */
export function capacityLine(vdevName: string, disk: string, capacity: u64, lbs: number, resize = false): string {
  const nblocks = (capacity + BigInt(lbs >> 9) - 1n) / BigInt(lbs >> 9);
  return `virtio_blk ${vdevName}: [${disk}] ${resize ? 'new size: ' : ''}${nblocks} ${lbs}-byte logical blocks (${stringGetSize(nblocks, BigInt(lbs), 10)}/${stringGetSize(nblocks, BigInt(lbs), 2)})`;
}

export interface VirtblkProbeOptions {
  /** virtio bus index: virtio0, virtio1 ... */
  virtioIndex: number;
  /** Disk index: 0 -> vda. */
  diskIndex: number;
  /** Run the partition scan (device_add_disk). Default true. */
  scanPartitions?: boolean;
}

export type VirtblkProbeResult =
  | { ok: true; blk: VirtioBlk; scan: ScanResult | undefined }
  | { ok: false; error: string; vdev?: VirtioDevice };

export interface BlkRequestInfo {
  head: number;
  /** Physical addresses the driver used ... */
  hdrPa: u64;
  dataPa: u64;
  statusPa: u64;
  /** ... and what went into the descriptors (DMA addresses or the same PAs). */
  maps: VringMapping[];
  /** The indirect table, when the request went into one (VIRTIO_RING_F_INDIRECT_DESC). */
  indirect?: { pa: u64; n: number; map: VringMapping };
}

export type BlkIoResult =
  | { ok: true; data: Uint8Array; polls: number; request: BlkRequestInfo }
  | { ok: false; reason: 'range' | 'enospc' | 'ioerr' | 'unsupp' | 'timeout' | 'broken'; error: string; polls?: number; request?: BlkRequestInfo };

export type ScanResult = { ok: true; scan: PartitionScan } | { ok: false; io: BlkIoResult & { ok: false } };

/**
 * virtblk_probe: transport probe, feature negotiation, the request queue,
 * the config (capacity, blk_size, seg_max), DRIVER_OK, the capacity line,
 * then the partition scan.
 */
export function virtblkProbe(env: VirtioEnv, kdev: KDevice, opts: VirtblkProbeOptions): VirtblkProbeResult {
  const p = virtioPciProbe(env, kdev, opts.virtioIndex);
  if (!p.ok) return { ok: false, error: p.error };
  const vdev = p.value;
  if (vdev.id.device !== VIRTIO_ID_BLOCK) return { ok: false, error: `virtio device ID ${vdev.id.device} is not a block device`, vdev };
  kdev.alias = virtblkName(opts.diskIndex);
  const n = virtioNegotiate(env, vdev, VIRTBLK_FEATURES, 'virtio_blk');
  if (!n.ok) return { ok: false, error: n.error, vdev };
  // init_vq: num_queues from the config with VIRTIO_BLK_F_MQ (else 1), at most nr_cpu_ids; all default
  // queues (no read or poll queues). Requests here come from CPU0, so they use req.0.
  let nvqs = hasFeature(vdev.features, VIRTIO_BLK_F_MQ) ? Number(vpConfigRead(env, vdev, VIRTIO_BLK_CFG_NUM_QUEUES, 2)) : 1;
  if (nvqs === 0) {
    env.kernel.log('err', `virtio_blk ${vdev.name}: MQ advertised but zero queues reported`);
    return { ok: false, error: '-EINVAL: zero queues', vdev };
  }
  nvqs = Math.min(nvqs, env.machine.info.cpus);
  if (env.config.era === '6.x') env.kernel.log('info', `virtio_blk ${vdev.name}: ${nvqs}/0/0 default/read/poll queues`);
  const qs = vpFindVqs(env, kdev, vdev, Array.from({ length: nvqs }, (_, i) => `req.${i}`));
  if (!qs.ok) {
    env.kernel.log('err', `virtio_blk ${vdev.name}: probe of ${vdev.name} failed: ${qs.error}`);
    return { ok: false, error: qs.error, vdev };
  }
  const q = { ok: true as const, value: qs.value[0]! };
  const capacity = vpConfigRead(env, vdev, VIRTIO_BLK_CFG_CAPACITY, 8);
  const blkSize = hasFeature(vdev.features, VIRTIO_BLK_F_BLK_SIZE) ? Number(vpConfigRead(env, vdev, VIRTIO_BLK_CFG_BLK_SIZE, 4)) : SECTOR_SIZE;
  const segMax = hasFeature(vdev.features, VIRTIO_BLK_F_SEG_MAX) ? Number(vpConfigRead(env, vdev, VIRTIO_BLK_CFG_SEG_MAX, 4)) : 1;
  const blk: VirtioBlk = { vdev, diskName: kdev.alias, capacity, blkSize, segMax, vq: q.value, otherVqs: qs.value.slice(1), partitions: undefined, nextToken: 1, stalled: 0 };
  if (env.config.era === '6.x') env.kernel.log('notice', capacityLine(vdev.name, blk.diskName, capacity, blkSize));
  virtioDeviceReady(env, vdev);
  const scan = opts.scanPartitions === false ? undefined : virtblkScanPartitions(env, kdev, blk);
  return { ok: true, blk, scan };
}

/**
 * The partition scan device_add_disk starts: read the first page of the
 * disk (the page cache reads sector 0 as part of page 0: 8 sectors), parse
 * the MBR, print the partition line. An I/O error prints " vda: unable to
 * read partition table"; a request that never completes prints nothing
 * (Linux would still be waiting).
 */
export function virtblkScanPartitions(env: VirtioEnv, kdev: KDevice, blk: VirtioBlk): ScanResult {
  const sectors = Math.min(PAGE_SIZE / SECTOR_SIZE, Number(blk.capacity));
  const r = blkRead(env, kdev, blk, 0n, sectors);
  if (!r.ok) {
    if (r.reason !== 'timeout') env.kernel.log('info', ` ${blk.diskName}: unable to read partition table`);
    return { ok: false, io: r };
  }
  const scan = msdosPartition(blk.diskName, r.data, blk.capacity);
  blk.partitions = scan;
  if (scan.line) env.kernel.log('info', scan.line);
  for (const w of scan.warnings) env.kernel.log('warn', w);
  return { ok: true, scan };
}

/** One request: header + data + status, kick, bounded poll. */
function submit(env: VirtioEnv, kdev: KDevice, blk: VirtioBlk, type: number, sector: u64, dataLen: number, dataDir: 'in' | 'out', fill?: Uint8Array): BlkIoResult {
  const mem = env.machine.memory;
  const req = env.pages.alloc(1);
  const dataPages = Math.max(1, Math.ceil(dataLen / PAGE_SIZE));
  const data = dataLen ? env.pages.alloc(dataPages) : 0n;
  mem.write32(req, type);
  mem.write32(req + 4n, 0); // ioprio
  mem.write64(req + 8n, sector);
  if (fill) mem.write(data, fill);
  const hdr = { pa: req, len: 16 };
  const status = { pa: req + 16n, len: 1 };
  const buf = dataLen ? [{ pa: data, len: dataLen }] : [];
  const token = blk.nextToken++;
  const add = virtqueueAddSgs(env, kdev, blk.vq, dataDir === 'out' ? [hdr, ...buf] : [hdr], dataDir === 'in' ? [...buf, status] : [status], token);
  const free = (): void => {
    env.pages.free(req, 1);
    if (dataLen) env.pages.free(data, dataPages);
  };
  if (!add.ok) {
    free();
    return { ok: false, reason: add.error.startsWith('-EIO') ? 'broken' : 'enospc', error: add.error };
  }
  const inflight = blk.vq.inflight[add.value]!;
  const request: BlkRequestInfo = { head: add.value, hdrPa: req, dataPa: data, statusPa: req + 16n, maps: inflight.maps.map((m) => ({ ...m })) };
  if (inflight.indirect) request.indirect = { pa: inflight.indirect.pa, n: inflight.indirect.n, map: { ...inflight.indirect.map } };
  if (virtqueueKickPrepare(env, blk.vq)) vpNotify(env, blk.vdev, blk.vq.index);
  for (let polls = 1; polls <= VIRTBLK_POLL_LIMIT; polls++) {
    env.kernel.tick(VIRTBLK_POLL_US);
    // INTx: vp_interrupt reads the ISR (which acknowledges it); with MSI-X, vring_interrupt runs directly.
    if (!blk.vdev.transport.msixEnabled) vpReadIsr(env, blk.vdev);
    for (;;) {
      const g = virtqueueGetBuf(env, kdev, blk.vq);
      if (!g.ok) return { ok: false, reason: 'broken', error: `virtio_blk ${blk.vdev.name}: ${g.error}`, polls, request };
      if (!g.value) break;
      if (g.value.token !== token) continue; // an older request finally completed
      const st = mem.read8(status.pa);
      const out = dataDir === 'in' && dataLen ? mem.read(data, dataLen) : new Uint8Array(0);
      free();
      if (st === VIRTIO_BLK_S_OK) return { ok: true, data: out, polls, request };
      const reason = st === VIRTIO_BLK_S_UNSUPP ? 'unsupp' : 'ioerr';
      if (reason === 'ioerr') {
        // blk_print_req_error (current) / blk_update_request (2017); both printk_ratelimited at KERN_ERR.
        env.kernel.log('err', env.config.era === '6.x'
          ? `I/O error, dev ${blk.diskName}, sector ${sector} op 0x${dataDir === 'out' ? 1 : 0}:(${dataDir === 'out' ? 'WRITE' : 'READ'}) flags 0x0 phys_seg 1 prio class 0`
          : `blk_update_request: I/O error, dev ${blk.diskName}, sector ${sector}`);
      }
      return { ok: false, reason, error: `device returned status ${st} (${reason === 'unsupp' ? 'VIRTIO_BLK_S_UNSUPP' : 'VIRTIO_BLK_S_IOERR'})`, polls, request };
    }
  }
  // Give up. The buffers stay mapped and allocated: the request is still in flight.
  blk.stalled++;
  return {
    ok: false,
    reason: 'timeout',
    error: `request ${token} to ${blk.diskName} never completed after ${VIRTBLK_POLL_LIMIT} polls of the used ring (the device stopped; see the DMA trace). Real Linux waits forever here.`,
    polls: VIRTBLK_POLL_LIMIT,
    request,
  };
}

function checkRange(blk: VirtioBlk, lba: u64, count: number): BlkIoResult | undefined {
  if (count < 1 || count > VIRTBLK_MAX_SECTORS) return { ok: false, reason: 'range', error: `count must be 1..${VIRTBLK_MAX_SECTORS} sectors` };
  if (lba < 0n || lba + BigInt(count) > blk.capacity) {
    return { ok: false, reason: 'range', error: `attempt to access beyond end of device: ${blk.diskName} sectors ${lba}+${count} > ${blk.capacity}` };
  }
  return undefined;
}

/** `blk read`: read `count` 512-byte sectors from `lba` (VIRTIO_BLK_T_IN). */
export function blkRead(env: VirtioEnv, kdev: KDevice, blk: VirtioBlk, lba: u64, count: number): BlkIoResult {
  return checkRange(blk, lba, count) ?? submit(env, kdev, blk, VIRTIO_BLK_T_IN, lba, count * SECTOR_SIZE, 'in');
}

/** `blk write`: write whole sectors at `lba` (VIRTIO_BLK_T_OUT). */
export function blkWrite(env: VirtioEnv, kdev: KDevice, blk: VirtioBlk, lba: u64, data: Uint8Array): BlkIoResult {
  if (data.length === 0 || data.length % SECTOR_SIZE) return { ok: false, reason: 'range', error: `writes are whole 512-byte sectors; got ${data.length} bytes` };
  if (hasFeature(blk.vdev.features, VIRTIO_BLK_F_RO)) return { ok: false, reason: 'ioerr', error: `${blk.diskName} is read-only (VIRTIO_BLK_F_RO)` };
  return checkRange(blk, lba, data.length / SECTOR_SIZE) ?? submit(env, kdev, blk, VIRTIO_BLK_T_OUT, lba, data.length, 'out', data);
}

/** The serial (VIRTIO_BLK_T_GET_ID, what /sys/block/vda/serial shows). */
export function virtblkGetId(env: VirtioEnv, kdev: KDevice, blk: VirtioBlk): { ok: true; id: string } | { ok: false; error: string } {
  const r = submit(env, kdev, blk, VIRTIO_BLK_T_GET_ID, 0n, VIRTIO_BLK_ID_BYTES, 'in');
  if (!r.ok) return { ok: false, error: r.error };
  const nul = r.data.indexOf(0);
  return { ok: true, id: new TextDecoder().decode(r.data.subarray(0, nul < 0 ? r.data.length : nul)) };
}

/**
 * The probed virtio-blk disks, as one Stateful component for the kernel
 * model (register it with the kernel's components). The functions above
 * mutate the VirtioBlk objects in place, so after restoreState holders
 * must look disks up again by name rather than keep references.
 */
export class VirtioBlkDisks implements Stateful {
  private s: { disks: VirtioBlk[] } = { disks: [] };

  add(b: VirtioBlk): VirtioBlk {
    this.s.disks.push(b);
    return b;
  }
  /** By disk name ("vda"). */
  get(name: string): VirtioBlk | undefined {
    return this.s.disks.find((d) => d.diskName === name);
  }
  list(): readonly VirtioBlk[] {
    return this.s.disks;
  }
  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as { disks: VirtioBlk[] });
  }
}
