/**
 * Intel VT-d remapping unit (DRHD) programming interface: register offsets
 * and register field layouts, legacy (non-scalable) mode.
 *
 * Offsets and bits: REFERENCE.md 3.1, checked against QEMU
 * hw/i386/intel_iommu_internal.h (DMAR_*_REG, VTD_GCMD_*, VTD_GSTS_*,
 * VTD_CCMD_*, VTD_TLB_*, VTD_FSTS_*, VTD_CAP_*, VTD_ECAP_*) and linux
 * include/linux/intel-iommu.h -> drivers/iommu/intel/iommu.h (cap_*,
 * ecap_*, DMA_GCMD_*, DMA_CCMD_*, DMA_TLB_*, DMA_FSTS_*).
 *
 * Register page (4 KiB at the DRHD base; QEMU q35: 0xfed90000):
 *
 *   0x000 VER      0x008 CAP      0x010 ECAP     0x018 GCMD    0x01c GSTS
 *   0x020 RTADDR   0x028 CCMD     0x034 FSTS     0x038 FECTL   0x03c FEDATA
 *   0x040 FEADDR   0x044 FEUADDR  0x080 IQH      0x088 IQT     0x090 IQA
 *   0x09c ICS      0x0a0 IECTL    0x0a4 IEDATA   0x0a8 IEADDR  0x0ac IEUADDR
 *   0x0b8 IRTA
 *   ECAP.IRO*16       IVA (+0) and IOTLB (+8)   QEMU: 0x0f0 / 0x0f8
 *   CAP.FRO*16        FRCD[0..NFR]: 16 bytes each  QEMU: 0x220
 */
import type { Layout } from '../fields.ts';

// ---- offsets (VT-d spec names, as QEMU and Linux spell them) --------------
export const DMAR_VER_REG = 0x000;
export const DMAR_CAP_REG = 0x008; // 64-bit
export const DMAR_ECAP_REG = 0x010; // 64-bit
export const DMAR_GCMD_REG = 0x018;
export const DMAR_GSTS_REG = 0x01c;
export const DMAR_RTADDR_REG = 0x020; // 64-bit
export const DMAR_CCMD_REG = 0x028; // 64-bit
export const DMAR_FSTS_REG = 0x034;
export const DMAR_FECTL_REG = 0x038;
export const DMAR_FEDATA_REG = 0x03c;
export const DMAR_FEADDR_REG = 0x040;
export const DMAR_FEUADDR_REG = 0x044;
export const DMAR_AFLOG_REG = 0x058; // 64-bit
export const DMAR_PMEN_REG = 0x064;
export const DMAR_IQH_REG = 0x080; // 64-bit
export const DMAR_IQT_REG = 0x088; // 64-bit
export const DMAR_IQA_REG = 0x090; // 64-bit
export const DMAR_ICS_REG = 0x09c;
export const DMAR_IECTL_REG = 0x0a0;
export const DMAR_IEDATA_REG = 0x0a4;
export const DMAR_IEADDR_REG = 0x0a8;
export const DMAR_IEUADDR_REG = 0x0ac;
export const DMAR_IRTA_REG = 0x0b8; // 64-bit
/** QEMU's IOTLB register block (ECAP.IRO = 0xf0 / 16); IVA at +0, IOTLB at +8. */
export const DMAR_IOTLB_REG_OFFSET = 0x0f0;
/** QEMU's first fault recording register (CAP.FRO = 0x220 / 16). */
export const DMAR_FRCD_REG_OFFSET = 0x220;
/** Bytes per fault recording register (128 bits; linux PRIMARY_FAULT_REG_LEN). */
export const FRCD_SIZE = 16;
/** The register page this model implements. */
export const VTD_REG_SIZE = 0x1000n;

/** Registers that are 64 bits wide (the rest are 32). */
export const VTD_REGS64 = new Set([DMAR_CAP_REG, DMAR_ECAP_REG, DMAR_RTADDR_REG, DMAR_CCMD_REG, DMAR_AFLOG_REG, DMAR_IQH_REG, DMAR_IQT_REG, DMAR_IQA_REG, DMAR_IRTA_REG]);

