/** The progress store: atomic writes, a corrupt file moved aside, export/import, standing. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.ts';
import { ProgressStore, standing, standingText, validateProgress } from '../../src/notebook/progress.ts';
import { loadLessonFile } from '../../src/notebook/library.ts';

const dir = mkdtempSync(join(tmpdir(), 'dma-lab-progress-'));
const file = join(dir, 'state', 'progress.json');

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a missing file is an empty store; save creates the directory and writes valid JSON, no temp file left', () => {
  const s = ProgressStore.load(file);
  assert.equal(JSON.parse(JSON.stringify(s.data)), { version: 1, lessons: {} }); // the store maps have no prototype
  const p = s.ensure('tour');
  p.step = 2;
  p.furthest = 3;
  p.cellsRun.push('s1c1', 's1c1');
  p.predictions.s1c3 = { answer: 'zeros', correct: true };
  p.goalsPassed.push('s2g1');
  p.lastOpened = '2025-01-02T03:04:05.000Z';
  s.save();
  const j = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(validateProgress(j), []);
  assert.equal(j.lessons.tour.cellsRun, ['s1c1'], 'duplicates dropped');
  assert.equal(readdirSync(join(dir, 'state')), ['progress.json']);
  // the notebook keeps writing to the same record after a save
  p.step = 3;
  s.save();
  assert.is(JSON.parse(readFileSync(file, 'utf8')).lessons.tour.step, 3);
});

test('a write that fails leaves the previous file whole (temp file + rename)', () => {
  const f = join(dir, 'atomic', 'progress.json');
  const s = ProgressStore.load(f);
  s.ensure('tour').step = 1;
  s.save();
  const before = readFileSync(f, 'utf8');
  // make the temporary file impossible to write: a directory in its place
  mkdirSync(`${f}.tmp-${process.pid}`);
  s.ensure('tour').step = 2;
  s.save(); // no exception: one warning, progress kept in memory (issue 12 item 5)
  assert.ok(s.inMemoryOnly);
  assert.is(readFileSync(f, 'utf8'), before);
  rmSync(`${f}.tmp-${process.pid}`, { recursive: true });
  s.save();
  assert.is(JSON.parse(readFileSync(f, 'utf8')).lessons.tour.step, 2);
});

test('a corrupt file is moved aside to progress.json.corrupt-N with a warning, and a fresh store starts', () => {
  writeFileSync(file, '{ "version": 1, "lessons": {');
  const warnings: string[] = [];
  const s = ProgressStore.load(file, (m) => warnings.push(m));
  assert.equal(Object.keys(s.data.lessons), []);
  assert.ok(existsSync(`${file}.corrupt-1`));
  assert.not.ok(existsSync(file));
  assert.match(warnings[0]!, 'progress.json.corrupt-1');
  writeFileSync(file, JSON.stringify({ version: 1, lessons: { x: { step: -1 } } }));
  ProgressStore.load(file, (m) => warnings.push(m));
  assert.ok(existsSync(`${file}.corrupt-2`), 'a file that parses but does not validate is corrupt too');
  assert.match(warnings[1]!, 'lessons.x.step');
});

test('export and import round-trip; import merges by lesson and validates', () => {
  const a = ProgressStore.load(join(dir, 'a', 'progress.json'));
  const pa = a.ensure('tour');
  pa.step = 4;
  pa.goalsPassed.push('s2g1');
  a.ensure('other').step = 1;
  const out = join(dir, 'export.json');
  a.exportTo(out);
  const b = ProgressStore.load(join(dir, 'b', 'progress.json'));
  b.ensure('kept').step = 2;
  b.ensure('tour').step = 1;
  assert.equal(b.importFrom(out).sort(), ['other', 'tour']);
  assert.is(b.lesson('tour')!.step, 4);
  assert.equal(b.lesson('tour')!.goalsPassed, ['s2g1']);
  assert.is(b.lesson('kept')!.step, 2);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ version: 2, lessons: { t: { step: 'x', furthest: 0, cellsRun: [], goalsPassed: [], predictions: { c: { answer: 1 } } } } }));
  try {
    b.importFrom(bad);
    assert.unreachable('import should refuse');
  } catch (e) {
    const m = (e as Error).message;
    assert.match(m, 'version is 2');
    assert.match(m, 'lessons.t.step');
    assert.match(m, 'lessons.t.predictions.c');
  }
  assert.is(b.lesson('tour')!.step, 4, 'a refused import changes nothing');
});

test('standing: a step is done when reached with all its cells run and goals passed', () => {
  const l = loadLessonFile(join(ROOT, 'lessons', '00-tour.md')).lesson;
  assert.is(standingText(standing(l, undefined)), 'not started');
  const p = { step: 2, furthest: 2, cellsRun: ['s1c1', 's1c2', 's1c3', 's2c1'], predictions: { s1c3: { answer: 'zeros', correct: true } }, goalsPassed: [] };
  const s = standing(l, p);
  assert.is(s.stepsDone, 1, 'step 2 still has a cell and a goal');
  assert.is(s.steps, 5);
  assert.is(s.predictionsCorrect, 1);
  assert.is(standingText(s), '1/5 steps, goals 0/4');
});

test.run();
