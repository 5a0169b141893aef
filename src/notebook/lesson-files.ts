/**
 * Where the lesson files are, without parsing any: the home screen's
 * catalog (catalog.ts) needs the list and the CLI needs LessonFileError
 * before markdown-it and yaml are loaded (issue 15: start-up).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** A lesson file that cannot be read, said as a sentence with the path (the CLI prints it; exit 1). */
export class LessonFileError extends Error {}

/** Every lesson file in the directory (README.md and non-.md files are not lessons). */
export function lessonFiles(dir = lessonsDir()): string[] {
  if (!existsSync(dir)) return [];
  const regular = (f: string): boolean => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  };
  // Only regular files: a sibling symlink to /dev/zero or a FIFO is not a lesson.
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md') && f.toLowerCase() !== 'readme.md')
    .sort()
    .map((f) => join(dir, f))
    .filter(regular);
}