export const REG_NAMES: Record<number, string> = {
  [DMAR_VER_REG]: 'VER', [DMAR_CAP_REG]: 'CAP', [DMAR_ECAP_REG]: 'ECAP', [DMAR_GCMD_REG]: 'GCMD', [DMAR_GSTS_REG]: 'GSTS',
  [DMAR_RTADDR_REG]: 'RTADDR', [DMAR_CCMD_REG]: 'CCMD', [DMAR_FSTS_REG]: 'FSTS', [DMAR_FECTL_REG]: 'FECTL',
  [DMAR_FEDATA_REG]: 'FEDATA', [DMAR_FEADDR_REG]: 'FEADDR', [DMAR_FEUADDR_REG]: 'FEUADDR', [DMAR_AFLOG_REG]: 'AFLOG',
  [DMAR_PMEN_REG]: 'PMEN', [DMAR_IQH_REG]: 'IQH', [DMAR_IQT_REG]: 'IQT', [DMAR_IQA_REG]: 'IQA', [DMAR_ICS_REG]: 'ICS',
  [DMAR_IECTL_REG]: 'IECTL', [DMAR_IEDATA_REG]: 'IEDATA', [DMAR_IEADDR_REG]: 'IEADDR', [DMAR_IEUADDR_REG]: 'IEUADDR',
  [DMAR_IRTA_REG]: 'IRTA',
};

// ---- GCMD / GSTS bits (REFERENCE 3.1; QEMU VTD_GCMD_* / VTD_GSTS_*) ------
export const DMA_GCMD_TE = 1 << 31;
export const DMA_GCMD_SRTP = 1 << 30;
export const DMA_GCMD_SFL = 1 << 29;
export const DMA_GCMD_EAFL = 1 << 28;
export const DMA_GCMD_WBF = 1 << 27;
export const DMA_GCMD_QIE = 1 << 26;
export const DMA_GCMD_IRE = 1 << 25;
export const DMA_GCMD_SIRTP = 1 << 24;
export const DMA_GCMD_CFI = 1 << 23;
export const DMA_GSTS_TES = 1 << 31;
export const DMA_GSTS_RTPS = 1 << 30;
export const DMA_GSTS_FLS = 1 << 29;
export const DMA_GSTS_AFLS = 1 << 28;
export const DMA_GSTS_WBFS = 1 << 27;
export const DMA_GSTS_QIES = 1 << 26;
export const DMA_GSTS_IRES = 1 << 25;
export const DMA_GSTS_IRTPS = 1 << 24;
export const DMA_GSTS_CFIS = 1 << 23;

// ---- FSTS / FECTL (REFERENCE 3.1) ------------------------------------------
export const DMA_FSTS_PFO = 1 << 0;
export const DMA_FSTS_PPF = 1 << 1;
export const DMA_FSTS_AFO = 1 << 2;
export const DMA_FSTS_APF = 1 << 3;
export const DMA_FSTS_IQE = 1 << 4;
export const DMA_FSTS_ICE = 1 << 5;
export const DMA_FSTS_ITE = 1 << 6;
export const DMA_FSTS_PRO = 1 << 7;
/** FSTS bits software clears by writing 1 (PPF and FRI are read-only). */
export const FSTS_RW1C = DMA_FSTS_PFO | DMA_FSTS_AFO | DMA_FSTS_APF | DMA_FSTS_IQE | DMA_FSTS_ICE | DMA_FSTS_ITE | DMA_FSTS_PRO;
export const DMA_FECTL_IM = 1 << 31;
export const DMA_FECTL_IP = 1 << 30;
/** ICS.IWC and IECTL (queued-invalidation completion event). */
export const DMA_ICS_IWC = 1;
export const DMA_IECTL_IM = 1 << 31;
export const DMA_IECTL_IP = 1 << 30;

