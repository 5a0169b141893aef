/**
 * Every practice generator against the lab's own decoders and model, for
 * many seeds (fast-check): the answer a drill expects must be what the
 * decoder or the model says about what the drill *shows*. Each property
 * reads the values back from the question text a learner sees, runs them
 * through the lab's code, and judges the drill's asks with the result.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { hex } from '../../src/machine/u64.ts';
import { topicByName, makeDrill, MAX_SEED, TOPICS } from '../../src/practice/topics.ts';
import { judge, type Drill } from '../../src/practice/drill.ts';
import { summarizeEvent } from '../../src/inspect/smmu.ts';
import { summarizeFaultRecord } from '../../src/inspect/vtd.ts';
import * as E from '../../src/machine/smmuv3/event.ts';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import { allocIoPgtableArmS1, armLpaeMap } from '../../src/kernel/io-pgtable-arm.ts';
import { IOMMU_READ, IOMMU_WRITE, DMA_MAPPING_ERROR, DMA_TO_DEVICE, type KDevice } from '../../src/kernel/types.ts';
import { walkVmsa } from '../../src/machine/smmuv3/vmsa.ts';
import { allocPgtable, domainMapping, DMA_PTE_READ, DMA_PTE_WRITE } from '../../src/kernel/intel-pgtable.ts';
import { walkSecondLevel } from '../../src/machine/vtd/slpt.ts';
import type { TranslationStep } from '../../src/machine/trace.ts';
import { Kernel } from '../../src/kernel/kernel.ts';
import { Swiotlb } from '../../src/kernel/swiotlb.ts';
import { DmaDirect, physToDma } from '../../src/kernel/dma-direct.ts';
import { vringLayout } from '../../src/machine/virtio/ring.ts';
import { levelsOf, splitIova } from '../../src/practice/iova-split.ts';

const seedArb = fc.integer({ min: 0, max: MAX_SEED });
const drillOf = (topic: string, seed: number): Drill => makeDrill(topicByName(topic)!, seed);

/** Judge every ask of a drill with the answers the lab's code gives, by ask id. */
function assertAnswers(d: Drill, answers: Record<string, string>): void {
  for (const a of d.asks) {
    const given = answers[a.id];
    assert.ok(given !== undefined, `${d.topic} --seed ${d.seed}: no reference answer for ask ${a.id}`);
    assert.ok(judge(a, given!).ok, `${d.topic} --seed ${d.seed}: ask ${a.id} expects ${a.show}, the lab's code says ${given}`);
  }
}

const num = (s: string): bigint => BigInt(s);
const grab = (d: Drill, re: RegExp): RegExpExecArray => {
  const m = re.exec(d.question.join('\n'));
  if (!m) throw new Error(`${d.topic} --seed ${d.seed}: the question does not match ${re}`);
  return m;
};

test('the same topic and seed give the same drill; neighbouring seeds differ', () => {
  for (const t of TOPICS) {
    assert.equal(makeDrill(t, 42), makeDrill(t, 42));
    const texts = new Set([1, 2, 3, 4, 5, 6].map((s) => makeDrill(t, s).question.join('\n')));
    assert.ok(texts.size >= 5, `${t.name}: seeds 1-6 give ${texts.size} different questions`);
  }
});

test('smmu-event: every drill agrees with the SMMU event decoder (src/inspect/smmu.ts)', () => {
  fc.assert(
    fc.property(seedArb, (seed) => {
      const d = drillOf('smmu-event', seed);
      const words = [0, 1, 2, 3].map((i) => num(grab(d, new RegExp(`dw${i} (0x[0-9a-f]{16})`))[1]!));
      const s = summarizeEvent(words);
      const translation = s.type >= E.F_TRANSLATION && s.type <= E.F_PERMISSION;
      assert.is(d.asks.some((a) => a.id === 'iova'), translation, 'an address is asked exactly for translation faults');
      if (s.type === E.C_BAD_SUBSTREAMID) assert.ok(s.ssv, 'C_BAD_SUBSTREAMID: the transaction carried a SubstreamID');
      assertAnswers(d, {
        type: s.name,
        sid: hex(s.sid),
        ssid: s.ssv ? hex(s.ssidField) : 'none',
        iova: hex(s.inputAddr),
        access: s.read ? 'read' : 'write',
        fetch: hex(s.fetchAddr),
      });
      // The code answers the type as well as the name.
      assert.ok(judge(d.asks[0]!, hex(s.type, 2)).ok);
    }),
    { numRuns: 500, seed: 13 },
  );
});

