/**
 * Sparse memory cost: resident memory of a process that builds the
 * arm-virt preset with 1 TiB of RAM, then writes 10,000 scattered pages.
 * Prints one JSON line; scripts/bench.mjs runs it in a fresh process.
 */
import { armVirt } from '../src/scenarios/arm-virt.ts';

const mib = (b: number): number => Math.round((b / 1048576) * 10) / 10;
const rss = (): number => {
  globalThis.gc?.();
  return process.memoryUsage().rss;
};
const base = rss();
const sys = armVirt.build(new Map([['ram', '1T']]));
const afterBuild = rss();
const mem = sys.machine.memory;
const t0 = performance.now();
for (let i = 0; i < 10_000; i++) mem.write8(0x4000_0000n + BigInt(i) * ((1n << 40n) / 10_000n & ~0xfffn), i & 0xff);
const writeMs = performance.now() - t0;
const afterWrite = rss();
console.log(JSON.stringify({ baseMiB: mib(base), presetMiB: mib(afterBuild - base), pages: mem.pageCount(), pagesMiB: mib(afterWrite - afterBuild), writeMs: Math.round(writeMs) }));
