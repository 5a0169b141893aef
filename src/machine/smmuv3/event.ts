/**
 * Event queue records: 32 bytes, 4 dwords, written by the SMMU at
 * EVENTQ_BASE + 32 * PROD.index.
 *
 *   dword 0:  63        32 31          12 11  10  8 7     0
 *            [ StreamID  ][ SubstreamID  ][SSV][   ][ Type ]
 *   dword 1:  44 41 40 39 35 34 33 31     15      0
 *            [TTRnW][CLASS][S2][RnW][InD][PnU][Stall][STAG]
 *   dword 2:  InputAddr (full address)
 *   dword 3:  IPA [51:12] (stage 2 faults) | FetchAddr [51:3] (fetch faults)
 *
 * Positions: REFERENCE.md 1.4; linux arm-smmu-v3.h EVTQ_*; QEMU
 * hw/arm/smmuv3-internal.h (which writes the same bits as 32-bit words).
 */
import type { Layout } from '../fields.ts';
import { encode } from '../fields.ts';
import type { u64 } from '../u64.ts';

export const EVT_SIZE = 32;
export const EVT_DWORDS = 4;

/** Event type codes (REFERENCE.md 1.5; QEMU SMMUEventType, linux event_str[]). */
export const F_UUT = 0x01;
export const C_BAD_STREAMID = 0x02;
export const F_STE_FETCH = 0x03;
export const C_BAD_STE = 0x04;
export const F_BAD_ATS_TREQ = 0x05;
export const F_STREAM_DISABLED = 0x06;
export const F_TRANSL_FORBIDDEN = 0x07;
export const C_BAD_SUBSTREAMID = 0x08;
export const F_CD_FETCH = 0x09;
export const C_BAD_CD = 0x0a;
export const F_WALK_EABT = 0x0b;
export const F_TRANSLATION = 0x10;
export const F_ADDR_SIZE = 0x11;
export const F_ACCESS = 0x12;
export const F_PERMISSION = 0x13;
export const F_TLB_CONFLICT = 0x20;
export const F_CFG_CONFLICT = 0x21;
export const E_PAGE_REQUEST = 0x24;
export const F_VMS_FETCH = 0x25;

export interface EventType {
  code: number;
  /** Spec name. There is no "F_BAD_STE": the STE error is C_BAD_STE. */
  name: string;
  /** What current Linux prints in "event: %s" (event_str[], else UNKNOWN). */
  linux: string;
  meaning: string;
}

export const EVENT_TYPES: readonly EventType[] = [
  { code: F_UUT, name: 'F_UUT', linux: 'UNKNOWN', meaning: 'unsupported upstream transaction' },
  { code: C_BAD_STREAMID, name: 'C_BAD_STREAMID', linux: 'C_BAD_STREAMID', meaning: 'StreamID outside the stream table' },
  { code: F_STE_FETCH, name: 'F_STE_FETCH', linux: 'F_STE_FETCH', meaning: 'fetching the STE failed (external abort)' },
  { code: C_BAD_STE, name: 'C_BAD_STE', linux: 'C_BAD_STE', meaning: 'the STE is invalid (V=0) or illegally configured' },
  { code: F_BAD_ATS_TREQ, name: 'F_BAD_ATS_TREQ', linux: 'UNKNOWN', meaning: 'ATS translation request not allowed' },
  { code: F_STREAM_DISABLED, name: 'F_STREAM_DISABLED', linux: 'F_STREAM_DISABLED', meaning: 'traffic without SubstreamID and STE.S1DSS = terminate' },
  { code: F_TRANSL_FORBIDDEN, name: 'F_TRANSL_FORBIDDEN', linux: 'UNKNOWN', meaning: 'ATS-translated traffic not allowed' },
  { code: C_BAD_SUBSTREAMID, name: 'C_BAD_SUBSTREAMID', linux: 'C_BAD_SUBSTREAMID', meaning: 'SubstreamID beyond the CD table, or given when the STE has no CD table' },
  { code: F_CD_FETCH, name: 'F_CD_FETCH', linux: 'F_CD_FETCH', meaning: 'fetching the CD failed (external abort)' },
  { code: C_BAD_CD, name: 'C_BAD_CD', linux: 'C_BAD_CD', meaning: 'the CD is invalid (V=0) or illegally configured' },
  { code: F_WALK_EABT, name: 'F_WALK_EABT', linux: 'UNKNOWN', meaning: 'a translation table read failed (external abort)' },
  { code: F_TRANSLATION, name: 'F_TRANSLATION', linux: 'F_TRANSLATION', meaning: 'no valid descriptor maps the address' },
  { code: F_ADDR_SIZE, name: 'F_ADDR_SIZE', linux: 'F_ADDR_SIZE', meaning: 'an output or table address is beyond the configured output size' },
  { code: F_ACCESS, name: 'F_ACCESS', linux: 'F_ACCESS', meaning: 'the descriptor has AF = 0' },
  { code: F_PERMISSION, name: 'F_PERMISSION', linux: 'F_PERMISSION', meaning: 'the access is not permitted by AP/XN' },
  { code: F_TLB_CONFLICT, name: 'F_TLB_CONFLICT', linux: 'UNKNOWN', meaning: 'TLB conflict' },
  { code: F_CFG_CONFLICT, name: 'F_CFG_CONFLICT', linux: 'UNKNOWN', meaning: 'configuration cache conflict' },
  { code: E_PAGE_REQUEST, name: 'E_PAGE_REQUEST', linux: 'UNKNOWN', meaning: 'speculative page request hint' },
  { code: F_VMS_FETCH, name: 'F_VMS_FETCH', linux: 'F_VMS_FETCH', meaning: 'fetching the VMS failed' },
];

