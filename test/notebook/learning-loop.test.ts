/** Issue 13, engine: predictions that hide what answers them, per-answer feedback, typed and numeric answers, confidence. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.ts';
import { parseLesson } from '../../src/notebook/format.ts';
import { loadLessonFile } from '../../src/notebook/library.ts';
import { Notebook, sameAnswer } from '../../src/notebook/engine.ts';
import { emptyLessonProgress, MAX_WORK_ACTIONS, MAX_WORK_LINE, howPassed, standing, standingText, validateProgress } from '../../src/notebook/progress.ts';
import { stepDocument } from '../../src/ui/document.ts';
import { docText } from '../../src/notebook/prose.ts';
import { lintLesson } from '../../src/notebook/lint.ts';
import { checkLesson } from '../../src/notebook/headless.ts';
import { readFileSync } from 'node:fs';

const FIX = join(ROOT, 'test', 'notebook', 'fixtures', 'learning-loop.md');
const lesson = loadLessonFile(FIX).lesson;
const open = (step = 1) => Notebook.forLesson(lesson, { progress: emptyLessonProgress(), step, prepare: false, now: () => new Date(0) });
const screen = (nb: Notebook): string => stepDocument(nb, { width: 100, color: false }).rows.map(docText).join('\n');

test('the fixture parses without problems', () => {
  assert.equal(loadLessonFile(FIX).diagnostics, []);
  const p = lesson.steps[1]!.cells[0]!.predict!;
  assert.equal(p.feedback, [{ answer: 'random bytes', text: "The lab's RAM is deterministic; nothing random is in it." }]);
  assert.ok(p.confidence);
  assert.equal(lesson.steps[2]!.cells[0]!.predict!.accept, ['4128']);
});

test('until the prediction is made, the prose after it and the cell comments are hidden', () => {
  const nb = open(1);
  const before = screen(nb);
  assert.match(before, 'Before the prediction.');
  assert.match(before, 'xp/1xw 0x40000000');
  assert.not.match(before, 'THE-ANSWER-PROSE');
  assert.not.match(before, 'the answer: zeros', 'the comment is hidden');
  assert.match(before, 'appears once you have made your prediction');
  assert.is(nb.revealed().hidden, 1);
  const r = nb.predict('s1c1', '2', 1)!;
  assert.equal(r, { answer: 'random bytes', correct: false, confidence: 1, feedback: "The lab's RAM is deterministic; nothing random is in it." });
  nb.runCell('s1c1');
  const after = screen(nb);
  assert.match(after, 'THE-ANSWER-PROSE');
  assert.match(after, '# the answer: zeros');
  assert.match(after, 'nothing random is in it');
  assert.match(after, 'you were guessing');
  assert.match(after, 'RAM reads as zeros until written.');
  assert.equal(nb.progress.predictions.s1c1, { answer: 'random bytes', correct: false, confidence: 1 });
  assert.equal(validateProgress({ version: 1, lessons: { x: nb.progress } }), []);
});

test('a wrong answer without feedback of its own gets the explanation only', () => {
  const nb = open(1);
  assert.equal(nb.predict('s1c1', '0xdeadbeef'), { answer: '0xdeadbeef', correct: false });
});

test('typed answers: numbers compare as values through the expression parser; accept lists more right answers', () => {
  const nb = open(2);
  assert.equal(nb.predict('s2c1', '0x1020'), { answer: '0x1020', correct: true });
  assert.equal(nb.predict('s2c1', '0x1000 + 32'), { answer: '0x1000 + 32', correct: true });
  assert.equal(nb.predict('s2c1', '4128'), { answer: '4128', correct: true });
  assert.equal(nb.predict('s2c1', '0x0120'), { answer: '0x0120', correct: false, feedback: '0x1000 is 4096, not 256.' });
  assert.ok(sameAnswer('0xFFFFFFFFFFFFFFFF + 1', '0'), 'u64 arithmetic wraps');
  assert.ok(sameAnswer(' Avail.IDX ', 'avail.idx'));
  assert.not.ok(sameAnswer('4K', '4097'));
});

test('lint: feedback must name a wrong choice; prose may not sit between a predict block and its cell', () => {
  const bad = `---\nid: x\ntitle: x\nsummary: x\nmachine: arm-virt\nminutes: 1\n---\n\n## s\n\n\`\`\`predict\nquestion: q\nchoices: [a, b]\nanswer: a\nfeedback: {a: right?, c: no such}\nconfidence: maybe\nexplain: e\n\`\`\`\n\nThis paragraph answers it.\n\n\`\`\`dma\nprint 1\n\`\`\`\n`;
  const msgs = parseLesson(bad, 'x.md').diagnostics.map((d) => `${d.line}: ${d.message}`);
  assert.ok(msgs.some((m) => m.startsWith('15:') && m.includes("feedback is for wrong answers; 'a' is right")), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.startsWith('15:') && m.includes("feedback for 'c', which is not one of the choices")), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.startsWith('16:') && m.includes('confidence is true or false')), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.startsWith('20:') && m.includes('prose between a predict block and its dma cell')), msgs.join('\n'));
});

test('progress validation refuses a confidence outside 1-3', () => {
  const p = { ...emptyLessonProgress(), predictions: { s1c1: { answer: 'a', correct: true, confidence: 7 } } };
  assert.equal(validateProgress({ version: 1, lessons: { x: p } }), ['lessons.x.predictions.s1c1.confidence must be 1, 2 or 3']);
});

test('lesson 01 ships a hiding prediction with feedback and confidence', () => {
  const l = loadLessonFile(join(ROOT, 'lessons', '01-virtio-legacy-smmu.md')).lesson;
  const ps = l.steps.flatMap((s) => s.cells).flatMap((c) => (c.predict ? [c.predict] : []));
  assert.ok(ps.some((p) => p.feedback?.length && p.confidence));
});


test('typed-answer goal: the value is read from the machine and compared by value; the rest of the step waits for it', () => {
  const nb = open(3);
  const g = lesson.steps[3]!.goals[0]!;
  assert.equal(g.answer, { line: g.answer!.line, run: 'info machine', data: 'ram' });
  assert.equal(g.checks, []);
  assert.equal(nb.expectedAnswer(g), { value: '0x40000000' });
  assert.not.match(screen(nb), 'AFTER-THE-GOAL');
  assert.match(screen(nb), 'once you have answered');
  nb.runFree('write 0x40000000 7 size=b');
  assert.not.ok(nb.goals.get(g.id)!.passed, 'commands do not pass a typed goal');
  assert.equal(nb.answerGoal(g.id, '512M'), { correct: false, newly: false });
  assert.match(screen(nb), 'you answered 512M: not it');
  assert.equal(nb.answerGoal(g.id, '0x4000_0000'), { correct: true, newly: true });
  assert.ok(nb.progress.goalsPassed.includes(g.id));
  assert.match(screen(nb), 'AFTER-THE-GOAL');
  assert.ok(nb.evaluate(g).pass, 'its solution (1G) is the same value');
});

test('goals show the author\'s words, never the command or the data path; lint requires them', () => {
  const nb = open(3);
  nb.answerGoal('s3g1', '1G');
  const s = screen(nb);
  assert.match(s, 'the first byte of RAM is 7');
  assert.not.match(s, 'xp/1xb');
  const text = `---\nid: x\ntitle: x\nsummary: x\nmachine: arm-virt\nminutes: 1\n---\n\n## s\n\n\`\`\`goal\ntitle: t\nchecks:\n  - {run: "show", data: options.0.value, equals: 1G}\nsolution: print 1\n\`\`\`\n`;
  const l = parseLesson(text, 'x.md');
  assert.equal(l.diagnostics, []);
  const d = lintLesson(l.lesson).map((x) => `${x.line}: ${x.message}`);
  assert.equal(d.length, 1);
  assert.match(d[0]!, /^14: check: say what it checks in words/);
});

test('goal answer syntax: checks and answer together are refused; a typed goal\'s solution need not be a command', () => {
  const text = `---\nid: x\ntitle: x\nsummary: x\nmachine: arm-virt\nminutes: 1\n---\n\n## s\n\n\`\`\`goal\ntitle: t\nchecks:\n  - {run: "show", match: x, say: y}\nanswer: 3\nsolution: "3"\n\`\`\`\n\n\`\`\`goal\ntitle: u\nanswer: {run: "write 0x40000000 1", data: x}\nsolution: "3"\n\`\`\`\n`;
  const l = parseLesson(text, 'x.md');
  assert.ok(l.diagnostics.some((d) => d.line === 15 && /not both/.test(d.message)), JSON.stringify(l.diagnostics));
  const d = lintLesson(l.lesson);
  assert.ok(d.some((x) => /goal answer command `write 0x40000000 1` changes the machine/.test(x.message)), JSON.stringify(d));
  assert.not.ok(d.some((x) => /does not parse/.test(x.message)), JSON.stringify(d));
});

test('--check answers a typed goal with its solution and fails a wrong one at the goal line', () => {
  assert.ok(checkLesson(lesson).ok, checkLesson(lesson).lines.join('\n'));
  const wrong = parseLesson(readFileSync(FIX, 'utf8').replace('solution: "1G"', 'solution: "2G"'), FIX).lesson;
  const r = checkLesson(wrong);
  assert.not.ok(r.ok);
  assert.ok(r.lines.some((l) => /goal 'Type the size of this machine's RAM in bytes': the solution `2G` is not the answer the machine gives now \(0x40000000\)/.test(l)), r.lines.join('\n'));
});

test('progress records how a goal was passed: unaided, after hint N, from the solution; kept across sessions', () => {
  const tour = loadLessonFile(join(ROOT, 'lessons', '00-tour.md')).lesson;
  const progress = emptyLessonProgress();
  const nb = Notebook.forLesson(tour, { progress, step: 2, prepare: false, now: () => new Date(0) });
  const g = tour.steps[2]!.goals[0]!;
  nb.hint(g.id);
  nb.hint(g.id);
  assert.equal(progress.goalHelp, { [g.id]: { hints: 2, solution: false } });
  // a new session: the hints already shown are still counted (and shown)
  const nb2 = Notebook.forLesson(tour, { progress, step: 2, prepare: false, now: () => new Date(0) });
  assert.is(nb2.goals.get(g.id)!.hints, 2);
  nb2.runFree(g.solution);
  assert.ok(nb2.goals.get(g.id)!.passed);
  nb2.useSolution(g.id); // after passing: changes nothing
  assert.equal(progress.goalHelp, { [g.id]: { hints: 2, solution: false } });
  assert.is(howPassed(progress.goalHelp![g.id]), 'after hint 2');
  assert.is(howPassed(undefined), 'unaided');
  assert.is(howPassed({ hints: 1, solution: true }), 'from the solution');
  assert.equal(validateProgress({ version: 1, lessons: { tour: progress } }), []);
  assert.equal(validateProgress({ version: 1, lessons: { tour: { ...progress, goalHelp: { s2g1: { hints: -1, solution: 'no' } } } } }), ['lessons.tour.goalHelp.s2g1 must be {hints: count, solution: true|false}']);
  const st = standing(tour, progress);
  assert.equal([st.unaided, st.afterHints, st.fromSolution], [0, [2], 0]);
  assert.match(standingText(st, { how: true }), 'goals 1/4 (1 after hint 2)');
  assert.is(standingText(st), '0/5 steps, goals 1/4', 'the home screen keeps it short');
  const g3 = tour.steps[3]!.goals[0]!;
  const nb3 = Notebook.forLesson(tour, { progress, step: 3, prepare: false, now: () => new Date(0) });
  nb3.useSolution(g3.id);
  nb3.runFree(g3.solution);
  assert.match(standingText(standing(tour, progress), { how: true }), /goals 2\/4 \(1 after hint 2, 1 from the solution\)/);
});

test('reopening replays the reader\'s own work (cells, edits, commands, steps), not the solutions', () => {
  const tour = loadLessonFile(join(ROOT, 'lessons', '00-tour.md')).lesson;
  const progress = emptyLessonProgress();
  const nb = Notebook.forLesson(tour, { progress, now: () => new Date(0) });
  nb.goto(2);
  nb.predict('s2c1', '2');
  nb.runCell('s2c1');
  nb.runFree('write 0x40002000 0x12345678 size=w'); // not the solution's value
  nb.editCell('s2c2', ['print 5']);
  nb.runCell('s2c2');
  nb.goto(3);
  nb.runFree('print 0x10');
  const mem = (n: Notebook): string => Buffer.from(n.session.machine.memory.read(0x40002000n, 4)).toString('hex');
  assert.is(mem(nb), '78563412');
  assert.equal(validateProgress({ version: 1, lessons: { tour: JSON.parse(JSON.stringify(progress)) } }), []);

  const again = Notebook.forLesson(tour, { progress: JSON.parse(JSON.stringify(progress)), now: () => new Date(0) });
  assert.is(again.step, 3);
  assert.is(mem(again), '78563412', 'their value, not the solution 0xcafef00d');
  assert.equal(again.restored, { actions: progress.work!.actions.length, cells: 2, commands: 2, skipped: undefined });
  assert.equal(again.free.get(2)!.map((e) => e.line), ['write 0x40002000 0x12345678 size=w']);
  assert.equal(again.free.get(3)!.map((e) => e.line), ['print 0x10']);
  assert.equal(again.runs.get('s2c2')!.source, ['print 5']);
  assert.ok(again.edits.has('s2c2'));
  assert.not.ok(again.runs.get('s2c1')!.replayed, 'shown as the reader\'s own run');
  assert.equal(again.runs.get('s2c1')!.prediction, { answer: 'ef be ad de', correct: true });
  assert.equal(again.history(), nb.history(), 'the same commands ran, in the same order');

  // a changed lesson: the old log cannot be trusted; rebuilt from the lesson instead
  const changed = { ...tour, text: tour.text + '\n' };
  const p2 = JSON.parse(JSON.stringify(progress));
  const other = Notebook.forLesson(changed, { progress: p2, now: () => new Date(0) });
  assert.is(other.restored.skipped, 'lesson-changed');
  assert.is(mem(other), '0df0feca', 'the solution of step 2 was applied');
  assert.equal(p2.work.actions, [{ p: 3 }, { g: 3 }], 'a new log starts from the rebuilt machine');
});

test('the work log has a stated limit: past it, nothing more is kept and reopening rebuilds from the lesson', () => {
  const tour = loadLessonFile(join(ROOT, 'lessons', '00-tour.md')).lesson;
  const progress = emptyLessonProgress();
  const nb = Notebook.forLesson(tour, { progress, step: 1, now: () => new Date(0) });
  for (let i = 0; i < MAX_WORK_ACTIONS + 5; i++) nb.runFree(`print ${i}`);
  assert.is(progress.work!.actions.length, MAX_WORK_ACTIONS);
  assert.ok(progress.work!.truncated);
  assert.equal(validateProgress({ version: 1, lessons: { tour: progress } }), []);
  const again = Notebook.forLesson(tour, { progress, now: () => new Date(0) });
  assert.is(again.restored.skipped, 'truncated');
  const long = emptyLessonProgress();
  Notebook.forLesson(tour, { progress: long, step: 1, now: () => new Date(0) }).runFree(`print ${'1'.repeat(MAX_WORK_LINE + 1)}`);
  assert.ok(long.work!.truncated, 'a line past MAX_WORK_LINE stops the log too');
  assert.equal(validateProgress({ version: 1, lessons: { t: { ...emptyLessonProgress(), work: { lesson: 'x', actions: [{ q: 1 }] } } } }), ['lessons.t.work.actions.0 is not an action ({p: step}, {g: step}, {c: cell, src?: [lines]}, {f: command}, {r: 1})']);
});

test('lint: feedback on a typed prediction may not be the right answer written another way', () => {
  const text = `---\nid: x\ntitle: x\nsummary: x\nmachine: arm-virt\nminutes: 1\n---\n\n## s\n\n\`\`\`predict\nquestion: q\nanswer: "48"\nfeedback: {"0x30": same value, "16": fine}\nexplain: e\n\`\`\`\n\`\`\`dma\nprint 1\n\`\`\`\n`;
  const d = parseLesson(text, 'x.md').diagnostics.map((x) => x.message);
  assert.equal(d, ["predict: feedback is for wrong answers; '0x30' is right (the explanation is what a right answer sees)"]);
});

test('replay covers resets, undo and a machine switch: the same commands, the same machine', () => {
  const tour = loadLessonFile(join(ROOT, 'lessons', '00-tour.md')).lesson;
  const progress = emptyLessonProgress();
  const nb = Notebook.forLesson(tour, { progress, step: 1, now: () => new Date(0) });
  nb.runFree('write 0x40000000 0x55 size=b');
  nb.resetStep();
  nb.runFree('write 0x40000000 0x66 size=b');
  nb.runFree('write 0x40000001 0x77 size=b');
  nb.undo();
  nb.goto(4);
  nb.runFree('machine arm-fastmodel');
  nb.runFree('print 7');
  const again = Notebook.forLesson(tour, { progress: JSON.parse(JSON.stringify(progress)), now: () => new Date(0) });
  assert.equal(again.history(), nb.history());
  assert.is(again.machineName, 'arm-fastmodel');
  assert.is(again.step, 4);
  assert.equal(again.free.get(1)!.map((e) => e.line), ['write 0x40000000 0x66 size=b', 'write 0x40000001 0x77 size=b', 'undo']);
  assert.is(again.session.undoDepth, nb.session.undoDepth);
});

test.run();
