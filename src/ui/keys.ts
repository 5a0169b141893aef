/**
 * The one key table. Every binding the UI has is a row here: which modes
 * it works in, how it is matched, what the footer and the `?` help overlay
 * call it. The views dispatch through `dispatch()` with a handler per
 * action, the footer and the help overlay render from `BINDINGS`, so what
 * the screen says and what the keys do cannot drift apart (rustlings does
 * the same; STYLE.md).
 */
import type { Key } from 'ink';

/**
 * - home: the lesson and machine list.
 * - notebook: moving around a lesson: cells, steps, panes (the input line is not focused).
 * - input: typing a command in the input line.
 * - edit: editing a cell's text.
 * - predict: typing or picking a prediction before a cell runs (or the answer a goal asks for).
 */
export type Mode = 'home' | 'notebook' | 'input' | 'edit' | 'predict';

export type Action =
  | 'quit'
  | 'help'
  | 'home.up'
  | 'home.down'
  | 'home.open'
  | 'back'
  | 'cell.prev'
  | 'cell.next'
  | 'cell.run'
  | 'cell.edit'
  | 'goal.answer'
  | 'pane.hide'
  | 'pane.grow'
  | 'pane.shrink'
  | 'input.focus'
  | 'step.next'
  | 'step.prev'
  | 'hint'
  | 'solution'
  | 'step.reset'
  | 'undo'
  | 'export'
  | 'pane.next'
  | 'pane.prev'
  | 'pane.up'
  | 'pane.down'
  | 'page.up'
  | 'page.down'
  | 'line.submit'
  | 'line.leave'
  | 'line.complete'
  | 'history.prev'
  | 'history.next'
  | 'edit.left'
  | 'edit.right'
  | 'edit.home'
  | 'edit.end'
  | 'edit.backspace'
  | 'edit.delete'
  | 'edit.killStart'
  | 'edit.killEnd'
  | 'edit.killWord'
  | 'edit.up'
  | 'edit.down'
  | 'edit.newline'
  | 'edit.revert'
  | 'edit.insert';

export interface KeyContext {
  /** The line being typed is empty (q and ? are commands only then). */
  empty: boolean;
}

export interface Binding {
  action: Action;
  modes: Mode[];
  /** How the key is written on screen. */
  keys: string;
  /** Footer word(s). */
  label: string;
  /** One line for the help overlay. */
  help: string;
  /** Shown in the footer (in table order, as many as fit). */
  footer?: boolean;
  /** Only means something in a lesson (cells, steps, goals): left out of the footer when exploring a machine. */
  lessonOnly?: boolean;
  match(input: string, key: Key, ctx: KeyContext): boolean;
}

const plainKey = (key: Key): boolean => !key.ctrl && !key.meta;
const ch = (c: string) => (input: string, key: Key): boolean => input === c && plainKey(key);
const ctrl = (c: string) => (input: string, key: Key): boolean => key.ctrl && input === c;
const ALL: Mode[] = ['home', 'notebook', 'input', 'edit', 'predict'];
const LINE: Mode[] = ['input', 'edit', 'predict'];

/*
 * History: terminals send DEL (0x7f) for Backspace, which Ink 6 reports as
 * key.delete (and key.backspace for ^H); the forward-delete key (ESC[3~) is
 * also key.delete. Both are treated as backspace here, and Ctrl+D deletes
 * forward on a non-empty line, as readline does.
 */
