/**
 * The YAML parts of a lesson: front matter, ```predict and ```goal blocks
 * and their checks (the format is described in format.ts). Each reader
 * knows the file line its YAML starts at, so a problem is reported at the
 * line of the key or item it is about.
 */
import { RE2JS } from 're2js';
import { parseDocument, LineCounter, isMap, isSeq, isScalar, type Document, type Node as YamlNode, type Scalar } from 'yaml';
import { sameAnswer } from './answers.ts';
import type { Check, CheckValue, Diagnostic, FrontMatter, Goal, GoalAnswer, Predict } from './lesson-types.ts';

const FRONT_KEYS = ['id', 'title', 'summary', 'machine', 'options', 'minutes', 'prerequisites', 'panes'];
const PREDICT_KEYS = ['question', 'choices', 'answer', 'accept', 'explain', 'feedback', 'confidence'];
const GOAL_KEYS = ['title', 'checks', 'answer', 'hints', 'solution'];
const CHECK_KEYS = ['run', 'match', 'not_match', 'data', 'equals', 'min', 'max', 'since_step', 'say'];

/** A compiled lesson pattern: only `test`, in time linear in the text. */
export interface LessonPattern {
  test(text: string): boolean;
}

/**
 * Is a `match` string a /regex/flags? Returns the pattern, or an error
 * message. Lesson patterns come from anyone's lesson file, so they run on
 * RE2 (re2js), whose matching is linear in the text: a backtracking
 * pattern such as /(1+)+x/ cannot hang the lab. RE2 has no backreferences
 * or lookaround; lint reports a pattern that uses them. Flags: i, s, m (u
 * is RE2's default).
 */
export function matcher(s: string): { re?: LessonPattern; error?: string } {
  if (s.length >= 2 && s.startsWith('/')) {
    const end = s.lastIndexOf('/');
    if (end > 0) {
      const flags = s.slice(end + 1);
      if (/^[imsu]*$/.test(flags)) {
        const f = (flags.includes('i') ? RE2JS.CASE_INSENSITIVE : 0) | (flags.includes('s') ? RE2JS.DOTALL : 0) | (flags.includes('m') ? RE2JS.MULTILINE : 0);
        try {
          const re = RE2JS.compile(s.slice(1, end), f);
          return { re: { test: (text: string): boolean => re.matcher(text).find() } };
        } catch (e) {
          return { error: `bad regular expression ${s}: ${(e as Error).message} (lesson patterns use RE2 syntax: no backreferences or lookaround)` };
        }
      }
    }
  }
  return {};
}

/** Numbers as checks read them: bigint, integer number, decimal or 0x/0b/0o text. */
export function toBig(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : undefined;
  if (typeof v === 'string') {
    const t = v.trim().replace(/_/g, '');
    if (/^-?[0-9]+$/.test(t) || /^0x[0-9a-f]+$/i.test(t) || /^0b[01]+$/i.test(t) || /^0o[0-7]+$/i.test(t)) return BigInt(t);
  }
  return undefined;
}

class YamlReader {
  readonly lc = new LineCounter();
  readonly doc: Document;
  constructor(
    text: string,
    /** File line of the YAML's first line. */
    private readonly firstLine: number,
    private readonly diags: Diagnostic[],
    what: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lc, prettyErrors: false, uniqueKeys: true });
    for (const e of this.doc.errors) this.diags.push({ line: this.lineAt(e.pos[0]), message: `${what}: ${e.message.split('\n')[0]}` });
  }
  lineAt(offset: number): number {
    return this.lc.linePos(offset).line + this.firstLine - 1;
  }
  lineOf(n: YamlNode | null | undefined, fallback: number): number {
    return n?.range ? this.lineAt(n.range[0]) : fallback;
  }
}