test("smmu-event: seed 000's record reads as REFERENCE.md 1.8 says (the decoder the drills are checked against)", () => {
  const s = summarizeEvent([0x0000_0000_ffff_f010n, 0x0000_0208_0000_0000n, 0x0000_0008_fa08_1002n, 0n]);
  assert.is(s.name, 'F_TRANSLATION');
  assert.is(s.sid, 0);
  assert.is(s.ssv, false);
  assert.is(s.read, true);
  assert.is(s.inputAddr, 0x8_fa08_1002n);
});

test('dmar-fault: every drill agrees with the VT-d fault decoder (src/inspect/vtd.ts)', () => {
  fc.assert(
    fc.property(seedArb, (seed) => {
      const d = drillOf('dmar-fault', seed);
      const lo = num(grab(d, /lo \(bits 63:0\)\s+(0x[0-9a-f]{16})/)[1]!);
      const hi = num(grab(d, /hi \(bits 127:64\)\s+(0x[0-9a-f]{16})/)[1]!);
      const f = summarizeFaultRecord([lo, hi]);
      assert.ok(f.pending, 'F is set: a valid record');
      assert.is(d.asks.some((a) => a.id === 'index'), f.kind === 'ir');
      assertAnswers(d, { device: f.bdf, reason: hex(f.reason, 2), addr: hex(f.addr), access: f.read ? 'read' : 'write', index: String(f.irIndex) });
      // The raw source-id and QEMU's name answer too.
      assert.ok(judge(d.asks[0]!, hex(f.sid)).ok);
      assert.ok(judge(d.asks[1]!, f.name).ok);
    }),
    { numRuns: 500, seed: 14 },
  );
});

/** Map one 4 KiB page at the IOVA with io-pgtable-arm and walk it with the SMMU model's walker. */
function armWalk(ias: number, iova: bigint): { steps: TranslationStep[]; pa: bigint; page: bigint } {
  const memory = new PhysicalMemory();
  memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x4000_0000n, kind: 'ram' });
  const pages = new PageAllocator([{ base: 0x4000_0000n, size: 0x100_0000n }]);
  const ctx = { memory, pages };
  const t = allocIoPgtableArmS1(ctx, { ias, oas: 48 });
  const page = 0x5000_0000n;
  armLpaeMap(ctx, t, iova & ~0xfffn, page, 0x1000n, IOMMU_READ | IOMMU_WRITE);
  const steps: TranslationStep[] = [];
  const w = walkVmsa(memory, { stage: 1, ttb: t.pgd, ias, startLevel: t.startLevel, oas: 48 }, iova, { write: false, privileged: false, exec: false }, steps);
  if (!w.ok) throw new Error(`walk of ${hex(iova)} failed: ${w.detail}`);
  return { steps, pa: w.oa | (iova & ((1n << BigInt(w.blockShift)) - 1n)), page };
}

/** Map one 4 KiB page with the intel-iommu page-table code and walk it with the VT-d model's walker. */
function vtdWalk(levels: number, iova: bigint): { steps: TranslationStep[]; pa: bigint; page: bigint } {
  const memory = new PhysicalMemory();
  memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x4000_0000n, kind: 'ram' });
  const pages = new PageAllocator([{ base: 0x4000_0000n, size: 0x100_0000n }]);
  const ctx = { memory, pages };
  const agaw = levels - 2;
  const pt = allocPgtable(ctx, agaw, 12 + 9 * levels, 0);
  const page = 0x5000_0000n;
  domainMapping(ctx, pt, iova & ~0xfffn, page, 0x1000n, DMA_PTE_READ | DMA_PTE_WRITE);
  const steps: TranslationStep[] = [];
  const w = walkSecondLevel(memory, { root: pt.pgd, levels, haw: 46, sllps: 0, sc: false, dt: false }, iova, false, steps);
  if (!w.ok) throw new Error(`walk of ${hex(iova)} failed: ${w.detail}`);
  return { steps, pa: w.pa, page };
}

