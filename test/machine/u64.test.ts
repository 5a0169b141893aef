import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { add, sub, mul, not, shl, shr, dmaBitMask, bits, setBits, alignUp, hex, U64_MAX, minNotZero, u64 } from '../../src/machine/u64.ts';

test('DMA_BIT_MASK(64) + 1 wraps to 0', () => {
  assert.is(add(dmaBitMask(64), 1n), 0n);
  assert.is(add(dmaBitMask(32), 1n), 0x1_0000_0000n);
});

test('max(mask, mask + 1) is one byte short of 2^64 for a 64-bit mask', () => {
  const m = dmaBitMask(64);
  const s = add(m, 1n);
  assert.is(s > m ? s : m, U64_MAX);
});

test('subtraction, multiplication and not wrap modulo 2^64', () => {
  assert.is(sub(0n, 1n), U64_MAX);
  assert.is(mul(1n << 63n, 2n), 0n);
  assert.is(not(0n), U64_MAX);
  assert.is(u64(-1), U64_MAX);
});

test('no bits lost above 2^53', () => {
  const v = (1n << 60n) + 1n;
  assert.is(add(v, 0n), v);
  assert.is(hex(v), '0x1000000000000001');
  assert.is(hex(U64_MAX), '0xffffffffffffffff');
});

test('shifts of 64 or more give 0, as the model defines (C leaves them undefined)', () => {
  assert.is(shl(1n, 64), 0n);
  assert.is(shr(U64_MAX, 64), 0n);
  assert.is(shl(1n, 63), 1n << 63n);
});

test('bit fields: the seed 000 event dword 1 has RnW (35) and CLASS=2 (41:40)', () => {
  const dw1 = 0x0000020800000000n;
  assert.is(bits(dw1, 35, 35), 1n);
  assert.is(bits(dw1, 41, 40), 2n);
  assert.is(setBits(0n, 41, 40, 2n) | setBits(0n, 35, 35, 1n), dw1);
});

test('alignUp wraps at the top like ALIGN()', () => {
  assert.is(alignUp(0x1001n, 0x1000n), 0x2000n);
  assert.is(alignUp(U64_MAX, 0x1000n), 0n);
});

test('min_not_zero', () => {
  assert.is(minNotZero(0n, 5n), 5n);
  assert.is(minNotZero(7n, 5n), 5n);
});

test.run();
