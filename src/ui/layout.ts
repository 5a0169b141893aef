/**
 * Screen layout, as numbers. The frame is always rows-1 lines tall: Ink
 * clears and redraws the whole terminal on every frame once its output
 * reaches the terminal's height, which flickers; one line short it updates
 * in place. Everything below is sized from that budget, so the layout is
 * stable whatever the lesson shows.
 *
 *   header   1       lesson title, step n/N, machine
 *   body     rest    lesson | inspector side by side (wide, from WIDE_AT columns), or lesson
 *                    over inspector; `z` hides the inspector, `<` `>` move the split
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

/**
 * The inspector goes beside the lesson only from this many columns: below
 * it the lesson column would be too narrow for event words, hexdumps and
 * `info iommu` lines (at 120 columns it was ~59), so the panes go below.
 */
export const WIDE_AT = 140;
/** How much one press of the resize keys moves the split: columns beside, rows below. */
export const RESIZE_COLS = 8;
export const RESIZE_ROWS = 2;

export function computeLayout(columns: number, rows: number, o: { inputRows?: number; inspector?: boolean; grow?: number } = {}): Layout {
  const inputRows = Math.max(1, o.inputRows ?? 1);
  const frame = Math.max(1, rows - 1);
  const bodyRows = Math.max(1, frame - 3 - inputRows);
  const tooSmall = columns < 40 || bodyRows < 6;
  const withInspector = o.inspector !== false;
  const wide = withInspector && columns >= WIDE_AT;
  const grow = o.grow ?? 0;
  if (!withInspector) return { columns, rows, wide: false, bodyRows, lesson: { width: columns, rows: bodyRows }, inspector: { width: 0, rows: 0 }, inputRows, tooSmall };
  if (wide) {
    // the lesson keeps at least 60 columns, the inspector at least 40
    const iw = Math.max(40, Math.min(columns - 61, Math.max(60, Math.min(86, Math.floor(columns * 0.42))) + grow * RESIZE_COLS));
    return { columns, rows, wide, bodyRows, lesson: { width: columns - iw - 1, rows: bodyRows }, inspector: { width: iw, rows: bodyRows }, inputRows, tooSmall };
  }
  // the lesson keeps at least 6 rows, the inspector at least 3 (its tab bar and two lines)
  const ih = Math.max(3, Math.min(bodyRows - 6, Math.max(4, Math.min(12, Math.floor(bodyRows * 0.4))) + grow * RESIZE_ROWS));
  return { columns, rows, wide, bodyRows, lesson: { width: columns, rows: bodyRows - ih }, inspector: { width: columns, rows: ih }, inputRows, tooSmall };
}
