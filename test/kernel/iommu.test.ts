import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { u64 } from '../../src/machine/u64.ts';
import { PciFunction, PciHostBridge } from '../../src/machine/pci.ts';
import { Kernel } from '../../src/kernel/kernel.ts';
import {
  IommuCore, iommuDefaultDomainPolicy, kver, mergeResvRegions, EACCES, EBUSY, EINVAL, EPERM, ENODEV,
  type IommuCoreConfig, type KernelArch,
} from '../../src/kernel/iommu.ts';
import { IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_READ, IOMMU_WRITE, type DomainType, type IommuDomain, type IommuDriver, type KDevice, type ResvRegion } from '../../src/kernel/types.ts';
import { FakeIommu, SMMU_SW_MSI } from './fake-iommu.ts';

// ---- a fake IOMMU driver: a Map-based page table per domain ------------------------



const host = new PciHostBridge({ name: 'pcie.0', segment: 0, busStart: 0, busEnd: 15, ecamBase: 0x3f00_0000n, windows: [] });

function pciDev(bdf: string, opts: Partial<KDevice> = {}): KDevice {
  const [bus, df] = bdf.split(':').slice(-2) as [string, string];
  const [d, f] = df.split('.') as [string, string];
  const fn = new PciFunction({ name: bdf, bdf: { segment: 0, bus: parseInt(bus, 16), dev: parseInt(d, 16), fn: Number(f) }, vendorId: 0x1af4, deviceId: 0x1001, classCode: 0x010000, description: 'test' });
  return {
    name: bdf,
    pci: fn,
    master: { name: bdf, sid: fn.rid, path: 'translated', rootComplex: host },
    dmaMask: 0xffff_ffffn,
    coherentDmaMask: 0xffff_ffffn,
    busDmaLimit: 0n,
    dmaOps: 'direct',
    iommuName: 'smmu0',
    coherent: true,
    ...opts,
  };
}

function setup(cmdline = '', cfg: Partial<IommuCoreConfig> = {}, drv = new FakeIommu()) {
  const m = new Map<string, string>();
  for (const w of cmdline.split(/\s+/).filter(Boolean)) {
    const i = w.indexOf('=');
    m.set(i < 0 ? w : w.slice(0, i), i < 0 ? '1' : w.slice(i + 1));
  }
  const kernel = new Kernel(m);
  const core = new IommuCore(kernel, { arch: 'aarch64', version: 612, ...cfg });
  core.registerDriver(drv);
  return { kernel, core, drv, log: () => kernel.dmesg().map((l) => l.text) };
}

const policy = (cmdline: string, arch: KernelArch, extra: Partial<IommuCoreConfig> = {}) =>
  iommuDefaultDomainPolicy(new Map(cmdline.split(/\s+/).filter(Boolean).map((w) => w.split('=') as [string, string])), { arch, version: 612, ...extra }).type;

// ---- default domain type ---------------------------------------------------------------

test('default domain type: Kconfig default per arch (arm64 strict DMA, x86 lazy DMA-FQ since v5.15)', () => {
  assert.is(policy('', 'aarch64'), 'DMA');
  assert.is(policy('', 'x86_64'), 'DMA-FQ');
  assert.is(policy('', 'aarch64', { kconfigDefault: 'passthrough' }), 'identity');
  assert.is(policy('', 'aarch64', { kconfigDefault: 'lazy' }), 'DMA-FQ');
});

test('default domain type: iommu.passthrough and iommu.strict on both arches', () => {
  for (const arch of ['aarch64', 'x86_64'] as const) {
    assert.is(policy('iommu.passthrough=1', arch), 'identity', arch);
    assert.is(policy('iommu.passthrough=1 iommu.strict=1', arch), 'identity', arch);
    assert.is(policy('iommu.passthrough=0 iommu.strict=1', arch), 'DMA', arch);
    assert.is(policy('iommu.passthrough=0 iommu.strict=0', arch), 'DMA-FQ', arch);
    assert.is(policy('iommu.strict=0', arch), 'DMA-FQ', arch);
    assert.is(policy('iommu.strict=1', arch), 'DMA', arch);
    // CONFIG_IOMMU_DEFAULT_PASSTHROUGH leaves CONFIG_IOMMU_DEFAULT_DMA_STRICT unset: lazy.
    assert.is(policy('iommu.passthrough=0', arch, { kconfigDefault: 'passthrough' }), 'DMA-FQ', arch);
  }
  // kstrtobool spellings
  assert.is(policy('iommu.passthrough=on', 'aarch64'), 'identity');
  assert.is(policy('iommu.passthrough=y', 'aarch64'), 'identity');
  assert.is(policy('iommu.strict=off', 'aarch64'), 'DMA-FQ');
  assert.is(policy('iommu.strict=N', 'aarch64'), 'DMA-FQ');
});

