/**
 * Xen's public grant-table ABI as the hypervisor and its guests share it:
 * the v1 grant entry (a record in guest-visible memory), the GTF_* flags,
 * the GNTTABOP_* operation numbers, the GNTMAP_* flags of map_grant_ref,
 * the GNTST_* status codes, GNTCOPY_* and the GNTTAB_CACHE_* bits of
 * cache_flush, and the XENFEAT_* feature numbers.
 *
 * Source: Xen xen/include/public/grant_table.h and features.h (the same
 * text as Linux include/xen/interface/grant_table.h, features.h);
 * REFERENCE.md §8.1–§8.3, §8.5.
 *
 *   struct grant_entry_v1 (8 bytes, 512 per 4 KiB frame)
 *   63                32 31           16 15            0
 *   [      frame       ][     domid     ][    flags     ]
 */
import type { Layout } from '../fields.ts';

/** Xen's page size on Arm and x86: grant frames and grants are 4 KiB whatever the guest's page size. */
export const XEN_PAGE_SHIFT = 12;
export const XEN_PAGE_SIZE = 4096;
/** sizeof(struct grant_entry_v1). */
export const GRANT_ENTRY_V1_SIZE = 8;
/** Entries per grant-table frame: XEN_PAGE_SIZE / sizeof(grant_entry_v1_t). */
export const GREFS_PER_GRANT_FRAME = XEN_PAGE_SIZE / GRANT_ENTRY_V1_SIZE;

/** domid_t values (public/xen.h). */
export const DOMID_SELF = 0x7ff0;
export const DOMID_FIRST_RESERVED = 0x7ff0;

// ---- GTF_* (grant_entry_v1.flags) --------------------------------------------
/** Type field, bits [1:0]. */
export const GTF_invalid = 0;
export const GTF_permit_access = 1;
export const GTF_accept_transfer = 2;
/** v2 only. */
export const GTF_transitive = 3;
export const GTF_type_mask = 3;
/** Sub-flags of permit_access. */
export const GTF_readonly = 1 << 2;
/** Set by Xen while the frame is mapped for read (by any grantee mapping). */
export const GTF_reading = 1 << 3;
/** Set by Xen while the frame is mapped for write. */
export const GTF_writing = 1 << 4;
/** x86 cache attributes of the mapping. */
export const GTF_PWT = 1 << 5;
export const GTF_PCD = 1 << 6;
export const GTF_PAT = 1 << 7;
/** v2 copy-only sub-page grant. */
export const GTF_sub_page = 1 << 8;
/** Sub-flags of accept_transfer (reuse bits 2 and 3). */
export const GTF_transfer_committed = 1 << 2;
export const GTF_transfer_completed = 1 << 3;

export const GrantEntryV1Layout: Layout = {
  name: 'grant_entry_v1',
  words: 1,
  source: 'Xen public/grant_table.h struct grant_entry_v1; REFERENCE.md §8.1',
  fields: [
    { name: 'flags', word: 0, hi: 15, lo: 0, desc: 'GTF_*: type in [1:0]; readonly, reading, writing, cache bits above' },
    { name: 'domid', word: 0, hi: 31, lo: 16, desc: 'the domain being granted access (domid_t)' },
    { name: 'frame', word: 0, hi: 63, lo: 32, desc: 'the granted frame: a GFN of the granting domain (permit_access)' },
  ],
};

/** Name the GTF flags of an entry, in the order `xl debug-keys g` readers expect: type then sub-flags. */
export function gtfNames(flags: number): string[] {
  const type = flags & GTF_type_mask;
  const out = [['GTF_invalid', 'GTF_permit_access', 'GTF_accept_transfer', 'GTF_transitive'][type]!];
  if (type === GTF_accept_transfer) {
    if (flags & GTF_transfer_committed) out.push('GTF_transfer_committed');
    if (flags & GTF_transfer_completed) out.push('GTF_transfer_completed');
    return out;
  }
  const subs: [number, string][] = [
    [GTF_readonly, 'GTF_readonly'], [GTF_reading, 'GTF_reading'], [GTF_writing, 'GTF_writing'],
    [GTF_PWT, 'GTF_PWT'], [GTF_PCD, 'GTF_PCD'], [GTF_PAT, 'GTF_PAT'], [GTF_sub_page, 'GTF_sub_page'],
  ];
  for (const [b, n] of subs) if (flags & b) out.push(n);
  return out;
}

