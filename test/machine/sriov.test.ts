/**
 * The SR-IOV extended capability (PCIe Base spec 9.3.3; offsets as
 * include/uapi/linux/pci_regs.h PCI_SRIOV_*): header ID 0x0010 at 0x100,
 * TotalVFs/NumVFs/First VF Offset/VF Stride/VF Device ID; VFs appear only
 * with VF Enable and an index below NumVFs; VF RID = PF RID + offset +
 * index * stride; a VF's own Vendor/Device ID registers read 0xffff.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PciHostBridge } from '../../src/machine/pci.ts';
import { SriovPf, SRIOV_CAP_OFFSET, PCI_SRIOV_CTRL, PCI_SRIOV_NUM_VF, PCI_SRIOV_TOTAL_VF, PCI_SRIOV_VF_OFFSET, PCI_SRIOV_VF_STRIDE, PCI_SRIOV_VF_DID, PCI_EXT_CAP_ID_SRIOV } from '../../src/machine/sriov.ts';

const make = () => {
  const host = new PciHostBridge({ name: 'h', segment: 2, busStart: 0x80, busEnd: 0x8f, ecamBase: 0x1000_0000n, windows: [] });
  const pf = new SriovPf({ name: 'pf0', bdf: { segment: 2, bus: 0x81, dev: 0, fn: 0 }, vendorId: 0x8086, deviceId: 0x10fb, classCode: 0x020000, description: 'pf', totalVfs: 63, vfDeviceId: 0x10ed, firstVfOffset: 0x80, vfStride: 2, vfName: (i) => `vf${i}`, vfDescription: 'vf' });
  host.add(pf);
  for (const v of pf.vfs) host.add(v);
  return { host, pf, ecam: host.ecamHandler() };
};
// ECAM offset of bus/dev/fn (PCIe 7.2.2), relative to busStart.
const at = (bus: number, dev: number, fn: number, reg: number): bigint => (BigInt(bus - 0x80) << 20n) | (BigInt(dev) << 15n) | (BigInt(fn) << 12n) | BigInt(reg);

test('the capability as the spec lays it out', () => {
  const { pf } = make();
  const c = pf.cfg();
  assert.is(c.getUint32(SRIOV_CAP_OFFSET, true) & 0xffff, PCI_EXT_CAP_ID_SRIOV);
  assert.is(c.getUint32(SRIOV_CAP_OFFSET, true) >>> 20, 0, 'the last extended capability');
  assert.equal([PCI_SRIOV_CTRL, PCI_SRIOV_TOTAL_VF, PCI_SRIOV_NUM_VF, PCI_SRIOV_VF_OFFSET, PCI_SRIOV_VF_STRIDE, PCI_SRIOV_VF_DID], [0x08, 0x0e, 0x10, 0x14, 0x16, 0x1a]);
  assert.is(c.getUint16(SRIOV_CAP_OFFSET + PCI_SRIOV_TOTAL_VF, true), 63);
  assert.is(c.getUint16(SRIOV_CAP_OFFSET + PCI_SRIOV_VF_DID, true), 0x10ed);
  assert.is(pf.vfs[0]!.rid, 0x8180, 'VF 0 of 81:00.0 with offset 0x80 is 81:10.0');
  assert.is(pf.vfs[1]!.rid, 0x8182, 'stride 2: 81:10.2');
});

test('VFs are absent until VF Enable with NumVFs; then config reads work; own ID registers read 0xffff', () => {
  const { pf, ecam } = make();
  assert.is(ecam.read(at(0x81, 0x10, 0, 0), 4), 0xffff_ffffn, 'no VF: master abort');
  ecam.write(at(0x81, 0, 0, SRIOV_CAP_OFFSET + PCI_SRIOV_NUM_VF), 2, 1n);
  assert.not.ok(pf.vfs[0]!.present, 'NumVFs alone does not create VFs');
  ecam.write(at(0x81, 0, 0, SRIOV_CAP_OFFSET + PCI_SRIOV_CTRL), 2, 1n);
  assert.ok(pf.vfs[0]!.present);
  assert.not.ok(pf.vfs[1]!.present, 'index 1 is not below NumVFs 1');
  assert.is(ecam.read(at(0x81, 0x10, 0, 0), 4), 0xffff_ffffn, "a VF's Vendor and Device ID registers read 0xffff");
  assert.is(pf.vfs[0]!.vendorId, 0x8086);
  assert.is(pf.vfs[0]!.deviceId, 0x10ed);
  // NumVFs is read-only while VF Enable is set; TotalVFs always.
  ecam.write(at(0x81, 0, 0, SRIOV_CAP_OFFSET + PCI_SRIOV_NUM_VF), 2, 4n);
  ecam.write(at(0x81, 0, 0, SRIOV_CAP_OFFSET + PCI_SRIOV_TOTAL_VF), 2, 1n);
  assert.is(pf.numVfs, 1);
  assert.is(pf.totalVfs, 63);
});

test('save and restore take the VFs away again', () => {
  const { pf } = make();
  const st = pf.saveState();
  pf.configWrite(SRIOV_CAP_OFFSET + PCI_SRIOV_NUM_VF, 2, 2n);
  pf.configWrite(SRIOV_CAP_OFFSET + PCI_SRIOV_CTRL, 2, 1n);
  assert.is(pf.presentVfs().length, 2);
  pf.restoreState(st);
  assert.is(pf.presentVfs().length, 0);
});

test.run();
