/**
 * Xen state as plain data: a domain's grant table decoded from the frames
 * in machine memory (what `xl debug-keys g` prints from Xen's side, plus
 * the shared entries the guest wrote), one entry's fields through the
 * GrantEntryV1 layout, and the DMA trace of dom0's Xen DMA layer
 * interleaved with the machine's device accesses.
 */
import { decode, type DecodedField } from '../machine/fields.ts';
import { hex } from '../machine/u64.ts';
import { GrantEntryV1Layout, GREFS_PER_GRANT_FRAME, gtfNames } from '../machine/xen/abi.ts';
import type { Xen } from '../machine/xen/xen.ts';
import type { DmaTrace, TraceRecord } from '../machine/trace.ts';
import type { XenDmaEvent } from '../kernel/xen/swiotlb-xen.ts';

export interface GrantRow {
  ref: number;
  /** Machine address of the 8-byte entry. */
  addr: bigint;
  raw: bigint;
  flags: number;
  flagNames: string[];
  domid: number;
  frame: number;
  /** Xen's active entry, when pinned. */
  active?: { domid: number; mfn: number; pin: string };
}

/** Non-empty entries of a domain's table (flags, domid or frame non-zero) and every active one, by ref. */
export function grantTable(xen: Xen, domid: number): { frames: number[]; max: number; rows: GrantRow[] } {
  const d = xen.domain(domid)!;
  const rows: GrantRow[] = [];
  const n = d.grantFrames.length * GREFS_PER_GRANT_FRAME;
  for (let ref = 0; ref < n; ref++) {
    const addr = xen.entryAddr(domid, ref)!;
    const raw = xen.memory.read64(addr);
    const act = d.active.get(ref);
    if (raw === 0n && !act) continue;
    const flags = Number(raw & 0xffffn);
    rows.push({
      ref,
      addr,
      raw,
      flags,
      flagNames: gtfNames(flags),
      domid: Number((raw >> 16n) & 0xffffn),
      frame: Number(raw >> 32n),
      // GNTPIN_* packing as Xen prints act->pin: devr [31:24]... here host w/r and dev w/r counts.
      active: act ? { domid: act.domid, mfn: act.mfn, pin: `hstw ${act.hstw} hstr ${act.hstr} devw ${act.devw} devr ${act.devr}` } : undefined,
    });
  }
  return { frames: [...d.grantFrames], max: d.maxGrantFrames, rows };
}

export function grantEntryFields(xen: Xen, domid: number, ref: number): { addr: bigint; raw: bigint; fields: DecodedField[] } | undefined {
  const addr = xen.entryAddr(domid, ref);
  if (addr === undefined) return undefined;
  const raw = xen.memory.read64(addr);
  return { addr, raw, fields: decode(GrantEntryV1Layout, [raw]) };
}

export type XenTraceItem = { kind: 'xen'; ev: XenDmaEvent } | { kind: 'dma'; rec: TraceRecord };

/** Xen DMA events and device accesses in the order they happened. */
export function xenDmaTrace(events: readonly XenDmaEvent[], trace: DmaTrace, since = 0): XenTraceItem[] {
  const out: { key: number; sub: number; item: XenTraceItem }[] = [];
  events.forEach((ev, i) => ev.at >= since && out.push({ key: ev.at, sub: i / 1e6, item: { kind: 'xen', ev } }));
  for (const rec of trace.records()) if (rec.seq >= since) out.push({ key: rec.seq + 0.5, sub: 0, item: { kind: 'dma', rec } });
  return out.sort((a, b) => a.key - b.key || a.sub - b.sub).map((x) => x.item);
}

export const traceRecordText = (r: TraceRecord): string => {
  const o = r.outcome;
  const where = o.kind === 'ok' ? `-> ${hex(o.pa)}` : o.kind === 'fault' ? `FAULT ${o.fault.name}: ${o.fault.detail}` : o.detail;
  return r.cpu ? `#${r.seq} ${r.cpu} CPU copy ${r.len} bytes ${hex(r.addr)} ${where} (${r.what ?? ''})` : `#${r.seq} ${r.device} DMA ${r.op} ${r.len} bytes at ${hex(r.addr)} ${where}${r.what ? ` (${r.what})` : ''}`;
};
