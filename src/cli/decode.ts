/** `dma-lab decode [FILE|-] [--json]`: decode IOMMU fault reports in kernel log text (arm-smmu-v3 event dumps, Intel DMAR fault lines). */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { reportLines, type DecodedReport } from '../inspect/decode.ts';
import { LogDecoder } from '../inspect/decode-stream.ts';
import { jsonReplacer, renderLines } from '../commands/render.ts';

const CHUNK = 1 << 20;

export function runDecode(file: string | undefined, o: { json: boolean; color: boolean; out: (s: string) => void; err: (s: string) => void }): number {
  const name = !file || file === '-' ? '<stdin>' : file;
  const dec = new LogDecoder();
  const json: unknown[] = [];
  let printed = false;
  // arm-smmu-v3 reports: the record's fields, raw words, name and type beside it; DMAR reports carry their own fields and the rebuilt record.
  const emit = (reps: DecodedReport[]): void => {
    if (!reps.length) return;
    if (o.json) {
      for (const r of reps)
        json.push(
          r.kind === 'arm-smmu-v3-event'
            ? { ...r, fields: r.record.fields, raw: r.record.raw, name: r.record.name, type: r.record.type }
            : { ...r, raw: r.frcd, name: r.record.reasonName, reason: r.record.reason, reasonText: r.record.reasonText, sid: r.record.sid, bdf: r.record.bdf, access: r.record.access ?? null, addr: r.record.addr ?? null, index: r.record.index ?? null, pasid: r.record.pasid ?? null },
        );
    } else {
      // reportLines separates reports by a blank line: so do batches.
      o.out((printed ? '\n' : '') + renderLines(reportLines(reps, name), o.color) + '\n');
      printed = true;
    }
  };
  // Streaming: the input is read and decoded a megabyte at a time, so a log of
  // any size takes memory bounded by the segment, not by the file.
  let fd: number | undefined;
  try {
    fd = !file || file === '-' ? 0 : openSync(file, 'r');
    const buf = Buffer.alloc(CHUNK);
    const utf8 = new StringDecoder('utf8');
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      emit(dec.push(utf8.write(buf.subarray(0, n))));
    }
    emit(dec.push(utf8.end()));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EOF') {
      o.err(`dma-lab: cannot read ${name}: ${code ?? (e as Error).message}\n`);
      return 1;
    }
  } finally {
    if (fd !== undefined && fd !== 0) closeSync(fd);
  }
  emit(dec.end());
  if (o.json) o.out(JSON.stringify(json, jsonReplacer) + '\n');
  else {
    if (!dec.reports) o.out(renderLines(reportLines([], name), o.color) + '\n');
    if (dec.notUnderstood) o.out(`${name}: ${dec.notUnderstood} line${dec.notUnderstood === 1 ? '' : 's'} not understood (not an arm-smmu-v3 event dump or an Intel DMAR fault report)\n`);
  }
  return dec.reports ? 0 : 1;
}
