/**
 * The split virtqueue as it lies in memory, and the device's accessors to it.
 *
 * Sources: virtio spec 1.x 2.7 "Split Virtqueues" (split-ring.tex); linux
 * include/uapi/linux/virtio_ring.h (struct vring_desc, vring_avail,
 * vring_used, vring_init, vring_size, vring_need_event); REFERENCE.md 7.2.
 *
 *   descriptor table: N x 16 bytes, align 16
 *     +0 le64 addr   +8 le32 len   +12 le16 flags   +14 le16 next
 *   available ring (driver -> device): 6 + 2N bytes, align 2
 *     +0 le16 flags  +2 le16 idx   +4 le16 ring[N]   +4+2N le16 used_event
 *   used ring (device -> driver): 6 + 8N bytes, align 4
 *     +0 le16 flags  +2 le16 idx   +4 {le32 id, le32 len}[N]   +4+8N le16 avail_event
 *
 * Legacy transports put the three parts in one contiguous block: the avail
 * ring right after the descriptors, the used ring at the next `align`
 * boundary (4096 for legacy virtio-pci). Linux allocates the same single
 * block for modern devices too, with align SMP_CACHE_BYTES (64).
 *
 * Addresses here are *bus addresses*, what the device was told: guest
 * physical addresses when the driver bypasses the DMA API, IOVAs when it
 * uses it. Every access goes through Machine.dmaRead/dmaWrite with the
 * device's DmaMaster, so it is translated (or not) and traced, labelled
 * with `what` ("avail.idx", "desc[3]").
 */
import { type u64, alignUp } from '../u64.ts';
import type { Layout } from '../fields.ts';
import type { Machine } from '../machine.ts';
import type { DmaMaster } from '../dma.ts';
import type { DmaFault } from '../trace.ts';

// ---- flags (virtio_ring.h) ----------------------------------------------------
/** This descriptor continues via the `next` field. */
export const VRING_DESC_F_NEXT = 1;
/** Device-writable buffer (otherwise device-readable). */
export const VRING_DESC_F_WRITE = 2;
/** The buffer holds a table of indirect descriptors. */
export const VRING_DESC_F_INDIRECT = 4;
/** avail.flags: the driver does not want an interrupt when buffers are used. */
export const VRING_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags: the device does not want a notification when buffers are added. */
export const VRING_USED_F_NO_NOTIFY = 1;

export const VIRTQ_DESC_SIZE = 16;
export const VIRTQ_USED_ELEM_SIZE = 8;
/** Largest split queue the spec allows (queue size is a power of two up to 32768). */
export const VIRTQ_MAX_SIZE_SPEC = 32768;

// ---- sizes and offsets ----------------------------------------------------------
export const vringDescSize = (num: number): number => VIRTQ_DESC_SIZE * num;
export const vringAvailSize = (num: number): number => 6 + 2 * num;
export const vringUsedSize = (num: number): number => 6 + VIRTQ_USED_ELEM_SIZE * num;

const alignN = (v: number, a: number): number => Math.ceil(v / a) * a;

/**
 * Linux vring_size(num, align) (include/uapi/linux/virtio_ring.h):
 * ALIGN(16N + 2(3 + N), align) + 6 + 8N. The used ring is not padded.
 */
export const vringSize = (num: number, align: number): number => alignN(vringDescSize(num) + vringAvailSize(num), align) + vringUsedSize(num);

/**
 * The spec's legacy "virtq_size" total (2.7.2 legacy interfaces): both parts
 * rounded up to Queue Align. Bigger than Linux's vring_size; offsets agree.
 * (The spec prints its ALIGN macro wrongly; this is the intended rounding.)
 */
export const specLegacyQueueSize = (num: number, align: number): number =>
  alignN(vringDescSize(num) + vringAvailSize(num), align) + alignN(vringUsedSize(num), align);

export interface VringLayout {
  desc: u64;
  avail: u64;
  used: u64;
  /** vring_size(num, align) bytes from desc. */
  size: number;
}

