/** The step document (what the lesson pane shows), the window over it, and the inspector panes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.ts';
import { loadLessonFile } from '../../src/notebook/library.ts';
import { Notebook } from '../../src/notebook/engine.ts';
import { emptyLessonProgress } from '../../src/notebook/progress.ts';
import { docText, lineWidth } from '../../src/notebook/prose.ts';
import { stepDocument, windowTop } from '../../src/ui/document.ts';
import { commandPane, memoryPane } from '../../src/commands/panes.ts';
import { lineText } from '../../src/inspect/view.ts';
import { createSession } from '../../src/commands/index.ts';

const lesson = loadLessonFile(join(ROOT, 'lessons', '00-tour.md')).lesson;
const open = (step: number) => Notebook.forLesson(lesson, { progress: emptyLessonProgress(), step, prepare: false });

test('a step: its title, prose wrapped to the width, cells, goals; outputs appear under their cell once run', () => {
  const nb = open(2);
  const before = stepDocument(nb, { width: 60, color: true, selected: 's2c1' });
  const text = before.rows.map(docText);
  assert.is(text[0], '2. Writing memory');
  for (const r of before.rows) assert.ok(lineWidth(r) <= 60 || r.some((s) => s.style === 'cell' || s.style === 'codeblock'), `prose wider than 60: ${docText(r)}`);
  assert.ok(text.includes('▶[1] write 0x40000000 0xdeadbeef size=w'));
  assert.ok(text.some((t) => t.startsWith('◆ Goal: Put the word 0xcafef00d at 0x40002000')));
  nb.runCell('s2c1');
  const after = stepDocument(nb, { width: 60, color: true, selected: 's2c1' });
  const at = after.cells.get('s2c1')!;
  const out = after.rows.slice(at.out, at.end).map(docText);
  assert.ok(out.includes('     › xp/4xb 0x40000000'));
  assert.ok(out.includes('     0000000040000000: 0xef 0xbe 0xad 0xde'));
});

test('the window: a run cell shows from just above it; a selected cell comes into view with the least movement', () => {
  const nb = open(1);
  nb.runCell('s1c1');
  const doc = stepDocument(nb, { width: 80, color: true, selected: 's1c1' });
  const at = doc.cells.get('s1c1')!;
  assert.is(windowTop(doc, 10, { kind: 'cell', id: 's1c1' }, 0, 0), at.start - 1, 'output taller than the window: start at the cell');
  assert.is(windowTop(doc, 200, { kind: 'cell', id: 's1c1' }, 0, 0), 0, 'everything fits');
  const c3 = doc.cells.get('s1c3')!;
  const top = windowTop(doc, 10, { kind: 'select', id: 's1c3' }, 0, 0);
  assert.ok(top <= c3.start && c3.out < top + 10, 'the selected cell is in view');
  assert.is(windowTop(doc, 10, { kind: 'bottom' }, 0, 0), doc.rows.length - 10);
  assert.is(windowTop(doc, 10, undefined, 5, 0), 5);
});

test('memory pane: a hexdump around the focus, focus bytes marked; MMIO is not read; a hole says so', () => {
  const s = createSession();
  s.execute('write 0x40000010 0x41424344 size=w');
  const p = memoryPane(s, { addr: 0x40000010n, len: 4 }, { rows: 4, width: 80 });
  assert.is(p.title, 'memory 0x40000010 (mach-virt.ram)');
  assert.is(lineText(p.lines[0]!), '40000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|');
  assert.is(lineText(p.lines[1]!), '40000010  44 43 42 41 00 00 00 00  00 00 00 00 00 00 00 00  |DCBA............|');
  assert.equal(
    p.lines[1]!.filter((x) => x.style === 'key').map((x) => x.text),
    ['44', '43', '42', '41'],
  );
  const narrow = memoryPane(s, { addr: 0x40000010n, len: 4 }, { rows: 2, width: 50 });
  assert.is(lineText(narrow.lines[1]!), '40000010  44 43 42 41 00 00 00 00  |DCBA....|', 'eight bytes a row when 16 do not fit');
  assert.match(lineText(memoryPane(s, { addr: 0x09000000n, len: 4 }, { rows: 4, width: 80 }).lines[0]!), 'is MMIO: not read here');
  const hole = memoryPane(s, { addr: 0x0b000000n, len: 1 }, { rows: 4, width: 80 });
  assert.ok(hole.error);
  assert.match(lineText(hole.lines[0]!), 'hole');
});

test('a command pane that fails shows its error as dim lines and leaves no mark', () => {
  const s = createSession();
  const p = commandPane(s, 'events', 'smmu eventz');
  assert.ok(p.error);
  assert.ok(p.lines.every((l) => l.every((x) => x.style === 'dim')));
  assert.is(s.undoDepth, 0);
  const ok = commandPane(s, 'map', 'info mtree');
  assert.match(lineText(ok.lines[0]!), 'address-space: memory');
});

test.run();
