/**
 * The home screen's lesson catalog (src/notebook/catalog.ts, issue 15): the
 * same list a light parse gives (without the text and the prose tokens),
 * kept in a cache file under each file's mtime, size and inode and the
 * build; a changed file is parsed again, a corrupt cache is ignored, and
 * without a build id (running from source) nothing is written.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.ts';
import { catalogEntry, lessonCatalog } from '../../src/notebook/catalog.ts';
import { listLessons } from '../../src/notebook/library.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dma-lab-catalog-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const json = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

function lessonsCopy(name: string): string {
  const dir = join(tmp, name);
  cpSync(join(ROOT, 'lessons'), dir, { recursive: true });
  return dir;
}

test('the catalog is the light parse without text and prose tokens, from the parse and from the cache alike', async () => {
  const dir = lessonsCopy('same');
  const cacheFile = join(tmp, 'same.json');
  const light = listLessons(dir, { light: true }).map(catalogEntry);
  assert.ok(light.length >= 6);
  const first = await lessonCatalog({ dir, cacheFile, build: 'b1' });
  assert.equal(json(first), json(light));
  assert.ok(existsSync(cacheFile));
  const second = await lessonCatalog({ dir, cacheFile, build: 'b1' });
  assert.equal(json(second), json(light));
  for (const e of second) {
    assert.is(e.lesson.text, '');
    assert.ok(e.lesson.light);
    for (const s of e.lesson.steps) for (const b of s.blocks) if (b.kind === 'prose') assert.equal(b.tokens, []);
  }
  // what home shows comes through: titles, minutes, step, cell and goal counts
  const tour = second.find((e) => e.id === 'tour')!;
  const full = listLessons(dir).find((e) => e.id === 'tour')!;
  assert.is(tour.lesson.meta.title, full.lesson.meta.title);
  assert.is(tour.lesson.meta.minutes, full.lesson.meta.minutes);
  assert.equal(tour.lesson.steps.map((s) => [s.cells.map((c) => c.id), s.goals.map((g) => g.id)]), full.lesson.steps.map((s) => [s.cells.map((c) => c.id), s.goals.map((g) => g.id)]));
});

test('a cache hit is served from the cache file: a stale entry with the same stamp would be shown (so the stamp must change with the file)', async () => {
  const dir = lessonsCopy('hit');
  const cacheFile = join(tmp, 'hit.json');
  await lessonCatalog({ dir, cacheFile, build: 'b1' });
  const c = JSON.parse(readFileSync(cacheFile, 'utf8'));
  const f = join(dir, '00-tour.md');
  c.entries[f].entry.lesson.meta.title = 'FROM THE CACHE';
  writeFileSync(cacheFile, JSON.stringify(c));
  assert.is((await lessonCatalog({ dir, cacheFile, build: 'b1' })).find((e) => e.id === 'tour')!.lesson.meta.title, 'FROM THE CACHE');
  // another build does not read it
  assert.is.not((await lessonCatalog({ dir, cacheFile, build: 'b2' })).find((e) => e.id === 'tour')!.lesson.meta.title, 'FROM THE CACHE');
});

test('an edited lesson is parsed again (size or mtime differ); a removed one leaves the cache', async () => {
  const dir = lessonsCopy('edit');
  const cacheFile = join(tmp, 'edit.json');
  await lessonCatalog({ dir, cacheFile, build: 'b1' });
  const f = join(dir, '00-tour.md');
  const text = readFileSync(f, 'utf8');
  writeFileSync(f, text.replace(/^title: .*$/m, 'title: An edited tour'));
  assert.is((await lessonCatalog({ dir, cacheFile, build: 'b1' })).find((e) => e.id === 'tour')!.lesson.meta.title, 'An edited tour');
  // the same size as the original (the cache holds the edited one, so restore first): only the mtime moves
  writeFileSync(f, text);
  await lessonCatalog({ dir, cacheFile, build: 'b1' });
  const title = /^title: (.*)$/m.exec(text)![1]!;
  writeFileSync(f, text.replace(/^title: .*$/m, `title: ${'Z'.repeat(title.length)}`));
  utimesSync(f, new Date(), new Date(Date.now() + 5000));
  assert.is((await lessonCatalog({ dir, cacheFile, build: 'b1' })).find((e) => e.id === 'tour')!.lesson.meta.title, 'Z'.repeat(title.length));
  rmSync(join(dir, '01-virtio-legacy-smmu.md'));
  const after = await lessonCatalog({ dir, cacheFile, build: 'b1' });
  assert.not.ok(after.some((e) => e.id === 'virtio-legacy-smmu'));
  assert.not.ok(Object.keys(JSON.parse(readFileSync(cacheFile, 'utf8')).entries).some((k: string) => k.endsWith('01-virtio-legacy-smmu.md')));
});

test('a corrupt or foreign cache file is ignored and rewritten; no build id, no cache', async () => {
  const dir = lessonsCopy('corrupt');
  const cacheFile = join(tmp, 'corrupt.json');
  const light = json(listLessons(dir, { light: true }).map(catalogEntry));
  for (const junk of ['{not json', '[]', 'null', '{"format":1,"build":"b1","entries":7}']) {
    writeFileSync(cacheFile, junk);
    assert.equal(json(await lessonCatalog({ dir, cacheFile, build: 'b1' })), light, junk);
    assert.is(JSON.parse(readFileSync(cacheFile, 'utf8')).build, 'b1');
  }
  // a damaged entry (valid JSON, wrong shape) is parsed again, not drawn
  const c = JSON.parse(readFileSync(cacheFile, 'utf8'));
  const f = join(dir, '00-tour.md');
  c.entries[f].entry = { file: f, id: 'tour', diagnostics: [], lesson: { meta: null } };
  writeFileSync(cacheFile, JSON.stringify(c));
  assert.equal(json(await lessonCatalog({ dir, cacheFile, build: 'b1' })), light, 'damaged entry');
  const none = join(tmp, 'none.json');
  assert.equal(json(await lessonCatalog({ dir, cacheFile: none })), light);
  assert.not.ok(existsSync(none), 'from source (no build id) nothing is cached');
  // an unwritable cache place costs a parse, nothing else
  assert.equal(json(await lessonCatalog({ dir, cacheFile: join(dir, '00-tour.md', 'x.json'), build: 'b1' })), light);
});

test('a light parse and a full parse give every shipped lesson the same id (lesson ID chooses on the light one)', async () => {
  const { findLesson, findLessonFull } = await import('../../src/notebook/library.ts');
  const dir = join(ROOT, 'lessons');
  const full = listLessons(dir);
  assert.equal(listLessons(dir, { light: true }).map((e) => [e.file, e.id]), full.map((e) => [e.file, e.id]));
  for (const ref of [...full.map((e) => e.id), '00', '00-tour', '00-tour.md', '02', 'nope']) {
    const a = findLessonFull(ref, dir);
    const b = findLesson(ref, dir);
    assert.is(a?.file, b?.file, ref);
    assert.not.ok(a?.lesson.light, 'the entry found is parsed in full');
    if (a && b) assert.equal(json(a.lesson.steps.map((s) => s.goals)), json(b.lesson.steps.map((s) => s.goals)), ref);
  }
});

test.run();
