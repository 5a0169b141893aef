/**
 * `dma-lab decode`: find IOMMU fault reports in kernel log text and explain
 * them. Each report becomes raw words, named fields and a plain-language
 * reading, as data (for --json) and as lines.
 */
import { hex } from '../machine/u64.ts';
import { parseSmmuLog, type SmmuLogRecord } from './smmu-log.ts';
import { decodeEvent, explainEvent } from './smmu.ts';
import { span, plain, styled, fieldLines, type Line } from './view.ts';

export interface DecodedReport {
  kind: 'arm-smmu-v3-event';
  /** 1-based line of the text where the report starts. */
  line: number;
  device?: string;
  time?: number;
  form: '2017' | 'current';
  complete: boolean;
  record: SmmuLogRecord;
  explanation?: string;
}

const lineOf = (text: string, at: number): number => text.slice(0, at).split('\n').length;

export function decodeLog(text: string): DecodedReport[] {
  return parseSmmuLog(text).map((r) => ({
    kind: 'arm-smmu-v3-event',
    line: lineOf(text, r.at),
    device: r.device,
    time: r.time,
    form: r.decoded ? 'current' : '2017',
    complete: r.complete,
    record: r,
    explanation: r.complete ? explainEvent(r.raw) : undefined,
  }));
}

export function reportLines(reps: DecodedReport[], source: string): Line[] {
  const lines: Line[] = [];
  if (!reps.length) return [plain(`no IOMMU fault reports found in ${source} (looked for arm-smmu-v3 "event 0x.. received:" dumps)`)];
  reps.forEach((rep, i) => {
    if (i) lines.push(plain(''));
    const r = rep.record;
    lines.push([
      styled(`${source}:${rep.line}: `, 'dim')[0]!,
      span(`arm-smmu-v3 event ${hex(r.type, 2)} ${r.name}`, 'head'),
      span(`${rep.device ? ` from ${rep.device}` : ''}${rep.time !== undefined ? ` at ${rep.time.toFixed(6)} s` : ''} (${rep.form === 'current' ? 'current form, with decoded lines' : '2017 form: raw dump only'})`, 'dim'),
    ]);
    lines.push([span('  raw: ', 'dim'), span(r.raw.map((w) => hex(w, 16)).join(' '), 'num')]);
    if (!rep.complete) {
      lines.push([span(`  the dump has ${r.raw.length} of 4 words: the log was cut short, fields not decoded`, 'warn')]);
      return;
    }
    lines.push(...fieldLines(decodeEvent(r.raw).map((f) => ({ name: f.name, bits: f.bits, text: f.text, desc: f.meaning })), '  '));
    if (rep.explanation) lines.push([span('  reading: ', 'dim'), span(rep.explanation)]);
    if (r.decoded) lines.push([span('  the kernel also printed: ', 'dim'), span(`event: ${r.decoded.name} client: ${r.decoded.client} sid: ${hex(r.decoded.sid)}`)]);
  });
  return lines;
}
