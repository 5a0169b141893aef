/**
 * The lesson view (and, with no lesson, free exploration of a machine):
 * header, the step's document, the inspector panes, a status line, the
 * input line and the footer. Keys go through the key table (keys.ts); the
 * engine (notebook/engine.ts) does the work; this component only holds
 * what is on screen: the mode, the selected cell, scroll positions.
 *
 * Nothing a reader types can crash it: the engine turns bad commands into
 * error outcomes (shown as the REPL's caret block), and any exception from
 * an action becomes a status line instead of a stack trace.
 */
import { useMemo, useRef } from 'react';
import { Box, Text, useInput } from 'ink';
import type { Notebook } from '../notebook/engine.ts';
import { exportNotebook } from '../notebook/export.ts';
import { howPassed } from '../notebook/progress.ts';
import { cellCommands } from '../notebook/format.ts';
import { lineText } from '../inspect/view.ts';
import type { DocLine } from '../notebook/prose.ts';
import { complete } from '../commands/complete.ts';
import { dispatch, splitKeys, type Action, type Mode } from './keys.ts';
import { computeLayout } from './layout.ts';
import { stepDocument, windowTop, type Anchor } from './document.ts';
import { usePanes } from './hooks/usePanes.ts';
import { useTerminalSize, type Size } from './hooks/useTerminalSize.ts';
import { useViewState } from './hooks/useViewState.ts';
import { InputHistory } from './hooks/history.ts';
import * as E from './hooks/line-edit.ts';
import { useUi } from './context.ts';
import { LessonPane } from './LessonPane.tsx';
import { Inspector } from './Inspector.tsx';
import { InputLine } from './InputLine.tsx';
import { CellEditor, type CellEdit } from './CellEditor.tsx';
import { Footer } from './Footer.tsx';
import { HelpOverlay } from './HelpOverlay.tsx';
import { StyledLine } from './StyledLine.tsx';
import { timing } from './timing.ts';

export interface NotebookViewProps {
  nb: Notebook;
  /** Input-line history, shared by every view of this run. */
  history: string[];
  version: string;
  onSave(): void;
  onQuit(): void;
  onHome(): void;
  initialStatus?: DocLine;
  size?: Size;
  /** Where export writes (the current directory). */
  exportDir?: string;
}

interface ViewState {
  mode: Mode;
  /** The help overlay's scroll position when it is open. */
  help: number | undefined;
  selected: string | undefined;
  /** What the lesson window follows; cleared by manual scrolling. */
  anchor: Anchor | undefined;
  scroll: number;
  pane: number;
  paneScroll: number;
  status: DocLine | undefined;
  edit: CellEdit | undefined;
  predicting: string | undefined;
  /** The inspector is hidden (z); grow moves the split (< >). */
  paneHidden: boolean;
  grow: number;
  /** The typed-answer goal the answer line is for (mode 'predict' without a cell). */
  answering: string | undefined;
  /** The answer given, while the lesson asks how sure the reader is. */
  sure: string | undefined;
  answer: E.LineState;
  input: E.LineState;
}

/** The step's cells the reader can see (none after a prediction still to be made). */
const visibleCells = (nb: Notebook): NonNullable<Notebook['current']>['cells'] =>
  nb.revealed().blocks.flatMap((b) => (b.kind === 'cell' ? [b.cell] : []));

const firstCell = (nb: Notebook): string | undefined => {
  const cells = visibleCells(nb);
  return (cells.find((c) => !nb.runs.has(c.id)) ?? cells[0])?.id;
};