// ---- CCMD (64-bit; linux DMA_CCMD_*, QEMU VTD_CCMD_*) --------------------
export const DMA_CCMD_ICC = 1n << 63n;
export const DMA_CCMD_GLOBAL_INVL = 1n << 61n;
export const DMA_CCMD_DOMAIN_INVL = 2n << 61n;
export const DMA_CCMD_DEVICE_INVL = 3n << 61n;
export const DMA_CCMD_CIRG_MASK = 3n << 61n;
export const DMA_CCMD_CAIG_MASK = 3n << 59n;
export const DMA_CCMD_DID = (did: number): bigint => BigInt(did & 0xffff);
export const DMA_CCMD_SID = (sid: number): bigint => BigInt(sid & 0xffff) << 16n;
export const DMA_CCMD_FM = (fm: number): bigint => BigInt(fm & 3) << 32n;
/** DMA_CCMD_MASK_NOBIT: compare all 16 bits of the source-id. */
export const DMA_CCMD_MASK_NOBIT = 0;

// ---- IOTLB_REG / IVA_REG (64-bit; linux DMA_TLB_*, QEMU VTD_TLB_*) -------
export const DMA_TLB_IVT = 1n << 63n;
export const DMA_TLB_GLOBAL_FLUSH = 1n << 60n;
export const DMA_TLB_DSI_FLUSH = 2n << 60n;
export const DMA_TLB_PSI_FLUSH = 3n << 60n;
export const DMA_TLB_IIRG_MASK = 3n << 60n;
export const DMA_TLB_IAIG_MASK = 3n << 57n;
export const DMA_TLB_READ_DRAIN = 1n << 49n;
export const DMA_TLB_WRITE_DRAIN = 1n << 48n;
export const DMA_TLB_DID = (did: number): bigint => BigInt(did & 0xffff) << 32n;
/** IVA_REG.IH: invalidation hint (leaf entries only changed). */
export const DMA_TLB_IH_NONLEAF = 1n << 6n;
/** CAP.MAMV as QEMU sets it (VTD_MAMV): the largest PSI address mask. */
export const VTD_MAMV = 18;

// ---- RTADDR / IRTA / IQA ----------------------------------------------------
/** RTADDR.TTM bit 10: scalable mode. This model implements legacy mode only (ECAP.SMTS = 0). */
export const DMA_RTADDR_SMT = 1n << 10n;
/** IRTA.EIME: x2APIC (32-bit) destination ids in IRTEs. */
export const IRTA_EIME = 1n << 11n;
export const IRTA_S_MASK = 0xfn;
/** IQA.DW (256-bit descriptors, scalable mode) and QS. */
export const IQA_DW = 1n << 11n;
export const IQA_QS_MASK = 0x7n;

const SRC = 'REFERENCE.md 3.1; QEMU hw/i386/intel_iommu_internal.h; linux drivers/iommu/intel/iommu.h';

/** VER_REG: "ver %d:%d" in Linux's boot line is MAX:MIN. QEMU writes 0x10 (1:0). */
export const VER_LAYOUT: Layout = {
  name: 'VER_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'MIN', word: 0, hi: 3, lo: 0, desc: 'minor version' },
    { name: 'MAX', word: 0, hi: 7, lo: 4, desc: 'major version' },
  ],
};

