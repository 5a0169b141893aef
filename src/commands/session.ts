/**
 * A session: one System (machine + kernel), the command registry, and what
 * carries from one command to the next (sticky `xp` formats, `$` and `$_`,
 * the undo stack). `execute(line)` is the one entry point the REPL, the
 * script runner, the lesson engine and the UI all use.
 *
 * Every command runs as a transaction: the memory journal is opened and
 * every component's state saved; if the command fails, both are put back,
 * so a failed command leaves the machine exactly as it was.
 */
import { type u64, hex } from '../machine/u64.ts';
import { BusError, LimitError } from '../machine/errors.ts';
import type { MemoryJournal } from '../machine/memory.ts';
import type { System } from '../scenarios/system.ts';
import { findPreset } from '../scenarios/index.ts';
import { CommandError, type SourceSpan } from './errors.ts';
import { lex, type Token } from './lexer.ts';
import { evalExpr, type ExprEnv } from './expr.ts';
import type { CommandResult, CommandSpecFor, ParsedArgs, RegistryFor } from './command-types.ts';

type CommandSpec = CommandSpecFor<Session>;
import type { XpFormat, XpUnit } from '../inspect/hexdump.ts';

export type Outcome =
  | { ok: true; empty: true; line: string }
  | { ok: true; empty?: false; line: string; command: string; result: CommandResult }
  | { ok: false; line: string; command?: string; error: CommandError };

type UndoEntry =
  | { kind: 'journal'; command: string; journal: MemoryJournal; states: Map<string, unknown> }
  | { kind: 'system'; command: string; system: System };

export interface XpState {
  count: number;
  fmt: XpFormat;
  size: XpUnit;
  /** 'fmt' after a /FMT was given; bare `xp ADDR` always shows the hexdump. */
  mode: 'hexdump' | 'fmt';
  /** Where a bare `xp` continues. */
  next?: u64;
}

export class Session {
  /** Stated limit: how many commands `undo` can go back. */
  static readonly UNDO_LIMIT = 64;
  system: System;
  readonly env: ExprEnv = {};
  xp: XpState = { count: 1, fmt: 'x', size: 4, mode: 'hexdump' };
  /**
   * Diagnosis mode (a lesson step asks for it, issue 13): what a running
   * kernel could not know is left out of what commands print: where each
   * device's DMA really goes (`info iommu`'s last column, `info virtio`'s
   * DMA path, `dma map`'s device check). Result data keeps it, for checks.
   */
  diagnosis = false;
  private undoStack: UndoEntry[] = [];

  constructor(
    system: System,
    readonly registry: RegistryFor<Session>,
  ) {
    this.system = system;
  }

  get machine() {
    return this.system.machine;
  }
  get kernel() {
    return this.system.kernel;
  }
  get undoDepth(): number {
    return this.undoStack.length;
  }

  /** Parse and run one line. Never throws for bad input; bugs surface as 'internal error'. */
  execute(line: string): Outcome {
    let cmdName: string | undefined;
    let cmdSpan: SourceSpan | undefined;
    let noArgs = false;
    try {
      const { tokens } = lex(line);
      if (tokens.length === 0) return { ok: true, empty: true, line };
      const { spec, rest, fmt } = this.resolve(tokens, line);
      cmdName = spec.name;
      // The command's own words: where a caret goes when the error is about the command as a whole.
      cmdSpan = { start: tokens[0]!.start, end: tokens[tokens.length - rest.length - 1]!.end };
      noArgs = rest.length === 0;
      const args = this.parseArgs(spec, rest, fmt, line, tokens);
      const result = this.transact(spec, line, () => spec.run(this, args));
      return { ok: true, line, command: spec.name, result };
    } catch (e) {
      let err = toCommandError(e);
      // A span past the words of a command given no arguments ("undo", "boot"), or a
      // limit hit (memory limit reached): put the caret under the command.
      if (cmdSpan && ((noArgs && err.span && err.span.start >= cmdSpan.end) || e instanceof LimitError)) err = new CommandError(err.message, cmdSpan, err.expected, err.hint);
      return { ok: false, line, command: cmdName, error: err };
    }
  }

