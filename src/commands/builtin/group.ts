/**
 * `group type N [identity|DMA|DMA-FQ|auto]`, `driver unbind DEV`,
 * `driver bind DEV`: change an IOMMU group's default domain the way sysfs
 * does, and unbind and rebind the kernel driver so that it may change.
 *
 * `group type N TYPE` is `echo TYPE > /sys/kernel/iommu_groups/N/type`
 * (iommu_group_store_type, kernel/iommu.ts groupStoreType): refused with
 * the errno of the booted kernel's era while a driver uses the DMA API in
 * the group (v6.4+: -EPERM; v5.11-v6.3: -EBUSY "Device is still bound to
 * driver"; before v5.11 the file is read-only: -EACCES). Without TYPE it
 * is `cat .../type`.
 *
 * `driver unbind DEV` is `echo BDF > /sys/bus/pci/drivers/virtio-pci/unbind`
 * for a virtio device: virtio-pci's remove takes virtio_blk's disk with it
 * (the device is reset, its virtqueue freed through the DMA API it was
 * allocated with, the disk removed), then the driver core drops the
 * device's DMA-API ownership of its group (iommu_device_unuse_default_domain
 * via DmaMapping.dmaDeconfigure). The DMA masks stay as they were
 * (REFERENCE.md 5.2). What the model does NOT do: pci_disable_device
 * (clearing Bus Master) and freeing the IRQ; requests that never completed
 * keep their mappings, as a wedged driver's would.
 *
 * `driver bind DEV` is the matching `.../bind`: really_probe runs
 * dma_configure again (DmaMapping.dmaConfigure: DMA-API ownership, then
 * iommu-dma or dma-direct for the group's default domain as it is now) and,
 * for virtio-blk, the whole probe: a new virtqueue, DRIVER_OK, the
 * partition-table read through the new DMA ops. Other drivers the lab
 * binds without modelling their I/O (x86 e1000e, ahci, ...) get
 * dma_configure only.
 *
 * Undo: every part these commands change is kernel state that is saved
 * (Linux.bound, the iommu core's groups and bindings, dma-iommu's cookies,
 * the SMMU driver, the disks, the struct device fields) or memory.
 */
import { hex } from '../../machine/u64.ts';
import { VirtioPciDevice } from '../../machine/virtio/virtio-pci.ts';
import { clone, type Stateful } from '../../machine/state.ts';
import type { Linux } from '../../kernel/linux.ts';
import type { KDevice } from '../../kernel/types.ts';
import { ERRNO_NAMES, EACCES, EBUSY, EINVAL, ENOMEM, EPERM } from '../../kernel/iommu.ts';
import { virtblkProbe, type VirtioBlk } from '../../kernel/virtio/virtio-blk.ts';
import { vpReset } from '../../kernel/virtio/virtio-pci.ts';
import { vringDelVirtqueue } from '../../kernel/virtio/virtio-ring.ts';
import { span, plain, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';
import { devLabel, kernelDevice, needLinux } from '../kernel-device.ts';

/** strerror() of the errnos a sysfs write can return here (what the shell's echo prints). */
export const STRERROR: Record<number, string> = {
  [EPERM]: 'Operation not permitted',
  [EACCES]: 'Permission denied',
  [EBUSY]: 'Device or resource busy',
  [EINVAL]: 'Invalid argument',
  [ENOMEM]: 'Cannot allocate memory',
};

export const GROUP_TYPES = ['identity', 'DMA', 'DMA-FQ', 'auto'] as const;

// ---- driver binding ------------------------------------------------------------------

/**
 * Which driver a device had before `driver unbind` (to bind the same one
 * again). A Stateful part of the booted kernel, so undo forgets it too.
 */
class UnboundDrivers implements Stateful {
  s: { drivers: Record<string, string> } = { drivers: {} };
  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as { drivers: Record<string, string> });
  }
}

