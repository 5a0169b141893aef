/**
 * iova-split against the `walk` command itself: IOVAs drawn as the drills
 * draw them are mapped through VFIO (MAP_DMA puts a page at any valid
 * IOVA) on an SMMUv3 machine and on a VT-d machine, and the walk's steps
 * must read the table entries at exactly the indices the drill expects.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { hex } from '../../src/machine/u64.ts';
import { Rng } from '../../src/practice/rng.ts';
import { generateIova, splitIova, type SplitFormat } from '../../src/practice/iova-split.ts';
import { ok, booted } from '../commands/helpers.ts';
import type { Session } from '../../src/commands/session.ts';

interface WalkData {
  ok: boolean;
  pa?: bigint;
  steps: { level: string; index?: number }[];
}

function vfioSession(preset: string, bootArgs: string, dev: string, group: number): Session {
  const s = booted(preset, bootArgs);
  for (const l of [`driver override ${dev} vfio-pci`, `driver unbind ${dev}`, `driver bind ${dev}`, `vfio attach ${group}`, 'vfio set-iommu']) ok(s, l);
  return s;
}

function check(s: Session, dev: string, fmt: SplitFormat, bits: number, seeds: number, fcSeed: number): number {
  let walked = 0;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (seed) => {
      const iova = generateIova(new Rng(seed), bits);
      const page = iova & ~0xfffn;
      const m = s.execute(`vfio map ${hex(page)} 0x1000`);
      if (!m.ok) return; // outside the valid IOVA list (reserved regions): not a drill's concern
      try {
        const w = ok(s, `walk ${dev} ${hex(iova)}`).data as WalkData;
        assert.ok(w.ok, `walk of ${hex(iova)}`);
        const split = splitIova(fmt, iova);
        const tableSteps = w.steps.filter((st) => split.levels.some((l) => l.name === st.level));
        assert.equal(tableSteps.map((st) => [st.level, st.index]), split.levels.map((l) => [l.name, l.index]), `indices of ${hex(iova)}`);
        assert.is(w.pa! & ((1n << BigInt(split.offsetBits)) - 1n), split.offset, 'the page offset survives translation');
        walked++;
      } finally {
        ok(s, `vfio unmap ${hex(page)} 0x1000`);
      }
    }),
    { numRuns: seeds, seed: fcSeed },
  );
  return walked;
}

test('Arm SMMUv3 (qemu-virt-smmuv3, 4K granule, 48-bit): the walk command reads the indices the drill expects', () => {
  const s = vfioSession('qemu-virt-smmuv3', 'vda.iommu_platform=on', 'vda', 0);
  const n = check(s, 'vda', { kind: 'arm', granule: 4096, ias: 48 }, 48, 60, 21);
  assert.ok(n >= 40, `walked ${n}`);
});

for (const [aw, levels] of [['39', 3], ['48', 4]] as const) {
  test(`Intel VT-d (x86-q35-vtd, intel-iommu.aw-bits=${aw}, ${levels}-level tables): the walk command reads the indices the drill expects`, () => {
    const s = vfioSession('x86-q35-vtd', `intel-iommu.aw-bits=${aw}`, 'nic0', 2);
    const ctx = (ok(s, `walk nic0 0x100000`).data as { steps: { level: string; fields?: Record<string, bigint> }[] }).steps.find((x) => x.level === 'context');
    assert.is(Number(ctx!.fields!.AW!) + 2, levels, `the domain walks ${levels} levels`);
    const n = check(s, 'nic0', { kind: 'vtd', levels }, 12 + 9 * levels, 60, 22 + levels);
    assert.ok(n >= 40, `walked ${n}`);
  });
}

test.run();
