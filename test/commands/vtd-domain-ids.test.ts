// VT-d domain ids by era, and every place that prints them agreeing.
// Linux 6.1 (drivers/iommu/intel/iommu.c iommu_init_domains): DID 0 reserved,
// DID 1 reserved only in scalable mode -- QEMU's unit is legacy mode, so the
// first domain gets DID 1 and the identity (si_domain) takes a free id like any
// other. The ida rework (May 2025) starts at IDA_START_DID 2 and puts
// pass-through entries on FLPT_DEFAULT_DID 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { booted, ok, text } from './helpers.ts';

const didOf = (t: string): string => /DID\s+\[87:72\]\s+(\d+)/.exec(t)![1]!;

test('6.1, translated: vda DID 2 (00:00.0 took DID 1); `dma map` names the same DID as `vtd context`', () => {
  const s = booted('x86-q35-vtd');
  const ctx = text(ok(s, 'vtd context vda'));
  assert.is(didOf(ctx), '2');
  assert.is(didOf(text(ok(s, 'vtd context host-bridge'))), '1');
  const m = text(ok(s, 'dma map vda 0x100000000 4096 to_device'));
  assert.match(m, `(DID ${didOf(ctx)} on dmar0) now maps`);
});

test('6.1, iommu=pt: one identity domain, DID 1 on every device', () => {
  const s = booted('x86-q35-vtd', 'iommu=pt');
  for (const d of ['vda', 'nic0']) {
    const t = text(ok(s, `vtd context ${d}`));
    assert.match(t, 'TT=2 pass-through');
    assert.is(didOf(t), '1');
  }
});

test('6.x (ida era): translated domains from DID 2, pass-through on FLPT_DEFAULT_DID 1', () => {
  const s = booted('x86-q35-vtd', 'kernel=6.x');
  assert.is(didOf(text(ok(s, 'vtd context host-bridge'))), '2');
  const pt = booted('x86-q35-vtd', 'kernel=6.x iommu=pt');
  assert.is(didOf(text(ok(pt, 'vtd context vda'))), '1');
});

test.run();
