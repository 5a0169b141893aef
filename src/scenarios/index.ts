/** The machine presets, in the order `dma-lab machines` lists them. */
import type { Preset } from './system.ts';
import { armVirt } from './arm-virt.ts';
import { armFastmodel, qemuVirtSmmuv3, armIprocSmmuv3 } from './arm-smmu.ts';
import { x86Q35Vtd, x86Q35Vtd2015 } from './x86-q35.ts';
import { armD05Sriov } from './arm-sriov.ts';
import { xenArm } from './xen-arm.ts';

export const PRESETS: readonly Preset[] = [armVirt, armFastmodel, qemuVirtSmmuv3, x86Q35Vtd, x86Q35Vtd2015, armD05Sriov, xenArm, armIprocSmmuv3];
export { DEFAULT_PRESET } from './catalog.ts';

export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}