// ---- GNTTABOP_* (HYPERVISOR_grant_table_op's cmd) ---------------------------------
/** __HYPERVISOR_grant_table_op (public/xen.h). */
export const __HYPERVISOR_grant_table_op = 20;
export const GNTTABOP_map_grant_ref = 0;
export const GNTTABOP_unmap_grant_ref = 1;
export const GNTTABOP_setup_table = 2;
export const GNTTABOP_dump_table = 3;
export const GNTTABOP_transfer = 4;
export const GNTTABOP_copy = 5;
export const GNTTABOP_query_size = 6;
export const GNTTABOP_unmap_and_replace = 7;
export const GNTTABOP_set_version = 8;
export const GNTTABOP_get_status_frames = 9;
export const GNTTABOP_get_version = 10;
export const GNTTABOP_swap_grant_ref = 11;
export const GNTTABOP_cache_flush = 12;

export const GNTTABOP_NAMES: Record<number, string> = {
  0: 'GNTTABOP_map_grant_ref', 1: 'GNTTABOP_unmap_grant_ref', 2: 'GNTTABOP_setup_table', 3: 'GNTTABOP_dump_table',
  4: 'GNTTABOP_transfer', 5: 'GNTTABOP_copy', 6: 'GNTTABOP_query_size', 7: 'GNTTABOP_unmap_and_replace',
  8: 'GNTTABOP_set_version', 9: 'GNTTABOP_get_status_frames', 10: 'GNTTABOP_get_version', 11: 'GNTTABOP_swap_grant_ref',
  12: 'GNTTABOP_cache_flush',
};

// ---- GNTMAP_* (gnttab_map_grant_ref.flags) --------------------------------------
export const GNTMAP_device_map = 1 << 0;
export const GNTMAP_host_map = 1 << 1;
export const GNTMAP_readonly = 1 << 2;
export const GNTMAP_application_map = 1 << 3;
export const GNTMAP_contains_pte = 1 << 4;

export function gntmapNames(flags: number): string {
  const n: string[] = [];
  if (flags & GNTMAP_device_map) n.push('GNTMAP_device_map');
  if (flags & GNTMAP_host_map) n.push('GNTMAP_host_map');
  if (flags & GNTMAP_readonly) n.push('GNTMAP_readonly');
  if (flags & GNTMAP_application_map) n.push('GNTMAP_application_map');
  if (flags & GNTMAP_contains_pte) n.push('GNTMAP_contains_pte');
  return n.length ? n.join('|') : '0';
}

// ---- GNTCOPY_* (gnttab_copy.flags) --------------------------------------------
/** source.u.ref is a grant reference of source.domid (else source.u.gmfn is a frame of the caller). */
export const GNTCOPY_source_gref = 1 << 0;
export const GNTCOPY_dest_gref = 1 << 1;

// ---- GNTTAB_CACHE_* (gnttab_cache_flush.op) ------------------------------------------
export const GNTTAB_CACHE_CLEAN = 1 << 0;
export const GNTTAB_CACHE_INVAL = 1 << 1;
/** a.ref instead of a.dev_bus_addr: declared, never implemented by Xen (-EOPNOTSUPP). */
export const GNTTAB_CACHE_SOURCE_GREF = 1 << 31;

// ---- GNTST_* (per-operation status) ----------------------------------------------
export const GNTST_okay = 0;
export const GNTST_general_error = -1;
export const GNTST_bad_domain = -2;
export const GNTST_bad_gntref = -3;
export const GNTST_bad_handle = -4;
export const GNTST_bad_virt_addr = -5;
export const GNTST_bad_dev_addr = -6;
export const GNTST_no_device_space = -7;
export const GNTST_permission_denied = -8;
export const GNTST_bad_page = -9;
export const GNTST_bad_copy_arg = -10;
export const GNTST_address_too_big = -11;
export const GNTST_eagain = -12;

