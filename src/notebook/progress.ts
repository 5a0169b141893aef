/**
 * The progress store: where each lesson was left, what the reader did.
 *
 * File: stateDir()/progress.json (DMA_LAB_STATE_DIR overrides the
 * directory; see src/env/paths.ts). Format, version 1:
 *
 *   {
 *     "version": 1,
 *     "lessons": {
 *       "<lesson id>": {
 *         "step": 3,                        step the reader is on (0 = the introduction)
 *         "furthest": 4,                    furthest step reached (a prose step counts as done once reached)
 *         "cellsRun": ["s1c1", "s2c1"],     cells run at least once: s<step>c<n>, n from 1 within the step
 *         "predictions": {                  predictions made, by cell id
 *           "s2c1": {"answer": "zeros", "correct": true}
 *         },
 *         "goalsPassed": ["s3g1"],          goals passed at least once: s<step>g<n>
 *         "lastOpened": "2025-06-01T10:00:00.000Z"   ISO 8601, when the lesson was last opened
 *       }
 *     }
 *   }
 *
 * Writes are atomic: the JSON goes to a temporary file beside it, then
 * rename() replaces progress.json, so a crash never leaves half a file. A
 * file that does not parse or does not validate is moved aside to
 * progress.json.corrupt-N (the first free N) with a warning, and a fresh
 * store starts; nothing is silently thrown away. Unknown keys are kept
 * neither on load nor on write (the file is ours).
 */
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stateDir } from '../env/paths.ts';
import type { Lesson } from './format.ts';

export const PROGRESS_VERSION = 1;

export interface LessonProgress {
  step: number;
  furthest: number;
  cellsRun: string[];
  predictions: Record<string, { answer: string; correct: boolean }>;
  goalsPassed: string[];
  lastOpened?: string;
}

export interface ProgressFile {
  version: number;
  lessons: Record<string, LessonProgress>;
}

export const progressFile = (): string => join(stateDir(), 'progress.json');

/**
 * Lesson ids as lint allows them (lower-case letters, digits, dashes). Keys
 * such as `__proto__`, `constructor` or `valueOf` are refused, and the maps
 * keyed by id have no prototype, so no id can reach Object.prototype.
 */
export const LESSON_ID = /^[a-z0-9][a-z0-9-]*$/;
/** Stated limits on `progress import`: a 53 MB import once slowed every later command to 8-10 s. */
export const MAX_IMPORT_BYTES = 1 << 20;
export const MAX_IMPORT_LESSONS = 1000;
const noProto = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;
const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

export const emptyProgress = (): ProgressFile => ({ version: PROGRESS_VERSION, lessons: noProto() });
export const emptyLessonProgress = (): LessonProgress => ({ step: 0, furthest: 0, cellsRun: [], predictions: {}, goalsPassed: [] });

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Check a parsed progress file; returns the problems (empty when valid). */
export function validateProgress(v: unknown): string[] {
  const errs: string[] = [];
  if (!isObj(v)) return ['the file is not a JSON object'];
  if (v.version !== PROGRESS_VERSION) errs.push(`version is ${JSON.stringify(v.version)}, expected ${PROGRESS_VERSION}`);
  if (!isObj(v.lessons)) return [...errs, "'lessons' must be an object keyed by lesson id"];
  for (const [id, p] of Object.entries(v.lessons)) {
    const at = `lessons.${id}`;
    if (!LESSON_ID.test(id)) {
      errs.push(`lesson id ${JSON.stringify(id)} is not a lesson id (lower-case letters, digits and dashes)`);
      continue;
    }
    if (!isObj(p)) {
      errs.push(`${at} must be an object`);
      continue;
    }
    if (!isCount(p.step)) errs.push(`${at}.step must be a step number (0 or more)`);
    if (!isCount(p.furthest)) errs.push(`${at}.furthest must be a step number (0 or more)`);
    if (!isStrList(p.cellsRun)) errs.push(`${at}.cellsRun must be a list of cell ids`);
    if (!isStrList(p.goalsPassed)) errs.push(`${at}.goalsPassed must be a list of goal ids`);
    if (!isObj(p.predictions)) errs.push(`${at}.predictions must be an object keyed by cell id`);
    else
      for (const [cell, pr] of Object.entries(p.predictions)) {
        if (!isObj(pr) || typeof pr.answer !== 'string' || typeof pr.correct !== 'boolean') errs.push(`${at}.predictions.${cell} must be {answer: text, correct: true|false}`);
      }
    if (p.lastOpened !== undefined && (typeof p.lastOpened !== 'string' || Number.isNaN(Date.parse(p.lastOpened)))) errs.push(`${at}.lastOpened must be an ISO 8601 date`);
  }
  return errs;
}

