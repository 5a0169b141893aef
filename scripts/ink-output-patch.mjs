// Ink's Output (ink/build/output.js) rebuilds the whole screen for every
// frame: each line of text is tokenized into styled characters and each row
// turned back into a string, with caches that live for one frame only. On
// the lesson view that is ~75% of a frame's cost: a key typed, or a cell's
// output, redraws 100x30 cells. scripts/build.mjs applies this patch to the
// bundle (issue 15): the caches live across frames (bounded: dropped at
// 50,000 entries), the empty cell is one shared frozen object, and a row
// whose cells are the very same objects as the same row in the frame before
// gives the same string without recomputing it. The output is unchanged:
// test/ui/ink-output-patch.test.ts draws random frames through the original
// and the patched Output and compares them. Each replacement must match
// exactly once, or the patch is not applied (and the build says so).
const REPLACEMENTS = [
  [
    '    caches = new OutputCaches();',
    '    caches = __dmaLabSharedCaches();',
  ],
  [
    `                row.push({
                    type: 'char',
                    value: ' ',
                    fullWidth: false,
                    styles: [],
                });`,
    '                row.push(__dmaLabBlank);',
  ],
  [
    `        const generatedOutput = output
            .map(line => {`,
    `        const generatedOutput = output
            .map((line, __dmaLabY) => {`,
  ],
  [
    '            return styledCharsToString(lineWithoutEmptyItems).trimEnd();',
    '            return __dmaLabRow(__dmaLabY, lineWithoutEmptyItems);',
  ],
  [
    'export default class Output {',
    `// dma-lab (scripts/ink-output-patch.mjs): caches across frames, one shared empty cell, rows reused by identity.
let __dmaLabCaches = new OutputCaches();
function __dmaLabSharedCaches() {
    if (__dmaLabCaches.styledChars.size > 1000 || __dmaLabCaches.widths.size + __dmaLabCaches.blockWidths.size > 20000) {
        __dmaLabCaches = new OutputCaches();
        __dmaLabRows.length = 0;
    }
    return __dmaLabCaches;
}
const __dmaLabBlank = Object.freeze({ type: 'char', value: ' ', fullWidth: false, styles: Object.freeze([]) });
const __dmaLabRows = [];
function __dmaLabRow(y, items) {
    const prev = __dmaLabRows[y];
    if (prev && prev.items.length === items.length && prev.items.every((c, i) => c === items[i])) {
        return prev.text;
    }
    const text = styledCharsToString(items).trimEnd();
    __dmaLabRows[y] = { items, text };
    return text;
}
export default class Output {`,
  ],
];

/** The patched source, or undefined when Ink's output.js is not the text this patch was written for. */
export function patchInkOutput(text) {
  let out = text;
  for (const [from, to] of REPLACEMENTS) {
    if (out.split(from).length !== 2) return undefined;
    out = out.replace(from, () => to);
  }
  return out;
}
