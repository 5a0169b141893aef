// xen commands: results as data, checked against REFERENCE.md §8 values; errors name Xen's status and point at the token.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { GTF_permit_access, GTF_reading, GTF_writing, GTF_readonly } from '../../src/machine/xen/abi.ts';

const run = (s: ReturnType<typeof createSession>, l: string) => {
  const o = s.execute(l);
  if (!o.ok) throw new Error(`${l}: ${o.error.message}`);
  if (o.empty) throw new Error('empty');
  return o.result.data as Record<string, unknown>;
};

test('grant, map: the entry in memory carries GTF_permit_access, then Xen adds GTF_reading|GTF_writing', () => {
  const s = createSession('xen-arm');
  assert.is(run(s, 'xen grant 0x40800').ref, 8);
  assert.is(run(s, 'xen entry 1 8').flags, GTF_permit_access);
  assert.is(run(s, 'xen entry 1 8').frame, 0x40800);
  const m = run(s, 'xen map 8');
  assert.is(m.handle, 0);
  assert.is(m.mfn, 0x607ff);
  assert.ok(m.pfn !== m.mfn);
  assert.is(run(s, 'xen entry 1 8').flags, GTF_permit_access | GTF_reading | GTF_writing);
  run(s, 'xen unmap 0');
  assert.is(run(s, 'xen entry 1 8').flags, GTF_permit_access);
});

test('a read-only grant refuses a writable map with GNTST_general_error (-1) and changes nothing', () => {
  const s = createSession('xen-arm');
  run(s, 'xen grant 0x40801 ro=yes');
  assert.is(run(s, 'xen entry 1 8').flags, GTF_permit_access | GTF_readonly);
  const o = s.execute('xen map 8');
  assert.not.ok(o.ok);
  if (!o.ok) {
    assert.match(o.error.message, 'GNTST_general_error (-1)');
    assert.match(o.error.message, 'Attempt to write-pin a r/o grant entry');
    assert.equal(o.error.span, { start: 8, end: 9 });
  }
  assert.is(run(s, 'xen entry 1 8').flags, GTF_permit_access | GTF_readonly);
  assert.is(run(s, 'xen map 8 ro=yes').handle, 0);
  assert.is(run(s, 'xen entry 1 8').flags, GTF_permit_access | GTF_readonly | GTF_reading);
});

test('bad handle and bad domain: GNTST_bad_handle (-4), GNTST_bad_domain (-2), GNTST_bad_gntref (-3)', () => {
  const s = createSession('xen-arm');
  const e = (l: string) => {
    const o = s.execute(l);
    return o.ok ? '' : o.error.message;
  };
  assert.match(e('xen unmap 5'), 'GNTST_bad_handle (-4)');
  assert.match(e('xen map 8 dom=7'), 'GNTST_bad_domain (-2)');
  assert.match(e('xen map 512'), 'GNTST_bad_gntref (-3)');
  assert.match(e('xen map 8 flags=0'), 'GNTST_bad_gntref (-3)');
  assert.match(e('xen query 0 as=1'), 'GNTST_permission_denied (-8)');
  assert.match(e('xen grants 3'), 'no domain 3');
});

test('the DMA trace shows pfn -> bfn -> bus and the device access', () => {
  const s = createSession('xen-arm');
  run(s, 'xen grant 0x40800');
  run(s, 'xen map 8');
  assert.is(run(s, 'xen dmamap 0x4f000000 512 from_device').dma, 0x607ff000n);
  run(s, 'xen sda read 0 0x607ff000');
  const items = run(s, 'xen trace').items as { kind: string; text: string }[];
  assert.match(items[0]!.text, 'pfn 0x4f000 -> bfn 0x607ff -> bus 0x607ff000');
  assert.is(items[1]!.kind, 'dma');
  assert.is(run(s, 'xen read 1 0x40800000+510 2').bytes, '55aa');
});

test('xen commands on a machine without Xen say so', () => {
  const s = createSession('arm-virt');
  const o = s.execute('xen list');
  assert.not.ok(o.ok);
  if (!o.ok) assert.match(o.error.message, "has no Xen");
});

test.run();
