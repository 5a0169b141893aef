/**
 * The review store: drills the learner missed, in Leitner boxes with due
 * dates, beside the lesson progress in the XDG state directory.
 *
 * File: stateDir()/practice.json (DMA_LAB_STATE_DIR overrides the
 * directory; src/env/paths.ts). Format, version 1:
 *
 *   {
 *     "version": 1,
 *     "items": {
 *       "<topic>:<seed>": {                 a drill is (topic, seed): regenerated when asked
 *         "topic": "smmu-event",
 *         "seed": 7,
 *         "box": 1,                         Leitner box 1..5 (1 = missed last time)
 *         "due": "2026-12-05T17:00:00.000Z", when review asks it again (ISO 8601)
 *         "misses": 1,                      wrong answers so far
 *         "rights": 0,                      right answers in review so far
 *         "last": "2026-12-05T17:00:00.000Z" when it was last answered
 *       }
 *     }
 *   }
 *
 * Boxes: a wrong answer (in practice or review) puts the drill in box 1,
 * due at once; a right answer in review moves it up one box, due after
 * BOX_DAYS of the new box (1, 3, 7, 16 days); a right answer in box 5
 * retires it (the item is removed). A right answer in `practice` to a
 * drill that is in the store counts as a review. Drills answered right
 * the first time are never stored.
 *
 * Saves use the progress store's lock and atomic write
 * (src/notebook/progress.ts withLock, writeJsonAtomic): under
 * practice.json.lock, read the file as it is now, apply only the items
 * this process changed, write it back. A file that does not validate is
 * moved aside to practice.json.corrupt-N with a warning.
 */
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stateDir } from '../env/paths.ts';
import { withLock, writeJsonAtomic } from '../notebook/progress.ts';

export const REVIEW_VERSION = 1;
export const MAX_BOX = 5;
/** Days until due after landing in box N (index N - 1). Box 1: due now. */
export const BOX_DAYS = [0, 1, 3, 7, 16] as const;
/** Stated limit: items kept; past it the items in the highest boxes (best known) go first. */
export const MAX_ITEMS = 2000;
const DAY_MS = 86_400_000;

export interface ReviewItem {
  topic: string;
  seed: number;
  box: number;
  due: string;
  misses: number;
  rights: number;
  last: string;
}

export interface ReviewFile {
  version: number;
  items: Record<string, ReviewItem>;
}

export const reviewFile = (): string => join(stateDir(), 'practice.json');
export const itemKey = (topic: string, seed: number): string => `${topic}:${seed}`;

const noProto = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;
const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isDate = (v: unknown): boolean => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const KEY = /^[a-z0-9][a-z0-9-]*:\d+$/;

/** Problems of a parsed file (empty when valid). */
export function validateReview(v: unknown): string[] {
  if (!isObj(v)) return ['the file is not a JSON object'];
  const errs: string[] = [];
  if (v.version !== REVIEW_VERSION) errs.push(`version is ${JSON.stringify(v.version)}, expected ${REVIEW_VERSION}`);
  if (!isObj(v.items)) return [...errs, "'items' must be an object keyed by topic:seed"];
  for (const [k, it] of Object.entries(v.items)) {
    if (!KEY.test(k)) {
      errs.push(`item key ${JSON.stringify(k)} is not topic:seed`);
      continue;
    }
    if (!isObj(it)) {
      errs.push(`items.${k} must be an object`);
      continue;
    }
    if (typeof it.topic !== 'string' || !isCount(it.seed) || itemKey(it.topic, it.seed) !== k) errs.push(`items.${k}: topic and seed must match the key`);
    if (!isCount(it.box) || it.box < 1 || it.box > MAX_BOX) errs.push(`items.${k}.box must be 1..${MAX_BOX}`);
    if (!isCount(it.misses) || !isCount(it.rights)) errs.push(`items.${k}: misses and rights must be counts`);
    if (!isDate(it.due) || !isDate(it.last)) errs.push(`items.${k}: due and last must be ISO 8601 dates`);
  }
  return errs;
}

const copyItem = (i: ReviewItem): ReviewItem => ({ topic: i.topic, seed: i.seed, box: i.box, due: i.due, misses: i.misses, rights: i.rights, last: i.last });

function normalize(items: Record<string, ReviewItem>): ReviewFile {
  const out = noProto<ReviewItem>();
  for (const k of Object.keys(items).sort()) out[k] = copyItem(items[k]!);
  return { version: REVIEW_VERSION, items: out };
}

export class ReviewStore {
  items: Record<string, ReviewItem>;
  /** Keys this process changed or removed since its last save. */
  private dirty = new Set<string>();
  private warnedSave = false;

