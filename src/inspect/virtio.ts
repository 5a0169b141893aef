/**
 * Plain-data views of virtio devices and rings:
 *
 * - virtioStatus / virtioQueueStatus / virtioQueueElement: QEMU's HMP
 *   `info virtio-status`, `info virtio-queue-status`, `info
 *   virtio-queue-element` (QEMU hw/virtio/virtio-hmp-cmds.c, qapi/virtio.json
 *   VirtioStatus, VirtQueueStatus, VirtioQueueElement), with QEMU's field
 *   names. They show the DEVICE's view: its indices and the ring addresses
 *   it was given.
 * - virtioRingView: the three ring parts decoded from memory by physical
 *   address, for the driver's view (from the kernel's VringState) or the
 *   device's (its bus addresses resolved through its DMA path).
 *
 * Addresses the device holds are bus addresses: guest-physical when the
 * driver bypassed the DMA API, IOVAs when it used it. To read memory the
 * inspector resolves them through the device's path without side effects
 * (IOMMU translate with record:false, useTlb:false: no fault record, no
 * IOTLB fill). Descriptor `addr` fields are shown as the device sees them
 * (possibly IOVAs) with the resolved `pa` beside them when it resolves.
 */
import { type u64, hex } from '../machine/u64.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import type { Machine } from '../machine/machine.ts';
import type { DmaMaster } from '../machine/dma.ts';
import { BusError } from '../machine/errors.ts';
import type { VirtioPciDevice } from '../machine/virtio/virtio-pci.ts';
import { VirtioBlkDevice, VIRTIO_BLK_FEATURE_NAMES } from '../machine/virtio/blk.ts';
import { featureNames, statusNames } from '../machine/virtio/virtio-config.ts';
import {
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  availIdxOffset,
  availRingOffset,
  decodeDesc,
  usedIdxOffset,
  usedRingOffset,
} from '../machine/virtio/ring.ts';
import type { VringState } from '../kernel/virtio/virtio-ring.ts';

export type InspectResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Stated limits of the views. */
export const RING_VIEW_MAX_DESCS = 64;
export const RING_VIEW_MAX_RING = 16;
export const ELEMENT_MAX_DESCS = 64;

/** QEMU's object path for a device given id=<name>. */
export const qemuPath = (dev: VirtioPciDevice): string => `/machine/peripheral/${dev.name}/virtio-backend`;
/** QEMU's vdev->name for the device type. */
export const qemuDeviceName = (dev: VirtioPciDevice): string => (dev instanceof VirtioBlkDevice ? 'virtio-blk' : `virtio-${dev.type.id}`);

/** Resolve a bus address the device would issue to a physical address, without side effects. */
export function resolveBusAddr(master: DmaMaster, addr: u64, write = false): { pa?: u64; note?: string } {
  if (master.path === 'bypass') return { pa: addr };
  if (!master.iommu) return { note: 'translated but no IOMMU attached' };
  const t = master.iommu.translate({ sid: master.sid, addr, write }, { record: false, useTlb: false });
  return t.ok ? { pa: t.pa } : { note: `${t.fault.source}: ${t.fault.name}` };
}

// ---- info virtio-status -------------------------------------------------------------

export interface VirtioStatusInfo {
  path: string;
  device_name: string;
  device_id: number;
  broken: boolean;
  /** Why the device stopped (model detail; QEMU logs it with virtio_error). */
  broken_reason?: string;
  num_vqs: number;
  queue_sel: number;
  isr: number;
  endianness: 'little';
  status: string[];
  guest_features: string[];
  host_features: string[];
  /** What the interface in use offers the driver (modern hides QEMU's VIRTIO_LEGACY_FEATURES; legacy shows 32 bits). */
  offered_features: string[];
  /** Model details beyond QEMU's fields. */
  transport: { legacy: boolean; modern: boolean; iommu_platform: boolean; msix_vectors: number; msix_enabled: boolean; last_interface?: string; dma_path: string; sid: number };
  last_fault?: { queue: number; what: string; addr: string; fault: string };
}

