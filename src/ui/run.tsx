/**
 * The terminal UI's entry, loaded lazily by src/cli/main.ts (only this path
 * imports Ink and React). Runs on the terminal's alternate screen, so
 * leaving puts the shell back as it was; then prints where progress went.
 */
import './ci-env.ts';
import { render } from 'ink';
import { App, type Start } from './App.tsx';
import { lessonCatalog } from '../notebook/catalog.ts';
import type { LessonEntry } from '../notebook/library.ts';
import { ProgressStore, progressFile } from '../notebook/progress.ts';
import { presetCatalog } from '../scenarios/catalog.ts';
import { version } from '../env/version.ts';
import { loadLessonModules } from './lazy.ts';
import { timing } from './timing.ts';

export interface TuiOptions {
  color: boolean;
  /** Open this lesson file directly. */
  lessonFile?: string;
  /** ... already parsed in full (the CLI resolved and linted it): not parsed again. */
  lessonEntry?: LessonEntry;
  /** Open this machine for free exploration directly. */
  machine?: string;
  options?: ReadonlyMap<string, string>;
}

/** Ink's frame cap (see render below). */
export const MAX_FPS = 240;

const ALT_ON = '\x1b[?1049h';
const ALT_OFF = '\x1b[?1049l';

export async function runTui(o: TuiOptions): Promise<number> {
  let notice: string | undefined;
  const store = ProgressStore.load(progressFile(), (m) => (notice = m));
  // The home screen needs titles and counts only: the lesson catalog (a light
  // parse, cached by mtime; App parses a lesson in full when it opens) and the
  // presets' names. Home draws before the machine model and the lesson view
  // load (issue 15); a lesson or a machine to open at once loads them first.
  const lessons = await lessonCatalog();
  const presets = await presetCatalog();
  let start: Start = { kind: 'home' };
  if (o.lessonFile) {
    const { loadLessonFile } = await loadLessonModules();
    const entry = (o.lessonEntry?.file === o.lessonFile ? o.lessonEntry : undefined) ?? lessons.find((e) => e.file === o.lessonFile) ?? loadLessonFile(o.lessonFile);
    start = { kind: 'lesson', entry };
  } else if (o.machine) {
    await loadLessonModules();
    start = { kind: 'machine', preset: o.machine, options: o.options };
  }

  const out = process.stdout;
  let onAlt = true;
  const leaveAlt = (): void => {
    if (onAlt) out.write(ALT_OFF);
    onAlt = false;
  };
  out.write(ALT_ON);
  process.once('exit', leaveAlt);
  let summary: string | undefined;
  const app = render(<App color={o.color} lessons={lessons} presets={presets} store={store} version={version()} start={start} notice={notice} onExit={(s) => (summary = s)} />, {
    exitOnCtrlC: false,
    // Ink draws at most 30 frames/s by default: two keys within 33 ms and the
    // second waited for the next frame (issue 15: typing never below 60
    // frames/s). A frame here costs a few ms and frames come from keys and
    // commands only, so the cap is only a bound on bursts.
    maxFps: MAX_FPS,
    ...(timing.enabled ? { onRender: () => timing.frame() } : {}),
  });
  // A signal (kill, a closed terminal, Ctrl+C from outside raw mode) must not
  // leave the terminal raw and on the alternate screen: unmount Ink (it
  // restores the input mode), leave the alternate screen, exit 128 + signal.
  // Progress is already on disk: every change is saved when it happens.
  const SIGNALS: Record<string, number> = { SIGINT: 2, SIGHUP: 1, SIGTERM: 15 };
  const onSignal = (sig: NodeJS.Signals): void => {
    try {
      app.unmount();
    } catch {
      /* already unmounted */
    }
    if (process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
    leaveAlt();
    process.exit(128 + (SIGNALS[sig] ?? 15));
  };
  for (const sig of Object.keys(SIGNALS)) process.once(sig, onSignal);
  // Home is on screen: load the lesson view and the machine model now, while
  // the reader reads (an Enter before they are here waits for them; a failed
  // load is said when something is opened).
  if (start.kind === 'home') loadLessonModules().catch(() => undefined);
  try {
    await app.waitUntilExit();
  } finally {
    leaveAlt();
    process.removeListener('exit', leaveAlt);
    for (const sig of Object.keys(SIGNALS)) process.removeListener(sig, onSignal);
  }
  if (notice) process.stderr.write(`dma-lab: warning: ${notice}\n`);
  if (summary) out.write(summary + '\n');
  return 0;
}
