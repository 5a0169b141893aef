/**
 * The device side of a split virtqueue, independent of the transport:
 * take a chain from the avail ring, give it back on the used ring, decide
 * whether to interrupt. QEMU hw/virtio/virtio.c (virtqueue_split_pop,
 * virtqueue_split_read_next_desc, virtqueue_fill/flush,
 * virtio_split_should_notify); virtio spec 2.7.
 *
 * Every ring access goes through a SplitRing (ring.ts), i.e. through the
 * device's DMA path. Nothing here loops without a bound: a chain is
 * followed for at most the queue size (QEMU calls a longer one a "Looped
 * descriptor"), and any fault or inconsistency comes back as an error value
 * that the transport turns into virtio_error() (device broken).
 */
import { type u64, hex } from '../u64.ts';
import type { DmaFault } from '../trace.ts';
import { VIRTIO_F_NOTIFY_ON_EMPTY, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, hasFeature } from './virtio-config.ts';
import { type RingResult, type SplitRing, type VirtqDesc, VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VIRTQ_DESC_SIZE, vringNeedEvent } from './ring.ts';

/** QEMU VIRTQUEUE_MAX_SIZE: largest queue QEMU accepts. */
export const VIRTQUEUE_MAX_SIZE = 1024;
/** virtio_pci.h VIRTIO_MSI_NO_VECTOR (repeated here to keep this file transport-free). */
const NO_VECTOR = 0xffff;

/** Per-queue device state (QEMU VirtQueue, the parts that matter here). */
export interface VirtQueueState {
  /** Maximum size (QEMU vring.num_default; legacy QUEUE_NUM). */
  numMax: number;
  /** Current size (modern drivers may write a smaller one). */
  num: number;
  /** Legacy: ring address >> 12, as written to QUEUE_PFN. */
  pfn: number;
  /** Bus addresses of the three parts, as the driver programmed them. */
  desc: u64;
  avail: u64;
  used: u64;
  /** QEMU vring.align (4096 for PCI; used for the legacy layout). */
  align: number;
  /** Legacy: PFN != 0; modern: queue_enable. */
  enabled: boolean;
  msixVector: number;
  /** Next avail ring index the device will take (QEMU last_avail_idx). */
  lastAvailIdx: number;
  /** Last avail.idx value read from the ring (QEMU shadow_avail_idx). */
  shadowAvailIdx: number;
  /** The device's used.idx (QEMU used_idx). */
  usedIdx: number;
  signalledUsed: number;
  signalledUsedValid: boolean;
  /** Chains taken but not yet returned. */
  inuse: number;
  notifies: number;
  completed: number;
}

export const virtQueueInit = (numMax: number, align: number): VirtQueueState => ({
  numMax,
  num: numMax,
  pfn: 0,
  desc: 0n,
  avail: 0n,
  used: 0n,
  align,
  enabled: false,
  msixVector: NO_VECTOR,
  lastAvailIdx: 0,
  shadowAvailIdx: 0,
  usedIdx: 0,
  signalledUsed: 0,
  signalledUsedValid: false,
  inuse: 0,
  notifies: 0,
  completed: 0,
});

/** A descriptor chain taken from the avail ring, split into device-readable and -writable buffers. */
export interface VirtqElement {
  head: number;
  /** avail ring index it came from. */
  index: number;
  out: { addr: u64; len: number }[];
  in: { addr: u64; len: number }[];
}

/** Why the queue cannot go on: QEMU's virtio_error() text, and the DMA fault when there was one. */
export interface VirtqError {
  reason: string;
  fault?: { what: string; at: u64; fault: DmaFault };
}

export type PopResult = { kind: 'elem'; elem: VirtqElement } | { kind: 'empty' } | { kind: 'error'; error: VirtqError };

type Failed = { ok: false; fault: DmaFault; at: u64; what: string };

/** A DMA fault on a ring access, as a VirtqError. */
export const ringFault = (verb: 'reading' | 'writing' | 'on', r: Failed): VirtqError => ({
  reason: `DMA fault ${verb} ${r.what} at ${hex(r.at)}`,
  fault: { what: r.what, at: r.at, fault: r.fault },
});

/**
 * virtqueue_split_pop: the next available chain, or 'empty'. `features`
 * are the negotiated ones (INDIRECT_DESC decides whether an indirect head
 * is legal).
 */
