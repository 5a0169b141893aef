/**
 * Drill: decode an SMMUv3 event queue record (32 bytes, four dwords).
 *
 * The generator picks the fields (the truth), builds the record with the
 * lab's own Layout table (encodeEvent, src/machine/smmuv3/event.ts, the
 * same encoder the SMMU model writes its event queue with), and asks the
 * learner to read them back from the raw words. The tests decode every
 * generated record with src/inspect/smmu.ts and compare.
 *
 *   dw0: [63:32] StreamID  [31:12] SubstreamID  [11] SSV  [7:0] Type
 *   dw1: [41:40] CLASS  [39] S2  [35] RnW  [34] InD  [33] PnU  [31] Stall  [15:0] STAG
 *   dw2: InputAddr         dw3: IPA [51:12] | FetchAddr [51:3]
 *
 * (REFERENCE.md 1.4/1.5; seed 000's records are F_TRANSLATION with SSV = 0
 * and the Arm FVP's 0xfffff left in the SubstreamID field.)
 */
import { type u64, hex, bits } from '../machine/u64.ts';
import { field } from '../machine/fields.ts';
import * as E from '../machine/smmuv3/event.ts';
import { explainEvent } from '../inspect/smmu.ts';
import type { Rng } from './rng.ts';
import { type Ask, type Drill, valueAsk, wordAsk } from './drill.ts';

export const TOPIC = 'smmu-event';
export const SUMMARY = 'decode an SMMUv3 event record: type, StreamID, SubstreamID, address, read or write';

/** What the generator chose: the truth the learner must find in the words. */
export interface SmmuEventTruth {
  fields: E.EventFields;
  words: u64[];
}

const TRANSLATION = [E.F_TRANSLATION, E.F_TRANSLATION, E.F_PERMISSION, E.F_ACCESS, E.F_ADDR_SIZE];
const CONFIG = [E.C_BAD_STE, E.C_BAD_STREAMID, E.C_BAD_CD, E.C_BAD_SUBSTREAMID];
const FETCH = [E.F_STE_FETCH, E.F_CD_FETCH];

/** A StreamID as platforms hand them out: PCI requester IDs, small platform IDs. */
function pickSid(r: Rng): number {
  switch (r.int(0, 3)) {
    case 0:
      return r.int(0, 15); // a platform device, or seed 000's SID 0
    case 1:
      return (r.int(0, 3) << 8) | (r.int(0, 31) << 3) | r.int(0, 7); // bus:dev.fn
    case 2:
      return 0x10000 * r.int(0, 3) + r.int(0, 0xffff); // PCIe segment in the high bits (seed 003 style)
    default:
      return r.int(0, 0xff);
  }
}

/** An IOVA as iommu-dma hands them out (top-down below 4 GiB or 48 bits) or a guest-physical one. */
function pickAddr(r: Rng): u64 {
  switch (r.int(0, 2)) {
    case 0:
      return 0xff00_0000n + r.bits(24); // a 32-bit device's IOVA, near the top of 4 GiB
    case 1:
      return 0xffff_0000_0000n + r.bits(32); // a 64-bit device's IOVA, near the top of 48 bits
    default:
      return 0x8_0000_0000n + r.bits(32); // a physical address used as an IOVA (seed 000)
  }
}

export function generateTruth(r: Rng): E.EventFields {
  const kind = r.int(0, 9);
  const sid = pickSid(r);
  const ssv = r.chance(1, 4);
  // With SSV = 0 the field means nothing; the Arm FVP leaves 0xfffff there.
  const ssid = ssv ? r.int(1, 0xfffff) : r.pick([0, 0, 0xfffff]);
  if (kind < 6) {
    const type = r.pick(TRANSLATION);
    // CLASS = TT: the fault hit a table access. At stage 1 that is an address-size fault on a
    // next-level table address (the model's walker raises it so); a permission fault on a table
    // access is a stage-2 fault on a stage-1 walk, which these stage-1 drills leave out.
    const tt = type === E.F_ADDR_SIZE && r.chance(1, 3);
    const stall = r.chance(1, 5);
    return {
      type, sid, ssv, ssid, read: r.chance(1, 2), privileged: r.chance(1, 4), instruction: false,
      s2: false, class: tt ? E.CLASS_TT : E.CLASS_IN, ttRead: tt ? true : undefined,
      stall, stag: stall ? r.int(0, 0xffff) : 0, inputAddr: pickAddr(r),
    };
  }
  if (kind < 8) {
    const type = r.pick(CONFIG);
    // C_BAD_SUBSTREAMID is about a SubstreamID the transaction carried: SSV = 1.
    if (type === E.C_BAD_SUBSTREAMID) return { type, sid, ssv: true, ssid: ssv ? ssid : r.int(1, 0xfffff) };
    return { type, sid, ssv, ssid };
  }
  const type = r.pick(FETCH);
  // An STE is 64 bytes, a CD 64 bytes: the fetch address is the entry's, 64-byte aligned.
  const fetchAddr = 0x8000_0000n + (r.bits(24) << 6n);
  return { type, sid, ssv, ssid, fetchAddr };
}