test('iova-split: every 4K Arm and VT-d drill agrees with the walkers of the SMMU and VT-d models over tables the kernel code built', () => {
  let walked = 0;
  fc.assert(
    fc.property(seedArb, (seed) => {
      const d = drillOf('iova-split', seed);
      const iova = num(grab(d, /IOVA (0x[0-9a-f]+)/)[1]!);
      const arm = /(\d+) KiB granule, (\d+)-bit input/.exec(d.question.join('\n'));
      const vtd = /VT-d second-level tables, (\d)-level/.exec(d.question.join('\n'));
      let w;
      if (arm && arm[1] === '4') w = armWalk(Number(arm[2]), iova);
      else if (vtd) w = vtdWalk(Number(vtd[1]), iova);
      else return; // 16K/64K: the next test
      walked++;
      const answers: Record<string, string> = { offset: hex(w.pa - w.page) };
      for (const st of w.steps) answers[st.level] = String(st.index);
      assertAnswers(d, answers);
      assert.is(w.steps.length, d.asks.length - 1, 'one ask per level the walker read');
    }),
    { numRuns: 300, seed: 15 },
  );
  assert.ok(walked > 150, `only ${walked} drills were walked`);
});

test('iova-split: 16K and 64K granules as the Arm ARM lays them out (the model walks only 4K), and every split reassembles the IOVA', () => {
  const ranges = (g: 16384 | 65536, ias: number): string => levelsOf({ kind: 'arm', granule: g, ias }).map((l) => `${l.name}[${l.hi}:${l.lo}]`).join(' ');
  assert.is(ranges(16384, 48), 'L0[47:47] L1[46:36] L2[35:25] L3[24:14]');
  assert.is(ranges(16384, 36), 'L2[35:25] L3[24:14]');
  assert.is(ranges(16384, 40), 'L1[39:36] L2[35:25] L3[24:14]');
  assert.is(ranges(65536, 48), 'L1[47:42] L2[41:29] L3[28:16]');
  assert.is(ranges(65536, 42), 'L2[41:29] L3[28:16]');
  assert.is(ranges(65536, 36), 'L2[35:29] L3[28:16]');
  assert.is(levelsOf({ kind: 'arm', granule: 4096, ias: 48 }).map((l) => `${l.name}[${l.hi}:${l.lo}]`).join(' '), 'L0[47:39] L1[38:30] L2[29:21] L3[20:12]');
  // REFERENCE.md 2.1's example.
  const s = splitIova({ kind: 'arm', granule: 4096, ias: 48 }, 0x8_fa08_1002n);
  assert.equal(s.levels.map((l) => l.index), [0, 35, 464, 129]);
  assert.is(s.offset, 2n);
  fc.assert(
    fc.property(seedArb, (seed) => {
      const d = drillOf('iova-split', seed);
      const iova = num(grab(d, /IOVA (0x[0-9a-f]+)/)[1]!);
      const byId = Object.fromEntries(d.asks.map((a) => [a.id, a.value!]));
      const lv = d.asks.filter((a) => a.id !== 'offset');
      const arm = /(\d+) KiB granule, (\d+)-bit input/.exec(d.question.join('\n'));
      const fmt = arm ? ({ kind: 'arm', granule: Number(arm[1]) * 1024, ias: Number(arm[2]) } as const) : ({ kind: 'vtd', levels: Number(/(\d)-level/.exec(d.question.join('\n'))![1]) } as const);
      const layout = levelsOf(fmt as Parameters<typeof levelsOf>[0]);
      let back = byId.offset!;
      lv.forEach((a, i) => (back |= a.value! << BigInt(layout[i]!.lo)));
      assert.is(back, iova, `${d.topic} --seed ${seed}: indices and offset reassemble the IOVA`);
    }),
    { numRuns: 300, seed: 16 },
  );
});

