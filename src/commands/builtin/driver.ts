/**
 * `driver bind DEV [DRIVER]`, `driver unbind DEV`, `driver override DEV
 * [NAME|none]`, `driver list`: the sysfs files of the PCI driver core
 * (kernel/driver-core.ts does the work).
 *
 * `driver unbind DEV` is `echo BDF > /sys/bus/pci/drivers/DRIVER/unbind`:
 * the driver's remove (virtio-pci takes virtio_blk's disk with it: device
 * reset, virtqueue freed through the DMA API it was allocated with, disk
 * removed), then the driver core drops the device's DMA-API ownership of
 * its group (iommu_device_unuse_default_domain via dma_deconfigure). The
 * DMA masks stay as they were (REFERENCE.md 5.2). Not modelled:
 * pci_disable_device (clearing Bus Master) and freeing the IRQ; requests
 * that never completed keep their mappings, as a wedged driver's would.
 *
 * `driver bind DEV DRIVER` is `echo BDF > /sys/bus/pci/drivers/DRIVER/bind`
 * (bind_store: -ENODEV unless the driver matches, driver_override
 * included); `driver bind DEV` without a driver is `echo BDF >
 * /sys/bus/pci/drivers_probe` when driver_override is set, otherwise the
 * driver the device had (or the first matching one). really_probe runs
 * dma_configure (per era: kernel/driver-core.ts) and the driver's probe.
 *
 * `driver override DEV NAME` is `echo NAME > /sys/bus/pci/devices/BDF/driver_override`
 * (any string is accepted, as sysfs does; `none` clears it like `echo >`).
 *
 * Undo: everything these change is saved kernel state (Linux.bound, the
 * driver core, the iommu core, dma-iommu, the disks, struct device fields)
 * or memory.
 */
