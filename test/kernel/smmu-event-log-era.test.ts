// Which kernels print SMMU events decoded: a booted machine, end to end.
// Linux 6.1 prints only the raw dump (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c,
// arm_smmu_evtq_thread, v6.1); the decoded "event: ... client: ... sid:" lines
// came with "iommu/arm-smmu-v3: Log better event records" (d814b70b9b90, v6.14).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { booted, ok, text } from '../commands/helpers.ts';

function eventLog(kernel: string): string {
  const s = booted('qemu-virt-smmuv3', `kernel=${kernel} vda.iommu_platform=on`);
  s.execute('devdma read vda 0x8fa081000 4'); // an IOVA nothing maps: F_TRANSLATION
  return text(ok(s, 'dmesg'));
}

test('kernel=6.1: "event 0x10 received:" and the raw dwords, no decoded line', () => {
  const log = eventLog('6.1');
  assert.match(log, /event 0x10 received:\n.*\t0x[0-9a-f]{16}/);
  assert.not.match(log, /event: F_TRANSLATION/);
});

test('kernel=6.x (v6.14+): the raw dump, then the decoded line', () => {
  const log = eventLog('6.x');
  assert.match(log, /event 0x10 received:/);
  assert.match(log, /event: F_TRANSLATION client: 0000:00:01\.0 sid: 0x8 ssid: 0x0 iova: 0x8fa081000/);
});

test.run();
