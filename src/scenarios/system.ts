/**
 * A System is a built machine plus the kernel configured on it, made by a
 * preset from a set of options. `reset` rebuilds it from the same preset and
 * options; undo and failed commands restore it from snapshots.
 */
import type { Machine } from '../machine/machine.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { Firmware } from '../machine/firmware.ts';
import type { KernelEra } from '../kernel/era.ts';
import type { BootOptions, Linux } from '../kernel/linux.ts';

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
  /** Inspector panes the UI shows when exploring this machine (look-only commands). */
  panes?: { title: string; run: string }[];
  /** Checks across options (QEMU refuses some property combinations); an error string or undefined. */
  validate?(options: ReadonlyMap<string, string>): string | undefined;
  build(options: ReadonlyMap<string, string>): System;
}

export interface SystemExtras {
  /** What firmware tells the kernel (IOMMUs and what they cover). */
  firmware?: Firmware;
  /** The Linux era `boot` models. */
  era?: KernelEra;
  /** Further boot options a preset sets (IOMMU driver load order, SR-IOV VFs, debug prints). */
  boot?: Partial<Omit<BootOptions, 'era' | 'firmware'>>;
}

export class System {
  /** The booted kernel's subsystems; set by `boot` (kernel/linux.ts). */
  linux: Linux | undefined;

  constructor(
    readonly preset: Preset,
    readonly options: ReadonlyMap<string, string>,
    readonly machine: Machine,
    readonly kernel: Kernel,
    readonly extras: SystemExtras = {},
  ) {}

  saveStates(): Map<string, unknown> {
    const m = this.machine.saveStates();
    m.set('kernel', this.kernel.saveState());
    if (this.linux) m.set('linux', this.linux.saveState());
    return m;
  }
  restoreStates(m: Map<string, unknown>): void {
    this.machine.restoreStates(m);
    if (m.has('kernel')) this.kernel.restoreState(m.get('kernel'));
    if (this.linux && m.has('linux')) this.linux.restoreState(m.get('linux'));
  }
}
