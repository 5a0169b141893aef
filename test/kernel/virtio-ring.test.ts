import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import { Kernel } from '../../src/kernel/kernel.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import { type DmaApi, type KDevice, DMA_FROM_DEVICE, DMA_TO_DEVICE } from '../../src/kernel/types.ts';
import { dmaBitMask } from '../../src/machine/u64.ts';
import { decodeDesc } from '../../src/machine/virtio/ring.ts';
import { VRING_DMA_ERAS, type VirtioEnv, type VringDmaEra } from '../../src/kernel/virtio/env.ts';
import { vringCreateVirtqueue, vringDmaDecision, vringUseDmaApi, virtqueueAddSgs, virtqueueGetBuf, virtqueueKickPrepare } from '../../src/kernel/virtio/virtio-ring.ts';

const V1 = 1n << 32n;
const AP = 1n << 33n;

// REFERENCE.md 7.7, one row per era: [legacy, modern without ACCESS_PLATFORM, modern with it], arm64, not Xen.
const EXPECT: Record<VringDmaEra, [boolean, boolean, boolean]> = {
  '4.9': [false, false, true],
  '4.10-rc': [true, false, true],
  '4.10': [false, false, true],
  '6.x': [false, false, true],
};

test('vring_use_dma_api on arm64 for every era x {legacy, modern, modern + ACCESS_PLATFORM}', () => {
  for (const era of VRING_DMA_ERAS) {
    const got = [0n, V1, V1 | AP].map((f) => vringUseDmaApi(f, { era, arch: 'aarch64', xenDomain: false }));
    assert.equal(got, EXPECT[era], `era ${era}`);
  }
});

test('the seed 000 clause applied to ARM kernels only: x86 legacy devices stay physical in 4.10-rc', () => {
  assert.not.ok(vringUseDmaApi(0n, { era: '4.10-rc', arch: 'x86_64', xenDomain: false }));
  assert.ok(vringUseDmaApi(0n, { era: '4.10-rc', arch: 'aarch64', xenDomain: false }));
});

test('a Xen guest uses the DMA API in every era, legacy or modern', () => {
  for (const era of VRING_DMA_ERAS) for (const f of [0n, V1]) assert.ok(vringUseDmaApi(f, { era, arch: 'aarch64', xenDomain: true }));
});

test('the decision names its clause in the era\'s words', () => {
  assert.match(vringDmaDecision(V1 | AP, { era: '4.9', arch: 'aarch64', xenDomain: false }).rule, /VIRTIO_F_IOMMU_PLATFORM/);
  assert.match(vringDmaDecision(V1 | AP, { era: '6.x', arch: 'aarch64', xenDomain: false }).rule, /VIRTIO_F_ACCESS_PLATFORM/);
  assert.match(vringDmaDecision(0n, { era: '4.10-rc', arch: 'aarch64', xenDomain: false }).rule, /seed 000/);
  assert.match(vringDmaDecision(0n, { era: '6.x', arch: 'aarch64', xenDomain: false }).rule, /guest-physical/);
});

// ---- the ring, with a fake DMA API ------------------------------------------------------

const OFF = 0x10_0000_0000n; // the fake DMA API hands out pa + 64 GiB

function env(era: VringDmaEra, offset = OFF) {
  const machine = new Machine({ name: 't', arch: 'aarch64', board: 't', cpus: 1, description: '' });
  machine.memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x400_0000n, kind: 'ram' });
  const pages = new PageAllocator([{ base: 0x4000_0000n, size: 0x400_0000n }]);
  const calls: string[] = [];
  const dma: DmaApi = {
    mapSingle: (_d, pa, size, dir) => (calls.push(`map ${pa.toString(16)} ${size} ${dir}`), pa + offset),
    unmapSingle: (_d, a, size, dir) => void calls.push(`unmap ${a.toString(16)} ${size} ${dir}`),
    mapSg: (_d, sg) => sg.map((s) => ({ dma: s.pa + offset, len: s.len })),
    unmapSg: () => {},
    allocCoherent: (_d, size) => {
      calls.push(`alloc_coherent ${size}`);
      const n = Math.ceil(size / 4096);
      const pa = pages.alloc(n);
      machine.memory.fill(pa, BigInt(n * 4096), 0);
      return { pa, dma: pa + offset };
    },
    freeCoherent: () => {},
    syncSingleForCpu: () => {},
    syncSingleForDevice: () => {},
  };
  const e: VirtioEnv = { machine, kernel: new Kernel(new Map()), pages, dma, config: { era, arch: 'aarch64', xenDomain: false } };
  const kdev: KDevice = { name: '0000:00:01.0', master: { name: 'vda', sid: 8, path: 'bypass' }, dmaMask: dmaBitMask(64), coherentDmaMask: dmaBitMask(64), busDmaLimit: 0n, dmaOps: 'iommu', coherent: true };
  return { e, kdev, calls };
}

test('without the DMA API the ring comes from the page allocator: PAGE_ALIGN(10246) = 12288, device told the PA', () => {
  const { e, kdev, calls } = env('4.10');
  const r = vringCreateVirtqueue(e, kdev, 0, 256, 4096, 0n, 'req.0');
  assert.ok(r.ok);
  if (!r.ok) return;
  const vq = r.value;
  assert.not.ok(vq.useDmaApi);
  assert.is(vq.allocator, 'alloc_pages_exact');
  assert.is(vq.size, 10246);
  assert.is(vq.allocBytes, 12288);
  assert.is(vq.dma, vq.pa);
  assert.is(vq.availPa - vq.pa, 0x1000n);
  assert.is(vq.usedPa - vq.pa, 0x2000n);
  assert.equal(calls, []);
});

