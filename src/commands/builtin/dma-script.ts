/**
 * Driver scripts: a short sequence of DMA API calls, CPU accesses and
 * device accesses -- a receive or transmit path -- kept under a name and run
 * against several machine configurations at once (issue 14):
 *
 *   dma script NAME "STEP; STEP; ..."   keep (or replace) a script in this session
 *   dma script [NAME]                   list the scripts, or show one step by step
 *   dma check NAME|"STEP; ..."          run it on fresh machines, one row per configuration
 *
 * A step is one lab command: `dma ...` (map, unmap, sync, mapping-error,
 * alloc, map-sg, unmap-sg, mask), `devdma read|write` (the device's side),
 * `cpu read|write` (the driver's CPU side; `cpu read ... expect=BYTE` is the
 * assertion), `xp`, `print`. `$` is the DMA address the last map returned.
 *
 * `dma check` builds each configuration afresh (qemu-virt-smmuv3, vda with
 * iommu_platform=on, DMA-API debug printing every error), runs the steps and
 * passes a configuration when every step succeeded, no device access
 * faulted and DMA-API debug reported nothing. It never touches the
 * session's own machine, so a lesson goal can check with it. The
 * configurations:
 *
 *   coherent        iommu.passthrough=1: dma-direct, the device snoops the caches
 *   non-coherent    the same with vda.coherent=no: the CPU cache is modelled, syncs clean/invalidate it
 *   swiotlb=force   dma-direct bouncing every buffer through swiotlb: syncs copy
 *   strict IOMMU    iommu.strict=1: iommu-dma, an unmapped IOVA faults at once
 *
 * Results are memoised by script text (the model is deterministic), at most
 * MEMO_MAX scripts.
 */
import { clone, type Stateful } from '../../machine/state.ts';
import { plain, span, type Line } from '../../inspect/view.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';
import { createSession } from '../index.ts';

/** Stated limits. */
export const SCRIPT_MAX_STEPS = 32;
export const SCRIPT_MAX_SCRIPTS = 16;
const MEMO_MAX = 32;

export interface CheckConfig {
  name: string;
  machine: string;
  boot: string;
  what: string;
}

export const CHECK_CONFIGS: readonly CheckConfig[] = [
  { name: 'coherent', machine: 'qemu-virt-smmuv3', boot: 'iommu.passthrough=1 vda.iommu_platform=on dma-api-debug=all', what: 'dma-direct, dma-coherent device' },
  { name: 'non-coherent', machine: 'qemu-virt-smmuv3', boot: 'iommu.passthrough=1 vda.iommu_platform=on vda.coherent=no dma-api-debug=all', what: 'dma-direct, CPU cache not snooped' },
  { name: 'swiotlb=force', machine: 'qemu-virt-smmuv3', boot: 'iommu.passthrough=1 vda.iommu_platform=on swiotlb=force dma-api-debug=all', what: 'dma-direct, every buffer bounced' },
  { name: 'strict IOMMU', machine: 'qemu-virt-smmuv3', boot: 'iommu.passthrough=0 iommu.strict=1 vda.iommu_platform=on dma-api-debug=all', what: 'iommu-dma, strict invalidation' },
];

/** Commands a step may be (a driver's calls, the device's accesses, looks). */
const STEP_COMMANDS = new Set(['dma map', 'dma unmap', 'dma alloc', 'dma mask', 'dma sync', 'dma mapping-error', 'dma map-sg', 'dma unmap-sg', 'dma debug', 'devdma read', 'devdma write', 'cpu read', 'cpu write', 'cpu cache', 'xp', 'print']);

export function splitSteps(text: string): string[] {
  return text
    .split(';')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

class ScriptStore implements Stateful {
  s: { scripts: Record<string, string> } = { scripts: {} };
  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as ScriptStore['s']);
  }
}
/** Scripts belong to the session (they survive `boot` and `machine`), not to a machine. */
const stores = new WeakMap<Session, ScriptStore>();
const store = (s: Session): ScriptStore => {
  let st = stores.get(s);
  if (!st) stores.set(s, (st = new ScriptStore()));
  return st;
};

export interface StepResult {
  step: string;
  ok: boolean;
  error?: string;
}

export interface ConfigResult {
  config: string;
  what: string;
  pass: boolean;
  /** The first failing step (1-based), or 0. */
  failedAt: number;
  why: string;
  reports: string[];
  steps: StepResult[];
}