/** Only the documented fields, in the documented order. */
function normalize(f: ProgressFile): ProgressFile {
  const lessons = noProto<LessonProgress>();
  for (const id of Object.keys(f.lessons).sort()) {
    const p = f.lessons[id]!;
    lessons[id] = {
      step: p.step,
      furthest: Math.max(p.furthest, p.step),
      cellsRun: [...new Set(p.cellsRun)],
      predictions: Object.assign(noProto<{ answer: string; correct: boolean }>(), p.predictions),
      goalsPassed: [...new Set(p.goalsPassed)],
      ...(p.lastOpened ? { lastOpened: p.lastOpened } : {}),
    };
  }
  return { version: PROGRESS_VERSION, lessons };
}

/** Write JSON atomically: a temporary file in the same directory, then rename over the target. */
export function writeJsonAtomic(file: string, value: unknown, o: { mkdir?: boolean } = {}): void {
  if (o.mkdir ?? true) mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o644 });
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
    throw e;
  }
}

/** How long a writer waits for the lock, and when a lock file is old enough to be a crashed writer's. */
const LOCK_WAIT_MS = 5000;
const LOCK_STALE_MS = 10_000;
const sleepSync = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Run `f` holding `${file}.lock`, created with O_EXCL: one writer at a time
 * among every dma-lab process (two TUIs, an import). A lock older than
 * LOCK_STALE_MS is a crashed writer's and is broken. Exported for the
 * practice review store (src/practice/review-store.ts), the one other file
 * the lab read-modify-writes: one locking scheme for both.
 */
export function withLock<T>(file: string, f: () => T): T {
  const lock = `${file}.lock`;
  const end = Date.now() + LOCK_WAIT_MS;
  let fd: number | undefined;
  while (fd === undefined) {
    try {
      fd = openSync(lock, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > end) throw new Error(`${lock} is held by another dma-lab for more than ${LOCK_WAIT_MS / 1000} s; try again`);
      sleepSync(5 + Math.floor(Math.random() * 20));
    }
  }
  try {
    return f();
  } finally {
    closeSync(fd);
    try {
      unlinkSync(lock);
    } catch {
      /* already broken as stale */
    }
  }
}

export class ProgressStore {
  data: ProgressFile;
  /** Lessons this process changed (or forgot) since its last save: only they are written over the file's. */
  private dirty = new Set<string>();
  /** Set when a corrupt file could not be moved aside (read-only state dir): never write. */
  private memoryOnly = false;
  /** The last save failed (progress is only in memory until one succeeds); warned once. */
  private lastSaveFailed = false;
  private warnedSave = false;

  private constructor(
    readonly file: string,
    data: ProgressFile,
    private readonly warn: (msg: string) => void = () => {},
  ) {
    this.data = data;
  }

  /** Is progress kept in memory only (the state directory could not be written)? */
  get inMemoryOnly(): boolean {
    return this.memoryOnly || this.lastSaveFailed;
  }

