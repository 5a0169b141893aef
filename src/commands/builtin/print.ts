/**
 * `print[/x|/d|/t|/o|/c] EXPR` (gdb's `p`): evaluate in exact u64. The
 * default shows hex and decimal side by side; /d shows the value as a signed
 * 64-bit number as well.
 */
import { hex } from '../../machine/u64.ts';
import { span } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';

export const printCommand: CommandSpec = {
  name: 'print',
  summary: 'Evaluate an expression in exact unsigned 64-bit arithmetic',
  help: [
    'Like gdb\'s `p`. Every step wraps modulo 2^64 as C\'s u64 does, so',
    'DMA_BIT_MASK(64) + 1 is 0, the overflow behind the 2017 probe-deferral bug.',
    'Operators: + - * / % & | ^ ~ << >>, comparisons == != < <= > >= (1 or 0, as in C), max(a, b), min(a, b),',
    'DMA_BIT_MASK(n) and parentheses. $ is the last value printed, $_ the last address examined.',
  ].join('\n'),
  examples: ['print 0xffffffffffffffff + 1', 'print/x 4K * 3', 'print/t 0x0000020800000000', 'print/d -1', 'print (1 << 48) - 1'],
  format: 'x hex, d decimal (unsigned and signed), u unsigned decimal, t binary, o octal, c character',
  args: [{ name: 'expr', kind: 'rest', desc: 'an expression: 0xffffffffffffffff + 1, (1 << 48) - 1, 4K * 3' }],
  mutates: false,
  run(s, a) {
    const value = s.evalAt(a.v.expr as string, a.span.expr!.start);
    s.env.last = value;
    const f = a.fmt?.text ?? '';
    if (!/^[xdutoc]?$/.test(f)) throw new CommandError(`unknown print format '/${f}'`, a.fmt!.span, 'one of /x /d /u /t /o /c');
    let text: string;
    switch (f) {
      case 'x': text = hex(value); break;
      case 'u': text = value.toString(); break;
      case 'd': text = BigInt.asIntN(64, value).toString(); break;
      case 't': text = value.toString(2); break;
      case 'o': text = '0' + value.toString(8); break;
      case 'c': text = `${value & 0xffn} '${String.fromCharCode(Number(value & 0xffn))}'`; break;
      default: text = `${hex(value)} (${value.toString()})`;
    }
    return {
      kind: 'value',
      data: { value, hex: hex(value), decimal: value.toString(), signed: BigInt.asIntN(64, value).toString() },
      lines: [[span('$ = ', 'dim'), span(text, 'num')]],
    };
  },
};
