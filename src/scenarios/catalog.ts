/**
 * What the home screen shows of the machine presets (name, summary,
 * description) without loading the machine model (issue 15: start-up).
 * The build evaluates the presets once and puts this list in the bundle
 * (scripts/build.mjs, __DMA_LAB_PRESETS__); from source it is read from the
 * presets themselves.
 */
import type { Preset } from './system.ts';

export type PresetInfo = Pick<Preset, 'name' | 'summary' | 'description'>;

/** The preset a session starts on when none is named. */
export const DEFAULT_PRESET = 'arm-virt';

declare const __DMA_LAB_PRESETS__: PresetInfo[] | undefined;

export async function presetCatalog(): Promise<readonly PresetInfo[]> {
  if (typeof __DMA_LAB_PRESETS__ !== 'undefined') return __DMA_LAB_PRESETS__;
  return (await import('./index.ts')).PRESETS;
}