export function virtioStatus(dev: VirtioPciDevice): VirtioStatusInfo {
  const names = dev instanceof VirtioBlkDevice ? VIRTIO_BLK_FEATURE_NAMES : {};
  const s = statusNames(dev.status);
  const f = dev.lastFault;
  return {
    path: qemuPath(dev),
    device_name: qemuDeviceName(dev),
    device_id: dev.type.id,
    broken: dev.broken !== undefined,
    broken_reason: dev.broken,
    num_vqs: dev.numQueues,
    queue_sel: dev.queueSel,
    isr: dev.isr,
    endianness: 'little',
    status: s === '0' ? [] : s.split('|'),
    guest_features: featureNames(dev.guestFeatures, names),
    host_features: featureNames(dev.hostFeatures(), names),
    offered_features: featureNames(dev.offeredFeatures(), names),
    transport: {
      legacy: dev.legacy,
      modern: dev.modern,
      iommu_platform: dev.iommuPlatform,
      msix_vectors: dev.vectors,
      msix_enabled: dev.msixEnabled,
      last_interface: dev.lastInterface,
      dma_path: dev.dmaMaster.path === 'translated' ? `translated by ${dev.dmaMaster.iommu?.name ?? '?'}` : 'bypass (guest-physical addresses reach memory directly)',
      sid: dev.dmaMaster.sid,
    },
    last_fault: f ? { queue: f.queue, what: f.what, addr: hex(f.at), fault: `${f.fault.source}: ${f.fault.name}: ${f.fault.detail}` } : undefined,
  };
}

// ---- info virtio-queue-status ----------------------------------------------------------

/** qapi VirtQueueStatus, QEMU's names. */
export interface VirtQueueStatusInfo {
  path: string;
  name: string;
  queue_index: number;
  inuse: number;
  vring_num: number;
  vring_num_default: number;
  vring_align: number;
  /** Bus addresses as the device was told (IOVAs when the driver used the DMA API under an IOMMU). */
  vring_desc: u64;
  vring_avail: u64;
  vring_used: u64;
  last_avail_idx: number;
  shadow_avail_idx: number;
  used_idx: number;
  signalled_used: number;
  signalled_used_valid: boolean;
}

export function virtioQueueStatus(dev: VirtioPciDevice, queue: number): InspectResult<VirtQueueStatusInfo> {
  const q = dev.queueState(queue);
  if (!q) return { ok: false, error: `Invalid virtqueue number ${queue}` };
  return {
    ok: true,
    value: {
      path: qemuPath(dev),
      name: qemuDeviceName(dev),
      queue_index: queue,
      inuse: q.inuse,
      vring_num: q.num,
      vring_num_default: q.numMax,
      vring_align: q.align,
      vring_desc: q.desc,
      vring_avail: q.avail,
      vring_used: q.used,
      last_avail_idx: q.lastAvailIdx,
      shadow_avail_idx: q.shadowAvailIdx,
      used_idx: q.usedIdx,
      signalled_used: q.signalledUsed,
      signalled_used_valid: q.signalledUsedValid,
    },
  };
}

// ---- info virtio-queue-element ---------------------------------------------------------

/** qapi VirtioRingDesc; flags as QEMU names them ("next", "write", "indirect"). */
export interface VirtioRingDescInfo {
  addr: u64;
  len: number;
  flags: string[];
  /** The physical address addr resolves to through the device's path (absent when it does not resolve). */
  pa?: u64;
  note?: string;
}

export interface VirtioQueueElementInfo {
  name: string;
  /** Head descriptor index (QEMU's `index`). */
  index: number;
  /** The avail ring slot it came from. */
  avail_slot: number;
  descs: VirtioRingDescInfo[];
  avail: { flags: number; idx: number; ring: number };
  used: { flags: number; idx: number };
  truncated?: string;
}

/** QEMU qmp_decode_vring_desc_flags order: built by prepending, so "write" comes before "next". */
export const qemuDescFlags = (f: number): string[] => {
  const out: string[] = [];
  if (f & VRING_DESC_F_NEXT) out.unshift('next');
  if (f & VRING_DESC_F_WRITE) out.unshift('write');
  if (f & VRING_DESC_F_INDIRECT) out.unshift('indirect');
  return out;
};

const safe = <T>(f: () => T): T | undefined => {
  try {
    return f();
  } catch (e) {
    if (e instanceof BusError) return undefined;
    throw e;
  }
};

/**
 * The element at avail ring index `index` (default: the next one the
 * device will take, last_avail_idx), read from memory after resolving the
 * device's ring addresses. Bounded by ELEMENT_MAX_DESCS and the ring size.
 */
