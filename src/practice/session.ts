/**
 * A practice or review session: ask drills, judge the answers, explain,
 * record misses in the review store. Input and output go through `io`, so
 * the same code serves a terminal (readline prompt), a pipe (one answer a
 * line, echoed after its prompt so a transcript reads like a session) and
 * the tests.
 *
 * Typed at a prompt: an answer; `?` gives up on the drill (shows the
 * answer, counts as missed); `q` ends the session. End of input ends it
 * too; a drill cut short by either is not recorded.
 */
import type { Drill } from './drill.ts';
import { judge, headLines, solveLines } from './drill.ts';
import { makeDrill, sessionDrills, topicByName, type Topic } from './topics.ts';
import { type ReviewStore, MAX_ITEMS } from './review-store.ts';

export interface PracticeIo {
  out(s: string): void;
  err(s: string): void;
  /** The next answer typed after `prompt`; undefined at the end of input. */
  ask(prompt: string): Promise<string | undefined>;
  now(): Date;
}

export interface SessionResult {
  asked: number;
  right: number;
  missed: number;
  /** The session ended before every drill was answered (q or end of input). */
  stopped: boolean;
}

type Outcome = 'right' | 'wrong' | 'stop';

/** Ask one drill: every ask in turn, then the verdicts, the working when something was wrong, the explanation. */
export async function askDrill(d: Drill, io: PracticeIo): Promise<Outcome> {
  io.out(headLines(d).join('\n') + '\n');
  io.out('answer (numbers as 0x… or decimal; ? shows the answer, q ends):\n');
  for (const a of d.asks) io.out(`  ${a.prompt}: ${a.format}\n`);
  const results: { ok: boolean; given: string }[] = [];
  let gaveUp = false;
  for (const a of d.asks) {
    if (gaveUp) {
      results.push({ ok: false, given: '' });
      continue;
    }
    for (;;) {
      const line = await io.ask(`${a.prompt}> `);
      if (line === undefined) return 'stop';
      const t = line.trim();
      if (t === 'q' || t === 'quit') return 'stop';
      if (t === '?') {
        gaveUp = true;
        results.push({ ok: false, given: '' });
        break;
      }
      if (t === '') continue;
      const v = judge(a, t);
      if (!v.ok && v.unreadable) {
        io.out(`  ${v.unreadable}\n`);
        continue;
      }
      results.push({ ok: v.ok, given: t });
      break;
    }
  }
  const allRight = results.every((r) => r.ok);
  d.asks.forEach((a, i) => {
    const r = results[i]!;
    io.out(r.ok ? `  right: ${a.prompt} ${a.show}\n` : `  ${r.given ? `wrong: ${a.prompt} is` : `${a.prompt}:`} ${a.show}${r.given ? ` (you typed ${r.given})` : ''}\n`);
  });
  if (!allRight) io.out(['working:', ...d.working.map((w) => `  ${w}`)].join('\n') + '\n');
  io.out(`${d.explanation}\n\n`);
  return allRight ? 'right' : 'wrong';
}

/** Run drills, record each answered one; returns the tally. */
export async function runDrills(list: { topic: Topic; seed: number }[], io: PracticeIo, store: ReviewStore | undefined, review: boolean): Promise<SessionResult> {
  const res: SessionResult = { asked: 0, right: 0, missed: 0, stopped: false };
  for (const { topic, seed } of list) {
    const d = makeDrill(topic, seed);
    const o = await askDrill(d, io);
    if (o === 'stop') {
      res.stopped = true;
      break;
    }
    res.asked++;
    if (o === 'right') res.right++;
    else res.missed++;
    if (store) {
      const r = store.record(topic.name, seed, o === 'right', io.now());
      if (r.dropped) io.out(`  (the review store keeps at most ${MAX_ITEMS} drills, a stated limit: ${r.dropped} dropped from the highest boxes)\n`);
      if (r.retired) io.out(`  (${topic.name} --seed ${seed} is retired from review: right in the last box)\n\n`);
      else if (r.item && (review || o === 'wrong')) io.out(`  (${topic.name} --seed ${seed}: review box ${r.item.box}, due ${r.item.box === 1 ? 'now' : r.item.due.slice(0, 10)})\n\n`);
      store.save();
    }
  }
  return res;
}

export function summaryLine(r: SessionResult, review: boolean): string {
  const tail = r.missed ? `; ${r.missed === 1 ? 'the missed drill comes' : 'the missed drills come'} back in 'dma-lab review'` : '';
  return `${r.stopped ? 'stopped: ' : ''}${r.right} of ${r.asked} ${review ? 'reviewed ' : ''}right${tail}`;
}

/** `practice --solve`: every drill with its answer and working, nothing asked or recorded. */
export function solveAll(list: { topic: Topic; seed: number }[], io: Pick<PracticeIo, 'out'>): void {
  list.forEach(({ topic, seed }, i) => {
    io.out(solveLines(makeDrill(topic, seed)).join('\n') + '\n' + (i < list.length - 1 ? '\n' : ''));
  });
}

export { sessionDrills, topicByName };
