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
import { type u64, bits, setBits, hex } from './u64.ts';

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

/** Look up one field by name; throws on a typo in model code (a bug, not user input). */
export function field(layout: Layout, name: string): FieldDef {
  const f = layout.fields.find((x) => x.name === name);
  if (!f) throw new Error(`layout ${layout.name} has no field ${name}`);
  return f;
}

export function get(layout: Layout, words: readonly u64[], name: string): u64 {
  return fieldValue(field(layout, name), words);
}

/** Encode named field values into a fresh record (unnamed fields are 0). */
export function encode(layout: Layout, values: Record<string, u64 | number | boolean>): u64[] {
  const words: u64[] = new Array(layout.words).fill(0n);
  for (const [name, raw] of Object.entries(values)) {
    const f = field(layout, name);
    let v = typeof raw === 'boolean' ? (raw ? 1n : 0n) : BigInt(raw);
    if (f.kind === 'addr') v >>= BigInt(f.lo);
    words[f.word] = setBits(words[f.word]!, f.hi, f.lo, v);
  }
  return words;
}
