// `npm run bench`: prints figures, never fails on a slow machine.
// Start-up: the installed command (built bundle) against a bare `node -e 0`
// measured in the same run, and what tsx would cost. Model: sparse memory,
// and (as the model grows) translation and DMA throughput from bench/*.ts;
// bench/ui.ts times the terminal UI (first frames, a cell's output) under tmux.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.env.BENCH_RUNS ?? 11);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function wall(cmd, args, opts = {}) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
}

if (!existsSync(join(root, 'dist', 'cli.js'))) spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });

console.log(`dma-lab bench (median of ${runs} runs; node ${process.version}, ${process.platform}/${process.arch})\n`);
console.log('start-up');
const bare = wall(process.execPath, ['-e', '0']);
const ver = wall(process.execPath, [join(root, 'bin/dma-lab.js'), '--version']);
const runCmd = wall(process.execPath, [join(root, 'bin/dma-lab.js'), 'run', '-'], { input: 'print 1\n' });
const tsx = wall(process.execPath, ['--import', 'tsx', join(root, 'src/cli/entry.ts'), '--version']);
const row = (name, ms, extra = '') => console.log(`  ${name.padEnd(34)}${ms.toFixed(0).padStart(6)} ms${extra}`);
row('node -e 0', bare);
row('dma-lab --version (built)', ver, `   ${(ver / bare).toFixed(2)}x node -e 0 (target <= 2x)`);
row('dma-lab run - (print 1)', runCmd, `   ${(runCmd / bare).toFixed(2)}x`);
row('same --version through tsx', tsx, `   ${(tsx / bare).toFixed(2)}x: why the bin runs built JS`);

// Model benchmarks: bundle bench/*.ts once and run each in a fresh node.
const out = mkdtempSync(join(tmpdir(), 'dma-lab-bench-'));
try {
  const entries = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.ts')).map((f) => join(root, 'bench', f));
  await build({ entryPoints: entries, outdir: out, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning', outExtension: { '.js': '.mjs' } });
  const model = (name) => {
    const r = spawnSync(process.execPath, ['--expose-gc', join(out, `${name}.mjs`)], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  console.log('\nsparse memory (arm-virt with ram=1T)');
  const m = model('memory');
  console.log(`  process baseline                  ${String(m.baseMiB).padStart(6)} MiB`);
  console.log(`  preset with 1 TiB of RAM          ${String(m.presetMiB).padStart(6)} MiB   (target < 32 MiB)`);
  console.log(`  + ${m.pages} scattered pages written  ${String(m.pagesMiB).padStart(6)} MiB   (${m.writeMs} ms to write)`);
  for (const f of readdirSync(join(root, 'bench')).filter((x) => x.endsWith('.ts') && x !== 'memory.ts')) {
    const name = f.replace(/\.ts$/, '');
    const r = model(name);
    console.log(`\n${r.title}`);
    for (const [k, v] of Object.entries(r.figures)) console.log(`  ${k.padEnd(48)}${String(v).padStart(12)}`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
