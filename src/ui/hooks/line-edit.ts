/**
 * Line editing as pure functions on {text, cursor}: the input line, the
 * prediction line and each line of a cell being edited share them.
 */
export interface LineState {
  text: string;
  cursor: number;
}

export const at = (text: string, cursor = text.length): LineState => ({ text, cursor: Math.max(0, Math.min(cursor, text.length)) });

export const insert = (s: LineState, t: string): LineState => {
  // a paste may carry line breaks or tabs; a command is one line
  const clean = t.replace(/\r\n?|\n/g, ' ').replace(/\t/g, ' ').replace(/[\x00-\x1f\x7f]/g, '');
  return at(s.text.slice(0, s.cursor) + clean + s.text.slice(s.cursor), s.cursor + clean.length);
};
export const left = (s: LineState): LineState => at(s.text, s.cursor - 1);
export const right = (s: LineState): LineState => at(s.text, s.cursor + 1);
export const home = (s: LineState): LineState => at(s.text, 0);
export const end = (s: LineState): LineState => at(s.text);
export const backspace = (s: LineState): LineState => (s.cursor === 0 ? s : at(s.text.slice(0, s.cursor - 1) + s.text.slice(s.cursor), s.cursor - 1));
export const del = (s: LineState): LineState => at(s.text.slice(0, s.cursor) + s.text.slice(s.cursor + 1), s.cursor);
export const killStart = (s: LineState): LineState => at(s.text.slice(s.cursor), 0);
export const killEnd = (s: LineState): LineState => at(s.text.slice(0, s.cursor), s.cursor);
export const killWord = (s: LineState): LineState => {
  const before = s.text.slice(0, s.cursor).replace(/\S+\s*$/, '');
  return at(before + s.text.slice(s.cursor), before.length);
};

/**
 * Tab completion: `complete` gives candidates for the text before the
 * cursor and the word they replace. One candidate replaces the word (and
 * adds a space unless it ends in '='); several insert their common prefix
 * and are returned so the caller can list them.
 */
export function completeLine(s: LineState, complete: (before: string) => [string[], string]): { state: LineState; candidates: string[] } {
  const before = s.text.slice(0, s.cursor);
  const [cands, word] = complete(before);
  if (cands.length === 0) return { state: s, candidates: [] };
  const start = s.cursor - word.length;
  let repl: string;
  if (cands.length === 1) repl = cands[0]! + (cands[0]!.endsWith('=') ? '' : ' ');
  else {
    repl = cands[0]!;
    for (const c of cands) while (!c.startsWith(repl)) repl = repl.slice(0, -1);
    if (repl.length < word.length) repl = word;
  }
  const text = s.text.slice(0, start) + repl + s.text.slice(s.cursor);
  return { state: at(text, start + repl.length), candidates: cands.length > 1 ? cands : [] };
}