  /**
   * Load the store. A missing file is an empty store; a corrupt one is
   * moved aside (progress.json.corrupt-N) and `warn` is told where.
   */
  static load(file = progressFile(), warn: (msg: string) => void = () => {}): ProgressStore {
    if (!existsSync(file)) return new ProgressStore(file, emptyProgress(), warn);
    let problem: string | undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
      const errs = validateProgress(parsed);
      if (errs.length) problem = errs[0];
    } catch (e) {
      problem = e instanceof SyntaxError ? `not valid JSON (${e.message})` : (e as Error).message;
    }
    if (problem === undefined) return new ProgressStore(file, normalize(parsed as ProgressFile), warn);
    let n = 1;
    while (existsSync(`${file}.corrupt-${n}`)) n++;
    const aside = `${file}.corrupt-${n}`;
    try {
      renameSync(file, aside);
      warn(`progress file ${file} is unreadable (${problem}); moved it to ${aside} and started a fresh one`);
      return new ProgressStore(file, emptyProgress(), warn);
    } catch (e) {
      // A read-only state directory: leave the file alone, keep progress in memory.
      const st = new ProgressStore(file, emptyProgress(), warn);
      st.memoryOnly = true;
      warn(`progress file ${file} is unreadable (${problem}) and cannot be moved aside (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): progress is kept in memory for this session`);
      return st;
    }
  }

  /** The file's lessons as they are on disk now (empty when missing or unreadable). */
  private readDisk(): Record<string, LessonProgress> {
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8'));
      if (!validateProgress(parsed).length) return normalize(parsed as ProgressFile).lessons;
    } catch {
      /* missing or unreadable: nothing to merge */
    }
    return emptyProgress().lessons;
  }

  lesson(id: string): LessonProgress | undefined {
    return own(this.data.lessons, id) ? this.data.lessons[id] : undefined;
  }

  /** The lesson's record, created empty when missing. */
  ensure(id: string): LessonProgress {
    if (!own(this.data.lessons, id)) this.data.lessons[id] = emptyLessonProgress();
    // The caller (an open notebook) writes to this record: it is ours to save.
    this.dirty.add(id);
    return this.data.lessons[id]!;
  }

  /** Write the store (a normalized copy: the lesson records stay the objects open notebooks write to). */
  /**
   * Write the store: under the lock, read the file as it is now, replace
   * only the lessons this process changed or forgot, and write it back
   * (atomically). Two TUIs, or a TUI and an import, never erase each
   * other's lessons. Lessons others saved are taken into this store too.
   * When the state directory cannot be written the progress stays in
   * memory and one warning says so (never an exception to the UI).
   */
  save(): void {
    if (this.memoryOnly) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      withLock(this.file, () => {
        const disk = this.readDisk();
        for (const id of this.dirty) {
          if (own(this.data.lessons, id)) disk[id] = this.data.lessons[id]!;
          else delete disk[id];
        }
        for (const id of Object.keys(disk)) if (!this.dirty.has(id)) this.data.lessons[id] = disk[id]!;
        writeJsonAtomic(this.file, normalize({ version: PROGRESS_VERSION, lessons: disk }), { mkdir: false });
      });
      // Records handed to open notebooks stay dirty: they keep changing.
      this.lastSaveFailed = false;
    } catch (e) {
      this.lastSaveFailed = true;
      if (!this.warnedSave) this.warn(`cannot save progress in ${dirname(this.file)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): progress is kept in memory until a save succeeds`);
      this.warnedSave = true;
    }
  }

  /** Forget one lesson, or all of them. Returns the ids forgotten. */
  reset(id?: string): string[] {
    const ids = id === undefined ? Object.keys(this.data.lessons) : own(this.data.lessons, id) ? [id] : [];
    for (const i of ids) {
      delete this.data.lessons[i];
      this.dirty.add(i);
    }
    return ids;
  }

  /**
   * Write the progress to `file`: a new regular file in a directory that
   * exists. An existing file is replaced only with `force`; a symlink, a
   * device, a FIFO or a directory never is (as root, /dev/full once became
   * a JSON file); no directory is created.
   */
  exportTo(file: string, force = false): void {
    let st;
    try {
      st = lstatSync(file);
    } catch {
      st = undefined;
    }
    if (st && !st.isFile()) throw new Error(`${file} exists and is not a regular file (${st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? 'a directory' : 'a device, FIFO or socket'}): choose another path`);
    if (st && !force) throw new Error(`${file} exists: --force replaces it`);
    let dir;
    try {
      dir = statSync(dirname(file));
    } catch {
      dir = undefined;
    }
    if (!dir?.isDirectory()) throw new Error(`${dirname(file)} is not a directory: export writes into an existing directory`);
    writeJsonAtomic(file, normalize(this.data), { mkdir: false });
  }

  /**
   * Read a progress file exported earlier and merge it in: each lesson in
   * it replaces that lesson's record here; other lessons are kept. Throws
   * an Error listing the problems when the file does not validate.
   */
  importFrom(file: string): string[] {
    let parsed: unknown;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error(`${file} is not a regular file`);
      if (st.size > MAX_IMPORT_BYTES) throw new Error(`${file} is ${st.size} bytes: a progress file may be at most ${MAX_IMPORT_BYTES >> 20} MiB (a stated limit)`);
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(e instanceof SyntaxError ? `${file} is not valid JSON: ${e.message}` : (e as NodeJS.ErrnoException).code ? `cannot read ${file}: ${(e as NodeJS.ErrnoException).code}` : (e as Error).message);
    }
    const n = isObj(parsed) && isObj(parsed.lessons) ? Object.keys(parsed.lessons).length : 0;
    if (n > MAX_IMPORT_LESSONS) throw new Error(`${file} holds ${n} lessons: an import may hold at most ${MAX_IMPORT_LESSONS} (a stated limit)`);
    const errs = validateProgress(parsed);
    if (errs.length) throw new Error(`${file} is not a dma-lab progress file:\n  ${errs.join('\n  ')}`);
    const f = normalize(parsed as ProgressFile);
    for (const [id, p] of Object.entries(f.lessons)) {
      this.data.lessons[id] = p;
      this.dirty.add(id);
    }
    return Object.keys(f.lessons);
  }
}

