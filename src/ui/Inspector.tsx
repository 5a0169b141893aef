/**
 * The inspector: a tab bar of panes (memory, DMA trace, the lesson's own)
 * and the active pane's lines, `rows` tall in all. A pane that cannot be
 * produced shows its error as dim lines (panes.ts never throws).
 */
import { Box, Text } from 'ink';
import type { Line } from '../inspect/view.ts';
import type { DocLine } from '../notebook/prose.ts';
import { StyledLine } from './StyledLine.tsx';

export function Inspector({ titles, active, lines, top, rows, width }: { titles: string[]; active: number; lines: Line[]; top: number; rows: number; width: number }) {
  const body = Math.max(0, rows - 1);
  const shown: DocLine[] = lines.slice(top, top + body);
  while (shown.length < body) shown.push([]);
  if (top + body < lines.length && body > 0) shown[body - 1] = [{ text: `↓ ${lines.length - top - body} more (])`, style: 'dim' }];
  if (top > 0 && body > 0) shown[0] = [{ text: `↑ ${top} more ([)`, style: 'dim' }];
  return (
    <Box flexDirection="column" width={width} height={rows}>
      <Text wrap="truncate-end">
        {titles.map((t, i) => (
          <Text key={i} inverse={i === active} dimColor={i !== active}>
            {` ${t} `}
          </Text>
        ))}
      </Text>
      {shown.map((l, i) => (
        <StyledLine key={i} line={l} width={width} />
      ))}
    </Box>
  );
}
