/** The UI's components under ink-testing-library: home, the lesson view, the input line, predictions, help, sizes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.ts';
import type { Start } from '../../src/ui/App.tsx';
import { listLessons } from '../../src/notebook/library.ts';
import { ProgressStore } from '../../src/notebook/progress.ts';
import { PRESETS } from '../../src/scenarios/index.ts';
import { footerText } from '../../src/ui/keys.ts';
import type { Size } from '../../src/ui/hooks/useTerminalSize.ts';

/*
 * Ink's layout engine (yoga-layout) uses top-level await, so it cannot be
 * require()d; uvu -r tsx loads test files with require. The UI is loaded
 * with import() instead, before the tests run.
 */
let render: typeof import('ink-testing-library').render;
let App: typeof import('../../src/ui/App.tsx').App;
test.before(async () => {
  render = (await import('ink-testing-library')).render;
  App = (await import('../../src/ui/App.tsx')).App;
});

const dir = mkdtempSync(join(tmpdir(), 'dma-lab-ui-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
process.env.DMA_LAB_LESSONS_DIR = join(ROOT, 'lessons');

const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');
const tick = (ms = 15): Promise<void> => new Promise((r) => setTimeout(r, ms));
let n = 0;

function mount(start: 'home' | 'tour' | 'machine', size: Size = { columns: 100, rows: 30 }) {
  const store = ProgressStore.load(join(dir, `p${n++}`, 'progress.json'));
  const lessons = listLessons();
  const s: Start = start === 'home' ? { kind: 'home' } : start === 'tour' ? { kind: 'lesson', entry: lessons.find((l) => l.id === 'tour')! } : { kind: 'machine', preset: 'arm-virt' };
  let exited: string | undefined | null = null;
  const r = render(<App color={false} lessons={lessons} presets={PRESETS} store={store} version="test" start={s} size={size} exportDir={dir} onExit={(x) => (exited = x)} />);
  const frame = (): string => strip(r.lastFrame() ?? '');
  const press = async (...keys: string[]): Promise<void> => {
    for (const k of keys) {
      r.stdin.write(k);
      await tick();
      // On a loaded machine a frame can lag the key: wait until two looks 10 ms apart agree (at most 500 ms).
      for (let i = 0, last = frame(); i < 50; i++) {
        await tick(10);
        const f = frame();
        if (f === last) break;
        last = f;
      }
    }
  };
  /** Wait until the frame shows `text` (a new screen mounts its key handler after its first frame). */
  const until = async (text: string | RegExp, ms = 3000): Promise<void> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const f = frame();
      if (typeof text === 'string' ? f.includes(text) : text.test(f)) return tick(40);
      await tick(10);
    }
    throw new Error(`timed out waiting for ${text}; frame:\n${frame()}`);
  };
  return { r, store, frame, press, until, exited: () => exited };
}

test('home: what the lab is, the lessons with minutes and progress, the machines, the footer from the key table', async () => {
  const m = mount('home');
  await m.until('Lessons');
  const f = m.frame();
  assert.match(f, 'a lab for how devices reach memory');
  assert.match(f, /▶ tour\s+A tour of the lab: memory, commands.*\s40 min\s+not started/);
  for (const p of PRESETS) assert.match(f, p.name);
  assert.is(f.trimEnd().split('\n').pop(), footerText('home', 100));
  m.r.unmount();
});

test('home -> the lesson with the keyboard; ⏎ on a cell shows its output under it; the footer follows the mode', async () => {
  const m = mount('home');
  await m.until('Lessons');
  await m.press('\r');
  await m.until('intro · goals 0/4 · arm-virt');
  assert.is(m.frame().trimEnd().split('\n').pop(), footerText('notebook', 100));
  await m.press('n');
  assert.match(m.frame(), 'step 1/5');
  assert.match(m.frame(), '▶[1] info mtree');
  assert.not.match(m.frame(), 'address-space: memory');
  await m.press('\r');
  assert.match(m.frame(), 'address-space: memory');
  assert.match(m.frame(), 'virt.flash0');
  assert.equal(m.store.lesson('tour')!.cellsRun, ['s1c1']);
  m.r.unmount();
});

test('a prediction is asked before its cell runs, recorded, and explained after the output', async () => {
  const m = mount('tour');
  await m.until('intro');
  await m.press('n', 'j', 'j', '\r');
  assert.match(m.frame(), '? Predict: RAM at 0x40000000 has never been written.');
  assert.match(m.frame(), 'prediction ›');
  assert.is(m.frame().trimEnd().split('\n').pop(), footerText('predict', 100));
  await m.press('1', '\r');
  assert.match(m.frame(), '✓ you predicted zeros: right.');
  assert.match(m.frame(), /memory 0x40000000 \(mach-virt\.ram\)/, 'the memory pane follows the cell');
  assert.equal(m.store.lesson('tour')!.predictions.s1c3, { answer: 'zeros', correct: true });
  m.r.unmount();
});