export const GNTST_NAMES: Record<number, string> = {
  0: 'GNTST_okay', [-1]: 'GNTST_general_error', [-2]: 'GNTST_bad_domain', [-3]: 'GNTST_bad_gntref', [-4]: 'GNTST_bad_handle',
  [-5]: 'GNTST_bad_virt_addr', [-6]: 'GNTST_bad_dev_addr', [-7]: 'GNTST_no_device_space', [-8]: 'GNTST_permission_denied',
  [-9]: 'GNTST_bad_page', [-10]: 'GNTST_bad_copy_arg', [-11]: 'GNTST_address_too_big', [-12]: 'GNTST_eagain',
};
export const gntstName = (st: number): string => GNTST_NAMES[st] ?? `status ${st}`;

/**
 * Errnos the grant-table hypercall itself returns (not a GNTST): cache_flush
 * reports through the hypercall's return value (xen/common/grant_table.c
 * cache_flush: -EINVAL, -EPERM, -EOPNOTSUPP). Xen's errno numbers
 * (public/errno.h) are the Linux ones for these.
 */
export const XEN_EPERM = -1;
export const XEN_EINVAL = -22;
export const XEN_EOPNOTSUPP = -95;
/** An unknown grant-table cmd (a Xen older than the op): do_grant_table_op's default case. */
export const XEN_ENOSYS = -38;
export const XEN_ERRNO_NAMES: Record<number, string> = { [-1]: '-EPERM', [-22]: '-EINVAL', [-38]: '-ENOSYS', [-95]: '-EOPNOTSUPP' };

// ---- XENFEAT_* (public/features.h) ----------------------------------------------
export const XENFEAT_writable_page_tables = 0;
export const XENFEAT_writable_descriptor_tables = 1;
export const XENFEAT_auto_translated_physmap = 2;
export const XENFEAT_supervisor_mode_kernel = 3;
export const XENFEAT_pae_pgdir_above_4gb = 4;
export const XENFEAT_mmu_pt_update_preserve_ad = 5;
export const XENFEAT_highmem_assist = 6;
export const XENFEAT_gnttab_map_avail_bits = 7;
export const XENFEAT_hvm_callback_vector = 8;
export const XENFEAT_hvm_safe_pvclock = 9;
export const XENFEAT_hvm_pirqs = 10;
export const XENFEAT_dom0 = 11;
/**
 * "Xen also maps grant references at pfn = mfn." Deprecated: the current
 * header keeps its #define inside a comment. Late 2014 (seed 004) it was
 * reverted in favour of GNTTABOP_cache_flush; the lab keeps it for the era
 * that had it.
 */
export const XENFEAT_grant_map_identity = 12;
export const XENFEAT_memory_op_vnode_supported = 13;
export const XENFEAT_ARM_SMCCC_supported = 14;
export const XENFEAT_linux_rsdp_unrestricted = 15;
export const XENFEAT_direct_mapped = 16;
export const XENFEAT_not_direct_mapped = 17;

export const XENFEAT_NAMES: Record<number, string> = {
  0: 'writable_page_tables', 1: 'writable_descriptor_tables', 2: 'auto_translated_physmap', 3: 'supervisor_mode_kernel',
  4: 'pae_pgdir_above_4gb', 5: 'mmu_pt_update_preserve_ad', 6: 'highmem_assist', 7: 'gnttab_map_avail_bits',
  8: 'hvm_callback_vector', 9: 'hvm_safe_pvclock', 10: 'hvm_pirqs', 11: 'dom0', 12: 'grant_map_identity',
  13: 'memory_op_vnode_supported', 14: 'ARM_SMCCC_supported', 15: 'linux_rsdp_unrestricted', 16: 'direct_mapped', 17: 'not_direct_mapped',
};
