/** swiotlb bounces appear in the DMA trace, in line with the device accesses they serve. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import type { TraceRecord } from '../../src/machine/trace.ts';

test('a 32-bit-mask device in passthrough: the map copies the buffer into a low slot, traced as a CPU copy', () => {
  const s = createSession('x86-q35-vtd');
  for (const l of ['boot iommu=pt', 'dma mask vda 32']) assert.ok(s.execute(l).ok, l);
  s.machine.memory.write(0x1_2000_0000n, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
  const o = s.execute('dma map vda 0x120000000 4096 to_device');
  assert.ok(o.ok);
  const slot = (o.ok && !o.empty ? (o.result.data as { dma: bigint }).dma : 0n) as bigint;
  assert.ok(slot < 0x1_0000_0000n, 'the slot is below 4 GiB');
  const recs = s.machine.trace.records() as TraceRecord[];
  const last = recs[recs.length - 1]!;
  assert.is(last.cpu, 'swiotlb');
  assert.is(last.device, 'vda');
  assert.is(last.addr, 0x1_2000_0000n);
  assert.equal(last.outcome, { kind: 'ok', pa: slot });
  assert.is(last.len, 4096);
  // the bytes really moved
  assert.equal([...s.machine.memory.read(slot, 4)], [0xde, 0xad, 0xbe, 0xef]);
  const shown = s.execute('trace show 1');
  assert.ok(shown.ok && !shown.empty);
  if (shown.ok && !shown.empty) assert.match(shown.result.lines.map((l) => l.map((x) => x.text).join('')).join('\n'), 'CPU copy by swiotlb: 0x120000000 -> ');
});

test.run();
