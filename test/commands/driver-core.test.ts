/**
 * The PCI driver core (kernel/driver-core.ts) through `driver bind DEV
 * [DRIVER]`, `driver override`, `driver unbind`, `driver list`:
 * driver_override semantics (pci_bus_match: only the named driver
 * matches; any string accepted; cleared by an empty write), bind_store's
 * -ENODEV for a driver that does not match, vfio-pci binding only through
 * the override and installing no DMA of its own, and clear errors for a
 * missing driver.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { booted, fails, ok, spanText, text } from './helpers.ts';

test('driver list names the drivers and what is bound', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on');
  const rows = (ok(s, 'driver list').data as { drivers: { driver: string; devices: string[] }[] }).drivers;
  assert.equal(rows.find((r) => r.driver === 'virtio-pci')!.devices, ['0000:00:01.0']);
  for (const n of ['e1000e', 'ixgbe', 'ixgbevf', 'vfio-pci']) assert.ok(rows.some((r) => r.driver === n), n);
});

test('binding to a driver that does not exist is a clear error pointing at the name', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on');
  ok(s, 'driver unbind vda');
  const line = 'driver bind vda nosuchdrv';
  const e = fails(s, line);
  assert.match(e.message, "no driver 'nosuchdrv': /sys/bus/pci/drivers/nosuchdrv does not exist");
  assert.is(spanText(line, e), 'nosuchdrv');
  assert.match(e.expected ?? '', 'vfio-pci');
});

test('a driver whose id table does not list the device: -ENODEV, as bind_store returns', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on');
  ok(s, 'driver unbind vda');
  const e = fails(s, 'driver bind vda ixgbevf');
  assert.match(e.message, 'write error: No such device (-ENODEV)');
  assert.match(e.message, "ixgbevf's id table does not list 1af4:1042");
  const e2 = fails(s, 'driver bind vda vfio-pci');
  assert.match(e2.message, '-ENODEV', 'vfio-pci has no id table: override only');
});

test('driver_override: only the named driver matches; vfio-pci binds through drivers_probe with no DMA of its own; none clears it', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on');
  assert.is((ok(s, 'driver override vda').data as { override: string | null }).override, null);
  assert.match(text(ok(s, 'driver override vda')), '(null)');
  const o = ok(s, 'driver override vda vfio-pci');
  assert.match(text(o), 'echo vfio-pci > /sys/bus/pci/devices/0000:00:01.0/driver_override');
  assert.match(text(o), 'stays bound to virtio-pci', 'writing the override does not unbind');
  ok(s, 'driver unbind vda');
  // The previous driver no longer matches.
  assert.match(fails(s, 'driver bind vda virtio-pci').message, "its driver_override is 'vfio-pci'");
  const masks = s.system.linux!.device('0000:00:01.0')!;
  const before = [masks.dmaMask, masks.coherentDmaMask];
  const b = ok(s, 'driver bind vda');
  assert.match(text(b), 'echo 0000:00:01.0 > /sys/bus/pci/drivers_probe');
  assert.is((b.data as { driver: string }).driver, 'vfio-pci');
  assert.equal([masks.dmaMask, masks.coherentDmaMask], before, 'vfio-pci sets no mask');
  assert.ok(s.system.linux!.driverCore.vfioClaimed(masks));
  assert.ok((b.data as { log: string[] }).log.includes('VFIO - User Level meta-driver version: 0.3'));
  ok(s, 'driver unbind 00:01.0');
  assert.not.ok(s.system.linux!.driverCore.vfioClaimed(masks));
  assert.match(text(ok(s, 'driver override vda none')), 'echo > /sys/bus/pci/devices/0000:00:01.0/driver_override');
  assert.is((ok(s, 'driver bind vda').data as { driver: string }).driver, 'virtio-pci', 'back to the driver it had');
});

test('an override naming a driver the lab lacks: accepted with a warning; drivers_probe then finds nothing', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on');
  ok(s, 'driver unbind vda');
  assert.match(text(ok(s, 'driver override vda pci-stub')), 'no driver called pci-stub');
  const e = fails(s, 'driver bind vda');
  assert.match(e.message, "driver_override of vda (0000:00:01.0) is 'pci-stub'".replace('vda (0000:00:01.0)', '0000:00:01.0'));
});

test('undo restores the override and the binding', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on');
  ok(s, 'driver override vda vfio-pci');
  ok(s, 'undo');
  assert.is((ok(s, 'driver override vda').data as { override: string | null }).override, null);
});

test.run();