const rng = (name: string): string => {
  const f = field(E.EVENT_LAYOUT, name);
  return `dw${f.word}[${f.hi === f.lo ? f.hi : `${f.hi}:${f.lo}`}]`;
};
const fv = (words: readonly u64[], name: string): u64 => {
  const f = field(E.EVENT_LAYOUT, name);
  return bits(words[f.word]!, f.hi, f.lo);
};

export function generate(r: Rng, seed: number): Drill {
  const t = generateTruth(r);
  const words = E.encodeEvent(t);
  const name = E.eventName(t.type);
  const asks: Ask[] = [
    wordAsk('type', 'event type', name, [name], { value: BigInt(t.type), format: `the spec's name (F_TRANSLATION) or the code (0x10)` }),
    valueAsk('sid', 'StreamID', BigInt(t.sid)),
    t.ssv
      ? valueAsk('ssid', 'SubstreamID', BigInt(t.ssid!), { format: 'a number, or none when the record has no SubstreamID' })
      : wordAsk('ssid', 'SubstreamID', 'none', ['none', 'no', '-'], { format: 'a number, or none when the record has no SubstreamID' }),
  ];
  const working = [
    `dw0 ${hex(words[0]!, 16)}: Type ${rng('Type')} = ${hex(fv(words, 'Type'), 2)} -> ${name} (${E.eventType(t.type)?.meaning ?? 'reserved'})`,
    `  StreamID ${rng('StreamID')} = ${hex(fv(words, 'StreamID'))}`,
    `  SSV ${rng('SSV')} = ${fv(words, 'SSV')}${t.ssv ? `: SubstreamID ${rng('SubstreamID')} = ${hex(fv(words, 'SubstreamID'))}` : `: no SubstreamID (the field ${rng('SubstreamID')} holds ${hex(fv(words, 'SubstreamID'))}, which means nothing when SSV = 0)`}`,
  ];
  const isTranslation = t.type >= E.F_TRANSLATION && t.type <= E.F_PERMISSION;
  if (isTranslation) {
    asks.push(valueAsk('iova', 'input address (IOVA)', t.inputAddr!));
    asks.push(wordAsk('access', 'read or write', t.read ? 'read' : 'write', t.read ? ['read', 'r'] : ['write', 'w'], { format: 'read | write' }));
    const cls = Number(fv(words, 'CLASS'));
    working.push(
      `dw1 ${hex(words[1]!, 16)}: RnW ${rng('RnW')} = ${fv(words, 'RnW')} -> ${t.read ? 'read' : 'write'}; PnU ${rng('PnU')} = ${fv(words, 'PnU')} (${t.privileged ? 'privileged' : 'unprivileged'}); CLASS ${rng('CLASS')} = ${cls} (${E.EVENT_CLASS_STR[cls]}); Stall ${rng('Stall')} = ${fv(words, 'Stall')}${t.stall ? `, STAG ${hex(fv(words, 'STAG'))}` : ''}`,
      `dw2 ${hex(words[2]!, 16)}: InputAddr, the whole faulting address (not page-masked) -> ${hex(t.inputAddr!)}`,
    );
  } else if (t.fetchAddr !== undefined) {
    asks.push(valueAsk('fetch', 'address of the failed fetch', t.fetchAddr));
    working.push(`dw3 ${hex(words[3]!, 16)}: FetchAddr ${rng('FetchAddr')} kept in place (8-byte aligned) -> ${hex(t.fetchAddr)}`);
  } else {
    working.push(`dw1-dw3: a configuration error (C_*) carries no address: the SMMU stopped before any translation`);
  }
  return {
    topic: TOPIC,
    seed,
    title: 'decode this SMMUv3 event record',
    question: [
      'An arm-smmu-v3 event queue entry (4 dwords, as the driver dumps them):',
      ...words.map((w, i) => `  dw${i} ${hex(w, 16)}`),
    ],
    asks,
    working,
    explanation: explainEvent(words),
  };
}
