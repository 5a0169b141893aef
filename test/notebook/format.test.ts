/** The lesson format: the demo lesson parsed into steps, cells, predictions, goals, with file lines. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.ts';
import { parseLesson, cellCommands, allCells, allGoals } from '../../src/notebook/format.ts';

const file = join(ROOT, 'lessons', '00-tour.md');
const text = readFileSync(file, 'utf8');
const lines = text.split('\n');
/** 1-based line of the first line equal to `s` at or after line `from` (computed from the file, not the parser). */
const lineOf = (s: string, from = 1): number => {
  const i = lines.findIndex((l, k) => k >= from - 1 && l === s);
  if (i < 0) throw new Error(`no line ${s}`);
  return i + 1;
};

const { lesson, diagnostics } = parseLesson(text, file);

test('the demo lesson parses without problems', () => {
  assert.equal(diagnostics, []);
});

test('front matter: id, machine, options as written, minutes, panes', () => {
  const m = lesson.meta;
  assert.is(m.id, 'tour');
  assert.is(m.machine, 'arm-virt');
  assert.equal(m.options, { ram: '1G' });
  assert.is(m.minutes, 40);
  assert.equal(m.prerequisites, []);
  assert.equal(
    m.panes.map((p) => [p.title, p.run]),
    [
      ['memory map', 'info mtree'],
      ['options', 'show'],
    ],
  );
  assert.is(m.panes[0]!.line, lineOf('  - {title: memory map, run: info mtree}'));
});

test('steps: the introduction, then one per ## heading, with their lines', () => {
  assert.is(lesson.steps.length, 6);
  assert.is(lesson.steps[0]!.index, 0);
  assert.equal(
    lesson.steps.slice(1).map((s) => s.title),
    ['The memory map', 'Writing memory', 'Numbers, expressions and errors', 'Undo, reset and the DMA trace', 'Machine options'],
  );
  assert.is(lesson.steps[1]!.line, lineOf('## The memory map'));
  assert.is(lesson.steps[5]!.line, lineOf('## Machine options'));
  assert.is(lesson.steps[0]!.cells.length, 0);
});

test('cells: ids per step, source, line of the fence, commands with their lines', () => {
  const cells = allCells(lesson);
  assert.is(cells.length, 12);
  const s1 = lesson.steps[1]!.cells;
  assert.equal(
    s1.map((c) => c.id),
    ['s1c1', 's1c2', 's1c3'],
  );
  assert.equal(s1[0]!.source, ['info mtree']);
  assert.is(s1[0]!.line, lineOf('info mtree') - 1);
  const w = lesson.steps[2]!.cells[0]!;
  assert.equal(
    cellCommands(w).map((c) => [c.text, c.line]),
    [
      ['write 0x40000000 0xdeadbeef size=w', lineOf('write 0x40000000 0xdeadbeef size=w')],
      ['xp/4xb 0x40000000', lineOf('xp/4xb 0x40000000')],
      ['xp/1xw 0x40000000', lineOf('xp/1xw 0x40000000')],
    ],
  );
  const hole = cells.find((c) => c.source.some((l) => l.startsWith('xp 0x0b000000')))!;
  const cmds = cellCommands(hole);
  assert.ok(cmds.find((c) => c.text.startsWith('xp 0x0b000000'))!.expectError, '# expect error marks a line meant to fail');
  assert.not.ok(cmds.find((c) => c.text.startsWith('xp/1xw 0x0a000000'))!.expectError, 'the line before it is not');
});

test('predictions attach to the next dma cell; with and without choices', () => {
  const p = lesson.steps[1]!.cells[2]!.predict!;
  assert.equal(p.choices, ['zeros', 'random bytes', 'the kernel image']);
  assert.is(p.answer, 'zeros');
  assert.is(p.line, lineOf('```predict'));
  assert.is(lesson.steps[1]!.cells[0]!.predict, undefined);
  const free = lesson.steps[3]!.cells[0]!.predict!;
  assert.is(free.choices, undefined);
  assert.is(free.answer, '0');
});

test('goals: title, checks of every kind, hints, solution, line', () => {
  const goals = allGoals(lesson);
  assert.equal(
    goals.map((g) => g.id),
    ['s2g1', 's3g1', 's4g1', 's5g1'],
  );
  const g = goals[0]!;
  assert.is(g.title, 'Put the word 0xcafef00d at 0x40002000');
  assert.is(g.line, lineOf('```goal'));
  assert.is(g.solution, 'write 0x40002000 0xcafef00d size=w');
  assert.is(g.hints.length, 2);
  assert.is(g.checks[0]!.match, '0xcafef00d');
  assert.is(g.checks[1]!.data, 'bytes');
  assert.is(g.checks[1]!.equals!.raw, '0df0feca');
  assert.is(g.checks[1]!.line, lineOf('  - {run: "xp/4xb 0x40002000", data: bytes, equals: 0df0feca, say: "its four bytes in memory are 0d f0 fe ca (little-endian)"}'));
  assert.is(g.checks[1]!.say, 'its four bytes in memory are 0d f0 fe ca (little-endian)');
  const since = goals[2]!.checks;
  assert.is(since[0]!.since_step, true);
  assert.is(since[0]!.match, '/\\d+ pages? touched/');
  assert.is(since[1]!.max!.raw, '0');
  assert.ok(since[2]!.not_match);
});

test('option values keep their text: 4.10 is not the number 4.1; 64-bit equals keep every bit', () => {
  const src = '---\nid: x\ntitle: t\nsummary: s\nmachine: arm-virt\noptions: {kernel: 4.10}\nminutes: 1\n---\n## s\n```goal\ntitle: g\nchecks:\n  - {run: print 1, data: value, equals: 0xffffffffffffffff}\nsolution: print 1\n```\n';
  const { lesson: l, diagnostics: d } = parseLesson(src, 'x.md');
  assert.equal(d, []);
  assert.equal(l.meta.options, { kernel: '4.10' });
  assert.is(l.steps[1]!.goals[0]!.checks[0]!.equals!.raw, '0xffffffffffffffff');
});

test('a file without front matter or steps is reported at line 1', () => {
  const { diagnostics: d } = parseLesson('# just prose\n', 'x.md');
  assert.ok(d.some((x) => x.line === 1 && /front matter/.test(x.message)));
  assert.ok(d.some((x) => /at least one step/.test(x.message)));
});


test('a light parse (the home screen) has the same steps, cell ids and goal ids as a full one, without reading goal YAML', async () => {
  const { readFileSync, readdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { parseLesson: parse } = await import('../../src/notebook/format.ts');
  const dir = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'lessons');
  for (const f of readdirSync(dir).filter((x) => /^\d+-.*\.md$/.test(x))) {
    const text = readFileSync(join(dir, f), 'utf8');
    const full = parse(text, f).lesson;
    const light = parse(text, f, { light: true }).lesson;
    assert.ok(light.light && !full.light);
    assert.equal(light.meta, full.meta, f);
    assert.equal(light.steps.map((s) => [s.title, s.cells.map((c) => c.id), s.goals.map((g) => g.id)]), full.steps.map((s) => [s.title, s.cells.map((c) => c.id), s.goals.map((g) => g.id)]), f);
    assert.ok(light.steps.flatMap((s) => s.goals).every((g) => g.checks.length === 0), 'goal blocks are not read');
  }
});

test.run();