/** Where a lesson stands: steps done of total, goals passed of total. */
export interface LessonStanding {
  started: boolean;
  stepsDone: number;
  steps: number;
  goalsPassed: number;
  goals: number;
  cellsRun: number;
  cells: number;
  predictions: number;
  predictionsCorrect: number;
}

/**
 * A `##` step is done when it has been reached, every cell in it has run
 * and every goal in it has passed (a prose-only step: once reached).
 */
export function standing(lesson: Lesson, p: LessonProgress | undefined): LessonStanding {
  const steps = lesson.steps.slice(1);
  const cells = steps.flatMap((s) => s.cells);
  const goals = steps.flatMap((s) => s.goals);
  const ran = new Set(p?.cellsRun ?? []);
  const passed = new Set(p?.goalsPassed ?? []);
  const preds = Object.values(p?.predictions ?? {});
  return {
    started: !!p,
    stepsDone: p ? steps.filter((s) => s.index <= p.furthest && s.cells.every((c) => ran.has(c.id)) && s.goals.every((g) => passed.has(g.id))).length : 0,
    steps: steps.length,
    goalsPassed: goals.filter((g) => passed.has(g.id)).length,
    goals: goals.length,
    cellsRun: cells.filter((c) => ran.has(c.id)).length,
    cells: cells.length,
    predictions: preds.length,
    predictionsCorrect: preds.filter((x) => x.correct).length,
  };
}

/** "3/7 steps, goals 1/2" or "not started". */
export function standingText(s: LessonStanding): string {
  if (!s.started) return 'not started';
  return `${s.stepsDone}/${s.steps} steps${s.goals ? `, goals ${s.goalsPassed}/${s.goals}` : ''}`;
}
