/**
 * The lesson library: the `lessons/` directory shipped in the package (or
 * DMA_LAB_LESSONS_DIR, for authors and tests), its files parsed and sorted
 * by file name (NN-slug.md, so NN orders them).
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseLesson, type ParseOptions, type Diagnostic, type Lesson } from './format.ts';
import { LessonFileError, lessonFiles, lessonsDir } from './lesson-files.ts';

// lessonsDir, lessonFiles and LessonFileError live in lesson-files.ts (no parser: the home screen's catalog and the CLI load them first)
export { LessonFileError, lessonFiles, lessonsDir };

export interface LessonEntry {
  file: string;
  /** The front-matter id, or the file's slug when the front matter is unreadable. */
  id: string;
  lesson: Lesson;
  diagnostics: Diagnostic[];
}

/** The slug of a lesson file name: 00-tour.md -> tour. */
export const slugOf = (file: string): string => basename(file).replace(/\.md$/, '').replace(/^\d+[a-z]?-/, '');

/** Stated limit: the size of one lesson file. */
export const MAX_LESSON_BYTES = 1 << 20;

/**
 * Read a lesson file, refusing what is not one: anything but a regular file
 * (a FIFO would block for ever, a device such as /dev/zero never ends), more
 * than MAX_LESSON_BYTES (read with a bounded buffer, so /proc files that
 * claim size 0 cannot grow it), or an I/O error (/proc/self/mem gives EIO).
 */
export function readLessonText(file: string): string {
  const why = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new LessonFileError(`${file}: cannot read: ${why(e)}`);
  }
  if (!st.isFile()) {
    const kind = st.isDirectory() ? 'directory' : st.isFIFO() ? 'FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'device' : st.isSocket() ? 'socket' : 'special file';
    throw new LessonFileError(`${file} is a ${kind}, not a regular file: a lesson is a Markdown file`);
  }
  if (st.size > MAX_LESSON_BYTES) throw new LessonFileError(`${file} is ${st.size} bytes: a lesson may be at most ${MAX_LESSON_BYTES >> 20} MiB (a stated limit)`);
  const buf = Buffer.alloc(MAX_LESSON_BYTES + 1);
  let n = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_LESSON_BYTES) throw new LessonFileError(`${file} is more than ${MAX_LESSON_BYTES >> 20} MiB: a lesson may be at most that (a stated limit)`);
    }
  } catch (e) {
    if (e instanceof LessonFileError) throw e;
    throw new LessonFileError(`${file}: cannot read: ${why(e)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return buf.toString('utf8', 0, n);
}

export function loadLessonFile(file: string, opts: ParseOptions = {}): LessonEntry {
  const text = readLessonText(file);
  const { lesson, diagnostics } = parseLesson(text, file, opts);
  return { file, id: lesson.meta.id || slugOf(file), lesson, diagnostics };
}

export function listLessons(dir = lessonsDir(), opts: ParseOptions = {}): LessonEntry[] {
  return lessonFiles(dir).map((f) => loadLessonFile(f, opts));
}

/**
 * Find a lesson by id, by file name (00-tour or 00-tour.md), by its number
 * (00), or a path to a .md file anywhere (an author's draft). With
 * {light: true} the choice is made on light parses (the id is the front
 * matter's either way) and the entry found is light: findLessonFull.
 */
export function findLesson(ref: string, dir = lessonsDir(), opts: ParseOptions = {}): LessonEntry | undefined {
  // A path that exists is read as a lesson file (readLessonText says why it is not one).
  if (ref.endsWith('.md') && existsSync(ref)) return loadLessonFile(resolve(ref));
  const all = listLessons(dir, opts);
  return (
    all.find((e) => e.id === ref) ??
    all.find((e) => basename(e.file, '.md') === ref || basename(e.file) === ref) ??
    all.find((e) => /^\d+[a-z]?$/.test(ref) && basename(e.file).startsWith(`${ref}-`))
  );
}

/**
 * findLesson, parsing every lesson lightly to choose and only the one found
 * in full (issue 15: `lesson ID` parsed every lesson in full to open one).
 */
export function findLessonFull(ref: string, dir = lessonsDir()): LessonEntry | undefined {
  const e = findLesson(ref, dir, { light: true });
  return e?.lesson.light ? loadLessonFile(e.file) : e;
}
