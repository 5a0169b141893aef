/** `undo` and `reset`. */
import { span } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import { Session } from '../session.ts';

export const undoCommand: CommandSpec = {
  name: 'undo',
  summary: `Undo the last command that changed the machine (up to ${Session.UNDO_LIMIT} back)`,
  help: 'Puts memory and every device back as they were before that command. Commands that only look (xp, info, help) are not undo steps.',
  examples: ['write 0x40000000 1', 'undo'],
  args: [],
  mutates: false,
  history: true,
  run(s, a) {
    const undone = s.undo();
    if (undone === undefined) throw new CommandError('nothing to undo', a.all, undefined, 'undo works after a command that changed the machine (write, fill, reset, ...)');
    return { kind: 'undo', data: { undone }, lines: [[span('undid: ', 'dim'), span(undone, 'key')]] };
  },
};

export const resetCommand: CommandSpec = {
  name: 'reset',
  summary: 'Rebuild the machine from its preset and options (undoable)',
  help: 'Power-cycles the model: memory cleared, devices and kernel back to their initial state. `undo` brings the previous machine back.',
  examples: ['reset'],
  args: [],
  mutates: true,
  run(s) {
    s.replaceSystem(s.rebuild());
    return { kind: 'reset', data: { preset: s.system.preset.name }, lines: [[span('machine reset: ', 'dim'), span(s.system.preset.name, 'name')]] };
  },
};
