/**
 * QEMU's SMMUv3 (hw/arm/smmuv3.c, QEMU 7.2), where it differs from the
 * architecture and from the Arm fast model. Everything here was read in
 * QEMU's sources before the stage-2 work of 8.1 (the 7.2 shape):
 *
 * ID registers (smmuv3_init_regs; field values in hw/arm/smmuv3-internal.h):
 *   IDR0  S1P, TTF = 2 (AArch64), COHACC, ASID16, TTENDIAN = 2 (LE),
 *         STALL_MODEL = 1 (no stall), TERM_MODEL = 1, STLEVEL = 1 (2-level
 *         stream tables). No S2P, no VMID16: stage 1 only.
 *   IDR1  SIDSIZE = SMMU_IDR1_SIDSIZE 16, EVENTQS = SMMU_EVENTQS 19,
 *         CMDQS = SMMU_CMDQS 19, SSIDSIZE 0.
 *   IDR3  RIL (range invalidation, since QEMU 5.1) and HAD.
 *   IDR5  GRAN4K, GRAN64K, OAS = SMMU_IDR5_OAS 4: 44 bits.
 *   AIDR  1 (SMMUv3.1).
 *
 * What Linux makes of it (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c,
 * arm_smmu_device_hw_probe and arm_smmu_init_one_queue, v5.3+): features
 * 0x00008305 (2_LVL_STRTAB | TT_LE | COHERENCY | TRANS_S1 | RANGE_INV),
 * "ias 44-bit, oas 44-bit" (a stage-1-only SMMU leaves ias 0 until
 * ias = max(ias, oas)), and queues of min(IDR1.xQS, Q_MAX_SZ_SHIFT - entry
 * size) = 2^16 commands and 2^15 events (Q_MAX_SZ_SHIFT = PAGE_SHIFT +
 * CONFIG_CMA_ALIGNMENT = 20 with arm64's defconfig; commit d25f6ead162e
 * "iommu/arm-smmu-v3: Increase maximum size of queues", v5.3). The CD's
 * IPS is 44-bit too: io-pgtable's oas is smmu->ias.
 *
 * Event records (smmuv3_translate + smmuv3_record_event): for a
 * translation, address-size, access or permission fault QEMU fills only
 * the input address and RnW (`flag & 0x1`); the FullInfo fields it does
 * not set stay zero, so CLASS reads 0 ("CD fetch"), PnU, InD, S2, SSV and
 * the SubstreamID are 0. An F_WALK_EABT carries CLASS = 1 and the table
 * address in dword 3. Faults are recorded only with CD.R, as the spec
 * says; nothing is cached on a fault. An F_CD_FETCH carries the CD address
 * in dword 2 (EVT_SET_ADDR), where the architecture has it in dword 3. A
 * full event queue is a failed write: GERROR.EVENTQ_ABT_ERR, never
 * EVENTQ_PROD.OVFLG (smmuv3_write_eventq / smmuv3_record_event), so Linux
 * prints "EVTQ write aborted -- events may have been lost" rather than
 * "EVTQ overflow detected -- events lost".
 *
 * Configuration checks (decode_ste / decode_cd) the model shares, plus one
 * of QEMU's own: a CD with HA or HD set is C_BAD_CD (the architecture
 * ignores them when IDR0.HTTU = 0).
 *
 * Splitting (softmmu/physmem.c flatview_read_continue /
 * flatview_write_continue, memory_access_size; softmmu/memory.c
 * unassigned_mem_ops): a failed IOMMU translation hands the access to
 * io_mem_unassigned, whose ops give no max_access_size, so QEMU's memory
 * core goes on in pieces of at most 4 bytes (and no larger than the
 * address's alignment), translating each piece again. A device's 8-byte
 * read that faults is two translations and, with CD.R, two events: one
 * per 4-byte half. The machine's DMA engine does this for masters whose
 * root complex says so (Machine.route, `qemuFaultSplit`).
 */
import type { u64 } from '../u64.ts';
import * as E from './event.ts';
import type { SmmuV3Options } from './smmuv3.ts';

/** QEMU 7.2 SMMU_IDR1_SIDSIZE, SMMU_CMDQS, SMMU_EVENTQS, SMMU_IDR5_OAS (bits). */
export const QEMU_SMMU_SIDSIZE = 16;
export const QEMU_SMMU_CMDQS = 19;
export const QEMU_SMMU_EVENTQS = 19;
export const QEMU_SMMU_OAS = 44;

/** The SmmuV3 options that make the model QEMU 7.2's SMMUv3. */
export function qemu72SmmuOptions(): Partial<SmmuV3Options> {
  return {
    sidBits: QEMU_SMMU_SIDSIZE,
    oas: QEMU_SMMU_OAS,
    cmdqShift: QEMU_SMMU_CMDQS,
    evtqShift: QEMU_SMMU_EVENTQS,
    stage2: false,
    vmid16: false,
    twoLevelStrtab: true,
    rangeInvalidation: true,
    had: true,
    gran64k: true,
    aidr: 1,
    gbpaAbortAtReset: false,
    unsetSsid: 0,
    eventRecord: 'qemu-7.2',
  };
}

/**
 * The event record QEMU 7.2 writes for a page-table walk fault: Type,
 * StreamID, InputAddr and RnW; F_WALK_EABT adds CLASS = 1 (TT) and the
 * failed table address in dword 3 (EVT_SET_ADDR2).
 */
export function qemuWalkEvent(type: number, sid: number, addr: u64, read: boolean, tableAddr?: u64): u64[] {
  const ev = E.encodeEvent({ type, sid, read, inputAddr: addr });
  if (type === E.F_WALK_EABT) {
    ev[1] = ev[1]! | (BigInt(E.CLASS_TT) << 40n);
    ev[3] = tableAddr ?? 0n;
  }
  return ev;
}

/**
 * QEMU's memory core after a failed translation: the pieces an access of
 * `len` bytes at `addr` is cut into (memory_access_size on
 * io_mem_unassigned: at most 4 bytes, at most the address's alignment,
 * a power of two). Each piece is translated again.
 */
export function qemuUnassignedPieces(addr: u64, len: number): { addr: u64; len: number }[] {
  const out: { addr: u64; len: number }[] = [];
  let a = addr;
  let left = len;
  while (left > 0) {
    let max = 4;
    const low = Number(a & 7n);
    if (low !== 0) max = Math.min(max, low & -low);
    let l = Math.min(left, max);
    l = 2 ** Math.floor(Math.log2(l)); // pow2floor
    out.push({ addr: a, len: l });
    a += BigInt(l);
    left -= l;
  }
  return out;
}
