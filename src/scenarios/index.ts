/** The machine presets, in the order `dma-lab machines` lists them. */
import type { Preset } from './system.ts';
import { armVirt } from './arm-virt.ts';
import { armFastmodel, qemuVirtSmmuv3 } from './arm-smmu.ts';

export const PRESETS: readonly Preset[] = [armVirt, armFastmodel, qemuVirtSmmuv3];
export const DEFAULT_PRESET = 'arm-virt';

export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}