export function virtioQueueElement(machine: Machine, dev: VirtioPciDevice, queue: number, index?: number): InspectResult<VirtioQueueElementInfo> {
  const q = dev.queueState(queue);
  if (!q) return { ok: false, error: `Invalid virtqueue number ${queue}` };
  if (!q.enabled || q.desc === 0n) return { ok: false, error: `virtqueue ${queue} is not set up (no ring address was given)` };
  const m = dev.dmaMaster;
  const ra = resolveBusAddr(m, q.avail);
  const ru = resolveBusAddr(m, q.used);
  const rd = resolveBusAddr(m, q.desc);
  if (ra.pa === undefined || ru.pa === undefined || rd.pa === undefined) {
    return { ok: false, error: `the ring's bus addresses do not resolve through ${m.iommu?.name ?? 'the IOMMU'} (${ra.note ?? ru.note ?? rd.note})` };
  }
  const mem = machine.memory;
  const idx = index ?? q.lastAvailIdx;
  const slot = idx % q.num;
  const av = safe(() => ({ flags: mem.read16(ra.pa!), idx: mem.read16(ra.pa! + BigInt(availIdxOffset)), ring: mem.read16(ra.pa! + BigInt(availRingOffset(slot))) }));
  const us = safe(() => ({ flags: mem.read16(ru.pa!), idx: mem.read16(ru.pa! + BigInt(usedIdxOffset)) }));
  if (!av || !us) return { ok: false, error: 'the ring lies outside RAM' };
  const descs: VirtioRingDescInfo[] = [];
  let truncated: string | undefined;
  let table = rd.pa;
  let max = q.num;
  let i = av.ring;
  if (i >= q.num) return { ok: false, error: `avail.ring[${slot}] = ${i} is past the table (${q.num} entries)` };
  for (let n = 0; ; n++) {
    if (n >= Math.min(max, ELEMENT_MAX_DESCS)) {
      truncated = `stopped after ${n} descriptors (loop or limit)`;
      break;
    }
    const raw = safe(() => mem.read(table + BigInt(VIRTQ_DESC_SIZE * i), VIRTQ_DESC_SIZE));
    if (!raw) {
      truncated = `descriptor ${i} lies outside RAM`;
      break;
    }
    const d = decodeDesc(raw);
    if (d.flags & VRING_DESC_F_INDIRECT && n === 0 && table === rd.pa) {
      // QEMU qmp_x_query_virtio_queue_element: an indirect head is not listed; the table is
      // mapped through the device's DMA address space and its descriptors are listed instead.
      const rt = resolveBusAddr(m, d.addr);
      if (rt.pa === undefined) {
        // QEMU's command fails here ("Cannot map indirect buffer"); the lab shows the head and says why.
        descs.push({ addr: d.addr, len: d.len, flags: qemuDescFlags(d.flags), pa: undefined, note: rt.note });
        truncated = `Cannot map indirect buffer: the indirect table at ${hex(d.addr)} (${d.len} bytes) does not resolve through ${m.iommu?.name ?? 'the IOMMU'}; a completed request's table is unmapped and freed`;
        break;
      }
      table = rt.pa;
      max = Math.floor(d.len / VIRTQ_DESC_SIZE);
      i = 0;
      n = -1;
      continue;
    }
    const r = resolveBusAddr(m, d.addr, (d.flags & VRING_DESC_F_WRITE) !== 0);
    descs.push({ addr: d.addr, len: d.len, flags: qemuDescFlags(d.flags), pa: r.pa, note: r.note });
    if (!(d.flags & VRING_DESC_F_NEXT)) break;
    if (d.next >= max) {
      truncated = `next ${d.next} is past the table`;
      break;
    }
    i = d.next;
  }
  return { ok: true, value: { name: qemuDeviceName(dev), index: av.ring, avail_slot: slot, descs, avail: av, used: us, truncated } };
}

// ---- the ring view ---------------------------------------------------------------------

export interface RingDescRow {
  i: number;
  addr: u64;
  len: number;
  flags: number;
  flagNames: string[];
  next: number;
}

export interface RingView {
  num: number;
  /** Physical addresses the view was read from. */
  descPa: u64;
  availPa: u64;
  usedPa: u64;
  /** What the descriptor addresses are ("IOVA (DMA API)", "guest-physical"). */
  addrKind: string;
  /** Non-empty descriptors, at most RING_VIEW_MAX_DESCS. */
  desc: RingDescRow[];
  avail: { flags: number; idx: number; ring: { slot: number; head: number }[] };
  used: { flags: number; idx: number; ring: { slot: number; id: number; len: number }[] };
  truncated: string[];
}