test('with the DMA API the ring is dma_alloc_coherent(vring_size) and the device is told the DMA handle', () => {
  const { e, kdev, calls } = env('4.10-rc');
  const r = vringCreateVirtqueue(e, kdev, 0, 256, 4096, 0n, 'req.0');
  assert.ok(r.ok);
  if (!r.ok) return;
  const vq = r.value;
  assert.ok(vq.useDmaApi);
  assert.equal(calls, ['alloc_coherent 10246']);
  assert.is(vq.dma, vq.pa + OFF);
  assert.is(vq.usedDma - vq.dma, 0x2000n);
  // Modern layout (align 64): used at 0x1240.
  const m = vringCreateVirtqueue(e, kdev, 1, 256, 64, V1 | AP, 'req.1');
  assert.ok(m.ok && m.value.usedPa - m.value.pa === 0x1240n);
});

test('add_sgs: descriptors carry DMA addresses, out before in, NEXT on all but the last, WRITE on in', () => {
  const { e, kdev, calls } = env('4.10-rc');
  const r = vringCreateVirtqueue(e, kdev, 0, 256, 4096, 0n, 'req.0');
  if (!r.ok) throw new Error(r.error);
  const vq = r.value;
  calls.length = 0;
  const hdr = { pa: 0x4100_0000n, len: 16 };
  const data = { pa: 0x4100_1000n, len: 4096 };
  const st = { pa: 0x4100_0010n, len: 1 };
  const a = virtqueueAddSgs(e, kdev, vq, [hdr], [data, st], 7);
  assert.ok(a.ok && a.value === 0);
  assert.equal(calls, [`map 41000000 16 ${DMA_TO_DEVICE}`, `map 41001000 4096 ${DMA_FROM_DEVICE}`, `map 41000010 1 ${DMA_FROM_DEVICE}`]);
  const mem = e.machine.memory;
  const d = [0, 1, 2].map((i) => decodeDesc(mem.read(vq.descPa + BigInt(16 * i), 16)));
  assert.equal(d.map((x) => [x.addr, x.len, x.flags]), [[hdr.pa + OFF, 16, 1], [data.pa + OFF, 4096, 3], [st.pa + OFF, 1, 2]]);
  assert.equal([d[0]!.next, d[1]!.next], [1, 2]);
  assert.is(mem.read16(vq.availPa + 2n), 1);
  assert.is(mem.read16(vq.availPa + 4n), 0);
  assert.is(vq.numFree, 253);
  assert.ok(virtqueueKickPrepare(e, vq));
  // The device completes it: used.ring[0] = {0, 4097}, used.idx = 1.
  mem.write32(vq.usedPa + 4n, 0);
  mem.write32(vq.usedPa + 8n, 4097);
  mem.write16(vq.usedPa + 2n, 1);
  calls.length = 0;
  const g = virtqueueGetBuf(e, kdev, vq);
  assert.ok(g.ok && g.value?.token === 7 && g.value.len === 4097);
  assert.is(calls.length, 3, 'every buffer unmapped');
  assert.is(vq.numFree, 256);
  assert.is(vq.freeHead, 0);
  const none = virtqueueGetBuf(e, kdev, vq);
  assert.ok(none.ok && none.value === undefined);
});

test('without the DMA API the descriptors carry the physical addresses and nothing is mapped', () => {
  const { e, kdev, calls } = env('6.x');
  const r = vringCreateVirtqueue(e, kdev, 0, 128, 4096, V1, 'req.0');
  if (!r.ok) throw new Error(r.error);
  virtqueueAddSgs(e, kdev, r.value, [{ pa: 0x4100_0000n, len: 16 }], [{ pa: 0x4100_0010n, len: 1 }], 1);
  assert.is(decodeDesc(e.machine.memory.read(r.value.descPa, 16)).addr, 0x4100_0000n);
  assert.equal(calls, []);
});

test('a used element naming a descriptor that is not a head breaks the queue (BAD_RING)', () => {
  const { e, kdev } = env('6.x');
  const r = vringCreateVirtqueue(e, kdev, 0, 128, 4096, V1, 'req.0');
  if (!r.ok) throw new Error(r.error);
  const vq = r.value;
  virtqueueAddSgs(e, kdev, vq, [{ pa: 0x4100_0000n, len: 16 }], [{ pa: 0x4100_0010n, len: 1 }], 1);
  e.machine.memory.write32(vq.usedPa + 4n, 5);
  e.machine.memory.write16(vq.usedPa + 2n, 1);
  const g = virtqueueGetBuf(e, kdev, vq);
  assert.not.ok(g.ok);
  assert.is(vq.broken, 'id 5 is not a head!');
  assert.not.ok(virtqueueAddSgs(e, kdev, vq, [{ pa: 0x4100_0000n, len: 16 }], [], 2).ok);
});

test('a full ring refuses more buffers with -ENOSPC', () => {
  const { e, kdev } = env('6.x');
  const r = vringCreateVirtqueue(e, kdev, 0, 2, 4096, V1, 'tiny');
  if (!r.ok) throw new Error(r.error);
  const x = virtqueueAddSgs(e, kdev, r.value, [{ pa: 0x4100_0000n, len: 16 }], [{ pa: 0x4100_1000n, len: 1 }, { pa: 0x4100_2000n, len: 1 }], 1);
  assert.not.ok(x.ok);
  if (!x.ok) assert.match(x.error, /ENOSPC/);
});

test.run();
