/**
 * The lesson library: the `lessons/` directory shipped in the package (or
 * DMA_LAB_LESSONS_DIR, for authors and tests), its files parsed and sorted
 * by file name (NN-slug.md, so NN orders them).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLesson, type ParseOptions, type Diagnostic, type Lesson } from './format.ts';

/**
 * Where the lessons are. The code runs from src/notebook (tsx) or from
 * dist/ or dist/chunks/ (the bundle), so walk up from this module to the
 * directory that holds both package.json and lessons/.
 */
export function lessonsDir(): string {
  const o = process.env.DMA_LAB_LESSONS_DIR;
  if (o) return resolve(o);
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'lessons'))) return join(d, 'lessons');
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return join(process.cwd(), 'lessons');
}

export interface LessonEntry {
  file: string;
  /** The front-matter id, or the file's slug when the front matter is unreadable. */
  id: string;
  lesson: Lesson;
  diagnostics: Diagnostic[];
}

/** The slug of a lesson file name: 00-tour.md -> tour. */
export const slugOf = (file: string): string => basename(file).replace(/\.md$/, '').replace(/^\d+-/, '');

export function loadLessonFile(file: string, opts: ParseOptions = {}): LessonEntry {
  const text = readFileSync(file, 'utf8');
  const { lesson, diagnostics } = parseLesson(text, file, opts);
  return { file, id: lesson.meta.id || slugOf(file), lesson, diagnostics };
}

/** Every lesson file in the directory (README.md and non-.md files are not lessons). */
export function lessonFiles(dir = lessonsDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md') && f.toLowerCase() !== 'readme.md')
    .sort()
    .map((f) => join(dir, f));
}

export function listLessons(dir = lessonsDir(), opts: ParseOptions = {}): LessonEntry[] {
  return lessonFiles(dir).map((f) => loadLessonFile(f, opts));
}

/**
 * Find a lesson by id, by file name (00-tour or 00-tour.md), by its number
 * (00), or a path to a .md file anywhere (an author's draft).
 */
export function findLesson(ref: string, dir = lessonsDir()): LessonEntry | undefined {
  if (ref.endsWith('.md') && existsSync(ref) && statSync(ref).isFile()) return loadLessonFile(resolve(ref));
  const all = listLessons(dir);
  return (
    all.find((e) => e.id === ref) ??
    all.find((e) => basename(e.file, '.md') === ref || basename(e.file) === ref) ??
    all.find((e) => /^\d+$/.test(ref) && basename(e.file).startsWith(`${ref}-`))
  );
}
