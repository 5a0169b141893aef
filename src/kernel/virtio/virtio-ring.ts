/**
 * The driver side of split virtqueues: linux drivers/virtio/virtio_ring.c
 * (vring_use_dma_api, vring_create_virtqueue_split, virtqueue_add_split,
 * virtqueue_kick_prepare_split, virtqueue_get_buf_ctx_split,
 * detach_buf_split).
 *
 * The CPU writes the ring straight into physical memory (machine.memory):
 * the CPU never goes through the IOMMU. What the *device* is given -- the
 * ring address it is told and the addresses inside the descriptors -- is a
 * DMA address when the ring uses the DMA API and a physical address when it
 * does not. That one decision, vring_use_dma_api(), is the subject of seeds
 * 000 and 001.
 *
 * Indirect descriptors (VIRTIO_RING_F_INDIRECT_DESC negotiated: vq->indirect):
 * a request of more than one buffer goes into a kmalloc'ed table of
 * total_sg descriptors (alloc_indirect_split: next = i + 1), the table is
 * mapped DMA_TO_DEVICE like any buffer (vring_map_single: its physical
 * address without the DMA API), and the ring gets one descriptor with
 * VRING_DESC_F_INDIRECT pointing at it (virtqueue_add_split, v4.x to 6.x:
 * `vq->indirect && total_sg > 1 && vq->vq.num_free`). The device reads the
 * table by DMA, through its IOMMU like the ring.
 *
 * EVENT_IDX (vq->event): the driver kicks only when the device's
 * avail_event asks for it (virtqueue_kick_prepare_split: vring_need_event)
 * and publishes used_event = last_used_idx after reaping
 * (virtqueue_get_buf_ctx_split).
 *
 * Model simplifications: no packed rings, no reduction of the ring size
 * when allocation fails.
 */
import { type u64, hex, PAGE_SIZE } from '../../machine/u64.ts';
import { DMA_FROM_DEVICE, DMA_MAPPING_ERROR, DMA_TO_DEVICE, type DmaDirection, type KDevice, type SgEntry } from '../types.ts';
import {
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  hasFeature,
} from '../../machine/virtio/virtio-config.ts';
import {
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_USED_F_NO_NOTIFY,
  VIRTQ_DESC_SIZE,
  availIdxOffset,
  availEventOffset,
  availRingOffset,
  encodeDesc,
  usedEventOffset,
  vringNeedEvent,
  usedIdxOffset,
  usedRingOffset,
  vringLayout,
  vringSize,
} from '../../machine/virtio/ring.ts';
import type { VirtioEnv, VirtioKernelConfig } from './env.ts';

// ---- vring_use_dma_api() and its history -------------------------------------------------
//
// | kernel              | rule (REFERENCE.md 7.7)                                                   |
// |---------------------|---------------------------------------------------------------------------|
// | <= v4.5             | never: descriptors carry guest-physical addresses (sg_phys)               |
// | v4.6 (approximate)  | Lutomirski, after seed 001's debate: only for Xen guests (xen_domain())   |
// | v4.8 (approximate)  | + VIRTIO_F_IOMMU_PLATFORM (bit 33) negotiated -> DMA API                  |
// | v4.10-rc (Jan 2017) | seed 000, "vring: Force use of DMA API for ARM-based systems with legacy  |
// |                     | devices" (commit id c7070619f340 unverified): on ARM/arm64 a device       |
// |                     | without VIRTIO_F_VERSION_1 uses the DMA API                               |
// | v4.10 (Feb 2017)    | reverted before release (0d5415b489f6); the revert's reason unverified    |
// | ~v5.8-v5.9          | bit renamed ACCESS_PLATFORM, virtio_has_iommu_quirk -> _dma_quirk          |
// | current (6.x)       | !virtio_has_dma_quirk() -> DMA API; xen_domain() -> DMA API; else not     |
//
// The era knob picks one row; '4.9' stands for v4.8..v4.9 (IOMMU_PLATFORM honoured).

export interface VringDmaDecision {
  use: boolean;
  /** Which clause of vring_use_dma_api() decided, in the kernel's words. */
  rule: string;
}

