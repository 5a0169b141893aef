/**
 * Physical memory commands: `xp` (examine, QEMU monitor / gdb formats),
 * `write` and `fill`. Addresses are CPU physical addresses; a hole in the
 * memory map is an error that names the address.
 */
import { type u64, hex, sizeStr } from '../../machine/u64.ts';
import { BusError } from '../../machine/errors.ts';
import { hexdump, xpLines, type XpFormat, type XpUnit } from '../../inspect/hexdump.ts';
import { span } from '../../inspect/view.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session, XpState } from '../session.ts';

/** Stated limits. */
export const XP_MAX_BYTES = 64 * 1024;
export const FILL_MAX_BYTES = 16n << 20n; // 16 MiB per command
const HEXDUMP_BYTES = 64;

/** Run fn; a BusError becomes an error pointing at the address argument. */
export function atAddress<T>(sp: SourceSpan | undefined, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BusError) throw new CommandError(e.message, sp, 'an address inside RAM, ROM or a device register block', "'info mtree' shows the memory map");
    throw e;
  }
}

const SIZE_LETTERS: Record<string, XpUnit> = { b: 1, h: 2, w: 4, g: 8 };

/** Parse gdb/QEMU /FMT: [count][format letter][size letter], letters in any order. */
export function parseXpFormat(text: string, sp: SourceSpan, prev: { count: number; fmt: XpFormat; size: XpUnit }): { count: number; fmt: XpFormat; size: XpUnit } {
  const m = /^([0-9]*)([a-z]*)$/.exec(text);
  const expected = 'a count, a format letter (x d u o c) and a size letter (b h w g), e.g. /8xb or /4xg';
  if (!m) throw new CommandError(`bad format '/${text}'`, sp, expected);
  let count = m[1] ? parseInt(m[1], 10) : prev.count;
  let fmt = prev.fmt;
  let size = prev.size;
  let fmtSet = false;
  for (const [i, c] of [...m[2]!].entries()) {
    const at = { start: sp.start + 1 + m[1]!.length + i, end: sp.start + 2 + m[1]!.length + i };
    if ('xduoc'.includes(c)) {
      fmt = c as XpFormat;
      fmtSet = true;
    } else if (c in SIZE_LETTERS) size = SIZE_LETTERS[c]!;
    else if (c === 'i' || c === 's') throw new CommandError(`format '${c}' (${c === 'i' ? 'instructions' : 'strings'}) is not supported: the lab has no CPU to disassemble for`, at, expected);
    else throw new CommandError(`unknown format letter '${c}'`, at, expected);
  }
  if (fmtSet && fmt === 'c') size = 1;
  if (count < 1) throw new CommandError('the count must be at least 1', sp, expected);
  if (count * size > XP_MAX_BYTES) {
    throw new CommandError(`that is ${count * size} bytes; xp shows at most ${XP_MAX_BYTES} bytes at once`, sp, `a count of at most ${Math.floor(XP_MAX_BYTES / size)} for this unit size`);
  }
  return { count, fmt, size };
}

export function examine(
  s: Session,
  addr: u64 | undefined,
  addrSpan: SourceSpan | undefined,
  fmt: { text: string; span: SourceSpan } | undefined,
  all: SourceSpan,
  reader: (addr: u64, len: number) => Uint8Array = (a, n) => s.machine.memory.read(a, n),
  st: XpState = s.xp,
) {
  if (fmt) {
    Object.assign(st, parseXpFormat(fmt.text, fmt.span, st));
    st.mode = 'fmt';
  } else if (addr !== undefined) st.mode = 'hexdump';
  const start = addr ?? st.next;
  if (start === undefined) throw new CommandError('no address given and nothing examined yet', all, 'an address, e.g. xp/8xb 0x40000000');
  const len = st.mode === 'hexdump' ? HEXDUMP_BYTES : st.count * (st.fmt === 'c' ? 1 : st.size);
  if (start + BigInt(len) - 1n > 0xffff_ffff_ffff_ffffn) throw new CommandError(`${len} bytes from ${hex(start)} run past the top of the 64-bit address space`, addrSpan ?? all);
  const bytes = atAddress(addrSpan ?? all, () => reader(start, len));
  st.next = start + BigInt(len);
  s.env.lastAddr = start;
  const lines = st.mode === 'hexdump' ? hexdump(start, bytes) : xpLines(start, bytes, st.fmt, st.size);
  return { lines, bytes, start, len };
}