import { hex } from '../../machine/u64.ts';
import { type KDevice } from '../../kernel/types.ts';
import type { Linux } from '../../kernel/linux.ts';
import { EBUSY, ENODEV } from '../../kernel/iommu.ts';
import { pciEnableSriov, sriovPf } from '../../kernel/pci-iov.ts';
import { EPROBE_DEFER, errnoName, findPciDriver, idMatches, pciDrivers, pciId } from '../../kernel/driver-core.ts';
import { span, plain, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import { devLabel, dmaOpsName, domainText, kernelDevice, needLinux } from '../kernel-device.ts';

const diskOf = (linux: Linux, dev: KDevice) => linux.disks.list().find((b) => b.vdev.pciName === dev.name);

export const driverUnbind: CommandSpec = {
  name: 'driver unbind',
  summary: "Unbind the kernel driver from a device (sysfs .../drivers/DRIVER/unbind): its disk goes, its group's type may then change",
  help: [
    'What `echo 0000:00:01.0 > /sys/bus/pci/drivers/virtio-pci/unbind` does: virtio-pci\'s remove takes',
    'virtio_blk with it (the device is reset, the virtqueue freed through the DMA API it was allocated',
    'with, the disk removed), then the driver core drops the device\'s DMA-API use of its IOMMU group, so',
    '`group type N TYPE` may change the default domain. The DMA masks are left as they were (Linux does',
    'not reset them). Not modelled: pci_disable_device (Bus Master stays set) and freeing the IRQ.',
    '`driver bind DEV` probes again; `undo` puts everything back.',
  ].join('\n'),
  examples: ['driver unbind vda', 'driver unbind 00:01.0'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on'],
  args: [{ name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' }],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const { linux, dev } = k;
    const driver = linux.driverCore.boundDriver(dev);
    if (!driver) throw new CommandError(`${devLabel(dev)} has no driver bound`, a.span.dev, 'a device with a driver', `driver bind ${k.ref.name}`);
    const blk = diskOf(linux, dev);
    const { log } = linux.driverCore.unbind(dev);
    const alias = dev.alias;
    if (blk) dev.alias = undefined;
    const group = linux.core.groupOf(dev);
    const lines: Line[] = [[span(`echo ${dev.name} > /sys/bus/pci/drivers/${driver}/unbind`, 'name'), span('  done', 'ok')]];
    if (blk) {
      lines.push(plain(`  ${driver} remove took ${blk.vdev.name} and virtio_blk's disk ${blk.diskName} with it: device reset, virtqueue freed (${blk.vq.allocator === 'dma_alloc_coherent' ? 'dma_free_coherent' : 'free_pages'}), disk removed`));
      if (blk.stalled) lines.push([span(`  ${blk.stalled} request${blk.stalled === 1 ? '' : 's'} that never completed keep their buffers mapped`, 'warn')]);
    }
    if (group !== undefined) {
      const own = linux.core.groupOwnership(group);
      lines.push(plain(`  iommu group ${group}: ${own?.ownerCnt ? `still used by ${own.ownerCnt} DMA user${own.ownerCnt === 1 ? '' : 's'}` : 'no driver uses the DMA API in it now'}: its type is ${linux.core.groupShowType(group).trim()}`));
      // The sysfs type file became writable in v5.11 (iommu_group_store_type); before, only a reboot changed it.
      const writable = linux.core.config.version >= 511;
      if (!own?.ownerCnt) lines.push([span(writable ? `  group type ${group} identity|DMA|DMA-FQ|auto changes it; driver bind ${k.ref.name} probes again` : `  driver bind ${k.ref.name} probes again (the group's type is fixed at boot on ${linux.era}: iommu.passthrough= or iommu=pt)`, 'dim')]);
    }
    lines.push([span(`  DMA masks unchanged: ${hex(dev.dmaMask)} (coherent ${hex(dev.coherentDmaMask)})`, 'dim')]);
    for (const l of log) lines.push([span(`  kernel: ${l}`, 'warn')]);
    return { kind: 'driver-unbind', data: { device: dev.name, alias, driver, disk: blk?.diskName ?? null, group: group ?? null, log }, lines };
  },
};

export const driverBind: CommandSpec = {
  name: 'driver bind',
  summary: 'Bind a kernel driver to a device (sysfs .../drivers/DRIVER/bind, or drivers_probe): dma_configure runs, then the probe',
  help: [
    'What `echo 0000:00:01.0 > /sys/bus/pci/drivers/virtio-pci/bind` does: really_probe runs dma_configure',
    '(on v4.12+ kernels; before, DMA was configured once when the device was created), which takes DMA-API',
    'ownership of the IOMMU group and installs iommu-dma (DMA or DMA-FQ default domain) or dma-direct',
    '(identity domain, or no IOMMU) for the domain the group has now; then the driver probes (virtio-pci and',
    'virtio_blk: a new virtqueue, DRIVER_OK, the partition table read). Without DRIVER: the driver_override',
    "if set (what `echo BDF > /sys/bus/pci/drivers_probe` does), else the driver the device had. 'driver list'",
    'shows the drivers.',
  ].join('\n'),
  examples: ['driver bind vda', 'driver bind 00:01.0', 'driver bind 00:01.0 virtio-pci'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on', 'driver unbind vda'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'driver', kind: 'word', desc: "the driver's name (driver list); default: driver_override, else the driver it had", optional: true },
  ],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const { linux, dev } = k;
    const dc = linux.driverCore;
    const named = a.v.driver as string | undefined;
    const cur = dc.boundDriver(dev);
    if (cur) throw new CommandError(`${devLabel(dev)} is already bound to ${cur}`, a.span.dev, 'a device without a driver', `driver unbind ${k.ref.name}`);
    const override = dc.override(dev);
    let d;
    if (named !== undefined) {
      d = findPciDriver(named);
      if (!d) {
        throw new CommandError(
          `no driver '${named}': /sys/bus/pci/drivers/${named} does not exist`,
          a.span.driver,
          `a driver name: ${pciDrivers().map((x) => x.name).join(', ')}`,
          "'driver list' shows them and what they match",
        );
      }
    } else {
      d = dc.pickDriver(dev);
      if (!d) {
        if (override !== undefined) throw new CommandError(`driver_override of ${devLabel(dev)} is '${override}', a driver this lab does not have`, a.span.dev, undefined, `driver override ${k.ref.name} none`);
        throw new CommandError(`no driver in this model matches ${devLabel(dev)}`, a.span.dev, 'a device the booted kernel had a driver for');
      }
    }
    const viaProbe = named === undefined && override !== undefined;
    const cmd = viaProbe ? `echo ${dev.name} > /sys/bus/pci/drivers_probe` : `echo ${dev.name} > /sys/bus/pci/drivers/${d.name}/bind`;
    const r = dc.bind(dev, d);
    if (!r.ok && r.stage === 'match') {
      const why = override !== undefined ? `its driver_override is '${override}'` : `${d.name}'s id table does not list ${pciId(dev) ?? 'it'}`;
      throw new CommandError(
        `${cmd}: write error: No such device (-ENODEV): ${d.name} does not match ${devLabel(dev)}: ${why}`,
        named !== undefined ? a.span.driver : a.span.dev,
        undefined,
        override !== undefined ? `driver override ${k.ref.name} ${d.name}` : pciDrivers().some((x) => idMatches(x, dev)) ? `driver bind ${k.ref.name} ${pciDrivers().find((x) => idMatches(x, dev))!.name}` : undefined,
      );
    }
    if (!r.ok && r.errno === EPROBE_DEFER) {
      const lines: Line[] = [[span(cmd, 'name'), span('  deferred', 'warn')]];
      lines.push(plain(`  dma_configure returned -EPROBE_DEFER: the IOMMU firmware names for ${dev.name} has no driver yet; the device waits on the deferred probe list`));
      lines.push([span("  'driver deferred' shows the list (/sys/kernel/debug/devices_deferred)", 'dim')]);
      for (const l of r.log) lines.push([span(`  kernel: ${l}`, 'dim')]);
      return { kind: 'driver-bind', data: { device: dev.name, alias: dev.alias, driver: d.name, deferred: true, dmaOps: null, disk: null, partitions: null, log: r.log }, lines };
    }
    if (!r.ok) {
      const e = r.errno;
      if (r.stage === 'dma_configure') {
        throw new CommandError(`${d.name} ${dev.name}: probe failed: dma_configure returned ${errnoName(e)}${e === EBUSY ? ' (a user such as VFIO owns the group)' : ''}`, a.span.dev);
      }
      throw new CommandError(
        `${d.name}: probe of ${dev.name} failed with error -${e} (${errnoName(e)})${d.name === 'vfio-pci' && linux.core.groupOf(dev) === undefined ? ': the device is in no IOMMU group, and VFIO needs one' : ''}`,
        a.span.dev,
      );
    }
    const blk = diskOf(linux, dev);
    const ops = dmaOpsName(linux, dev);
    const group = linux.core.groupOf(dev);
    const lines: Line[] = [[span(cmd, 'name'), span('  done', 'ok')]];
    const domType = group !== undefined ? linux.core.groupShowType(group).trim() : undefined;
    const preSeries = linux.core.config.version < 412;
    lines.push([
      span(preSeries ? '  DMA ops (configured when the device was created; v4.12 moved it to probe): ' : '  dma_configure: '),
      span(ops, 'name'),
      span(group !== undefined ? ` (iommu group ${group}, ${domainText(linux, dev, domType)})` : ' (no IOMMU group)'),
    ]);
    if (ops === 'dma-direct' && (domType === 'DMA' || domType === 'DMA-FQ')) {
      lines.push([span(`  ${dev.name} keeps the platform DMA ops (dma-direct) while iommu group ${group} is attached to a ${domType} domain: DMA the kernel maps for it would carry physical addresses that the IOMMU translates as IOVAs`, 'warn')]);
    }
    if (d.name === 'virtio-pci') {
      const p = linux.probes.get(dev.name);
      if (blk) lines.push([span(`  virtio_blk: disk ${blk.diskName} on ${blk.vdev.name}${blk.partitions?.line ? `; ${blk.partitions.line.trim()}` : ''}`, 'ok')]);
      else if (p && !p.ok) lines.push([span(`  virtio_blk probe failed: ${p.error}`, 'bad')]);
      else lines.push([span('  virtio_blk: the disk probed but its partition table read did not complete', 'warn')]);
    } else if (d.mask) {
      lines.push([span(`  ${d.name} probe: dma_set_mask_and_coherent(DMA_BIT_MASK(${d.mask})): masks now ${hex(dev.dmaMask)} (coherent ${hex(dev.coherentDmaMask)})`, 'dim')]);
    } else if (d.name === 'vfio-pci') {
      lines.push([span(`  vfio-pci probe: ${dev.name} registered with VFIO (iommu group ${group}); no DMA of its own`, 'dim')]);
    }
    for (const l of r.log) lines.push([span(`  kernel: ${l}`, /err|fail|unable|outside/i.test(l) ? 'warn' : 'dim')]);
    return { kind: 'driver-bind', data: { device: dev.name, alias: dev.alias, driver: d.name, dmaOps: ops, disk: blk?.diskName ?? null, partitions: blk?.partitions?.line ?? null, log: r.log }, lines };
  },
};

export const driverOverride: CommandSpec = {
  name: 'driver override',
  summary: "Show or set a device's driver_override (sysfs /sys/bus/pci/devices/BDF/driver_override)",
  help: [
    '`driver override DEV` prints the file ("(null)" when unset); `driver override DEV NAME` is',
    '`echo NAME > /sys/bus/pci/devices/BDF/driver_override`: from then on only the driver called NAME',
    'matches the device (pci_bus_match). It does not unbind the current driver: `driver unbind DEV`, then',
    '`driver bind DEV` (drivers_probe). `driver override DEV none` clears it (`echo > driver_override`).',
  ].join('\n'),
  examples: ['driver override vda vfio-pci', 'driver override vda', 'driver override vda none'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' },
    { name: 'name', kind: 'word', desc: 'a driver name, or none to clear', optional: true },
  ],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const { linux, dev } = k;
    const dc = linux.driverCore;
    const path = `/sys/bus/pci/devices/${dev.name}/driver_override`;
    const name = a.v.name as string | undefined;
    if (name === undefined) {
      const cur = dc.override(dev) ?? null;
      return { kind: 'driver-override', data: { device: dev.name, override: cur, written: null }, lines: [[span(`cat ${path}`, 'dim')], plain(cur ?? '(null)')] };
    }
    const clear = name === 'none';
    dc.setOverride(dev, clear ? undefined : name);
    const lines: Line[] = [[span(clear ? `echo > ${path}` : `echo ${name} > ${path}`, 'name'), span('  done', 'ok')]];
    const bound = dc.boundDriver(dev);
    if (!clear && !findPciDriver(name)) lines.push([span(`  no driver called ${name} is loaded: nothing will match ${dev.name} until one is ('driver list')`, 'warn')]);
    if (bound && !clear && bound !== name) lines.push([span(`  ${dev.name} stays bound to ${bound}: driver unbind ${k.ref.name}, then driver bind ${k.ref.name} binds ${name}`, 'dim')]);
    return { kind: 'driver-override', data: { device: dev.name, override: clear ? null : name, written: name }, lines };
  },
};

export const driverList: CommandSpec = {
  name: 'driver list',
  summary: 'The PCI drivers the booted kernel has (/sys/bus/pci/drivers) and the devices bound to each',
  help: 'Each driver the lab models, what its id table matches and what its probe does for DMA, with the devices bound to it now.',
  examples: ['driver list'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot'],
  args: [],
  mutates: false,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const rows = pciDrivers().map((d) => ({
      driver: d.name,
      ids: d.virtio ? ['1af4:*'] : d.ids,
      mask: d.mask ?? null,
      devices: linux.devices.filter((x) => linux.driverCore.boundDriver(x) === d.name).map((x) => x.name),
      desc: d.desc,
    }));
    const lines: Line[] = [[span('ls /sys/bus/pci/drivers', 'dim')]];
    for (const r of rows) {
      lines.push([span(r.driver.padEnd(12), 'name'), span(` ${(r.ids.length ? r.ids.join(',') : '(override only)').padEnd(16)}`), span(` ${r.devices.length ? r.devices.join(' ') : '-'}`, r.devices.length ? 'ok' : 'dim')]);
      lines.push([span(`  ${r.desc}`, 'dim')]);
    }
    return { kind: 'driver-list', data: { drivers: rows }, lines };
  },
};

export const driverDeferred: CommandSpec = {
  name: 'driver deferred',
  summary: 'The deferred-probe list (cat /sys/kernel/debug/devices_deferred)',
  help: [
    'Devices whose probe returned -EPROBE_DEFER and wait for a retry: from v4.12, dma_configure defers a',
    "device whose IOMMU firmware describes has no driver yet (boot iommu-driver=late or module). A real",
    'kernel prints nothing for a deferral at the default loglevel (dev_dbg). The list is retried when the',
    'IOMMU driver probes (`modprobe arm_smmu_v3` for iommu-driver=module). The debugfs file came later than',
    'v4.12 (≈v4.16, unverified); its line is "DEV<TAB>reason" (no reason for an IOMMU deferral).',
  ].join('\n'),
  examples: ['driver deferred'],
  exampleMachine: 'arm-d05-sriov',
  exampleSetup: ['boot iommu-driver=module'],
  args: [],
  mutates: false,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const list = linux.driverCore.deferredList();
    const lines: Line[] = [[span('cat /sys/kernel/debug/devices_deferred', 'dim')]];
    for (const d of list) lines.push([span(d.dev, 'name'), span(`\t${d.reason}`), span(`  (${d.driver}: dma_configure returned -EPROBE_DEFER)`, 'dim')]);
    if (!list.length) lines.push([span('(empty)', 'dim')]);
    return { kind: 'driver-deferred', data: { deferred: list.map((d) => ({ ...d })) }, lines };
  },
};

