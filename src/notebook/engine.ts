/**
 * The notebook engine: one open lesson (or a bare machine) on one Session.
 * It runs cells and the reader's own commands through `Session.execute`,
 * re-checks the step's goals after every command (through `Session.peek`,
 * so checking leaves no mark), takes predictions, gives hints and
 * solutions, moves between steps, and records progress. No terminal, no
 * React: the Ink UI, `lesson --check` and the plain-text printer all drive
 * this class.
 *
 * Step snapshots are a replay log. Every line run on the session is kept
 * in order; because the model is deterministic (DESIGN.md: same commands,
 * same preset, same bytes), "the machine when the step began" is a fresh
 * machine with the log up to that point replayed: memory, devices, undo
 * history, `$` and the xp format all come back exactly, whatever commands
 * ran, and no model code needs to know about lessons.
 *
 * Resuming: what the reader does (cells run, edits, their own commands,
 * step moves, resets) is kept in progress as a work log, and a reopened
 * lesson replays it, so the machine, the outputs and the reader's commands
 * come back as they left them, not the solutions. When there is no work
 * log, when the lesson text changed since it was recorded, or when it hit
 * its stated limit, the machine for the saved step N is rebuilt by running
 * the cells and goal solutions of the steps before N (what `lesson
 * --check` does).
 */
import type { Line } from '../inspect/view.ts';
import { createSession } from '../commands/index.ts';
import { sameAnswer } from './answers.ts';
import type { Session, Outcome } from '../commands/session.ts';
import type { MemoryFocus } from '../commands/panes.ts';
import { cellCommands, toBig, type Cell, type Goal, type Lesson, type Predict, type Step } from './format.ts';
import { captureBaselines, evaluateGoal, observe, show, valueAt, type GoalResult, type Observation } from './checks.ts';
import { createHash } from 'node:crypto';
import { emptyLessonProgress, MAX_WORK_ACTIONS, MAX_WORK_LINE, type LessonProgress, type WorkAction } from './progress.ts';

/** One command run and what came of it. */
export interface Entry {
  line: string;
  outcome: Outcome;
  /** The cell line said `# expect error`. */
  expectError?: boolean;
}

export interface CellRun {
  /** The cell text that ran (the reader may have edited it). */
  source: string[];
  entries: Entry[];
  /** A command failed that was not meant to (the rest of the cell did not run), or one meant to fail did not. */
  failed: boolean;
  /** The prediction made before this run. */
  prediction?: PredictionResult;
  /** Run by the engine to rebuild the machine when the lesson resumed, not by the reader. */
  replayed?: boolean;
}

export interface GoalState {
  /** Passed at least once (kept in progress). */
  passed: boolean;
  /** The latest evaluation (undefined until the step's first command). */
  result?: GoalResult;
  /** Hints shown so far. */
  hints: number;
  /** The solution was asked for (`s`) before the goal passed. */
  solution?: boolean;
  /** A typed-answer goal: the reader's last answer, when it was not right. */
  wrong?: string;
}

export interface NotebookOptions {
  /** The lesson's progress record: read to resume, written as the reader works. */
  progress?: LessonProgress;
  /** Open at this step instead of the saved one. */
  step?: number;
  /** Rebuild the machine for the starting step by running the earlier steps' cells and solutions (default true). */
  prepare?: boolean;
  now?: () => Date;
}


export { sameAnswer } from './answers.ts';

/** Which lesson text a work log was recorded on: 16 hex digits of the SHA-256 of the text. */
export const lessonHash = (l: Lesson): string => createHash('sha256').update(l.text).digest('hex').slice(0, 16);

export interface PredictionResult {
  answer: string;
  correct: boolean;
  confidence?: number;
  /** The author's feedback for this wrong answer. */
  feedback?: string;
}

/** The author's feedback for a wrong answer, if any. */
export function feedbackFor(p: Predict, rec: { answer: string; correct: boolean }): { feedback?: string } {
  if (rec.correct) return {};
  const f = p.feedback?.find((x) => sameAnswer(rec.answer, x.answer));
  return f ? { feedback: f.text } : {};
}