const stores = new WeakMap<Linux, UnboundDrivers>();
function unboundDrivers(linux: Linux): UnboundDrivers {
  let st = stores.get(linux);
  if (!st) {
    st = new UnboundDrivers();
    stores.set(linux, st);
    linux.add('commands:unbound-drivers', st);
  }
  return st;
}

/**
 * The driver bound to a device now: the booted kernel's record (Linux.bound,
 * saved state, so right after an undo too), or the iommu core's for a
 * device in a group.
 */
export function boundDriver(linux: Linux, dev: KDevice): string | undefined {
  return linux.bound.get(dev.name) ?? linux.core.boundDriver(dev);
}

/** Kernel log lines printed by `fn`. */
function withLog<T>(s: Session, fn: () => T): { value: T; log: string[] } {
  const before = s.kernel.dmesg();
  const last = before.length ? before[before.length - 1]!.time : -1;
  const value = fn();
  return { value, log: s.kernel.dmesg().filter((l) => l.time > last).map((l) => l.text) };
}

const diskOf = (linux: Linux, dev: KDevice): VirtioBlk | undefined => linux.disks.list().find((b) => b.vdev.pciName === dev.name);

/** The lowest index not in use: what ida_alloc() hands out (virtio bus index, virtblk disk index). */
const lowestFree = (used: number[]): number => {
  let i = 0;
  while (used.includes(i)) i++;
  return i;
};

const diskIndexOf = (name: string): number => {
  // vda..vdz, vdaa...: base-26 with a one-based twist (virtblk_name_format).
  let n = 0;
  for (const ch of name.slice(2)) n = n * 26 + (ch.charCodeAt(0) - 96);
  return n - 1;
};

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
    const driver = boundDriver(linux, dev);
    if (!driver) throw new CommandError(`${devLabel(dev)} has no driver bound`, a.span.dev, 'a device with a driver', `driver bind ${k.ref.name}`);
    const blk = diskOf(linux, dev);
    const { log } = withLog(s, () => {
      if (blk) {
        // virtblk_remove: del_gendisk, reset the device, vdev->config->del_vqs.
        const env = linux.env;
        vpReset(env, blk.vdev);
        vringDelVirtqueue(env, dev, blk.vq);
        linux.disks.restoreState({ disks: linux.disks.list().filter((b) => b !== blk) });
      }
      // device_unbind_cleanup -> iommu_device_unuse_default_domain.
      linux.dma.dmaDeconfigure(dev);
    });
    unboundDrivers(linux).s.drivers[dev.name] = driver;
    linux.bound.delete(dev.name);
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
      if (!own?.ownerCnt) lines.push([span(`  group type ${group} identity|DMA|DMA-FQ|auto changes it; driver bind ${k.ref.name} probes again`, 'dim')]);
    }
    lines.push([span(`  DMA masks unchanged: ${hex(dev.dmaMask)} (coherent ${hex(dev.coherentDmaMask)})`, 'dim')]);
    for (const l of log) lines.push([span(`  kernel: ${l}`, 'warn')]);
    return { kind: 'driver-unbind', data: { device: dev.name, alias, driver, disk: blk?.diskName ?? null, group: group ?? null, log }, lines };
  },
};

