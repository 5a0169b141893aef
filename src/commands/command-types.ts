/**
 * The command registry, generic in the session type so this module imports
 * nothing of session.ts (registry.ts binds it to Session; session.ts uses
 * this module directly, which keeps the two free of an import cycle).
 * Every command is one `CommandSpec`: its name (one word, or a group and a
 * word: `info mtree`), its arguments and key=value options, a one-line summary, longer help with examples, and `run`. Help,
 * argument checking and tab completion all read the same spec.
 */
import { distance } from 'fastest-levenshtein';
import type { u64 } from '../machine/u64.ts';
import type { Line } from '../inspect/view.ts';
import type { SourceSpan } from './errors.ts';

export type ArgKind =
  /** An expression evaluated in u64. */
  | 'u64'
  /** One of `choices`. */
  | 'enum'
  /** A device the machine knows (completion from the machine). */
  | 'device'
  /** Any single word or quoted string. */
  | 'word'
  /** The rest of the line, taken as one expression (print). */
  | 'rest';

export interface ArgSpec {
  name: string;
  kind: ArgKind;
  desc: string;
  optional?: boolean;
  choices?: readonly string[];
}

export interface OptSpec {
  name: string;
  kind: 'u64' | 'enum' | 'word';
  desc: string;
  choices?: readonly string[];
}

export interface ParsedArgs {
  /** Argument and option values by name: bigint for u64, string otherwise. */
  v: Record<string, u64 | string | undefined>;
  /** Where each argument/option sits in the line. */
  span: Record<string, SourceSpan>;
  /** The `/FMT` suffix of the command word, when present. */
  fmt?: { text: string; span: SourceSpan };
  /** Span of the whole argument list (for errors about the command as a whole). */
  all: SourceSpan;
}

export interface CommandResult {
  /** What kind of result this is ('hexdump', 'value', 'mtree', ...): JSON consumers switch on it. */
  kind: string;
  /** Structured data, JSON-able after bigint conversion. */
  data: unknown;
  /** What a person reads. */
  lines: Line[];
  /** The memory range the command looked at or changed (the UI's memory pane follows it). */
  focus?: { addr: u64; len: number };
}

export interface CommandSpecFor<S> {
  name: string;
  summary: string;
  help: string;
  examples: string[];
  /** The preset the examples are meant for, when not the default one. */
  exampleMachine?: string;
  /** Lines to run before the examples (e.g. ['boot']). */
  exampleSetup?: string[];
  args: ArgSpec[];
  opts?: OptSpec[];
  /** Accepts a gdb-style /FMT suffix; the text says which letters. */
  format?: string;
  /** Changes the machine: gets an undo record. */
  mutates: boolean;
  /** Rewrites the undo history itself (only `undo`): never recorded as a step. */
  history?: boolean;
  run(s: S, a: ParsedArgs): CommandResult;
}

export class RegistryFor<S> {
  private byName = new Map<string, CommandSpecFor<S>>();
  private groups = new Map<string, string>();

  add(spec: CommandSpecFor<S>): void {
    if (this.byName.has(spec.name)) throw new Error(`command ${spec.name} defined twice`);
    this.byName.set(spec.name, spec);
  }

  /** A group word (`info`) with a one-line summary of what its subcommands show. */
  addGroup(name: string, summary: string): void {
    this.groups.set(name, summary);
  }

  get(name: string): CommandSpecFor<S> | undefined {
    return this.byName.get(name);
  }
  isGroup(name: string): boolean {
    return this.groups.has(name);
  }
  groupSummary(name: string): string | undefined {
    return this.groups.get(name);
  }
  all(): CommandSpecFor<S>[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
  /** Subcommand words of a group: `info` -> ['machine', 'mtree', 'pci']. */
  subcommands(group: string): string[] {
    return this.all()
      .filter((c) => c.name.startsWith(group + ' '))
      .map((c) => c.name.slice(group.length + 1));
  }
  /** First words users can type: plain commands and group names. */
  topWords(): string[] {
    return [...new Set(this.all().map((c) => c.name.split(' ')[0]!))].sort();
  }

  /** The closest name to a typo, if close enough to be a useful suggestion. */
  suggest(word: string, candidates: string[] = this.topWords()): string | undefined {
    let best: string | undefined;
    let bestD = Infinity;
    for (const c of candidates) {
      const d = c.startsWith(word) ? 0.5 : distance(word, c);
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
    return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3) + 1) ? best : undefined;
  }
}