/**
 * vring_use_dma_api() for the configured era, with the clause that decided.
 * `features` are the negotiated ones (vdev->features).
 */
export function vringDmaDecision(features: u64, k: Pick<VirtioKernelConfig, 'era' | 'arch' | 'xenDomain'>): VringDmaDecision {
  const bitName = k.era === '6.x' ? 'VIRTIO_F_ACCESS_PLATFORM' : 'VIRTIO_F_IOMMU_PLATFORM';
  const quirk = k.era === '6.x' ? 'virtio_has_dma_quirk' : 'virtio_has_iommu_quirk';
  if (hasFeature(features, VIRTIO_F_ACCESS_PLATFORM)) return { use: true, rule: `!${quirk}(vdev): ${bitName} negotiated, the device goes through the platform's DMA translation` };
  if (k.xenDomain) return { use: true, rule: 'xen_domain(): a Xen guest must hand the backend grant or machine addresses' };
  // The seed 000 clause sat after the Xen test and applied to CONFIG_ARM/CONFIG_ARM64 kernels only.
  if (k.era === '4.10-rc' && k.arch === 'aarch64' && !hasFeature(features, VIRTIO_F_VERSION_1)) {
    return { use: true, rule: 'IS_ENABLED(CONFIG_ARM64): a legacy device (no VIRTIO_F_VERSION_1) on ARM uses the DMA API (seed 000 patch)' };
  }
  return { use: false, rule: `${quirk}(vdev) and not a Xen guest: descriptors carry guest-physical addresses` };
}

/** vring_use_dma_api(vdev) for the configured era. */
export function vringUseDmaApi(features: u64, k: Pick<VirtioKernelConfig, 'era' | 'arch' | 'xenDomain'>): boolean {
  return vringDmaDecision(features, k).use;
}

// ---- the ring state ----------------------------------------------------------------------

/** One buffer as given to the device, kept to unmap it (Linux keeps this in desc_extra). */
export interface VringMapping {
  pa: u64;
  /** What went into desc.addr: the DMA address, or the PA when not using the DMA API. */
  addr: u64;
  len: number;
  dir: DmaDirection;
  /** True when the DMA API mapped it (and must unmap it). */
  mapped: boolean;
}

/** An indirect descriptor table: where the CPU wrote it and what the ring descriptor gives the device. */
export interface VringIndirect {
  /** Physical address of the kmalloc'ed table. */
  pa: u64;
  /** total_sg descriptors. */
  n: number;
  /** The table's own mapping (DMA_TO_DEVICE). */
  map: VringMapping;
}

export interface VringInflight {
  token: number;
  head: number;
  /** Ring descriptors used (1 for an indirect request). */
  ndescs: number;
  /** The buffers, in chain order. */
  maps: VringMapping[];
  indirect?: VringIndirect;
}

/** struct vring_virtqueue (split), as plain data. */
export interface VringState {
  index: number;
  name: string;
  num: number;
  align: number;
  useDmaApi: boolean;
  rule: string;
  /** vq->indirect: VIRTIO_RING_F_INDIRECT_DESC negotiated. */
  indirect: boolean;
  /** vq->event: VIRTIO_RING_F_EVENT_IDX negotiated. */
  event: boolean;
  /** Where the CPU sees the ring (physical) ... */
  pa: u64;
  /** ... and the address the device is told (DMA address, or the PA). */
  dma: u64;
  /** vring_size(num, align). */
  size: number;
  /** Bytes allocated: size for dma_alloc_coherent, PAGE_ALIGN(size) for pages. */
  allocBytes: number;
  allocator: 'dma_alloc_coherent' | 'alloc_pages_exact';
  descPa: u64;
  availPa: u64;
  usedPa: u64;
  descDma: u64;
  availDma: u64;
  usedDma: u64;
  freeHead: number;
  numFree: number;
  /** The free-list links (Linux desc_extra[i].next; kept private, not in device memory). */
  next: number[];
  availIdxShadow: number;
  lastUsedIdx: number;
  numAdded: number;
  /** In-flight chains by head (Linux desc_state[head]). */
  inflight: Record<number, VringInflight>;
  broken: string | undefined;
}