export const CAP_LAYOUT: Layout = {
  name: 'CAP_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'ND', word: 0, hi: 2, lo: 0, desc: 'number of domain ids: 2^(4 + 2*ND)', values: { '0': '16', '1': '64', '2': '256', '3': '1024', '4': '4K', '5': '16K', '6': '64K' } },
    { name: 'AFL', word: 0, hi: 3, lo: 3, kind: 'flag', desc: 'advanced fault logging' },
    { name: 'RWBF', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'required write-buffer flushing' },
    { name: 'PLMR', word: 0, hi: 5, lo: 5, kind: 'flag', desc: 'protected low-memory region' },
    { name: 'PHMR', word: 0, hi: 6, lo: 6, kind: 'flag', desc: 'protected high-memory region' },
    { name: 'CM', word: 0, hi: 7, lo: 7, kind: 'flag', desc: 'caching mode: not-present entries may be cached (virtual IOMMUs)' },
    { name: 'SAGAW', word: 0, hi: 12, lo: 8, desc: 'supported adjusted guest address widths: bit 1 = 39-bit (3-level), bit 2 = 48-bit (4-level), bit 3 = 57-bit (5-level)' },
    { name: 'MGAW', word: 0, hi: 21, lo: 16, desc: 'maximum guest address width - 1' },
    { name: 'ZLR', word: 0, hi: 22, lo: 22, kind: 'flag', desc: 'zero-length reads' },
    { name: 'FRO', word: 0, hi: 33, lo: 24, desc: 'fault-recording register offset / 16' },
    { name: 'SLLPS', word: 0, hi: 37, lo: 34, desc: 'second-level large pages: bit 0 = 2 MiB, bit 1 = 1 GiB' },
    { name: 'PSI', word: 0, hi: 39, lo: 39, kind: 'flag', desc: 'page-selective IOTLB invalidation' },
    { name: 'NFR', word: 0, hi: 47, lo: 40, desc: 'number of fault-recording registers - 1' },
    { name: 'MAMV', word: 0, hi: 53, lo: 48, desc: 'maximum address mask value for page-selective invalidation' },
    { name: 'DWD', word: 0, hi: 54, lo: 54, kind: 'flag', desc: 'write draining' },
    { name: 'DRD', word: 0, hi: 55, lo: 55, kind: 'flag', desc: 'read draining' },
    { name: 'FL1GP', word: 0, hi: 56, lo: 56, kind: 'flag', desc: 'first-level 1 GiB pages (scalable mode)' },
    { name: 'PI', word: 0, hi: 59, lo: 59, kind: 'flag', desc: 'posted interrupts' },
    { name: 'FL5LP', word: 0, hi: 60, lo: 60, kind: 'flag', desc: 'first-level 5-level paging' },
    { name: 'ESIRTPS', word: 0, hi: 62, lo: 62, kind: 'flag', desc: 'SIRTP also invalidates the interrupt entry cache' },
    { name: 'ESRTPS', word: 0, hi: 63, lo: 63, kind: 'flag', desc: 'SRTP also invalidates all translation caches' },
  ],
};

export const ECAP_LAYOUT: Layout = {
  name: 'ECAP_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'C', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'page-walk coherency (0: software flushes CPU caches after writing tables)' },
    { name: 'QI', word: 0, hi: 1, lo: 1, kind: 'flag', desc: 'queued invalidation' },
    { name: 'DT', word: 0, hi: 2, lo: 2, kind: 'flag', desc: 'device-TLB (ATS)' },
    { name: 'IR', word: 0, hi: 3, lo: 3, kind: 'flag', desc: 'interrupt remapping' },
    { name: 'EIM', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'extended interrupt mode (x2APIC 32-bit destinations)' },
    { name: 'PT', word: 0, hi: 6, lo: 6, kind: 'flag', desc: 'pass-through (context TT = 2)' },
    { name: 'SC', word: 0, hi: 7, lo: 7, kind: 'flag', desc: 'snoop control (PTE bit 11 SNP honoured)' },
    { name: 'IRO', word: 0, hi: 17, lo: 8, desc: 'IOTLB register offset / 16' },
    { name: 'MHMV', word: 0, hi: 23, lo: 20, desc: 'maximum handle mask value (interrupt entry cache invalidation)' },
    { name: 'SMTS', word: 0, hi: 43, lo: 43, kind: 'flag', desc: 'scalable-mode translation' },
    { name: 'SLTS', word: 0, hi: 46, lo: 46, kind: 'flag', desc: 'second-level translation (scalable mode)' },
    { name: 'FLTS', word: 0, hi: 47, lo: 47, kind: 'flag', desc: 'first-level translation (scalable mode)' },
  ],
};

