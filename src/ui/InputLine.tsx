/**
 * The input line: a prompt and the text with a block cursor (inverse, so
 * it shows without colour too). Unfocused, it says how to focus it.
 */
import { Text } from 'ink';
import type { LineState } from './hooks/line-edit.ts';
import { useUi } from './context.ts';
import { styleProps } from './styles.ts';

export function InputLine({ prompt, state, focused, placeholder, width }: { prompt: string; state: LineState; focused: boolean; placeholder?: string; width: number }) {
  const { color } = useUi();
  const room = Math.max(1, width - prompt.length - 1);
  // keep the cursor in view on a line longer than the screen
  const from = Math.max(0, state.cursor - room + 1);
  const text = state.text.slice(from, from + room);
  const cur = state.cursor - from;
  return (
    <Text wrap="truncate-end">
      <Text {...styleProps('prompt', color)}>{prompt}</Text>
      {focused ? (
        <>
          {text.slice(0, cur)}
          <Text inverse>{text[cur] ?? ' '}</Text>
          {text.slice(cur + 1)}
        </>
      ) : (
        <Text dimColor>{state.text ? text : (placeholder ?? '')}</Text>
      )}
    </Text>
  );
}
