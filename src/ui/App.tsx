/**
 * The terminal UI: the home screen, a lesson, or a machine to explore.
 * Owns the progress store (saved after every change that matters and on
 * the way out) and the input history shared by every screen of the run.
 */
import { useEffect, useRef, useState } from 'react';
import { Text, useApp } from 'ink';
import type { Notebook } from '../notebook/engine.ts';
import type { LessonEntry } from '../notebook/library.ts';
import type { ProgressStore } from '../notebook/progress.ts';
import type { DocLine } from '../notebook/prose.ts';
import type { PresetInfo } from '../scenarios/catalog.ts';
import { Home, type HomeTarget } from './Home.tsx';
import { lessonModules, loadLessonModules } from './lazy.ts';
import { UiContext } from './context.ts';
import type { Size } from './hooks/useTerminalSize.ts';
import { timing } from './timing.ts';

export type Start = { kind: 'home' } | { kind: 'lesson'; entry: LessonEntry } | { kind: 'machine'; preset: string; options?: ReadonlyMap<string, string> };

export interface AppProps {
  color: boolean;
  lessons: LessonEntry[];
  presets: readonly PresetInfo[];
  store: ProgressStore;
  version: string;
  start: Start;
  /** A message for the first screen (a corrupt progress file moved aside). */
  notice?: string;
  size?: Size;
  exportDir?: string;
  /** Called when the reader quits (run.tsx prints where progress went). */
  onExit?(summary: string | undefined): void;
}

// The lesson view and the notebook engine load after home's first frame
// (lazy.ts): 'loading' is a lesson or machine start before they are here
// (run.tsx loads them first, so only a test that renders App sees it).
type Screen = { kind: 'home'; message?: DocLine } | { kind: 'notebook'; nb: Notebook; status?: DocLine } | { kind: 'loading' };

function openLesson(entry: LessonEntry, store: ProgressStore): Screen {
  const { Notebook, loadLessonFile } = lessonModules()!;
  const lesson = entry.lesson.light ? loadLessonFile(entry.file).lesson : entry.lesson;
  const nb = Notebook.forLesson(lesson, { progress: store.ensure(entry.id) });
  store.save();
  const p = nb.prepared;
  const r = nb.restored;
  const why = r.skipped === 'truncated' ? 'your work here was longer than the stated limit, so ' : r.skipped === 'lesson-changed' ? 'the lesson changed since your last visit, so ' : '';
  const status: DocLine | undefined = r.actions
    ? [{ text: `welcome back: step ${nb.step}/${nb.stepCount}; your own work was replayed (${r.cells} cell run${r.cells === 1 ? '' : 's'}, ${r.commands} command${r.commands === 1 ? '' : 's'} of yours)`, style: 'dim' }]
    : why && (p.cells || p.solutions)
      ? [{ text: `welcome back: step ${nb.step}/${nb.stepCount}; ${why}the machine was rebuilt from the lesson's ${p.cells} cells and ${p.solutions} solutions before it`, style: 'warn' }]
      : p.cells || p.solutions
      ? [{ text: `welcome back: step ${nb.step}/${nb.stepCount}; the machine was rebuilt by running the ${p.cells} cell${p.cells === 1 ? '' : 's'} and ${p.solutions} solution${p.solutions === 1 ? '' : 's'} before it${p.failures.length ? ` (${p.failures.length} failed)` : ''}`, style: p.failures.length ? 'warn' : 'dim' }]
      : undefined;
  return { kind: 'notebook', nb, status };
}

function initial(start: Start, store: ProgressStore, notice: string | undefined): Screen {
  const msg: DocLine | undefined = notice ? [{ text: notice, style: 'warn' }] : undefined;
  if (start.kind !== 'home' && !lessonModules()) return { kind: 'loading' };
  try {
    if (start.kind === 'lesson') {
      const s = openLesson(start.entry, store);
      return s.kind === 'notebook' && msg ? { ...s, status: msg } : s;
    }
    if (start.kind === 'machine') return { kind: 'notebook', nb: lessonModules()!.Notebook.forMachine(start.preset, start.options), status: msg };
  } catch (e) {
    return { kind: 'home', message: [{ text: `could not open: ${(e as Error).message}`, style: 'bad' }] };
  }
  return { kind: 'home', message: msg };
}

