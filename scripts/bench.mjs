// `npm run bench`: prints figures, never fails on a slow machine.
// Start-up: the installed command (built bundle) against a bare `node -e 0`
// measured in the same run, and what tsx would cost. Model: sparse memory,
// and (as the model grows) translation and DMA throughput from bench/*.ts;
// bench/ui.ts times the terminal UI (first frames, a cell's output) under tmux.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { buildFloor } from './bench-floor.mjs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.env.BENCH_RUNS ?? 11);
// BENCH_ONLY=startup,lessons,ui (any of them and bench/ names) runs only those sections.
const only = process.env.BENCH_ONLY?.split(',');
const want = (name) => !only || only.includes(name);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function wall(cmd, args, opts = {}) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    opts.after?.();
  }
  return median(times);
}

if (!existsSync(join(root, 'dist', 'cli.js'))) spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });

console.log(`dma-lab bench (median of ${runs} runs; node ${process.version}, ${process.platform}/${process.arch})\n`);
const row = (name, ms, extra = '') => console.log(`  ${name.padEnd(34)}${ms.toFixed(0).padStart(6)} ms${extra}`);
const bare = wall(process.execPath, ['-e', '0']);
if (want('startup')) {
console.log('start-up');
const ver = wall(process.execPath, [join(root, 'bin/dma-lab.js'), '--version']);
const runCmd = wall(process.execPath, [join(root, 'bin/dma-lab.js'), 'run', '-'], { input: 'print 1\n' });
const tsx = wall(process.execPath, ['--import', 'tsx', join(root, 'src/cli/entry.ts'), '--version']);
row('node -e 0', bare);
row('dma-lab --version (built)', ver, `   ${(ver / bare).toFixed(2)}x node -e 0 (target <= 2x)`);
row('dma-lab run - (print 1)', runCmd, `   ${(runCmd / bare).toFixed(2)}x`);
row('same --version through tsx', tsx, `   ${(tsx / bare).toFixed(2)}x: why the bin runs built JS`);
// What a new user who types `npx dma-lab` pays: npm's own start-up before
// ours (--no: never download; in this checkout npx finds the package's own
// bin). The installed bin (node_modules/.bin/dma-lab, or dma-lab on PATH
// after npm install -g) is the file run directly through its #! line.
const installed = wall(join(root, 'bin/dma-lab.js'), ['--version']);
row('bin/dma-lab.js --version via #!', installed, `   ${(installed / bare).toFixed(2)}x: the installed bin`);
const npxRuns = spawnSync('npx', ['--no', '--', 'dma-lab', '--version'], { cwd: root, stdio: 'ignore' }).status === 0;
if (npxRuns) {
  const npx = wall('npx', ['--no', '--', 'dma-lab', '--version']);
  row('npx dma-lab --version', npx, `   ${(npx / bare).toFixed(2)}x: npm's start-up, then ours (README: start without npx)`);
} else console.log('  npx dma-lab --version              (npx could not run it here)');
}

// Every shipped lesson checked headless, end to end (issue 15: <= 1 s each).
// Wall time, and the process's own CPU time (user + system, from
// process.cpuUsage at exit): on a shared machine the wall time waits for
// the CPU, the CPU time does not.
if (want('lessons')) {
console.log('\nlesson --check, whole lesson (target <= 1000 ms each): wall, and CPU');
const cpuHook = 'data:text/javascript,' + encodeURIComponent("import { writeFileSync } from 'node:fs'; process.on('exit', () => { const u = process.cpuUsage(); writeFileSync(process.env.BENCH_CPU_OUT, String((u.user + u.system) / 1000)); });");
for (const f of readdirSync(join(root, 'lessons')).filter((x) => /^\d+[a-z]?-.*\.md$/.test(x)).sort()) {
  const id = f.replace(/^\d+[a-z]?-/, '').replace(/\.md$/, '');
  const state = mkdtempSync(join(tmpdir(), 'dma-lab-bench-state-'));
  const cpuOut = join(state, 'cpu');
  try {
    const cpu = [];
    const w = wall(process.execPath, ['--import', cpuHook, join(root, 'bin/dma-lab.js'), 'lesson', id, '--check'], {
      env: { ...process.env, NO_COLOR: '1', DMA_LAB_STATE_DIR: state, BENCH_CPU_OUT: cpuOut },
      after: () => cpu.push(Number(readFileSync(cpuOut, 'utf8'))),
    });
    row(id, w, `   CPU ${median(cpu).toFixed(0)} ms`);
  } catch (e) {
    console.log(`  ${id.padEnd(34)}failed: ${String(e.message).split('\n')[0]}`);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}
}

// Model benchmarks: bundle bench/*.ts once and run each in a fresh node.
const out = mkdtempSync(join(tmpdir(), 'dma-lab-bench-'));
try {
  // the floor for the UI figures: a minimal Ink app bundled from our own ink and react
  process.env.BENCH_FLOOR = await buildFloor(root, out);
  const entries = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.ts')).map((f) => join(root, 'bench', f));
  await build({ entryPoints: entries, outdir: out, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning', outExtension: { '.js': '.mjs' } });
  const model = (name) => {
    const r = spawnSync(process.execPath, ['--expose-gc', join(out, `${name}.mjs`)], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  if (want('memory')) {
    console.log('\nsparse memory (arm-virt with ram=1T)');
    const m = model('memory');
    console.log(`  process baseline                  ${String(m.baseMiB).padStart(6)} MiB`);
    console.log(`  preset with 1 TiB of RAM          ${String(m.presetMiB).padStart(6)} MiB   (target < 32 MiB)`);
    console.log(`  + ${m.pages} scattered pages written  ${String(m.pagesMiB).padStart(6)} MiB   (${m.writeMs} ms to write)`);
  }
  for (const f of readdirSync(join(root, 'bench')).filter((x) => x.endsWith('.ts') && x !== 'memory.ts')) {
    const name = f.replace(/\.ts$/, '');
    if (!want(name)) continue;
    const r = model(name);
    console.log(`\n${r.title}`);
    for (const [k, v] of Object.entries(r.figures)) console.log(`  ${k.padEnd(48)}${String(v).padStart(12)}`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
