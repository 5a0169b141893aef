/**
 * Per-requester counters every IOMMU model keeps for the cost model
 * (src/kernel/cost.ts): one record per StreamID (SMMU) or source-id (VT-d).
 * Inspection walks (TranslateOptions.useTlb = false) are left out.
 */
import type { TranslationStep } from './trace.ts';

export interface IommuSidCounts {
  /** Transactions presented while translation was enabled. */
  translations: number;
  /** Of those, passed through untranslated (STE Config = bypass; context TT = 2). */
  bypass: number;
  tlbHits: number;
  tlbMisses: number;
  /** Page-table walks, and the descriptors they read from memory (one read per level). */
  walks: number;
  walkReads: number;
  /** Configuration reads on a cache miss (STE/CD and L1 descriptor; root and context entries). */
  cfgReads: number;
  /** Configuration invalidations naming this requester (CMD_CFGI_STE/CD; device-selective context-cache). */
  cfgInvalidations: number;
}

export const newSidCounts = (): IommuSidCounts => ({ translations: 0, bypass: 0, tlbHits: 0, tlbMisses: 0, walks: 0, walkReads: 0, cfgReads: 0, cfgInvalidations: 0 });

/**
 * Steps from `from` on that read a descriptor from memory (a failed read
 * counts: the access was made); steps served by the configuration cache,
 * whose note starts with `cacheHitNote`, do not.
 */
export function memReads(steps: TranslationStep[], from: number, cacheHitNote: string): number {
  let n = 0;
  for (let i = from; i < steps.length; i++) if (steps[i]!.descAddr !== undefined && !steps[i]!.note.startsWith(cacheHitNote)) n++;
  return n;
}