  /**
   * Run a line and leave no mark: memory, every component's state, the
   * machine itself (a `reset` inside is undone), the undo history, `$`/`$_`
   * and the sticky xp format are all put back afterwards, whatever the
   * command did. Lesson checks and the UI's inspector panes use it: they
   * look at the machine after every command and must not change what they
   * look at (`trace clear` is not `mutates`, yet it changes the trace).
   * History commands (`undo`) are refused: they rewrite memory outside the
   * journal, so their effect could not be put back.
   */
  peek(line: string): Outcome {
    const sys = this.system;
    const mem = sys.machine.memory;
    const states = sys.saveStates();
    const env = { ...this.env };
    const xp = { ...this.xp };
    const undo = this.undoStack.slice();
    let cmdName: string | undefined;
    mem.begin();
    try {
      const { tokens } = lex(line);
      if (tokens.length === 0) return { ok: true, empty: true, line };
      const { spec, rest, fmt } = this.resolve(tokens, line);
      cmdName = spec.name;
      if (spec.history) throw new CommandError(`'${spec.name}' rewrites the undo history; it cannot run as a look-only command`, { start: tokens[0]!.start, end: tokens[0]!.end });
      const args = this.parseArgs(spec, rest, fmt, line, tokens);
      const result = spec.run(this, args);
      return { ok: true, line, command: spec.name, result };
    } catch (e) {
      return { ok: false, line, command: cmdName, error: toCommandError(e) };
    } finally {
      this.system = sys;
      mem.rollback();
      sys.restoreStates(states);
      for (const k of Object.keys(this.env) as (keyof ExprEnv)[]) delete this.env[k];
      Object.assign(this.env, env);
      this.xp = xp;
      this.undoStack = undo;
    }
  }

  /**
   * Run one command line inside the command that is running now (`repeat`):
   * no transaction and no undo record of its own, so the outer command's
   * transaction takes it whole (one undo step; a failure rolls all of it
   * back). `offset` is where `text` sits in the outer line: error spans are
   * moved by it so the caret lands under the inner command.
   */
  runInner(text: string, offset: number, refuse: (spec: CommandSpec) => string | undefined): { command: string; result: CommandResult } {
    const shift = (e: CommandError): CommandError => new CommandError(e.message, e.span ? { start: e.span.start + offset, end: e.span.end + offset } : undefined, e.expected, e.hint);
    try {
      const { tokens } = lex(text);
      if (tokens.length === 0) throw new CommandError('no command to run', { start: 0, end: 1 }, 'a command line');
      const { spec, rest, fmt } = this.resolve(tokens, text);
      const why = refuse(spec);
      if (why) throw new CommandError(why, { start: tokens[0]!.start, end: tokens[tokens.length - rest.length - 1]!.end });
      const args = this.parseArgs(spec, rest, fmt, text, tokens);
      return { command: spec.name, result: spec.run(this, args) };
    } catch (e) {
      throw shift(toCommandError(e));
    }
  }

  /**
   * Parse a line without running it: the command and subcommand exist, the
   * arguments and options fit the spec, expressions are well formed. `$`
   * and `$_` count as set (a script sets them before they are used). The
   * lesson linter uses it; checks that a command reads only use `spec`.
   */
  parse(line: string): { ok: true; empty: boolean; spec?: CommandSpec } | { ok: false; error: CommandError } {
    const saved = { ...this.env };
    try {
      const { tokens } = lex(line);
      if (tokens.length === 0) return { ok: true, empty: true };
      this.env.last ??= 0n;
      this.env.lastAddr ??= 0n;
      const { spec, rest, fmt } = this.resolve(tokens, line);
      this.parseArgs(spec, rest, fmt, line, tokens);
      return { ok: true, empty: false, spec };
    } catch (e) {
      return { ok: false, error: toCommandError(e) };
    } finally {
      for (const k of Object.keys(this.env) as (keyof ExprEnv)[]) delete this.env[k];
      Object.assign(this.env, saved);
    }
  }