/**
 * Decode a split ring from memory at physical addresses. Shows descriptors
 * that are not all-zero (up to RING_VIEW_MAX_DESCS), and the last
 * RING_VIEW_MAX_RING avail/used entries before each idx.
 */
export function virtioRingView(mem: PhysicalMemory, r: { num: number; descPa: u64; availPa: u64; usedPa: u64; addrKind?: string }): InspectResult<RingView> {
  const truncated: string[] = [];
  const desc: RingDescRow[] = [];
  for (let i = 0; i < r.num; i++) {
    const raw = safe(() => mem.read(r.descPa + BigInt(VIRTQ_DESC_SIZE * i), VIRTQ_DESC_SIZE));
    if (!raw) return { ok: false, error: `descriptor table at ${hex(r.descPa)} lies outside RAM` };
    const d = decodeDesc(raw);
    if (d.addr === 0n && d.len === 0 && d.flags === 0) continue;
    if (desc.length >= RING_VIEW_MAX_DESCS) {
      truncated.push(`descriptors: only the first ${RING_VIEW_MAX_DESCS} non-empty ones are shown`);
      break;
    }
    desc.push({ i, addr: d.addr, len: d.len, flags: d.flags, flagNames: qemuDescFlags(d.flags), next: d.next });
  }
  const hdr = safe(() => ({ af: mem.read16(r.availPa), ai: mem.read16(r.availPa + BigInt(availIdxOffset)), uf: mem.read16(r.usedPa), ui: mem.read16(r.usedPa + BigInt(usedIdxOffset)) }));
  if (!hdr) return { ok: false, error: 'the avail or used ring lies outside RAM' };
  const recent = (idx: number): number[] => {
    const n = Math.min(idx, r.num, RING_VIEW_MAX_RING);
    return Array.from({ length: n }, (_, k) => (idx - n + k) & 0xffff);
  };
  const availRing = recent(hdr.ai).map((x) => {
    const slot = x % r.num;
    return { slot, head: mem.read16(r.availPa + BigInt(availRingOffset(slot))) };
  });
  const usedRing = recent(hdr.ui).map((x) => {
    const slot = x % r.num;
    const a = r.usedPa + BigInt(usedRingOffset(slot));
    return { slot, id: mem.read32(a), len: mem.read32(a + 4n) };
  });
  return {
    ok: true,
    value: {
      num: r.num,
      descPa: r.descPa,
      availPa: r.availPa,
      usedPa: r.usedPa,
      addrKind: r.addrKind ?? 'bus addresses as the driver wrote them',
      desc,
      avail: { flags: hdr.af, idx: hdr.ai, ring: availRing },
      used: { flags: hdr.uf, idx: hdr.ui, ring: usedRing },
      truncated,
    },
  };
}

/** The driver's view: the kernel knows the ring's physical address. */
export function virtioRingViewForVring(mem: PhysicalMemory, vq: VringState): InspectResult<RingView> {
  return virtioRingView(mem, {
    num: vq.num,
    descPa: vq.descPa,
    availPa: vq.availPa,
    usedPa: vq.usedPa,
    addrKind: vq.useDmaApi ? 'DMA addresses from the DMA API (IOVAs under an IOMMU)' : 'guest-physical addresses (the ring bypasses the DMA API)',
  });
}

/** The device's view: its ring addresses resolved through its DMA path. */
export function virtioRingViewForDevice(machine: Machine, dev: VirtioPciDevice, queue: number): InspectResult<RingView> {
  const q = dev.queueState(queue);
  if (!q) return { ok: false, error: `Invalid virtqueue number ${queue}` };
  if (!q.enabled) return { ok: false, error: `virtqueue ${queue} is not set up` };
  const m = dev.dmaMaster;
  const [d, a, u] = [resolveBusAddr(m, q.desc), resolveBusAddr(m, q.avail), resolveBusAddr(m, q.used)];
  if (d.pa === undefined || a.pa === undefined || u.pa === undefined) {
    return { ok: false, error: `the device's ring addresses (desc ${hex(q.desc)}) do not resolve through its DMA path: ${d.note ?? a.note ?? u.note}` };
  }
  return virtioRingView(machine.memory, { num: q.num, descPa: d.pa, availPa: a.pa, usedPa: u.pa, addrKind: 'bus addresses as the device sees them' });
}
