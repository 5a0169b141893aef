/** The one-line key hint at the bottom, made from the key table for the current mode. */
import { Text } from 'ink';
import { footerText, type Mode } from './keys.ts';

export function Footer({ mode, width, lesson = true }: { mode: Mode; width: number; lesson?: boolean }) {
  return (
    <Text dimColor wrap="truncate-end">
      {footerText(mode, width, lesson) || ' '}
    </Text>
  );
}
