/**
 * `dma-lab decode`: find IOMMU fault reports in kernel log text and explain
 * them. Each report becomes raw words, named fields and a plain-language
 * reading, as data (for --json) and as lines.
 *
 * Two kinds: arm-smmu-v3 event dumps (smmu-log.ts) and Intel DMAR fault
 * lines in every era's format (dmar-log.ts, REFERENCE.md 3.6). A DMAR line
 * carries every field of the fault recording register Linux read except AT
 * (FI page, SID, FR, T, PASID), so the report also shows the 128-bit record
 * rebuilt from it, decoded with the register's layout.
 */
import { lineOf } from './lines.ts';
import { hex } from '../machine/u64.ts';
import { encodeFaultRecord } from '../machine/vtd/fault.ts';
import { decodeFaultRecord, decodeRegister } from './vtd.ts';
import { parseSmmuLog, type SmmuLogRecord } from './smmu-log.ts';
import { parseDmarLog, type DmarLogEra, type DmarLogRecord, FAULT_STATUS_TEXT } from './dmar-log.ts';
import { decodeEvent, explainEvent } from './smmu.ts';
import { span, plain, styled, fieldLines, type Line } from './view.ts';

export interface SmmuDecodedReport {
  kind: 'arm-smmu-v3-event';
  /** 1-based line of the text where the report starts. */
  line: number;
  device?: string;
  time?: number;
  /** 'raw': the dump alone (v4.x-v6.13, 6.1 included); 'decoded': with v6.14+'s decoded lines. */
  form: 'raw' | 'decoded';
  complete: boolean;
  record: SmmuLogRecord;
  explanation?: string;
}

export interface DmarDecodedReport {
  kind: 'intel-dmar-fault';
  line: number;
  time?: number;
  /** The era whose printk format the line has. */
  form: DmarLogEra;
  complete: true;
  record: DmarLogRecord;
  /** The fault recording register as it held the fault (AT is not printed: 0), lo and hi qwords. */
  frcd: bigint[];
  /** Named fields of the report, in reading order; bits: where the fault recording register holds it. */
  fields: { name: string; bits: string; text: string; desc: string }[];
  /** The report as printed (one line, two for the legacy form). */
  printed: string[];
  explanation: string;
}

export type DecodedReport = SmmuDecodedReport | DmarDecodedReport;


/** What each era's format looks like, for people (REFERENCE.md 3.6; era boundaries approximate). */
export const DMAR_FORM_TEXT: Record<DmarLogEra, string> = {
  legacy: '<= ~v4.0 form: two lines, reason in decimal',
  v4: '~v4.1-v5.5 form: one line, reason in decimal',
  'v5.6': '~v5.6-v5.16 form: with PASID (ffffffff = none), reason in decimal',
  current: 'current form (~v5.17+): hex reason and address, NO_PASID or PASID',
  'v4-v5.16': '~v4.1-v5.16 interrupt-remapping form, reason in decimal',
};

