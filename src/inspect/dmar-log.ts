/**
 * Parse Intel DMAR fault reports out of kernel log text, in every shape
 * Linux has printed them (REFERENCE.md 3.6, kernel/intel-dmar.ts):
 *
 *   legacy  (<= ~v4.0, two lines, decimal reason; "dmar: " prefix on ~v3.10-v4.0):
 *     dmar: DMAR:[DMA Read] Request device [00:02.0] fault addr fffff000
 *     DMAR:[fault reason 06] PTE Read access is not set
 *   v4      (~v4.1-v5.5):   DMAR: [DMA Read] Request device [00:02.0] fault addr fffff000 [fault reason 06] PTE Read ...
 *   v5.6    (~v5.6-v5.16):  DMAR: [DMA Read] Request device [00:02.0] PASID ffffffff fault addr fffff000 [fault reason 06] ...
 *   current (~v5.17-):      DMAR: [DMA Read NO_PASID] Request device [00:02.0] fault addr 0xfffff000 [fault reason 0x06] ...
 *   and the interrupt-remapping forms ("INTR-REMAP: Request device [[00:02.0] fault index 5" + "INTR-REMAP:[fault
 *   reason 34] ...", "[INTR-REMAP] ... fault index 5 [fault reason 34]", "... fault index 0x5 [fault reason 0x22]").
 *
 * Tolerated: printk times ("[    1.211721] "), syslog levels ("<3>"),
 * journal prefixes, the short-lived "[0x00:0x02.0]" device form, and a
 * mail archive's rendering where line breaks were lost (the reason string
 * is then cut at the end of the known Linux string). The era is read from
 * the shape; the middle eras' interrupt-remapping lines look alike and are
 * reported as 'v4-v5.16'.
 */
import { lineOf } from './lines.ts';
import { linuxFaultReason, faultReason, FAULT_REASONS, faultName } from '../machine/vtd/fault.ts';
import { explainFault } from './vtd.ts';

export type DmarLogEra = 'legacy' | 'v4' | 'v5.6' | 'current' | 'v4-v5.16';

export interface DmarLogRecord {
  era: DmarLogEra;
  kind: 'dma' | 'intr-remap';
  /** Source id (requester id) and its bus:dev.fn. */
  sid: number;
  bdf: string;
  /** DMA faults: the faulting page address. */
  addr?: bigint;
  /** Interrupt-remapping faults: the IRTE index. */
  index?: number;
  /** DMA faults: the request type. */
  access?: 'read' | 'write';
  /** PASID when the line names one; undefined for NO_PASID / ffffffff / eras without PASIDs. */
  pasid?: number;
  reason: number;
  /** The reason string as printed. */
  reasonText: string;
  /** QEMU's name for the code ("VTD_FR_READ"), when known. */
  reasonName: string;
  /** The printk prefix seen ("DMAR: ", "dmar: " or ""). */
  prefix: string;
  /** FSTS from the "DRHD: handling fault status reg" line before it, if any. */
  fsts?: number;
  /** printk time, when present. */
  time?: number;
  /** Offset of the report in the text and its 1-based line. */
  at: number;
  /** Just past the report's text (its reason string included). */
  end?: number;
  line: number;
  /** A plain-language reading (inspect/vtd.ts explainFault). */
  explanation: string;
}

const BDF = '\\[\\[?(?:0x)?(?<bus>[0-9a-fA-F]{2}):(?:0x)?(?<dev>[0-9a-fA-F]{2})\\.(?<fn>\\d)\\]';
// Clutter allowed between the two lines of the legacy form: newline, printk time, syslog level, a journal or "dmar: " prefix.
const GAP = '\\s*(?:<\\d>)?(?:\\[\\s*\\d+\\.\\d+\\]\\s*)?(?:\\S+ kernel: )?(?:<\\d>)?(?:dmar: )?';