  private constructor(
    readonly file: string,
    items: Record<string, ReviewItem>,
    private readonly warn: (msg: string) => void,
  ) {
    this.items = items;
  }

  static load(file = reviewFile(), warn: (msg: string) => void = () => {}): ReviewStore {
    if (!existsSync(file)) return new ReviewStore(file, noProto(), warn);
    let problem: string | undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
      problem = validateReview(parsed)[0];
    } catch (e) {
      problem = e instanceof SyntaxError ? `not valid JSON (${e.message})` : (e as Error).message;
    }
    if (problem === undefined) return new ReviewStore(file, normalize((parsed as ReviewFile).items).items, warn);
    let n = 1;
    while (existsSync(`${file}.corrupt-${n}`)) n++;
    try {
      renameSync(file, `${file}.corrupt-${n}`);
      warn(`review file ${file} is unreadable (${problem}); moved it to ${file}.corrupt-${n} and started a fresh one`);
    } catch {
      warn(`review file ${file} is unreadable (${problem}) and cannot be moved aside: review items are kept in memory for this session`);
    }
    return new ReviewStore(file, noProto(), warn);
  }

  get(topic: string, seed: number): ReviewItem | undefined {
    const k = itemKey(topic, seed);
    return own(this.items, k) ? this.items[k] : undefined;
  }

  /** Items due at `now`, earliest first (then by key, so the order is stable). */
  due(now: Date): ReviewItem[] {
    return Object.entries(this.items)
      .filter(([, i]) => Date.parse(i.due) <= now.getTime())
      .sort(([ka, a], [kb, b]) => Date.parse(a.due) - Date.parse(b.due) || a.box - b.box || (ka < kb ? -1 : ka > kb ? 1 : 0))
      .map(([, i]) => i);
  }

  /**
   * Record an answer. `fromReview`: the drill was asked by review (a right
   * answer moves it up); from practice a right answer moves it up only
   * when it is already stored. Returns the item as it is now (undefined
   * when not stored or retired).
   */
  record(topic: string, seed: number, right: boolean, now: Date): { item?: ReviewItem; retired?: boolean; dropped?: number } {
    const k = itemKey(topic, seed);
    const at = now.toISOString();
    const cur = own(this.items, k) ? this.items[k] : undefined;
    this.dirty.add(k);
    if (!right) {
      const item: ReviewItem = { topic, seed, box: 1, due: at, misses: (cur?.misses ?? 0) + 1, rights: cur?.rights ?? 0, last: at };
      this.items[k] = item;
      const dropped = this.trim();
      return dropped ? { item, dropped } : { item };
    }
    if (!cur) return {};
    if (cur.box >= MAX_BOX) {
      delete this.items[k];
      return { retired: true };
    }
    const box = cur.box + 1;
    const item: ReviewItem = { ...cur, box, due: new Date(now.getTime() + BOX_DAYS[box - 1]! * DAY_MS).toISOString(), rights: cur.rights + 1, last: at };
    this.items[k] = item;
    return { item };
  }

  /** Keep at most MAX_ITEMS: drop the highest boxes first, the latest due among them first. Returns how many went. */
  private trim(): number {
    const keys = Object.keys(this.items);
    if (keys.length <= MAX_ITEMS) return 0;
    keys.sort((a, b) => this.items[b]!.box - this.items[a]!.box || Date.parse(this.items[b]!.due) - Date.parse(this.items[a]!.due));
    const drop = keys.slice(0, keys.length - MAX_ITEMS);
    for (const k of drop) {
      delete this.items[k];
      this.dirty.add(k);
    }
    return drop.length;
  }

  private readDisk(): Record<string, ReviewItem> {
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8'));
      if (!validateReview(parsed).length) return normalize((parsed as ReviewFile).items).items;
    } catch {
      /* missing or unreadable: nothing to merge */
    }
    return noProto();
  }

  /** Write this process's changes over the file as it is now, under the progress store's lock. */
  save(): void {
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      withLock(this.file, () => {
        const disk = this.readDisk();
        for (const k of this.dirty) {
          if (own(this.items, k)) disk[k] = this.items[k]!;
          else delete disk[k];
        }
        for (const k of Object.keys(disk)) if (!this.dirty.has(k)) this.items[k] = disk[k]!;
        writeJsonAtomic(this.file, normalize(disk), { mkdir: false });
      });
      this.dirty.clear();
    } catch (e) {
      if (!this.warnedSave) this.warn(`cannot save review items in ${dirname(this.file)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): they are kept in memory for this session`);
      this.warnedSave = true;
    }
  }
}
