/**
 * `boot [NAME=VALUE ...]`: power on and boot Linux. Options given here are
 * set first (as `set` would), so `boot kernel=4.10-rc` boots that era. A
 * boot always starts from a freshly powered-on machine; `undo` returns to
 * the machine as it was before.
 */
import { printkTime } from '../../kernel/kernel.ts';
import { bootLinux } from '../../kernel/linux.ts';
import { span, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import { applyOptions, optionPairs } from './options.ts';

export const bootCommand: CommandSpec = {
  name: 'boot',
  summary: 'Power on and boot Linux (kernel parameters and options as NAME=VALUE)',
  help: [
    'Builds the machine afresh with the current options plus the NAME=VALUE pairs given, boots the',
    'kernel era in `kernel=`, and prints the kernel log of the boot (also in `dmesg`).',
    'A device that never completes does not hang the lab: the driver gives up after a bounded',
    'number of polls and the log says so in a "dma-lab:" line.',
  ].join('\n'),
  examples: ['boot', 'boot kernel=4.10-rc', 'boot iommu.passthrough=1', 'boot kernel=6.x vda.dma-path=bypass'],
  exampleMachine: 'arm-fastmodel',
  args: [{ name: 'options', kind: 'rest', desc: 'NAME=VALUE ... (see show)', optional: true }],
  mutates: true,
  run(s, a) {
    const text = (a.v.options as string | undefined) ?? '';
    const opts = text ? applyOptions(s, optionPairs(text, a.span.options!.start)) : new Map(s.system.options);
    const sys = s.system.preset.build(opts);
    // A preset that boots its kernels while it is built (xen-arm: Xen, dom0, a domU) has its log already.
    if (!sys.extras.era && !sys.kernel.booted) throw new CommandError(`${sys.preset.name} has no kernel to boot`, a.all, undefined, 'try --machine arm-fastmodel or qemu-virt-smmuv3');
    if (sys.extras.era) sys.linux = bootLinux(sys.machine, sys.kernel, { ...sys.extras.boot, era: sys.extras.era, firmware: sys.extras.firmware });
    s.replaceSystem(sys);
    const log = sys.kernel.dmesg();
    const lines: Line[] = log.map((l) => [span(printkTime(l.time), 'dim'), span(l.text, l.level === 'err' ? 'bad' : l.level === 'warn' ? 'warn' : undefined)]);
    const disks = (sys.linux?.disks.list() ?? []).map((d) => ({ name: d.diskName, partitions: d.partitions?.line ?? null }));
    return { kind: 'boot', data: { era: sys.extras.era, options: Object.fromEntries(opts), disks, dmesg: log }, lines };
  },
};