export class Notebook {
  session: Session;
  step = 0;
  readonly progress: LessonProgress;
  /** Cell text edited by the reader, by cell id. */
  readonly edits = new Map<string, string[]>();
  /** The latest run of each cell, by cell id. */
  readonly runs = new Map<string, CellRun>();
  /** The reader's own commands, by step. */
  readonly free = new Map<number, Entry[]>();
  readonly goals = new Map<string, GoalState>();
  /** The memory the last command looked at or changed (the memory pane follows it). */
  focus: MemoryFocus | undefined;
  /** The last `walk` the reader or a cell ran: its line and output (the walk pane shows it). */
  lastWalk: { line: string; lines: Line[] } | undefined;
  /** Bumped on every change; the UI re-renders on it. */
  version = 0;
  /** What resuming ran to rebuild the machine, and which of those commands failed. */
  prepared = { cells: 0, solutions: 0, failures: [] as string[] };
  /** What reopening replayed from the reader's own work (progress.work), or why it did not. */
  restored = { actions: 0, cells: 0, commands: 0, skipped: undefined as undefined | 'truncated' | 'lesson-changed' };
  /** Actions are kept in progress.work (off while replaying). */
  private recording = false;
  private log: string[] = [];
  private stepStart = 0;
  private baselines = new Map<string, Observation>();

  private constructor(
    readonly lesson: Lesson | undefined,
    readonly preset: string,
    readonly options: ReadonlyMap<string, string>,
    progress: LessonProgress | undefined,
  ) {
    this.session = createSession(preset, options);
    this.progress = progress ?? emptyLessonProgress();
  }

  /** Open a lesson (throws CommandError when its machine or options are not valid). */
  static forLesson(lesson: Lesson, o: NotebookOptions = {}): Notebook {
    const nb = new Notebook(lesson, lesson.meta.machine, new Map(Object.entries(lesson.meta.options)), o.progress);
    nb.progress.lastOpened = (o.now ?? (() => new Date()))().toISOString();
    for (const g of lesson.steps.flatMap((s) => s.goals)) {
      const passed = nb.progress.goalsPassed.includes(g.id);
      const help = nb.progress.goalHelp?.[g.id];
      // help taken in an earlier session still counts (and its hints are shown again)
      nb.goals.set(g.id, { passed, hints: passed ? 0 : Math.min(help?.hints ?? 0, g.hints.length), ...(!passed && help?.solution ? { solution: true } : {}) });
    }
    const start = Math.min(Math.max(0, o.step ?? nb.progress.step), lesson.steps.length - 1);
    const hash = lessonHash(lesson);
    const work = nb.progress.work;
    if (o.prepare !== false && work && work.lesson === hash && !work.truncated && work.actions.length) {
      nb.replayWork(work.actions);
      nb.recording = true;
      if (nb.step !== start) nb.goto(start);
    } else {
      if (o.prepare !== false && work?.actions.length) nb.restored.skipped = work.truncated ? 'truncated' : 'lesson-changed';
      if (o.prepare !== false) nb.prepareTo(start);
      nb.progress.work = { lesson: hash, actions: o.prepare !== false && start > 0 ? [{ p: start }, { g: start }] : [{ g: start }] };
      nb.goto(start);
    }
    nb.recording = true;
    return nb;
  }

  /** Free exploration: a machine, the input line, the panes; no lesson. */
  static forMachine(preset: string, options: ReadonlyMap<string, string> = new Map()): Notebook {
    return new Notebook(undefined, preset, options, undefined);
  }

  /** The machine now (a `machine` or `set` command can change it from the lesson's). */
  get machineName(): string {
    return this.session.system.preset.name;
  }

  get steps(): Step[] {
    return this.lesson?.steps ?? [];
  }
  get current(): Step | undefined {
    return this.lesson?.steps[this.step];
  }
  /** Number of `##` steps (the introduction is not counted). */
  get stepCount(): number {
    return Math.max(0, this.steps.length - 1);
  }

  cell(id: string): Cell | undefined {
    for (const s of this.steps) for (const c of s.cells) if (c.id === id) return c;
    return undefined;
  }

  /** The text a cell will run: the reader's edit, or the lesson's. */
  cellSource(c: Cell): string[] {
    return this.edits.get(c.id) ?? c.source;
  }

  editCell(id: string, source: string[]): void {
    const c = this.cell(id);
    if (!c) return;
    if (source.join('\n') === c.source.join('\n')) this.edits.delete(id);
    else this.edits.set(id, source);
    this.version++;
  }

