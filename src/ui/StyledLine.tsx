/**
 * One line of styled spans as one row of text, cut to `width` so a long
 * line never wraps (wrapping would change the layout's height; STYLE.md,
 * "render only what fits").
 */
import { Text } from 'ink';
import type { DocLine } from '../notebook/prose.ts';
import { truncateLine } from '../notebook/prose.ts';
import { visible } from '../inspect/view.ts';
import { styleProps } from './styles.ts';
import { useUi } from './context.ts';

export function StyledLine({ line, width }: { line: DocLine; width: number }) {
  const { color } = useUi();
  // Lesson prose and command output may carry terminal control bytes: shown, never sent.
  const cut = truncateLine(line.map((s) => ({ ...s, text: visible(s.text) })), width);
  return (
    <Text wrap="truncate-end">
      {cut.length === 0 ? ' ' : cut.map((s, i) => (s.style ? <Text key={i} {...styleProps(s.style, color)}>{s.text}</Text> : s.text))}
    </Text>
  );
}
