/**
 * The bundle's patch to Ink's Output (scripts/ink-output-patch.mjs, issue
 * 15) must not change a single frame: random frames (styled text, wide
 * characters, clipping, rows that stay and rows that change from frame to
 * frame) go through Ink's own Output and through the patched one, and the
 * strings must be equal, frame after frame.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { ROOT } from '../cli/helpers.ts';

type Op = { kind: 'write'; x: number; y: number; text: string } | { kind: 'clip'; x1: number; x2: number; y1: number; y2: number } | { kind: 'unclip' };
interface OutputLike {
  write(x: number, y: number, text: string, o: { transformers: ((s: string, i: number) => string)[] }): void;
  clip(c: object): void;
  unclip(): void;
  get(): { output: string; height: number };
}
type OutputCtor = new (o: { width: number; height: number }) => OutputLike;

const dir = mkdtempSync(join(tmpdir(), 'dma-lab-ink-patch-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
/** Where an installed package's ESM entry is (what Ink's imports resolve to; Ink has no nested copies). */
function entry(spec: string): string {
  const pdir = join(ROOT, 'node_modules', spec);
  const pkg = JSON.parse(readFileSync(join(pdir, 'package.json'), 'utf8')) as { exports?: unknown; main?: string };
  const e = pkg.exports as string | Record<string, unknown> | undefined;
  const dot = (typeof e === 'object' && e && '.' in e ? e['.'] : e) as string | Record<string, string> | undefined;
  const rel = typeof dot === 'string' ? dot : (dot?.import ?? dot?.default ?? pkg.main ?? 'index.js');
  return pathToFileURL(join(pdir, rel)).href;
}
let Original: OutputCtor;
let Patched: OutputCtor;

test.before(async () => {
  const file = join(ROOT, 'node_modules', 'ink', 'build', 'output.js');
  Original = (await import(pathToFileURL(file).href)).default as OutputCtor;
  const { patchInkOutput } = (await import(pathToFileURL(join(ROOT, 'scripts', 'ink-output-patch.mjs')).href)) as { patchInkOutput(t: string): string | undefined };
  const patched = patchInkOutput(readFileSync(file, 'utf8'));
  assert.ok(patched, "the patch applies to the installed Ink's output.js");
  // the copy lives outside node_modules: point its imports at the installed packages
  const resolved = patched!.replace(/from '([^'.][^']*)'/g, (_m, spec: string) => `from '${entry(spec)}'`);
  const copy = join(dir, 'output-patched.mjs');
  writeFileSync(copy, resolved);
  Patched = (await import(pathToFileURL(copy).href)).default as OutputCtor;
});

const SGR = ['', '\x1b[1m', '\x1b[2m', '\x1b[31m', '\x1b[7m', '\x1b[38;5;208m'];
const piece = fc.tuple(fc.constantFrom(...SGR), fc.constantFrom('abc', 'dma-lab', '▶ ', '…', '漢字', '⏎ run', ' ', 'x'.repeat(30), '│', '0x40000000')).map(([s, t]) => (s ? `${s}${t}\x1b[0m` : t));
const text = fc.array(fc.array(piece, { minLength: 1, maxLength: 5 }).map((p) => p.join('')), { minLength: 1, maxLength: 3 }).map((ls) => ls.join('\n'));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), x: fc.integer({ min: 0, max: 60 }), y: fc.integer({ min: 0, max: 14 }), text }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clip' as const), x1: fc.integer({ min: 0, max: 30 }), x2: fc.integer({ min: 30, max: 80 }), y1: fc.integer({ min: 0, max: 5 }), y2: fc.integer({ min: 5, max: 15 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'unclip' as const }) },
);

function draw(C: OutputCtor, ops: Op[]): string {
  const o = new C({ width: 80, height: 15 });
  let clips = 0;
  for (const p of ops) {
    if (p.kind === 'write') o.write(p.x, p.y, p.text, { transformers: [] });
    else if (p.kind === 'clip') {
      o.clip(p);
      clips++;
    } else if (clips > 0) {
      o.unclip();
      clips--;
    }
  }
  return o.get().output;
}

test('random frames, one after another: the patched Output draws what Ink draws', () => {
  fc.assert(
    fc.property(fc.array(fc.array(op, { maxLength: 12 }), { minLength: 2, maxLength: 6 }), (frames) => {
      // each frame keeps most of the one before (as a screen does between two keys) and adds its own writes
      let ops: Op[] = [];
      for (const f of frames) {
        ops = [...ops.slice(0, 8), ...f];
        assert.is(draw(Patched, ops), draw(Original, ops));
      }
    }),
    { numRuns: 200, seed: 15 },
  );
});

test('the same frame twice, and a frame after a change: equal to Ink each time', () => {
  const a: Op[] = [{ kind: 'write', x: 0, y: 0, text: '\x1b[1mdma-lab\x1b[0m › tour' }, { kind: 'write', x: 0, y: 3, text: '(arm-virt) xp' }];
  const b: Op[] = [a[0]!, { kind: 'write', x: 0, y: 3, text: '(arm-virt) xp 0' }];
  for (const ops of [a, a, b, b, a]) assert.is(draw(Patched, ops), draw(Original, ops));
});

test.run();
