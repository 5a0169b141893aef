/**
 * A domain's p2m as Xen keeps it: guest frame (GFN, "PFN" in Linux's
 * words) -> machine frame (MFN, "BFN" for what a device sees without an
 * IOMMU). On Arm every guest is translated by the stage-2 tables; the model
 * keeps the mapping as data, not as a stage-2 table walk, because no device
 * in this lab walks it (dom0's devices have no SMMU).
 *
 * Storage: extents describe RAM handed out at domain build (dom0: GFN ==
 * MFN, the 1:1 "direct map"; a domU: frames handed out top down, so that no
 * two neighbouring GFNs are machine-contiguous, as on a host whose memory
 * has been fragmented by other guests), and an override map records what
 * changed since (a ballooned-out hole, a foreign grant mapping, a grant
 * frame). Pure data: cloned by Xen's save/restore.
 */

/** INVALID_MFN: no machine frame behind this GFN (a hole, or ballooned out). */
export const INVALID_MFN = -1;

export interface P2mExtent {
  gfn: number;
  count: number;
  mfn: number;
  /** 'up': GFN gfn+i is MFN mfn+i. 'down': MFN mfn+count-1-i. */
  order: 'up' | 'down';
}

export type P2mEntryKind = 'ram' | 'foreign' | 'grant_table' | 'hole';

export interface P2mOverride {
  mfn: number;
  kind: P2mEntryKind;
  /** For 'foreign': the granting domain and the grant reference. */
  owner?: number;
  ref?: number;
}

export interface P2mState {
  extents: P2mExtent[];
  /** GFN -> what replaced the extent mapping (or a new entry outside any extent). */
  overrides: Map<number, P2mOverride>;
}

export const newP2m = (extents: P2mExtent[]): P2mState => ({ extents, overrides: new Map() });

function extentMfn(e: P2mExtent, gfn: number): number {
  const i = gfn - e.gfn;
  return e.order === 'up' ? e.mfn + i : e.mfn + e.count - 1 - i;
}

/** The p2m entry of a GFN: its MFN and kind (INVALID_MFN and 'hole' when nothing is there). */
export function p2mLookup(p: P2mState, gfn: number): P2mOverride {
  const o = p.overrides.get(gfn);
  if (o) return o;
  for (const e of p.extents) if (gfn >= e.gfn && gfn < e.gfn + e.count) return { mfn: extentMfn(e, gfn), kind: 'ram' };
  return { mfn: INVALID_MFN, kind: 'hole' };
}

/** Which GFN of this domain's own RAM extents holds `mfn` (the domain's m2p), if any and not overridden. */
export function p2mOwnGfn(p: P2mState, mfn: number): number | undefined {
  for (const e of p.extents) {
    if (mfn < e.mfn || mfn >= e.mfn + e.count) continue;
    const i = mfn - e.mfn;
    const gfn = e.order === 'up' ? e.gfn + i : e.gfn + e.count - 1 - i;
    const o = p.overrides.get(gfn);
    return o === undefined ? gfn : undefined;
  }
  return undefined;
}

/** The GFNs at which `mfn` is mapped through an override (grant frames, foreign mappings). */
export function p2mOverrideGfns(p: P2mState, mfn: number): { gfn: number; entry: P2mOverride }[] {
  const out: { gfn: number; entry: P2mOverride }[] = [];
  for (const [gfn, o] of p.overrides) if (o.mfn === mfn) out.push({ gfn, entry: o });
  return out.sort((a, b) => a.gfn - b.gfn);
}