/** A scalar's text as written (plain scalars keep their source: 4.10, 0xffffffffffffffff). */
function scalarText(n: unknown): string | undefined {
  if (!isScalar(n)) return undefined;
  const s = n as Scalar & { source?: string };
  if (s.value === null) return undefined;
  if (s.type === 'PLAIN' && typeof s.source === 'string') return s.source;
  return String(s.value);
}

function checkValue(n: unknown): CheckValue | undefined {
  if (n === undefined || n === null) return undefined;
  if (isScalar(n)) return { raw: scalarText(n) ?? '', value: (n as Scalar).value };
  const v = (n as { toJSON(): unknown }).toJSON();
  return { raw: JSON.stringify(v), value: v };
}

/** Read a map's keys, reporting unknown ones; returns key -> node. */
function mapEntries(y: YamlReader, node: unknown, allowed: string[], what: string, fallback: number, diags: Diagnostic[]): Map<string, { node: unknown; line: number }> | undefined {
  const out = new Map<string, { node: unknown; line: number }>();
  if (!isMap(node)) {
    diags.push({ line: y.lineOf(node as YamlNode, fallback), message: `${what} must be a YAML map (key: value lines)` });
    return undefined;
  }
  for (const it of node.items) {
    const key = scalarText(it.key);
    const line = y.lineOf(it.key as YamlNode, fallback);
    if (key === undefined) {
      diags.push({ line, message: `${what}: a key must be a plain word` });
      continue;
    }
    if (!allowed.includes(key)) {
      diags.push({ line, message: `${what}: unknown key '${key}' (known: ${allowed.join(', ')})` });
      continue;
    }
    out.set(key, { node: it.value, line });
  }
  return out;
}

function str(e: Map<string, { node: unknown; line: number }>, key: string, what: string, diags: Diagnostic[], fallback: number, required = true): string | undefined {
  const v = e.get(key);
  if (!v || v.node === null || (isScalar(v.node) && (v.node as Scalar).value === null)) {
    if (required) diags.push({ line: v?.line ?? fallback, message: `${what} needs '${key}'` });
    return undefined;
  }
  const t = scalarText(v.node);
  if (t === undefined || !isScalar(v.node) || typeof (v.node as Scalar).value === 'object') {
    diags.push({ line: v.line, message: `${what}: '${key}' must be text` });
    return undefined;
  }
  return t;
}

function strList(y: YamlReader, e: Map<string, { node: unknown; line: number }>, key: string, what: string, diags: Diagnostic[]): string[] | undefined {
  const v = e.get(key);
  if (!v || v.node === null) return undefined;
  if (!isSeq(v.node)) {
    diags.push({ line: v.line, message: `${what}: '${key}' must be a list` });
    return undefined;
  }
  const out: string[] = [];
  for (const it of v.node.items) {
    const t = scalarText(it);
    if (t === undefined) diags.push({ line: y.lineOf(it as YamlNode, v.line), message: `${what}: every item of '${key}' must be text` });
    else out.push(t);
  }
  return out;
}

