/**
 * Fuzz (issue 12, "Must hold"): text that did not come from the lab --
 * command lines, kernel logs for `decode`, lesson files -- never reaches the
 * terminal with a raw control byte, never produces an internal error, and
 * takes bounded time. Each input goes the way the CLI sends it: commands and
 * decode through the renderers, lessons through printLesson and the CLI's
 * last write (visibleKeepSgr). The lab's own SGR colour codes are allowed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createSession } from '../../src/commands/index.ts';
import { renderError, renderLines } from '../../src/commands/render.ts';
import { decodeLog, reportLines } from '../../src/inspect/decode.ts';
import { visibleKeepSgr } from '../../src/inspect/view.ts';
import { parseLesson } from '../../src/notebook/format.ts';
import { printLesson } from '../../src/notebook/headless.ts';

const HOSTILE = ['\x1b', '\x07', '\x9b', '\x00', '\x7f', '\r', '\u202e', '\u2066', ']', '[', '52;c;', '0;', 'm', '2J'];
const PLAIN = ['a', '0x', '1', ' ', '\n', '\t', '(', ')', '+', '/', 'vda', 'x'];
const unit = fc.constantFrom(...HOSTILE, ...PLAIN);
const text = (max: number) => fc.array(unit, { maxLength: max }).map((a) => a.join(''));

const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const noRaw = (what: string, out: string): void => {
  const s = out.replace(/\x1b\[[0-9;]*m/g, '');
  const m = RAW.exec(s);
  assert.not.ok(m, `${what}: raw control U+${m?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} in ${JSON.stringify(s.slice(Math.max(0, (m?.index ?? 0) - 30), (m?.index ?? 0) + 30))}`);
};
const timed = (what: string, f: () => void, ms = 3000): void => {
  const t = performance.now();
  f();
  assert.ok(performance.now() - t < ms, `${what} took ${(performance.now() - t).toFixed(0)} ms`);
};

test('command lines: rendered output and errors hold no raw control byte; no internal error', () => {
  const s = createSession('qemu-virt-smmuv3');
  s.execute('boot');
  const cmd = fc.tuple(fc.constantFrom('print', 'print/c', 'xp', 'write', 'info', 'vfio map', 'dma map vda', 'help', 'machine', 'set', ''), text(24)).map(([c, t]) => `${c} ${t}`);
  fc.assert(
    fc.property(cmd, (line) => {
      timed(JSON.stringify(line), () => {
        const o = s.execute(line);
        if (o.ok) {
          if (!o.empty) noRaw(line, renderLines(o.result.lines, true));
        } else {
          assert.not.match(o.error.message, 'internal error', `${JSON.stringify(line)}: ${o.error.message}`);
          noRaw(line, renderError(o, true));
        }
      });
    }),
    { numRuns: 300, seed: 12 },
  );
});

test('decode: any log text is decoded and rendered without raw control bytes', () => {
  const head = fc.constantFrom('', 'arm-smmu-v3 2b400000.smmu: event 0x10 received:\n', 'DMAR: [DMA Read] Request device [00:02.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set\n', '\t0x00000000fffff010\n');
  fc.assert(
    fc.property(fc.array(fc.tuple(head, text(30)), { maxLength: 12 }), (parts) => {
      const log = parts.map(([h, t]) => h + t).join('\n');
      timed('decode', () => noRaw('decode', renderLines(reportLines(decodeLog(log), '<fuzz>'), true)));
    }),
    { numRuns: 200, seed: 7 },
  );
});

test('lesson files: parsed and printed as the CLI prints them, without raw control bytes', () => {
  const lesson = fc.tuple(text(12), text(40), text(12)).map(
    ([title, prose, cmd]) => `---\nid: fuzz\ntitle: "${title.replace(/["\\\n]/g, '')}"\nsummary: s\nmachine: arm-virt\nminutes: 1\n---\n\n# T\n\n${prose}\n\n## Step\n\n${prose}\n\n\`\`\`dma\nprint 1 # ${cmd.replace(/\n/g, ' ')}\n\`\`\`\n`,
  );
  fc.assert(
    fc.property(lesson, (src) => {
      timed('lesson', () => {
        const { lesson: l, diagnostics } = parseLesson(src, 'fuzz.md');
        // As cmdLesson does: a lesson with problems is not run; its problems are printed.
        if (diagnostics.length) return noRaw('diagnostics via the CLI write', visibleKeepSgr(diagnostics.map((d) => `fuzz.md:${d.line}: ${d.message}\n`).join('')));
        let out = '';
        printLesson(l, (s) => (out += s), { color: true });
        noRaw('printLesson via the CLI write', visibleKeepSgr(out));
      });
    }),
    { numRuns: 60, seed: 3 },
  );
});

test.run();
