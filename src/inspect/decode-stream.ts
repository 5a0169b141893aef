/**
 * `decode` over input of any size in bounded memory: text arrives in chunks;
 * once a segment is buffered it is decoded and the reports that start well
 * before its end are emitted, the rest (at most `margin` bytes and the line
 * it ends in) carried into the next segment. The result is the same as
 * decodeLog on the whole text (a property test checks it), provided no
 * single report or fault-status group spans more than `margin` bytes: an
 * arm-smmu-v3 dump is under 2 KiB, a DMAR interrupt's records (at most 256
 * fault registers of ~130 bytes) under 40 KiB.
 */
import { decodeLog, linesNotUnderstood, type DecodedReport } from './decode.ts';
import { FAULT_STATUS_TEXT } from './dmar-log.ts';


export class LogDecoder {
  private buf = '';
  /** Lines consumed before buf starts. */
  private lineBase = 0;
  /** Offset in buf up to which the lines belong to reports already emitted. */
  private coveredUntil = 0;
  reports = 0;
  notUnderstood = 0;

  constructor(
    private readonly segment = 1 << 20,
    private readonly margin = 64 << 10,
  ) {}

  /** Add text; returns the reports complete so far (line numbers of the whole input). */
  push(chunk: string): DecodedReport[] {
    this.buf += chunk;
    return this.buf.length >= this.segment ? this.process(false) : [];
  }

  /** The input ended: the remaining reports. */
  end(): DecodedReport[] {
    return this.process(true);
  }

  private process(final: boolean): DecodedReport[] {
    const buf = this.buf;
    let cut = buf.length;
    if (!final) {
      const limit = buf.lastIndexOf('\n') + 1 - this.margin;
      if (limit <= 0) return [];
      cut = buf.lastIndexOf('\n', limit - 1) + 1;
      // A fault-status line travels with the faults after it.
      const st = buf.lastIndexOf(FAULT_STATUS_TEXT, cut);
      if (st >= 0 && st >= cut - this.margin) cut = buf.lastIndexOf('\n', st) + 1;
      if (cut <= 0) return [];
    }
    const out = decodeLog(buf).filter((r) => r.record.at < cut);
    const head = buf.slice(0, cut);
    // Lines at the start of this segment that are the tail of a report emitted
    // with the previous one are understood; everything else counts as usual.
    const tailEnd = this.coveredUntil > 0 ? Math.min(cut, head.indexOf('\n', this.coveredUntil - 1) + 1 || cut) : 0;
    this.notUnderstood += linesNotUnderstood(head, out) - linesNotUnderstood(head.slice(0, tailEnd), []);
    let covered = 0;
    for (const r of out) covered = Math.max(covered, (r.record as { end?: number }).end ?? r.record.at);
    for (const r of out) r.line += this.lineBase;
    this.reports += out.length;
    this.lineBase += countLines(head);
    this.coveredUntil = Math.max(0, covered - cut);
    this.buf = buf.slice(cut);
    return out;
  }
}

function countLines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