export function App({ color, lessons, presets, store, version, start, notice, size, exportDir, onExit }: AppProps) {
  const { exit } = useApp();
  const history = useRef<string[]>([]).current;
  const [screen, setScreen] = useState<Screen>(() => {
    const s = initial(start, store, notice);
    timing.screen(s.kind === 'home' ? 'home' : s.kind === 'loading' ? 'loading' : s.nb.lesson ? 'lesson' : 'machine');
    return s;
  });
  const unmounted = useRef(false);
  useEffect(() => () => void (unmounted.current = true), []);
  /** Run `f` now if the lesson view is loaded, else once it is (a failed load says so on home). */
  const withModules = (f: () => void): void => {
    if (lessonModules()) return f();
    loadLessonModules().then(
      () => !unmounted.current && f(),
      (e: unknown) => !unmounted.current && setScreen({ kind: 'home', message: [{ text: `could not open: ${(e as Error).message}`, style: 'bad' }] }),
    );
  };
  useEffect(() => {
    if (screen.kind === 'loading')
      withModules(() => {
        const s = initial(start, store, notice);
        timing.screen(s.kind === 'home' ? 'home' : s.kind === 'notebook' && s.nb.lesson ? 'lesson' : 'machine');
        setScreen(s);
      });
  }, []);
  // One open at a time: a second Enter while the first waits for the load does nothing.
  const opening = useRef(false);

  const save = (): void => {
    if (screen.kind === 'notebook' && screen.nb.lesson) store.save();
  };
  const quit = (): void => {
    let summary: string | undefined;
    try {
      save();
      if (screen.kind === 'notebook' && screen.nb.lesson) summary = `progress saved: ${screen.nb.lesson.meta.id} at step ${screen.nb.step}/${screen.nb.stepCount} (${store.file})`;
    } catch (e) {
      summary = `could not save progress: ${(e as Error).message}`;
    }
    onExit?.(summary);
    exit();
  };
  const open = (t: HomeTarget): void => {
    if (lessonModules()) return openNow(t);
    if (opening.current) return;
    opening.current = true;
    const done = (): boolean => {
      opening.current = false;
      return !unmounted.current;
    };
    loadLessonModules().then(
      () => done() && openNow(t),
      (e: unknown) => done() && setScreen({ kind: 'home', message: [{ text: `could not open: ${(e as Error).message}`, style: 'bad' }] }),
    );
  };
  const openNow = (t: HomeTarget): void => {
    const { Notebook } = lessonModules()!;
    try {
      if (t.kind === 'lesson') {
        if (t.entry.diagnostics.length) {
          setScreen({ kind: 'home', message: [{ text: `${t.entry.id} has ${t.entry.diagnostics.length} problem(s): dma-lab lint ${t.entry.file}`, style: 'bad' }] });
          return;
        }
        timing.screen('lesson');
        setScreen(openLesson(t.entry, store));
      } else {
        timing.screen('machine');
        setScreen({ kind: 'notebook', nb: Notebook.forMachine(t.preset.name) });
      }
    } catch (e) {
      setScreen({ kind: 'home', message: [{ text: `could not open: ${(e as Error).message}`, style: 'bad' }] });
    }
  };
  const home = (): void => {
    try {
      save();
    } catch {
      /* shown when quitting */
    }
    setScreen({ kind: 'home' });
  };

  const NotebookView = lessonModules()?.NotebookView;
  return (
    <UiContext.Provider value={{ color }}>
      {screen.kind === 'home' ? (
        <Home lessons={lessons} presets={presets} store={store} message={screen.message} onOpen={open} onQuit={quit} size={size} />
      ) : screen.kind === 'loading' || !NotebookView ? (
        <Text dimColor>loading…</Text>
      ) : (
        <NotebookView key={screen.nb.lesson?.meta.id ?? screen.nb.preset} nb={screen.nb} history={history} version={version} onSave={save} onQuit={quit} onHome={home} initialStatus={screen.status} size={size} exportDir={exportDir} />
      )}
    </UiContext.Provider>
  );
}
