// Regression (issue 12 items 4 and 10): progress export targets and lesson ids.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { MAX_IMPORT_BYTES, MAX_IMPORT_LESSONS, ProgressStore, validateProgress } from '../../src/notebook/progress.ts';

const dir = mkdtempSync(join(tmpdir(), 'dma-lab-prog-'));
const store = (): ProgressStore => ProgressStore.load(join(dir, 'state', 'progress.json'));

test('export refuses a symlink, a device, a directory and an existing file (unless --force); creates no directory', () => {
  const s = store();
  s.ensure('tour').step = 2;
  const target = join(dir, 'victim.txt');
  writeFileSync(target, 'keep me');
  symlinkSync(target, join(dir, 'link.json'));
  assert.throws(() => s.exportTo(join(dir, 'link.json')), /not a regular file \(a symlink\)/);
  assert.throws(() => s.exportTo('/dev/null'), /not a regular file/);
  assert.throws(() => s.exportTo(dir), /not a regular file \(a directory\)/);
  assert.throws(() => s.exportTo(target), /exists: --force replaces it/);
  assert.is(readFileSync(target, 'utf8'), 'keep me');
  assert.throws(() => s.exportTo(join(dir, 'no', 'such', 'dir', 'p.json')), /is not a directory/);
  assert.not.ok(existsSync(join(dir, 'no')));
  s.exportTo(target, true);
  assert.match(readFileSync(target, 'utf8'), '"tour"');
  s.exportTo(join(dir, 'fresh.json'));
  assert.ok(existsSync(join(dir, 'fresh.json')));
});

test('ids that are Object.prototype keys: refused on import, and the store never reaches the prototype', () => {
  assert.ok(validateProgress({ version: 1, lessons: JSON.parse('{"__proto__": {"step":0,"furthest":0,"cellsRun":[],"predictions":{},"goalsPassed":[]}}') }).some((e) => /not a lesson id/.test(e)));
  assert.ok(validateProgress({ version: 1, lessons: { Tour: { step: 0, furthest: 0, cellsRun: [], predictions: {}, goalsPassed: [] } } }).length > 0);
  const s = store();
  assert.is(s.lesson('valueOf'), undefined);
  assert.equal(s.reset('valueOf'), []);
  const c = s.ensure('constructor');
  assert.is(c.step, 0);
  c.step = 3;
  assert.is(s.lesson('constructor')!.step, 3);
  assert.equal(s.reset('constructor'), ['constructor']);
});

test('import is bounded (issue 12 item 11): at most 1 MiB and 1000 lessons, with a clear error', () => {
  const s = store();
  const big = join(dir, 'big.json');
  writeFileSync(big, ' '.repeat(MAX_IMPORT_BYTES + 1));
  assert.throws(() => s.importFrom(big), /at most 1 MiB/);
  const many = join(dir, 'many.json');
  const lessons: Record<string, unknown> = {};
  for (let i = 0; i <= MAX_IMPORT_LESSONS; i++) lessons[`l${i}`] = { step: 0, furthest: 0, cellsRun: [], predictions: {}, goalsPassed: [] };
  writeFileSync(many, JSON.stringify({ version: 1, lessons }));
  assert.throws(() => s.importFrom(many), /at most 1000/);
  assert.throws(() => s.importFrom('/dev/null'), /not a regular file/);
});

test.run();
