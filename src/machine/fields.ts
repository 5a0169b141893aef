/**
 * Layouts as data: a register or in-memory record is described once as a
 * table of fields (word, bit range, name, meaning). The same table drives
 * encode, decode, the inspector's field view and the layout tests, so a bit
 * position is written in exactly one place.
 *
 *   word N (64-bit, little-endian in memory)
 *   63                                                    0
 *   [  field  ][   field   ][ ... ][ field ][  field  ][V]
 */
import { type u64, bits, hex } from './u64.ts';

export interface FieldDef {
  /** Spec spelling: `Config`, `S1ContextPtr`, `InputAddr`. */
  name: string;
  /** Index of the 64-bit word (dword in SMMU language) holding the field. */
  word: number;
  hi: number;
  lo: number;
  /** One line: what the field means. */
  desc: string;
  /**
   * 'addr': the field holds address bits in place (bits [51:6] of a 64-byte
   * aligned pointer), so its value is the masked word, not shifted down.
   * 'flag': a single bit shown as 0/1. Default: a plain number.
   */
  kind?: 'addr' | 'flag' | 'num';
  /** Names of encodings, e.g. Config 0b100 -> 'bypass'. */
  values?: Record<string, string>;
}

export interface Layout {
  name: string;
  /** Number of 64-bit words in the record. */
  words: number;
  /** Where the layout was checked (spec section, source file). */
  source: string;
  fields: FieldDef[];
}

export interface DecodedField {
  name: string;
  word: number;
  hi: number;
  lo: number;
  value: u64;
  /** Value as shown: hex, flag, or the named encoding. */
  text: string;
  desc: string;
}

export function fieldValue(f: FieldDef, words: readonly u64[]): u64 {
  const w = words[f.word] ?? 0n;
  const v = bits(w, f.hi, f.lo);
  return f.kind === 'addr' ? v << BigInt(f.lo) : v;
}

export function showField(f: FieldDef, v: u64): string {
  const named = f.values?.[v.toString()];
  if (f.kind === 'flag') return v.toString();
  const base = f.kind === 'addr' ? hex(v) : v < 10n ? v.toString() : hex(v);
  return named ? `${base} (${named})` : base;
}

export function decode(layout: Layout, words: readonly u64[]): DecodedField[] {
  return layout.fields.map((f) => {
    const value = fieldValue(f, words);
    return { name: f.name, word: f.word, hi: f.hi, lo: f.lo, value, text: showField(f, value), desc: f.desc };
  });
}

interface Compiled {
  word: number;
  shift: bigint;
  /** Mask of the field's bits in place. */
  mask: bigint;
  addr: boolean;
}

// Encode is on hot paths (every SMMU command the driver issues), so each
// layout's fields are turned into shift/mask bigints once.
const compiled = new WeakMap<Layout, Map<string, Compiled>>();
function compile(layout: Layout): Map<string, Compiled> {
  let c = compiled.get(layout);
  if (!c) {
    c = new Map();
    for (const f of layout.fields) {
      const width = BigInt(f.hi - f.lo + 1);
      c.set(f.name, { word: f.word, shift: BigInt(f.lo), mask: ((1n << width) - 1n) << BigInt(f.lo), addr: f.kind === 'addr' });
    }
    compiled.set(layout, c);
  }
  return c;
}

/** Look up one field by name; throws on a typo in model code (a bug, not user input). */
export function field(layout: Layout, name: string): FieldDef {
  const f = layout.fields.find((x) => x.name === name);
  if (!f) throw new Error(`layout ${layout.name} has no field ${name}`);
  return f;
}

export function get(layout: Layout, words: readonly u64[], name: string): u64 {
  const f = compile(layout).get(name);
  if (!f) throw new Error(`layout ${layout.name} has no field ${name}`);
  const v = (words[f.word] ?? 0n) & f.mask;
  return f.addr ? v : v >> f.shift;
}

/** Encode named field values into a fresh record (unnamed fields are 0). */
export function encode(layout: Layout, values: Record<string, u64 | number | boolean>): u64[] {
  const c = compile(layout);
  const words: u64[] = new Array(layout.words).fill(0n);
  for (const name in values) {
    const f = c.get(name);
    if (!f) throw new Error(`layout ${layout.name} has no field ${name}`);
    const raw = values[name]!;
    const v = typeof raw === 'boolean' ? (raw ? 1n : 0n) : typeof raw === 'number' ? BigInt(raw) : raw;
    words[f.word] = (words[f.word]! & ~f.mask) | ((f.addr ? v : v << f.shift) & f.mask);
  }
  return words;
}
