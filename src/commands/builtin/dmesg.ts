/** `dmesg`: the kernel log, with printk timestamps, as `dmesg` prints it. */
import { printkTime } from '../../kernel/kernel.ts';
import { span, plain, type Line } from '../../inspect/view.ts';
import type { CommandSpec } from '../registry.ts';

export const dmesgCommand: CommandSpec = {
  name: 'dmesg',
  summary: 'The kernel log (printk timestamps are simulated time, deterministic)',
  help: 'Error-level lines are highlighted. Lines that start with "dma-lab:" are the lab speaking, not the kernel.',
  examples: ['dmesg'],
  args: [],
  mutates: false,
  run(s) {
    const log = s.kernel.dmesg();
    const lines: Line[] = log.map((l) => [span(printkTime(l.time), 'dim'), span(l.text, l.level === 'err' ? 'bad' : l.level === 'warn' ? 'warn' : l.text.startsWith('dma-lab:') ? 'key' : undefined)]);
    if (!lines.length) lines.push(plain(s.kernel.booted ? '(empty)' : "the kernel has not booted: 'boot' starts it"));
    return { kind: 'dmesg', data: { lines: log }, lines };
  },
};