  private transact(spec: CommandSpec, line: string, fn: () => CommandResult): CommandResult {
    const sys = this.system;
    const mem = sys.machine.memory;
    const states = sys.saveStates();
    mem.begin();
    let result: CommandResult;
    try {
      result = fn();
    } catch (e) {
      // A command may have swapped the system (reset); put the old one back whole.
      this.system = sys;
      mem.rollback();
      sys.restoreStates(states);
      throw e;
    }
    const journal = mem.commit();
    if (spec.history) {
      // undo changed the machine on purpose; nothing to record
    } else if (this.system !== sys) {
      this.pushUndo({ kind: 'system', command: line.trim(), system: sys });
    } else if (spec.mutates || journal.size > 0) {
      this.pushUndo({ kind: 'journal', command: line.trim(), journal, states });
    }
    return result;
  }

  private pushUndo(u: UndoEntry): void {
    this.undoStack.push(u);
    if (this.undoStack.length > Session.UNDO_LIMIT) this.undoStack.shift();
  }

  /** Undo the last machine-changing command; returns its text, or undefined when nothing is left. */
  undo(): string | undefined {
    const u = this.undoStack.pop();
    if (!u) return undefined;
    if (u.kind === 'system') {
      this.system = u.system;
    } else {
      this.system.machine.memory.revert(u.journal);
      this.system.restoreStates(u.states);
    }
    return u.command;
  }

  /** Rebuild the machine from its preset and options (an undoable step when run as a command). */
  replaceSystem(s: System): void {
    this.system = s;
  }

  rebuild(options: ReadonlyMap<string, string> = this.system.options): System {
    const p = findPreset(this.system.preset.name)!;
    return p.build(options);
  }

  // ---- parsing -------------------------------------------------------------

  private resolve(tokens: Token[], line: string): { spec: CommandSpec; rest: Token[]; fmt?: { text: string; span: SourceSpan } } {
    const first = tokens[0]!;
    if (first.quoted) throw new CommandError('a command name cannot be quoted', first, 'a command such as help, xp or info');
    const slash = first.text.indexOf('/');
    const word = slash >= 0 ? first.text.slice(0, slash) : first.text;
    const fmt = slash >= 0 ? { text: first.text.slice(slash + 1), span: { start: first.start + slash, end: first.end } } : undefined;
    const reg = this.registry;
    if (reg.isGroup(word)) {
      const sub = tokens[1];
      const subs = reg.subcommands(word);
      if (!sub) {
        throw new CommandError(`'${word}' needs a subcommand`, { start: first.start, end: first.end }, subs.join(', '), `${word} ${subs[0]}`);
      }
      const spec = reg.get(`${word} ${sub.text}`);
      if (!spec) {
        const s = reg.suggest(sub.text, subs);
        throw new CommandError(
          `unknown '${word}' subcommand '${sub.text}'${s ? `; did you mean '${word} ${s}'?` : ''}`,
          sub,
          subs.join(', '),
          s ? (line.slice(0, sub.start) + s + line.slice(sub.end)).trim() : `help ${word}`,
        );
      }
      return { spec, rest: tokens.slice(2), fmt };
    }
    const spec = reg.get(word);
    if (!spec) {
      const s = reg.suggest(word);
      throw new CommandError(
        `unknown command '${word}'${s ? `; did you mean '${s}'?` : ''}`,
        { start: first.start, end: first.start + word.length },
        'a command name',
        s ? line.slice(0, first.start) + s + line.slice(first.start + word.length).replace(/\s+$/, '') : "'help' lists every command",
      );
    }
    if (fmt && !spec.format) throw new CommandError(`'${spec.name}' takes no /FMT suffix`, fmt.span, `${spec.name} without '/${fmt.text}'`);
    return { spec, rest: tokens.slice(1), fmt };
  }

