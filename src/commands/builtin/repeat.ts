/**
 * `repeat N COMMAND`: run one command line N times, as one command. Lessons
 * use it for workloads ("16 reads of 4 KiB") instead of pasting a list.
 *
 * It is one transaction and one undo step: if run k fails, the machine is
 * put back as it was before run 1 and the error says which run failed.
 * The output shows the first run in full; each later run shows only
 * the lines that differ from the run before it, or that none do (show=all
 * prints every run). N is at most REPEAT_MAX, a stated limit.
 */
import { span, lineText, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';

/** Stated limit: how many times `repeat` runs a command. */
export const REPEAT_MAX = 256;
/** How many changed lines a summarised run shows. */
const SHOW_CHANGED = 4;

export const repeatCommand: CommandSpec = {
  name: 'repeat',
  summary: 'Run a command N times as one step (undone, or rolled back on a failure, as a whole)',
  help: [
    'Runs COMMAND N times in a row, as one command: `undo` takes all N runs back, and when',
    'a run fails the machine is put back as it was before the first and the error says which run.',
    `N is 1 to ${REPEAT_MAX} (a stated limit). \`repeat\` and \`undo\` cannot be repeated.`,
    'The first run\'s output is shown in full; later runs are summarised (show=all prints every run).',
    "The result data holds the count and the last run's data.",
  ].join('\n'),
  examples: ['repeat 3 print $ + 1', 'repeat 4 fill 0x40000010 16 0xaa', 'repeat 2 print 1 show=all'],
  exampleSetup: ['print 0'],
  args: [
    { name: 'count', kind: 'u64', desc: `how many times, 1 to ${REPEAT_MAX}` },
    { name: 'command', kind: 'rest', desc: 'the command line to run, as typed at the prompt' },
  ],
  mutates: true,
  run(s, a) {
    const n = a.v.count as bigint;
    if (n < 1n || n > BigInt(REPEAT_MAX)) throw new CommandError(`repeat runs a command 1 to ${REPEAT_MAX} times (a stated limit), not ${n}`, a.span.count, `a count from 1 to ${REPEAT_MAX}`);
    let text = a.v.command as string;
    const offset = a.span.command!.start;
    // show=all is repeat's own option when it ends the line
    const m = /\s+show=(all|summary)\s*$/.exec(text);
    const all = m?.[1] === 'all';
    if (m) text = text.slice(0, m.index);
    const refuse = (spec: CommandSpec): string | undefined =>
      spec.name === 'repeat' ? 'repeat cannot repeat itself: give the inner count as one number' : spec.history ? `'${spec.name}' rewrites the undo history; it cannot be repeated` : undefined;
    const lines: Line[] = [];
    let prev: string | undefined;
    let prevLines: string[] = [];
    let last: unknown;
    let focus;
    let same = 0;
    const flushSame = (upTo: number): void => {
      if (same) lines.push([span(same === 1 ? `  run ${upTo}: the same output as the run before it` : `  runs ${upTo - same + 1}-${upTo}: each the same output as the run before it`, 'dim')]);
      same = 0;
    };
    const env = { ...s.env };
    for (let i = 1; i <= Number(n); i++) {
      let r;
      try {
        r = s.runInner(text, offset, refuse);
      } catch (e) {
        // the transaction puts the machine back; `$` and `$_` are put back here
        for (const k of Object.keys(s.env) as (keyof typeof env)[]) delete s.env[k];
        Object.assign(s.env, env);
        const err = e as CommandError;
        throw new CommandError(`run ${i} of ${n} failed (the machine is back as before run 1): ${err.message}`, err.span, err.expected, err.hint);
      }
      const texts = r.result.lines.map(lineText);
      const out = texts.join('\n');
      last = r.result.data;
      focus = r.result.focus ?? focus;
      if (i === 1 || all) {
        if (Number(n) > 1) lines.push([span(`── run ${i} of ${n} ──`, 'dim')]);
        lines.push(...r.result.lines);
      } else if (out === prev) same++;
      else {
        flushSame(i - 1);
        // the lines that differ from the run before, line by line (at most SHOW_CHANGED)
        const changed = r.result.lines.filter((_, k) => texts[k] !== prevLines[k]);
        lines.push([span(`  run ${i}: ${changed.length} line${changed.length === 1 ? '' : 's'} differ from run ${i - 1}${changed.length > SHOW_CHANGED ? `; the first ${SHOW_CHANGED}` : ''} (show=all prints every run):`, 'dim')]);
        lines.push(...changed.slice(0, SHOW_CHANGED));
      }
      prev = out;
      prevLines = texts;
    }
    flushSame(Number(n));
    return { kind: 'repeat', data: { count: Number(n), command: text.trim(), last }, lines, ...(focus ? { focus } : {}) };
  },
};
