/**
 * Circular queue pointers as the SMMUv3 encodes them in PROD/CONS:
 *
 *   31        log2size   log2size-1        0
 *   [flags..][  wrap  ][      index       ]
 *
 * The wrap bit toggles each time the index passes the end, so equal
 * indices mean empty when the wrap bits agree and full when they differ
 * (linux arm-smmu-v3.h Q_IDX/Q_WRP/Q_OVF; queue_full/queue_empty). Bit 31
 * is EVENTQ_PROD.OVFLG / EVENTQ_CONS.OVACKFLG; CMDQ_CONS.ERR is [30:24].
 */
export const qIdx = (p: number, shift: number): number => p & ((1 << shift) - 1);
export const qWrp = (p: number, shift: number): number => p & (1 << shift);
/** Index and wrap bit only. */
export const qPtr = (p: number, shift: number): number => p & ((2 << shift) - 1);
export const qEmpty = (prod: number, cons: number, shift: number): boolean => qPtr(prod, shift) === qPtr(cons, shift);
export const qFull = (prod: number, cons: number, shift: number): boolean =>
  qIdx(prod, shift) === qIdx(cons, shift) && qWrp(prod, shift) !== qWrp(cons, shift);
/** Advance a pointer by one, keeping the bits above the wrap bit (flags). */
export const qInc = (p: number, shift: number): number => {
  const flags = p & ~((2 << shift) - 1);
  return (flags | (((p & ((2 << shift) - 1)) + 1) & ((2 << shift) - 1))) >>> 0;
};
/** Number of entries between cons and prod. */
export const qCount = (prod: number, cons: number, shift: number): number =>
  (qPtr(prod, shift) - qPtr(cons, shift) + (2 << shift)) % (2 << shift);