function dmarReport(lines: readonly string[], r: DmarLogRecord): DmarDecodedReport {
  const dma = r.kind === 'dma';
  const frcd = dma ? encodeFaultRecord({ addr: r.addr ?? 0n, sid: r.sid, reason: r.reason, read: r.access === 'read', pasid: r.pasid }) : encodeFaultRecord({ irIndex: r.index ?? 0, sid: r.sid, reason: r.reason });
  const decimal = r.era !== 'current';
  const fields: DmarDecodedReport['fields'] = [
    { name: 'request', bits: dma ? 'T [126]' : '', text: dma ? `DMA ${r.access === 'read' ? 'Read' : 'Write'}` : 'interrupt (INTR-REMAP)', desc: dma ? 'the record\'s type: 1 = read, 0 = write' : 'an interrupt request the remapping hardware blocked' },
    { name: 'device', bits: 'SID [79:64]', text: `${r.bdf} (source-id ${hex(r.sid, 4)})`, desc: 'the requester id, bus:dev.fn' },
    dma
      ? { name: 'address', bits: 'FI [63:12]', text: hex(r.addr ?? 0n), desc: 'the faulting page (the low 12 bits are not recorded)' }
      : { name: 'index', bits: 'FI [63:48]', text: String(r.index ?? 0), desc: 'the interrupt index: which IRTE' },
    { name: 'PASID', bits: 'PP [95], PV [123:104]', text: r.pasid === undefined ? 'none' : hex(r.pasid), desc: r.era === 'v5.6' ? 'printed as ffffffff when the request had none' : r.era === 'current' ? 'NO_PASID, or the PASID the request carried' : 'not printed in this era' },
    { name: 'reason', bits: 'FR [103:96]', text: `${hex(r.reason, 2)} ${r.reasonName}: ${r.reasonText}`, desc: decimal ? `printed in decimal as ${r.reason.toString().padStart(2, '0')}` : 'printed in hex' },
  ];
  if (r.fsts !== undefined) {
    const rows = decodeRegister('FSTS', BigInt(r.fsts)) ?? [];
    fields.push({ name: 'FSTS', bits: '', text: `${hex(r.fsts)} (${rows.filter((x) => x.value !== 0n).map((x) => `${x.name}=${x.value}`).join(' ') || 'nothing set'})`, desc: 'from the "DRHD: handling fault status reg" line before it' });
  }
  if (r.time !== undefined) fields.push({ name: 'time', bits: '', text: `${r.time.toFixed(6)} s`, desc: 'printk time' });
  const printed = [lines[r.line - 1] ?? ''];
  if (r.era === 'legacy' && !/\[fault reason/.test(printed[0]!) && lines[r.line] !== undefined) printed.push(lines[r.line]!);
  return { kind: 'intel-dmar-fault', line: r.line, time: r.time, form: r.era, complete: true, record: r, frcd, fields, printed: printed.map((l) => l.trimEnd()), explanation: r.explanation };
}

/**
 * How many non-empty lines of the text no report accounts for (the fault
 * reports' own lines and their status lines are understood; everything else
 * is noise to decode): the summary `decode` prints.
 */
export function linesNotUnderstood(text: string, reps: DecodedReport[]): number {
  const covered = new Set<number>();
  for (const r of reps) {
    const rec = r.record as { at: number; end?: number };
    const last = lineOf(text, Math.max(rec.at, (rec.end ?? rec.at + 1) - 1));
    for (let l = lineOf(text, rec.at); l <= last; l++) covered.add(l);
  }

  let n = 0;
  let line = 0;
  for (const l of text.split('\n')) {
    line++;
    if (l.trim() && !covered.has(line) && !l.includes(FAULT_STATUS_TEXT)) n++;
  }
  return n;
}

export function decodeLog(text: string): DecodedReport[] {
  const smmu: DecodedReport[] = parseSmmuLog(text).map((r) => ({
    kind: 'arm-smmu-v3-event',
    line: lineOf(text, r.at),
    device: r.device,
    time: r.time,
    form: r.decoded ? 'decoded' : 'raw',
    complete: r.complete,
    record: r,
    explanation: r.complete ? explainEvent(r.raw) : undefined,
  }));
  // Split once: splitting per report made decode quadratic in the log's length.
  const lines = text.split('\n');
  const dmar = parseDmarLog(text).map((r) => dmarReport(lines, r));
  return [...smmu, ...dmar].sort((a, b) => a.line - b.line);
}

function dmarLines(rep: DmarDecodedReport, source: string): Line[] {
  const r = rep.record;
  const what = r.kind === 'dma' ? `DMA ${r.access} fault by ${r.bdf}, page ${hex(r.addr ?? 0n)}` : `interrupt-remapping fault by ${r.bdf}, index ${r.index}`;
  const lines: Line[] = [
    [styled(`${source}:${rep.line}: `, 'dim')[0]!, span(`Intel DMAR ${what}, reason ${hex(r.reason, 2)} ${r.reasonName}`, 'head'), span(` (${DMAR_FORM_TEXT[rep.form]})`, 'dim')],
  ];
  for (const p of rep.printed) lines.push([span('  printed: ', 'dim'), span(p.trim())]);
  lines.push(...fieldLines(rep.fields, '  '));
  lines.push([span('  the fault record Linux read (rebuilt; AT is not printed): ', 'dim'), span(`lo ${hex(rep.frcd[0]!, 16)} hi ${hex(rep.frcd[1]!, 16)}`, 'num')]);
  lines.push(...fieldLines(decodeFaultRecord(rep.frcd).filter((f) => f.name !== 'AT').map((f) => ({ name: f.name, bits: f.bits, text: f.text, desc: f.meaning })), '    '));
  lines.push([span('  reading: ', 'dim'), span(rep.explanation)]);
  return lines;
}

export function reportLines(reps: DecodedReport[], source: string): Line[] {
  const lines: Line[] = [];
  if (!reps.length) return [plain(`no IOMMU fault reports found in ${source} (looked for arm-smmu-v3 "event 0x.. received:" dumps and Intel DMAR "Request device [bb:dd.f] fault" lines)`)];
  reps.forEach((rep, i) => {
    if (i) lines.push(plain(''));
    if (rep.kind === 'intel-dmar-fault') {
      lines.push(...dmarLines(rep, source));
      return;
    }
    const r = rep.record;
    lines.push([
      styled(`${source}:${rep.line}: `, 'dim')[0]!,
      span(`arm-smmu-v3 event ${hex(r.type, 2)} ${r.name}`, 'head'),
      span(`${rep.device ? ` from ${rep.device}` : ''}${rep.time !== undefined ? ` at ${rep.time.toFixed(6)} s` : ''} (${rep.form === 'decoded' ? 'v6.14+ form, with decoded lines' : 'raw dump only: the form of v4.x to v6.13'})`, 'dim'),
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
