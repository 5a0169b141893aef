/**
 * Golden transcripts: each test/golden/NAME.dma is run through
 * `dma-lab run --echo` and compared byte for byte with NAME.out.
 * Regenerate after an intended change with UPDATE_GOLDEN=1 npm test.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ROOT } from './helpers.ts';

const dir = join(ROOT, 'test', 'golden');
for (const f of readdirSync(dir).filter((x) => x.endsWith('.dma')).sort()) {
  test(`golden ${f}`, () => {
    const script = join(dir, f);
    const first = readFileSync(script, 'utf8').split('\n')[0]!;
    // a first line "# args: --machine X --set a=b" passes arguments
    const extra = first.startsWith('# args:') ? first.slice(7).trim().split(/\s+/) : [];
    const r = cli(['run', join('test', 'golden', f), '--echo', '--keep-going', ...extra], { cwd: ROOT });
    const actual = r.stdout + `[exit ${r.status}]\n`;
    const expectedFile = script.replace(/\.dma$/, '.out');
    if (process.env.UPDATE_GOLDEN) writeFileSync(expectedFile, actual);
    assert.fixture(actual, readFileSync(expectedFile, 'utf8'));
  });
}

test.run();