export const modprobeCommand: CommandSpec = {
  name: 'modprobe',
  summary: 'Load a kernel module after boot: arm_smmu_v3 (the late SMMU driver), then the deferred devices probe',
  help: [
    '`modprobe arm_smmu_v3` on a machine booted with iommu-driver=module: the SMMU driver probes its',
    'hardware and registers, then driver_deferred_probe_trigger retries every deferred device. On v4.12-era',
    'kernels a modular IOMMU was not waited for: those devices probed without an IOMMU and stay that way.',
  ].join('\n'),
  examples: ['modprobe arm_smmu_v3'],
  exampleMachine: 'arm-d05-sriov',
  exampleSetup: ['boot kernel=6.x iommu-driver=module'],
  args: [{ name: 'module', kind: 'enum', choices: ['arm_smmu_v3', 'arm-smmu-v3'], desc: 'the module: arm_smmu_v3' }],
  mutates: true,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const dc = linux.driverCore;
    if (!linux.smmus.length) throw new CommandError('modprobe: FATAL: Module arm_smmu_v3 not found: this machine has no SMMUv3', a.span.module, undefined, 'machine arm-d05-sriov');
    if (dc.iommuLoad !== 'module' || linux.smmus.every((x) => linux.core.hasDriver(x.name))) {
      const loaded = dc.iommuLoad === 'module';
      throw new CommandError(`arm_smmu_v3 is ${loaded ? 'already loaded' : 'built in (iommu-driver=' + dc.iommuLoad + ')'}: nothing to load`, a.span.module, undefined, loaded ? "'driver deferred' shows what still waits" : 'boot iommu-driver=module');
    }
    const before = s.kernel.dmesg();
    const last = before.length ? before[before.length - 1]!.time : -1;
    const retried = dc.loadIommuDrivers();
    const log = s.kernel.dmesg().filter((l) => l.time > last).map((l) => l.text);
    const lines: Line[] = [[span('modprobe arm_smmu_v3', 'name'), span('  done', 'ok')]];
    lines.push(plain(retried.length ? `  driver_deferred_probe_trigger: retried ${retried.join(', ')}` : '  no device was waiting for it (devices_deferred was empty)'));
    for (const l of log) lines.push([span(`  kernel: ${l}`, /outside|Failed|fail/i.test(l) ? 'warn' : 'dim')]);
    return { kind: 'modprobe', data: { module: 'arm_smmu_v3', retried, log }, lines };
  },
};

