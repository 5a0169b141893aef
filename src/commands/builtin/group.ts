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
 * `driver unbind DEV`, `driver bind DEV [DRIVER]`, `driver override DEV
 * NAME|none` and `driver list` live in driver.ts (the driver core itself is
 * kernel/driver-core.ts); they are registered with this group's commands.
 *
 * Undo: every part these commands change is kernel state that is saved
 * (Linux.bound, the iommu core's groups and bindings, dma-iommu's cookies,
 * the SMMU driver, the disks, the struct device fields) or memory.
 */
import type { Linux } from '../../kernel/linux.ts';
import type { KDevice } from '../../kernel/types.ts';
import { ERRNO_NAMES, EACCES, EBUSY, EINVAL, ENOMEM, EPERM } from '../../kernel/iommu.ts';
import { span, plain, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';
import { devLabel, dmaOpsName, needLinux } from '../kernel-device.ts';
import { driverBind, driverDeferred, driverInfo, driverList, driverOverride, driverSriov, driverUnbind, modprobeCommand } from './driver.ts';

/** strerror() of the errnos a sysfs write can return here (what the shell's echo prints). */
export const STRERROR: Record<number, string> = {
  [EPERM]: 'Operation not permitted',
  [EACCES]: 'Permission denied',
  [EBUSY]: 'Device or resource busy',
  [EINVAL]: 'Invalid argument',
  [ENOMEM]: 'Cannot allocate memory',
};

export const GROUP_TYPES = ['identity', 'DMA', 'DMA-FQ', 'auto'] as const;

// ---- driver binding: src/commands/builtin/driver.ts (the driver core is kernel/driver-core.ts) ----

/** The driver bound to a device now (kept here for older importers). */
export function boundDriver(linux: Linux, dev: KDevice): string | undefined {
  return linux.driverCore.boundDriver(dev);
}

/** Kernel log lines printed by `fn`. */
function withLog<T>(s: Session, fn: () => T): { value: T; log: string[] } {
  const before = s.kernel.dmesg();
  const last = before.length ? before[before.length - 1]!.time : -1;
  const value = fn();
  return { value, log: s.kernel.dmesg().filter((l) => l.time > last).map((l) => l.text) };
}

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
      lines.push(plain(`  ${devLabel(d)}: ${drv ? `bound to ${drv}, DMA ops ${dmaOpsName(linux, d)}` : `no driver: dma_configure installs ${after === 'identity' ? 'dma-direct' : 'iommu-dma'} at the next bind`}`));
    }
    for (const l of log) lines.push([span(`  kernel: ${l}`, 'warn')]);
    return { kind: 'group-type', data: { group: g.id, type: after, before, written: type, log }, lines };
  },
};

export { driverBind, driverUnbind };
export const groupCommands: CommandSpec[] = [groupType, driverUnbind, driverBind, driverOverride, driverList, driverDeferred, driverSriov, modprobeCommand, driverInfo];