export function parseFrontMatter(text: string, diags: Diagnostic[]): FrontMatter {
  const y = new YamlReader(text, 2, diags, 'front matter');
  const fm: FrontMatter = { id: '', title: '', summary: '', machine: '', options: {}, minutes: 0, prerequisites: [], panes: [], lines: {} };
  if (y.doc.errors.length) return fm;
  const e = mapEntries(y, y.doc.contents, FRONT_KEYS, 'front matter', 2, diags);
  if (!e) return fm;
  for (const [k, v] of e) fm.lines[k] = v.line;
  const what = 'front matter';
  fm.id = str(e, 'id', what, diags, 1) ?? '';
  if (fm.id && !/^[a-z0-9][a-z0-9-]*$/.test(fm.id)) diags.push({ line: fm.lines.id!, message: `id '${fm.id}' must be lower-case letters, digits and dashes` });
  fm.title = str(e, 'title', what, diags, 1) ?? '';
  fm.summary = str(e, 'summary', what, diags, 1) ?? '';
  fm.machine = str(e, 'machine', what, diags, 1) ?? '';
  const minutes = e.get('minutes');
  if (!minutes) diags.push({ line: 1, message: "front matter needs 'minutes'" });
  else {
    const m = isScalar(minutes.node) ? (minutes.node as Scalar).value : undefined;
    if (typeof m !== 'number' || !(m > 0)) diags.push({ line: minutes.line, message: "'minutes' must be a positive number" });
    else fm.minutes = m;
  }
  const opts = e.get('options');
  if (opts && opts.node !== null) {
    if (!isMap(opts.node)) diags.push({ line: opts.line, message: "'options' must be a map of preset options, e.g. {ram: 2G}" });
    else
      for (const it of opts.node.items) {
        const k = scalarText(it.key);
        const v = scalarText(it.value);
        const line = y.lineOf(it.key as YamlNode, opts.line);
        if (k === undefined || v === undefined) diags.push({ line, message: "'options': each entry is NAME: VALUE" });
        else {
          fm.options[k] = v;
          fm.lines[`options.${k}`] = line;
        }
      }
  }
  fm.prerequisites = strList(y, e, 'prerequisites', what, diags) ?? [];
  const panes = e.get('panes');
  if (panes && panes.node !== null) {
    if (!isSeq(panes.node)) diags.push({ line: panes.line, message: "'panes' must be a list of {title, run}" });
    else
      for (const it of panes.node.items) {
        const line = y.lineOf(it as YamlNode, panes.line);
        const pe = mapEntries(y, it, ['title', 'run'], 'pane', line, diags);
        if (!pe) continue;
        const title = str(pe, 'title', 'pane', diags, line);
        const run = str(pe, 'run', 'pane', diags, line);
        if (title !== undefined && run !== undefined) fm.panes.push({ title, run, line });
      }
  }
  return fm;
}

/** A ```step block: options for the step it stands in. Today one: `diagnosis: true`. */
export function parseStepOptions(content: string, fenceLine: number, diags: Diagnostic[]): { diagnosis?: boolean } | undefined {
  const y = new YamlReader(content, fenceLine + 1, diags, 'step');
  if (y.doc.errors.length) return undefined;
  const e = mapEntries(y, y.doc.contents, ['diagnosis'], 'step', fenceLine, diags);
  if (!e) return undefined;
  const d = e.get('diagnosis');
  if (!d) {
    diags.push({ line: fenceLine, message: 'step: give an option (diagnosis: true)' });
    return undefined;
  }
  const v = isScalar(d.node) ? (d.node as Scalar).value : undefined;
  if (typeof v !== 'boolean') {
    diags.push({ line: d.line, message: 'step: diagnosis is true or false' });
    return undefined;
  }
  return { diagnosis: v };
}

