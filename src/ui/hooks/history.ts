/** Command history for the input line: ↑/↓ walk it, the line being typed is kept as a draft. */
import { at, type LineState } from './line-edit.ts';

export class InputHistory {
  private pos: number;
  private draft = '';
  constructor(readonly lines: string[]) {
    this.pos = lines.length;
  }
  /** Remember a line that was run. */
  push(line: string): void {
    if (line.trim() && this.lines[this.lines.length - 1] !== line) this.lines.push(line);
    this.pos = this.lines.length;
    this.draft = '';
  }
  prev(cur: LineState): LineState {
    if (this.pos === this.lines.length) this.draft = cur.text;
    if (this.pos === 0) return cur;
    this.pos--;
    return at(this.lines[this.pos]!);
  }
  next(cur: LineState): LineState {
    if (this.pos >= this.lines.length) return cur;
    this.pos++;
    return at(this.pos === this.lines.length ? this.draft : this.lines[this.pos]!);
  }
}
