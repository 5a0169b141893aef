// Issue 14's commands as commands: errors say what was wrong and change
// nothing; `dma check` leaves the session's machine alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';

const booted = (opts = 'iommu.passthrough=1 vda.iommu_platform=on vda.coherent=no') => {
  const s = createSession('qemu-virt-smmuv3');
  assert.ok(s.execute(`boot ${opts}`).ok);
  return s;
};
const err = (s: ReturnType<typeof createSession>, line: string): string => {
  const o = s.execute(line);
  assert.not.ok(o.ok, `${line} should fail`);
  return o.ok ? '' : o.error.message;
};

test('cpu read expect= that fails leaves the cache as it was (a failed command changes nothing)', () => {
  const s = booted();
  assert.ok(s.execute('cpu write 0x50000000 0x11 64').ok);
  const before = s.machine.cpuCache!.linesIn(0x50000000n, 4096).map((l) => `${l.line}:${l.dirty}`).join();
  const fills = s.machine.cpuCache!.stats.fills;
  assert.match(err(s, 'cpu read 0x50001000 64 expect=0xab'), /expected 0xab/);
  assert.is(s.machine.cpuCache!.linesIn(0x50000000n, 4096).map((l) => `${l.line}:${l.dirty}`).join(), before);
  assert.is(s.machine.cpuCache!.stats.fills, fills);
});

test('cpu commands refuse what is not RAM, and too much at once', () => {
  const s = booted();
  assert.match(err(s, 'cpu read 0x09000000 4'), /not inside RAM/);
  assert.match(err(s, 'cpu write 0x50000000 0x100 4'), /not a byte/);
  assert.match(err(s, 'cpu read 0x50000000 0x100000'), /stated limit/);
});

test('cpu cache without a non-coherent device says there is no cache to show', () => {
  const s = booted('iommu.passthrough=1 vda.iommu_platform=on');
  const o = s.execute('cpu cache');
  assert.ok(o.ok && !o.empty && (o.result.data as { modelled: boolean }).modelled === false);
});

test('dma script: names, steps a driver may use, limits', () => {
  const s = createSession('qemu-virt-smmuv3');
  assert.match(err(s, 'dma script rx "boot; dma map vda 0x50000000 64 to_device"'), /not a command a driver script may use/);
  assert.match(err(s, 'dma script 9x "xp 0x50000000"'), /not a script name/);
  assert.match(err(s, 'dma script rx ""'), /empty script/);
  assert.match(err(s, 'dma check nope'), /no script 'nope'/);
  assert.ok(s.execute('dma script tx "dma map vda 0x50000000 64 to_device; dma mapping-error vda $; devdma read vda $ 64; dma unmap vda $"').ok);
  const o = s.execute('dma script tx');
  assert.ok(o.ok && !o.empty && (o.result.data as { steps: string[] }).steps.length === 4);
});

test('dma check runs on fresh machines and never touches the session', () => {
  const s = booted();
  assert.ok(s.execute('cpu write 0x50000000 0x11 64').ok);
  const fp = () => JSON.stringify([s.kernel.dmesg().length, s.machine.cpuCache!.size, s.machine.trace.records().length, s.undoDepth]);
  const before = fp();
  const o = s.execute('dma check "dma map vda 0x50000000 64 to_device; dma mapping-error vda $; devdma read vda $ 64; dma unmap vda $"');
  assert.ok(o.ok && !o.empty);
  assert.is((o.result.data as { passed: number }).passed, 4);
  assert.is(fp(), before);
  // A device access after the unmap: the strict IOMMU faults, dma-direct's dma-debug (the lab) reports it.
  const bad = s.execute('dma check "dma map vda 0x50000000 64 to_device; dma mapping-error vda $; dma unmap vda $; devdma read vda 0x50000000 64"');
  assert.ok(bad.ok && !bad.empty);
  const rows = (bad.result.data as { rows: { config: string; pass: boolean; why: string }[] }).rows;
  assert.match(rows.find((r) => r.config === 'coherent')!.why, /^dma-lab: .*after dma_unmap_single/);
});

test.run();
