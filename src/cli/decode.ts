/** `dma-lab decode [FILE|-] [--json]`: decode IOMMU fault reports in kernel log text. */
import { readFileSync } from 'node:fs';
import { decodeLog, reportLines } from '../inspect/decode.ts';
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
  if (o.json) o.out(JSON.stringify(reps.map((r) => ({ ...r, fields: r.record.fields, raw: r.record.raw, name: r.record.name, type: r.record.type })), jsonReplacer) + '\n');
  else o.out(renderLines(reportLines(reps, name), o.color) + '\n');
  return reps.length ? 0 : 1;
}
