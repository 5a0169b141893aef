/**
 * The DMAR fault interrupt's handler (linux drivers/iommu/intel/dmar.c
 * dmar_fault -> dmar_fault_do_one, and iommu.c dmar_fault_dump_ptes):
 * read FSTS, print "DRHD: handling fault status reg %x", walk the fault
 * recording registers from FSTS.FRI while F is set, print each record in
 * the era's format (intel-dmar.ts), write 1 to its F, and finally clear
 * FSTS.
 *
 * By era:
 *   <= ~v4.0: no ratelimit; afterwards every status bit that is set is
 *             written back ("clear_rest").
 *   v4.1+:    one ratelimit state (DEFAULT_RATELIMIT_INTERVAL 5 s, BURST
 *             10) for the status line and for every pass of the record
 *             loop, including the last pass that finds F clear; records
 *             beyond the budget are cleared silently. Then FSTS is written
 *             with PFO | PPF | PRO.
 *   current with CONFIG_DMAR_DEBUG: the kernel's own root entry, context
 *             entry and page-table walk follow each DMA fault line.
 */
import { ratelimit, type RatelimitState } from './printk.ts';
import { type u64, hex } from '../machine/u64.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import * as R from '../machine/vtd/regs.ts';
import { agawToLevels } from '../machine/vtd/context.ts';
import { levelIndex } from '../machine/vtd/slpt.ts';
import type { DmesgLine } from './kernel.ts';
import { dmarPrefix, formatDmarFault, formatFaultStatus, type DmarFaultFormat, type DmarFaultInfo } from './intel-dmar.ts';
import type { DmarUnitOps, LogLine, UnitState } from './intel-unit.ts';

/** struct ratelimit_state and its constructor live in printk.ts (shared with arm-smmu-v3). */
export type { RatelimitState } from './printk.ts';
export { newRatelimit } from './printk.ts';

export interface FaultEnv {
  ops: DmarUnitOps;
  memory: PhysicalMemory;
  version: number;
  format: DmarFaultFormat;
  /** Simulated seconds since boot. */
  now(): number;
  /** CONFIG_DMAR_DEBUG. */
  debug: boolean;
  print(level: DmesgLine['level'], text: string, out?: LogLine[]): void;
}

/** __ratelimit(DEFAULT_RATELIMIT_INTERVAL 5 s, BURST 10); always true before v4.1. */
function faultRatelimit(env: FaultEnv, rs: RatelimitState, out: LogLine[]): boolean {
  if (env.format === 'legacy') return true;
  return ratelimit(rs, env.now(), (n) => env.print('warn', `dmar_fault: ${n} callbacks suppressed`, out));
}

/** dmar_fault for one unit. Returns the records it read (printed or not). */
export function dmarFaultUnit(env: FaultEnv, rs: RatelimitState, u: UnitState, out: LogLine[]): DmarFaultInfo[] {
  const hw = env.ops;
  const pfx = dmarPrefix(env.version);
  const got: DmarFaultInfo[] = [];
  const fsts = hw.readl(u, R.DMAR_FSTS_REG);
  const legacy = env.format === 'legacy';
  if (fsts && faultRatelimit(env, rs, out)) env.print('err', formatFaultStatus(fsts, pfx), out);
  if (fsts & R.DMA_FSTS_PPF) {
    let index = (fsts >> 8) & 0xff;
    const reg = hw.cap(u, 'FRO') * 16;
    const nfr = hw.cap(u, 'NFR') + 1;
    // Linux loops until a record without F; each pass takes a ratelimit token, the last one too.
    for (let n = 0; n <= nfr; n++) {
      const limited = !faultRatelimit(env, rs, out);
      const at = reg + index * R.FRCD_SIZE;
      const hi = hw.readl(u, at + 12);
      if (!(hi & 0x8000_0000)) break;
      // dma_frcd_fault_reason / _type / _pasid_value from dword +12, source id and PP from dword +8, page from qword +0.
      const f: DmarFaultInfo = { read: ((hi >>> 30) & 1) === 1, reason: hi & 0xff, sid: 0, addr: 0n };
      const mid = hw.readl(u, at + 8);
      f.sid = mid & 0xffff;
      if (mid >>> 31 && env.format !== 'legacy' && env.format !== 'v4') f.pasid = (hi >>> 8) & 0xfffff;
      f.addr = hw.readq(u, at) & ~0xfffn;
      hw.writel(u, at + 12, 0x8000_0000); // clear the fault
      got.push(f);
      if (!limited) {
        for (const line of formatDmarFault(env.format, f, pfx)) env.print('err', line, out);
        if (env.debug && env.format === 'current' && f.reason < 0x20) dumpPtes(env, u, f, out);
      }
      index = (index + 1) % nfr;
    }
  }
  if (legacy) {
    // clear_rest: clear every status bit that is set.
    const rest = hw.readl(u, R.DMAR_FSTS_REG);
    if (rest) hw.writel(u, R.DMAR_FSTS_REG, rest);
  } else if (fsts & R.DMA_FSTS_PPF) {
    hw.writel(u, R.DMAR_FSTS_REG, R.DMA_FSTS_PFO | R.DMA_FSTS_PPF | R.DMA_FSTS_PRO);
  }
  return got;
}

/** dmar_fault_dump_ptes (legacy mode): the kernel's own tables for the faulting IOVA, as the newest kernels print them. */
function dumpPtes(env: FaultEnv, u: UnitState, f: DmarFaultInfo, out: LogLine[]): void {
  const p = 'DMAR: ';
  const mem = env.memory;
  env.print('info', `${p}Dump ${u.name} table entries for IOVA 0x${f.addr.toString(16)}`, out);
  if (u.root === undefined) {
    env.print('info', `${p}root table is not present`, out);
    return;
  }
  const bus = f.sid >> 8;
  const re = mem.read64(u.root + BigInt(16 * bus));
  env.print('info', `${p}root entry: ${hex(re, 16)}`, out);
  const at = env.ops.contextAddr(u, bus, f.sid & 0xff, false);
  if (at === undefined) {
    env.print('info', `${p}context table is not present`, out);
    return;
  }
  const [lo, hi] = mem.readWords(at, 2) as [u64, u64];
  env.print('info', `${p}context entry: hi ${hex(hi, 16)}, low ${hex(lo, 16)}`, out);
  if (!(lo & 1n)) {
    env.print('info', `${p}legacy mode page table is not present`, out);
    return;
  }
  let level = agawToLevels(Number(hi & 7n));
  let table = lo & ~0xfffn;
  for (;;) {
    const pte = mem.read64(table + BigInt(8 * levelIndex(f.addr, level)));
    env.print('info', `${p}pte level: ${level}, pte value: ${hex(pte, 16)}`, out);
    if ((pte & 3n) === 0n) {
      env.print('info', `${p}page table not present at level ${level - 1}`, out);
      break;
    }
    if (level === 1 || pte & 0x80n) break;
    table = pte & 0x000f_ffff_ffff_f000n;
    level--;
  }
}