const memo = new Map<string, ConfigResult[]>();

/** Run a script on one fresh configuration. */
export function runOn(cfg: CheckConfig, steps: string[]): ConfigResult {
  const s = createSession(cfg.machine);
  const boot = s.execute(`boot ${cfg.boot}`);
  if (!boot.ok) return { config: cfg.name, what: cfg.what, pass: false, failedAt: 0, why: `boot failed: ${boot.error.message}`, reports: [], steps: [] };
  const out: StepResult[] = [];
  let failedAt = 0;
  let why = '';
  for (const [i, step] of steps.entries()) {
    const o = s.execute(step);
    if (!o.ok) {
      out.push({ step, ok: false, error: o.error.message });
      failedAt = i + 1;
      why = o.error.message;
      break;
    }
    const r = o.empty ? undefined : o.result;
    const dd = r?.kind === 'devdma' ? (r.data as { outcome: { ok: boolean; fault?: { name: string; source: string } } }).outcome : undefined;
    if (dd && !dd.ok) {
      const msg = `the device's access faulted (${dd.fault?.source}: ${dd.fault?.name}): its address is not mapped (any more)`;
      out.push({ step, ok: false, error: msg });
      failedAt = i + 1;
      why = msg;
      break;
    }
    out.push({ step, ok: true });
  }
  const reports = (s.system.linux?.dma.debug?.reports() ?? []).map((r) => r.text);
  if (!failedAt && reports.length) why = reports[0]!;
  return { config: cfg.name, what: cfg.what, pass: failedAt === 0 && reports.length === 0, failedAt, why, reports, steps: out };
}

