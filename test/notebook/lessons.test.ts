/**
 * Every lesson in lessons/ lints clean and passes `dma-lab lesson ID --check`
 * with the built binary. Iterates the directory, so a new lesson is
 * covered the day it lands.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cli } from '../cli/helpers.ts';
import { loadLessonFile } from '../../src/notebook/library.ts';

const files = readdirSync(join(ROOT, 'lessons')).filter((f) => f.endsWith('.md') && f.toLowerCase() !== 'readme.md');

test('there is at least the demo lesson', () => {
  assert.ok(files.includes('00-tour.md'));
});

for (const f of files) {
  test(`lessons/${f}: lint is clean and lesson --check passes`, () => {
    const lint = cli(['lint', join('lessons', f)]);
    assert.is(lint.status, 0, lint.stdout + lint.stderr);
    const id = loadLessonFile(join(ROOT, 'lessons', f)).id;
    const r = cli(['lesson', id, '--check']);
    assert.is(r.status, 0, `lesson ${id} --check:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /\nok/);
  });
}

test.run();
