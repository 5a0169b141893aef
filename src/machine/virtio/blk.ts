/**
 * virtio-blk (VIRTIO_ID_BLOCK 2) on PCI: QEMU's virtio-blk-pci with one
 * request queue, backed by a DiskImage.
 *
 * Sources: virtio spec 1.x 5.2 "Block Device"; linux
 * include/uapi/linux/virtio_blk.h (feature bits, struct virtio_blk_config,
 * request types and status); QEMU hw/block/virtio-blk.c
 * (virtio_blk_get_features, virtio_blk_update_config,
 * virtio_blk_handle_request); REFERENCE.md 7.6.
 *
 * Queue size: 256, QEMU's `queue-size` default since 5.0 (hw_compat_4_2
 * pins 128 for older machine types; 2017-era QEMU hard-coded 128). Use
 * `queueSize: 128` for a 2017 machine.
 *
 * Request (one chain): a 16-byte device-readable header {le32 type, le32
 * ioprio, le64 sector}, data buffers (device-writable for IN), and a final
 * device-writable status byte. The device reads the header and OUT data
 * and writes IN data and the status through its DMA path, each access
 * traced as 'blk hdr', 'blk data', 'blk status'.
 */
import { type u64 } from '../u64.ts';
import type { Machine } from '../machine.ts';
import { clone } from '../state.ts';
import { VIRTIO_ID_BLOCK, VIRTIO_F_ANY_LAYOUT, featureBit } from './virtio-config.ts';
import { PCI_CLASS_STORAGE_SCSI, PCI_DEVICE_ID_VIRTIO_BLOCK } from './virtio-pci-regs.ts';
import { VirtioPciDevice, type VirtioPciOptions, type VirtqElement } from './virtio-pci.ts';
import type { SplitRing } from './ring.ts';
import { type DiskImage, SECTOR_SIZE } from './disk.ts';

// ---- feature bits (virtio_blk.h) ---------------------------------------------------
export const VIRTIO_BLK_F_BARRIER = 0; // legacy
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_GEOMETRY = 4;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_SCSI = 7; // legacy
export const VIRTIO_BLK_F_FLUSH = 9; // legacy name VIRTIO_BLK_F_WCE
export const VIRTIO_BLK_F_WCE = VIRTIO_BLK_F_FLUSH;
export const VIRTIO_BLK_F_TOPOLOGY = 10;
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
export const VIRTIO_BLK_F_MQ = 12;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;
export const VIRTIO_BLK_F_LIFETIME = 15;
export const VIRTIO_BLK_F_SECURE_ERASE = 16;

export const VIRTIO_BLK_FEATURE_NAMES: Record<number, string> = {
  0: 'VIRTIO_BLK_F_BARRIER', 1: 'VIRTIO_BLK_F_SIZE_MAX', 2: 'VIRTIO_BLK_F_SEG_MAX', 4: 'VIRTIO_BLK_F_GEOMETRY',
  5: 'VIRTIO_BLK_F_RO', 6: 'VIRTIO_BLK_F_BLK_SIZE', 7: 'VIRTIO_BLK_F_SCSI', 9: 'VIRTIO_BLK_F_FLUSH',
  10: 'VIRTIO_BLK_F_TOPOLOGY', 11: 'VIRTIO_BLK_F_CONFIG_WCE', 12: 'VIRTIO_BLK_F_MQ', 13: 'VIRTIO_BLK_F_DISCARD',
  14: 'VIRTIO_BLK_F_WRITE_ZEROES', 15: 'VIRTIO_BLK_F_LIFETIME', 16: 'VIRTIO_BLK_F_SECURE_ERASE',
};

// ---- requests (virtio_blk.h) --------------------------------------------------------
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_SCSI_CMD = 2; // legacy
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_GET_LIFETIME = 10;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_T_SECURE_ERASE = 14;
/** Legacy barrier flag ORed into the type. */
export const VIRTIO_BLK_T_BARRIER = 0x8000_0000;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;
/** Bytes of the device ID string returned by GET_ID. */
export const VIRTIO_BLK_ID_BYTES = 20;
/** struct virtio_blk_outhdr size. */
export const VIRTIO_BLK_OUTHDR_SIZE = 16;