function bounceModel(mode: string, maskBits: number, busLimit: bigint, pa: bigint, size: number): { result: string; dma: bigint } {
  const kernel = new Kernel(new Map(mode === 'force' ? [['swiotlb', 'force']] : mode === 'none' ? [['swiotlb', 'noforce']] : []));
  const memory = new PhysicalMemory();
  memory.addRegion({ name: 'ram', base: 0n, size: 1n << 50n, kind: 'ram' });
  // The pool comes from low RAM below 1 GiB, as the question says.
  const pages = new PageAllocator([{ base: 0x0400_0000n, size: 0x3000_0000n }]);
  const sw = new Swiotlb(kernel, memory, pages);
  sw.swiotlbInit(true);
  const direct = new DmaDirect(kernel, memory, pages, sw);
  const mask = maskBits >= 64 ? (1n << 64n) - 1n : (1n << BigInt(maskBits)) - 1n;
  const dev: KDevice = { name: '0000:00:02.0', master: { name: 'd', sid: 0x10, path: 'bypass' }, dmaMask: mask, coherentDmaMask: mask, busDmaLimit: busLimit, dmaOps: 'direct', coherent: true };
  const before = direct.stats().bounced;
  const r = direct.mapPage(dev, pa, size, DMA_TO_DEVICE);
  const result = r === DMA_MAPPING_ERROR ? 'fail' : direct.stats().bounced > before ? 'bounce' : 'direct';
  if (result === 'direct') assert.is(r, pa);
  return { result, dma: physToDma(dev, pa) };
}

test('swiotlb: every drill agrees with dma-direct and swiotlb in the kernel model (map, then: own address, bounce slot or DMA_MAPPING_ERROR)', () => {
  const seen = new Set<string>();
  fc.assert(
    fc.property(seedArb, (seed) => {
      const d = drillOf('swiotlb', seed);
      const q = d.question.join('\n');
      const maskBits = Number(grab(d, /DMA_BIT_MASK\((\d+)\)/)[1]);
      const bus = /bus_dma_limit (0x[0-9a-f]+)/.exec(q);
      const mode = /swiotlb=force/.test(q) ? 'force' : /swiotlb=noforce/.test(q) ? 'none' : 'pool';
      const m = grab(d, /on (\d+) bytes at physical address (0x[0-9a-f]+)/);
      const size = Number(m[1]);
      const pa = num(m[2]!);
      const r = bounceModel(mode, maskBits, bus ? num(bus[1]!) : 0n, pa, size);
      seen.add(r.result);
      assertAnswers(d, { result: r.result, last: hex(r.dma + BigInt(size) - 1n) });
    }),
    { numRuns: 300, seed: 17 },
  );
  assert.equal([...seen].sort(), ['bounce', 'direct', 'fail'], 'every outcome occurs');
});

test('vring: every drill agrees with the machine model\'s vringLayout (src/machine/virtio/ring.ts), and REFERENCE.md 7.2\'s table holds', () => {
  fc.assert(
    fc.property(seedArb, (seed) => {
      const d = drillOf('vring', seed);
      const q = d.question.join('\n');
      const legacy = /QueuePFN (0x[0-9a-f]+) for a queue of (\d+) entries/.exec(q);
      const modern = /split ring of (\d+) entries as one block at (0x[0-9a-f]+)/.exec(q);
      const base = legacy ? num(legacy[1]!) << 12n : num(modern![2]!);
      const n = Number(legacy ? legacy[2] : modern![1]);
      const l = vringLayout(base, n, legacy ? 4096 : 64);
      assert.is(l.desc, base);
      assertAnswers(d, { avail: hex(l.avail), used: hex(l.used), size: String(l.size) });
    }),
    { numRuns: 500, seed: 18 },
  );
  for (const [n, align, size, avail, used] of [[128, 4096, 0x1406, 0x800, 0x1000], [256, 4096, 0x2806, 0x1000, 0x2000], [128, 64, 0xd46, 0x800, 0x940], [256, 64, 0x1a46, 0x1000, 0x1240]] as const) {
    const l = vringLayout(0n, n, align);
    assert.equal([l.size, Number(l.avail), Number(l.used)], [size, avail, used], `REFERENCE.md 7.2 N=${n} align=${align}`);
  }
});

test('answers are compared as values: hex, decimal, size suffixes and expressions; words without case', () => {
  const d = drillOf('vring', 2);
  const size = d.asks.find((a) => a.id === 'size')!;
  const v = size.value!;
  for (const form of [String(v), hex(v), `0X${v.toString(16).toUpperCase()}`, `${v - 6n} + 6`]) assert.ok(judge(size, form).ok, form);
  assert.not.ok(judge(size, String(v + 1n)).ok);
  const bad = judge(size, 'zz');
  assert.ok(!bad.ok && bad.unreadable, 'not a number: asked again, not counted wrong');
  const e = drillOf('smmu-event', 1);
  assert.ok(judge(e.asks[0]!, e.asks[0]!.show.toLowerCase()).ok);
});

test.run();