export const BINDINGS: Binding[] = [
  // ---- everywhere
  { action: 'quit', modes: ALL, keys: 'Ctrl+C', label: 'quit', help: 'quit (progress is saved)', match: ctrl('c') },
  // ---- home
  { action: 'home.open', modes: ['home'], keys: '⏎', label: 'open', help: 'open the lesson or machine', footer: true, match: (_i, k) => k.return },
  { action: 'home.up', modes: ['home'], keys: '↑/k', label: 'choose', help: 'previous item', footer: true, match: (i, k) => k.upArrow || (i === 'k' && plainKey(k)) },
  { action: 'home.down', modes: ['home'], keys: '↓/j', label: '', help: 'next item', match: (i, k) => k.downArrow || (i === 'j' && plainKey(k)) },
  { action: 'help', modes: ['home'], keys: '?', label: 'help', help: 'this help', footer: true, match: ch('?') },
  { action: 'quit', modes: ['home'], keys: 'q', label: 'quit', help: 'quit', footer: true, match: ch('q') },
  // ---- notebook (input line not focused)
  { action: 'cell.run', modes: ['notebook'], lessonOnly: true, keys: '⏎', label: 'run cell', help: 'run the selected cell (asks for your prediction first when the lesson wants one)', footer: true, match: (_i, k) => k.return },
  { action: 'cell.prev', modes: ['notebook'], lessonOnly: true, keys: '↑/k', label: '', help: 'select the previous cell', match: (i, k) => k.upArrow || (i === 'k' && plainKey(k)) },
  { action: 'cell.next', modes: ['notebook'], lessonOnly: true, keys: '↓/j', label: 'cell', help: 'select the next cell', footer: true, match: (i, k) => k.downArrow || (i === 'j' && plainKey(k)) },
  { action: 'input.focus', modes: ['notebook'], keys: ':', label: 'command', help: 'type your own command in the input line (also i)', footer: true, match: (i, k) => (i === ':' || i === 'i') && plainKey(k) },
  { action: 'step.next', modes: ['notebook'], lessonOnly: true, keys: 'n/→', label: '', help: 'next step', match: (i, k) => k.rightArrow || (i === 'n' && plainKey(k)) },
  { action: 'step.prev', modes: ['notebook'], lessonOnly: true, keys: 'p/←', label: 'step', help: 'previous step', footer: true, match: (i, k) => k.leftArrow || (i === 'p' && plainKey(k)) },
  { action: 'hint', modes: ['notebook'], lessonOnly: true, keys: 'h', label: 'hint', help: 'the next hint for the goal of this step', footer: true, match: ch('h') },
  { action: 'solution', modes: ['notebook'], lessonOnly: true, keys: 's', label: 'solution', help: 'type the goal\'s solution into the input line (not run: ⏎ runs it)', footer: true, match: ch('s') },
  { action: 'goal.answer', modes: ['notebook'], lessonOnly: true, keys: 'a', label: 'answer', help: 'type your answer to a goal that asks for a value', match: ch('a') },
  { action: 'cell.edit', modes: ['notebook'], lessonOnly: true, keys: 'e', label: 'edit', help: 'edit the selected cell before running it', footer: true, match: ch('e') },
  { action: 'undo', modes: ['notebook'], keys: 'u', label: 'undo', help: 'undo the last command that changed the machine (the undo command)', footer: true, match: ch('u') },
  { action: 'step.reset', modes: ['notebook'], keys: 'r', label: 'reset step', help: 'put the machine back as it was when this step began (exploring a machine: reset it, undoably)', footer: true, match: ch('r') },
  { action: 'pane.next', modes: ['notebook'], keys: 'Tab', label: 'pane', help: 'next inspector pane (Shift+Tab: previous)', footer: true, match: (_i, k) => k.tab && !k.shift },
  { action: 'pane.prev', modes: ['notebook'], keys: 'Shift+Tab', label: '', help: 'previous inspector pane', match: (_i, k) => k.tab && k.shift },
  { action: 'pane.hide', modes: ['notebook'], keys: 'z', label: '', help: 'hide or show the inspector panes (the lesson takes the whole width)', match: ch('z') },
  { action: 'pane.grow', modes: ['notebook'], keys: '>', label: '', help: 'make the inspector bigger (wider beside the lesson, taller below it)', match: ch('>') },
  { action: 'pane.shrink', modes: ['notebook'], keys: '<', label: '', help: 'make the inspector smaller', match: ch('<') },
  { action: 'pane.up', modes: ['notebook'], keys: '[', label: '', help: 'scroll the inspector pane up', match: ch('[') },
  { action: 'pane.down', modes: ['notebook'], keys: ']', label: '', help: 'scroll the inspector pane down', match: ch(']') },
  { action: 'export', modes: ['notebook'], keys: 'x', label: 'export', help: 'write this session as Markdown to lesson-ID-notebook.md in the current directory', footer: true, match: ch('x') },
  { action: 'back', modes: ['notebook'], keys: 'Esc/b', label: 'home', help: 'back to the home screen (progress is saved)', match: (i, k) => k.escape || (i === 'b' && plainKey(k)) },
  { action: 'help', modes: ['notebook'], keys: '?', label: 'help', help: 'this help', footer: true, match: ch('?') },
  { action: 'quit', modes: ['notebook'], keys: 'q', label: 'quit', help: 'quit: asks first, q again quits (progress is saved)', footer: true, match: ch('q') },
  { action: 'page.up', modes: ['notebook', 'input'], keys: 'PgUp', label: '', help: 'scroll the lesson up', match: (_i, k) => k.pageUp },
  { action: 'page.down', modes: ['notebook', 'input'], keys: 'PgDn/Space', label: '', help: 'scroll the lesson down (Space in the notebook)', match: (i, k) => k.pageDown },
  // ---- typing a line (input, edit, predict)
  { action: 'line.submit', modes: ['input'], keys: '⏎', label: 'run', help: 'run the command', footer: true, match: (_i, k) => k.return },
  { action: 'line.submit', modes: ['predict'], keys: '⏎', label: 'predict and run', help: 'record your prediction (a number picks a choice) and run the cell', footer: true, match: (_i, k) => k.return },
  { action: 'line.submit', modes: ['edit'], keys: '⏎', label: 'run cell', help: 'keep the edit and run the cell', footer: true, match: (_i, k) => k.return },
  { action: 'line.complete', modes: ['input', 'edit'], keys: 'Tab', label: 'complete', help: 'complete the command, subcommand or option', footer: true, match: (_i, k) => k.tab },
  { action: 'history.prev', modes: ['input'], keys: '↑', label: 'history', help: 'previous command from history', footer: true, match: (_i, k) => k.upArrow },
  { action: 'history.next', modes: ['input'], keys: '↓', label: '', help: 'next command from history', match: (_i, k) => k.downArrow },
  { action: 'edit.up', modes: ['edit'], keys: '↑', label: 'line', help: 'previous line of the cell', footer: true, match: (_i, k) => k.upArrow },
  { action: 'edit.down', modes: ['edit'], keys: '↓', label: '', help: 'next line of the cell', match: (_i, k) => k.downArrow },
  { action: 'edit.newline', modes: ['edit'], keys: 'Ctrl+O', label: 'new line', help: 'open a new line below', footer: true, match: ctrl('o') },
  { action: 'edit.revert', modes: ['edit'], keys: 'Ctrl+R', label: 'revert', help: 'put back the lesson\'s text of the cell', footer: true, match: ctrl('r') },
  { action: 'line.leave', modes: ['input', 'edit', 'predict'], keys: 'Esc', label: 'leave', help: 'leave the line (an edit is kept; a prediction is not made and the cell does not run)', footer: true, match: (_i, k) => k.escape },
  { action: 'quit', modes: ['input'], keys: 'Ctrl+D', label: '', help: 'quit, on an empty line', match: (i, k, c) => k.ctrl && i === 'd' && c.empty },
  { action: 'help', modes: ['input'], keys: '?', label: 'help', help: 'this help, on an empty line', footer: true, match: (i, k, c) => i === '?' && plainKey(k) && c.empty },
  { action: 'quit', modes: ['input'], keys: 'q', label: 'quit', help: 'quit, on an empty line: asks first, q again quits', footer: true, match: (i, k, c) => i === 'q' && plainKey(k) && c.empty },
  { action: 'edit.left', modes: LINE, keys: '←/Ctrl+B', label: '', help: 'cursor left', match: (i, k) => k.leftArrow || (k.ctrl && i === 'b') },
  { action: 'edit.right', modes: LINE, keys: '→/Ctrl+F', label: '', help: 'cursor right', match: (i, k) => k.rightArrow || (k.ctrl && i === 'f') },
  { action: 'edit.home', modes: LINE, keys: 'Home/Ctrl+A', label: '', help: 'start of the line', match: (i, k) => k.home || (k.ctrl && i === 'a') },
  { action: 'edit.end', modes: LINE, keys: 'End/Ctrl+E', label: '', help: 'end of the line', match: (i, k) => k.end || (k.ctrl && i === 'e') },
  { action: 'edit.backspace', modes: LINE, keys: 'Backspace', label: '', help: 'delete the character before the cursor', match: (_i, k) => k.backspace || k.delete },
  { action: 'edit.delete', modes: LINE, keys: 'Ctrl+D', label: '', help: 'delete the character under the cursor', match: ctrl('d') },
  { action: 'edit.killStart', modes: LINE, keys: 'Ctrl+U', label: '', help: 'delete to the start of the line', match: ctrl('u') },
  { action: 'edit.killEnd', modes: LINE, keys: 'Ctrl+K', label: '', help: 'delete to the end of the line', match: ctrl('k') },
  { action: 'edit.killWord', modes: LINE, keys: 'Ctrl+W', label: '', help: 'delete the word before the cursor', match: ctrl('w') },
  { action: 'edit.insert', modes: LINE, keys: 'text', label: '', help: 'type (pasting works too)', match: (i, k) => i.length > 0 && !k.ctrl && !k.meta && !k.return && !k.tab && !k.escape },
  // Space pages the lesson down in the notebook (after the line bindings: it is text when typing).
  { action: 'page.down', modes: ['notebook'], keys: 'Space', label: '', help: 'scroll the lesson down', match: ch(' ') },
];