export const driverSriov: CommandSpec = {
  name: 'driver sriov',
  summary: "Enable SR-IOV VFs on a physical function (echo N > /sys/bus/pci/devices/PF/sriov_numvfs)",
  help: [
    "The PF driver's sriov_configure runs, then pci_enable_sriov sets NumVFs and VF Enable in the PF's",
    'SR-IOV capability and adds each VF as a PCI device: its scan line, 32-bit masks, and an immediate probe',
    'by the matching VF driver (ixgbevf). Only enabling is modelled (not 0 to disable).',
  ].join('\n'),
  examples: ['driver sriov pf0 1'],
  exampleMachine: 'arm-d05-sriov',
  exampleSetup: ['boot sriov_numvfs=0'],
  args: [
    { name: 'dev', kind: 'device', desc: 'the physical function: pf0 or its PCI address' },
    { name: 'n', kind: 'u64', desc: 'how many VFs, 1..TotalVFs' },
  ],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const { linux, dev } = k;
    const nV = a.v.n as bigint;
    const path = `/sys/bus/pci/devices/${dev.name}/sriov_numvfs`;
    const pf = sriovPf(dev);
    if (!pf) throw new CommandError(`${devLabel(dev)} has no SR-IOV capability: ${path} does not exist`, a.span.dev, 'a physical function with SR-IOV, such as pf0');
    if (nV > BigInt(pf.totalVfs)) throw new CommandError(`echo ${nV} > ${path}: write error: Numerical result out of range (-ERANGE): TotalVFs is ${pf.totalVfs}`, a.span.n, `1..${pf.totalVfs}`);
    if (nV === 0n) throw new CommandError('disabling VFs (0) is not modelled', a.span.n, `1..${pf.totalVfs}`);
    const before = s.kernel.dmesg();
    const last = before.length ? before[before.length - 1]!.time : -1;
    const r = pciEnableSriov(linux, dev, Number(nV));
    if (typeof r === 'number') {
      const why = r === -EBUSY ? 'Device or resource busy (-EBUSY): VFs are already enabled' : r === -ENODEV ? `No such device (-ENODEV): no driver with sriov_configure is bound to ${dev.name}` : `errno ${-r}`;
      throw new CommandError(`echo ${nV} > ${path}: write error: ${why}`, a.span.n);
    }
    const log = s.kernel.dmesg().filter((l) => l.time > last).map((l) => l.text);
    const lines: Line[] = [[span(`echo ${nV} > ${path}`, 'name'), span('  done', 'ok')]];
    for (const v of r) lines.push(plain(`  VF ${v.name} (${v.master.name}, RID ${hex(v.pci!.rid)}): ${linux.driverCore.boundDriver(v) ?? 'no driver'}`));
    for (const l of log) lines.push([span(`  kernel: ${l}`, 'dim')]);
    return { kind: 'driver-sriov', data: { pf: dev.name, vfs: r.map((v) => v.name), log }, lines };
  },
};

