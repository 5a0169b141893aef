// Issue 11 item 11: no two assigned BARs of one host bridge overlap, and each
// lies inside one of the bridge's windows of its kind, on every preset.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PRESETS } from '../../src/scenarios/index.ts';

for (const p of PRESETS) {
  test(`${p.name}: BARs are inside a window of their kind and do not overlap`, () => {
    const sys = p.build(new Map());
    for (const h of sys.machine.pciHosts) {
      const used: { lo: bigint; hi: bigint; what: string; io: boolean }[] = [];
      for (const f of h.functions) {
        for (const b of f.bars) {
          if (b.addr === 0n) continue;
          const io = b.kind === 'io';
          const w = h.windows.find((x) => (x.kind === 'io') === io && b.addr >= x.pciBase && b.addr + b.size <= x.pciBase + x.size);
          // x86 port I/O is the CPU's own address space, not a window of the bridge.
          const portIo = io && !h.windows.some((x) => x.kind === 'io');
          assert.ok(w || portIo, `${f.name} BAR${b.index} at 0x${b.addr.toString(16)} is inside no ${io ? 'I/O' : 'memory'} window`);
          const r = { lo: b.addr, hi: b.addr + b.size - 1n, what: `${f.name} BAR${b.index}`, io };
          const clash = used.find((u) => u.io === io && u.lo <= r.hi && r.lo <= u.hi);
          assert.not.ok(clash, `${r.what} [0x${r.lo.toString(16)}-0x${r.hi.toString(16)}] overlaps ${clash?.what}`);
          used.push(r);
        }
      }
    }
  });
}

test.run();
