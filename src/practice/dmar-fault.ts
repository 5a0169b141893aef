/**
 * Drill: decode a VT-d fault recording register (FRCD, 128 bits), the
 * record Linux's dmar_fault() reads before it prints "DMAR: [DMA Read]
 * Request device [..] fault addr .. [fault reason ..]".
 *
 *   bits 127 126  103:96  95  79:64  63:12
 *        [F ][T ]..[ FR ][PP]..[SID]..[ FI ]   (REFERENCE.md 3.4)
 *
 * The generator picks the fields, builds the two qwords with the lab's
 * Layout table (encodeFaultRecord, src/machine/vtd/fault.ts, what the VT-d
 * model writes), and asks for them back. The tests decode every record
 * with src/inspect/vtd.ts (summarizeFaultRecord) and compare.
 */
import { type u64, hex, bits } from '../machine/u64.ts';
import { field } from '../machine/fields.ts';
import * as F from '../machine/vtd/fault.ts';
import { sidText } from '../machine/vtd/context.ts';
import { explainFault, summarizeFaultRecord } from '../inspect/vtd.ts';
import type { Rng } from './rng.ts';
import { type Ask, type Drill, valueAsk, wordAsk } from './drill.ts';

export const TOPIC = 'dmar-fault';
export const SUMMARY = 'decode a VT-d fault record: device, fault reason, address or interrupt index, read or write';

/** Reasons a learner meets: unmapped reads/writes most, then the rest (REFERENCE.md 3.5). */
const DMA_REASONS = [
  F.VTD_FR_READ, F.VTD_FR_READ, F.VTD_FR_WRITE, F.VTD_FR_WRITE, F.VTD_FR_CONTEXT_ENTRY_P,
  F.VTD_FR_ADDR_BEYOND_MGAW, F.VTD_FR_PAGING_ENTRY_INV, F.VTD_FR_PAGING_ENTRY_RSVD, F.VTD_FR_ROOT_ENTRY_P,
];
const IR_REASONS = [F.VTD_FR_IR_ENTRY_P, F.VTD_FR_IR_REQ_COMPAT, F.VTD_FR_IR_SID_ERR, F.VTD_FR_IR_INDEX_OVER];

export function generateTruth(r: Rng): F.FaultRecordFields {
  // A PCI requester id: bus 0 mostly (q35 puts its devices there), devfn anywhere.
  const bus = r.chance(2, 3) ? 0 : r.int(1, 0x3f);
  const sid = (bus << 8) | (r.int(1, 31) << 3) | (r.chance(3, 4) ? 0 : r.int(1, 7));
  if (r.chance(1, 5)) return { sid, reason: r.pick(IR_REASONS), irIndex: r.int(0, 255), read: false };
  const reason = r.pick(DMA_REASONS);
  const read = reason === F.VTD_FR_READ ? true : reason === F.VTD_FR_WRITE ? false : r.chance(1, 2);
  const addr =
    reason === F.VTD_FR_ADDR_BEYOND_MGAW
      ? (1n << 48n) + (r.bits(20) << 12n) // above a 48-bit (4-level) domain
      : r.chance(1, 2)
        ? 0xfff0_0000n + (r.bits(8) << 12n) // iommu-dma's first IOVAs, top-down below 4 GiB
        : r.bits(36) & ~0xfffn;
  return { sid, reason, addr, read, ...(r.chance(1, 8) ? { pasid: r.int(1, 0xfffff) } : {}) };
}

const where = (name: string): string => {
  const f = field(F.FRCD_LAYOUT, name);
  const b = 64 * f.word;
  return f.hi === f.lo ? `[${f.hi + b}]` : `[${f.hi + b}:${f.lo + b}]`;
};
const fv = (words: readonly u64[], name: string): u64 => {
  const f = field(F.FRCD_LAYOUT, name);
  return bits(words[f.word]!, f.hi, f.lo);
};

export function generate(r: Rng, seed: number): Drill {
  const t = generateTruth(r);
  const words = F.encodeFaultRecord(t);
  const fr = F.faultReason(t.reason)!;
  const bdf = sidText(t.sid);
  const ir = fr.kind === 'ir';
  const asks: Ask[] = [
    wordAsk('device', 'device (bus:dev.fn)', bdf, [bdf, `0000:${bdf}`], { value: BigInt(t.sid), format: 'bus:dev.fn in hex (00:1f.2), or the 16-bit source-id' }),
    { ...wordAsk('reason', 'fault reason', hex(t.reason, 2), [fr.name], { value: BigInt(t.reason), format: `the code (0x06) or QEMU's name (VTD_FR_READ)` }), show: `${hex(t.reason, 2)} (${fr.name})` },
  ];
  if (ir) asks.push(valueAsk('index', 'interrupt index', BigInt(t.irIndex!), { decimal: true }));
  else {
    asks.push(valueAsk('addr', 'faulting page address', t.addr! & ~0xfffn));
    asks.push(wordAsk('access', 'read or write', t.read ? 'read' : 'write', t.read ? ['read', 'r'] : ['write', 'w'], { format: 'read | write' }));
  }
  const sid = Number(fv(words, 'SID'));
  const working = [
    `hi qword ${hex(words[1]!, 16)} holds bits [127:64]; lo qword ${hex(words[0]!, 16)} bits [63:0]`,
    `F ${where('F')} = ${fv(words, 'F')}: the record is valid`,
    `SID ${where('SID')} = ${hex(sid, 4)}: bus ${hex(sid >> 8, 2)}, device ${hex((sid >> 3) & 0x1f, 2)}, function ${sid & 7} -> ${bdf}`,
    `FR ${where('FR')} = ${hex(t.reason, 2)} -> ${fr.name}: "${F.linuxFaultReason(t.reason).text}"`,
  ];
  if (ir) {
    working.push(`an interrupt-remapping reason (0x20-0x26): FI holds the interrupt index in [63:48] = ${hex(words[0]! >> 48n)} = ${t.irIndex}`);
  } else {
    working.push(`FI ${where('FI')} = ${hex(t.addr!)} (the page; the low 12 bits are not recorded)`);
    working.push(`T ${where('T')} = ${fv(words, 'T')} -> ${t.read ? 'read' : 'write'} request`);
    if (t.pasid !== undefined) working.push(`PP ${where('PP')} = 1: PASID ${hex(t.pasid)} in PV ${where('PV')}`);
  }
  return {
    topic: TOPIC,
    seed,
    title: 'decode this VT-d fault record',
    question: [
      'A DMAR unit\'s fault recording register (FRCD, 128 bits), as two 64-bit halves:',
      `  lo (bits 63:0)    ${hex(words[0]!, 16)}`,
      `  hi (bits 127:64)  ${hex(words[1]!, 16)}`,
    ],
    asks,
    working,
    explanation: explainFault(summarizeFaultRecord(words)),
  };
}