const PATTERNS: { era: DmarLogEra; kind: 'dma' | 'intr-remap'; re: RegExp; hexReason: boolean }[] = [
  // current, DMA: [DMA Read NO_PASID] / [DMA Write PASID 0x5]
  { era: 'current', kind: 'dma', hexReason: true, re: new RegExp(`\\[DMA (?<acc>Read|Write) (?:NO_PASID|PASID 0x(?<pasid>[0-9a-fA-F]+))\\] Request device ${BDF} fault addr 0x(?<addr>[0-9a-fA-F]+) \\[fault reason 0x(?<reason>[0-9a-fA-F]{2})\\] ?`, 'g') },
  // v5.6: PASID with %x (ffffffff when absent)
  { era: 'v5.6', kind: 'dma', hexReason: false, re: new RegExp(`\\[DMA (?<acc>Read|Write)\\] Request device ${BDF} PASID (?<pasid>[0-9a-fA-F]+) fault addr (?<addr>[0-9a-fA-F]+) \\[fault reason (?<reason>\\d+)\\] ?`, 'g') },
  // v4: one line, no PASID
  { era: 'v4', kind: 'dma', hexReason: false, re: new RegExp(`\\[DMA (?<acc>Read|Write)\\] Request device ${BDF} fault addr (?<addr>[0-9a-fA-F]+) \\[fault reason (?<reason>\\d+)\\] ?`, 'g') },
  // legacy: two lines
  { era: 'legacy', kind: 'dma', hexReason: false, re: new RegExp(`DMAR:\\[DMA (?<acc>Read|Write)\\] Request device ${BDF} fault addr (?<addr>[0-9a-fA-F]+) ?${GAP}DMAR:\\[fault reason (?<reason>\\d+)\\] ?`, 'g') },
  // interrupt remapping
  { era: 'current', kind: 'intr-remap', hexReason: true, re: new RegExp(`\\[INTR-REMAP\\] Request device ${BDF} fault index 0x(?<index>[0-9a-fA-F]+) \\[fault reason 0x(?<reason>[0-9a-fA-F]{2})\\] ?`, 'g') },
  { era: 'v4-v5.16', kind: 'intr-remap', hexReason: false, re: new RegExp(`\\[INTR-REMAP\\] Request device ${BDF} fault index (?<index>[0-9a-fA-F]+) \\[fault reason (?<reason>\\d+)\\] ?`, 'g') },
  { era: 'legacy', kind: 'intr-remap', hexReason: false, re: new RegExp(`INTR-REMAP: Request device ${BDF} fault index (?<index>[0-9a-fA-F]+)${GAP}INTR-REMAP:\\[fault reason (?<reason>\\d+)\\] ?`, 'g') },
];

/** What dmar_fault prints before a unit's records (intel-dmar.ts formatFaultStatus). */
export const FAULT_STATUS_TEXT = 'DRHD: handling fault status reg';
const RE_STATUS = new RegExp(`${FAULT_STATUS_TEXT} ([0-9a-fA-F]+)`, 'g');
const RE_BEFORE = /(?:\[\s*(\d+\.\d+)\]\s*)?(?:<\d>)?(DMAR: |dmar: )?$/;

const KNOWN = [...new Set(FAULT_REASONS.map((r) => r.linux)), 'Unknown'].sort((a, b) => b.length - a.length);

/** The reason string after a match: the longest known Linux string it starts with, else the rest of the line. */
function reasonAt(text: string, pos: number): string {
  const rest = text.slice(pos, pos + 200);
  const k = KNOWN.find((s) => rest.startsWith(s));
  if (k) return k;
  return rest.split('\n')[0]!.trimEnd();
}