  /** Run a line on the session, keep it in the replay log, follow its focus. */
  private exec(line: string): Outcome {
    const o = this.session.execute(line);
    if (!(o.ok && o.empty)) this.log.push(line);
    if (o.ok && !o.empty && o.result.focus) this.focus = o.result.focus;
    if (o.ok && !o.empty && o.result.kind === 'walk') this.lastWalk = { line: line.trim(), lines: o.result.lines };
    return o;
  }

  /** The prediction a cell still waits for (none once made, or when the cell has none). */
  pendingPrediction(id: string): Predict | undefined {
    const c = this.cell(id);
    if (!c?.predict || this.progress.predictions[id]) return undefined;
    return c.predict;
  }

  /**
   * Record a prediction. With choices, a number picks a choice (1 = the
   * first). See `sameAnswer` for how answers compare. `confidence` is 1
   * (guessing), 2 (fairly sure) or 3 (certain) when the reader said.
   */
  predict(id: string, answer: string, confidence?: number): PredictionResult | undefined {
    const p = this.cell(id)?.predict;
    if (!p) return undefined;
    let a = answer.trim();
    if (p.choices && /^\d+$/.test(a) && Number(a) >= 1 && Number(a) <= p.choices.length) a = p.choices[Number(a) - 1]!;
    const correct = [p.answer, ...(p.accept ?? [])].some((x) => sameAnswer(a, x));
    const rec = { answer: a, correct, ...(confidence !== undefined && [1, 2, 3].includes(confidence) ? { confidence } : {}) };
    this.progress.predictions[id] = rec;
    this.version++;
    return { ...rec, ...feedbackFor(p, rec) };
  }

  /**
   * The blocks of the current step the reader may see: everything up to and
   * including the first cell whose prediction is still to be made, or the
   * first typed-answer goal not yet passed. What follows a question (prose,
   * cells, goals) could answer it.
   */
  revealed(step: Step | undefined = this.current): { blocks: Step['blocks']; hidden: number } {
    const blocks = step?.blocks ?? [];
    const i = blocks.findIndex((b) => (b.kind === 'cell' && this.pendingPrediction(b.cell.id)) || (b.kind === 'goal' && b.goal.answer && !this.goals.get(b.goal.id)?.passed));
    return i < 0 ? { blocks, hidden: 0 } : { blocks: blocks.slice(0, i + 1), hidden: blocks.length - i - 1 };
  }

  /** Run a cell's commands in order; stops at the first unexpected failure. */
  runCell(id: string, opts: { replayed?: boolean } = {}): CellRun | undefined {
    const c = this.cell(id);
    if (!c) return undefined;
    const source = this.cellSource(c);
    const run: CellRun = { source, entries: [], failed: false };
    const pred = this.progress.predictions[id];
    if (pred && c.predict && !opts.replayed) run.prediction = { ...pred, ...feedbackFor(c.predict, pred) };
    for (const cmd of cellCommands({ ...c, source })) {
      const outcome = this.exec(cmd.text);
      run.entries.push({ line: cmd.text, outcome, ...(cmd.expectError ? { expectError: true } : {}) });
      if (outcome.ok === !!cmd.expectError) {
        run.failed = true;
        break;
      }
    }
    if (opts.replayed) run.replayed = true;
    else this.record(this.edits.has(id) ? { c: id, src: [...source] } : { c: id });
    this.runs.set(id, run);
    if (!opts.replayed && !this.progress.cellsRun.includes(id)) this.progress.cellsRun.push(id);
    if (!opts.replayed) this.checkGoals();
    this.version++;
    return run;
  }

  /** Run one of the reader's own commands. */
  runFree(line: string): Entry | undefined {
    if (!line.trim()) return undefined;
    const outcome = this.exec(line);
    const e: Entry = { line, outcome };
    this.record({ f: line });
    const list = this.free.get(this.step) ?? [];
    list.push(e);
    this.free.set(this.step, list);
    this.checkGoals();
    this.version++;
    return e;
  }

  /** `undo`, as the reader would type it. */
  undo(): Entry | undefined {
    return this.runFree('undo');
  }