test('default domain type: iommu=pt|nopt only on x86; the last parameter wins', () => {
  assert.is(policy('iommu=pt', 'x86_64'), 'identity');
  assert.is(policy('iommu=nopt', 'x86_64', { kconfigDefault: 'passthrough' }), 'DMA-FQ');
  assert.is(policy('iommu=pt', 'aarch64'), 'DMA', 'arm64 has no iommu= parameter');
  assert.is(policy('iommu=pt iommu.passthrough=0', 'x86_64'), 'DMA-FQ');
  assert.is(policy('iommu.passthrough=0 iommu=pt', 'x86_64'), 'identity');
  assert.is(policy('iommu=soft,pt', 'x86_64'), 'identity');
});

test('era: parameters the kernel does not have yet are ignored (iommu.passthrough ~v4.14, iommu.strict v4.20 arm64 / v5.14 x86)', () => {
  const p = (cmd: string, arch: KernelArch, v: string) =>
    iommuDefaultDomainPolicy(new Map(cmd.split(' ').map((w) => w.split('=') as [string, string])), { arch, version: kver(v) });
  assert.is(p('iommu.passthrough=1', 'aarch64', '4.10').type, 'DMA');
  assert.equal(p('iommu.passthrough=1', 'aarch64', '4.10').ignored, ['iommu.passthrough']);
  assert.is(p('iommu.passthrough=1', 'aarch64', '4.14').type, 'identity');
  assert.is(p('iommu.strict=0', 'aarch64', '4.19').type, 'DMA', 'no lazy mode on arm64 before v4.20');
  assert.is(p('iommu.strict=0', 'aarch64', '4.20').type, 'DMA-FQ');
  assert.is(p('iommu.strict=1', 'x86_64', '5.10').type, 'DMA-FQ', 'x86 before v5.14 ignores iommu.strict');
  assert.is(p('intel_iommu=on,strict', 'x86_64', '5.10').type, 'DMA');
  assert.is(p('iommu.forcedac=1', 'aarch64', '5.12').forcedac, false);
});

test('before v5.15 a lazy default domain is a DMA domain with the flush-queue attribute', () => {
  const { core } = setup('', { arch: 'x86_64', version: kver('5.10') });
  const dev = pciDev('0000:00:01.0');
  const g = core.probeDevice(dev);
  const d = core.getDmaDomain(dev)!;
  assert.is(d.type, 'DMA');
  assert.ok(core.domainUsesFlushQueue(d));
  assert.is(core.groupShowType(g), 'DMA\n');
  const u = pciDev('0000:00:02.0', { untrusted: true });
  core.probeDevice(u);
  assert.not.ok(core.domainUsesFlushQueue(core.getDmaDomain(u)!), 'untrusted: strict');
});

test('a malformed boolean is refused and logged; the default stays', () => {
  const { core, log } = setup('iommu.strict=maybe');
  assert.equal(core.policy.malformed, ['iommu.strict']);
  assert.is(core.defaultDomainType, 'DMA');
  core.subsysInit();
  assert.ok(log().includes("Malformed early option 'iommu.strict'"));
});

test('iommu_subsys_init log lines (iommu.c formats, trailing space when no suffix)', () => {
  let s = setup();
  s.core.subsysInit();
  assert.equal(s.log(), ['iommu: Default domain type: Translated ', 'iommu: DMA domain TLB invalidation policy: strict mode ']);
  s = setup('iommu.passthrough=1');
  s.core.subsysInit();
  assert.equal(s.log(), ['iommu: Default domain type: Passthrough (set via kernel command line)']);
  s = setup('iommu.strict=0', { arch: 'x86_64' });
  s.core.subsysInit();
  assert.equal(s.log(), ['iommu: Default domain type: Translated ', 'iommu: DMA domain TLB invalidation policy: lazy mode (set via kernel command line)']);
});

