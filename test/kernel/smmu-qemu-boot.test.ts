// Linux probing QEMU 7.2's SMMUv3 (issue 11 item 2), end to end on qemu-virt-smmuv3.
// Sources: linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c (arm_smmu_device_hw_probe's
// "ias %lu-bit, oas %lu-bit (features 0x%08x)", arm_smmu_init_one_queue's "allocated %u
// entries for %s", since v5.3 d25f6ead162e with Q_MAX_SZ_SHIFT = PAGE_SHIFT +
// CONFIG_CMA_ALIGNMENT); QEMU hw/arm/smmuv3.c smmuv3_init_regs (IDR1 CMDQS/EVENTQS 19,
// IDR5 OAS 44-bit, IDR3 RIL; no stage 2).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { booted, ok, text } from '../commands/helpers.ts';
import { get } from '../../src/machine/fields.ts';
import * as C from '../../src/machine/smmuv3/cmd.ts';
import type { SmmuV3 } from '../../src/machine/smmuv3/smmuv3.ts';
import type { Session } from '../../src/commands/session.ts';

/** The TLBI_NH_VA commands written to the command queue since `from` (its PROD then). */
function tlbis(s: Session, from: number): { num: number; scale: number; tg: number; ttl: number; addr: bigint }[] {
  const smmu = s.system.machine.iommus[0] as SmmuV3;
  const q = smmu.commandQueue();
  const out = [];
  const n = 1 << q.shift;
  for (let p = from; (p & (2 * n - 1)) !== (q.prod & (2 * n - 1)); p = (p + 1) & (2 * n - 1)) {
    const w = s.system.machine.memory.readWords(q.base + BigInt(16 * (p & (n - 1))), 2);
    if (Number(w[0]! & 0xffn) !== C.CMD_TLBI_NH_VA) continue;
    const g = (f: string): bigint => get(C.cmdLayout(C.CMD_TLBI_NH_VA), w, f);
    out.push({ num: Number(g('NUM')), scale: Number(g('SCALE')), tg: Number(g('TG')), ttl: Number(g('TTL')), addr: g('Address') });
  }
  return out;
}
const cmdqProd = (s: Session): number => (s.system.machine.iommus[0] as SmmuV3).commandQueue().prod;

const dmesg = (preset: string, args: string): string => text(ok(booted(preset, args), 'dmesg'));

for (const kernel of ['5.14', '6.1', '6.x']) {
  test(`kernel=${kernel} on QEMU 7.2: 44-bit ias/oas, features 0x00008305, 65536/32768-entry queues`, () => {
    const log = dmesg('qemu-virt-smmuv3', `kernel=${kernel} vda.iommu_platform=on`);
    // 0x8305 = 2_LVL_STRTAB (0) | TT_LE (2) | COHERENCY (8) | TRANS_S1 (9) | RANGE_INV (15).
    assert.match(log, /arm-smmu-v3 9050000\.smmuv3: ias 44-bit, oas 44-bit \(features 0x00008305\)\n.*arm-smmu-v3 9050000\.smmuv3: allocated 65536 entries for cmdq\n.*arm-smmu-v3 9050000\.smmuv3: allocated 32768 entries for evtq\n/);
  });
}

test('kernel=4.10 on QEMU: the 2017 driver reads no IDR3 and prints no queue sizes', () => {
  const log = dmesg('qemu-virt-smmuv3', 'kernel=4.10 vda.iommu_platform=on');
  assert.match(log, /ias 44-bit, oas 44-bit \(features 0x00000305\)/);
  assert.not.match(log, /allocated \d+ entries/);
});

test("the fast model keeps its own: 48-bit, stage 2, and (6.1) IDR1's 256/128-entry queues", () => {
  const log = dmesg('arm-fastmodel', 'kernel=6.1');
  assert.match(log, /ias 48-bit, oas 48-bit \(features 0x00000705\)/);
  assert.match(log, /allocated 256 entries for cmdq\n.*allocated 128 entries for evtq/);
});

test("the CD's IPS follows the 44-bit oas (io-pgtable oas = smmu->ias)", () => {
  const s = booted('qemu-virt-smmuv3', 'kernel=6.1 vda.iommu_platform=on');
  assert.match(text(ok(s, 'smmu cd 8')), /IPS\s+dw0\[34:32\]\s+4 \(44 bits\)/);
});

test('an 8-byte device read that faults: two raw event dumps, one per 4-byte half (QEMU memory core)', () => {
  const s = booted('qemu-virt-smmuv3', 'kernel=6.1 vda.iommu_platform=on');
  s.execute('devdma read vda 0x8fa081000 8');
  const log = text(ok(s, 'dmesg'));
  // dword 1 = RnW only (CLASS 0: QEMU 7.2 fills no CLASS for F_TRANSLATION); dword 2 = the input address.
  assert.match(log, /event 0x10 received:\n.*\t0x0000000800000010\n.*\t0x0000000800000000\n.*\t0x00000008fa081000\n.*\t0x0000000000000000\n.*event 0x10 received:\n.*\t0x0000000800000010\n.*\t0x0000000800000000\n.*\t0x00000008fa081004\n/);
});

test('RANGE_INV (QEMU IDR3.RIL): unmapping 4 pages is one range TLBI (TG 4K, TTL 3, SCALE 2, NUM 0), and it drops all four', () => {
  const s = booted('qemu-virt-smmuv3', 'kernel=6.1 vda.iommu_platform=on iommu.strict=1');
  const m = ok(s, 'dma map vda 0x41000000 16384 DMA_BIDIRECTIONAL').data as { dma: bigint };
  for (let i = 0n; i < 4n; i++) ok(s, `devdma read vda ${m.dma + i * 4096n} 4`);
  const p = cmdqProd(s);
  ok(s, `dma unmap vda ${m.dma}`);
  assert.equal(tlbis(s, p), [{ num: 0, scale: 2, tg: 1, ttl: 3, addr: m.dma }]);
  for (let i = 0n; i < 4n; i++) assert.match(text(ok(s, `devdma read vda ${m.dma + i * 4096n} 4`)), /F_TRANSLATION/);
});

test('without RANGE_INV (the fast model, 6.1): one TLBI_NH_VA per 4K page, no TG', () => {
  const s = booted('arm-fastmodel', 'kernel=6.1 iommu.strict=1');
  const m = ok(s, 'dma map vda 0x80000000 16384 DMA_BIDIRECTIONAL').data as { dma: bigint };
  const p = cmdqProd(s);
  ok(s, `dma unmap vda ${m.dma}`);
  assert.equal(tlbis(s, p).map((t) => [t.tg, t.num, t.scale, t.addr - m.dma]), [0n, 1n, 2n, 3n].map((i) => [0, 0, 0, i * 4096n]));
});

test("smmu events explains QEMU's CLASS 0 on a translation fault", () => {
  const s = booted('qemu-virt-smmuv3', 'kernel=6.1 vda.iommu_platform=on');
  s.execute('devdma read vda 0x8fa081000 4');
  assert.match(text(ok(s, 'smmu events')), /CLASS reads 0 \(CD fetch\), as QEMU 7\.2 writes every such fault/);
  const f = booted('arm-fastmodel');
  assert.not.match(text(ok(f, 'smmu events')), /CLASS reads 0/);
});

test.run();