export function parseDmarLog(text: string): DmarLogRecord[] {
  const out: DmarLogRecord[] = [];
  // Ranges taken by earlier patterns, sorted by start: a match overlapping one
  // is another pattern's report. Binary search, not a scan (8,000 faults
  // scanned every range for every match).
  const taken: [number, number][] = [];
  const place = (a: number): number => {
    let lo = 0;
    let hi = taken.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (taken[mid]![0] < a) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  for (const p of PATTERNS) {
    p.re.lastIndex = 0;
    for (let m = p.re.exec(text); m; m = p.re.exec(text)) {
      const end = m.index + m[0].length;
      const i = place(m.index);
      const prev = taken[i - 1];
      const next = taken[i];
      if ((prev && prev[1] > m.index) || (next && next[0] < end)) continue;
      taken.splice(i, 0, [m.index, end]);
      const g = m.groups!;
      const bus = parseInt(g['bus']!, 16);
      const fn = Number(g['fn']);
      const sid = (bus << 8) | (parseInt(g['dev']!, 16) << 3) | fn;
      const bdf = `${g['bus']!.toLowerCase()}:${g['dev']!.toLowerCase()}.${fn}`;
      const reason = parseInt(g['reason']!, p.hexReason ? 16 : 10);
      let rec: Omit<DmarLogRecord, 'prefix' | 'at' | 'line' | 'explanation' | 'reasonName' | 'reasonText'>;
      if (p.kind === 'dma') {
        let pasid: number | undefined;
        if (g['pasid'] !== undefined) {
          const v = parseInt(g['pasid'], 16);
          if (!(p.era === 'v5.6' && v === 0xffffffff)) pasid = v;
        }
        rec = { era: p.era, kind: 'dma', sid, bdf, addr: BigInt(`0x${g['addr']}`), access: g['acc'] === 'Read' ? 'read' : 'write', pasid, reason };
      } else {
        rec = { era: p.era, kind: 'intr-remap', sid, bdf, index: parseInt(g['index']!, 16), reason };
      }
      const before = RE_BEFORE.exec(text.slice(Math.max(0, m.index - 40), m.index));
      const reasonText = reasonAt(text, end);
      const full: DmarLogRecord = {
        ...rec, reasonText, reasonName: faultReason(rec.reason) ? faultName(rec.reason) : 'unknown', prefix: before?.[2] ?? '',
        ...(before?.[1] ? { time: Number(before[1]) } : {}), at: m.index, end, line: lineOf(text, m.index), explanation: '',
      };
      full.explanation = explainFault({ sid, reason: rec.reason, read: rec.access !== 'write', addr: rec.addr ?? 0n, irIndex: rec.index, pasid: rec.pasid });
      if (reasonText !== linuxFaultReason(rec.reason).text && reasonText !== 'Unknown') full.explanation += ` (The log's reason string "${reasonText}" is not what Linux prints for this code.)`;
      out.push(full);
    }
  }
  out.sort((a, b) => a.at - b.at);
  // Attach the status line a report followed -- only when it belongs to the
  // same fault interrupt: dmar_fault prints the status, then that unit's
  // records at once, so their printk times agree (within 1 ms here); without
  // times, the status line must be on the same line or the one before. A stale status line
  // from an earlier interrupt is not attached.
  const statuses: { at: number; line: number; fsts: number; time?: number }[] = [];
  RE_STATUS.lastIndex = 0;
  for (let m = RE_STATUS.exec(text); m; m = RE_STATUS.exec(text)) {
    const before = RE_BEFORE.exec(text.slice(Math.max(0, m.index - 40), m.index));
    statuses.push({ at: m.index, line: lineOf(text, m.index), fsts: parseInt(m[1]!, 16), ...(before?.[1] ? { time: Number(before[1]) } : {}) });
  }
  let k = -1;
  for (const r of out) {
    while (k + 1 < statuses.length && statuses[k + 1]!.at < r.at) k++;
    const st = k >= 0 ? statuses[k] : undefined;
    if (!st) continue;
    // (A mail archive's one-line rendering puts both on the same line.)
    const sameIrq = st.time !== undefined && r.time !== undefined ? r.time - st.time >= 0 && r.time - st.time <= 0.001 : r.line - st.line <= 1;
    if (sameIrq) r.fsts = st.fsts;
  }
  return out;
}
