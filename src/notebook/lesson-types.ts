/**
 * The data types of a parsed lesson (the format is documented in
 * format.ts). Their own module so that the parser (format.ts) and the YAML
 * block readers (blocks.ts) both depend on them and not on each other.
 */
import type MarkdownIt from 'markdown-it';

export type MdToken = ReturnType<InstanceType<typeof MarkdownIt>['parse']>[number];

/** One problem in a lesson file: 1-based line, message. */
export interface Diagnostic {
  line: number;
  message: string;
}

export interface PaneSpec {
  title: string;
  run: string;
  line: number;
}

export interface FrontMatter {
  id: string;
  title: string;
  summary: string;
  machine: string;
  /** Preset options as the author wrote them (4.10 stays "4.10"). */
  options: Record<string, string>;
  minutes: number;
  prerequisites: string[];
  panes: PaneSpec[];
  /** Line of each front-matter key, for diagnostics. */
  lines: Record<string, number>;
}

export interface CellCommand {
  /** The line as written (comment included). */
  text: string;
  /** 1-based line in the file. */
  line: number;
  /** The trailing comment says `expect error`: the command is meant to fail. */
  expectError: boolean;
}

export interface Predict {
  line: number;
  question: string;
  choices?: string[];
  answer: string;
  /** More answers taken as right (free-text predictions). */
  accept?: string[];
  explain: string;
  /** Feedback for particular wrong answers (a choice, or a typed answer), shown before the explanation. */
  feedback?: { answer: string; text: string }[];
  /** Ask how sure the reader is after the answer (recorded in progress). */
  confidence?: boolean;
}

export interface Cell {
  /** `s<step>c<n>`: n counts from 1 within the step. Progress uses it. */
  id: string;
  step: number;
  /** 1-based line of the opening fence. */
  line: number;
  /** The cell's text, line by line, as written. */
  source: string[];
  predict?: Predict;
}

/** A value in a check as written and as YAML read it (0xffffffffffffffff must not become a float). */
export interface CheckValue {
  raw: string;
  value: unknown;
}

export interface Check {
  line: number;
  run: string;
  match?: string;
  not_match?: string;
  data?: string;
  equals?: CheckValue;
  min?: CheckValue;
  max?: CheckValue;
  since_step?: boolean;
  /** What the check means, in the author's words: the only thing the reader sees of it (lint requires it). */
  say?: string;
}

/**
 * A typed-answer goal's answer: the reader types a value (`a`), compared
 * with a fixed value or with what a read-only command's data holds now.
 */
export interface GoalAnswer {
  line: number;
  /** The right answer, as written. */
  value?: string;
  /** Or: read it from the machine, as a data check reads its value. */
  run?: string;
  data?: string;
}

export interface Goal {
  /** `s<step>g<n>`. */
  id: string;
  step: number;
  line: number;
  title: string;
  /** Empty for a typed-answer goal. */
  checks: Check[];
  /** Set for a typed-answer goal (no checks): the solution is what the reader would type. */
  answer?: GoalAnswer;
  hints: string[];
  solution: string;
}

export type Block =
  | { kind: 'prose'; tokens: MdToken[]; line: number; endLine: number }
  | { kind: 'cell'; cell: Cell }
  | { kind: 'goal'; goal: Goal };

export interface Step {
  /** 0 is the introduction (the cover); 1.. are the `##` steps. */
  index: number;
  title: string;
  line: number;
  blocks: Block[];
  cells: Cell[];
  goals: Goal[];
  /** A ```step block said `diagnosis: true`: commands leave out what a running kernel could not know (Session.diagnosis). */
  diagnosis?: boolean;
}

export interface Lesson {
  file: string;
  text: string;
  meta: FrontMatter;
  steps: Step[];
  /**
   * Parsed for a list only (the home screen): steps, cells and goal ids are
   * there, but predict and goal blocks were not read (their YAML is most of
   * a parse's cost). Open a lesson from a full parse.
   */
  light?: boolean;
}

export interface ParseOptions {
  /** See Lesson.light. */
  light?: boolean;
}
