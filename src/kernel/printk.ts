/**
 * printk's number formatting where it differs from C library printf.
 *
 * The kernel's vsprintf (lib/vsprintf.c, number()) writes the "0x" prefix
 * of `%#x` for every value, zero included: `%#x` of 0 is "0x0" in dmesg,
 * where glibc would print "0". (REFERENCE.md 1.6 says the opposite; the
 * kernel source decides: `if (spec.base == 16 || !is_zero)` emits the '0'
 * and base 16 always adds the 'x'.)
 */
import type { u64 } from '../machine/u64.ts';

/** The kernel's "%#x" / "%#llx". */
export const kHashX = (v: u64 | number): string => `0x${v.toString(16)}`;
