/** `help [CMD]`: every command from the registry, or one command's full help. */
import { span, styled, plain, table, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec, Registry } from '../registry.ts';
import { usageOf } from '../session.ts';

export function helpFor(spec: CommandSpec): Line[] {
  const lines: Line[] = [styled(usageOf(spec), 'head'), plain(''), plain(spec.summary)];
  if (spec.help) lines.push(plain(''), ...spec.help.split('\n').map((l) => plain(l)));
  if (spec.args.length || spec.opts?.length) {
    lines.push(plain(''), styled('arguments:', 'head'));
    lines.push(
      ...table(
        [{ header: '', style: 'name' }, { header: '' }],
        [...spec.args.map((a) => [a.name.toUpperCase() + (a.optional ? ' (optional)' : ''), a.desc + (a.choices ? ` (${a.choices.join(', ')})` : '')]), ...(spec.opts ?? []).map((o) => [`${o.name}=`, o.desc + (o.choices ? ` (${o.choices.join(', ')})` : '')])],
        { header: false, indent: '  ' },
      ),
    );
  }
  if (spec.format) lines.push(plain(''), styled('format:', 'head'), ...spec.format.split('\n').map((l) => plain('  ' + l)));
  if (spec.examples.length) {
    lines.push(plain(''), styled('examples:', 'head'));
    for (const e of spec.examples) lines.push([span('  '), span(e, 'key')]);
  }
  return lines;
}

export function helpCommand(reg: Registry): CommandSpec {
  return {
    name: 'help',
    summary: 'List the commands, or show one command in full',
    help: 'Without an argument, one line per command. With a command name (or a group such as `info`), its usage, arguments and examples.',
    examples: ['help', 'help xp', 'help info', 'help info mtree'],
    args: [{ name: 'command', kind: 'rest', desc: 'a command name, e.g. xp or info mtree', optional: true }],
    mutates: false,
    run(_s, a) {
      const want = (a.v.command as string | undefined)?.trim().replace(/\s+/g, ' ');
      if (!want) {
        const rows = reg.all().map((c) => [c.name, c.summary]);
        return {
          kind: 'help',
          data: { commands: reg.all().map((c) => ({ name: c.name, summary: c.summary })) },
          lines: [...table([{ header: 'command', style: 'key' }, { header: 'what it does' }], rows), plain(''), plain("'help CMD' shows one command with examples. Numbers: 0x10, 16, 4K; expressions in parentheses.")],
        };
      }
      const spec = reg.get(want);
      if (spec) return { kind: 'help', data: { name: spec.name, usage: usageOf(spec), summary: spec.summary, help: spec.help, examples: spec.examples }, lines: helpFor(spec) };
      if (reg.isGroup(want)) {
        const subs = reg.subcommands(want).map((s) => reg.get(`${want} ${s}`)!);
        return {
          kind: 'help',
          data: { group: want, commands: subs.map((c) => ({ name: c.name, summary: c.summary })) },
          lines: [styled(`${want}: ${reg.groupSummary(want)}`, 'head'), ...table([{ header: 'command', style: 'key' }, { header: 'what it does' }], subs.map((c) => [c.name, c.summary]))],
        };
      }
      const sug = reg.suggest(want.split(' ')[0]!);
      throw new CommandError(`no command '${want}'${sug ? `; did you mean '${sug}'?` : ''}`, a.span.command, 'a command name', "'help' lists every command");
    },
  };
}
