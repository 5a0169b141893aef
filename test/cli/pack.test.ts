/**
 * The published package: `npm pack`, install the tarball into an empty
 * folder, and run `npx dma-lab --version` and `npx dma-lab run` there. A
 * tarball install runs no `prepare`, so this proves dist/ ships built.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.ts';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', NO_COLOR: '1' };

test('npm pack -> npm install ./tgz in an empty folder -> npx dma-lab works', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'dma-lab-pack-'));
  try {
    const packed = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', tmp], { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    assert.ok(files.includes('bin/dma-lab.js'), 'bin ships');
    assert.ok(files.includes('dist/cli.js'), 'built bundle ships');
    assert.ok(files.includes('LICENSE') && files.includes('README.md') && files.includes('package.json'));
    assert.not.ok(files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('node_modules/')), 'no sources, tests or modules in the tarball');
    const app = join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{"name":"empty-app","version":"1.0.0","private":true}\n');
    execFileSync(npm, ['install', '--no-audit', '--no-fund', join(tmp, packed[0]!.filename)], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const v = spawnSync(npm, ['exec', '--', 'dma-lab', '--version'], { cwd: app, env, encoding: 'utf8' });
    assert.is(v.stdout.trim(), `dma-lab ${pkg.version}`);
    const r = spawnSync(npm, ['exec', '--', 'dma-lab', 'run', '-'], { cwd: app, env, input: 'print 0xffffffffffffffff + 1\nxp/2xb 0x40000000\n', encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, '$ = 0x0 (0)\n0000000040000000: 0x00 0x00\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
