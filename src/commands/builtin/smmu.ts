/**
 * `smmu ste SID`, `smmu cd SID`, `smmu events [all]`: the SMMUv3's
 * structures as they are in memory now, read at their addresses and
 * decoded field by field with the layout tables (inspect/smmu.ts). Nothing
 * here asks the Linux driver what it meant to write: the STE is found from
 * STRTAB_BASE/STRTAB_BASE_CFG (and the level-1 descriptor), the CD from the
 * STE, the event records from EVENTQ_BASE/PROD/CONS.
 */
import { type u64, hex } from '../../machine/u64.ts';
import { BusError } from '../../machine/errors.ts';
import { get } from '../../machine/fields.ts';
import { STE_LAYOUT, STE_SIZE, STE_CFG_S1_TRANS, STE_CFG_NESTED } from '../../machine/smmuv3/ste.ts';
import { CD_LAYOUT, CD_SIZE } from '../../machine/smmuv3/cd.ts';
import { EVT_DWORDS, EVT_SIZE, eventType } from '../../machine/smmuv3/event.ts';
import { qCount, qIdx } from '../../machine/smmuv3/queue.ts';
import { SMMU_STRTAB_BASE, SMMU_STRTAB_BASE_CFG } from '../../machine/smmuv3/regs.ts';
import type { SmmuV3 } from '../../machine/smmuv3/smmuv3.ts';
import { decodeCd, decodeEvent, decodeL1Std, explainEvent, steInMemory, summarizeEvent, type FieldRow } from '../../inspect/smmu.ts';
import { xpLines } from '../../inspect/hexdump.ts';
import { fieldLines, plain, span, type Line } from '../../inspect/view.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import type { CommandSpec, ParsedArgs } from '../registry.ts';
import type { Session } from '../session.ts';
import { needSmmu } from '../kernel-device.ts';

/** Field rows as fieldLines wants them; STE.Config in binary, as the spec and REFERENCE.md write it. */
export function fieldTable(rows: FieldRow[], indent = '  '): Line[] {
  return fieldLines(
    rows.map((r) => ({
      name: r.name,
      bits: r.bits,
      text: r.name === 'Config' && r.bits === 'dw0[3:1]' ? configText(r) : r.text,
      desc: r.meaning,
    })),
    indent,
  );
}

function configText(r: FieldRow): string {
  const named = /\(([^)]*)\)$/.exec(r.text)?.[1];
  return `0b${r.value.toString(2).padStart(3, '0')}${named ? ` (${named})` : ''}`;
}

/** The raw words of a record at its address, QEMU `xp/Ngx` style (two dwords a line). */
export function rawLines(mem: Session['machine']['memory'], addr: u64, bytes: number, indent = '  '): Line[] {
  return xpLines(addr, mem.read(addr, bytes), 'x', 8).map((l) => [span(indent), ...l]);
}

const streamTableRegs = (smmu: SmmuV3): { base: u64; cfg: number } => ({ base: smmu.reg64(SMMU_STRTAB_BASE) & 0x000f_ffff_ffff_ffc0n, cfg: smmu.reg32(SMMU_STRTAB_BASE_CFG) });

/** The STE of a StreamID read from memory, or a CommandError at the SID argument. */
function steAt(s: Session, smmu: SmmuV3, sidArg: u64, sp: SourceSpan | undefined) {
  const st = streamTableRegs(smmu);
  if (st.base === 0n) {
    throw new CommandError(`${smmu.name} has no stream table yet (STRTAB_BASE = 0): nothing has programmed it`, sp, undefined, "boot (Linux's arm-smmu-v3 driver sets it up)");
  }
  const log2 = st.cfg & 0x3f;
  if (sidArg >= 1n << BigInt(Math.min(log2, smmu.sidBits))) {
    throw new CommandError(
      `StreamID ${hex(sidArg)} is beyond the stream table (STRTAB_BASE_CFG.LOG2SIZE = ${log2}: StreamIDs 0..${hex((1n << BigInt(Math.min(log2, smmu.sidBits))) - 1n)}); the SMMU would report C_BAD_STREAMID`,
      sp,
      `a StreamID below ${hex(1n << BigInt(Math.min(log2, smmu.sidBits)))}`,
      "'info iommu' lists the devices and their StreamIDs",
    );
  }
  const sid = Number(sidArg);
  let r: ReturnType<typeof steInMemory>;
  try {
    r = steInMemory(s.machine.memory, smmu, sid);
  } catch (e) {
    if (e instanceof BusError) throw new CommandError(`the STE of StreamID ${hex(sid)} cannot be read: ${e.message}`, sp);
    throw e;
  }
  if (r.error || r.addr === undefined) {
    throw new CommandError(`StreamID ${hex(sid)} has no STE: ${r.error}`, sp, 'a StreamID whose level-2 stream table exists', "'info iommu' lists the devices and their StreamIDs");
  }
  return { sid, addr: r.addr, words: r.words!, rows: r.rows!, steps: r.steps };
}

