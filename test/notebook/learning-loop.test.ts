/** Issue 13, engine: predictions that hide what answers them, per-answer feedback, typed and numeric answers, confidence. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.ts';
import { parseLesson } from '../../src/notebook/format.ts';
import { loadLessonFile } from '../../src/notebook/library.ts';
import { Notebook, sameAnswer } from '../../src/notebook/engine.ts';
import { emptyLessonProgress, validateProgress } from '../../src/notebook/progress.ts';
import { stepDocument } from '../../src/ui/document.ts';
import { docText } from '../../src/notebook/prose.ts';

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

test.run();