test('untrusted PCI devices get a strict DMA domain whatever the defaults', () => {
  for (const cmd of ['', 'iommu.passthrough=1', 'iommu.strict=0']) {
    const { core } = setup(cmd, { arch: 'x86_64' });
    const dev = pciDev('0000:00:03.0', { untrusted: true });
    const g = core.probeDevice(dev);
    assert.is(core.groupShowType(g), 'DMA\n', cmd);
    const other = pciDev('0000:00:04.0');
    const g2 = core.probeDevice(other);
    assert.is(core.groupShowType(g2), `${core.defaultDomainType}\n`);
  }
});

// ---- groups -----------------------------------------------------------------------------

test('probe: one group per PCI function, ids from 0 in probe order, "Adding to iommu group N"', () => {
  const { core, drv, log } = setup();
  const a = pciDev('0000:00:02.0');
  const b = pciDev('0000:00:01.0');
  assert.is(core.probeDevice(a), 0);
  assert.is(core.probeDevice(b), 1);
  assert.is(a.group, 0);
  assert.is(b.group, 1);
  assert.equal(log(), ['pci 0000:00:02.0: Adding to iommu group 0', 'pci 0000:00:01.0: Adding to iommu group 1']);
  assert.equal(core.groupsInfo(), [
    { id: 0, type: 'DMA', devices: ['0000:00:02.0'] },
    { id: 1, type: 'DMA', devices: ['0000:00:01.0'] },
  ]);
  assert.ok(drv.attached.has('0000:00:02.0') && drv.attached.has('0000:00:01.0'));
  assert.is(core.probeDevice(a), 0, 'probing twice is harmless');
});

test('probe: functions told to share (no ACS) join one group with one default domain', () => {
  const { core, drv } = setup();
  const f0 = pciDev('0000:02:00.0');
  const f1 = pciDev('0000:02:00.1');
  core.probeDevice(f0);
  assert.is(core.probeDevice(f1, { shareWith: f0.name }), 0);
  assert.equal(core.groupsInfo(), [{ id: 0, type: 'DMA', devices: ['0000:02:00.0', '0000:02:00.1'] }]);
  assert.is(drv.attached.get(f0.name), drv.attached.get(f1.name));
});

test('probe: no driver for the device -> -ENODEV; released ids are reused lowest first (ida)', () => {
  const { core } = setup();
  assert.is(core.probeDevice(pciDev('0000:00:09.0', { iommuName: 'nosuch' })), -ENODEV);
  const a = pciDev('0000:00:01.0');
  const b = pciDev('0000:00:02.0');
  core.probeDevice(a);
  core.probeDevice(b);
  core.releaseDevice(a);
  assert.is(a.group, undefined);
  assert.is(core.probeDevice(pciDev('0000:00:03.0')), 0);
});

test('a driver that cannot make the requested default type falls back to DMA', () => {
  const drv = new FakeIommu();
  drv.refuse.add('identity');
  const { core, log } = setup('iommu.passthrough=1', {}, drv);
  const g = core.probeDevice(pciDev('0000:00:01.0'));
  assert.is(core.groupShowType(g), 'DMA\n');
  assert.ok(log().some((l) => l.includes('Falling back to IOMMU_DOMAIN_DMA')));
});

// ---- reserved regions ----------------------------------------------------------------

test('reserved_regions of an SMMUv3 group: exactly "0x0000000008000000 0x00000000080fffff msi"', () => {
  const { core } = setup();
  const g = core.probeDevice(pciDev('0000:00:01.0'));
  assert.is(core.groupShowResvRegions(g), '0x0000000008000000 0x00000000080fffff msi\n');
  // The type stays distinct internally.
  assert.is(core.getGroupResvRegions(g)[0]!.type, 'sw-msi');
});

test('reserved_regions: a group of two devices lists the shared SW_MSI window once', () => {
  const { core } = setup();
  const a = pciDev('0000:02:00.0');
  core.probeDevice(a);
  core.probeDevice(pciDev('0000:02:00.1'), { shareWith: a.name });
  assert.is(core.groupShowResvRegions(0), '0x0000000008000000 0x00000000080fffff msi\n');
});