export function checkScript(text: string, configs: readonly CheckConfig[] = CHECK_CONFIGS): ConfigResult[] {
  const key = `${configs.map((c) => c.name).join(',')}|${text}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const steps = splitSteps(text);
  const r = configs.map((c) => runOn(c, steps));
  memo.set(key, r);
  if (memo.size > MEMO_MAX) memo.delete(memo.keys().next().value as string);
  return r;
}

/** Each step must be a command a script may use. */
function validateSteps(s: Session, text: string, sp: SourceSpan | undefined): string[] {
  const steps = splitSteps(text);
  if (steps.length === 0) throw new CommandError('an empty script', sp, 'steps separated by ";", e.g. "dma map vda 0x50000000 2048 from_device; dma unmap vda $"');
  if (steps.length > SCRIPT_MAX_STEPS) throw new CommandError(`${steps.length} steps: a script has at most ${SCRIPT_MAX_STEPS} (a stated limit)`, sp);
  for (const [i, st] of steps.entries()) {
    const words = st.split(/\s+/);
    const name = [`${words[0]} ${words[1] ?? ''}`, words[0]!.split('/')[0]!].find((n) => STEP_COMMANDS.has(n.trim()));
    if (!name) throw new CommandError(`step ${i + 1} '${st}' is not a command a driver script may use`, sp, `one of: ${[...STEP_COMMANDS].join(', ')}`);
    if (!s.registry.all().some((c) => c.name === name.trim())) throw new CommandError(`step ${i + 1}: no command '${name}'`, sp);
  }
  return steps;
}

export const dmaScript: CommandSpec = {
  name: 'dma script',
  summary: 'Keep a driver script (DMA API calls, CPU and device accesses, ";"-separated) under a name, or show them',
  help: [
    'dma script NAME "STEP; STEP; ..." keeps a script; dma script NAME shows it one step a line; dma script lists',
    'them. A step is a lab command a driver (dma ..., cpu ...) or its device (devdma ...) would perform; `$` is',
    'the DMA address the last map returned; `cpu read ADDR LEN expect=BYTE` asserts what the CPU sees.',
    '`dma check NAME` runs it on fresh machines in every configuration. Scripts belong to the session.',
  ].join('\n'),
  examples: ['dma script rx "dma map vda 0x50000000 2048 from_device; devdma write vda $ 0xab 2048; dma unmap vda $; cpu read 0x50000000 2048 expect=0xab"', 'dma script'],
  args: [
    { name: 'name', kind: 'word', desc: 'the script\'s name', optional: true },
    { name: 'text', kind: 'word', desc: 'the steps, quoted, separated by ";"', optional: true },
  ],
  mutates: true,
  run(s, a) {
    const st = store(s);
    const name = a.v.name as string | undefined;
    const text = a.v.text as string | undefined;
    if (name === undefined) {
      const names = Object.keys(st.s.scripts);
      return { kind: 'dma-scripts', data: { scripts: st.s.scripts }, lines: names.length ? names.map((n) => plain(`${n}: ${splitSteps(st.s.scripts[n]!).length} steps`)) : [[span('no driver scripts yet: dma script NAME "STEP; STEP; ..."', 'dim')]] };
    }
    if (!/^[a-z][a-z0-9_-]{0,31}$/i.test(name)) throw new CommandError(`'${name}' is not a script name`, a.span.name, 'a word such as rx or tx-path');
    if (text === undefined) {
      const t = st.s.scripts[name];
      if (t === undefined) throw new CommandError(`no script '${name}'`, a.span.name, Object.keys(st.s.scripts).join(', ') || 'dma script NAME "STEPS" first');
      return { kind: 'dma-script', data: { name, steps: splitSteps(t) }, lines: [[span(`script ${name}:`, 'head')], ...splitSteps(t).map((x, i) => plain(`  ${String(i + 1).padStart(2)}. ${x}`))] };
    }
    const steps = validateSteps(s, text, a.span.text);
    if (!(name in st.s.scripts) && Object.keys(st.s.scripts).length >= SCRIPT_MAX_SCRIPTS) throw new CommandError(`a session keeps at most ${SCRIPT_MAX_SCRIPTS} scripts (a stated limit)`, a.span.name);
    st.s.scripts[name] = steps.join('; ');
    return { kind: 'dma-script', data: { name, steps }, lines: [[span(`script ${name}: ${steps.length} steps kept; dma check ${name} runs it in every configuration`, 'ok')]] };
  },
};

export const dmaCheck: CommandSpec = {
  name: 'dma check',
  summary: 'Run a driver script on fresh machines: coherent, non-coherent, swiotlb=force, strict IOMMU; a row each',
  help: [
    `Runs a script (by name, or quoted steps) on ${CHECK_CONFIGS.length} freshly booted machines (qemu-virt-smmuv3, vda with iommu_platform=on,`,
    'dma-api-debug=all) and prints a row per configuration: pass, or the first step that failed and why (an error,',
    'a device access that faulted, a CPU read that saw the wrong bytes), and every DMA-API debug report. It',
    'does not touch this session\'s machine. Configurations:',
    ...CHECK_CONFIGS.map((c) => `  ${c.name.padEnd(14)} boot ${c.boot}`),
  ].join('\n'),
  examples: ['dma check "dma map vda 0x50000000 2048 from_device; devdma write vda $ 0xab 2048; dma unmap vda $; cpu read 0x50000000 2048 expect=0xab"'],
  args: [{ name: 'script', kind: 'word', desc: 'a script name, or the steps quoted' }],
  mutates: false,
  run(s, a) {
    const arg = a.v.script as string;
    const kept = store(s).s.scripts[arg];
    const text = kept ?? (arg.includes(' ') ? arg : undefined);
    if (text === undefined) throw new CommandError(`no script '${arg}'`, a.span.script, Object.keys(store(s).s.scripts).join(', ') || 'dma script NAME "STEPS" first, or quoted steps');
    const steps = validateSteps(s, text, a.span.script);
    const rows = checkScript(steps.join('; '));
    const passed = rows.filter((r) => r.pass).length;
    const lines: Line[] = [[span(`driver script ${kept !== undefined ? arg : '(inline)'}: ${steps.length} steps, ${passed} of ${rows.length} configurations pass`, passed === rows.length ? 'ok' : 'bad')]];
    for (const r of rows) {
      lines.push([span(`  ${r.config.padEnd(14)}`, 'name'), span(r.pass ? 'pass' : 'FAIL', r.pass ? 'ok' : 'bad'), span(`  (${r.what})`, 'dim')]);
      if (!r.pass) {
        if (r.failedAt) lines.push(plain(`      step ${r.failedAt} '${steps[r.failedAt - 1]}': ${r.why}`));
        for (const t of r.reports) lines.push([span(`      ${t}`, 'warn')]);
      }
    }
    return { kind: 'dma-check', data: { script: kept !== undefined ? arg : null, steps, passed, total: rows.length, rows }, lines };
  },
};

export const dmaScriptCommands: CommandSpec[] = [dmaScript, dmaCheck];
