/**
 * The command language's lexer. A line is words separated by blanks:
 *
 *   xp/8xb 0x40000000            command, format suffix, argument
 *   write (0x40000000 + 8) 0xff size=g    a parenthesised expression is one word
 *   set kernel=4.10-rc           key=value
 *   boot "console=ttyAMA0 quiet" # a quoted string, then a comment
 *
 * Every token keeps its span in the line so errors can point at it.
 */
import { CommandError } from './errors.ts';

export interface Token {
  /** The token's text without quotes (for strings) as typed otherwise. */
  text: string;
  start: number;
  end: number;
  quoted: boolean;
  /** For key=value tokens: the key and where the value starts. */
  key?: string;
  value?: string;
  valueStart?: number;
}

export interface LexedLine {
  tokens: Token[];
  /** Offset where a `#` comment begins (or the line length). */
  codeEnd: number;
}

const isBlank = (c: string): boolean => c === ' ' || c === '\t';

export function lex(line: string): LexedLine {
  const tokens: Token[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && isBlank(line[i]!)) i++;
    if (i >= n) break;
    if (line[i] === '#') return { tokens, codeEnd: i };
    const start = i;
    if (line[i] === '"' || line[i] === "'") {
      const q = line[i]!;
      let text = '';
      i++;
      while (i < n && line[i] !== q) {
        if (line[i] === '\\' && i + 1 < n) {
          text += line[i + 1];
          i += 2;
        } else text += line[i++];
      }
      if (i >= n) throw new CommandError('unterminated string', { start, end: n }, `a closing ${q}`, `close the string with ${q}`);
      i++;
      tokens.push({ text, start, end: i, quoted: true });
      continue;
    }
    let depth = 0;
    let eq = -1;
    while (i < n) {
      const c = line[i]!;
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (depth === 0 && (isBlank(c) || c === '#')) break;
      if (c === '=' && depth === 0 && eq < 0) eq = i;
      if ((c === '"' || c === "'") && eq >= 0) {
        // key="quoted value"
        const q = c;
        i++;
        while (i < n && line[i] !== q) i++;
        if (i >= n) throw new CommandError('unterminated string', { start, end: n }, `a closing ${q}`);
      }
      i++;
    }
    if (depth > 0) throw new CommandError('unbalanced parenthesis', { start, end: i }, "a closing ')'", 'close every ( with a )');
    const raw = line.slice(start, i);
    const tok: Token = { text: raw, start, end: i, quoted: false };
    if (eq > start && /^[A-Za-z_][\w.\-]*$/.test(line.slice(start, eq))) {
      tok.key = line.slice(start, eq);
      let v = line.slice(eq + 1, i);
      if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) v = v.slice(1, -1);
      tok.value = v;
      tok.valueStart = eq + 1;
    }
    tokens.push(tok);
  }
  return { tokens, codeEnd: n };
}