export type VringResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * vring_create_virtqueue_split + vring_alloc_queue: one contiguous block
 * of vring_size(num, align) bytes, zeroed. With the DMA API it comes from
 * dma_alloc_coherent on the parent device (the PCI function), and the
 * device is told the DMA handle; otherwise from the page allocator
 * (alloc_pages_exact of PAGE_ALIGN(size)) and the device is told the
 * physical address (virt_to_phys).
 */
export function vringCreateVirtqueue(env: VirtioEnv, dev: KDevice, index: number, num: number, align: number, features: u64, name: string): VringResult<VringState> {
  if (num === 0 || (num & (num - 1)) !== 0) return { ok: false, error: `Bad virtqueue length ${num}` };
  const decision = vringDmaDecision(features, env.config);
  const size = vringSize(num, align);
  let pa: u64;
  let dma: u64;
  let allocBytes: number;
  if (decision.use) {
    const r = env.dma.allocCoherent(dev, size);
    if (!r) return { ok: false, error: `dma_alloc_coherent(${size}) failed for ${dev.name}` };
    pa = r.pa;
    dma = r.dma;
    allocBytes = size;
  } else {
    allocBytes = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    pa = env.pages.alloc(allocBytes / PAGE_SIZE);
    env.machine.memory.fill(pa, BigInt(allocBytes), 0); // __GFP_ZERO
    dma = pa; // virt_to_phys(queue)
  }
  const lp = vringLayout(pa, num, align);
  const ld = vringLayout(dma, num, align);
  return {
    ok: true,
    value: {
      index,
      name,
      num,
      align,
      useDmaApi: decision.use,
      rule: decision.rule,
      indirect: hasFeature(features, VIRTIO_RING_F_INDIRECT_DESC),
      event: hasFeature(features, VIRTIO_RING_F_EVENT_IDX),
      pa,
      dma,
      size,
      allocBytes,
      allocator: decision.use ? 'dma_alloc_coherent' : 'alloc_pages_exact',
      descPa: lp.desc,
      availPa: lp.avail,
      usedPa: lp.used,
      descDma: ld.desc,
      availDma: ld.avail,
      usedDma: ld.used,
      freeHead: 0,
      numFree: num,
      next: Array.from({ length: num }, (_, i) => (i + 1) % num),
      availIdxShadow: 0,
      lastUsedIdx: 0,
      numAdded: 0,
      inflight: {},
      broken: undefined,
    },
  };
}

/** vring_free_queue: give the ring memory back. */
export function vringDelVirtqueue(env: VirtioEnv, dev: KDevice, vq: VringState): void {
  if (vq.allocator === 'dma_alloc_coherent') env.dma.freeCoherent(dev, vq.size, vq.pa, vq.dma);
  else env.pages.free(vq.pa, vq.allocBytes / PAGE_SIZE);
}

/** vring_map_one_sg: map a buffer for the device, or pass its physical address. */
function mapOne(env: VirtioEnv, dev: KDevice, vq: VringState, sg: SgEntry, dir: DmaDirection): VringMapping | undefined {
  if (!vq.useDmaApi) return { pa: sg.pa, addr: sg.pa, len: sg.len, dir, mapped: false };
  const dma = env.dma.mapSingle(dev, sg.pa, sg.len, dir);
  // vring_map_one_sg checks with dma_mapping_error(), which DMA-API debug records.
  if (env.dma.mappingError ? env.dma.mappingError(dev, dma) : dma === DMA_MAPPING_ERROR) return undefined;
  return { pa: sg.pa, addr: dma, len: sg.len, dir, mapped: true };
}

function unmapOne(env: VirtioEnv, dev: KDevice, m: VringMapping): void {
  if (m.mapped) env.dma.unmapSingle(dev, m.addr, m.len, m.dir);
}

