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

/** struct ratelimit_state, as plain data (it lives in a Stateful's state). */
export interface RatelimitState {
  begin: number;
  printed: number;
  missed: number;
  started: boolean;
}

export const newRatelimit = (): RatelimitState => ({ begin: 0, printed: 0, missed: 0, started: false });

/**
 * __ratelimit() with DEFAULT_RATELIMIT_INTERVAL (5 s) and
 * DEFAULT_RATELIMIT_BURST (10) (lib/ratelimit.c): true when the caller may
 * print. When a new interval starts after suppressions, `suppressed(n)` is
 * called so the caller can print "<func>: n callbacks suppressed".
 * `now` is simulated seconds since boot.
 */
export function ratelimit(rs: RatelimitState, now: number, suppressed: (missed: number) => void): boolean {
  if (!rs.started) {
    rs.started = true;
    rs.begin = now;
  }
  if (now > rs.begin + 5) {
    if (rs.missed) suppressed(rs.missed);
    rs.begin = now;
    rs.printed = 0;
    rs.missed = 0;
  }
  if (rs.printed < 10) {
    rs.printed++;
    return true;
  }
  rs.missed++;
  return false;
}
