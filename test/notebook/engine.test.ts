/** The notebook engine on the demo lesson: cells, predictions, goals, hints, step snapshots, resume, export. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.ts';
import { loadLessonFile } from '../../src/notebook/library.ts';
import { Notebook, type Entry } from '../../src/notebook/engine.ts';
import { emptyLessonProgress } from '../../src/notebook/progress.ts';
import { exportNotebook } from '../../src/notebook/export.ts';
import { renderLines } from '../../src/commands/render.ts';

const lesson = loadLessonFile(join(ROOT, 'lessons', '00-tour.md')).lesson;
const text = (e: Entry): string => (e.outcome.ok && !e.outcome.empty ? renderLines(e.outcome.result.lines, false) : e.outcome.ok ? '' : e.outcome.error.message);
const mem = (nb: Notebook, addr: bigint, n = 8): string => Buffer.from(nb.session.machine.memory.read(addr, n)).toString('hex');
const open = (step = 0) => Notebook.forLesson(lesson, { progress: emptyLessonProgress(), step, prepare: false, now: () => new Date(0) });

test('a cell runs its commands in order; the output is kept under the cell and the cell is recorded', () => {
  const nb = open(2);
  const r = nb.runCell('s2c1')!;
  assert.is(r.entries.length, 3);
  assert.is(text(r.entries[1]!), '0000000040000000: 0xef 0xbe 0xad 0xde');
  assert.not.ok(r.failed);
  assert.equal(nb.progress.cellsRun, ['s2c1']);
  assert.equal(nb.focus, { addr: 0x40000000n, len: 4 });
});

test('a line marked # expect error may fail; an unexpected failure stops the cell', () => {
  const nb = open(3);
  const r = nb.runCell('s3c2')!;
  assert.ok(r.entries[0]!.outcome.ok, 'xp/1xw 0x0a000000 reads a virtio-mmio transport');
  assert.not.ok(r.entries[1]!.outcome.ok, 'xp 0x0b000000 is the hole');
  assert.not.ok(r.failed);
  nb.editCell('s3c1', ['print 1', 'bogus', 'print 3']);
  const bad = nb.runCell('s3c1')!;
  assert.ok(bad.failed);
  assert.is(bad.entries.length, 2, 'print 3 did not run');
  nb.editCell('s3c1', lesson.steps[3]!.cells[0]!.source);
  assert.not.ok(nb.edits.has('s3c1'), 'editing back to the lesson text drops the edit');
});

test('predictions: a number picks a choice; recorded once with whether it was right', () => {
  const nb = open(1);
  assert.ok(nb.pendingPrediction('s1c3'));
  assert.equal(nb.predict('s1c3', '2'), { answer: 'random bytes', correct: false });
  assert.is(nb.pendingPrediction('s1c3'), undefined);
  const r = nb.runCell('s1c3')!;
  assert.equal(r.prediction, { answer: 'random bytes', correct: false });
  const nb2 = open(3);
  assert.equal(nb2.predict('s3c1', '  0 '), { answer: '0', correct: true });
  assert.equal(nb2.predict('s3c1', '0x0'), { answer: '0x0', correct: true }, 'numbers compare as numbers');
  assert.equal(nb2.predict('s3c1', '1'), { answer: '1', correct: false });
});

test('goals are re-checked after every command; hints in order; the solution passes', () => {
  const nb = open(2);
  const g = lesson.steps[2]!.goals[0]!;
  nb.runCell('s2c1');
  assert.not.ok(nb.goals.get(g.id)!.passed);
  assert.equal(nb.hint(g.id), { text: g.hints[0]!, n: 1, of: 2 });
  assert.equal(nb.hint(g.id), { text: g.hints[1]!, n: 2, of: 2 });
  assert.is(nb.hint(g.id), undefined);
  nb.runFree('write 0x40002000 0xcafef00e size=w');
  assert.not.ok(nb.goals.get(g.id)!.passed);
  assert.is(nb.goals.get(g.id)!.result!.checks.filter((c) => c.pass).length, 0);
  nb.runFree(g.solution);
  assert.ok(nb.goals.get(g.id)!.passed);
  assert.equal(nb.progress.goalsPassed, [g.id]);
});

test('since_step goals compare with the step start: cells that change nothing net do not pass them', () => {
  const nb = open(3);
  nb.runFree('write 0x40000000 1');
  nb.goto(4);
  const g = lesson.steps[4]!.goals[0]!;
  for (const c of lesson.steps[4]!.cells) nb.runCell(c.id);
  assert.not.ok(nb.goals.get(g.id)!.passed, 'fill + undo and reset + undo leave the page count as it was');
  nb.runFree('write 0x40010000 1');
  assert.ok(nb.goals.get(g.id)!.passed);
});

test('reset step puts the machine back as it was when the step began: memory, undo history, $', () => {
  const nb = open(1);
  nb.runFree('write 0x40000000 0x1111');
  nb.runFree('print 5');
  nb.goto(2);
  const atStart = { m: mem(nb, 0x40000000n), undo: nb.session.undoDepth, last: nb.session.env.last };
  nb.runCell('s2c1');
  nb.runFree('fill 0x40000000 4096 0xff');
  nb.runFree('set ram=2G');
  assert.is.not(mem(nb, 0x40000000n), atStart.m);
  nb.resetStep();
  assert.is(mem(nb, 0x40000000n), atStart.m);
  assert.is(nb.session.undoDepth, atStart.undo);
  assert.is(nb.session.env.last, atStart.last);
  assert.is(nb.runs.has('s2c1'), false, "the step's outputs are cleared");
  assert.is(nb.free.get(2), undefined);
  assert.is(text(nb.undo()!), 'undid: write 0x40000000 0x1111', 'the undo history from before the step is intact');
});

test('resume: opening at a saved step rebuilds the machine from the earlier cells and solutions', () => {
  const p = emptyLessonProgress();
  p.step = 5;
  const nb = Notebook.forLesson(lesson, { progress: p, now: () => new Date(0) });
  assert.is(nb.step, 5);
  assert.equal(nb.prepared.failures, []);
  assert.ok(nb.prepared.cells > 0 && nb.prepared.solutions === 3);
  assert.is(mem(nb, 0x40002000n, 4), '0df0feca', "step 2's solution was applied");
  assert.ok(nb.runs.get('s1c1')!.replayed);
  assert.equal(p.cellsRun, [], 'replayed cells are not counted as run by the reader');
  assert.is(p.lastOpened, '1970-01-01T00:00:00.000Z');
});

test('export writes the prose, the cells with outputs, predictions, goals and the reader commands', () => {
  const nb = open(1);
  nb.predict('s1c3', 'zeros');
  nb.runCell('s1c1');
  nb.runCell('s1c3');
  nb.runFree('print 0x10 + 1');
  const dir = mkdtempSync(join(tmpdir(), 'dma-lab-export-'));
  try {
    const f = exportNotebook(nb, '0.0.0', dir);
    assert.is(f, join(dir, 'lesson-tour-notebook.md'));
    const md = readFileSync(f, 'utf8');
    assert.match(md, '# A tour of the lab: memory, commands and the notebook: notebook');
    assert.match(md, '## The memory map');
    assert.match(md, 'A physical address means nothing until you know what answers it.');
    assert.match(md, '```dma\ninfo mtree\n```\n');
    assert.match(md, '(arm-virt) info mtree\naddress-space: memory');
    assert.match(md, 'You predicted: zeros (right)');
    assert.match(md, '### Your commands');
    assert.match(md, '(arm-virt) print 0x10 + 1\n$ = 0x11 (17)');
    assert.match(md, '_(not run)_');
    assert.match(md, '**Goal: Put the word 0xcafef00d at 0x40002000** — not passed yet');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('free exploration: a machine without a lesson takes commands', () => {
  const nb = Notebook.forMachine('arm-virt');
  assert.is(nb.stepCount, 0);
  assert.is(text(nb.runFree('print 2 + 2')!), '$ = 0x4 (4)');
  assert.is(nb.free.get(0)!.length, 1);
});

test.run();