/** alloc_indirect_split: kmalloc_array(total_sg, 16) (whole pages without a kmalloc model). */
function allocIndirect(env: VirtioEnv, n: number): u64 {
  return env.kmalloc ? env.kmalloc.alloc(n * VIRTQ_DESC_SIZE) : env.pages.alloc(Math.ceil((n * VIRTQ_DESC_SIZE) / PAGE_SIZE));
}
function freeIndirect(env: VirtioEnv, pa: u64, n: number): void {
  if (env.kmalloc) env.kmalloc.free(pa);
  else env.pages.free(pa, Math.ceil((n * VIRTQ_DESC_SIZE) / PAGE_SIZE));
}

/**
 * virtqueue_add_sgs (split): out buffers (device reads, DMA_TO_DEVICE)
 * then in buffers (device writes, DMA_FROM_DEVICE) as one chain -- in an
 * indirect table when vq->indirect and there is more than one buffer,
 * else taken from the ring's free list; then the head goes into
 * avail.ring and avail.idx is bumped (after a write barrier in Linux).
 * Returns the head.
 */
export function virtqueueAddSgs(env: VirtioEnv, dev: KDevice, vq: VringState, out: SgEntry[], ins: SgEntry[], token: number): VringResult<number> {
  if (vq.broken) return { ok: false, error: `-EIO: virtqueue ${vq.name} is broken (${vq.broken})` };
  const total = out.length + ins.length;
  if (total === 0) return { ok: false, error: '-EINVAL: no buffers' };
  const useIndirect = vq.indirect && total > 1 && vq.numFree > 0;
  const descsUsed = useIndirect ? 1 : total;
  if (vq.numFree < descsUsed) return { ok: false, error: `-ENOSPC: virtqueue ${vq.name} has ${vq.numFree} free descriptors, ${descsUsed} needed` };
  const mem = env.machine.memory;
  const maps: VringMapping[] = [];
  const all: [SgEntry, DmaDirection][] = [...out.map((s): [SgEntry, DmaDirection] => [s, DMA_TO_DEVICE]), ...ins.map((s): [SgEntry, DmaDirection] => [s, DMA_FROM_DEVICE])];
  for (const [sg, dir] of all) {
    const m = mapOne(env, dev, vq, sg, dir);
    if (!m) {
      for (const x of maps) unmapOne(env, dev, x);
      return { ok: false, error: `-ENOMEM: dma_map_page of ${sg.len} bytes at ${hex(sg.pa)} failed (DMA_MAPPING_ERROR)` };
    }
    maps.push(m);
  }
  const flagsOf = (m: VringMapping, k: number): number => (m.dir === DMA_FROM_DEVICE ? VRING_DESC_F_WRITE : 0) | (k < maps.length - 1 ? VRING_DESC_F_NEXT : 0);
  const head = vq.freeHead;
  let indirect: VringIndirect | undefined;
  if (useIndirect) {
    // The table: desc[k].next = k + 1 from alloc_indirect_split, NEXT cleared on the last.
    const table = allocIndirect(env, total);
    maps.forEach((m, k) => mem.write(table + BigInt(VIRTQ_DESC_SIZE * k), encodeDesc({ addr: m.addr, len: m.len, flags: flagsOf(m, k), next: k + 1 })));
    // "Now that the indirect table is filled in, map it."
    const tm = mapOne(env, dev, vq, { pa: table, len: total * VIRTQ_DESC_SIZE }, DMA_TO_DEVICE);
    if (!tm) {
      for (const x of maps) unmapOne(env, dev, x);
      freeIndirect(env, table, total);
      return { ok: false, error: `-ENOMEM: dma_map_single of the ${total * VIRTQ_DESC_SIZE}-byte indirect table at ${hex(table)} failed (DMA_MAPPING_ERROR)` };
    }
    indirect = { pa: table, n: total, map: tm };
    mem.write(vq.descPa + BigInt(VIRTQ_DESC_SIZE * head), encodeDesc({ addr: tm.addr, len: tm.len, flags: VRING_DESC_F_INDIRECT, next: vq.next[head]! }));
    vq.freeHead = vq.next[head]!;
  } else {
    let i = head;
    maps.forEach((m, k) => {
      // Linux writes NEXT on every descriptor and clears it on the last; `next` keeps the free-list link.
      mem.write(vq.descPa + BigInt(VIRTQ_DESC_SIZE * i), encodeDesc({ addr: m.addr, len: m.len, flags: flagsOf(m, k), next: vq.next[i]! }));
      i = vq.next[i]!;
    });
    vq.freeHead = i;
  }
  vq.numFree -= descsUsed;
  vq.inflight[head] = indirect ? { token, head, ndescs: 1, maps, indirect } : { token, head, ndescs: maps.length, maps };
  const slot = vq.availIdxShadow & (vq.num - 1);
  mem.write16(vq.availPa + BigInt(availRingOffset(slot)), head);
  // virtio_wmb(): descriptors and ring entry are visible before the index moves.
  vq.availIdxShadow = (vq.availIdxShadow + 1) & 0xffff;
  mem.write16(vq.availPa + BigInt(availIdxOffset), vq.availIdxShadow);
  vq.numAdded++;
  return { ok: true, value: head };
}

