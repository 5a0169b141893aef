/** `dma-lab decode [FILE|-] [--json]`: decode IOMMU fault reports in kernel log text (arm-smmu-v3 event dumps, Intel DMAR fault lines). */
import { readFileSync } from 'node:fs';
import { decodeLog, linesNotUnderstood, reportLines } from '../inspect/decode.ts';
import { jsonReplacer, renderLines } from '../commands/render.ts';

export function runDecode(file: string | undefined, o: { json: boolean; color: boolean; out: (s: string) => void; err: (s: string) => void }): number {
  const name = !file || file === '-' ? '<stdin>' : file;
  let text: string;
  try {
    text = readFileSync(!file || file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    o.err(`dma-lab: cannot read ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  const reps = decodeLog(text);
  // arm-smmu-v3 reports: the record's fields, raw words, name and type beside it; DMAR reports carry their own fields and the rebuilt record.
  const json = reps.map((r) =>
    r.kind === 'arm-smmu-v3-event'
      ? { ...r, fields: r.record.fields, raw: r.record.raw, name: r.record.name, type: r.record.type }
      : { ...r, raw: r.frcd, name: r.record.reasonName, reason: r.record.reason, reasonText: r.record.reasonText, sid: r.record.sid, bdf: r.record.bdf, access: r.record.access ?? null, addr: r.record.addr ?? null, index: r.record.index ?? null, pasid: r.record.pasid ?? null },
  );
  if (o.json) o.out(JSON.stringify(json, jsonReplacer) + '\n');
  else {
    o.out(renderLines(reportLines(reps, name), o.color) + '\n');
    const skipped = linesNotUnderstood(text, reps);
    if (skipped) o.out(`${name}: ${skipped} line${skipped === 1 ? '' : 's'} not understood (not an arm-smmu-v3 event dump or an Intel DMAR fault report)\n`);
  }
  return reps.length ? 0 : 1;
}
