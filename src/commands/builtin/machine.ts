/**
 * `machine NAME [NAME=VALUE ...]`: switch to another machine preset (with
 * options), powered on and not booted — as starting a different QEMU or
 * fast model would. Undoable. Lessons use it to move between machines.
 */
import { span } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import { PRESETS, findPreset } from '../../scenarios/index.ts';
import { applyOptions, optionPairs } from './options.ts';

export const machineCommand: CommandSpec = {
  name: 'machine',
  summary: 'Switch to another machine preset (not booted), optionally with options',
  help: `Presets: ${PRESETS.map((p) => p.name).join(', ')}. Options as in 'set' (see 'show' once switched). 'undo' returns to the previous machine.`,
  examples: ['machine qemu-virt-smmuv3', 'machine arm-fastmodel kernel=4.10-rc', 'machine arm-virt'],
  args: [
    { name: 'preset', kind: 'enum', choices: PRESETS.map((p) => p.name), desc: 'the machine preset' },
    { name: 'options', kind: 'rest', desc: 'NAME=VALUE ... options of that preset', optional: true },
  ],
  mutates: true,
  run(s, a) {
    const p = findPreset(a.v.preset as string);
    if (!p) throw new CommandError(`unknown machine '${a.v.preset}'`, a.span.preset);
    // Validate the options against the new preset, not the current one.
    const prev = s.system;
    s.replaceSystem(p.build(new Map()));
    try {
      const text = (a.v.options as string | undefined) ?? '';
      const opts = text ? applyOptions(s, optionPairs(text, a.span.options!.start)) : new Map<string, string>();
      s.replaceSystem(p.build(opts));
    } catch (e) {
      s.replaceSystem(prev);
      throw e;
    }
    return { kind: 'machine', data: { preset: p.name, options: Object.fromEntries(s.system.options) }, lines: [
        [span('machine: ', 'dim'), span(p.name, 'name'), span(` — ${p.summary} (not booted)`, 'dim')],
        ...(s.system.options.size ? [[span(`options changed from that: ${[...s.system.options].map(([k, v]) => `${k}=${v || 'unset'}`).join(' ')}`, 'dim')]] : []),
      ] };
  },
};
