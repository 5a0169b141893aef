/** Issue 13: a lesson step in diagnosis mode leaves out what a running kernel could not know. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.ts';
import { parseLesson } from '../../src/notebook/format.ts';
import { loadLessonFile } from '../../src/notebook/library.ts';
import { checkLesson } from '../../src/notebook/headless.ts';
import { lintLesson } from '../../src/notebook/lint.ts';
import { Notebook, type Entry } from '../../src/notebook/engine.ts';
import { emptyLessonProgress } from '../../src/notebook/progress.ts';
import { renderLines } from '../../src/commands/render.ts';
import { createSession } from '../../src/commands/index.ts';
import { stepDocument } from '../../src/ui/document.ts';
import { docText } from '../../src/notebook/prose.ts';

const FIX = join(ROOT, 'test', 'notebook', 'fixtures', 'diagnosis.md');
const lesson = loadLessonFile(FIX).lesson;
const out = (e: Entry): string => (e.outcome.ok && !e.outcome.empty ? renderLines(e.outcome.result.lines, false) : '');

test('the step block parses; a bad one is reported', () => {
  assert.equal(loadLessonFile(FIX).diagnostics, []);
  assert.ok(lesson.steps[1]!.diagnosis);
  assert.not.ok(lesson.steps[2]!.diagnosis);
  const bad = parseLesson('---\nid: x\ntitle: x\nsummary: x\nmachine: arm-virt\nminutes: 1\n---\n\n## s\n\n```step\ndiagnosis: maybe\n```\n\n```step\ndiagnosis: true\n```\n\n```dma\nprint 1\n```\n', 'x.md').diagnostics;
  assert.equal(bad.map((d) => `${d.line}: ${d.message}`), ['12: step: diagnosis is true or false', '15: one step block per step']);
});

test('in a diagnosis step, info iommu and info virtio leave out the ground truth; the next step shows it again', () => {
  const nb = Notebook.forLesson(lesson, { progress: emptyLessonProgress(), step: 1, prepare: false, now: () => new Date(0) });
  assert.ok(nb.session.diagnosis);
  const r = nb.runCell('s1c1')!;
  const iommu = out(r.entries[0]!);
  assert.not.match(iommu, 'what its DMA really does');
  assert.match(iommu, "diagnosis mode: where each device's DMA really goes is not shown");
  assert.match(iommu, 'DMAR says', 'what firmware says is still there: a kernel reads it');
  assert.match(out(r.entries[1]!), /DMA path\s+not shown in diagnosis mode/);
  assert.match(stepDocument(nb, { width: 100, color: false }).rows.map(docText).join('\n'), 'Diagnosis mode: commands do not show where DMA really goes');
  nb.runFree('boot');
  assert.ok(nb.goals.get('s1g1')!.passed, 'checks still read the data');
  nb.goto(2);
  assert.not.ok(nb.session.diagnosis);
  assert.match(out(nb.runCell('s2c1')!.entries[0]!), 'what its DMA really does');
  nb.goto(1);
  nb.resetStep();
  assert.ok(nb.session.diagnosis, 'a reset step keeps its mode');
});

test('dma map leaves out its device check in diagnosis mode', () => {
  const s = createSession('x86-q35-vtd');
  s.execute('boot');
  const told = s.execute('dma map vda 0x100000000 4096 to_device');
  s.diagnosis = true;
  const hidden = s.execute('dma map vda 0x100002000 4096 to_device');
  const t = (o: typeof told): string => (o.ok && !o.empty ? renderLines(o.result.lines, false) : 'failed');
  assert.match(t(told), 'device check:');
  assert.not.match(t(hidden), 'device check:');
});

test('--check runs the fixture', () => {
  assert.ok(checkLesson(lesson).ok, checkLesson(lesson).lines.join('\n'));
});

test('lint: a diagnosis step may not run commands that follow the real DMA path', () => {
  const text = '---\nid: x\ntitle: x\nsummary: x\nmachine: x86-q35-vtd\nminutes: 1\n---\n\n## s\n\n```step\ndiagnosis: true\n```\n\n```dma\nboot\nwalk vda 0x1000\ndevdma read vda 0x1000 8\nvtd faults\n```\n';
  const l = parseLesson(text, 'x.md');
  assert.equal(l.diagnostics, []);
  const d = lintLesson(l.lesson).map((x) => `${x.line}: ${x.message}`);
  assert.equal(d, [
    "17: `walk vda 0x1000` in a diagnosis step: 'walk' follows the device's real DMA path, which diagnosis mode hides (leave it for a later step)",
    "18: `devdma read vda 0x1000 8` in a diagnosis step: 'devdma read' follows the device's real DMA path, which diagnosis mode hides (leave it for a later step)",
  ]);
});

test.run();
