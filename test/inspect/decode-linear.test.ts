// Regression (issue 12 item 7): decode was quadratic in the log's length
// (each report counted the newlines before it, each DMAR report split the
// whole text): 4 MB of mixed log took 22 s. Four times the log must take
// about four times as long, not sixteen.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeLog, linesNotUnderstood } from '../../src/inspect/decode.ts';

const EV = '[ 1.211721] arm-smmu-v3 2b400000.smmu: event 0x10 received:\n[ 1.211800] arm-smmu-v3 2b400000.smmu: \t0x00000000fffff010\n[ 1.211880] arm-smmu-v3 2b400000.smmu: \t0x0000020800000000\n[ 1.211959] arm-smmu-v3 2b400000.smmu: \t0x00000008fa081002\n[ 1.212075] arm-smmu-v3 2b400000.smmu: \t0x0000000000000000\n';
const DM = '[   12.345] DMAR: [DMA Read NO_PASID] Request device [00:02.0] fault addr 0x100000 [fault reason 0x06] PTE Read access is not set\n';
const NOISE = '[    1.000] usb 1-1: new high-speed USB device number 2 using xhci_hcd\n';
const log = (blocks: number): string => (EV + DM + NOISE + DM).repeat(blocks);

test('decode scales linearly: 4x the log, well under 16x the time; every report found', () => {
  const time = (t: string): number => {
    const s = performance.now();
    const r = decodeLog(t);
    assert.is(r.length, (t.length / (EV + DM + NOISE + DM).length) * 3);
    return performance.now() - s;
  };
  time(log(200)); // warm up
  const small = Math.max(time(log(1000)), 1);
  const big = time(log(4000));
  assert.ok(big < small * 10, `4x the log took ${(big / small).toFixed(1)}x as long (${big.toFixed(0)} ms)`);
});

test('the summary counts the non-empty lines no report accounts for (noise), not the reports or status lines', () => {
  const t = log(3) + '\n\nrandom text\n[  1.0] DMAR: DRHD: handling fault status reg 2\n';
  assert.is(linesNotUnderstood(t, decodeLog(t)), 3 + 1);
});

test.run();
