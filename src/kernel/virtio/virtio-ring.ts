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
 * Model simplifications: one chain of direct descriptors per request
 * (VIRTIO_RING_F_INDIRECT_DESC and EVENT_IDX are not negotiated by the
 * model's drivers; real Linux uses both when offered, which adds an
 * indirect table mapped through the DMA API), no packed rings, no
 * reduction of the ring size when allocation fails.
 */
import { type u64, hex, PAGE_SIZE } from '../../machine/u64.ts';
import { DMA_FROM_DEVICE, DMA_MAPPING_ERROR, DMA_TO_DEVICE, type DmaDirection, type KDevice, type SgEntry } from '../types.ts';
import {
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_VERSION_1,
  hasFeature,
} from '../../machine/virtio/virtio-config.ts';
import {
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_USED_F_NO_NOTIFY,
  VIRTQ_DESC_SIZE,
  availIdxOffset,
  availRingOffset,
  encodeDesc,
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

export interface VringInflight {
  token: number;
  head: number;
  ndescs: number;
  maps: VringMapping[];
}

/** struct vring_virtqueue (split), as plain data. */
export interface VringState {
  index: number;
  name: string;
  num: number;
  align: number;
  useDmaApi: boolean;
  rule: string;
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

/**
 * virtqueue_add_sgs (split): out buffers (device reads, DMA_TO_DEVICE)
 * then in buffers (device writes, DMA_FROM_DEVICE) as one chain taken
 * from the free list; then the head goes into avail.ring and avail.idx is
 * bumped (after a write barrier in Linux). Returns the head.
 */
export function virtqueueAddSgs(env: VirtioEnv, dev: KDevice, vq: VringState, out: SgEntry[], ins: SgEntry[], token: number): VringResult<number> {
  if (vq.broken) return { ok: false, error: `-EIO: virtqueue ${vq.name} is broken (${vq.broken})` };
  const total = out.length + ins.length;
  if (total === 0) return { ok: false, error: '-EINVAL: no buffers' };
  if (vq.numFree < total) return { ok: false, error: `-ENOSPC: virtqueue ${vq.name} has ${vq.numFree} free descriptors, ${total} needed` };
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
  const head = vq.freeHead;
  let i = head;
  maps.forEach((m, k) => {
    // Linux writes NEXT on every descriptor and clears it on the last; `next` keeps the free-list link.
    const flags = (m.dir === DMA_FROM_DEVICE ? VRING_DESC_F_WRITE : 0) | (k < maps.length - 1 ? VRING_DESC_F_NEXT : 0);
    mem.write(vq.descPa + BigInt(VIRTQ_DESC_SIZE * i), encodeDesc({ addr: m.addr, len: m.len, flags, next: vq.next[i]! }));
    i = vq.next[i]!;
  });
  vq.numFree -= maps.length;
  vq.freeHead = i;
  vq.inflight[head] = { token, head, ndescs: maps.length, maps };
  const slot = vq.availIdxShadow & (vq.num - 1);
  mem.write16(vq.availPa + BigInt(availRingOffset(slot)), head);
  // virtio_wmb(): descriptors and ring entry are visible before the index moves.
  vq.availIdxShadow = (vq.availIdxShadow + 1) & 0xffff;
  mem.write16(vq.availPa + BigInt(availIdxOffset), vq.availIdxShadow);
  vq.numAdded++;
  return { ok: true, value: head };
}

/** virtqueue_kick_prepare (no EVENT_IDX): notify unless the device set VRING_USED_F_NO_NOTIFY. */
export function virtqueueKickPrepare(env: VirtioEnv, vq: VringState): boolean {
  vq.numAdded = 0;
  return (env.machine.memory.read16(vq.usedPa) & VRING_USED_F_NO_NOTIFY) === 0;
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
  // detach_buf_split: unmap each buffer, relink the chain at the free-list head.
  for (const m of st.maps) unmapOne(env, dev, m);
  let last = id;
  for (let k = 1; k < st.ndescs; k++) last = vq.next[last]!;
  vq.next[last] = vq.freeHead;
  vq.freeHead = id;
  vq.numFree += st.ndescs;
  delete vq.inflight[id];
  vq.lastUsedIdx = (vq.lastUsedIdx + 1) & 0xffff;
  return { ok: true, value: { token: st.token, head: id, len } };
}
