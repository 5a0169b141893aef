/**
 * The home screen's lesson list without parsing a lesson (issue 15). A list
 * entry is a light parse (library.ts, ParseOptions.light) with the text and
 * the prose tokens dropped: titles, minutes, steps, cell and goal ids, the
 * diagnostics. They are kept in the XDG cache directory, one JSON file per
 * lessons directory, each entry under its file's mtime, size and inode and
 * the build that parsed it; a file whose stat differs is parsed again (and
 * only then are markdown-it and yaml loaded). The cache is an optimisation
 * only: unreadable, corrupt or unwritable, it is ignored and the list is
 * parsed as before. Without a build id (running from source through tsx)
 * nothing is cached, so a changed parser can never meet a stale entry.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../env/paths.ts';
import type { LessonEntry } from './library.ts';
import { lessonFiles, lessonsDir } from './lesson-files.ts';

declare const __DMA_LAB_BUILD__: string | undefined;

/** The build's id (a hash of the sources, scripts/build.mjs), or undefined from source. */
export const buildId = (): string | undefined => (typeof __DMA_LAB_BUILD__ === 'string' ? __DMA_LAB_BUILD__ : undefined);

/** Bump when the shape of a cached entry changes. */
const FORMAT = 1;
/** Stated limit: a cache file larger than this is not read (it is rebuilt). */
const MAX_CACHE_BYTES = 8 << 20;

interface Stamp {
  mtimeMs: number;
  size: number;
  ino: number;
}
interface CacheFile {
  format: number;
  build: string;
  entries: Record<string, Stamp & { entry: LessonEntry }>;
}

export interface CatalogOptions {
  dir?: string;
  /** The cache file; null: no cache. Default: cacheDir()/lessons-HASH.json for the directory. */
  cacheFile?: string | null;
  /** Default: buildId(); without one nothing is cached. */
  build?: string;
}

/** A light entry without what the list never shows: the text and the prose tokens. */
export function catalogEntry(e: LessonEntry): LessonEntry {
  const l = e.lesson;
  return {
    ...e,
    lesson: { ...l, text: '', steps: l.steps.map((s) => ({ ...s, blocks: s.blocks.map((b) => (b.kind === 'prose' ? { ...b, tokens: [] } : b)) })) },
  };
}

const stamp = (f: string): Stamp => {
  const st = statSync(f);
  return { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
};
const same = (a: Stamp, b: Stamp): boolean => a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;

/** The shape home reads: a damaged entry is parsed again rather than drawn. */
const usable = (f: string, h: unknown): h is Stamp & { entry: LessonEntry } => {
  const x = h as { entry?: { file?: unknown; id?: unknown; diagnostics?: unknown; lesson?: { meta?: unknown; steps?: unknown } } } | null;
  const e = x?.entry;
  return !!e && e.file === f && typeof e.id === 'string' && Array.isArray(e.diagnostics) && !!e.lesson && typeof e.lesson.meta === 'object' && e.lesson.meta !== null && Array.isArray(e.lesson.steps);
};

function readCache(file: string, build: string): CacheFile['entries'] {
  try {
    if (statSync(file).size > MAX_CACHE_BYTES) return {};
    const c = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
    if (c && c.format === FORMAT && c.build === build && c.entries && typeof c.entries === 'object') return c.entries;
  } catch {
    /* no cache yet, or not one we can use */
  }
  return {};
}

function writeCache(file: string, c: CacheFile): void {
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    // another dma-lab may write the same file: each writes its own, then renames (atomic)
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(c));
    renameSync(tmp, file);
  } catch {
    /* a read-only cache directory costs a parse next time, nothing else */
  }
}

/** The lesson list for the home screen, in file order (as listLessons(dir, {light: true}), without text and prose tokens). */
export async function lessonCatalog(o: CatalogOptions = {}): Promise<LessonEntry[]> {
  const dir = o.dir ?? lessonsDir();
  const build = o.build ?? buildId();
  const file = o.cacheFile === undefined ? join(cacheDir(), `lessons-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.json`) : o.cacheFile;
  const cached = build && file ? readCache(file, build) : {};
  const entries: CacheFile['entries'] = {};
  const out: LessonEntry[] = [];
  let parse: typeof import('./library.ts').loadLessonFile | undefined;
  let changed = false;
  for (const f of lessonFiles(dir)) {
    const st = stamp(f);
    const hit = cached[f];
    if (hit && usable(f, hit) && same(hit, st)) {
      entries[f] = hit;
      out.push(hit.entry);
      continue;
    }
    parse ??= (await import('./library.ts')).loadLessonFile;
    const e = catalogEntry(parse(f, { light: true }));
    entries[f] = { ...st, entry: e };
    out.push(e);
    changed = true;
  }
  if (Object.keys(cached).some((f) => !(f in entries))) changed = true;
  if (build && file && changed) writeCache(file, { format: FORMAT, build, entries });
  return out;
}
