/** The notebook's subcommands through the built binary: lessons, lesson (text), --check failures, progress. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, cli } from '../cli/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'dma-lab-nbcli-'));
const env = { DMA_LAB_STATE_DIR: join(dir, 'state') };
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('lessons lists id, title, minutes and progress', () => {
  const r = cli(['lessons'], { env });
  assert.is(r.status, 0);
  assert.match(r.stdout, /^id\s+title\s+minutes\s+progress$/m);
  assert.match(r.stdout, /^tour\s+A tour of the lab.*\s40\s+not started$/m);
  const j = JSON.parse(cli(['lessons', '--json'], { env }).stdout);
  assert.is(j.find((x: { id: string }) => x.id === 'tour').minutes, 40);
});

test('lesson ID without a terminal prints the lesson with every cell output, status 0', () => {
  const r = cli(['lesson', 'tour'], { env });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, '## 1/5 The memory map');
  assert.match(r.stdout, '(arm-virt) info mtree\naddress-space: memory');
  assert.match(r.stdout, '(arm-virt) xp/4xb 0x40000000\n0000000040000000: 0xef 0xbe 0xad 0xde');
  assert.match(r.stdout, 'Predict: RAM at 0x40000000 has never been written.');
  assert.match(r.stdout, 'Goal: Put the word 0xcafef00d at 0x40002000');
  assert.not.match(r.stdout, '\x1b[');
  assert.is(cli(['lesson', '00'], { env }).status, 0, 'the number finds it too');
});

test('lesson with an unknown id: the ids that exist, status 1', () => {
  const r = cli(['lesson', 'nope'], { env });
  assert.is(r.status, 1);
  assert.match(r.stderr, "no lesson 'nope' (lessons: tour");
});

test('lesson --check reports a goal whose solution does not satisfy it, as FILE:LINE, status 1', () => {
  const src = readFileSync(join(ROOT, 'lessons', '00-tour.md'), 'utf8').replace('solution: write 0x40002000 0xcafef00d size=w', 'solution: write 0x40002000 0xcafef00e size=w');
  const lessons = join(dir, 'lessons');
  mkdirSync(lessons, { recursive: true });
  writeFileSync(join(lessons, '00-tour.md'), src);
  const r = cli(['lesson', 'tour', '--check'], { env: { ...env, DMA_LAB_LESSONS_DIR: lessons } });
  assert.is(r.status, 1);
  const line = src.split('\n').findIndex((l) => l.includes('{run: "xp/1xw 0x40002000", match: "0xcafef00d"')) + 1;
  assert.match(r.stderr, `FAIL ${join(lessons, '00-tour.md').replace(process.cwd() + '/', '')}:${line}: goal 'Put the word 0xcafef00d at 0x40002000': check`);
  assert.match(r.stderr, /\d+ failures?/);
});

test('progress: shown after lessons are opened; reset asks for --yes off a terminal; export and import', () => {
  const state = join(dir, 'state');
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, 'progress.json'), JSON.stringify({ version: 1, lessons: { tour: { step: 2, furthest: 2, cellsRun: ['s1c1'], predictions: { s1c3: { answer: 'zeros', correct: true } }, goalsPassed: [], lastOpened: '2025-01-02T03:04:05.000Z' } } }));
  const p = cli(['progress'], { env });
  assert.is(p.status, 0);
  assert.match(p.stdout, 'at step 2/5 "Writing memory"');
  assert.match(p.stdout, 'predictions 1 (1 right)');
  assert.match(p.stdout, 'last opened 2025-01-02 03:04 UTC');
  const out = join(dir, 'exported.json');
  assert.is(cli(['progress', 'export', out], { env }).status, 0);
  const refused = cli(['progress', 'reset', 'tour'], { env });
  assert.is(refused.status, 2);
  assert.match(refused.stderr, 'without --yes');
  assert.ok(existsSync(join(state, 'progress.json')));
  const reset = cli(['progress', 'reset', '--all', '--yes'], { env });
  assert.is(reset.status, 0);
  assert.match(reset.stdout, 'forgot tour');
  assert.match(cli(['progress'], { env }).stdout, 'no progress yet');
  const imp = cli(['progress', 'import', out], { env });
  assert.is(imp.status, 0);
  assert.match(cli(['progress'], { env }).stdout, 'at step 2/5');
  writeFileSync(join(dir, 'junk.json'), '{"version":1,"lessons":{"x":{"step":"two"}}}');
  const bad = cli(['progress', 'import', join(dir, 'junk.json')], { env });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, 'lessons.x.step must be a step number');
});

test('a corrupt progress file: a warning, moved aside, the command still works', () => {
  const state = join(dir, 'state2');
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, 'progress.json'), 'not json');
  const r = cli(['lessons'], { env: { DMA_LAB_STATE_DIR: state } });
  assert.is(r.status, 0);
  assert.match(r.stderr, 'warning: progress file');
  assert.ok(readdirSync(state).includes('progress.json.corrupt-1'));
});

/** Static imports reachable from a built file (dynamic import() does not count: that is lazy loading). */
function staticClosure(start: string): Set<string> {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/(?:^|[;}\s])import\s*(?:[\w*{}\s,$]+from\s*)?["'](\.[^"']+)["']/g)) todo.push(join(f, '..', m[1]!));
  }
  return seen;
}

test('lessons, lint, progress and lesson --check load no Ink: their chunk reaches no UI code statically', () => {
  const chunks = join(ROOT, 'dist', 'chunks');
  const files = readdirSync(chunks).filter((f) => f.endsWith('.js')).map((f) => join(chunks, f));
  const ink = files.filter((f) => readFileSync(f, 'utf8').includes('exitOnCtrlC'));
  assert.ok(ink.length > 0, 'the UI chunk exists');
  // the notebook CLI chunk: the one main imports for `lessons`, holding the lint code
  const nbCli = files.filter((f) => readFileSync(f, 'utf8').includes('needs one or more lesson files'));
  assert.is(nbCli.length, 1);
  for (const start of [join(ROOT, 'dist', 'cli.js'), nbCli[0]!]) {
    const reach = staticClosure(start);
    for (const f of ink) assert.not.ok(reach.has(f), `${start} statically imports the UI chunk ${f}`);
  }
});

test.run();
