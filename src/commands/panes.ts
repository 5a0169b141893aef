/**
 * Inspector panes: what the notebook UI shows beside a lesson, updated
 * after every command. A pane is a title and lines; producing one never
 * changes the machine (command panes run through `Session.peek`, the
 * memory pane reads RAM and ROM only, never MMIO, whose reads can have side
 * effects) and never throws: an error becomes one dim line.
 */
import { hex, hexRaw, type u64, U64_MAX } from '../machine/u64.ts';
import { span, type Line } from '../inspect/view.ts';
import { formatError } from './errors.ts';
import type { Session } from './session.ts';

export interface Pane {
  title: string;
  lines: Line[];
  /** The pane could not be produced; `lines` says why (dim). */
  error?: boolean;
}

export interface MemoryFocus {
  addr: u64;
  len: number;
}

/** Bytes a memory-pane row holds at a pane width: 16 when it fits, else 8. */
export function memoryRowBytes(width: number, wideAddr: boolean): 8 | 16 {
  const addrW = wideAddr ? 16 : 8;
  return addrW + 2 + 16 * 3 + 1 + 2 + 16 <= width ? 16 : 8;
}

const printable = (b: number): string => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.');

/**
 * A hexdump around `focus`: one row of context above the focused bytes,
 * `rows` rows in all, starting `scroll` rows further on (negative scrolls
 * up). The focused bytes are styled 'key'. Rows outside the focus's region
 * are not shown: the pane says where the region ends.
 */
export function memoryPane(s: Session, focus: MemoryFocus | undefined, o: { rows: number; width: number; scroll?: number }): Pane {
  if (!focus) return { title: 'memory', lines: [[span('no memory looked at yet: xp, write and fill move this view', 'dim')]] };
  const mem = s.machine.memory;
  const region = mem.regionAt(focus.addr);
  if (!region) return { title: `memory ${hex(focus.addr)}`, lines: [[span(`${hex(focus.addr)} is in no region (a hole): nothing to show`, 'dim')]], error: true };
  const title = `memory ${hex(focus.addr)} (${region.name})`;
  if (region.kind === 'mmio') return { title, lines: [[span(`${region.name} is MMIO: not read here, since a register read can have side effects`, 'dim')]] };
  const regionEnd = region.base + region.size - 1n;
  const wide = regionEnd > 0xffff_ffffn;
  const per = memoryRowBytes(o.width, wide);
  const perN = BigInt(per);
  const first = (focus.addr / perN) * perN;
  let start = first >= perN ? first - perN : 0n;
  const scroll = BigInt(o.scroll ?? 0) * perN;
  start = scroll < 0n ? (start + scroll < 0n ? 0n : start + scroll) : start + scroll > U64_MAX - perN ? start : start + scroll;
  const focusEnd = focus.addr + BigInt(Math.max(focus.len, 1)) - 1n;
  const lines: Line[] = [];
  for (let r = 0; r < Math.max(1, o.rows); r++) {
    const rowAddr = start + BigInt(r) * perN;
    if (rowAddr + perN - 1n < region.base) continue;
    if (rowAddr > regionEnd) {
      lines.push([span(`end of ${region.name} at ${hex(regionEnd)}`, 'dim')]);
      break;
    }
    const lo = rowAddr < region.base ? region.base : rowAddr;
    const hi = rowAddr + perN - 1n > regionEnd ? regionEnd : rowAddr + perN - 1n;
    let bytes: Uint8Array;
    try {
      bytes = mem.read(lo, Number(hi - lo) + 1);
    } catch (e) {
      lines.push([span(String((e as Error).message), 'dim')]);
      break;
    }
    const line: Line = [span(hexRaw(rowAddr, wide ? 16 : 8), 'addr'), span(' ')];
    let ascii = '';
    for (let i = 0; i < per; i++) {
      const a = rowAddr + BigInt(i);
      const sep = i === 8 ? '  ' : ' ';
      if (a < lo || a > hi) {
        line.push(span(sep + '  '));
        ascii += ' ';
        continue;
      }
      const b = bytes[Number(a - lo)]!;
      const inFocus = a >= focus.addr && a <= focusEnd;
      line.push(span(sep));
      line.push(span(hexRaw(b, 2), inFocus ? 'key' : b === 0 ? 'dim' : 'num'));
      ascii += printable(b);
    }
    line.push(span('  |'), span(ascii, 'dim'), span('|'));
    lines.push(line);
  }
  return { title, lines };
}

/**
 * A pane that is a command's output (`trace show 8`, `smmu events`), run
 * without leaving a mark. A failed command gives its error as dim lines.
 */
export function commandPane(s: Session, title: string, line: string): Pane {
  const o = s.peek(line);
  if (o.ok && o.empty) return { title, lines: [] };
  if (!o.ok) return { title, lines: formatError(line, o.error).map((t) => [span(t, 'dim')]), error: true };
  return { title, lines: o.result.lines };
}