/** GCMD (write) and GSTS (status) share positions; names are the GCMD ones with GSTS in the description. */
export const GCMD_LAYOUT: Layout = {
  name: 'GCMD_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'CFI', word: 0, hi: 23, lo: 23, kind: 'flag', desc: 'compatibility-format interrupts allowed while IR is on (GSTS.CFIS)' },
    { name: 'SIRTP', word: 0, hi: 24, lo: 24, kind: 'flag', desc: 'set interrupt remap table pointer: latch IRTA (GSTS.IRTPS)' },
    { name: 'IRE', word: 0, hi: 25, lo: 25, kind: 'flag', desc: 'interrupt remapping enable (GSTS.IRES)' },
    { name: 'QIE', word: 0, hi: 26, lo: 26, kind: 'flag', desc: 'queued invalidation enable (GSTS.QIES)' },
    { name: 'WBF', word: 0, hi: 27, lo: 27, kind: 'flag', desc: 'write buffer flush (GSTS.WBFS)' },
    { name: 'EAFL', word: 0, hi: 28, lo: 28, kind: 'flag', desc: 'enable advanced fault logging (GSTS.AFLS)' },
    { name: 'SFL', word: 0, hi: 29, lo: 29, kind: 'flag', desc: 'set fault log (GSTS.FLS)' },
    { name: 'SRTP', word: 0, hi: 30, lo: 30, kind: 'flag', desc: 'set root table pointer: latch RTADDR (GSTS.RTPS)' },
    { name: 'TE', word: 0, hi: 31, lo: 31, kind: 'flag', desc: 'translation enable (GSTS.TES); 0 = every DMA passes untranslated' },
  ],
};

export const GSTS_LAYOUT: Layout = {
  name: 'GSTS_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'CFIS', word: 0, hi: 23, lo: 23, kind: 'flag', desc: 'compatibility-format interrupts pass (only matters while IRES = 1)' },
    { name: 'IRTPS', word: 0, hi: 24, lo: 24, kind: 'flag', desc: 'interrupt remap table pointer latched' },
    { name: 'IRES', word: 0, hi: 25, lo: 25, kind: 'flag', desc: 'interrupt remapping enabled' },
    { name: 'QIES', word: 0, hi: 26, lo: 26, kind: 'flag', desc: 'queued invalidation enabled' },
    { name: 'WBFS', word: 0, hi: 27, lo: 27, kind: 'flag', desc: 'write buffer flush pending' },
    { name: 'AFLS', word: 0, hi: 28, lo: 28, kind: 'flag', desc: 'advanced fault logging on' },
    { name: 'FLS', word: 0, hi: 29, lo: 29, kind: 'flag', desc: 'fault log pointer latched' },
    { name: 'RTPS', word: 0, hi: 30, lo: 30, kind: 'flag', desc: 'root table pointer latched' },
    { name: 'TES', word: 0, hi: 31, lo: 31, kind: 'flag', desc: 'translation enabled' },
  ],
};

export const RTADDR_LAYOUT: Layout = {
  name: 'RTADDR_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'TTM', word: 0, hi: 11, lo: 10, desc: 'translation table mode', values: { '0': 'legacy', '1': 'scalable' } },
    { name: 'RTA', word: 0, hi: 63, lo: 12, kind: 'addr', desc: 'root table address (4 KiB aligned)' },
  ],
};

export const CCMD_LAYOUT: Layout = {
  name: 'CCMD_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'DID', word: 0, hi: 15, lo: 0, desc: 'domain id (domain- and device-selective)' },
    { name: 'SID', word: 0, hi: 31, lo: 16, desc: 'source id (device-selective)' },
    { name: 'FM', word: 0, hi: 33, lo: 32, desc: 'function mask: low SID bits ignored' },
    { name: 'CAIG', word: 0, hi: 60, lo: 59, desc: 'actual granularity (hardware)', values: { '1': 'global', '2': 'domain', '3': 'device' } },
    { name: 'CIRG', word: 0, hi: 62, lo: 61, desc: 'requested granularity', values: { '1': 'global', '2': 'domain', '3': 'device' } },
    { name: 'ICC', word: 0, hi: 63, lo: 63, kind: 'flag', desc: 'invalidate context cache: software sets, hardware clears when done' },
  ],
};

