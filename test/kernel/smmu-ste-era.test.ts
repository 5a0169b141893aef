// Which STE fields Linux writes, per era (issue 11 item 12), read back from the stream table.
// Sources: v4.1x drivers/iommu/arm-smmu-v3.c arm_smmu_write_strtab_ent (S1CIR/S1COR WBRA, S1CSH ISH,
// EATS_TRANS under CONFIG_PCI_ATS, STRW NSEL1; bypass/abort dword 1 = SHCFG_INCOMING); v6.1
// drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c arm_smmu_write_strtab_ent (S1DSS_SSID0, EATS only with
// ATS, SHCFG_INCOMING on bypass and abort); v6.9+ arm_smmu_make_cdtable_ste / make_abort_ste /
// make_bypass_ste (abort dword 1 zero, bypass SHCFG only with ATTR_TYPES_OVR).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { booted, ok, text } from '../commands/helpers.ts';

/** The first two dwords of SID's STE, from `smmu ste`'s hex dump. */
function steDwords(preset: string, args: string, sid: number): [bigint, bigint] {
  const s = booted(preset, args);
  const m = /^\s+[0-9a-f]{16}: (0x[0-9a-f]{16}) (0x[0-9a-f]{16})$/m.exec(text(ok(s, `smmu ste ${sid}`)));
  if (!m) throw new Error('no STE dump');
  return [BigInt(m[1]!), BigInt(m[2]!)];
}

const SHCFG_INCOMING = 1n << 44n;
const S1_DW1_COMMON = (1n << 2n) | (1n << 4n) | (3n << 6n); // S1CIR WBRA, S1COR WBRA, S1CSH ISH, STRW NS-EL1 (0)

test('4.10 (fast model): stage-1 STE with EATS = TRANS (CONFIG_PCI_ATS) and no S1DSS', () => {
  const [d0, d1] = steDwords('arm-fastmodel', 'kernel=4.10', 0);
  assert.is(d0 & 0xfn, 0xbn); // V, Config 0b101
  assert.is(d1, S1_DW1_COMMON | (1n << 28n));
});

test('4.10: an unattached StreamID is bypass with SHCFG = incoming (disable_bypass=0)', () => {
  const [d0, d1] = steDwords('arm-fastmodel', 'kernel=4.10', 1);
  assert.is(d0, 0x9n);
  assert.is(d1, SHCFG_INCOMING);
});

test('6.1: stage-1 STE with S1DSS = SSID0 and EATS = 0 (no ATS)', () => {
  const [, d1] = steDwords('qemu-virt-smmuv3', 'kernel=6.1 vda.iommu_platform=on', 8);
  assert.is(d1, S1_DW1_COMMON | 2n);
});

test('6.1: an unattached StreamID aborts, and write_strtab_ent still sets SHCFG', () => {
  const [d0, d1] = steDwords('qemu-virt-smmuv3', 'kernel=6.1 vda.iommu_platform=on', 9);
  assert.is(d0, 0x1n);
  assert.is(d1, SHCFG_INCOMING);
});

test('6.x (make_*_ste): the abort STE is V and Config only; the S1 STE keeps S1DSS = SSID0', () => {
  const [d0, d1] = steDwords('qemu-virt-smmuv3', 'kernel=6.x vda.iommu_platform=on', 9);
  assert.is(d0, 0x1n);
  assert.is(d1, 0n);
  const [, s1] = steDwords('qemu-virt-smmuv3', 'kernel=6.x vda.iommu_platform=on', 8);
  assert.is(s1, S1_DW1_COMMON | 2n);
});

test('6.x: an identity domain gets a bypass STE without SHCFG (no ATTR_TYPES_OVR on QEMU 7.2)', () => {
  const [d0, d1] = steDwords('qemu-virt-smmuv3', 'kernel=6.x vda.iommu_platform=on iommu.passthrough=1', 8);
  assert.is(d0, 0x9n);
  assert.is(d1, 0n);
});

test('6.1: the same identity domain sets SHCFG = incoming', () => {
  const [d0, d1] = steDwords('qemu-virt-smmuv3', 'kernel=6.1 vda.iommu_platform=on iommu.passthrough=1', 8);
  assert.is(d0, 0x9n);
  assert.is(d1, SHCFG_INCOMING);
});

test.run();