/** Linux vring_init(): the three parts of a contiguous ring at `base`. */
export function vringLayout(base: u64, num: number, align: number): VringLayout {
  const avail = base + BigInt(vringDescSize(num));
  const used = alignUp(avail + BigInt(vringAvailSize(num)), BigInt(align));
  return { desc: base, avail, used, size: vringSize(num, align) };
}

/** Offsets of the fields inside the avail / used rings (spec 2.7.6, 2.7.8). */
export const availIdxOffset = 2;
export const availRingOffset = (i: number): number => 4 + 2 * i;
export const usedEventOffset = (num: number): number => 4 + 2 * num;
export const usedIdxOffset = 2;
export const usedRingOffset = (i: number): number => 4 + VIRTQ_USED_ELEM_SIZE * i;
export const availEventOffset = (num: number): number => 4 + VIRTQ_USED_ELEM_SIZE * num;

/**
 * vring_need_event(event_idx, new_idx, old_idx) from virtio_ring.h: with
 * EVENT_IDX, notify/interrupt only if event_idx lies in [old, new).
 */
export const vringNeedEvent = (eventIdx: number, newIdx: number, oldIdx: number): boolean =>
  ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);

// ---- records as data ----------------------------------------------------------

/** struct vring_desc / virtq_desc: two little-endian 64-bit words. */
export const VIRTQ_DESC_LAYOUT: Layout = {
  name: 'virtq_desc',
  words: 2,
  source: 'virtio spec 2.7.5 The Virtqueue Descriptor Table; linux include/uapi/linux/virtio_ring.h struct vring_desc',
  fields: [
    { name: 'addr', word: 0, hi: 63, lo: 0, desc: 'buffer bus address (guest-physical, or an IOVA when the driver used the DMA API)' },
    { name: 'len', word: 1, hi: 31, lo: 0, desc: 'buffer length in bytes' },
    { name: 'flags', word: 1, hi: 47, lo: 32, desc: 'NEXT 1, WRITE 2 (device writes), INDIRECT 4' },
    { name: 'next', word: 1, hi: 63, lo: 48, desc: 'index of the next descriptor when NEXT is set' },
  ],
};

/** struct vring_used_elem / virtq_used_elem: one 64-bit word. */
export const VIRTQ_USED_ELEM_LAYOUT: Layout = {
  name: 'virtq_used_elem',
  words: 1,
  source: 'virtio spec 2.7.8 The Virtqueue Used Ring; linux include/uapi/linux/virtio_ring.h struct vring_used_elem',
  fields: [
    { name: 'id', word: 0, hi: 31, lo: 0, desc: 'head index of the used descriptor chain' },
    { name: 'len', word: 0, hi: 63, lo: 32, desc: 'bytes the device wrote into the chain' },
  ],
};

export interface VirtqDesc {
  addr: u64;
  len: number;
  flags: number;
  next: number;
}

export function decodeDesc(b: Uint8Array): VirtqDesc {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { addr: v.getBigUint64(0, true), len: v.getUint32(8, true), flags: v.getUint16(12, true), next: v.getUint16(14, true) };
}

export function encodeDesc(d: VirtqDesc): Uint8Array {
  const b = new Uint8Array(VIRTQ_DESC_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, d.addr, true);
  v.setUint32(8, d.len, true);
  v.setUint16(12, d.flags, true);
  v.setUint16(14, d.next, true);
  return b;
}

export const descFlagNames = (f: number): string[] => {
  const out: string[] = [];
  if (f & VRING_DESC_F_NEXT) out.push('NEXT');
  if (f & VRING_DESC_F_WRITE) out.push('WRITE');
  if (f & VRING_DESC_F_INDIRECT) out.push('INDIRECT');
  return out;
};

// ---- the device's accessors ---------------------------------------------------

/** Where the device believes the ring is: bus addresses, as programmed. */
export interface VringAddrs {
  num: number;
  desc: u64;
  avail: u64;
  used: u64;
}

export type RingResult<T> = { ok: true; value: T } | { ok: false; fault: DmaFault; at: u64; what: string };

const le = (n: number, v: number | bigint): Uint8Array => {
  const b = new Uint8Array(n);
  let x = BigInt(v);
  for (let i = 0; i < n; i++) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b;
};