export function NotebookView({ nb, history, version, onSave, onQuit, onHome, initialStatus, size: sizeOverride, exportDir }: NotebookViewProps) {
  const { color } = useUi();
  const size = useTerminalSize(sizeOverride);
  const [st, set] = useViewState<ViewState>(() => ({
    mode: nb.lesson ? 'notebook' : 'input',
    help: undefined,
    selected: firstCell(nb),
    anchor: nb.lesson ? { kind: 'top' } : { kind: 'bottom' },
    scroll: 0,
    pane: 0,
    paneScroll: 0,
    status: initialStatus,
    edit: undefined,
    predicting: undefined,
    sure: undefined,
    answering: undefined,
    paneHidden: false,
    grow: 0,
    answer: E.at(''),
    input: E.at(''),
  }));
  const hist = useRef<InputHistory | null>(null);
  if (!hist.current) hist.current = new InputHistory(history);
  const topRef = useRef(0);
  const { mode, help, selected, anchor, edit, predicting, status } = st;

  const layout = computeLayout(size.columns, size.rows, { inputRows: edit ? edit.lines.length : 1, inspector: !st.paneHidden, grow: st.grow });
  const doc = useMemo(() => stepDocument(nb, { width: layout.lesson.width - 1, color, selected: mode === 'notebook' || mode === 'predict' || mode === 'edit' ? selected : undefined, predicting }), [nb, nb.version, layout.lesson.width, color, selected, predicting, mode]);

  // Where the lesson window starts: an anchor (set by the last action) wins over the manual scroll.
  const maxTop = Math.max(0, doc.rows.length - layout.lesson.rows);
  const top = windowTop(doc, layout.lesson.rows, anchor, st.scroll, topRef.current);
  topRef.current = top;

  const { paneDefs, paneIdx, paneBody, paneView } = usePanes(nb, st.pane, st.paneScroll, layout.inspector);
  const titles = paneDefs.map((d, i) => (i === paneIdx ? paneView.title : d.title));

  // read nb at call time: several keys can run before the next render (keys.ts, splitKeys)
  const stepCells = (): NonNullable<typeof nb.current>['cells'] => visibleCells(nb);
  const say = (text: string, style: DocLine[number]['style'] = undefined): void => set({ status: [{ text, style }] });
  const saveQuietly = (): void => {
    try {
      onSave();
    } catch (e) {
      say(`could not save progress: ${(e as Error).message}`, 'bad');
    }
  };
  const passedNow = (): Set<string> => new Set((nb.current?.goals ?? []).filter((g) => nb.goals.get(g.id)?.passed).map((g) => g.id));
  const goalNews = (before: Set<string>): void => {
    const newly = (nb.current?.goals ?? []).filter((g) => nb.goals.get(g.id)?.passed && !before.has(g.id));
    if (newly.length) say(`✓ goal passed ${newly.map((g) => `${howPassed(nb.progress.goalHelp?.[g.id])}: ${g.title}`).join('; ')}`, 'ok');
  };

  const runCellNow = (id: string): void => {
    const before = passedNow();
    const t0 = performance.now();
    const r = nb.runCell(id);
    timing.modelDone('cell', t0);
    set({ paneScroll: 0, anchor: { kind: 'cell', id }, status: undefined });
    if (r?.failed) {
      const last = r.entries[r.entries.length - 1];
      say(last && !last.outcome.ok ? `the cell stopped at: ${last.line.trim()}` : 'the cell did not go as the lesson expected', 'warn');
    }
    goalNews(before);
    saveQuietly();
  };

  const submitFree = (): void => {
    const line = st.input.text;
    hist.current!.push(line);
    set({ input: E.at('') });
    if (!line.trim()) return;
    const before = passedNow();
    const t0 = performance.now();
    const e = nb.runFree(line);
    timing.modelDone('command', t0);
    set({ paneScroll: 0, anchor: { kind: 'bottom' }, status: undefined });
    if (e && !e.outcome.ok) say(`error: ${e.outcome.error.message}`, 'bad');
    else if (e && e.outcome.ok && !e.outcome.empty && e.outcome.command === 'undo') say(lineText(e.outcome.result.lines[0] ?? []), 'dim');
    goalNews(before);
    saveQuietly();
  };

  const gotoStep = (n: number): void => {
    if (!nb.lesson) return;
    const target = Math.max(0, Math.min(n, nb.stepCount));
    if (target === nb.step) return say(target === 0 ? 'this is the introduction' : 'this is the last step', 'dim');
    const from = nb.step;
    const unrun = stepCells().filter((c) => !nb.runs.has(c.id)).length;
    nb.goto(target);
    set({ selected: firstCell(nb), anchor: { kind: 'top' }, scroll: 0 });
    const note = target > from && unrun ? ` (step ${from} has ${unrun} cell${unrun > 1 ? 's' : ''} not run: later steps may expect them)` : '';
    say(`${target === 0 ? 'introduction' : `step ${target}/${nb.stepCount}`}${note}`, note ? 'warn' : 'dim');
    saveQuietly();
  };

  const scrollBy = (d: number): void => {
    topRef.current = Math.max(0, Math.min(topRef.current + d, maxTop));
    set({ scroll: topRef.current, anchor: undefined });
  };

  const moveCell = (d: number): void => {
    const cells = stepCells();
    const i = cells.findIndex((c) => c.id === st.selected);
    const next = cells[Math.max(0, Math.min(cells.length - 1, i + d))];
    if (!next || next.id === st.selected) return scrollBy(d * 3);
    set({ selected: next.id, anchor: { kind: 'select', id: next.id } });
  };

  const askPrediction = (id: string): void => {
    set({ predicting: id, sure: undefined, answer: E.at(''), mode: 'predict', anchor: { kind: 'cell', id } });
    say('make your prediction first: it is recorded, then the cell runs', 'warn');
  };

  const startRun = (): void => {
    const id = st.selected;
    if (!id) return say(nb.lesson ? 'this step has no cells: : types a command, n goes on' : 'type a command below', 'dim');
    if (nb.pendingPrediction(id)) return askPrediction(id);
    runCellNow(id);
  };

  const startEdit = (): void => {
    const c = st.selected ? nb.cell(st.selected) : undefined;
    if (!c) return say('no cell selected', 'dim');
    const lines = [...nb.cellSource(c)];
    const n = stepCells().findIndex((x) => x.id === c.id) + 1;
    set({ edit: { id: c.id, label: `[${n}]`, lines, row: 0, col: lines[0]!.length }, mode: 'edit', status: undefined });
  };

  const editApply = (f: (s: E.LineState) => E.LineState): void => {
    const ed = st.edit;
    if (!ed) return;
    const s = f({ text: ed.lines[ed.row]!, cursor: ed.col });
    const lines = [...ed.lines];
    lines[ed.row] = s.text;
    set({ edit: { ...ed, lines, col: s.cursor } });
  };

  const finishEdit = (run: boolean): void => {
    const ed = st.edit;
    if (!ed) return;
    const lines = ed.lines.length ? ed.lines : [''];
    nb.editCell(ed.id, lines);
    set({ edit: undefined, mode: 'notebook' });
    if (!run) return;
    const c = nb.cell(ed.id)!;
    if (cellCommands({ ...c, source: lines }).length === 0) return say('the cell has no command now', 'warn');
    if (nb.pendingPrediction(ed.id)) return askPrediction(ed.id);
    runCellNow(ed.id);
  };

  const lineApply = (f: (s: E.LineState) => E.LineState): void => {
    if (st.mode === 'input') set({ input: f(st.input) });
    else if (st.mode === 'predict') set({ answer: f(st.answer) });
    else if (st.mode === 'edit') editApply(f);
  };

  const doComplete = (): void => {
    const fn = (before: string): [string[], string] => complete(nb.session, before);
    if (st.mode === 'input') {
      const r = E.completeLine(st.input, fn);
      set({ input: r.state });
      if (r.candidates.length) say(r.candidates.join('  '), 'dim');
    } else if (st.mode === 'edit' && st.edit) {
      const r = E.completeLine({ text: st.edit.lines[st.edit.row]!, cursor: st.edit.col }, fn);
      editApply(() => r.state);
      if (r.candidates.length) say(r.candidates.join('  '), 'dim');
    }
  };

  const paneMax = (): number => Math.max(0, paneView.lines.length - paneBody);

  // `q` in a lesson or an exploration asks first: a second `q` quits, any other
  // key stays (Ctrl+C and Ctrl+D quit at once). Progress is saved either way.
  const quitArmed = useRef(false);
  const lastKey = useRef('');
  const quit = (): void => {
    if (lastKey.current === 'q' && !quitArmed.current) {
      quitArmed.current = true;
      say('press q again to quit (progress is saved); any other key stays', 'warn');
      return;
    }
    onQuit();
  };

  const handlers: Partial<Record<Action, () => void>> = {
    quit,
    help: () => set({ help: 0 }),
    back: onHome,
    'cell.prev': () => moveCell(-1),
    'cell.next': () => moveCell(1),
    'cell.run': startRun,
    'cell.edit': startEdit,
    'input.focus': () => set({ mode: 'input', status: undefined }),
    'step.next': () => gotoStep(nb.step + 1),
    'step.prev': () => gotoStep(nb.step - 1),
    hint: () => {
      const g = nb.activeGoal();
      if (!g) return say(nb.revealed().hidden ? 'answer the question first: the rest of the step follows it' : 'this step has no goal', 'dim');
      const h = nb.hint(g.id);
      if (!h) return say(g.hints.length ? 'no more hints: s types the solution into the input line' : 'this goal has no hints: s types the solution into the input line', 'dim');
      say(`hint ${h.n}/${h.of}: ${h.text}`, 'key');
    },
    'goal.answer': () => {
      const g = nb.activeGoal();
      if (!g?.answer) return say(g ? "this step's goal is checked on the machine: type commands (:) until it passes" : 'this step has no goal', 'dim');
      set({ answering: g.id, predicting: undefined, sure: undefined, answer: E.at(''), mode: 'predict' });
      say(`your answer: ${g.title}`, 'key');
    },
    solution: () => {
      const g = nb.activeGoal();
      if (!g) return say(nb.revealed().hidden ? 'answer the question first: the rest of the step follows it' : 'this step has no goal', 'dim');
      nb.useSolution(g.id);
      if (g.answer) {
        set({ answering: g.id, predicting: undefined, sure: undefined, answer: E.at(g.solution), mode: 'predict' });
        return say('the solution is in the answer line: ⏎ gives it, Esc leaves it', 'key');
      }
      set({ input: E.at(g.solution), mode: 'input' });
      say('the solution is in the input line: ⏎ runs it, Esc leaves it', 'key');
    },
    'step.reset': () => {
      if (!nb.lesson) {
        nb.runFree('reset');
        set({ anchor: { kind: 'bottom' } });
        return say('machine reset (u undoes it)', 'dim');
      }
      const n = nb.history().length;
      nb.resetStep();
      const back = n - nb.history().length;
      set({ selected: firstCell(nb), anchor: { kind: 'top' }, paneScroll: 0 });
      say(`machine back to where step ${nb.step} began (${back} command${back === 1 ? '' : 's'} taken back)`, 'dim');
      saveQuietly();
    },
    undo: () => {
      const e = nb.undo();
      set({ anchor: { kind: 'bottom' }, paneScroll: 0 });
      if (e && !e.outcome.ok) say(e.outcome.error.message, 'warn');
      else if (e && e.outcome.ok && !e.outcome.empty) say(lineText(e.outcome.result.lines[0] ?? []), 'dim');
    },
    export: () => say(`notebook written to ${exportNotebook(nb, version, exportDir)}`, 'ok'),
    'pane.hide': () => {
      set({ paneHidden: !st.paneHidden });
      say(st.paneHidden ? 'inspector hidden: z shows it again' : 'inspector shown', 'dim');
    },
    'pane.grow': () => {
      if (st.paneHidden) return say('the inspector is hidden: z shows it', 'dim');
      const before = computeLayout(size.columns, size.rows, { grow: st.grow });
      const after = computeLayout(size.columns, size.rows, { grow: st.grow + 1 });
      if (after.inspector.width === before.inspector.width && after.inspector.rows === before.inspector.rows) return say('the inspector is as big as it gets: the lesson keeps the rest', 'dim');
      set({ grow: st.grow + 1 });
    },
    'pane.shrink': () => {
      if (st.paneHidden) return say('the inspector is hidden: z shows it', 'dim');
      const before = computeLayout(size.columns, size.rows, { grow: st.grow });
      const after = computeLayout(size.columns, size.rows, { grow: st.grow - 1 });
      if (after.inspector.width === before.inspector.width && after.inspector.rows === before.inspector.rows) return say('the inspector is as small as it gets (z hides it)', 'dim');
      set({ grow: st.grow - 1 });
    },
    'pane.next': () => set((s) => ({ pane: (Math.min(s.pane, paneDefs.length - 1) + 1) % paneDefs.length, paneScroll: 0 })),
    'pane.prev': () => set((s) => ({ pane: (Math.min(s.pane, paneDefs.length - 1) + paneDefs.length - 1) % paneDefs.length, paneScroll: 0 })),
    // the memory pane scrolls through memory (no bounds here); command panes through their lines
    'pane.up': () => set((s) => ({ paneScroll: paneIdx === 0 ? s.paneScroll - 1 : Math.max(0, Math.min(s.paneScroll, paneMax()) - 1) })),
    'pane.down': () => set((s) => ({ paneScroll: paneIdx === 0 ? s.paneScroll + 1 : Math.min(paneMax(), s.paneScroll + 1) })),
    'page.up': () => scrollBy(-Math.max(1, layout.lesson.rows - 2)),
    'page.down': () => scrollBy(Math.max(1, layout.lesson.rows - 2)),
    'line.submit': () => {
      if (st.mode === 'input') return submitFree();
      if (st.mode === 'edit') return finishEdit(true);
      if (st.mode === 'predict' && st.answering) {
        const gid = st.answering;
        if (!st.answer.text.trim()) return say('type your answer first (Esc: not now)', 'warn');
        const given = st.answer.text.trim();
        const r = nb.answerGoal(gid, given);
        const g = nb.current?.goals.find((x) => x.id === gid);
        set({ mode: 'notebook', answering: undefined, answer: E.at('') });
        if (r?.correct) say(`✓ right: goal passed ${howPassed(nb.progress.goalHelp?.[gid])}: ${g?.title ?? ''}`, 'ok');
        else say(`✗ ${given} is not it: look again (h for a hint)`, 'warn');
        saveQuietly();
        return;
      }
      const id = st.predicting;
      if (st.mode !== 'predict' || !id) return;
      if (!st.answer.text.trim()) return say(st.sure !== undefined ? 'type 1, 2 or 3 (Esc: not now)' : 'type a prediction first (Esc: not now)', 'warn');
      let given = st.answer.text;
      let confidence: number | undefined;
      if (st.sure !== undefined) {
        confidence = Number(st.answer.text.trim());
        if (![1, 2, 3].includes(confidence)) return say('how sure are you? 1 guessing, 2 fairly sure, 3 certain', 'warn');
        given = st.sure;
      } else if (nb.cell(id)?.predict?.confidence) {
        set({ sure: given, answer: E.at('') });
        return say('how sure are you? 1 guessing, 2 fairly sure, 3 certain', 'key');
      }
      const rec = nb.predict(id, given, confidence);
      set({ mode: 'notebook', predicting: undefined, sure: undefined, answer: E.at('') });
      runCellNow(id);
      if (rec) say(rec.correct ? `✓ you predicted ${rec.answer}: right` : `✗ you predicted ${rec.answer}: ${rec.feedback ? 'see what it means' : 'the explanation is'} under the output`, rec.correct ? 'ok' : 'warn');
    },
    'line.leave': () => {
      if (st.mode === 'edit') return finishEdit(false);
      if (st.mode === 'predict') {
        if (st.answering) say('no answer given', 'dim');
        else say('no prediction made; the cell did not run', 'dim');
        set({ predicting: undefined, sure: undefined, answering: undefined, answer: E.at('') });
      }
      set({ mode: 'notebook' });
    },
    'line.complete': doComplete,
    'history.prev': () => set({ input: hist.current!.prev(st.input) }),
    'history.next': () => set({ input: hist.current!.next(st.input) }),
    'edit.up': () => {
      const ed = st.edit;
      if (ed && ed.row > 0) set({ edit: { ...ed, row: ed.row - 1, col: Math.min(ed.col, ed.lines[ed.row - 1]!.length) } });
    },
    'edit.down': () => {
      const ed = st.edit;
      if (ed && ed.row < ed.lines.length - 1) set({ edit: { ...ed, row: ed.row + 1, col: Math.min(ed.col, ed.lines[ed.row + 1]!.length) } });
    },
    'edit.newline': () => {
      const ed = st.edit;
      if (!ed) return;
      if (ed.lines.length >= Math.max(1, layout.bodyRows - 4)) return say('the cell cannot grow taller than the screen', 'warn');
      const lines = [...ed.lines];
      lines.splice(ed.row + 1, 0, '');
      set({ edit: { ...ed, lines, row: ed.row + 1, col: 0 } });
    },
    'edit.revert': () => {
      const ed = st.edit;
      if (!ed) return;
      const c = nb.cell(ed.id)!;
      set({ edit: { ...ed, lines: [...c.source], row: 0, col: c.source[0]!.length } });
      say("the lesson's text is back", 'dim');
    },
    'edit.left': () => lineApply(E.left),
    'edit.right': () => lineApply(E.right),
    'edit.home': () => lineApply(E.home),
    'edit.end': () => lineApply(E.end),
    'edit.backspace': () => {
      // Backspace at the start of a cell line joins it to the line above
      const ed = st.edit;
      if (st.mode === 'edit' && ed && ed.col === 0 && ed.row > 0) {
        const lines = [...ed.lines];
        const prev = lines[ed.row - 1]!;
        lines.splice(ed.row - 1, 2, prev + lines[ed.row]!);
        return set({ edit: { ...ed, lines, row: ed.row - 1, col: prev.length } });
      }
      lineApply(E.backspace);
    },
    'edit.delete': () => lineApply(E.del),
    'edit.killStart': () => lineApply(E.killStart),
    'edit.killEnd': () => lineApply(E.killEnd),
    'edit.killWord': () => lineApply(E.killWord),
  };

  const onKey = (inputText: string, key: Parameters<Parameters<typeof useInput>[0]>[1]): void => {
    if (st.help !== undefined) {
      if (key.upArrow) set({ help: Math.max(0, st.help - 1) });
      else if (key.downArrow) set({ help: st.help + 1 });
      else set({ help: undefined });
      return;
    }
    const empty = st.mode === 'input' ? st.input.text === '' : st.mode === 'predict' ? st.answer.text === '' : false;
    lastKey.current = !key.ctrl && !key.meta ? inputText : '';
    if (inputText !== 'q' || key.ctrl || key.meta) quitArmed.current = false;
    try {
      // ':' opens the input line from the notebook; typed into an empty input line (already open) it
      // would only make the command unknown, so it is swallowed there.
      const insert = (): void => {
        if (st.mode === 'input' && empty && inputText === ':') return;
        lineApply((s) => E.insert(s, inputText));
      };
      const acted = dispatch(st.mode, inputText, key, { empty }, { ...handlers, 'edit.insert': insert });
      if (!acted && st.mode === 'notebook' && inputText && !key.ctrl && !key.meta && /^[a-z]$/.test(inputText)) say(`'${inputText}' does nothing here: : (or i) types a command, ? lists the keys`, 'dim');
    } catch (e) {
      say(`internal error: ${(e as Error).message} (a bug in dma-lab; nothing was lost)`, 'bad');
    }
  };
  useInput((inputText, key) => {
    for (const [i, k] of splitKeys(inputText, key)) onKey(i, k);
  });

  const width = size.columns;
  if (layout.tooSmall) {
    return (
      <Box flexDirection="column" width={width} height={Math.max(1, size.rows - 1)}>
        <Text>{`dma-lab needs at least 40x12; this terminal is ${size.columns}x${size.rows}.`}</Text>
        <Text dimColor>q quits</Text>
      </Box>
    );
  }
  const m = nb.lesson?.meta;
  const passed = (nb.lesson?.steps ?? []).flatMap((s) => s.goals).filter((g) => nb.goals.get(g.id)?.passed).length;
  const totalGoals = (nb.lesson?.steps ?? []).flatMap((s) => s.goals).length;
  const headerLeft: DocLine = m
    ? [{ text: 'dma-lab › ', style: 'dim' }, { text: m.title, style: 'heading' }]
    : [{ text: 'dma-lab › ', style: 'dim' }, { text: `free exploration: ${nb.machineName}`, style: 'heading' }];
  const headerRight = m ? `${nb.step === 0 ? 'intro' : `step ${nb.step}/${nb.stepCount}`}${totalGoals ? ` · goals ${passed}/${totalGoals}` : ''} · ${nb.machineName}` : `${nb.session.undoDepth} undoable`;
  const leftW = Math.max(10, width - headerRight.length - 2);

  const body = help !== undefined ? (
    <HelpOverlay mode={mode} width={width} rows={layout.bodyRows} scroll={help} />
  ) : layout.wide ? (
    <Box flexDirection="row" height={layout.bodyRows}>
      <LessonPane lines={doc.rows} top={top} rows={layout.lesson.rows} width={layout.lesson.width} />
      <Box width={1} height={layout.bodyRows} flexDirection="column">
        {Array.from({ length: layout.bodyRows }, (_, i) => (
          <Text key={i} dimColor>
            │
          </Text>
        ))}
      </Box>
      <Inspector titles={titles} active={paneIdx} lines={paneView.lines} top={paneView.top} rows={layout.inspector.rows} width={layout.inspector.width} />
    </Box>
  ) : (
    <Box flexDirection="column" height={layout.bodyRows}>
      <LessonPane lines={doc.rows} top={top} rows={layout.lesson.rows} width={layout.lesson.width} />
      {layout.inspector.rows > 0 ? <Inspector titles={titles} active={paneIdx} lines={paneView.lines} top={paneView.top} rows={layout.inspector.rows} width={layout.inspector.width} /> : null}
    </Box>
  );

  const prompt = mode === 'predict' ? (st.answering ? 'answer › ' : st.sure !== undefined ? 'how sure? 1 guessing · 2 fairly sure · 3 certain › ' : 'prediction › ') : `(${nb.machineName}) `;
  return (
    <Box flexDirection="column" width={width} height={Math.max(1, size.rows - 1)}>
      <Box flexDirection="row" height={1}>
        <Box width={leftW}>
          <StyledLine line={headerLeft} width={leftW} />
        </Box>
        <Box flexGrow={1} justifyContent="flex-end">
          <Text dimColor wrap="truncate-end">
            {headerRight}
          </Text>
        </Box>
      </Box>
      {body}
      <StyledLine line={status ?? []} width={width} />
      {edit ? <CellEditor edit={edit} width={width} /> : <InputLine prompt={prompt} state={mode === 'predict' ? st.answer : st.input} focused={mode === 'input' || mode === 'predict'} placeholder=": (or i) to type a command" width={width} />}
      <Footer mode={mode} width={width} lesson={!!nb.lesson} />
    </Box>
  );
}
