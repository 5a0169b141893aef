// Streaming decode (issue 12 item 7) gives exactly what decoding the whole
// text gives: the same reports on the same lines, the same "not understood"
// count, whatever the chunk sizes, with small segments to force many cuts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { decodeLog, linesNotUnderstood, type DecodedReport } from '../../src/inspect/decode.ts';
import { LogDecoder } from '../../src/inspect/decode-stream.ts';

const EV = (t: string, w: string) => `[ ${t}] arm-smmu-v3 2b400000.smmu: event 0x10 received:\n[ ${t}] arm-smmu-v3 2b400000.smmu: \t0x00000000fffff010\n[ ${t}] arm-smmu-v3 2b400000.smmu: \t0x0000020800000000\n[ ${t}] arm-smmu-v3 2b400000.smmu: \t0x00000008fa08100${w}\n[ ${t}] arm-smmu-v3 2b400000.smmu: \t0x0000000000000000\n`;
const PIECES = [
  EV('1.211721', '2'),
  EV('2.000000', '0'),
  '[   12.345000] DMAR: DRHD: handling fault status reg 2\n',
  '[   12.345010] DMAR: [DMA Read NO_PASID] Request device [00:02.0] fault addr 0x100000 [fault reason 0x06] PTE Read access is not set\n',
  'DMAR:[DMA Write] Request device [00:03.0] fault addr 2000 \nDMAR:[fault reason 05] PTE Write access is not set\n',
  '[    1.000000] usb 1-1: new high-speed USB device number 2 using xhci_hcd\n',
  '\n',
  'random words without a newline ',
];
const key = (r: DecodedReport): string => JSON.stringify([r.kind, r.line, r.kind === 'arm-smmu-v3-event' ? r.record.raw : [r.record.sid, r.record.reason, r.record.fsts]], (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v));

test('streamed in random chunks with tiny segments: the same reports, lines and summary as the whole text', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 120 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), (parts, sizes) => {
      const text = parts.join('');
      const whole = decodeLog(text);
      const d = new LogDecoder(1500, 700);
      const got: DecodedReport[] = [];
      let at = 0;
      for (let i = 0; at < text.length; i++) {
        const n = sizes[i % sizes.length]!;
        got.push(...d.push(text.slice(at, at + n)));
        at += n;
      }
      got.push(...d.end());
      assert.equal(got.map(key), whole.map(key));
      assert.is(d.notUnderstood, linesNotUnderstood(text, whole));
    }),
    { numRuns: 300, seed: 5 },
  );
});

test.run();
