/**
 * Memory views: the canonical hexdump (offset, 16 bytes, ASCII column) and
 * QEMU's `xp /fmt` layout (hw/monitor memory_dump: 8 bytes a line for byte
 * units, 16 otherwise, `%016x:` physical addresses).
 */
import { type u64, hexRaw } from '../machine/u64.ts';
import { type Line, span } from './view.ts';

const printable = (b: number): string => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.');

/** Hexdump lines for `bytes` that start at `base`. Zero lines are shown, never elided. */
export function hexdump(base: u64, bytes: Uint8Array): Line[] {
  const lines: Line[] = [];
  const start = base & ~0xfn;
  const lead = Number(base - start);
  const total = lead + bytes.length;
  for (let off = 0; off < total; off += 16) {
    const hexCells: string[] = [];
    let ascii = '';
    for (let i = 0; i < 16; i++) {
      const k = off + i - lead;
      if (k < 0 || k >= bytes.length) {
        hexCells.push('  ');
        ascii += ' ';
      } else {
        hexCells.push(hexRaw(bytes[k]!, 2));
        ascii += printable(bytes[k]!);
      }
    }
    const hexText = hexCells.slice(0, 8).join(' ') + '  ' + hexCells.slice(8).join(' ');
    lines.push([span(hexRaw(start + BigInt(off), 16), 'addr'), span('  '), span(hexText.replace(/\s+$/, ''), 'num'), span(' '.repeat(Math.max(0, 49 - hexText.replace(/\s+$/, '').length)) + ' |'), span(ascii.replace(/\s+$/, ''), 'dim'), span('|')]);
  }
  return lines;
}

export type XpFormat = 'x' | 'd' | 'u' | 'o' | 'c';
export type XpUnit = 1 | 2 | 4 | 8;

/** Read little-endian unit k from bytes. */
function unitAt(bytes: Uint8Array, k: number, size: number): u64 {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[k * size + i]!);
  return v;
}

function fmtChar(v: number): string {
  if (v === 0x27) return "'\\''";
  if (v === 0x5c) return "'\\\\'";
  if (v === 0x0a) return "'\\n'";
  if (v === 0x0d) return "'\\r'";
  if (v >= 0x20 && v < 0x7f) return `'${String.fromCharCode(v)}'`;
  return `'\\x${hexRaw(v, 2)}'`;
}

/**
 * QEMU monitor memory_dump: address `%016x:` then units separated by a
 * space; x -> 0x%0*x (2 digits a byte), u/d -> right-aligned decimal in
 * ceil(bits*10/33) columns (d sign-extends), o -> %#*o in ceil(bits/3).
 */
export function xpLines(base: u64, bytes: Uint8Array, fmt: XpFormat, size: XpUnit): Line[] {
  const wsize = fmt === 'c' ? 1 : size;
  const lineSize = wsize === 1 ? 8 : 16;
  const count = Math.floor(bytes.length / wsize);
  const perLine = lineSize / wsize;
  const bitsN = wsize * 8;
  const lines: Line[] = [];
  for (let k = 0; k < count; k += perLine) {
    const l: Line = [span(hexRaw(base + BigInt(k * wsize), 16), 'addr'), span(':')];
    for (let j = k; j < Math.min(count, k + perLine); j++) {
      const v = unitAt(bytes, j, wsize);
      let t: string;
      switch (fmt) {
        case 'x':
          t = '0x' + hexRaw(v, bitsN / 4);
          break;
        case 'u':
          t = v.toString().padStart(Math.ceil((bitsN * 10) / 33));
          break;
        case 'd':
          t = BigInt.asIntN(bitsN, v).toString().padStart(Math.ceil((bitsN * 10) / 33));
          break;
        case 'o': {
          const o = v === 0n ? '0' : '0' + v.toString(8);
          t = o.padStart(Math.ceil(bitsN / 3));
          break;
        }
        case 'c':
          t = fmtChar(Number(v));
          break;
      }
      l.push(span(' '), span(t, 'num'));
    }
    lines.push(l);
  }
  return lines;
}