  /** Re-evaluate the current step's goals; returns those that passed for the first time. Typed-answer goals wait for an answer. */
  checkGoals(): Goal[] {
    const newly: Goal[] = [];
    for (const g of this.current?.goals ?? []) {
      if (g.answer) continue;
      const st = this.goals.get(g.id)!;
      st.result = evaluateGoal(this.session, g, this.baselines);
      if (st.result.pass && !st.passed) {
        this.markPassed(g);
        newly.push(g);
      }
    }
    return newly;
  }

  private markPassed(g: Goal): void {
    const st = this.goals.get(g.id)!;
    st.passed = true;
    if (!this.progress.goalsPassed.includes(g.id)) this.progress.goalsPassed.push(g.id);
  }

  /** Evaluate a goal now without recording anything (for --check and tests); a typed-answer goal is judged on its solution. */
  evaluate(g: Goal): GoalResult {
    if (g.answer) {
      const r = this.judgeAnswer(g, g.solution);
      return { pass: r.correct, checks: [{ pass: r.correct, detail: r.detail }] };
    }
    return evaluateGoal(this.session, g, this.baselines);
  }

  /** The right answer of a typed-answer goal, now: its fixed value, or what its command's data holds. */
  expectedAnswer(g: Goal): { value?: string; error?: string } {
    const a = g.answer;
    if (!a) return { error: 'this goal is checked by the machine, not answered' };
    if (a.value !== undefined) return { value: a.value };
    const o = observe(this.session, a.run!);
    if (!o.ok) return { error: `\`${a.run}\` failed: ${o.error}` };
    const v = valueAt(o.data, a.data!);
    if (!v.found) return { error: `\`${a.run}\` has no ${a.data} in its result` };
    return { value: typeof v.value === 'bigint' ? '0x' + v.value.toString(16) : typeof v.value === 'string' ? v.value : show(v.value) };
  }

  private judgeAnswer(g: Goal, text: string): { correct: boolean; detail: string } {
    const want = this.expectedAnswer(g);
    if (want.value === undefined) return { correct: false, detail: want.error ?? 'no answer' };
    const correct = sameAnswer(text, want.value);
    return { correct, detail: correct ? `${text.trim()} is right` : `${text.trim()} is not ${want.value}` };
  }

  /**
   * The reader types the answer of a typed-answer goal: compared by value
   * (see sameAnswer) with what the machine shows now. A right answer passes
   * the goal (recorded as checkGoals records a pass).
   */
  answerGoal(goalId: string, text: string): { correct: boolean; newly: boolean } | undefined {
    const g = this.lesson?.steps.flatMap((s) => s.goals).find((x) => x.id === goalId);
    const st = this.goals.get(goalId);
    if (!g?.answer || !st || !text.trim()) return undefined;
    const r = this.judgeAnswer(g, text);
    st.result = { pass: r.correct, checks: [{ pass: r.correct, detail: r.detail }] };
    const newly = r.correct && !st.passed;
    if (r.correct) {
      st.wrong = undefined;
      if (newly) this.markPassed(g);
    } else st.wrong = text.trim();
    this.version++;
    return { correct: r.correct, newly };
  }

  /** The reader asked for a goal's solution (`s`): a pass after this is recorded as from the solution. */
  useSolution(goalId: string): void {
    const st = this.goals.get(goalId);
    if (st && !st.passed) {
      st.solution = true;
      this.recordHelp(goalId, st);
    }
    this.version++;
  }

  /** Keep the help taken on a goal not yet passed in progress (frozen once it passes: howPassed reads it). */
  private recordHelp(goalId: string, st: GoalState): void {
    const help = (this.progress.goalHelp ??= {});
    const was = help[goalId];
    help[goalId] = { hints: Math.max(was?.hints ?? 0, st.hints), solution: !!(was?.solution || st.solution) };
  }

  /** The next hint of a goal, or undefined when all have been shown. */
  hint(goalId: string): { text: string; n: number; of: number } | undefined {
    const g = this.current?.goals.find((x) => x.id === goalId) ?? this.lesson?.steps.flatMap((s) => s.goals).find((x) => x.id === goalId);
    const st = this.goals.get(goalId);
    if (!g || !st || st.hints >= g.hints.length) return undefined;
    st.hints++;
    if (!st.passed) this.recordHelp(goalId, st);
    this.version++;
    return { text: g.hints[st.hints - 1]!, n: st.hints, of: g.hints.length };
  }

