/**
 * Parse arm-smmu-v3 event reports out of kernel log text, in every shape
 * they turn up in:
 *
 *   - with or without printk times ("[    1.211721] ") and the device
 *     prefix ("arm-smmu-v3 2b400000.smmu: ");
 *   - the raw form: "event 0x10 received:" then four "\t0x%016llx" lines
 *     (linux drivers/iommu/arm-smmu-v3.c from v4.x; ratelimited from ~v5.8;
 *     still the whole report in v6.1 and up to v6.13);
 *   - the v6.14+ form: the same raw dump followed by two decoded lines
 *     ("event: F_TRANSLATION client: ... sid: 0x0 ssid: 0x0 iova: ... ipa: 0x0"
 *     and "unpriv data read s1 \"Input address caused fault\" stag: 0"),
 *     REFERENCE.md 1.6;
 *   - a mail archive's rendering where line breaks were lost and a whole
 *     report sits on one line (seed 000).
 *
 * The raw dwords are the truth; the record's fields are decoded from them
 * with the event layout, and the decoded lines (when present) are kept as
 * Linux printed them.
 */
import type { u64 } from '../machine/u64.ts';
import { eventName } from '../machine/smmuv3/event.ts';
import { summarizeEvent, type EventSummary } from './smmu.ts';

export interface SmmuLogDecodedLines {
  name: string;
  client: string;
  sid: u64;
  ssid: u64;
  iova?: u64;
  ipa?: u64;
  fetchAddr?: u64;
  /** "unpriv data read s1 \"Input address caused fault\" stag: 0" split up. */
  access?: { privileged: boolean; instruction: boolean; read: boolean; s2: boolean; className: string; ttd?: 'read' | 'write'; stall: boolean; stag: u64 };
}

export interface SmmuLogRecord {
  /** The four dwords (fewer when the log was cut short; then `complete` is false). */
  raw: u64[];
  complete: boolean;
  /** Event code from the "event 0x%02x received:" line. */
  type: number;
  name: string;
  /** The SMMU's device name from the prefix ("2b400000.smmu"), when present. */
  device?: string;
  /** printk time of the "received" line, when present. */
  time?: number;
  /** Fields decoded from the raw dwords (only when complete). */
  fields?: EventSummary;
  /** What a current kernel printed after the dump. */
  decoded?: SmmuLogDecodedLines;
  /** Offset of the report in the text, and just past its last part. */
  at: number;
  end?: number;
}

const NUM = '(0x[0-9a-fA-F]+|\\d+)';
// Optional clutter between items: whitespace, a printk time, a syslog level, a "driver device: " prefix.
const GAP = '\\s*(?:\\[\\s*\\d+\\.\\d+\\]\\s*)?(?:<\\d>)?(?:[\\w-]+ [\\w.:-]+:)?\\s*';
const RE_HEAD = /event 0x([0-9a-fA-F]{2}) received:/g;
const RE_WORD = new RegExp(`^${GAP}(0x[0-9a-fA-F]{16})\\b`);
const RE_DECODED = new RegExp(`^${GAP}event: (\\S+) client: (.+?) sid: ${NUM} ssid: ${NUM}(?: iova: ${NUM} ipa: ${NUM})?(?: fetch_addr: ${NUM})?`);
const RE_ACCESS = new RegExp(`^${GAP}(priv|unpriv) (inst|data) (read|write) (s1|s2) "([^"]*)"( ttd_read| ttd_write)?( stall)? stag: ${NUM}`);
const RE_BEFORE = /(?:\[\s*(\d+\.\d+)\]\s*)?(?:<\d>)?(?:([\w-]+) ([\w.:-]+):\s*)?$/;

const num = (s: string): u64 => BigInt(s);

export function parseSmmuLog(text: string): SmmuLogRecord[] {
  const out: SmmuLogRecord[] = [];
  RE_HEAD.lastIndex = 0;
  for (let m = RE_HEAD.exec(text); m; m = RE_HEAD.exec(text)) {
    const type = parseInt(m[1]!, 16);
    const rec: SmmuLogRecord = { raw: [], complete: false, type, name: eventName(type), at: m.index };
    const before = RE_BEFORE.exec(text.slice(Math.max(0, m.index - 160), m.index));
    if (before?.[1]) rec.time = Number(before[1]);
    if (before?.[3]) rec.device = before[3];
    let pos = m.index + m[0].length;
    for (let i = 0; i < 4; i++) {
      const w = RE_WORD.exec(text.slice(pos, pos + 200));
      if (!w) break;
      rec.raw.push(BigInt(w[1]!));
      pos += w[0].length;
    }
    rec.complete = rec.raw.length === 4;
    if (rec.complete) rec.fields = summarizeEvent(rec.raw);
    const d = RE_DECODED.exec(text.slice(pos, pos + 400));
    if (d) {
      rec.decoded = { name: d[1]!, client: d[2]!, sid: num(d[3]!), ssid: num(d[4]!) };
      if (d[5] !== undefined) rec.decoded.iova = num(d[5]);
      if (d[6] !== undefined) rec.decoded.ipa = num(d[6]);
      if (d[7] !== undefined) rec.decoded.fetchAddr = num(d[7]);
      pos += d[0].length;
      const a = RE_ACCESS.exec(text.slice(pos, pos + 300));
      if (a) {
        rec.decoded.access = {
          privileged: a[1] === 'priv', instruction: a[2] === 'inst', read: a[3] === 'read', s2: a[4] === 's2', className: a[5]!,
          ...(a[6] ? { ttd: a[6] === ' ttd_read' ? ('read' as const) : ('write' as const) } : {}),
          stall: a[7] !== undefined, stag: num(a[8]!),
        };
        pos += a[0].length;
      }
    }
    rec.end = pos;
    out.push(rec);
    RE_HEAD.lastIndex = Math.max(RE_HEAD.lastIndex, pos);
  }
  return out;
}
