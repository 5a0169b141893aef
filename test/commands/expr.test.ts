import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evalExpr, MAX_EXPR_DEPTH } from '../../src/commands/expr.ts';
import { CommandError } from '../../src/commands/errors.ts';
import { lex } from '../../src/commands/lexer.ts';

const ev = (s: string): bigint => evalExpr(s, 0);
const errOf = (s: string): CommandError => {
  try {
    ev(s);
  } catch (e) {
    return e as CommandError;
  }
  throw new Error(`no error for ${s}`);
};

test('number forms: hex, decimal, binary, octal, size suffixes, separators', () => {
  assert.is(ev('0x40000000'), 0x4000_0000n);
  assert.is(ev('4096'), 4096n);
  assert.is(ev('0b101'), 5n);
  assert.is(ev('0o17'), 15n);
  assert.is(ev('4K'), 4096n);
  assert.is(ev('2M'), 2n << 20n);
  assert.is(ev('1g'), 1n << 30n);
  assert.is(ev('1T'), 1n << 40n);
  assert.is(ev('0xffff_ffff'), 0xffff_ffffn);
});

test('u64 wraparound: the 64-bit DMA mask plus one is zero', () => {
  assert.is(ev('0xffffffffffffffff + 1'), 0n);
  assert.is(ev('0xffffffffffffffff+1'), 0n);
  assert.is(ev('0 - 1'), 0xffff_ffff_ffff_ffffn);
  assert.is(ev('-1'), 0xffff_ffff_ffff_ffffn);
  assert.is(ev('~0'), 0xffff_ffff_ffff_ffffn);
  assert.is(ev('1 << 64'), 0n);
  assert.is(ev('(1 << 63) * 2'), 0n);
});

test('precedence follows C: shifts below +/-, & below shifts, | lowest', () => {
  assert.is(ev('1 + 2 * 3'), 7n);
  assert.is(ev('1 << 2 + 1'), 8n);
  assert.is(ev('0xf0 | 0x0f & 0x3'), 0xf3n);
  assert.is(ev('(0x40000000 + 0x1000) >> 12'), 0x40001n);
  assert.is(ev('7 % 4 ^ 1'), 2n);
  assert.is(ev('(1 << 48) - 1'), 0xffff_ffff_ffffn);
});

test('a malformed number names itself and points at its span', () => {
  const e = errOf('0x40 + 0x12zz');
  assert.match(e.message, "'0x12zz' is not a valid number");
  assert.equal(e.span, { start: 7, end: 13 });
  assert.ok(e.expected);
});

test('too large for 64 bits is an error, not a rounded number', () => {
  const e = errOf('0x10000000000000000');
  assert.match(e.message, 'does not fit in 64 bits');
});

test('division by zero, dangling operators and stray words are errors with spans', () => {
  assert.equal(errOf('4 / 0').span, { start: 2, end: 3 });
  assert.match(errOf('4 +').message, 'ends too early');
  assert.match(errOf('4 4').message, "unexpected '4'");
  assert.equal(errOf('1 + foo').span, { start: 4, end: 7 });
  assert.match(errOf('(1 + 2').message, "expected ')'");
});

test('$ and $_ need a value first', () => {
  assert.is(evalExpr('$ + 1', 0, { last: 41n }), 42n);
  assert.is(evalExpr('$_', 0, { lastAddr: 0x4000_0000n }), 0x4000_0000n);
  assert.match(errOf('$').message, 'no value yet');
});

test('lexer: words, parenthesised expressions, key=value, strings and comments', () => {
  const l = lex('write (0x40000000 + 8) 0xff size=b  # set a byte');
  assert.equal(l.tokens.map((t) => t.text), ['write', '(0x40000000 + 8)', '0xff', 'size=b']);
  assert.is(l.tokens[3]!.key, 'size');
  assert.is(l.tokens[3]!.value, 'b');
  assert.is(l.tokens[3]!.valueStart, 33);
  assert.is(l.codeEnd, 36);
  const s = lex('boot "console=ttyAMA0 quiet"');
  assert.is(s.tokens[1]!.text, 'console=ttyAMA0 quiet');
  assert.ok(s.tokens[1]!.quoted);
  assert.throws(() => lex('print (1 + 2'), /unbalanced/);
  assert.throws(() => lex('boot "open'), /unterminated/);
});

test('deep nesting (issue 12 item 9): a caret error at the first token past the limit, never a stack overflow', () => {
  const n = 5000;
  const deep = '('.repeat(n) + '1' + ')'.repeat(n);
  try {
    evalExpr(deep, 0);
    assert.unreachable('should refuse');
  } catch (e) {
    assert.instance(e, CommandError);
    assert.match((e as CommandError).message, `deeper than ${MAX_EXPR_DEPTH} levels`);
    assert.is((e as CommandError).span?.start, MAX_EXPR_DEPTH);
  }
  assert.throws(() => evalExpr('-'.repeat(100_000) + '1', 0), (e: unknown) => e instanceof CommandError);
  // At the limit it still works.
  assert.is(evalExpr('('.repeat(MAX_EXPR_DEPTH - 1) + '7' + ')'.repeat(MAX_EXPR_DEPTH - 1), 0), 7n);
});

test.run();
