/**
 * The lesson's window: `rows` display lines from `top`, padded to exactly
 * `rows` so the layout never moves. A scroll mark on the last column says
 * there is more above or below.
 */
import { Box } from 'ink';
import type { DocLine } from '../notebook/prose.ts';
import { StyledLine } from './StyledLine.tsx';

export function LessonPane({ lines, top, rows, width }: { lines: DocLine[]; top: number; rows: number; width: number }) {
  const shown = lines.slice(top, top + rows);
  while (shown.length < rows) shown.push([]);
  const more = top + rows < lines.length;
  const n = (k: number): string => `${k} line${k === 1 ? '' : 's'}`;
  if (more) shown[rows - 1] = [{ text: `↓ ${n(lines.length - top - rows + 1)} more (PgDn/Space)`, style: 'dim' }];
  if (top > 0) shown[0] = [{ text: `↑ ${n(top + 1)} above (PgUp)`, style: 'dim' }];
  return (
    <Box flexDirection="column" width={width} height={rows}>
      {shown.map((l, i) => (
        <StyledLine key={i} line={l} width={width} />
      ))}
    </Box>
  );
}
