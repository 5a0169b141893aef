/** A cell being edited: its lines, the current one with a cursor. Takes the input line's place. */
import { Box, Text } from 'ink';
import { InputLine } from './InputLine.tsx';

export interface CellEdit {
  id: string;
  label: string;
  lines: string[];
  row: number;
  col: number;
}

export function CellEditor({ edit, width }: { edit: CellEdit; width: number }) {
  return (
    <Box flexDirection="column">
      {edit.lines.map((l, i) =>
        i === edit.row ? (
          <InputLine key={i} prompt={i === 0 ? `edit ${edit.label} › ` : ' '.repeat(edit.label.length + 8)} state={{ text: l, cursor: edit.col }} focused width={width} />
        ) : (
          <Text key={i} wrap="truncate-end">
            {(i === 0 ? `edit ${edit.label} › ` : ' '.repeat(edit.label.length + 8)) + l}
          </Text>
        ),
      )}
    </Box>
  );
}
