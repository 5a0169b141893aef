/**
 * The `?` overlay: every key binding, from the key table, the current
 * mode's section first. It takes the body's place (same height, so the
 * layout does not move) and scrolls with ↑/↓; any other key closes it.
 */
import { Box, Text } from 'ink';
import { helpSections, type Mode } from './keys.ts';
import { StyledLine } from './StyledLine.tsx';
import type { DocLine } from '../notebook/prose.ts';

export function helpLines(mode: Mode): DocLine[] {
  const sections = helpSections();
  const order = [...sections.filter((s) => s.mode === mode), ...sections.filter((s) => s.mode !== mode)];
  const lines: DocLine[] = [];
  for (const s of order) {
    lines.push([{ text: s.title, style: 'heading' }]);
    const kw = Math.max(...s.rows.map((r) => r.keys.length));
    for (const r of s.rows) lines.push([{ text: '  ' }, { text: r.keys.padEnd(kw + 2), style: 'key' }, { text: r.help }]);
    lines.push([]);
  }
  return lines;
}

export function HelpOverlay({ mode, width, rows, scroll }: { mode: Mode; width: number; rows: number; scroll: number }) {
  const lines = helpLines(mode);
  const top = Math.max(0, Math.min(scroll, lines.length - (rows - 1)));
  const shown = lines.slice(top, top + rows - 1);
  while (shown.length < rows - 1) shown.push([]);
  return (
    <Box flexDirection="column" width={width} height={rows}>
      {shown.map((l, i) => (
        <StyledLine key={i} line={l} width={width} />
      ))}
      <Text dimColor wrap="truncate-end">
        {`keys ${top + 1}-${Math.min(lines.length, top + rows - 1)} of ${lines.length} · ↑↓ scroll · any other key closes`}
      </Text>
    </Box>
  );
}
