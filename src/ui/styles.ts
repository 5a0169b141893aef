/**
 * The one place where what a span IS becomes how it LOOKS in the terminal
 * UI. Command output carries inspect/view.ts styles, lesson prose carries
 * notebook/prose.ts styles; both map here to Ink <Text> props. Without
 * colour (NO_COLOR, --no-color) only bold, dim and inverse are used, so the
 * UI stays readable in monochrome.
 */
import type { TextProps } from 'ink';
import type { DocStyle } from '../notebook/prose.ts';

type Props = Pick<TextProps, 'color' | 'bold' | 'dimColor' | 'italic' | 'underline' | 'inverse'>;

const COLOR: Record<DocStyle, Props> = {
  head: { bold: true },
  addr: { color: 'cyan' },
  num: { color: 'yellow' },
  name: { color: 'green' },
  dim: { dimColor: true },
  ok: { color: 'green' },
  bad: { color: 'red' },
  warn: { color: 'yellow' },
  key: { color: 'magenta', bold: true },
  heading: { color: 'cyan', bold: true },
  strong: { bold: true },
  em: { italic: true },
  code: { color: 'yellow' },
  link: { color: 'blue', underline: true },
  quote: { dimColor: true },
  codeblock: { color: 'cyan' },
  select: { inverse: true },
  cell: { bold: true },
  prompt: { color: 'green', bold: true },
};

const MONO: Record<DocStyle, Props> = {
  head: { bold: true },
  addr: {},
  num: {},
  name: {},
  dim: { dimColor: true },
  ok: { bold: true },
  bad: { bold: true },
  warn: { bold: true },
  key: { bold: true },
  heading: { bold: true },
  strong: { bold: true },
  em: {},
  code: {},
  link: {},
  quote: { dimColor: true },
  codeblock: {},
  select: { inverse: true },
  cell: { bold: true },
  prompt: { bold: true },
};

export function styleProps(style: DocStyle | undefined, color: boolean): Props {
  if (!style) return {};
  return (color ? COLOR : MONO)[style];
}