test('reserved_regions: sorted by start, same-type overlaps and neighbours merged, other types kept apart', () => {
  const { core } = setup();
  core.firmwareResvRegions = (dev) =>
    dev.name === '0000:00:01.0'
      ? [
          { start: 0x1_0000_0000n, length: 0x1000n, prot: IOMMU_READ | IOMMU_WRITE, type: 'direct' },
          { start: 0x1_0000_1000n, length: 0x1000n, prot: IOMMU_READ | IOMMU_WRITE, type: 'direct' },
          { start: 0x100n, length: 0x100n, prot: 0, type: 'reserved' },
        ]
      : [{ start: 0x800_0000n, length: 0x2000n, prot: 0, type: 'reserved' }];
  const a = pciDev('0000:00:01.0');
  core.probeDevice(a);
  core.probeDevice(pciDev('0000:00:01.1'), { shareWith: a.name });
  assert.is(
    core.groupShowResvRegions(0),
    [
      '0x0000000000000100 0x00000000000001ff reserved',
      // same start: enum order, RESERVED (2) before SW_MSI (4)
      '0x0000000008000000 0x0000000008001fff reserved',
      '0x0000000008000000 0x00000000080fffff msi',
      '0x0000000100000000 0x0000000100001fff direct',
      '',
    ].join('\n'),
  );
});

test('mergeResvRegions: both MSI kinds print "msi" but never merge with each other', () => {
  const r = mergeResvRegions([
    { start: 0xfee0_0000n, length: 0x10_0000n, prot: 0, type: 'msi' },
    { start: 0xfee0_0000n, length: 0x10_0000n, prot: 0, type: 'sw-msi' },
  ]);
  assert.is(r.length, 2);
});

test('DIRECT regions are identity-mapped in a DMA default domain at probe', () => {
  const { core, drv } = setup();
  core.firmwareResvRegions = () => [{ start: 0x8000_0000n, length: 0x2000n, prot: IOMMU_READ | IOMMU_WRITE, type: 'direct' }];
  const dev = pciDev('0000:00:01.0');
  core.probeDevice(dev);
  const d = core.getDmaDomain(dev)!;
  assert.is(drv.iovaToPhys(d, 0x8000_1234n), 0x8000_1234n);
  assert.is(drv.flushes, 1);
});

// ---- sysfs type ----------------------------------------------------------------------------

test('sysfs type strings; before v5.15 a lazy domain reads "DMA"', () => {
  let s = setup('iommu.strict=0');
  assert.is(s.core.groupShowType(s.core.probeDevice(pciDev('0000:00:01.0'))), 'DMA-FQ\n');
  s = setup('iommu.strict=0', { version: kver('5.10') });
  assert.is(s.core.groupShowType(s.core.probeDevice(pciDev('0000:00:01.0'))), 'DMA\n');
  s = setup('iommu.passthrough=1');
  assert.is(s.core.groupShowType(s.core.probeDevice(pciDev('0000:00:01.0'))), 'identity\n');
  assert.is(s.core.groupShowType(42), 'unknown\n');
});

test('sysfs type write, current kernels: -EPERM while a kernel driver uses the DMA API; works unbound', () => {
  const drv = new FakeIommu();
  const freed: number[] = [];
  drv.domainFree = (d: IommuDomain) => void freed.push(d.id);
  const { core } = setup('', {}, drv);
  const dev = pciDev('0000:00:01.0');
  const g = core.probeDevice(dev);
  core.deviceBind(dev, 'nvme');
  assert.is(core.groupStoreType(g, 'identity'), -EPERM);
  assert.is(core.groupStoreType(g, 'DMA-FQ'), 6, 'DMA -> DMA-FQ is done in place, driver or not');
  assert.is(core.groupShowType(g), 'DMA-FQ\n');
  core.deviceUnbind(dev);
  const before = core.getDmaDomain(dev)!;
  assert.is(core.groupStoreType(g, 'identity\n'), 9);
  assert.is(core.groupShowType(g), 'identity\n');
  assert.ok(freed.includes(before.id), 'the old default domain is freed');
  assert.is(core.groupStoreType(g, 'auto'), 4);
  assert.is(core.groupShowType(g), 'DMA\n');
  assert.is(core.groupStoreType(g, 'bogus'), -EINVAL);
  assert.is(core.groupStoreType(g, 'unmanaged'), -EINVAL);
});

