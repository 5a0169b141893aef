// Regression (issue 12, item 1): terminal escape injection. A lesson whose
// title and prose carry OSC 52 (writes the clipboard) and OSC 0 (window
// title), a script printing ESC, a kernel log with CSI in it: nothing of it
// may reach the terminal as a raw control byte; it is shown as \x1b.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cli } from './helpers.ts';

const OSC52 = '\x1b]52;c;cHduZWQ=\x07';
const OSC0 = '\x1b]0;pwned\x07';
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
const noRaw = (what: string, s: string): void => {
  const m = RAW.exec(s);
  assert.not.ok(m, `${what}: raw control byte 0x${m?.[0].charCodeAt(0).toString(16)} at ${m?.index}: ${JSON.stringify(s.slice(Math.max(0, (m?.index ?? 0) - 20), (m?.index ?? 0) + 20))}`);
};

const dir = mkdtempSync(join(tmpdir(), 'dma-lab-esc-'));
const lesson = join(dir, '01-evil.md');
writeFileSync(
  lesson,
  `---\nid: evil\ntitle: "Evil ${OSC52} title"\nsummary: "s ${OSC0}"\nmachine: arm-virt\nminutes: 1\n---\n\n# Evil ${OSC0}\n\nProse ${OSC52} here.\n\n## Step ${OSC0}\n\nMore \u009b31m prose.\n\n\`\`\`dma\nprint 1 # ${OSC0}\n\`\`\`\n`,
);

test('lessons, lesson (text mode), lint: no raw control byte from the lesson file', () => {
  const env = { DMA_LAB_LESSONS_DIR: dir };
  for (const args of [['lessons'], ['lesson', lesson], ['lint', lesson]]) {
    const r = cli(args, { env });
    noRaw(args.join(' ') + ' stdout', r.stdout);
    noRaw(args.join(' ') + ' stderr', r.stderr);
  }
  const r = cli(['lesson', lesson], { env });
  assert.match(r.stdout, '\\x1b]52;c;');
});

test('run: print/c of ESC and an error echoing an ESC token are shown, not sent', () => {
  const r = cli(['run', '-', '--keep-going'], { input: `print/c 0x1b\nprint ${OSC0}\nxp ${OSC52}\n` });
  noRaw('run stdout', r.stdout);
  noRaw('run stderr', r.stderr);
});

test('decode: a log with CSI and OSC bytes in it', () => {
  const log = `[ 1.0] arm-smmu-v3 2b400000.smmu: event 0x10 received:${OSC0}\n[ 1.1] arm-smmu-v3 2b400000.smmu: \t0x00000000fffff010\x1b[2J\n`;
  const r = cli(['decode', '-'], { input: log });
  noRaw('decode stdout', r.stdout.replace(/\t/g, ' '));
  noRaw('decode stderr', r.stderr);
});

test.run();