export const IOTLB_LAYOUT: Layout = {
  name: 'IOTLB_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'DID', word: 0, hi: 47, lo: 32, desc: 'domain id (domain- and page-selective)' },
    { name: 'DW', word: 0, hi: 48, lo: 48, kind: 'flag', desc: 'drain writes' },
    { name: 'DR', word: 0, hi: 49, lo: 49, kind: 'flag', desc: 'drain reads' },
    { name: 'IAIG', word: 0, hi: 58, lo: 57, desc: 'actual granularity (hardware)', values: { '1': 'global', '2': 'domain', '3': 'page' } },
    { name: 'IIRG', word: 0, hi: 61, lo: 60, desc: 'requested granularity', values: { '1': 'global', '2': 'domain', '3': 'page (address in IVA)' } },
    { name: 'IVT', word: 0, hi: 63, lo: 63, kind: 'flag', desc: 'invalidate IOTLB: software sets, hardware clears when done' },
  ],
};

export const IVA_LAYOUT: Layout = {
  name: 'IVA_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'AM', word: 0, hi: 5, lo: 0, desc: 'address mask: invalidate 2^AM pages from ADDR' },
    { name: 'IH', word: 0, hi: 6, lo: 6, kind: 'flag', desc: 'invalidation hint: only leaf entries changed' },
    { name: 'ADDR', word: 0, hi: 63, lo: 12, kind: 'addr', desc: 'page address' },
  ],
};

export const FSTS_LAYOUT: Layout = {
  name: 'FSTS_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'PFO', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'primary fault overflow: a fault was lost because the next record was still full (write 1 to clear)' },
    { name: 'PPF', word: 0, hi: 1, lo: 1, kind: 'flag', desc: 'primary pending fault: some fault record has F = 1 (read-only)' },
    { name: 'AFO', word: 0, hi: 2, lo: 2, kind: 'flag', desc: 'advanced fault overflow' },
    { name: 'APF', word: 0, hi: 3, lo: 3, kind: 'flag', desc: 'advanced pending fault' },
    { name: 'IQE', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'invalidation queue error' },
    { name: 'ICE', word: 0, hi: 5, lo: 5, kind: 'flag', desc: 'invalidation completion error' },
    { name: 'ITE', word: 0, hi: 6, lo: 6, kind: 'flag', desc: 'invalidation time-out error' },
    { name: 'PRO', word: 0, hi: 7, lo: 7, kind: 'flag', desc: 'page request overflow' },
    { name: 'FRI', word: 0, hi: 15, lo: 8, desc: 'fault record index: the first pending record when PPF was set' },
  ],
};

export const FECTL_LAYOUT: Layout = {
  name: 'FECTL_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'IP', word: 0, hi: 30, lo: 30, kind: 'flag', desc: 'interrupt pending (a fault event was held back by IM)' },
    { name: 'IM', word: 0, hi: 31, lo: 31, kind: 'flag', desc: 'interrupt mask: 1 = no fault-event MSI' },
  ],
};

export const IRTA_LAYOUT: Layout = {
  name: 'IRTA_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'S', word: 0, hi: 3, lo: 0, desc: 'table size: 2^(S+1) entries (Linux writes 0xf: 65536)' },
    { name: 'EIME', word: 0, hi: 11, lo: 11, kind: 'flag', desc: 'extended interrupt mode: 32-bit x2APIC destination ids' },
    { name: 'IRTA', word: 0, hi: 63, lo: 12, kind: 'addr', desc: 'interrupt remapping table address' },
  ],
};

export const IQA_LAYOUT: Layout = {
  name: 'IQA_REG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'QS', word: 0, hi: 2, lo: 0, desc: 'queue size: 2^(QS+8) 128-bit descriptors (one 4 KiB page for QS = 0)' },
    { name: 'DW', word: 0, hi: 11, lo: 11, kind: 'flag', desc: '256-bit descriptors (scalable mode; not implemented)' },
    { name: 'IQA', word: 0, hi: 63, lo: 12, kind: 'addr', desc: 'invalidation queue base address' },
  ],
};

/** IQH and IQT: the descriptor index in [18:4] (128-bit descriptors). */
export const IQ_PTR_LAYOUT: Layout = {
  name: 'IQH_REG/IQT_REG',
  words: 1,
  source: SRC,
  fields: [{ name: 'QH/QT', word: 0, hi: 18, lo: 4, desc: 'descriptor index (head: next to fetch; tail: next software writes)' }],
};
