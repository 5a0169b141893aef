/** `dma-lab lint`: the demo lesson is clean; each broken fixture is reported as FILE:LINE: message. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ROOT, cli } from '../cli/helpers.ts';
import { lintFile } from '../../src/notebook/lint.ts';

const fx = (n: string): string => join(ROOT, 'test', 'notebook', 'fixtures', n);
const lines = (f: string): [number, string][] => lintFile(fx(f)).map((d) => [d.line, d.message]);
const has = (f: string, line: number, re: RegExp): void => {
  const got = lines(f);
  assert.ok(
    got.some(([l, m]) => l === line && re.test(m)),
    `${f}: expected line ${line} ${re}; got\n${got.map(([l, m]) => `${l}: ${m}`).join('\n')}`,
  );
};

test('the demo lesson lints clean', () => {
  assert.equal(lintFile(join(ROOT, 'lessons', '00-tour.md')), []);
});

test('front matter: missing key, bad id, unknown key', () => {
  has('bad-front-matter.md', 1, /needs 'minutes'/);
  has('bad-front-matter.md', 2, /id 'Bad_Id' must be lower-case/);
  has('bad-front-matter.md', 6, /unknown key 'colour'/);
});

test('the machine must be a preset and the options its options', () => {
  has('bad-machine.md', 5, /unknown machine 'no-such-board'/);
  has('bad-option.md', 7, /no option 'kernel'/);
});

test('every cell command parses (without running): unknown command, bad number, missing argument, empty cell', () => {
  has('bad-commands.md', 13, /`frobnicate 1` does not parse: unknown command/);
  has('bad-commands.md', 14, /'0x4000zz' is not a valid number.*column 8/);
  has('bad-commands.md', 15, /'write' needs value/);
  has('bad-commands.md', 18, /no command/);
  assert.is(lines('bad-commands.md').length, 4, 'the comment line is not a command');
});

test('checks and panes must only look: write and fill mutate, undo rewrites history', () => {
  has('mutating-check.md', 8, /pane 'bad pane'.*'fill' mutates/);
  has('mutating-check.md', 16, /`write 0x40000000 1` changes the machine/);
  has('mutating-check.md', 17, /'undo' rewrites the undo history/);
  assert.is(lines('mutating-check.md').length, 3, 'the xp check is fine');
});

test('predict and goal blocks: answer not a choice, dangling predict, missing solution, malformed checks, YAML errors', () => {
  has('bad-blocks.md', 14, /answer 'c' is not one of the choices/);
  has('bad-blocks.md', 22, /no dma cell after it/);
  has('bad-blocks.md', 30, /needs 'solution'/);
  has('bad-blocks.md', 39, /exactly one of match, not_match or data/);
  has('bad-blocks.md', 40, /'min' must be a number/);
  has('bad-blocks.md', 41, /bad regular expression/);
  has('bad-blocks.md', 42, /since_step is true or false/);
  assert.ok(lines('bad-blocks.md').some(([l, m]) => l >= 46 && l <= 48 && /^goal: /.test(m)), 'the YAML error is reported inside its goal block');
});

test('dma-lab lint (the built binary): FILE:LINE: message lines, status 1; status 0 and ok for a clean file', () => {
  const bad = cli(['lint', 'test/notebook/fixtures/bad-commands.md']);
  assert.is(bad.status, 1);
  assert.match(bad.stdout, /^test\/notebook\/fixtures\/bad-commands\.md:13: cell command `frobnicate 1`/m);
  assert.match(bad.stderr, '4 problems');
  const ok = cli(['lint', 'lessons/00-tour.md']);
  assert.is(ok.status, 0);
  assert.is(ok.stdout, 'lessons/00-tour.md: ok\n');
  const none = cli(['lint', 'no/such.md']);
  assert.is(none.status, 1);
  assert.match(none.stderr, 'cannot read: ENOENT');
});

test.run();
