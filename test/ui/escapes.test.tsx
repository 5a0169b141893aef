// Regression (issue 12, item 1) in the Ink UI: a lesson whose title and
// prose carry OSC 52 / OSC 0 draws them as visible text (\x1b]52...), never
// as raw control bytes, on the home screen and inside the lesson.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listLessons } from '../../src/notebook/library.ts';
import { ProgressStore } from '../../src/notebook/progress.ts';
import { PRESETS } from '../../src/scenarios/index.ts';

let render: typeof import('ink-testing-library').render;
let App: typeof import('../../src/ui/App.tsx').App;
test.before(async () => {
  render = (await import('ink-testing-library')).render;
  App = (await import('../../src/ui/App.tsx')).App;
});

const dir = mkdtempSync(join(tmpdir(), 'dma-lab-ui-esc-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const OSC52 = '\x1b]52;c;cHduZWQ=\x07';
writeFileSync(join(dir, '01-evil.md'), `---\nid: evil\ntitle: "Evil ${OSC52}"\nsummary: s\nmachine: arm-virt\nminutes: 1\n---\n\n# Evil\n\nProse ${OSC52} here.\n\n## Step\n\nMore.\n`);
const tick = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));
// Ink's own output is SGR colour at most (color is off here); anything else raw is injected.
const injected = (s: string): boolean => /\x07|\x1b\]|\x1b[^[]|\x9b/.test(s.replace(/\x1b\[[0-9;]*m/g, ''));

test('home and lesson screens draw a lesson\'s control bytes visibly', async () => {
  process.env.DMA_LAB_LESSONS_DIR = dir;
  const lessons = listLessons();
  const store = ProgressStore.load(join(dir, 'state', 'progress.json'));
  const r = render(<App color={false} lessons={lessons} presets={PRESETS} store={store} version="test" start={{ kind: 'lesson', entry: lessons[0]! }} size={{ columns: 100, rows: 30 }} exportDir={dir} onExit={() => {}} />);
  await tick(200);
  const f = r.lastFrame() ?? '';
  assert.not.ok(injected(f), `raw control bytes in the lesson frame: ${JSON.stringify(f).slice(0, 300)}`);
  assert.match(f, '\\x1b]52;c;');
  r.unmount();
  const h = render(<App color={false} lessons={lessons} presets={PRESETS} store={store} version="test" start={{ kind: 'home' }} size={{ columns: 100, rows: 30 }} exportDir={dir} onExit={() => {}} />);
  await tick(200);
  const hf = h.lastFrame() ?? '';
  assert.not.ok(injected(hf), `raw control bytes on home: ${JSON.stringify(hf).slice(0, 300)}`);
  h.unmount();
});

test.run();