function sidArg(a: ParsedArgs): { sid: u64; sp: SourceSpan | undefined } {
  return { sid: a.v.sid as u64, sp: a.span.sid };
}

/** The SID argument's STE as the SMMU finds it, with a field getter and its Config (smmu ste, smmu cd). */
function steArg(s: Session, a: ParsedArgs) {
  const { sid: sidV, sp } = sidArg(a);
  const smmu = needSmmu(s, sp);
  const ste = steAt(s, smmu, sidV, sp);
  const g = (n: string): u64 => get(STE_LAYOUT, ste.words, n);
  return { sp, smmu, ste, g, config: Number(g('Config')) };
}

const CONFIG_WORD: Record<number, string> = { 0: 'abort', 4: 'bypass', 5: 'stage 1', 6: 'stage 2', 7: 'nested' };

export const smmuSte: CommandSpec = {
  name: 'smmu ste',
  summary: 'A stream table entry read from memory: its 8 dwords and every field decoded',
  help: [
    'Finds the STE of StreamID SID the way the SMMU does: STRTAB_BASE and STRTAB_BASE_CFG, then for a',
    '2-level table the level-1 descriptor (Span, L2Ptr), then the 64-byte entry. Shows the raw dwords',
    'at their physical addresses and every field: name, bits, value, meaning. This is memory now;',
    "the SMMU may still hold an older copy in its configuration cache until software sends CMD_CFGI_STE.",
  ].join('\n'),
  examples: ['smmu ste 0', 'smmu ste 0x0'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot'],
  args: [{ name: 'sid', kind: 'u64', desc: 'StreamID (info iommu lists them)' }],
  mutates: false,
  run(s, a) {
    const { sp, smmu, ste, g, config } = steArg(s, a);
    const lines: Line[] = [];
    lines.push([span(`STE of StreamID ${hex(ste.sid)}`, 'head'), span(' at '), span(hex(ste.addr), 'addr'), span(` (${smmu.name})`, 'dim')]);
    for (const st of ste.steps) {
      if (st.level === 'L1STD' && st.desc !== undefined && !Array.isArray(st.desc)) {
        const l2 = decodeL1Std(st.desc);
        lines.push([span('  via level-1 descriptor ', 'dim'), span(`L1STD[${st.index}]`, 'key'), span(' at '), span(hex(st.descAddr!), 'addr'), span(' = '), span(hex(st.desc, 16), 'num'), span(`: ${l2.map((r) => `${r.name} ${r.text}`).join(', ')}`, 'dim')]);
      }
    }
    lines.push(...rawLines(s.machine.memory, ste.addr, STE_SIZE));
    lines.push(...fieldTable(ste.rows));
    const v = g('V') === 1n;
    const what = !v
      ? 'V=0: the SMMU terminates every transaction of this stream and records C_BAD_STE'
      : config === STE_CFG_S1_TRANS || config === STE_CFG_NESTED
        ? `Config=0b${config.toString(2)} (${CONFIG_WORD[config]}): stage 1 context descriptor at ${hex(g('S1ContextPtr'))} (smmu cd ${ste.sid})`
        : `Config=0b${config.toString(2).padStart(3, '0')} (${CONFIG_WORD[config] ?? 'reserved: treated as abort'})`;
    lines.push([span('  '), span(what, v ? 'ok' : 'bad')]);
    const cached = smmu.configCache().find((c) => c.sid === ste.sid);
    if (cached) {
      const same = cached.ste.length === ste.words.length && cached.ste.every((w, i) => w === ste.words[i]);
      lines.push([span(same ? '  the SMMU\'s configuration cache holds this same STE' : '  the SMMU\'s configuration cache holds an OLDER copy of this STE (memory changed without CMD_CFGI_STE): translations still use the cached one', same ? 'dim' : 'warn')]);
    }
    return {
      kind: 'smmu-ste',
      data: { iommu: smmu.name, sid: ste.sid, addr: ste.addr, words: ste.words, fields: ste.rows, config, valid: v, cached: cached ? { words: cached.ste } : null, steps: ste.steps },
      lines,
      focus: { addr: ste.addr, len: STE_SIZE },
    };
  },
};

export const smmuCd: CommandSpec = {
  name: 'smmu cd',
  summary: 'The context descriptor of a stage-1 stream, read from memory and decoded',
  help: [
    'Reads the STE of StreamID SID, follows S1ContextPtr and shows the CD\'s 8 dwords and every field',
    '(T0SZ, TG0, IPS, the V/R/A bits, ASID, TTB0, MAIR). Only streams whose STE.Config includes stage 1',
    '(0b101, or 0b111 nested) have a CD; Linux gives one CD per domain (2017) or per master (current).',
  ].join('\n'),
  examples: ['smmu cd 0'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot'],
  args: [{ name: 'sid', kind: 'u64', desc: 'StreamID whose STE is stage 1' }],
  mutates: false,
  run(s, a) {
    const { sp, smmu, ste, g, config } = steArg(s, a);
    if (g('V') !== 1n) throw new CommandError(`the STE of StreamID ${hex(ste.sid)} at ${hex(ste.addr)} is not valid (V=0): it has no context descriptor`, sp, 'a StreamID with a stage-1 STE', `smmu ste ${ste.sid}`);
    if (config !== STE_CFG_S1_TRANS && config !== STE_CFG_NESTED) {
      throw new CommandError(
        `the STE of StreamID ${hex(ste.sid)} has Config=0b${config.toString(2).padStart(3, '0')} (${CONFIG_WORD[config] ?? 'reserved'}), not stage 1: it has no context descriptor`,
        sp,
        'a StreamID whose STE has Config=0b101 (stage 1)',
        `smmu ste ${ste.sid}`,
      );
    }
    if (g('S1Fmt') !== 0n) throw new CommandError(`the STE of StreamID ${hex(ste.sid)} points at a 2-level CD table (S1Fmt=${g('S1Fmt')}); this view decodes linear CDs only`, sp);
    const cdAddr = g('S1ContextPtr');
    let words: u64[];
    try {
      words = s.machine.memory.readWords(cdAddr, 8);
    } catch (e) {
      if (e instanceof BusError) throw new CommandError(`the CD at ${hex(cdAddr)} cannot be read: ${e.message} (the SMMU would report F_CD_FETCH)`, sp);
      throw e;
    }
    const rows = decodeCd(words);
    const c = (n: string): u64 => get(CD_LAYOUT, words, n);
    const lines: Line[] = [
      [span(`CD of StreamID ${hex(ste.sid)}`, 'head'), span(' at '), span(hex(cdAddr), 'addr'), span(` (STE at ${hex(ste.addr)}: S1ContextPtr, S1CDMax ${g('S1CDMax')}: ${g('S1CDMax') === 0n ? 'one CD' : `CD 0 of ${1n << g('S1CDMax')}`})`, 'dim')],
      ...rawLines(s.machine.memory, cdAddr, CD_SIZE),
      ...fieldTable(rows),
    ];
    const valid = c('V') === 1n;
    const t0sz = Number(c('T0SZ'));
    lines.push([
      span('  '),
      span(
        valid
          ? `V=1: ASID ${c('ASID')}, TTB0 ${hex(c('TTB0'))}, ${64 - t0sz}-bit IOVAs (T0SZ ${t0sz}), faults ${c('R') === 1n ? 'recorded in the event queue (R=1)' : 'not recorded (R=0)'}${c('EPD0') === 1n ? '; EPD0=1: TTB0 walks disabled' : ''}`
          : 'V=0: the SMMU reports C_BAD_CD for every transaction of this stream',
        valid ? 'ok' : 'bad',
      ),
    ]);
    return {
      kind: 'smmu-cd',
      data: { iommu: smmu.name, sid: ste.sid, steAddr: ste.addr, addr: cdAddr, words, fields: rows, valid, asid: Number(c('ASID')), ttb0: c('TTB0'), t0sz },
      lines,
      focus: { addr: cdAddr, len: CD_SIZE },
    };
  },
};

/** One event record as commands show it. */
export interface EventRecordView {
  /** Queue slot index. */
  index: number;
  addr: u64;
  raw: u64[];
  type: number;
  name: string;
  sid: number;
  inputAddr: u64;
  fields: FieldRow[];
  explanation: string;
  /** consumed: software moved CONS past it; pending: between CONS and PROD. */
  state: 'consumed' | 'pending';
}

export const smmuEvents: CommandSpec = {
  name: 'smmu events',
  summary: 'The SMMU event queue in memory: each record raw, decoded and explained',
  help: [
    'Reads EVENTQ_BASE, EVENTQ_PROD and EVENTQ_CONS and decodes the 32-byte records in the queue.',
    'By default: the records written since the machine was powered on (the last boot), oldest first,',
    "each marked consumed (Linux's event-queue thread read it and moved CONS past it) or pending",
    '(between CONS and PROD: nobody has read it yet). `smmu events all` shows every slot that holds',
    'a record, in slot order. Each record: the four raw dwords, every field, the event name, and what',
    'it means in plain words.',
  ].join('\n'),
  examples: ['smmu events', 'smmu events all'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot'],
  args: [{ name: 'which', kind: 'enum', choices: ['all'], desc: 'all: every slot written, not only the records since boot', optional: true }],
  mutates: false,
  run(s, a) {
    const smmu = needSmmu(s, a.span.which ?? a.all);
    const q = smmu.eventQueue();
    const mem = s.machine.memory;
    const slots = 1 << q.shift;
    const header: Line = [
      span(`event queue of ${smmu.name}`, 'head'),
      span(' at '),
      span(hex(q.base), 'addr'),
      span(`: ${slots} slots of ${EVT_SIZE} bytes, PROD ${hex(q.prod)} (slot ${qIdx(q.prod, q.shift)}), CONS ${hex(q.cons)} (slot ${qIdx(q.cons, q.shift)}), EVENTQEN=${q.enabled ? 1 : 0}`, 'dim'),
    ];
    if (q.base === 0n) {
      throw new CommandError(`${smmu.name} has no event queue yet (EVENTQ_BASE = 0): nothing has programmed it`, a.span.which ?? a.all, undefined, "boot (Linux's arm-smmu-v3 driver sets it up)");
    }
    const pendingN = qCount(q.prod, q.cons, q.shift);
    const prodPtr = q.prod & ((2 << q.shift) - 1);
    const isPending = (index: number): boolean => {
      for (let k = 1; k <= pendingN; k++) if (qIdx(prodPtr - k + (2 << q.shift), q.shift) === index) return true;
      return false;
    };
    const written = smmu.stats().events;
    let indices: number[];
    const all = a.v.which === 'all';
    if (all) {
      indices = [];
      for (let i = 0; i < slots; i++) if (mem.readWords(q.base + BigInt(EVT_SIZE * i), EVT_DWORDS).some((w) => w !== 0n)) indices.push(i);
    } else {
      const n = Math.min(written, slots);
      indices = Array.from({ length: n }, (_, k) => qIdx(prodPtr - n + k + (2 << q.shift), q.shift));
    }
    const records: EventRecordView[] = indices.map((index) => {
      const addr = q.base + BigInt(EVT_SIZE * index);
      const raw = mem.readWords(addr, EVT_DWORDS);
      const sum = summarizeEvent(raw);
      return { index, addr, raw, type: sum.type, name: sum.name, sid: sum.sid, inputAddr: sum.inputAddr, fields: decodeEvent(raw), explanation: explainEvent(raw), state: isPending(index) ? 'pending' : 'consumed' };
    });
    const lines: Line[] = [header];
    lines.push(
      plain(
        all
          ? `${records.length} slot${records.length === 1 ? ' holds' : 's hold'} a record; ${pendingN} pending between CONS and PROD`
          : `${written} record${written === 1 ? '' : 's'} written since the last boot${written > slots ? ` (the oldest ${written - slots} overwritten: the queue holds ${slots})` : ''}; ${pendingN} pending between CONS and PROD`,
      ),
    );
    for (const r of records) {
      const t = eventType(r.type);
      lines.push(plain(''));
      lines.push([
        span(`slot ${r.index}`, 'key'),
        span(' at '),
        span(hex(r.addr), 'addr'),
        span(': '),
        span(`${r.name} (${hex(r.type, 2)})`, 'bad'),
        span(` StreamID ${hex(r.sid)}`),
        span(r.state === 'pending' ? '  PENDING: not yet read by software' : '  consumed by software', r.state === 'pending' ? 'warn' : 'dim'),
      ]);
      lines.push([span('  raw: '), span(r.raw.map((w) => hex(w, 16)).join(' '), 'num')]);
      lines.push(...fieldTable(r.fields, '    '));
      lines.push([span('  '), span(r.explanation)]);
      if (t && t.linux !== t.name) lines.push([span(`  (current Linux prints this type as "${t.linux}")`, 'dim')]);
    }
    if (!records.length) lines.push(plain(all ? 'no slot holds a record' : 'no events since the last boot'));
    return {
      kind: 'smmu-events',
      data: { iommu: smmu.name, base: q.base, slots, prod: q.prod, cons: q.cons, enabled: q.enabled, written, pending: pendingN, all, records },
      lines,
    };
  },
};

export const smmuCommands: CommandSpec[] = [smmuSte, smmuCd, smmuEvents];