/**
 * The device side of one split ring. Each accessor is one DMA transaction
 * through the device's path; a fault comes back as a value (the device
 * model then stops the queue: it never retries in a loop).
 */
export class SplitRing {
  constructor(
    private readonly machine: Machine,
    private readonly master: DmaMaster,
    readonly addrs: VringAddrs,
  ) {}

  private readU(addr: u64, n: 2 | 4 | 8 | 16, what: string): RingResult<Uint8Array> {
    const r = this.machine.dmaRead(this.master, addr, n, what);
    return r.ok ? { ok: true, value: r.data } : { ok: false, fault: r.fault, at: r.at, what };
  }

  private read16(addr: u64, what: string): RingResult<number> {
    const r = this.readU(addr, 2, what);
    return r.ok ? { ok: true, value: r.value[0]! | (r.value[1]! << 8) } : r;
  }

  private write(addr: u64, data: Uint8Array, what: string): RingResult<void> {
    const r = this.machine.dmaWrite(this.master, addr, data, what);
    return r.ok ? { ok: true, value: undefined } : { ok: false, fault: r.fault, at: r.at, what };
  }

  /** Descriptor i of the queue's table. */
  readDesc(i: number): RingResult<VirtqDesc> {
    return this.readDescAt(this.addrs.desc, i, `desc[${i}]`);
  }

  /** Descriptor i of an indirect table at `table`. */
  readIndirectDesc(table: u64, i: number): RingResult<VirtqDesc> {
    return this.readDescAt(table, i, `indirect desc[${i}]`);
  }

  private readDescAt(table: u64, i: number, what: string): RingResult<VirtqDesc> {
    const r = this.readU(table + BigInt(VIRTQ_DESC_SIZE * i), 16, what);
    return r.ok ? { ok: true, value: decodeDesc(r.value) } : r;
  }

  availFlags(): RingResult<number> {
    return this.read16(this.addrs.avail, 'avail.flags');
  }
  availIdx(): RingResult<number> {
    return this.read16(this.addrs.avail + BigInt(availIdxOffset), 'avail.idx');
  }
  /** avail.ring[i % num]: the head of a chain the driver made available. */
  availRing(i: number): RingResult<number> {
    const slot = i % this.addrs.num;
    return this.read16(this.addrs.avail + BigInt(availRingOffset(slot)), `avail.ring[${slot}]`);
  }
  usedEvent(): RingResult<number> {
    return this.read16(this.addrs.avail + BigInt(usedEventOffset(this.addrs.num)), 'avail.used_event');
  }

  /** used.ring[i % num] = {id, len}. */
  usedSetElem(i: number, id: number, len: number): RingResult<void> {
    const slot = i % this.addrs.num;
    const b = new Uint8Array(8);
    b.set(le(4, id), 0);
    b.set(le(4, len), 4);
    return this.write(this.addrs.used + BigInt(usedRingOffset(slot)), b, `used.ring[${slot}]`);
  }
  usedSetIdx(v: number): RingResult<void> {
    return this.write(this.addrs.used + BigInt(usedIdxOffset), le(2, v & 0xffff), 'used.idx');
  }
  usedSetFlags(v: number): RingResult<void> {
    return this.write(this.addrs.used, le(2, v & 0xffff), 'used.flags');
  }
  setAvailEvent(v: number): RingResult<void> {
    return this.write(this.addrs.used + BigInt(availEventOffset(this.addrs.num)), le(2, v & 0xffff), 'used.avail_event');
  }

  /** A device read of a data buffer (request header, OUT data). */
  readBuffer(addr: u64, len: number, what: string): RingResult<Uint8Array> {
    const r = this.machine.dmaRead(this.master, addr, len, what);
    return r.ok ? { ok: true, value: r.data } : { ok: false, fault: r.fault, at: r.at, what };
  }
  /** A device write into a data buffer (IN data, status byte). */
  writeBuffer(addr: u64, data: Uint8Array, what: string): RingResult<void> {
    return this.write(addr, data, what);
  }
}