export const VIRTIO_BLK_T_NAMES: Record<number, string> = {
  0: 'IN', 1: 'OUT', 2: 'SCSI_CMD', 4: 'FLUSH', 8: 'GET_ID', 10: 'GET_LIFETIME', 11: 'DISCARD', 13: 'WRITE_ZEROES', 14: 'SECURE_ERASE',
};

// ---- struct virtio_blk_config offsets (virtio_blk.h) -----------------------------
export const VIRTIO_BLK_CFG_CAPACITY = 0; // le64, 512-byte sectors
export const VIRTIO_BLK_CFG_SIZE_MAX = 8; // le32
export const VIRTIO_BLK_CFG_SEG_MAX = 12; // le32
export const VIRTIO_BLK_CFG_GEOMETRY = 16; // le16 cylinders, u8 heads, u8 sectors
export const VIRTIO_BLK_CFG_BLK_SIZE = 20; // le32
export const VIRTIO_BLK_CFG_PHYSICAL_BLOCK_EXP = 24; // u8
export const VIRTIO_BLK_CFG_ALIGNMENT_OFFSET = 25; // u8
export const VIRTIO_BLK_CFG_MIN_IO_SIZE = 26; // le16
export const VIRTIO_BLK_CFG_OPT_IO_SIZE = 28; // le32
export const VIRTIO_BLK_CFG_WCE = 32; // u8 writeback
export const VIRTIO_BLK_CFG_NUM_QUEUES = 34; // le16
/** Bytes of config shown: up to num_queues (QEMU's minimum config size; no discard/write-zeroes fields). */
export const VIRTIO_BLK_CFG_SIZE = 36;

export interface VirtioBlkOptions extends VirtioPciOptions {
  disk: DiskImage;
  /** QEMU queue-size (default 256; 128 before QEMU 5.0). */
  queueSize?: number;
  /**
   * QEMU num-queues (default 1 here). Since QEMU 5.2 virtio-blk-pci picks one
   * per vCPU when unset (virtio_pci_optimal_num_queues) and then defaults
   * `vectors` to num-queues + 1; the QEMU 7.2 presets pass both.
   */
  numQueues?: number;
}

/** One completed request, kept for the inspector (bounded). */
export interface BlkRequestRecord {
  queue: number;
  head: number;
  type: number;
  sector: u64;
  bytes: number;
  status: number;
}

interface BlkState {
  wce: number;
  requests: BlkRequestRecord[];
}

type HandleResult = { len: number } | undefined;

