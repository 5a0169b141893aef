/**
 * Screen layout, as numbers. The frame is always rows-1 lines tall: Ink
 * clears and redraws the whole terminal on every frame once its output
 * reaches the terminal's height, which flickers; one line short it updates
 * in place. Everything below is sized from that budget, so the layout is
 * stable whatever the lesson shows.
 *
 *   header   1       lesson title, step n/N, machine
 *   body     rest    lesson | inspector side by side (wide), or lesson over inspector (narrow)
 *   status   1       messages: goal passed, hint, where the export went
 *   input    1+      the input line (a cell being edited takes its lines)
 *   footer   1       keys, from the key table
 */
export interface Layout {
  columns: number;
  rows: number;
  wide: boolean;
  bodyRows: number;
  lesson: { width: number; rows: number };
  inspector: { width: number; rows: number };
  inputRows: number;
  tooSmall: boolean;
}

export const WIDE_AT = 120;

export function computeLayout(columns: number, rows: number, o: { inputRows?: number; inspector?: boolean } = {}): Layout {
  const inputRows = Math.max(1, o.inputRows ?? 1);
  const frame = Math.max(1, rows - 1);
  const bodyRows = Math.max(1, frame - 3 - inputRows);
  const tooSmall = columns < 40 || bodyRows < 6;
  const withInspector = o.inspector !== false;
  const wide = withInspector && columns >= WIDE_AT;
  if (!withInspector) return { columns, rows, wide: false, bodyRows, lesson: { width: columns, rows: bodyRows }, inspector: { width: 0, rows: 0 }, inputRows, tooSmall };
  if (wide) {
    const iw = Math.max(60, Math.min(86, Math.floor(columns * 0.42)));
    return { columns, rows, wide, bodyRows, lesson: { width: columns - iw - 1, rows: bodyRows }, inspector: { width: iw, rows: bodyRows }, inputRows, tooSmall };
  }
  const ih = Math.max(4, Math.min(12, Math.floor(bodyRows * 0.4)));
  return { columns, rows, wide, bodyRows, lesson: { width: columns, rows: bodyRows - ih }, inspector: { width: columns, rows: ih }, inputRows, tooSmall };
}
