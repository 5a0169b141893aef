/**
 * Lesson minutes are measured (src/notebook/minutes.ts), not guessed: the
 * counting and rates on a lesson built for the purpose, and every lesson's
 * front matter equal to its measure (so a lesson that grows says so), and
 * `dma-lab lesson ID --minutes` through the built binary.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cli } from '../cli/helpers.ts';
import { loadLessonFile } from '../../src/notebook/library.ts';
import { parseLesson } from '../../src/notebook/format.ts';
import { measureLesson, RATES } from '../../src/notebook/minutes.ts';

const files = readdirSync(join(ROOT, 'lessons')).filter((f) => f.endsWith('.md') && f.toLowerCase() !== 'readme.md');

const lessonText = (prose: string, cells: string, goals = ''): string =>
  `---\nid: m\ntitle: M\nsummary: s\nmachine: arm-virt\nminutes: 5\n---\n\nIntro.\n\n## One\n\n${prose}\n\n${cells}\n${goals}`;

test('counts words, commands, output lines, goals; rates them; rounds up to 5', () => {
  const prose = Array.from({ length: 397 }, () => 'word').join(' ');
  const cell = '```dma\nprint 1\nprint 2\nprint 3\nprint 4\n```\n';
  const { lesson, diagnostics } = parseLesson(lessonText(prose, cell), 'm.md');
  assert.equal(diagnostics, []);
  const m = measureLesson(lesson);
  // 397 prose words + "Intro." + the two step titles (the cover's and "One").
  assert.equal([m.words, m.commands, m.outputLines, m.predictions, m.goals], [400, 4, 4, 0, 0]);
  const exact = 400 / RATES.wordsPerMinute + (4 * RATES.secondsPerCommand) / 60 + (4 * RATES.secondsPerOutputLine) / 60;
  assert.ok(Math.abs(m.exact - exact) < 1e-9);
  assert.is(m.minutes, 5);
  const goal = '```goal\ntitle: "Write one word"\nchecks:\n  - run: xp/1xb 0x40000000\n    match: "0x01"\n    say: the first byte of RAM is 1\nhints: [write it]\nsolution: write 0x40000000 1 size=b\n```\n';
  const two = parseLesson(lessonText(prose, cell, goal + '\n' + goal.replace('Write one word', 'Again')), 'm.md');
  assert.equal(two.diagnostics, []);
  const m2 = measureLesson(two.lesson);
  assert.is(m2.goals, 2);
  assert.is(m2.minutes, Math.ceil((m2.exact) / 5) * 5);
  assert.ok(m2.minutes >= 10, `two goals add ${2 * RATES.minutesPerGoal} minutes: ${m2.exact}`);
});

for (const f of files) {
  test(`lessons/${f}: the front matter's minutes are the measured ones`, () => {
    const e = loadLessonFile(join(ROOT, 'lessons', f));
    const m = measureLesson(e.lesson);
    assert.is(e.lesson.meta.minutes, m.minutes, `minutes: ${m.minutes} (dma-lab lesson ${e.id} --minutes shows the counts)`);
  });
}

test('dma-lab lesson ID --minutes prints the counts', () => {
  const r = cli(['lesson', 'tour', '--minutes']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tour: \d+ minutes by the lab's reading rates \(front matter says \d+\)/);
  assert.match(r.stdout, /words of prose @200\/min/);
  assert.match(r.stdout, /rates, not learner timings/);
});

test.run();