export function parsePredict(content: string, fenceLine: number, diags: Diagnostic[]): Predict | undefined {
  const y = new YamlReader(content, fenceLine + 1, diags, 'predict');
  if (y.doc.errors.length) return undefined;
  const e = mapEntries(y, y.doc.contents, PREDICT_KEYS, 'predict', fenceLine, diags);
  if (!e) return undefined;
  const question = str(e, 'question', 'predict', diags, fenceLine);
  const answer = str(e, 'answer', 'predict', diags, fenceLine);
  const explain = str(e, 'explain', 'predict', diags, fenceLine);
  const choices = strList(y, e, 'choices', 'predict', diags);
  const accept = strList(y, e, 'accept', 'predict', diags);
  if (choices && choices.length < 2) diags.push({ line: e.get('choices')!.line, message: 'predict: give at least two choices, or none (the reader types an answer)' });
  if (choices && answer !== undefined && !choices.includes(answer)) diags.push({ line: e.get('answer')!.line, message: `predict: the answer '${answer}' is not one of the choices (${choices.join(', ')})` });
  if (choices && accept) diags.push({ line: e.get('accept')!.line, message: "predict: 'accept' lists more typed answers; with choices there is one right choice" });
  const feedback: { answer: string; text: string }[] = [];
  const fb = e.get('feedback');
  if (fb && fb.node !== null) {
    if (!isMap(fb.node)) diags.push({ line: fb.line, message: "predict: 'feedback' must be a map from a wrong answer to what to tell the reader who gives it" });
    else
      for (const it of fb.node.items) {
        const k = scalarText(it.key);
        const v = scalarText(it.value);
        const line = y.lineOf(it.key as YamlNode, fb.line);
        if (k === undefined || v === undefined) diags.push({ line, message: "predict: each 'feedback' entry is WRONG ANSWER: TEXT" });
        else if (choices && !choices.includes(k)) diags.push({ line, message: `predict: feedback for '${k}', which is not one of the choices (${choices.join(', ')})` });
        else if ([answer, ...(accept ?? [])].some((x) => x !== undefined && sameAnswer(k, x))) diags.push({ line, message: `predict: feedback is for wrong answers; '${k}' is right (the explanation is what a right answer sees)` });
        else feedback.push({ answer: k, text: v });
      }
  }
  let confidence = false;
  const ce = e.get('confidence');
  if (ce) {
    const v = isScalar(ce.node) ? (ce.node as Scalar).value : undefined;
    if (typeof v !== 'boolean') diags.push({ line: ce.line, message: 'predict: confidence is true or false' });
    else confidence = v;
  }
  if (question === undefined || answer === undefined || explain === undefined) return undefined;
  return { line: fenceLine, question, answer, explain, ...(choices ? { choices } : {}), ...(accept?.length ? { accept } : {}), ...(feedback.length ? { feedback } : {}), ...(confidence ? { confidence } : {}) };
}

function parseCheck(y: YamlReader, node: unknown, fallback: number, diags: Diagnostic[]): Check | undefined {
  const line = y.lineOf(node as YamlNode, fallback);
  const e = mapEntries(y, node, CHECK_KEYS, 'check', line, diags);
  if (!e) return undefined;
  const run = str(e, 'run', 'check', diags, line);
  if (run === undefined) return undefined;
  const c: Check = { line, run };
  if (e.has('say')) {
    const say = str(e, 'say', 'check', diags, line);
    if (say !== undefined) c.say = say;
  }
  const kinds = ['match', 'not_match', 'data'].filter((k) => e.has(k));
  if (kinds.length !== 1) {
    diags.push({ line, message: `check: give exactly one of match, not_match or data (got ${kinds.length ? kinds.join(', ') : 'none'})` });
    return undefined;
  }
  for (const k of ['match', 'not_match', 'data'] as const) {
    if (!e.has(k)) continue;
    const v = str(e, k, 'check', diags, line);
    if (v === undefined) return undefined;
    c[k] = v;
    if (k !== 'data') {
      const m = matcher(v);
      if (m.error) {
        diags.push({ line: e.get(k)!.line, message: `check: ${m.error}` });
        return undefined;
      }
    }
  }
  const cmp = (['equals', 'min', 'max'] as const).filter((k) => e.has(k));
  if (c.data !== undefined) {
    if (cmp.length === 0) {
      diags.push({ line, message: 'check: a data check needs equals, min or max' });
      return undefined;
    }
    if (cmp.includes('equals') && cmp.length > 1) {
      diags.push({ line, message: 'check: equals cannot be combined with min or max' });
      return undefined;
    }
    for (const k of cmp) {
      const v = checkValue(e.get(k)!.node);
      if (!v) {
        diags.push({ line: e.get(k)!.line, message: `check: '${k}' needs a value` });
        return undefined;
      }
      if (k !== 'equals' && toBig(v.raw) === undefined) {
        diags.push({ line: e.get(k)!.line, message: `check: '${k}' must be a number (decimal or 0x hex), not '${v.raw}'` });
        return undefined;
      }
      c[k] = v;
    }
    if (!/^[\w$-]+(\.[\w$-]+)*$/.test(c.data)) {
      diags.push({ line: e.get('data')!.line, message: `check: data '${c.data}' must be a dotted path such as records.length or options.0.value` });
      return undefined;
    }
  } else if (cmp.length) {
    diags.push({ line: e.get(cmp[0]!)!.line, message: `check: '${cmp[0]}' applies to data checks only` });
    return undefined;
  }
  const ss = e.get('since_step');
  if (ss) {
    const v = isScalar(ss.node) ? (ss.node as Scalar).value : undefined;
    if (typeof v !== 'boolean') {
      diags.push({ line: ss.line, message: 'check: since_step is true or false' });
      return undefined;
    }
    if (v) {
      if (c.data !== undefined && cmp.includes('equals') && toBig(c.equals!.raw) === undefined) {
        diags.push({ line: ss.line, message: 'check: since_step compares how much a number changed; equals must be a number' });
        return undefined;
      }
      c.since_step = true;
    }
  }
  return c;
}

