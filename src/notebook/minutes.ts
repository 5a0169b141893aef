/**
 * How long a lesson takes, measured from what it makes a reader read and do
 * (issue 13: the front matter's minutes were guesses, 2-3x too low).
 *
 * The lesson is run as `dma-lab lesson ID` prints it (every cell, every
 * goal's solution), and five things are counted: words of prose (with the
 * predictions' questions, choices and explanations, the goals' words and
 * hints), commands in cells, lines of output those commands print,
 * predictions, and goals. Each count has a rate:
 *
 *   prose        200 words a minute. Brysbaert (2019, "How many words do we
 *                read per minute?", J. Memory and Language 109) puts silent
 *                reading of English non-fiction at about 238; technical text
 *                read closely is slower, and 200 is our choice.
 *   commands     15 s each: read the line, run it (⏎ in a cell).
 *   output       3 s a line: register dumps, tables and log lines are read
 *                against the prose, not skimmed like text.
 *   predictions  1 min each: think, choose or type, read the feedback.
 *   goals        4 min each when the reader changes the machine to pass
 *                checks; 2 min for a typed answer read off the machine.
 *
 * The total is rounded up to a multiple of 5. These are rates, not
 * timings of learners: no lesson has been timed with readers yet, and
 * lessons/README.md says so. `dma-lab lesson ID --minutes` prints the
 * counts; test/notebook/minutes.test.ts keeps every front matter equal to
 * this measure, so the minutes follow the lessons as they change.
 */
import { renderLines } from '../commands/render.ts';
import { Notebook } from './engine.ts';
import { cellCommands, type Lesson } from './format.ts';
import { docText, renderProse } from './prose.ts';

export const RATES = {
  wordsPerMinute: 200,
  secondsPerCommand: 15,
  secondsPerOutputLine: 3,
  minutesPerPrediction: 1,
  minutesPerGoal: 4,
  minutesPerTypedGoal: 2,
} as const;

export interface LessonMeasure {
  words: number;
  commands: number;
  outputLines: number;
  predictions: number;
  goals: number;
  typedGoals: number;
  /** Unrounded minutes by the rates above. */
  exact: number;
  /** Rounded up to a multiple of 5: what the front matter should say. */
  minutes: number;
}

const words = (s: string): number => s.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;

/** Count and rate a lesson (runs it on a fresh machine; read-only to the caller). */
export function measureLesson(lesson: Lesson): LessonMeasure {
  const nb = Notebook.forLesson(lesson, { step: 0, prepare: false, now: () => new Date(0) });
  const m = { words: 0, commands: 0, outputLines: 0, predictions: 0, goals: 0, typedGoals: 0 };
  for (const s of lesson.steps) {
    nb.goto(s.index);
    m.words += words(s.title);
    for (const b of s.blocks) {
      if (b.kind === 'prose') {
        m.words += renderProse(b.tokens, { width: 100, marks: false }).map(docText).reduce((n, l) => n + words(l), 0);
      } else if (b.kind === 'cell') {
        const c = b.cell;
        if (c.predict) {
          m.predictions++;
          m.words += words(c.predict.question) + words((c.predict.choices ?? []).join(' ')) + words(c.predict.explain);
        }
        m.commands += cellCommands(c).length;
        const r = nb.runCell(c.id);
        for (const e of r?.entries ?? []) {
          const o = e.outcome;
          if (o.ok && !o.empty) m.outputLines += renderLines(o.result.lines, false).split('\n').length;
          else if (!o.ok) m.outputLines += 3;
        }
      } else {
        const g = b.goal;
        m.words += words(g.title) + words(g.hints.join(' ')) + g.checks.reduce((n, c) => n + words(c.say ?? ''), 0);
        if (g.answer) {
          m.typedGoals++;
          nb.answerGoal(g.id, g.solution);
        } else {
          m.goals++;
          nb.runFree(g.solution);
        }
      }
    }
  }
  const exact =
    m.words / RATES.wordsPerMinute +
    (m.commands * RATES.secondsPerCommand) / 60 +
    (m.outputLines * RATES.secondsPerOutputLine) / 60 +
    m.predictions * RATES.minutesPerPrediction +
    m.goals * RATES.minutesPerGoal +
    m.typedGoals * RATES.minutesPerTypedGoal;
  return { ...m, exact, minutes: Math.max(5, Math.ceil(exact / 5) * 5) };
}

/** The counts as a few lines for `dma-lab lesson ID --minutes`. */
export function formatMeasure(lesson: Lesson, m: LessonMeasure): string {
  const r = RATES;
  const row = (what: string, n: number, min: number): string => `  ${what.padEnd(26)} ${String(n).padStart(6)}  ${min.toFixed(1).padStart(5)} min`;
  return [
    `${lesson.meta.id}: ${m.minutes} minutes by the lab's reading rates (front matter says ${lesson.meta.minutes}${lesson.meta.minutes === m.minutes ? '' : ': out of date'})`,
    row(`words of prose @${r.wordsPerMinute}/min`, m.words, m.words / r.wordsPerMinute),
    row(`commands @${r.secondsPerCommand} s`, m.commands, (m.commands * r.secondsPerCommand) / 60),
    row(`output lines @${r.secondsPerOutputLine} s`, m.outputLines, (m.outputLines * r.secondsPerOutputLine) / 60),
    row(`predictions @${r.minutesPerPrediction} min`, m.predictions, m.predictions * r.minutesPerPrediction),
    row(`goals @${r.minutesPerGoal} min`, m.goals, m.goals * r.minutesPerGoal),
    row(`typed-answer goals @${r.minutesPerTypedGoal} min`, m.typedGoals, m.typedGoals * r.minutesPerTypedGoal),
    `  total ${m.exact.toFixed(1)} min, rounded up to ${m.minutes} (rates, not learner timings: src/notebook/minutes.ts)`,
  ].join('\n');
}