export function virtqueuePop(vq: VirtQueueState, ring: SplitRing, features: u64): PopResult {
  const err = (reason: string, f?: Failed): PopResult => ({ kind: 'error', error: f ? ringFault('reading', f) : { reason } });
  if (vq.lastAvailIdx === vq.shadowAvailIdx) {
    const idx = ring.availIdx();
    if (!idx.ok) return err('', idx);
    if (((idx.value - vq.lastAvailIdx) & 0xffff) > vq.num) return err(`Guest moved avail index from ${vq.lastAvailIdx} to ${idx.value}`);
    vq.shadowAvailIdx = idx.value;
    if (idx.value === vq.lastAvailIdx) return { kind: 'empty' };
  }
  const index = vq.lastAvailIdx;
  const h = ring.availRing(index);
  if (!h.ok) return err('', h);
  const head = h.value;
  if (head >= vq.num) return err(`Guest says index ${head} is available`);
  // QEMU virtqueue_split_pop: with EVENT_IDX, publish avail_event = the next index right after taking the head.
  if (hasFeature(features, VIRTIO_RING_F_EVENT_IDX)) {
    const ae = ring.setAvailEvent((index + 1) & 0xffff);
    if (!ae.ok) return { kind: 'error', error: ringFault('writing', ae) };
  }
  const elem: VirtqElement = { head, index, out: [], in: [] };
  let d: RingResult<VirtqDesc> = ring.readDesc(head);
  if (!d.ok) return err('', d);
  // An indirect head: the chain lives in the table it points to.
  let table: { addr: u64; n: number } | undefined;
  if (d.value.flags & VRING_DESC_F_INDIRECT) {
    if (!hasFeature(features, VIRTIO_RING_F_INDIRECT_DESC)) return err('Indirect descriptor used but VIRTIO_RING_F_INDIRECT_DESC was not negotiated');
    if (d.value.len % VIRTQ_DESC_SIZE !== 0 || d.value.len === 0) return err(`Invalid size for indirect buffer table (${d.value.len})`);
    table = { addr: d.value.addr, n: d.value.len / VIRTQ_DESC_SIZE };
    d = ring.readIndirectDesc(table.addr, 0);
    if (!d.ok) return err('', d);
  }
  const max = table ? table.n : vq.num;
  for (let count = 1; ; count++) {
    const desc: VirtqDesc = d.value;
    if (table && desc.flags & VRING_DESC_F_INDIRECT) return err('Indirect descriptor in an indirect table');
    if (count > max || count > VIRTQUEUE_MAX_SIZE) return err('Looped descriptor');
    if (desc.flags & VRING_DESC_F_WRITE) elem.in.push({ addr: desc.addr, len: desc.len });
    else {
      if (elem.in.length) return err('Incorrect order for descriptors');
      elem.out.push({ addr: desc.addr, len: desc.len });
    }
    if (!(desc.flags & VRING_DESC_F_NEXT)) break;
    if (desc.next >= max) return err(`Desc next is ${desc.next}`);
    d = table ? ring.readIndirectDesc(table.addr, desc.next) : ring.readDesc(desc.next);
    if (!d.ok) return err('', d);
  }
  vq.lastAvailIdx = (vq.lastAvailIdx + 1) & 0xffff;
  vq.inuse++;
  return { kind: 'elem', elem };
}

/** virtqueue_push: used.ring[used_idx] = {head, len}, then used.idx. */
export function virtqueuePush(vq: VirtQueueState, ring: SplitRing, elem: VirtqElement, len: number): VirtqError | undefined {
  const e = ring.usedSetElem(vq.usedIdx, elem.head, len);
  if (!e.ok) return ringFault('writing', e);
  const x = ring.usedSetIdx((vq.usedIdx + 1) & 0xffff);
  if (!x.ok) return ringFault('writing', x);
  vq.usedIdx = (vq.usedIdx + 1) & 0xffff;
  vq.inuse--;
  vq.completed++;
  return undefined;
}

/**
 * virtio_split_should_notify: with EVENT_IDX, interrupt iff used_event was
 * crossed (and publish avail_event); without, unless the driver set
 * VRING_AVAIL_F_NO_INTERRUPT -- but NOTIFY_ON_EMPTY forces one when the
 * queue ran dry.
 */
export function virtqueueShouldNotify(vq: VirtQueueState, ring: SplitRing, features: u64): { notify: boolean } | { error: VirtqError } {
  if (hasFeature(features, VIRTIO_RING_F_EVENT_IDX)) {
    const ev = ring.usedEvent();
    if (!ev.ok) return { error: ringFault('reading', ev) };
    const old = vq.signalledUsed;
    const valid = vq.signalledUsedValid;
    vq.signalledUsed = vq.usedIdx;
    vq.signalledUsedValid = true;
    const ae = ring.setAvailEvent(vq.shadowAvailIdx);
    if (!ae.ok) return { error: ringFault('writing', ae) };
    return { notify: !valid || vringNeedEvent(ev.value, vq.usedIdx, old) };
  }
  const fl = ring.availFlags();
  if (!fl.ok) return { error: ringFault('reading', fl) };
  const empty = vq.inuse === 0 && vq.lastAvailIdx === vq.shadowAvailIdx;
  return { notify: !(fl.value & VRING_AVAIL_F_NO_INTERRUPT) || (hasFeature(features, VIRTIO_F_NOTIFY_ON_EMPTY) && empty) };
}
