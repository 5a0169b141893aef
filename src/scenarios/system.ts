/**
 * A System is a built machine plus the kernel configured on it, made by a
 * preset from a set of options. `reset` rebuilds it from the same preset and
 * options; undo and failed commands restore it from snapshots.
 */
import type { Machine } from '../machine/machine.ts';
import type { Kernel } from '../kernel/kernel.ts';

export interface OptionDef {
  /** `kernel`, `iommu.passthrough`, `vda.disable-modern`. */
  name: string;
  default: string;
  /** Allowed values; undefined means free text checked by `validate`. */
  values?: string[];
  desc: string;
  scope: 'kernel' | 'cmdline' | 'device' | 'machine';
  validate?(v: string): string | undefined;
}

export interface Preset {
  name: string;
  summary: string;
  /** Longer description for `info machine`. */
  description: string;
  options: OptionDef[];
  build(options: ReadonlyMap<string, string>): System;
}

export class System {
  constructor(
    readonly preset: Preset,
    readonly options: ReadonlyMap<string, string>,
    readonly machine: Machine,
    readonly kernel: Kernel,
  ) {}

  saveStates(): Map<string, unknown> {
    const m = this.machine.saveStates();
    m.set('kernel', this.kernel.saveState());
    return m;
  }
  restoreStates(m: Map<string, unknown>): void {
    this.machine.restoreStates(m);
    if (m.has('kernel')) this.kernel.restoreState(m.get('kernel'));
  }
}