  /** The first goal of the step not passed yet (else the last goal), which hint and solution act on. */
  activeGoal(): Goal | undefined {
    // a goal still hidden behind a question is not offered hints yet
    const gs = this.revealed().blocks.flatMap((b) => (b.kind === 'goal' ? [b.goal] : []));
    return gs.find((g) => !this.goals.get(g.id)!.passed) ?? gs[gs.length - 1];
  }

  /** Go to a step: the machine stays as it is; this moment becomes the step's snapshot. */
  goto(step: number): void {
    if (!this.lesson) return;
    this.step = Math.min(Math.max(0, step), this.lesson.steps.length - 1);
    this.record({ g: this.step });
    this.session.diagnosis = !!this.current!.diagnosis;
    this.progress.step = this.step;
    this.progress.furthest = Math.max(this.progress.furthest, this.step);
    this.stepStart = this.log.length;
    this.baselines = captureBaselines(this.session, this.current!.goals);
    for (const g of this.current!.goals) this.goals.get(g.id)!.result = undefined;
    this.version++;
  }

  /**
   * Put the machine back as it was when this step began (replaying the log
   * up to then on a fresh machine) and clear the step's outputs.
   */
  resetStep(): void {
    this.record({ r: 1 });
    const was = this.recording;
    this.recording = false; // the goto below is part of the reset
    try {
      this.resetStepNow();
    } finally {
      this.recording = was;
    }
  }

  private resetStepNow(): void {
    const keep = this.log.slice(0, this.stepStart);
    this.session = createSession(this.preset, this.options);
    this.log = [];
    this.focus = undefined;
    this.lastWalk = undefined;
    for (const line of keep) this.exec(line);
    for (const c of this.current?.cells ?? []) this.runs.delete(c.id);
    this.free.delete(this.step);
    this.goto(this.step);
  }

  /** Run the cells and goal solutions of every step before `step`, to rebuild the machine a resumed lesson expects. */
  prepareTo(step: number): void {
    for (const s of this.steps.slice(0, step)) {
      for (const c of s.cells) {
        const r = this.runCell(c.id, { replayed: true })!;
        this.prepared.cells++;
        if (r.failed) this.prepared.failures.push(`${c.id}: ${r.entries[r.entries.length - 1]?.line ?? ''}`);
      }
      for (const g of s.goals) {
        if (g.answer) continue; // a typed answer changes nothing on the machine
        const o = this.exec(g.solution);
        this.prepared.solutions++;
        if (!o.ok) this.prepared.failures.push(`${g.id} solution: ${g.solution}`);
      }
    }
  }

  /** Keep an action in the work log (progress.work), unless replaying or past the limit. */
  private record(a: WorkAction): void {
    const w = this.progress.work;
    if (!this.recording || !w || w.truncated) return;
    const long = ('f' in a && a.f.length > MAX_WORK_LINE) || ('src' in a && a.src!.some((l) => l.length > MAX_WORK_LINE));
    if (w.actions.length >= MAX_WORK_ACTIONS || long) {
      w.truncated = true;
      return;
    }
    const last = w.actions[w.actions.length - 1];
    if ('g' in a && last && 'g' in last) w.actions.pop(); // only the last of several moves counts
    w.actions.push(a);
  }

  /**
   * Replay what the reader did in an earlier session (progress.work): their
   * own cells, edits, commands, step moves and resets, in order, on a fresh
   * machine. The model is deterministic, so the machine, the outputs under
   * the cells and the reader's command list come back as they left them.
   */
  private replayWork(actions: WorkAction[]): void {
    this.recording = false;
    for (const a of actions) {
      if ('p' in a) this.prepareTo(a.p);
      else if ('g' in a) this.goto(a.g);
      else if ('r' in a) this.resetStep();
      else if ('f' in a) {
        this.runFree(a.f);
        this.restored.commands++;
      } else if (this.cell(a.c)) {
        if (a.src) this.edits.set(a.c, a.src);
        else this.edits.delete(a.c);
        this.runCell(a.c);
        this.restored.cells++;
      }
    }
    this.restored.actions = actions.length;
  }

  /** Commands run so far (cells, solutions, the reader's), the replay log. */
  history(): readonly string[] {
    return this.log;
  }
}
