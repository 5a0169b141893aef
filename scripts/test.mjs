// `npm test`: build the bundle the CLI tests run, type-check, run every
// uvu test file (test/**/*.test.ts, through tsx), and close with the line
// CI reads: "N passed, N failed". Exit status 1 on any failure.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (n) => join(root, 'node_modules', '.bin', n);
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0;
let failed = 0;

function step(name, cmd, args, opts = {}) {
  process.stdout.write(`\n== ${name}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  return r;
}

const b = step('build', process.execPath, [join(root, 'scripts/build.mjs')]);
if (b.status === 0) passed++;
else failed++;

const tc = step('typecheck (tsc --noEmit)', bin('tsc'), ['--noEmit', '-p', '.']);
if (tc.status === 0) passed++;
else failed++;

// Only what is named after the filter words, when given: `npm test -- machine`.
const filter = process.argv.slice(2);
const dirs = filter.length ? filter.map((f) => join('test', f)) : ['test'];
for (const d of dirs) {
  const u = step(`uvu ${d}`, bin('uvu'), ['-r', 'tsx', d, '\\.test\\.tsx?$'], { env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  const out = strip((u.stdout ?? '') + (u.stderr ?? ''));
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  passed += ok;
  let bad = total - ok - skipped;
  if (u.status !== 0 && bad === 0) bad = 1; // a file that failed to load counts
  failed += bad;
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