export function parseGoal(content: string, fenceLine: number, step: number, n: number, diags: Diagnostic[]): Goal | undefined {
  const y = new YamlReader(content, fenceLine + 1, diags, 'goal');
  if (y.doc.errors.length) return undefined;
  const e = mapEntries(y, y.doc.contents, GOAL_KEYS, 'goal', fenceLine, diags);
  if (!e) return undefined;
  const title = str(e, 'title', 'goal', diags, fenceLine);
  const solution = str(e, 'solution', 'goal', diags, fenceLine);
  if (solution !== undefined && /[\r\n]/.test(solution.trim())) diags.push({ line: e.get('solution')!.line, message: 'goal: the solution is one command line (it is typed into the input line)' });
  const hints = strList(y, e, 'hints', 'goal', diags) ?? [];
  const ce = e.get('checks');
  const ae = e.get('answer');
  const checks: Check[] = [];
  let answer: GoalAnswer | undefined;
  if (ce && ae) diags.push({ line: ae.line, message: "goal: give 'checks' (the machine's behaviour is checked) or 'answer' (the reader types a value), not both" });
  else if (ae) {
    if (isScalar(ae.node) && scalarText(ae.node) !== undefined) answer = { line: ae.line, value: scalarText(ae.node)! };
    else if (isMap(ae.node)) {
      const am = mapEntries(y, ae.node, ['run', 'data'], 'goal answer', ae.line, diags);
      const run = am && str(am, 'run', 'goal answer', diags, ae.line);
      const data = am && str(am, 'data', 'goal answer', diags, ae.line);
      if (data !== undefined && !/^[\w$-]+(\.[\w$-]+)*$/.test(data)) diags.push({ line: am!.get('data')!.line, message: `goal answer: data '${data}' must be a dotted path such as records.1.sid` });
      else if (run !== undefined && data !== undefined) answer = { line: ae.line, run, data };
    } else diags.push({ line: ae.line, message: 'goal: answer is a value (0x10, avail.idx) or {run: CMD, data: PATH} read from the machine' });
    if (!answer) return undefined;
  } else if (!ce) diags.push({ line: fenceLine, message: "goal needs 'checks' (or 'answer', for a goal the reader answers by typing a value)" });
  else if (!isSeq(ce.node) || ce.node.items.length === 0) diags.push({ line: ce.line, message: "goal: 'checks' must be a non-empty list" });
  else
    for (const it of ce.node.items) {
      const c = parseCheck(y, it, ce.line, diags);
      if (c) checks.push(c);
    }
  if (title === undefined || solution === undefined || (checks.length === 0 && !answer)) return undefined;
  return { id: `s${step}g${n}`, step, line: fenceLine, title, checks, ...(answer ? { answer } : {}), hints, solution: solution.trim() };
}