  private parseArgs(spec: CommandSpec, rest: Token[], fmt: ParsedArgs['fmt'], line: string, all: Token[]): ParsedArgs {
    const v: ParsedArgs['v'] = {};
    const span: ParsedArgs['span'] = {};
    const lastTok = all[all.length - 1]!;
    const allSpan = rest.length ? { start: rest[0]!.start, end: rest[rest.length - 1]!.end } : { start: lastTok.end, end: lastTok.end + 1 };
    const positional: Token[] = [];
    const usage = `usage: ${usageOf(spec)}`;
    for (const t of rest) {
      if (t.key !== undefined && !t.quoted) {
        const o = spec.opts?.find((x) => x.name === t.key);
        if (!o) {
          // key=value to a command with a 'word' argument (set NAME=VALUE) stays positional
          if (spec.args.some((a) => a.kind === 'word' || a.kind === 'rest')) {
            positional.push(t);
            continue;
          }
          const names = (spec.opts ?? []).map((x) => x.name);
          throw new CommandError(
            `'${spec.name}' has no option '${t.key}'`,
            { start: t.start, end: t.valueStart! - 1 },
            names.length ? names.map((n) => `${n}=`).join(', ') : 'no key=value options',
            usage,
          );
        }
        const vs = { start: t.valueStart!, end: t.end };
        span[o.name] = vs;
        v[o.name] = this.convert(o.kind, o.choices, t.value!, vs, `option ${o.name}`);
        continue;
      }
      positional.push(t);
    }
    let i = 0;
    for (const a of spec.args) {
      if (a.kind === 'rest') {
        const toks = positional.slice(i);
        if (toks.length === 0) {
          if (a.optional) break;
          throw new CommandError(`'${spec.name}' needs ${a.name}: ${a.desc}`, allSpan, a.desc, usage);
        }
        const s = { start: toks[0]!.start, end: toks[toks.length - 1]!.end };
        span[a.name] = s;
        v[a.name] = line.slice(s.start, s.end);
        i = positional.length;
        break;
      }
      const t = positional[i];
      if (!t) {
        if (a.optional) continue;
        throw new CommandError(`'${spec.name}' needs ${a.name}: ${a.desc}`, allSpan, a.desc, usage);
      }
      const s = { start: t.start, end: t.end };
      span[a.name] = s;
      v[a.name] = this.convert(a.kind, a.choices, t.text, s, a.name, t.quoted);
      i++;
    }
    if (i < positional.length) {
      const t = positional[i]!;
      throw new CommandError(`'${spec.name}' takes ${spec.args.length ? `at most ${spec.args.length} argument${spec.args.length > 1 ? 's' : ''}` : 'no arguments'}; '${t.text}' is extra`, t, usage);
    }
    return { v, span, fmt, all: allSpan };
  }

  private convert(kind: string, choices: readonly string[] | undefined, text: string, s: SourceSpan, what: string, quoted = false): u64 | string {
    switch (kind) {
      case 'u64':
        if (quoted) throw new CommandError(`${what} must be a number, not a string`, s, 'a number such as 0x40000000');
        return this.evalAt(text, s.start);
      case 'enum':
        if (!choices!.includes(text)) {
          const sug = this.registry.suggest(text, [...choices!]);
          throw new CommandError(`'${text}' is not a valid ${what}${sug ? `; did you mean '${sug}'?` : ''}`, s, `one of ${choices!.join(', ')}`);
        }
        return text;
      default:
        return text;
    }
  }

  /** Evaluate an expression whose text starts at column `start` of the line. */
  evalAt(text: string, start: number): u64 {
    return evalExpr(text, start, this.env);
  }
}

export function usageOf(spec: CommandSpec): string {
  const parts = [spec.name + (spec.format ? '[/FMT]' : '')];
  for (const a of spec.args) {
    const n = a.kind === 'enum' && a.choices && a.choices.length <= 4 ? a.choices.join('|') : a.name.toUpperCase();
    parts.push(a.optional ? `[${n}]` : n);
  }
  for (const o of spec.opts ?? []) parts.push(`[${o.name}=${o.kind === 'enum' ? o.choices!.join('|') : o.name.toUpperCase()}]`);
  return parts.join(' ');
}

/** Anything thrown while running a command, as a CommandError. Stack traces never reach the user. */
export function toCommandError(e: unknown): CommandError {
  if (e instanceof CommandError) return e;
  if (e instanceof BusError) return new CommandError(e.message, undefined, undefined, "'info mtree' shows what is mapped where");
  if (e instanceof LimitError) return new CommandError(e.message);
  const msg = e instanceof Error ? e.message : String(e);
  if (process.env.DMA_LAB_DEBUG && e instanceof Error) console.error(e.stack);
  return new CommandError(`internal error: ${msg} (this is a bug in dma-lab; set DMA_LAB_DEBUG=1 to see where)`);
}

export { hex };
