/** `trace [on|off|clear|show [N]]`: the DMA trace, every device access with its translation steps. */
import { hex } from '../../machine/u64.ts';
import type { TraceRecord } from '../../machine/trace.ts';
import { span, plain, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import { DmaTrace } from '../../machine/trace.ts';

export function traceSummary(r: TraceRecord): Line {
  const o = r.outcome;
  if (r.cpu) {
    // A CPU copy made for the device (swiotlb bounce), not a device access.
    return [
      span(`#${r.seq}`.padEnd(6), 'dim'),
      span(r.device.padEnd(6), 'name'),
      span(` CPU copy by ${r.cpu}: `),
      span(hex(r.addr), 'addr'),
      span(' -> '),
      span(o.kind === 'ok' ? hex(o.pa) : '?', 'addr'),
      span(` +${r.len}`),
      span(r.what ? ` (${r.what})` : '', 'dim'),
    ];
  }
  const out: Line = [
    span(`#${r.seq}`.padEnd(6), 'dim'),
    span(r.device.padEnd(6), 'name'),
    span(` ${r.op.padEnd(5)} `),
    span(hex(r.addr), 'addr'),
    span(` +${r.len}`),
    span(r.what ? ` (${r.what})` : '', 'dim'),
    span(r.path === 'translated' ? ` via ${r.iommu} sid ${hex(r.sid ?? 0)}${r.iotlbHit ? ' [iotlb hit]' : ''}` : ' untranslated', 'dim'),
    span(' -> '),
  ];
  if (o.kind === 'ok') out.push(span(`PA ${hex(o.pa)}`, 'ok'));
  else if (o.kind === 'fault') out.push(span(`FAULT ${o.fault.name}${o.fault.code >= 0 ? ` (${hex(o.fault.code, 2)})` : ''}`, 'bad'), span(o.fault.recorded ? ' recorded' : '', 'dim'));
  else out.push(span(`${o.kind}: ${o.detail}`, 'warn'));
  return out;
}

export function traceDetail(r: TraceRecord): Line[] {
  const lines: Line[] = [traceSummary(r)];
  for (const st of r.steps) {
    const desc = st.desc === undefined ? '' : Array.isArray(st.desc) ? st.desc.map((d) => hex(d, 16)).join(' ') : hex(st.desc, 16);
    lines.push([
      span('        '),
      span(st.level.padEnd(6), 'key'),
      span(st.descAddr !== undefined ? `@${hex(st.descAddr)}` : '', 'addr'),
      span(st.index !== undefined ? ` [${st.index}]` : ''),
      span(desc ? ` = ${desc}` : '', 'num'),
      span(`  ${st.note}`, 'dim'),
    ]);
  }
  if (r.outcome.kind === 'fault') lines.push([span('        '), span(r.outcome.fault.detail, 'bad')]);
  return lines;
}

export const traceCommand: CommandSpec = {
  name: 'trace',
  summary: `The DMA trace: each device access, its translation steps and outcome (keeps ${DmaTrace.CAPACITY})`,
  help: 'trace / trace show [N]: the last N records (default 20) with every translation step. trace on|off: record or not. trace clear: drop all records.',
  examples: ['trace', 'trace show 5', 'trace off', 'trace on', 'trace clear'],
  args: [
    { name: 'action', kind: 'enum', choices: ['show', 'on', 'off', 'clear'], desc: 'what to do (default show)', optional: true },
    { name: 'n', kind: 'u64', desc: 'how many records to show (default 20)', optional: true },
  ],
  mutates: false,
  run(s, a) {
    const t = s.machine.trace;
    const action = (a.v.action as string | undefined) ?? 'show';
    if (action !== 'show' && a.v.n !== undefined) throw new CommandError(`'trace ${action}' takes no count`, a.span.n);
    if (action === 'on' || action === 'off') {
      t.enabled = action === 'on';
      return { kind: 'trace', data: { enabled: t.enabled }, lines: [plain(`DMA trace ${action}`)] };
    }
    if (action === 'clear') {
      t.clear();
      return { kind: 'trace', data: { cleared: true }, lines: [plain('DMA trace cleared')] };
    }
    const n = Number((a.v.n as bigint | undefined) ?? 20n);
    const recs = t.records().slice(-n);
    const lines: Line[] = recs.flatMap(traceDetail);
    if (!recs.length) lines.push(plain(t.enabled ? 'no DMA recorded yet' : 'no DMA recorded (trace is off: trace on)'));
    if (t.dropped) lines.push([span(`(${t.dropped} older records dropped: the trace keeps ${DmaTrace.CAPACITY})`, 'dim')]);
    return { kind: 'trace', data: { enabled: t.enabled, dropped: t.dropped, records: recs }, lines };
  },
};
