/** The key table, the style map and the layout: one source for handlers, footer and help; monochrome; 80x24. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BINDINGS, dispatch, footerText, helpSections, splitKeys, type Mode } from '../../src/ui/keys.ts';
import { styleProps } from '../../src/ui/styles.ts';
import { computeLayout } from '../../src/ui/layout.ts';
import { completeLine, at } from '../../src/ui/hooks/line-edit.ts';
import { createSession } from '../../src/commands/index.ts';
import { complete } from '../../src/commands/complete.ts';

const key = (k: Record<string, boolean> = {}) => ({ upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false, capsLock: false, numLock: false, ...k });

test('dispatch runs the first matching binding of the mode; q and ? act on the input line only when it is empty', () => {
  const got: string[] = [];
  const h = { quit: () => got.push('quit'), help: () => got.push('help'), 'edit.insert': () => got.push('insert'), 'cell.run': () => got.push('run') };
  dispatch('notebook', '', key({ return: true }), { empty: true }, h);
  dispatch('input', 'q', key(), { empty: true }, h);
  dispatch('input', 'q', key(), { empty: false }, h);
  dispatch('input', '?', key(), { empty: true }, h);
  dispatch('input', 'c', key({ ctrl: true }), { empty: false }, h);
  assert.equal(got, ['run', 'quit', 'insert', 'help', 'quit']);
});

test('every footer item and help row comes from the table; the footer fits the width and keeps ? help and q quit', () => {
  const modes: Mode[] = ['home', 'notebook', 'input', 'edit', 'predict'];
  for (const m of modes) {
    for (const w of [40, 80, 100, 200]) {
      const f = footerText(m, w);
      assert.ok(f.length <= w, `${m} at ${w}: ${f}`);
      for (const item of f.split('  ')) {
        assert.ok(BINDINGS.some((b) => b.modes.includes(m) && b.footer && item.endsWith(b.label)), `${m}: '${item}' is not a binding`);
      }
    }
  }
  assert.match(footerText('notebook', 80), /\? help {2}q quit$/);
  const help = helpSections();
  const rows = help.flatMap((s) => s.rows.map((r) => r.help));
  for (const b of BINDINGS) assert.ok(rows.includes(b.help), `${b.action} is missing from the help overlay`);
});

test('splitKeys: keys that arrive in one read become one event each (jj⏎, a paste ending in a newline)', () => {
  const ev = splitKeys('jj\r', key());
  assert.equal(ev.map(([i, k]) => [i, k.return]), [['j', false], ['j', false], ['', true]]);
  const ctl = splitKeys('a\x15b\x7f', key());
  assert.equal(ctl.map(([i, k]) => [i, k.ctrl, k.delete]), [['a', false, false], ['u', true, false], ['b', false, false], ['', false, true]]);
  assert.equal(splitKeys('x', key()).length, 1);
});

test('monochrome: every style maps to bold, dim or inverse only', () => {
  const styles = ['head', 'addr', 'num', 'name', 'dim', 'ok', 'bad', 'warn', 'key', 'heading', 'strong', 'em', 'code', 'link', 'quote', 'codeblock', 'select', 'cell', 'prompt'] as const;
  for (const s of styles) {
    const p = styleProps(s, false);
    for (const k of Object.keys(p)) assert.ok(['bold', 'dimColor', 'inverse'].includes(k), `${s} uses ${k} without colour`);
    assert.ok(Object.keys(styleProps(s, true)).length > 0, `${s} has a colour look`);
  }
});

test('layout: the frame is rows-1 tall at every size; narrow stacks, wide puts the inspector beside', () => {
  for (const [c, r] of [
    [80, 24],
    [100, 30],
    [160, 50],
    [119, 40],
  ] as const) {
    const l = computeLayout(c, r);
    assert.is(1 + l.bodyRows + 1 + l.inputRows + 1, r - 1);
    if (l.wide) {
      assert.is(l.lesson.width + 1 + l.inspector.width, c);
      assert.is(l.lesson.rows, l.bodyRows);
    } else assert.is(l.lesson.rows + l.inspector.rows, l.bodyRows);
  }
  assert.not.ok(computeLayout(80, 24).wide);
  assert.not.ok(computeLayout(120, 30).wide, 'issue 13: at 120 columns the panes go below the lesson');
  assert.ok(computeLayout(140, 30).wide);
  assert.ok(computeLayout(30, 10).tooSmall);
});

test('Tab completion on the input line: one candidate completes, several insert the common prefix', () => {
  const s = createSession();
  const fn = (b: string): [string[], string] => complete(s, b);
  assert.equal(completeLine(at('inf'), fn).state, at('info '));
  const r = completeLine(at('info m'), fn);
  assert.is(r.state.text, 'info m');
  assert.ok(r.candidates.includes('mtree') && r.candidates.includes('machine'));
  assert.equal(completeLine(at('write 1 2 si'), fn).state, at('write 1 2 size='));
});

test.run();