export const xpCommand: CommandSpec = {
  name: 'xp',
  summary: 'Examine physical memory (QEMU monitor xp / gdb x formats)',
  help: [
    'Without /FMT: a hexdump of 64 bytes with an ASCII column.',
    'With /FMT: QEMU\'s layout, one address a line. Count, format and size are sticky:',
    '`xp/4` keeps the last format and size. A bare `xp` continues after the last address.',
    'RAM never written reads as zeros; a hole in the memory map is an error.',
  ].join('\n'),
  examples: ['xp 0x40000000', 'xp/8xb 0x40000000', 'xp/4xg 0x40000000', 'xp/16c 0x40000000', 'xp', 'xp/2xw 0x09000fe0'],
  format: 'count: how many units (default 1)\nformat: x hex, d signed decimal, u unsigned decimal, o octal, c character\nsize: b byte, h halfword (2), w word (4), g giant (8)',
  args: [{ name: 'addr', kind: 'u64', desc: 'physical address (an expression)', optional: true }],
  mutates: false,
  run(s, a) {
    const r = examine(s, a.v.addr as u64 | undefined, a.span.addr, a.fmt, a.all);
    return {
      kind: 'memory',
      data: { addr: r.start, len: r.len, bytes: Buffer.from(r.bytes).toString('hex'), format: s.xp.mode === 'hexdump' ? 'hexdump' : `${s.xp.count}${s.xp.fmt}${'?bh?w???g'[s.xp.size]}` },
      lines: r.lines,
      focus: { addr: r.start, len: r.len },
    };
  },
};

const SIZES: Record<string, 1 | 2 | 4 | 8> = { b: 1, h: 2, w: 4, g: 8 };

export const writeCommand: CommandSpec = {
  name: 'write',
  summary: 'Write a value to physical memory (little-endian)',
  help: 'Writes one value of size b (1 byte), h (2), w (4) or g (8, the default). The value must fit in the size. Undo with `undo`.',
  examples: ['write 0x40000000 0xdeadbeef size=w', 'write 0x40000008 0x1122334455667788', 'write (0x40000000 + 16) 0x41 size=b'],
  args: [
    { name: 'addr', kind: 'u64', desc: 'physical address' },
    { name: 'value', kind: 'u64', desc: 'value to store' },
  ],
  opts: [{ name: 'size', kind: 'enum', choices: ['b', 'h', 'w', 'g'], desc: 'access size: b 1, h 2, w 4, g 8 bytes (default g)' }],
  mutates: true,
  run(s, a) {
    const addr = a.v.addr as u64;
    const value = a.v.value as u64;
    const size = SIZES[(a.v.size as string | undefined) ?? 'g']!;
    if (size < 8 && value >> BigInt(size * 8) !== 0n) {
      throw new CommandError(`${hex(value)} does not fit in ${size} byte${size > 1 ? 's' : ''}`, a.span.value, `a value below ${hex(1n << BigInt(size * 8))}, or a larger size=`);
    }
    atAddress(a.span.addr, () => s.machine.memory.writeU(addr, size, value));
    s.env.lastAddr = addr;
    return {
      kind: 'write',
      data: { addr, value, size },
      lines: [[span('wrote ', 'dim'), span(hex(value, size * 2), 'num'), span(` (${size} byte${size > 1 ? 's' : ''}) at `, 'dim'), span(hex(addr), 'addr')]],
      focus: { addr, len: size },
    };
  },
};

export const fillCommand: CommandSpec = {
  name: 'fill',
  summary: `Fill a range of RAM with one byte (at most ${sizeStr(FILL_MAX_BYTES)} a command)`,
  help: `Sets LEN bytes from ADDR to BYTE. RAM only. A command fills at most ${sizeStr(FILL_MAX_BYTES)} (a stated limit, so one typo cannot allocate gigabytes of model memory); a machine holds at most 1 GiB of written RAM in all (memory limit reached past that).`,
  examples: ['fill 0x40000000 4K 0xaa', 'fill 0x40001000 512 0'],
  args: [
    { name: 'addr', kind: 'u64', desc: 'physical address' },
    { name: 'len', kind: 'u64', desc: 'number of bytes' },
    { name: 'byte', kind: 'u64', desc: 'byte value 0..0xff' },
  ],
  mutates: true,
  run(s, a) {
    const addr = a.v.addr as u64;
    const len = a.v.len as u64;
    const byte = a.v.byte as u64;
    if (byte > 0xffn) throw new CommandError(`${hex(byte)} is not a byte`, a.span.byte, 'a value from 0 to 0xff');
    if (len > FILL_MAX_BYTES) {
      throw new CommandError(`fill is limited to ${sizeStr(FILL_MAX_BYTES)} (${FILL_MAX_BYTES} bytes) a command; ${len} asked`, a.span.len, `a length of at most ${sizeStr(FILL_MAX_BYTES)}`, 'split the range into several fills');
    }
    atAddress(a.span.addr, () => s.machine.memory.fill(addr, len, Number(byte)));
    s.env.lastAddr = addr;
    return {
      kind: 'fill',
      data: { addr, len, byte },
      lines: [[span(`filled ${len} bytes at `, 'dim'), span(hex(addr), 'addr'), span(' with ', 'dim'), span(hex(byte, 2), 'num')]],
      focus: { addr, len: Number(len > 4096n ? 4096n : len) },
    };
  },
};
