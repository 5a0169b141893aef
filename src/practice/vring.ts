/**
 * Drill: where the three parts of a split virtqueue lie (REFERENCE.md 7.2;
 * virtio spec 2.7; linux include/uapi/linux/virtio_ring.h vring_init,
 * vring_size):
 *
 *   desc  = base                                  N x 16 bytes
 *   avail = desc + 16 N                           6 + 2 N bytes (flags, idx, ring[N], used_event)
 *   used  = ALIGN(avail + 6 + 2 N, align)         6 + 8 N bytes (flags, idx, {id, len}[N], avail_event)
 *   vring_size = used - desc + 6 + 8 N
 *
 * Legacy virtio-pci has one contiguous ring, the used ring at the next
 * 4096 boundary (QueuePFN gives the base page). A virtio 1.0 device takes
 * three addresses, and Linux still allocates one block, the used ring
 * aligned to SMP_CACHE_BYTES (64 on x86-64 and arm64).
 *
 * The tests compare every answer with the machine model's vringLayout()
 * (src/machine/virtio/ring.ts), what the virtio-pci device uses to find
 * the rings, and with REFERENCE.md's table.
 */
import { hex } from '../machine/u64.ts';
import type { Rng } from './rng.ts';
import { type Drill, valueAsk } from './drill.ts';

export const TOPIC = 'vring';
export const SUMMARY = 'compute split vring offsets: desc/avail/used for a queue size, legacy 4096 vs virtio 1.0 alignment';

export interface VringCase {
  num: number;
  align: number;
  base: bigint;
  legacy: boolean;
}

export function generateCase(r: Rng): VringCase {
  const num = 2 ** r.pick([1, 3, 4, 6, 7, 7, 8, 8, 9, 10, 12, 15]);
  const legacy = r.chance(1, 2);
  const base = (0x4000_0000n + (r.bits(20) << 12n)) | (r.chance(1, 3) ? 0x8_0000_0000n : 0n);
  return { num, align: legacy ? 4096 : 64, base, legacy };
}

const alignUp = (v: bigint, a: number): bigint => ((v + BigInt(a) - 1n) / BigInt(a)) * BigInt(a);

export function offsets(c: VringCase): { desc: bigint; avail: bigint; availEnd: bigint; used: bigint; size: number } {
  const desc = c.base;
  const avail = desc + BigInt(16 * c.num);
  const availEnd = avail + BigInt(6 + 2 * c.num);
  const used = alignUp(availEnd, c.align);
  return { desc, avail, availEnd, used, size: Number(used - desc) + 6 + 8 * c.num };
}

export function generate(r: Rng, seed: number): Drill {
  const c = generateCase(r);
  const o = offsets(c);
  const pad = Number(o.used - o.availEnd);
  return {
    topic: TOPIC,
    seed,
    title: 'where are the avail and used rings?',
    question: [
      c.legacy
        ? `A legacy virtio-pci device: the driver wrote QueuePFN ${hex(c.base >> 12n)} for a queue of ${c.num} entries (QueueNum); legacy rings are one block, Queue Align 4096.`
        : `A virtio 1.0 (modern) device; Linux allocated a split ring of ${c.num} entries as one block at ${hex(c.base)}, the used ring aligned to SMP_CACHE_BYTES = 64.`,
      'Give the addresses of the available ring and the used ring, and the ring\'s size (vring_size) in bytes.',
    ],
    asks: [valueAsk('avail', 'avail ring address', o.avail), valueAsk('used', 'used ring address', o.used), valueAsk('size', 'vring_size (bytes)', BigInt(o.size), { decimal: true })],
    working: [
      c.legacy ? `desc = QueuePFN << 12 = ${hex(c.base)}` : `desc = ${hex(c.base)}`,
      `avail = desc + 16 * ${c.num} = ${hex(c.base)} + ${hex(16 * c.num)} = ${hex(o.avail)}`,
      `the avail ring ends at avail + 6 + 2 * ${c.num} = ${hex(o.availEnd)} (flags, idx, ring[${c.num}], used_event)`,
      `used = ALIGN(${hex(o.availEnd)}, ${c.align}) = ${hex(o.used)}${pad ? ` (${pad} bytes of padding)` : ' (already aligned)'}`,
      `vring_size = (used - desc) + 6 + 8 * ${c.num} = ${hex(o.used - o.desc)} + ${6 + 8 * c.num} = ${o.size} (${hex(o.size)})`,
    ],
    explanation: c.legacy
      ? 'A legacy device computes the avail and used addresses itself from QueuePFN, QueueNum and 4096: driver and device must agree on that arithmetic, which is why the spec fixes it. `info virtio-queue-status DEV Q` shows a queue\'s rings.'
      : 'A modern device is told the three addresses (queue_desc, queue_driver, queue_device), so any layout works; Linux keeps one block and pads the used ring only to a cache line.',
  };
}