export const driverInfo: CommandSpec = {
  name: 'driver info',
  summary: "One device as the driver core sees it: driver, driver_override, DMA ops, IOMMU group, masks, deferral",
  help: [
    'Look only. What /sys/bus/pci/devices/BDF/{driver,driver_override,iommu_group} and the struct device',
    'hold: the bound driver, the override, the DMA ops dma_configure installed (iommu-dma or dma-direct),',
    'the IOMMU group and its default domain, both DMA masks, and whether the device waits on the deferred list.',
  ].join('\n'),
  examples: ['driver info vf0', 'driver info 0002:81:10.0'],
  exampleMachine: 'arm-d05-sriov',
  exampleSetup: ['boot'],
  args: [{ name: 'dev', kind: 'device', desc: 'the device: vf0, pf0, vda or a PCI address' }],
  mutates: false,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const { linux, dev } = k;
    const dc = linux.driverCore;
    const driver = dc.boundDriver(dev) ?? null;
    const group = linux.core.groupOf(dev);
    const data = {
      device: dev.name,
      driver,
      override: dc.override(dev) ?? null,
      dmaOps: dmaOpsName(linux, dev),
      group: group ?? null,
      domain: group !== undefined ? linux.core.groupShowType(group).trim() : null,
      dmaMask: dev.dmaMask,
      coherentDmaMask: dev.coherentDmaMask,
      deferred: dc.deferredList().some((d) => d.dev === dev.name),
      vfio: dc.vfioClaimed(dev),
    };
    const lines: Line[] = [
      [span(`${devLabel(dev)}`, 'name'), span(`  ${pciId(dev) ?? ''}`, 'dim')],
      [span('  driver            '), span(driver ?? '(none)', driver ? 'ok' : 'dim'), span(data.deferred ? '  (on the deferred probe list)' : '', 'warn')],
      [span('  driver_override   '), span(data.override ?? '(null)')],
      [span('  DMA ops           '), span(data.dmaOps, 'name')],
      [span('  iommu group       '), span(group !== undefined ? `${group} (${domainText(linux, dev, data.domain ?? undefined)})` : '(none)')],
      [span('  dma_mask          '), span(hex(dev.dmaMask), 'num')],
      [span('  coherent_dma_mask '), span(hex(dev.coherentDmaMask), 'num')],
    ];
    if (data.vfio) lines.push([span('  claimed by VFIO (vfio-pci registered it)', 'dim')]);
    return { kind: 'driver-info', data, lines };
  },
};

export const driverCommands: CommandSpec[] = [driverInfo, driverUnbind, driverBind, driverOverride, driverList, driverDeferred, driverSriov, modprobeCommand];