test('the input line: typed commands run, a bad one shows the REPL caret block, goals are re-checked, q quits', async () => {
  const m = mount('tour');
  await m.until('intro');
  await m.press('n', 'n', ':');
  assert.is(m.frame().trimEnd().split('\n').pop(), footerText('input', 100));
  await m.press('xp/8xb 0x4000zz', '\r');
  assert.match(m.frame(), "error: '0x4000zz' is not a valid number");
  assert.match(m.frame(), '  xp/8xb 0x4000zz\n         ^^^^^^^^');
  await m.press('write 0x40002000 0xcafef00d size=w', '\r');
  assert.match(m.frame(), '✓ goal passed unaided: Put the word 0xcafef00d at 0x40002000');
  assert.match(m.frame(), 'goals 1/4');
  await m.press('\x1b[A');
  assert.match(m.frame(), '(arm-virt) write 0x40002000 0xcafef00d size=w', 'Up recalls history');
  await m.press('\x15', 'q');
  assert.is(m.exited(), null, 'the first q only asks');
  assert.match(m.frame(), 'press q again to quit');
  await m.press('q');
  assert.is(m.exited(), `progress saved: tour at step 2/5 (${m.store.file})`);
  m.r.unmount();
});

test('hint, solution typed into the input line (not run), reset step, export', async () => {
  const m = mount('tour');
  await m.until('intro');
  await m.press('n', 'n', 'h');
  assert.match(m.frame(), 'answer the question first', 'the goal is hidden behind the step\'s prediction');
  await m.press('\r', '2', '\r', 'h');
  assert.match(m.frame(), 'hint 1/2: The command is write');
  await m.press('s');
  assert.match(m.frame(), '(arm-virt) write 0x40002000 0xcafef00d size=w');
  assert.match(m.frame(), 'goals 0/4', 'typed, not run');
  await m.press('\r');
  assert.match(m.frame(), 'goals 1/4');
  assert.match(m.frame(), '✓ passed');
  await m.press('\x1b');
  await tick(60);
  await m.press('r');
  assert.match(m.frame(), 'machine back to where step 2 began (4 commands taken back)', 'the cell run for the prediction, and the solution');
  await m.press('x');
  assert.match(m.frame(), `notebook written to ${join(dir, 'lesson-tour-notebook.md')}`);
  m.r.unmount();
});

test('e edits a cell before it runs: the edited text runs, marked as edited; Ctrl+R puts the lesson text back', async () => {
  const m = mount('tour');
  await m.until('intro');
  await m.press('n', 'n', 'n', 'e');
  assert.match(m.frame(), 'edit [1] › print 0xffffffffffffffff + 1');
  assert.is(m.frame().trimEnd().split('\n').pop(), footerText('edit', 100));
  await m.press('\x15', 'print 6 * 7', '\x1b[B', '\x05', '\x15', 'print 1 << 4');
  await m.press('\r');
  assert.match(m.frame(), '? Predict: In unsigned 64-bit arithmetic', 'the prediction still comes first');
  await m.press('0', '\r');
  assert.match(m.frame(), '$ = 0x2a (42)');
  assert.match(m.frame(), '$ = 0x10 (16)');
  assert.match(m.frame(), '(edited');
  await m.press('e', '\x12', '\x1b');
  assert.not.match(m.frame(), '(edited');
  m.r.unmount();
});

test('? opens the help overlay from the key table; any key closes it', async () => {
  const m = mount('tour');
  await m.until('intro');
  await m.press('?');
  assert.match(m.frame(), 'Lesson (input line not focused)');
  assert.match(m.frame(), 'put the machine back as it was when this step began');
  await m.press('z');
  assert.not.match(m.frame(), 'Lesson (input line not focused)');
  m.r.unmount();
});

test('80x24: the frame is 23 lines and no line is wider than 80; free exploration works', async () => {
  const m = mount('machine', { columns: 80, rows: 24 });
  await m.until('free exploration');
  await m.press('info mtree', '\r');
  const lines = m.frame().split('\n');
  assert.ok(lines.length <= 23, `${lines.length} lines`);
  for (const l of lines) assert.ok(l.length <= 80, `too wide: ${l}`);
  assert.match(m.frame(), 'RAM 1G, 0 pages touched');
  m.r.unmount();
});

test('a wide terminal puts the inspector beside the lesson', async () => {
  const m = mount('tour', { columns: 140, rows: 30 });
  await m.until('intro');
  const first = m.frame().split('\n')[1]!;
  assert.match(first, /│ memory\s+DMA trace\s+last walk\s+memory map\s+options/);
  m.r.unmount();
});

test.run();