const le = (b: Uint8Array, off: number, n: number, v: u64 | number): void => {
  let x = BigInt(v);
  for (let i = 0; i < n; i++) {
    b[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
};

export class VirtioBlkDevice extends VirtioPciDevice {
  /** Stated limit: completed requests kept for `info` (oldest dropped). */
  static readonly REQUEST_LOG = 64;
  readonly disk: DiskImage;
  readonly queueSize: number;
  private b: BlkState = { wce: 1, requests: [] };
  private cfgBytes: Uint8Array;

  constructor(machine: Machine, opts: VirtioBlkOptions) {
    const qs = opts.queueSize ?? 256;
    if (qs < 2 || qs > 1024 || (qs & (qs - 1)) !== 0) throw new Error(`${opts.name}: queue-size=${qs} must be a power of two between 2 and 1024`);
    const nq = opts.numQueues ?? 1;
    if (nq < 1 || nq > 64) throw new Error(`${opts.name}: num-queues=${nq} must be 1..64`);
    super(machine, opts, { id: VIRTIO_ID_BLOCK, legacyDeviceId: PCI_DEVICE_ID_VIRTIO_BLOCK, classCode: PCI_CLASS_STORAGE_SCSI, queueSizes: new Array(nq).fill(qs) });
    this.disk = opts.disk;
    this.queueSize = qs;
    this.cfgBytes = this.buildConfig();
  }

  /**
   * QEMU virtio_blk_update_config. Geometry follows QEMU's LBA guess for a
   * disk without a CHS hint (16 heads, 63 sectors) -- approximate,
   * **unverified** against hw/block/hd-geometry.c for every size.
   */
  private buildConfig(): Uint8Array {
    const c = new Uint8Array(VIRTIO_BLK_CFG_SIZE);
    le(c, VIRTIO_BLK_CFG_CAPACITY, 8, this.disk.capacity);
    le(c, VIRTIO_BLK_CFG_SIZE_MAX, 4, 0);
    // seg-max-adjust=on (QEMU >= 5.0): seg_max = queue size - 2 (header and status take two).
    le(c, VIRTIO_BLK_CFG_SEG_MAX, 4, this.queueSize - 2);
    const cyl = Number(this.disk.capacity / (16n * 63n));
    le(c, VIRTIO_BLK_CFG_GEOMETRY, 2, Math.min(cyl, 65535));
    c[VIRTIO_BLK_CFG_GEOMETRY + 2] = 16;
    c[VIRTIO_BLK_CFG_GEOMETRY + 3] = 63;
    le(c, VIRTIO_BLK_CFG_BLK_SIZE, 4, SECTOR_SIZE);
    le(c, VIRTIO_BLK_CFG_NUM_QUEUES, 2, this.numQueues);
    return c;
  }

  /**
   * QEMU virtio_blk_get_features with default properties: SEG_MAX, GEOMETRY,
   * TOPOLOGY, BLK_SIZE, CONFIG_WCE, and FLUSH (WCE: write cache on by
   * default). Not offered here although QEMU >= 4.0 does: DISCARD and
   * WRITE_ZEROES (not modelled).
   */
  protected deviceFeatures(): u64 {
    let f = 0n;
    for (const b of [VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_GEOMETRY, VIRTIO_BLK_F_TOPOLOGY, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_CONFIG_WCE, VIRTIO_BLK_F_FLUSH]) f |= featureBit(b);
    // hw/block/virtio-blk.c virtio_blk_get_features: MQ when num_queues > 1.
    if (this.numQueues > 1) f |= featureBit(VIRTIO_BLK_F_MQ);
    return f;
  }

  /** A legacy-only device (no VERSION_1): QEMU clears ANY_LAYOUT and offers VIRTIO_BLK_F_SCSI. */
  protected override adjustFeatures(f: u64): u64 {
    if (this.modern) return f;
    return (f & ~featureBit(VIRTIO_F_ANY_LAYOUT)) | featureBit(VIRTIO_BLK_F_SCSI);
  }

  protected deviceConfigSize(): number {
    return VIRTIO_BLK_CFG_SIZE;
  }
  protected deviceConfigRead(off: number): number {
    if (off === VIRTIO_BLK_CFG_WCE) return this.b.wce;
    return this.cfgBytes[off] ?? 0;
  }
  /** Only `writeback` is writable (CONFIG_WCE). */
  protected deviceConfigWrite(off: number, byte: number): void {
    if (off === VIRTIO_BLK_CFG_WCE) this.b.wce = byte ? 1 : 0;
  }

  /** Completed requests, oldest first. */
  requests(): readonly BlkRequestRecord[] {
    return this.b.requests;
  }

  /**
   * On notify: take up to `num` chains (a stated bound: no more can be
   * outstanding), handle each, put it on the used ring, then interrupt once.
   */
  protected handleQueue(q: number, ring: SplitRing): void {
    let done = 0;
    const bound = ring.addrs.num;
    for (let n = 0; n < bound; n++) {
      const p = this.pop(q, ring);
      if (p.kind === 'stop') return;
      if (p.kind === 'empty') break;
      const r = this.handleRequest(q, ring, p.elem);
      if (!r) return;
      if (!this.push(q, ring, p.elem, r.len)) return;
      done++;
    }
    if (done) this.notifyUsed(q, ring);
  }

  /** Read `len` bytes starting `skip` bytes into the device-readable buffers. */
  private gather(q: number, ring: SplitRing, segs: VirtqElement['out'], skip: number, len: number, what: string): Uint8Array | undefined {
    const out = new Uint8Array(len);
    let pos = 0;
    let off = 0;
    for (const s of segs) {
      if (pos >= len) break;
      const segEnd = off + s.len;
      if (segEnd > skip) {
        const from = Math.max(skip, off) - off;
        const n = Math.min(s.len - from, len - pos);
        const r = ring.readBuffer(s.addr + BigInt(from), n, what);
        if (!r.ok) return void this.dataFault(q, r);
        out.set(r.value, pos);
        pos += n;
      }
      off = segEnd;
    }
    return out;
  }

  /** Write `data` into the device-writable buffers from their start. */
  private scatter(q: number, ring: SplitRing, segs: VirtqElement['in'], data: Uint8Array, what: string): boolean {
    let pos = 0;
    for (const s of segs) {
      if (pos >= data.length) break;
      const n = Math.min(s.len, data.length - pos);
      const r = ring.writeBuffer(s.addr, data.subarray(pos, pos + n), what);
      if (!r.ok) {
        this.dataFault(q, r);
        return false;
      }
      pos += n;
    }
    return true;
  }

  /** QEMU virtio_blk_handle_request, for the request types modelled. */
  private handleRequest(q: number, ring: SplitRing, elem: VirtqElement): HandleResult {
    const outLen = elem.out.reduce((a, s) => a + s.len, 0);
    const inLen = elem.in.reduce((a, s) => a + s.len, 0);
    if (outLen < VIRTIO_BLK_OUTHDR_SIZE) return void this.virtioError(q, 'virtio-blk missing headers');
    if (inLen < 1) return void this.virtioError(q, 'virtio-blk request inhdr too short');
    const hdr = this.gather(q, ring, elem.out, 0, VIRTIO_BLK_OUTHDR_SIZE, 'blk hdr');
    if (!hdr) return undefined;
    const hv = new DataView(hdr.buffer);
    const type = hv.getUint32(0, true) & ~VIRTIO_BLK_T_BARRIER;
    const sector = hv.getBigUint64(8, true);

    // The status byte is the last byte of the writable buffers; data is what comes before.
    const dataIn: VirtqElement['in'] = [];
    let left = inLen - 1;
    for (const s of elem.in) {
      if (left <= 0) break;
      const n = Math.min(s.len, left);
      dataIn.push({ addr: s.addr, len: n });
      left -= n;
    }
    const last = elem.in[elem.in.length - 1]!;
    const statusAddr = last.addr + BigInt(last.len - 1);
    const dataInLen = inLen - 1;
    const dataOutLen = outLen - VIRTIO_BLK_OUTHDR_SIZE;

    let status = VIRTIO_BLK_S_OK;
    let bytes = 0;
    const rangeOk = (n: number): boolean => n % SECTOR_SIZE === 0 && this.disk.inRange(sector, n / SECTOR_SIZE);
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        bytes = dataInLen;
        if (!rangeOk(bytes)) status = VIRTIO_BLK_S_IOERR;
        else if (bytes && !this.scatter(q, ring, dataIn, this.disk.read(sector, bytes / SECTOR_SIZE), 'blk data')) return undefined;
        break;
      }
      case VIRTIO_BLK_T_OUT: {
        bytes = dataOutLen;
        if (!rangeOk(bytes)) status = VIRTIO_BLK_S_IOERR;
        else if (bytes) {
          const data = this.gather(q, ring, elem.out, VIRTIO_BLK_OUTHDR_SIZE, bytes, 'blk data');
          if (!data) return undefined;
          this.disk.write(sector, data);
        }
        break;
      }
      case VIRTIO_BLK_T_FLUSH:
        break;
      case VIRTIO_BLK_T_GET_ID: {
        // QEMU: copy the serial and its NUL, at most VIRTIO_BLK_ID_BYTES and the buffer size.
        const id = new TextEncoder().encode(this.disk.serial + '\0');
        bytes = Math.min(id.length, dataInLen, VIRTIO_BLK_ID_BYTES);
        if (bytes && !this.scatter(q, ring, dataIn, id.subarray(0, bytes), 'blk id')) return undefined;
        break;
      }
      default:
        status = VIRTIO_BLK_S_UNSUPP;
    }
    const st = ring.writeBuffer(statusAddr, new Uint8Array([status]), 'blk status');
    if (!st.ok) return void this.dataFault(q, st);
    this.b.requests.push({ queue: q, head: elem.head, type, sector, bytes, status });
    if (this.b.requests.length > VirtioBlkDevice.REQUEST_LOG) this.b.requests.shift();
    // QEMU virtqueue_push(req->in_len): the whole writable size, status included.
    return { len: inLen };
  }

  protected saveDeviceState(): unknown {
    return { b: clone(this.b), disk: this.disk.saveState() };
  }
  protected restoreDeviceState(s: unknown): void {
    const st = s as { b: BlkState; disk: unknown };
    this.b = clone(st.b);
    this.disk.restoreState(st.disk);
  }
}