/**
 * virtqueue_kick_prepare_split: with EVENT_IDX, kick iff the new avail
 * index passed the device's avail_event (vring_need_event(avail_event,
 * new, old)); without, unless the device set VRING_USED_F_NO_NOTIFY.
 */
export function virtqueueKickPrepare(env: VirtioEnv, vq: VringState): boolean {
  const mem = env.machine.memory;
  const newIdx = vq.availIdxShadow;
  const oldIdx = (newIdx - vq.numAdded) & 0xffff;
  vq.numAdded = 0;
  if (vq.event) return vringNeedEvent(mem.read16(vq.usedPa + BigInt(availEventOffset(vq.num))), newIdx, oldIdx);
  return (mem.read16(vq.usedPa) & VRING_USED_F_NO_NOTIFY) === 0;
}

/** more_used_split: the device has moved used.idx past what we reaped. */
export function virtqueueMoreUsed(env: VirtioEnv, vq: VringState): boolean {
  return env.machine.memory.read16(vq.usedPa + BigInt(usedIdxOffset)) !== vq.lastUsedIdx;
}

export interface UsedBuf {
  token: number;
  head: number;
  len: number;
}

/**
 * virtqueue_get_buf (split): take the next used element, check it (a bad
 * id marks the queue broken, as BAD_RING does), unmap its buffers and put
 * its descriptors back on the free list (detach_buf_split).
 */
export function virtqueueGetBuf(env: VirtioEnv, dev: KDevice, vq: VringState): VringResult<UsedBuf | undefined> {
  if (vq.broken) return { ok: false, error: `virtqueue ${vq.name} is broken (${vq.broken})` };
  if (!virtqueueMoreUsed(env, vq)) return { ok: true, value: undefined };
  const mem = env.machine.memory;
  const slot = vq.lastUsedIdx & (vq.num - 1);
  const id = mem.read32(vq.usedPa + BigInt(usedRingOffset(slot)));
  const len = mem.read32(vq.usedPa + BigInt(usedRingOffset(slot) + 4));
  if (id >= vq.num) {
    vq.broken = `id ${id} out of range`;
    return { ok: false, error: vq.broken };
  }
  const st = vq.inflight[id];
  if (!st) {
    vq.broken = `id ${id} is not a head!`;
    return { ok: false, error: vq.broken };
  }
  // detach_buf_split: unmap each buffer (and an indirect table, then kfree it), relink the chain at the free-list head.
  for (const m of st.maps) unmapOne(env, dev, m);
  if (st.indirect) {
    unmapOne(env, dev, st.indirect.map);
    freeIndirect(env, st.indirect.pa, st.indirect.n);
  }
  let last = id;
  for (let k = 1; k < st.ndescs; k++) last = vq.next[last]!;
  vq.next[last] = vq.freeHead;
  vq.freeHead = id;
  vq.numFree += st.ndescs;
  delete vq.inflight[id];
  vq.lastUsedIdx = (vq.lastUsedIdx + 1) & 0xffff;
  // "If we expect an interrupt for the next entry, tell host by writing event index" (callbacks stay enabled in the model).
  if (vq.event) mem.write16(vq.availPa + BigInt(usedEventOffset(vq.num)), vq.lastUsedIdx);
  return { ok: true, value: { token: st.token, head: id, len } };
}
