/**
 * `dma-lab practice [TOPIC] [--seed N] [--count N] [--solve]` and
 * `dma-lab review [--count N]`: argument checks, the terminal or piped
 * answer source, and the review store. main.ts parses the options
 * (node:util parseArgs) and hands them here.
 *
 * Exit status: 0 every answered drill was right (or --solve, or nothing
 * due); 1 a drill was missed; 2 a usage error (the bad token, what was
 * expected, what to try).
 */
import { randomInt } from 'node:crypto';
import { createInterface } from 'node:readline';
import { createInterface as createPromptInterface } from 'node:readline/promises';
import { closest } from 'fastest-levenshtein';
import { TOPICS, MAX_SEED, topicByName, sessionDrills } from './topics.ts';
import { runDrills, solveAll, summaryLine, type PracticeIo } from './session.ts';
import { ReviewStore, MAX_BOX } from './review-store.ts';

/** Stated limit: drills in one session. */
export const MAX_COUNT = 100;
export const DEFAULT_COUNT = 5;

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

export class PracticeUsageError extends Error {}

function readWhole(opt: string, text: string | undefined, max: number, example: string): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n > max) throw new PracticeUsageError(`${opt} takes a whole number from ${opt === '--count' ? 1 : 0} to ${max}, not '${text}'; try ${opt} ${example}`);
  return n;
}

export function parseCount(text: string | undefined, dflt: number): number {
  const n = readWhole('--count', text, Number.MAX_SAFE_INTEGER, '3');
  if (n === undefined) return dflt;
  if (n === 0) throw new PracticeUsageError(`--count takes a whole number from 1 to ${MAX_COUNT}, not '${text}'; try --count 3`);
  if (n > MAX_COUNT) throw new PracticeUsageError(`--count ${text} is more than the limit of ${MAX_COUNT} drills a session (a stated limit); try --count ${MAX_COUNT}`);
  return n;
}

const topicList = (): string => TOPICS.map((t) => t.name).join(', ');

export function topicsText(): string {
  return ['practice topics:', ...TOPICS.map((t) => `  ${t.name.padEnd(12)}${t.summary}`)].join('\n');
}

/** The answer source: a readline prompt on a terminal, else one line of stdin per answer (echoed). */
function stdinIo(io: CliIo, tty: boolean): PracticeIo & { close(): void } {
  const now = (): Date => {
    // DMA_LAB_NOW (ISO 8601) fixes the clock for tests of due dates.
    const fixed = process.env.DMA_LAB_NOW;
    return fixed && !Number.isNaN(Date.parse(fixed)) ? new Date(fixed) : new Date();
  };
  if (tty) {
    const rl = createPromptInterface({ input: process.stdin, output: process.stdout });
    let closed = false;
    rl.on('close', () => (closed = true));
    // Ctrl-C ends the session like q (without a listener readline would only pause the input).
    rl.on('SIGINT', () => {
      io.out('\n');
      rl.close();
    });
    return {
      ...io,
      now,
      ask(prompt) {
        if (closed) return Promise.resolve(undefined);
        // Ctrl-D, Ctrl-C or a closed input: the pending question ends with no answer.
        return new Promise<string | undefined>((resolve) => {
          const onClose = (): void => resolve(undefined);
          rl.once('close', onClose);
          rl.question(prompt).then(
            (a) => {
              rl.off('close', onClose);
              resolve(a);
            },
            () => {
              rl.off('close', onClose);
              resolve(undefined);
            },
          );
        });
      },
      close: () => rl.close(),
    };
  }
  const rl = createInterface({ input: process.stdin, terminal: false });
  const it = rl[Symbol.asyncIterator]();
  // A piped answer is echoed after its prompt, so the output reads as a transcript; typed
  // on a terminal (stdout piped elsewhere) the terminal has echoed it already.
  const echo = !process.stdin.isTTY;
  return {
    ...io,
    now,
    async ask(prompt) {
      io.out(prompt);
      const r = await it.next();
      if (r.done) {
        io.out('\n');
        return undefined;
      }
      if (echo) io.out(`${r.value}\n`);
      return r.value;
    },
    close: () => rl.close(),
  };
}

export interface PracticeArgs {
  topic?: string;
  seed?: string;
  count?: string;
  solve?: boolean;
}

export async function cmdPractice(a: PracticeArgs, io: CliIo, o: { tty: boolean }): Promise<number> {
  let topic;
  if (a.topic !== undefined) {
    topic = topicByName(a.topic);
    if (!topic) {
      // A part of a name ('smmu', 'dmar') means that topic; else the nearest spelling.
      const names = TOPICS.map((t) => t.name);
      const low = a.topic.toLowerCase();
      const near = (low.length >= 3 && names.find((n) => n.includes(low) || low.includes(n))) || closest(low, names);
      throw new PracticeUsageError(`unknown practice topic '${a.topic}': expected one of ${topicList()}; try 'dma-lab practice ${near}'`);
    }
  }
  const given = readWhole('--seed', a.seed, MAX_SEED, '42');
  const count = parseCount(a.count, a.solve ? 1 : DEFAULT_COUNT);
  const seed = given ?? randomInt(0, 1_000_000);
  const list = sessionDrills(topic, seed, count);
  if (a.solve) {
    solveAll(list, io);
    return 0;
  }
  if (given === undefined) io.out(`seed ${seed} (the same drills again: --seed ${seed})\n\n`);
  const store = ReviewStore.load(undefined, (m) => io.err(`dma-lab: ${m}\n`));
  const sio = stdinIo(io, o.tty);
  try {
    const r = await runDrills(list, sio, store, false);
    io.out(summaryLine(r, false) + '\n');
    return r.missed ? 1 : 0;
  } finally {
    sio.close();
  }
}

/** "box 1: 2, box 3: 1": how many drills wait in each occupied box. */
function boxesText(items: { box: number }[]): string {
  const n = new Map<number, number>();
  for (const i of items) n.set(i.box, (n.get(i.box) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => a[0] - b[0]).map(([b, c]) => `box ${b}: ${c}`).join(', ');
}

export async function cmdReview(a: { count?: string }, io: CliIo, o: { tty: boolean }): Promise<number> {
  const count = parseCount(a.count, 20);
  const store = ReviewStore.load(undefined, (m) => io.err(`dma-lab: ${m}\n`));
  const sio = stdinIo(io, o.tty);
  try {
    const now = sio.now();
    const all = Object.values(store.items);
    const due = store.due(now);
    if (!due.length) {
      if (!all.length) io.out("nothing to review: drills you miss in 'dma-lab practice' come back here\n");
      else {
        const next = all.map((i) => i.due).sort()[0]!;
        io.out(`nothing due now; ${all.length} drill${all.length === 1 ? '' : 's'} waiting (${boxesText(all)}), the next due ${next.slice(0, 16).replace('T', ' ')} UTC\n`);
      }
      return 0;
    }
    const list = [];
    for (const i of due.slice(0, count)) {
      const t = topicByName(i.topic);
      if (t) list.push({ topic: t, seed: i.seed });
      else io.err(`dma-lab: review item ${i.topic}:${i.seed} names a topic this version does not have; skipped\n`);
    }
    io.out(`${due.length} drill${due.length === 1 ? '' : 's'} due${due.length > list.length ? `, asking ${list.length}` : ''} (boxes 1-${MAX_BOX}: a right answer moves a drill up and makes it due later)\n\n`);
    const r = await runDrills(list, sio, store, true);
    io.out(summaryLine(r, true) + '\n');
    return r.missed ? 1 : 0;
  } finally {
    sio.close();
  }
}

export { sessionDrills };
