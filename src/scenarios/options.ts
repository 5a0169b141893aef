/** Helpers for preset options. */
import { sizeStr } from '../machine/u64.ts';

const UNITS: Record<string, bigint> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };

/**
 * Validate a size such as 512M, 4G or 1T against [min, max]. Returns an
 * error string, or undefined when valid; with `value` true returns the
 * number of bytes as a string instead.
 */
export function parseSizeOption(v: string, min: bigint, max: bigint, value = false): string | undefined {
  const m = /^([0-9]+)([KMGT]?)(?:i?B)?$/i.exec(v.trim());
  if (!m) return `'${v}' is not a size; write it like 512M, 4G or 1T`;
  const n = BigInt(m[1]!) * UNITS[m[2]!.toUpperCase()]!;
  if (n < min || n > max) return `${v} is out of range: between ${sizeStr(min)} and ${sizeStr(max)}`;
  if (n % 4096n !== 0n) return `${v} is not a whole number of 4 KiB pages`;
  return value ? n.toString() : undefined;
}

/** Split a kernel command line into name -> value ("1" for a bare flag, as the kernel treats it). */
export function splitCmdline(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const w of s.split(/\s+/).filter(Boolean)) {
    const eq = w.indexOf('=');
    if (eq < 0) m.set(w, '1');
    else m.set(w.slice(0, eq), w.slice(eq + 1));
  }
  return m;
}
