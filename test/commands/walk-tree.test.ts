// `walk DEV IOVA show=tree` (issue 13, "pictures"): the IOVA cut into the
// 4 KiB-granule index fields each level uses (VMSAv8-64 / io-pgtable-arm:
// L0 [47:39] L1 [38:30] L2 [29:21] L3 [20:12]; VT-d PDP [38:30] PD [29:21]
// PT [20:12]) and one branch per level ending at the PA or the fault.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { booted, ok, text } from './helpers.ts';

const fieldsOf = (iova: bigint, shifts: number[]): string[] => shifts.map((sh) => String(Number((iova >> BigInt(sh)) & 0x1ffn)));

test('SMMUv3: every L0-L3 index of the IOVA, the path of tables from TTB0, and the PA', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on');
  const iova = 0xffffd002n;
  const r = ok(s, `walk vda 0x${iova.toString(16)} show=tree`);
  const t = text(r);
  const idx = t.split('\n').find((l) => l.trim().startsWith('index'))!.trim().split(/\s+/).slice(1);
  assert.equal(idx.slice(0, 4), fieldsOf(iova, [39, 30, 21, 12]));
  assert.is(idx[4], '0x2');
  const steps = (r.data as { steps: { level: string; tableAddr: bigint; index: number }[]; pa: bigint }).steps.filter((x) => /^L[0-3]$/.test(x.level));
  for (const st of steps) assert.match(t, `└─[${st.index}] ${st.level} table 0x${st.tableAddr.toString(16)} [${st.index}]`);
  assert.match(t, `+ 0x2 -> PA 0x${(r.data as { pa: bigint }).pa.toString(16)}`);
});

test('a fault still shows all four fields and ends the path at the invalid level', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on');
  const t = text(ok(s, 'walk vda 0x1000 show=tree'));
  assert.match(t, /level\s+L0\s+L1\s+L2\s+L3\s+offset/);
  assert.match(t, /index\s+0\s+0\s+0\s+1\s+0x0/);
  assert.match(t, '└─ FAULT F_TRANSLATION');
});

test('VT-d (39-bit, 3 levels): PDP, PD and PT fields', () => {
  const s = booted('x86-q35-vtd');
  const iova = 0xfffff000n;
  const t = text(ok(s, `walk vda 0x${iova.toString(16)} show=tree`));
  assert.match(t, /level\s+PDP\s+PD\s+PT\s+offset/);
  const idx = t.split('\n').find((l) => l.trim().startsWith('index'))!.trim().split(/\s+/).slice(1, 4);
  assert.equal(idx, fieldsOf(iova, [30, 21, 12]));
});

test.run();