test('sysfs type write, current kernels: a driver-managed (vfio-pci) binding does not block it; multi-device groups allowed', () => {
  const { core } = setup();
  const a = pciDev('0000:02:00.0');
  core.probeDevice(a);
  core.probeDevice(pciDev('0000:02:00.1'), { shareWith: a.name });
  core.deviceBind(a, 'vfio-pci', true);
  assert.is(core.groupStoreType(0, 'identity'), 8);
});

test('sysfs type write, v5.11..v6.3: -EBUSY with a driver bound, -EINVAL for a multi-device group', () => {
  const { core, log } = setup('', { version: kver('6.2') });
  const dev = pciDev('0000:00:01.0');
  const g = core.probeDevice(dev);
  core.deviceBind(dev, 'vfio-pci', true);
  assert.is(core.groupStoreType(g, 'identity'), -EBUSY);
  assert.ok(log().includes('iommu: Device is still bound to driver'));
  assert.is(core.groupStoreType(g, 'DMA-FQ'), 6);
  core.deviceUnbind(dev);
  assert.is(core.groupStoreType(g, 'identity'), 8);
  const a = pciDev('0000:02:00.0');
  const g2 = core.probeDevice(a);
  core.probeDevice(pciDev('0000:02:00.1'), { shareWith: a.name });
  assert.is(core.groupStoreType(g2, 'identity'), -EINVAL);
  assert.ok(log().includes('iommu: Cannot change default domain: Group has more than one device'));
});

test('sysfs type write before v5.11: the file is read-only (-EACCES)', () => {
  const { core } = setup('', { version: kver('5.10') });
  const g = core.probeDevice(pciDev('0000:00:01.0'));
  assert.is(core.groupStoreType(g, 'identity'), -EACCES);
});

test('sysfs type write: an untrusted device cannot be put in an identity domain', () => {
  const { core } = setup();
  const g = core.probeDevice(pciDev('0000:00:01.0', { untrusted: true }));
  assert.is(core.groupStoreType(g, 'identity'), -EINVAL);
  assert.is(core.groupShowType(g), 'DMA\n');
});

// ---- DMA ownership -------------------------------------------------------------------------

test('DMA ownership: VFIO cannot claim a group a kernel driver uses; a kernel driver cannot bind to a claimed group', () => {
  const { core } = setup();
  const dev = pciDev('0000:00:01.0');
  const g = core.probeDevice(dev);
  core.deviceBind(dev, 'ixgbevf');
  assert.is(core.groupClaimDmaOwner(g, 'vfio'), -EPERM);
  core.deviceUnbind(dev);
  assert.is(core.groupClaimDmaOwner(g, 'vfio'), 0);
  assert.is(core.deviceBind(dev, 'ixgbevf'), -EBUSY);
  assert.is(core.deviceBind(dev, 'vfio-pci', true), 0);
  const ud = core.domainAlloc('smmu0', 'unmanaged')!;
  assert.is(core.attachGroup(g, ud), 0);
  assert.is(core.getDomainForDev(dev)!.type, 'unmanaged');
  assert.is(core.getDmaDomain(dev)!.type, 'DMA', 'the default domain stays the DMA domain');
  core.groupReleaseDmaOwner(g);
  assert.is(core.getDomainForDev(dev)!.type, 'DMA');
});

test('saveState/restoreState: groups come back, and dev.group with them', () => {
  const { core } = setup();
  const a = pciDev('0000:00:01.0');
  core.probeDevice(a);
  const snap = core.saveState();
  const b = pciDev('0000:00:02.0');
  core.probeDevice(b);
  core.releaseDevice(a);
  core.restoreState(snap);
  assert.equal(core.groupsInfo(), [{ id: 0, type: 'DMA', devices: ['0000:00:01.0'] }]);
  assert.is(a.group, 0);
  assert.is(b.group, undefined);
});

test.run();
