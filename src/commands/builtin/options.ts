/**
 * `set NAME=VALUE` and `show`: the preset's options — the kernel era, kernel
 * command-line parameters (Linux's own names) and device properties
 * (QEMU's names, prefixed by the device: vda.disable-modern=on). Options
 * are power-on settings: `set` rebuilds the machine with them (undoable),
 * as restarting QEMU with a new command line would.
 */
import { span, plain, table, styled, type Line } from '../../inspect/view.ts';
import { KERNEL_ERAS, eraDmaStory, type KernelEra } from '../../kernel/era.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import { lex } from '../lexer.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';

/** Validate NAME=VALUE pairs against the preset; returns the new option map. */
export function applyOptions(s: Session, pairs: { key: string; value: string; span: SourceSpan; keySpan: SourceSpan }[]): Map<string, string> {
  const preset = s.system.preset;
  const next = new Map(s.system.options);
  for (const p of pairs) {
    const o = preset.options.find((x) => x.name === p.key);
    if (!o) {
      const names = preset.options.map((x) => x.name);
      const sug = s.registry.suggest(p.key, names);
      throw new CommandError(`${preset.name} has no option '${p.key}'${sug ? `; did you mean '${sug}'?` : ''}`, p.keySpan, names.join(', '), "'show' lists the options");
    }
    // `show` prints an empty value as 'unset'; accept that spelling back.
    if (p.value === 'unset' && o.values?.includes('')) p.value = '';
    if (o.values && !o.values.includes(p.value)) throw new CommandError(`'${p.value}' is not a value of ${o.name}`, p.span, `one of ${o.values.join(', ')}`);
    const err = o.validate?.(p.value);
    if (err) throw new CommandError(`bad value for ${o.name}: ${err}`, p.span);
    if (p.value === o.default) next.delete(o.name);
    else next.set(o.name, p.value);
  }
  const bad = preset.validate?.(next);
  if (bad) throw new CommandError(bad, pairs.length ? { start: pairs[0]!.keySpan.start, end: pairs[pairs.length - 1]!.span.end } : undefined, undefined, "'show' lists the options and their values");
  return next;
}

/** Parse the NAME=VALUE words of a command's `rest` argument. */
export function optionPairs(text: string, start: number): { key: string; value: string; span: SourceSpan; keySpan: SourceSpan }[] {
  return lex(text).tokens.map((t) => {
    if (t.key === undefined) throw new CommandError(`'${t.text}' is not NAME=VALUE`, { start: start + t.start, end: start + t.end }, 'NAME=VALUE, e.g. kernel=4.10-rc or iommu.passthrough=1');
    return { key: t.key, value: t.value!, span: { start: start + t.valueStart!, end: start + t.end }, keySpan: { start: start + t.start, end: start + t.valueStart! - 1 } };
  });
}

export const setCommand: CommandSpec = {
  name: 'set',
  summary: 'Set machine options (kernel era, kernel parameters, device properties); the machine restarts with them',
  help: [
    'NAME=VALUE pairs. Kernel parameters use Linux\'s names (iommu.passthrough=1, iommu.strict=0,',
    'arm-smmu-v3.disable_bypass=1, swiotlb=...); device properties use QEMU\'s names after the',
    'device (vda.disable-modern=on, vda.iommu_platform=on). Options are power-on settings: the',
    'machine is rebuilt with them, not booted. `undo` returns to the previous machine.',
  ].join('\n'),
  examples: ['show', 'set ram=2G'],
  args: [{ name: 'pairs', kind: 'rest', desc: 'NAME=VALUE ... (see show)' }],
  mutates: true,
  run(s, a) {
    const pairs = optionPairs(a.v.pairs as string, a.span.pairs!.start);
    const opts = applyOptions(s, pairs);
    s.replaceSystem(s.system.preset.build(opts));
    return {
      kind: 'set',
      data: { options: Object.fromEntries(opts) },
      lines: [...pairs.map((p) => [span(p.key, 'name'), span(' = '), span(p.value, 'num')]), [span(`machine ${s.system.preset.name} restarted with these options (not booted)`, 'dim')]],
    };
  },
};

export const showCommand: CommandSpec = {
  name: 'show',
  summary: 'List every machine option with its value and what it means',
  help: "Values that differ from the preset's default are marked with *. `show kernel` explains each kernel era (kernel=...).",
  examples: ['show', 'show kernel'],
  args: [{ name: 'what', kind: 'enum', choices: ['kernel'], desc: 'kernel: the kernel eras and what each changes', optional: true }],
  mutates: false,
  run(s, a) {
    const sys = s.system;
    if (a.v.what === 'kernel') {
      const cur = sys.extras.era;
      const eras = (Object.keys(KERNEL_ERAS) as KernelEra[]).sort((x, y) => KERNEL_ERAS[x].version - KERNEL_ERAS[y].version || Object.keys(KERNEL_ERAS).indexOf(x) - Object.keys(KERNEL_ERAS).indexOf(y));
      const lines: Line[] = [styled(`kernel eras (kernel=NAME)${cur ? `; ${sys.preset.name} is set to ${cur}` : `; ${sys.preset.name} has no kernel`}`, 'head')];
      for (const e of eras) {
        const i = KERNEL_ERAS[e];
        lines.push([span(`${e === cur ? '*' : ' '} ${e.padEnd(8)}`, 'name'), span(i.what)]);
        lines.push([span(`           DMA configuration: ${eraDmaStory(i)}`, 'dim')]);
      }
      return { kind: 'kernel-eras', data: { current: cur ?? null, eras: eras.map((e) => ({ name: e, release: KERNEL_ERAS[e].release, what: KERNEL_ERAS[e].what, dma: eraDmaStory(KERNEL_ERAS[e]) })) }, lines };
    }
    const rows = sys.preset.options.map((o) => {
      const v = sys.options.get(o.name) ?? o.default;
      return [o.name, (v || '(empty)') + (sys.options.has(o.name) ? ' *' : ''), o.scope, o.desc + (o.values ? ` [${o.values.map((x) => x || 'unset').join('|')}]` : '')];
    });
    return {
      kind: 'options',
      data: { preset: sys.preset.name, options: sys.preset.options.map((o) => ({ name: o.name, value: sys.options.get(o.name) ?? o.default, default: o.default, scope: o.scope, desc: o.desc, values: o.values })) },
      lines: [styled(`${sys.preset.name} options`, 'head'), ...table([{ header: 'option', style: 'name' }, { header: 'value', style: 'num' }, { header: 'kind', style: 'dim' }, { header: 'meaning' }], rows), plain('* differs from the default')],
    };
  },
};
