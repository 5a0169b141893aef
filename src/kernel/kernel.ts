/**
 * The Linux side of a system: the kernel command line, the era being
 * modelled, and the kernel log. Later layers (iommu core, DMA API, drivers)
 * hang off this object; each keeps its state in a `Stateful` so the whole
 * kernel is captured by undo.
 */
import { clone, type Stateful } from '../machine/state.ts';

export interface DmesgLine {
  /** Seconds since boot, as printk shows it ([    1.211721]). Deterministic: a counter. */
  time: number;
  /** Log level: 'err', 'warn', 'info', 'debug'. */
  level: 'emerg' | 'alert' | 'crit' | 'err' | 'warn' | 'notice' | 'info' | 'debug';
  text: string;
}

interface KernelState {
  booted: boolean;
  dmesg: DmesgLine[];
  /** Simulated time in microseconds, advanced by each log line and device poll. */
  clockUs: number;
}

export class Kernel implements Stateful {
  /** Stated limit: kernel log lines kept (the oldest are dropped, like the printk ring). */
  static readonly DMESG_CAPACITY = 4096;
  private s: KernelState = { booted: false, dmesg: [], clockUs: 0 };

  constructor(
    /** Kernel command line parameters, `name` -> value ("1" for bare flags). */
    readonly cmdline: ReadonlyMap<string, string>,
  ) {}

  get booted(): boolean {
    return this.s.booted;
  }
  set booted(v: boolean) {
    this.s.booted = v;
  }

  /** Advance simulated time. Deterministic: the model has no wall clock. */
  tick(us: number): void {
    this.s.clockUs += us;
  }

  log(level: DmesgLine['level'], text: string): void {
    this.s.clockUs += 80; // each printk costs ~80 us of simulated time
    this.s.dmesg.push({ time: this.s.clockUs / 1e6, level, text });
    if (this.s.dmesg.length > Kernel.DMESG_CAPACITY) this.s.dmesg.shift();
  }

  dmesg(): readonly DmesgLine[] {
    return this.s.dmesg;
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as KernelState);
  }
}

/** printk's timestamp prefix: "[    1.211721] ". */
export const printkTime = (t: number): string => `[${t.toFixed(6).padStart(12)}] `;