/** Run the handler of the first binding that matches in `mode`. Returns the action taken, if any. */
export function dispatch(mode: Mode, input: string, key: Key, ctx: KeyContext, handlers: Partial<Record<Action, () => void>>): Action | undefined {
  for (const b of BINDINGS) {
    if (!b.modes.includes(mode) || !b.match(input, key, ctx)) continue;
    const h = handlers[b.action];
    if (!h) continue;
    h();
    return b.action;
  }
  return undefined;
}

/** Footer items for a mode, in table order: "key label". */
export function footerItems(mode: Mode, lesson = true): { keys: string; label: string }[] {
  const seen = new Set<string>();
  const out: { keys: string; label: string }[] = [];
  for (const b of BINDINGS) {
    if (!b.footer || !b.modes.includes(mode) || (b.lessonOnly && !lesson)) continue;
    // a key pair (↑/↓, p/n) shows once, with the label on the row that has it
    const k = `${b.keys} ${b.label}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ keys: footerKeys(b, mode), label: b.label });
  }
  return out;
}

/** The footer shows pairs together: ↑↓ for cell.prev/next, p/n for steps. */
function footerKeys(b: Binding, mode: Mode): string {
  if (b.action === 'cell.next') return '↑↓';
  if (b.action === 'home.up') return '↑↓';
  if (b.action === 'step.prev') return 'p/n';
  if (b.action === 'history.prev') return '↑↓';
  if (b.action === 'edit.up') return '↑↓';
  if (b.action === 'pane.next' && mode === 'notebook') return 'Tab';
  return b.keys;
}

/** The footer as one line that fits `width`: items in order while they fit; `? help` is kept last when present. */
export function footerText(mode: Mode, width: number, lesson = true): string {
  const items = footerItems(mode, lesson).map((i) => `${i.keys} ${i.label}`.trim());
  const helpIdx = items.findIndex((i) => i === '? help');
  const tail = helpIdx >= 0 ? items.splice(helpIdx, 1)[0]! : undefined;
  const quitIdx = items.findIndex((i) => i === 'q quit');
  const quit = quitIdx >= 0 ? items.splice(quitIdx, 1)[0]! : undefined;
  const end = [tail, quit].filter(Boolean) as string[];
  const sep = '  ';
  let line = '';
  const endText = end.join(sep);
  for (const it of items) {
    const next = line ? line + sep + it : it;
    if ((next + (endText ? sep + endText : '')).length > width) break;
    line = next;
  }
  return [line, endText].filter(Boolean).join(sep).slice(0, width);
}

/** Generic line-editing actions: listed once, under the input line. */
const LINE_EDITING = new Set<Action>(['edit.left', 'edit.right', 'edit.home', 'edit.end', 'edit.backspace', 'edit.delete', 'edit.killStart', 'edit.killEnd', 'edit.killWord', 'edit.insert']);

/** Help overlay sections: a title per mode and its bindings. */
export function helpSections(): { mode: Mode; title: string; rows: { keys: string; help: string }[] }[] {
  const titles: Record<Mode, string> = {
    home: 'Home',
    notebook: 'Lesson (input line not focused)',
    input: 'Input line',
    edit: 'Editing a cell (line editing as in the input line)',
    predict: 'Making a prediction (line editing as in the input line)',
  };
  return (Object.keys(titles) as Mode[]).map((m) => {
    const seen = new Set<string>();
    const rows: { keys: string; help: string }[] = [];
    for (const b of BINDINGS) {
      if (!b.modes.includes(m) || (m !== 'input' && LINE_EDITING.has(b.action))) continue;
      const k = `${b.keys}|${b.help}`;
      if (seen.has(k)) continue;
      seen.add(k);
      rows.push({ keys: b.keys, help: b.help });
    }
    return { mode: m, title: titles[m], rows };
  });
}

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/**
 * One key per event. Ink splits its input only at escape sequences: keys
 * that arrive in one read ("jj\r" from tmux send-keys, a paste ending in a
 * newline, a fast typist) come as one string. Here every character becomes
 * its own event, and control characters become the keys they are
 * (\r ⏎, \t Tab, DEL Backspace, ^A..^Z Ctrl+letter), as Ink reports them
 * when they come alone.
 */
export function splitKeys(input: string, key: Key): [string, Key][] {
  if (input.length <= 1 || input.startsWith('\x1b') || key.ctrl || key.meta) return [[input, key]];
  const out: [string, Key][] = [];
  for (const c of input) {
    const code = c.codePointAt(0)!;
    if (code >= 0x20 && code !== 0x7f) out.push([c, { ...NO_KEY }]);
    else if (c === '\r' || c === '\n') out.push(['', { ...NO_KEY, return: true }]);
    else if (c === '\t') out.push(['', { ...NO_KEY, tab: true }]);
    else if (c === '\x7f') out.push(['', { ...NO_KEY, delete: true }]);
    else if (c === '\b') out.push(['', { ...NO_KEY, backspace: true }]);
    else if (code >= 1 && code <= 26) out.push([String.fromCharCode(code + 96), { ...NO_KEY, ctrl: true }]);
  }
  return out;
}
