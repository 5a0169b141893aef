/**
 * Module import cycles that were broken on purpose (issue 12 tidy-ups): the
 * command registry and the session, notebook blocks and format. Follows
 * every `import ... from './x.ts'` (type imports too) through src/.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve('src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.tsx?$/.test(n) ? [p] : [];
  });
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files(root)) {
    const deps: string[] = [];
    for (const m of readFileSync(f, 'utf8').matchAll(/\bfrom\s+'(\.[^']+)'/g)) deps.push(resolve(dirname(f), m[1]!));
    g.set(f, deps);
  }
  return g;
}

/** Is `to` reachable from `from`? */
function reaches(g: Map<string, string[]>, from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const n = stack.pop()!;
    if (n === to) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...(g.get(n) ?? []));
  }
  return false;
}

const g = graph();
for (const [a, b] of [
  ['commands/registry.ts', 'commands/session.ts'],
  ['notebook/blocks.ts', 'notebook/format.ts'],
]) {
  test(`no import cycle through ${a} and ${b}`, () => {
    const pa = join(root, a!);
    const pb = join(root, b!);
    const both = reaches(g, pa, pb) && reaches(g, pb, pa);
    assert.not.ok(both, `${relative(root, pa)} and ${relative(root, pb)} import each other (directly or through others)`);
  });
}

test.run();