const BY_CODE = new Map(EVENT_TYPES.map((t) => [t.code, t]));
export const eventType = (code: number): EventType | undefined => BY_CODE.get(code);
export const eventName = (code: number): string => BY_CODE.get(code)?.name ?? `reserved (0x${code.toString(16).padStart(2, '0')})`;

/** dword 1 CLASS (REFERENCE.md 1.4/1.6; linux event_class_str[]). */
export const CLASS_CD = 0;
export const CLASS_TT = 1;
export const CLASS_IN = 2;
export const EVENT_CLASS_STR = ['CD fetch', 'Stage 1 translation table fetch', 'Input address caused fault', 'Reserved'] as const;

export const EVENT_LAYOUT: Layout = {
  name: 'event',
  words: 4,
  source: 'REFERENCE.md 1.4; linux arm-smmu-v3.h EVTQ_*; QEMU hw/arm/smmuv3-internal.h',
  fields: [
    {
      name: 'Type', word: 0, hi: 7, lo: 0, desc: 'event code',
      values: Object.fromEntries(EVENT_TYPES.map((t) => [String(t.code), t.name])),
    },
    { name: 'SSV', word: 0, hi: 11, lo: 11, kind: 'flag', desc: 'SubstreamID valid' },
    { name: 'SubstreamID', word: 0, hi: 31, lo: 12, desc: 'SubstreamID (meaningful only when SSV = 1)' },
    { name: 'StreamID', word: 0, hi: 63, lo: 32, desc: 'StreamID of the transaction' },
    { name: 'STAG', word: 1, hi: 15, lo: 0, desc: 'stall tag (for CMD_RESUME)' },
    { name: 'Stall', word: 1, hi: 31, lo: 31, kind: 'flag', desc: '1 = stalled awaiting RESUME, 0 = terminated' },
    { name: 'PnU', word: 1, hi: 33, lo: 33, kind: 'flag', desc: '1 = privileged, 0 = unprivileged' },
    { name: 'InD', word: 1, hi: 34, lo: 34, kind: 'flag', desc: '1 = instruction fetch, 0 = data' },
    { name: 'RnW', word: 1, hi: 35, lo: 35, kind: 'flag', desc: '1 = read, 0 = write' },
    { name: 'S2', word: 1, hi: 39, lo: 39, kind: 'flag', desc: 'fault came from stage 2' },
    { name: 'CLASS', word: 1, hi: 41, lo: 40, desc: 'what was being accessed', values: { '0': 'CD fetch', '1': 'translation table fetch', '2': 'input address', '3': 'reserved' } },
    { name: 'TTRnW', word: 1, hi: 44, lo: 44, kind: 'flag', desc: 'table access was a read (Linux: TT_READ), CLASS = TT only' },
    { name: 'InputAddr', word: 2, hi: 63, lo: 0, desc: 'the faulting input address (IOVA), not page-masked' },
    { name: 'IPA', word: 3, hi: 51, lo: 12, kind: 'addr', desc: 'intermediate physical address (stage 2 faults)' },
    { name: 'FetchAddr', word: 3, hi: 51, lo: 3, kind: 'addr', desc: 'address of the failed fetch (F_STE_FETCH, F_CD_FETCH, F_VMS_FETCH)' },
  ],
};

export interface EventFields {
  type: number;
  sid: number;
  ssv?: boolean;
  ssid?: number;
  stag?: number;
  stall?: boolean;
  privileged?: boolean;
  instruction?: boolean;
  read?: boolean;
  s2?: boolean;
  class?: number;
  ttRead?: boolean;
  inputAddr?: u64;
  ipa?: u64;
  fetchAddr?: u64;
}

/** Build the four dwords of an event record from named fields. */
export function encodeEvent(e: EventFields): u64[] {
  const v: Record<string, u64 | number | boolean> = { Type: e.type, StreamID: e.sid };
  if (e.ssv !== undefined) v['SSV'] = e.ssv;
  if (e.ssid !== undefined) v['SubstreamID'] = e.ssid;
  if (e.stag !== undefined) v['STAG'] = e.stag;
  if (e.stall !== undefined) v['Stall'] = e.stall;
  if (e.privileged !== undefined) v['PnU'] = e.privileged;
  if (e.instruction !== undefined) v['InD'] = e.instruction;
  if (e.read !== undefined) v['RnW'] = e.read;
  if (e.s2 !== undefined) v['S2'] = e.s2;
  if (e.class !== undefined) v['CLASS'] = e.class;
  if (e.ttRead !== undefined) v['TTRnW'] = e.ttRead;
  if (e.inputAddr !== undefined) v['InputAddr'] = e.inputAddr;
  if (e.ipa !== undefined) v['IPA'] = e.ipa & 0x000f_ffff_ffff_f000n;
  else if (e.fetchAddr !== undefined) v['FetchAddr'] = e.fetchAddr & 0x000f_ffff_ffff_fff8n;
  return encode(EVENT_LAYOUT, v);
}