export const driverBind: CommandSpec = {
  name: 'driver bind',
  summary: 'Bind the kernel driver to a device again (sysfs .../drivers/DRIVER/bind): dma_configure runs, virtio-blk probes its disk',
  help: [
    'What `echo 0000:00:01.0 > /sys/bus/pci/drivers/virtio-pci/bind` does: really_probe runs dma_configure',
    'again, which takes DMA-API ownership of the IOMMU group and installs iommu-dma (DMA or DMA-FQ default',
    'domain) or dma-direct (identity domain, or no IOMMU) for the domain the group has now; then virtio-pci',
    'and virtio_blk probe: a new virtqueue allocated through those DMA ops, DRIVER_OK, and the partition',
    'table read. The command shows the kernel log of the probe and the DMA ops the device got.',
  ].join('\n'),
  examples: ['driver bind vda', 'driver bind 00:01.0'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on', 'driver unbind vda'],
  args: [{ name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' }],
  mutates: true,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const { linux, dev } = k;
    const cur = boundDriver(linux, dev);
    if (cur) throw new CommandError(`${devLabel(dev)} is already bound to ${cur}`, a.span.dev, 'a device without a driver', `driver unbind ${k.ref.name}`);
    const store = unboundDrivers(linux);
    const virtio = dev.pci instanceof VirtioPciDevice;
    const driver = store.s.drivers[dev.name] ?? (virtio ? 'virtio-pci' : undefined);
    if (!driver) throw new CommandError(`no driver in this model matches ${devLabel(dev)}`, a.span.dev, 'a device the booted kernel had a driver for');
    const { value: r, log } = withLog(s, () => {
      const rc = linux.dma.dmaConfigure(dev, { driver });
      if (rc < 0) return { rc };
      if (!virtio) return { rc };
      const disks = linux.disks.list();
      const p = virtblkProbe(linux.env, dev, {
        virtioIndex: lowestFree(disks.map((b) => b.vdev.index)),
        diskIndex: lowestFree(disks.map((b) => diskIndexOf(b.diskName))),
      });
      linux.probes.set(dev.name, p);
      if (p.ok) linux.disks.add(p.blk);
      for (const drv of linux.smmus) drv.evtqThread();
      return { rc, probe: p };
    });
    if (r.rc < 0) {
      throw new CommandError(
        `${driver} ${dev.name}: probe failed: dma_configure returned -${ERRNO_NAMES[-r.rc] ?? -r.rc}${-r.rc === EBUSY ? ' (a user such as VFIO owns the group)' : ''}`,
        a.span.dev,
      );
    }
    delete store.s.drivers[dev.name];
    linux.bound.set(dev.name, driver);
    const blk = diskOf(linux, dev);
    const ops = dev.dmaOps === 'iommu' ? 'iommu-dma' : 'dma-direct';
    const group = linux.core.groupOf(dev);
    const lines: Line[] = [[span(`echo ${dev.name} > /sys/bus/pci/drivers/${driver}/bind`, 'name'), span('  done', 'ok')]];
    lines.push([span('  dma_configure: '), span(ops, 'name'), span(group !== undefined ? ` (iommu group ${group}, default domain ${linux.core.groupShowType(group).trim()})` : ' (no IOMMU group)')]);
    if (virtio) {
      if (blk) lines.push([span(`  virtio_blk: disk ${blk.diskName} on ${blk.vdev.name}${blk.partitions?.line ? `; ${blk.partitions.line.trim()}` : ''}`, 'ok')]);
      else if (r.probe && !r.probe.ok) lines.push([span(`  virtio_blk probe failed: ${r.probe.error}`, 'bad')]);
      else lines.push([span('  virtio_blk: the disk probed but its partition table read did not complete', 'warn')]);
    }
    for (const l of log) lines.push([span(`  kernel: ${l}`, /err|fail|unable/i.test(l) ? 'warn' : 'dim')]);
    return { kind: 'driver-bind', data: { device: dev.name, alias: dev.alias, driver, dmaOps: ops, disk: blk?.diskName ?? null, partitions: blk?.partitions?.line ?? null, log }, lines };
  },
};

// ---- group type ------------------------------------------------------------------------

export const groupType: CommandSpec = {
  name: 'group type',
  summary: "Show or write an IOMMU group's default-domain type (/sys/kernel/iommu_groups/N/type)",
  help: [
    '`group type N` prints the file; `group type N TYPE` writes it (echo TYPE > .../type), with the',
    "booted kernel's rules (iommu_group_store_type): identity, DMA, DMA-FQ (v5.15+) or auto. A driver",
    'using the DMA API in the group makes the write fail: -EPERM "Operation not permitted" on v6.4+',
    'kernels, -EBUSY "Device or resource busy" on v5.11-v6.3; before v5.11 the file is read-only',
    '(-EACCES). DMA -> DMA-FQ is done in place, driver bound or not. `driver unbind DEV` first; the new',
    "domain's DMA ops are installed when `driver bind DEV` probes again.",
  ].join('\n'),
  examples: ['group type 0', 'group type 0 identity', 'group type 0 DMA-FQ', 'group type 0 auto'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on', 'driver unbind vda'],
  args: [
    { name: 'group', kind: 'u64', desc: 'the group number (info groups lists them)' },
    { name: 'type', kind: 'enum', choices: GROUP_TYPES, desc: 'the type to write: identity, DMA, DMA-FQ or auto', optional: true },
  ],
  mutates: true,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const idV = a.v.group as bigint;
    const groups = linux.core.groupsInfo();
    const g = groups.find((x) => BigInt(x.id) === idV);
    if (!g) {
      throw new CommandError(
        `no IOMMU group ${idV}: /sys/kernel/iommu_groups/${idV} does not exist`,
        a.span.group,
        groups.length ? `a group number: ${groups.map((x) => x.id).join(', ')}` : 'a group number, but no device is in an IOMMU group',
        "'info groups' lists them",
      );
    }
    const path = `/sys/kernel/iommu_groups/${g.id}/type`;
    const before = linux.core.groupShowType(g.id).trim();
    const type = a.v.type as string | undefined;
    if (type === undefined) {
      return { kind: 'group-type', data: { group: g.id, type: before, written: null }, lines: [[span(`cat ${path}`, 'dim')], plain(before)] };
    }
    const devs = linux.core.groupDevices(g.id);
    const { value: rc, log } = withLog(s, () => linux.core.groupStoreType(g.id, `${type}\n`));
    const cmd = `echo ${type} > ${path}`;
    if (rc < 0) {
      const e = -rc;
      const users = devs.filter((d) => boundDriver(linux, d)).map((d) => `${devLabel(d)} (${boundDriver(linux, d)})`);
      const why =
        e === EACCES ? `the file is read-only on ${linux.era} kernels (writable since v5.11)`
        : e === EPERM || e === EBUSY ? users.length ? `a driver uses the DMA API in the group: ${users.join(', ')}` : 'the group is in use (a DMA owner such as VFIO)'
        : e === EINVAL ? type === 'DMA-FQ' && linux.core.config.version < 515 ? 'DMA-FQ does not exist before v5.15' : 'the kernel refused the type for this group'
        : '';
      throw new CommandError(
        `${cmd}: write error: ${STRERROR[e] ?? `errno ${e}`} (-${ERRNO_NAMES[e] ?? e})${why ? `: ${why}` : ''}${log.length ? `; the kernel logged: ${log.join(' / ')}` : ''}`,
        a.span.type,
        undefined,
        (e === EPERM || e === EBUSY) && devs[0] ? `driver unbind ${devs[0].alias ?? devs[0].name}` : undefined,
      );
    }
    const after = linux.core.groupShowType(g.id).trim();
    const lines: Line[] = [[span(cmd, 'name'), span('  done', 'ok')], [span(`  ${path}: `, 'dim'), span(before, 'num'), span(' -> '), span(after, 'num')]];
    for (const d of devs) {
      const drv = boundDriver(linux, d);
      lines.push(plain(`  ${devLabel(d)}: ${drv ? `bound to ${drv}, DMA ops ${d.dmaOps === 'iommu' ? 'iommu-dma' : 'dma-direct'}` : `no driver: dma_configure installs ${after === 'identity' ? 'dma-direct' : 'iommu-dma'} at the next bind`}`));
    }
    for (const l of log) lines.push([span(`  kernel: ${l}`, 'warn')]);
    return { kind: 'group-type', data: { group: g.id, type: after, before, written: type, log }, lines };
  },
};

export const groupCommands: CommandSpec[] = [groupType, driverUnbind, driverBind];
