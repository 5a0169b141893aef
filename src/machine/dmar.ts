/**
 * The ACPI DMAR table: what x86 firmware tells the OS about its VT-d
 * units. As data (DmarTable) and as the real bytes the kernel parses
 * (encodeDmar / decodeDmar). It is the x86 counterpart of firmware.ts:
 * the kernel's belief about which devices sit behind which unit, kept
 * apart from each device's real DMA path (DmaMaster.path), so a preset
 * can make them disagree.
 *
 *   header (48 bytes)  "DMAR" len rev csum OEMID[6] OEMTableID[8] OEMRev CreatorID CreatorRev
 *                      +36 HAW (host address width - 1)  +37 flags  +38 reserved[10]
 *   DRHD  type 0: +2 len +4 flags (bit 0 INCLUDE_PCI_ALL) +5 rsvd +6 segment +8 register base (u64), scopes
 *   RMRR  type 1: +2 len +4 rsvd +6 segment +8 base (u64) +16 limit (u64, inclusive), scopes
 *   ATSR  type 2: +2 len +4 flags (bit 0 ALL_PORTS) +5 rsvd +6 segment, scopes
 *   device scope:  +0 type +1 len +2 rsvd +4 enumeration id +5 start bus, then (device, function) pairs
 *                  type 1 PCI endpoint, 2 PCI sub-hierarchy, 3 IOAPIC, 4 HPET, 5 ACPI namespace device
 *
 * Sources: VT-d spec ch. 8 as Linux reads it (include/acpi/actbl1.h
 * struct acpi_table_dmar, acpi_dmar_hardware_unit, acpi_dmar_reserved_memory,
 * acpi_dmar_device_scope; drivers/iommu/intel/dmar.c) and QEMU writes it
 * (hw/i386/acpi-build.c build_dmar_q35).
 *
 * QEMU's q35 table, two generations (the switch is QEMU 6.0: "hw/i386/
 * acpi-build: Add explicit scope in DMAR table", with bypass_iommu):
 *   - older: one DRHD at 0xfed90000 with INCLUDE_PCI_ALL (flags 0x1) and an
 *     IOAPIC scope (id 0, bus 0xff, path 00.0); DMAR flags INTR_REMAP when
 *     intremap=on; an ATSR (ALL_PORTS) when device-iotlb=on.
 *   - newer: the same DRHD with flags 0, the IOAPIC scope, then a scope for
 *     every PCI device on a root bus that does not bypass the IOMMU, in
 *     devfn order (type 0x02 for a PCI bridge, 0x01 for an endpoint,
 *     the host bridge 00:00.0 included).
 * QEMU's intel-iommu has no RMRRs. The infamous lie (Woodhouse, seed 001):
 * the table says INCLUDE_PCI_ALL, yet QEMU's virtio devices without
 * iommu_platform did their DMA untranslated. A preset reproduces it by
 * giving the virtio master path 'bypass' under an include-all table
 * (`coverage` below reports the mismatch); `omit` builds the reverse lie,
 * an explicit-scope table that leaves out a device whose DMA is translated.
 */
import { type u64, hex } from './u64.ts';
import type { Bdf } from './pci.ts';

export const ACPI_DMAR_TYPE_HARDWARE_UNIT = 0;
export const ACPI_DMAR_TYPE_RESERVED_MEMORY = 1;
export const ACPI_DMAR_TYPE_ROOT_ATS = 2;
export const ACPI_DMAR_TYPE_HARDWARE_AFFINITY = 3;
export const ACPI_DMAR_TYPE_NAMESPACE = 4;
export const ACPI_DMAR_TYPE_SATC = 5;
export const ACPI_DMAR_SCOPE_TYPE_ENDPOINT = 1;
export const ACPI_DMAR_SCOPE_TYPE_BRIDGE = 2;
export const ACPI_DMAR_SCOPE_TYPE_IOAPIC = 3;
export const ACPI_DMAR_SCOPE_TYPE_HPET = 4;
export const ACPI_DMAR_SCOPE_TYPE_NAMESPACE = 5;
/** DMAR flags (header +37). */
export const DMAR_INTR_REMAP = 0x1;
export const DMAR_X2APIC_OPT_OUT = 0x2;
export const DMAR_PLATFORM_OPT_IN = 0x4;
/** DRHD flags bit 0. */
export const ACPI_DMAR_INCLUDE_ALL = 0x1;
/** ATSR flags bit 0. */
export const ACPI_DMAR_ALL_PORTS = 0x1;
/** Where QEMU q35 maps its intel-iommu (include/hw/i386/intel_iommu.h Q35_HOST_BRIDGE_IOMMU_ADDR). */
export const Q35_HOST_BRIDGE_IOMMU_ADDR = 0xfed9_0000n;
/** QEMU's pseudo bus/devfn for the root-complex IOAPIC in the DMAR scope (include/hw/pci-host/q35.h). */
export const Q35_PSEUDO_BUS_PLATFORM = 0xff;
export const Q35_PSEUDO_DEVFN_IOAPIC = 0x00;

export const DMAR_HEADER_SIZE = 48;
export const DRHD_SIZE = 16;
export const RMRR_SIZE = 24;
export const ATSR_SIZE = 8;
export const SCOPE_SIZE = 6;

export interface DmarDeviceScope {
  type: number;
  enumerationId: number;
  startBus: number;
  /** (device, function) hops from the start bus; one hop for a device on a root bus. */
  path: { dev: number; fn: number }[];
}

export interface DmarDrhd {
  kind: 'drhd';
  flags: number;
  segment: number;
  base: u64;
  scopes: DmarDeviceScope[];
}

export interface DmarRmrr {
  kind: 'rmrr';
  segment: number;
  base: u64;
  /** Inclusive end address (the table's "limit"). */
  limit: u64;
  scopes: DmarDeviceScope[];
}

export interface DmarAtsr {
  kind: 'atsr';
  flags: number;
  segment: number;
  scopes: DmarDeviceScope[];
}

/** A structure this model does not interpret (RHSA, ANDD, SATC, unknown): kept as bytes. */
export interface DmarOther {
  kind: 'other';
  type: number;
  bytes: Uint8Array;
}

export type DmarStructure = DmarDrhd | DmarRmrr | DmarAtsr | DmarOther;

export interface DmarTable {
  /** Host address width in bits (the table stores width - 1). */
  haw: number;
  flags: number;
  revision: number;
  oemId: string;
  oemTableId: string;
  oemRevision: number;
  creatorId: string;
  creatorRevision: number;
  /** In table order (Linux processes and prints them in this order). */
  structures: DmarStructure[];
}

export const drhds = (t: DmarTable): DmarDrhd[] => t.structures.filter((s): s is DmarDrhd => s.kind === 'drhd');
export const rmrrs = (t: DmarTable): DmarRmrr[] => t.structures.filter((s): s is DmarRmrr => s.kind === 'rmrr');

/** An endpoint scope for a function on a root bus (type 1, one path hop). */
export const endpointScope = (b: Pick<Bdf, 'bus' | 'dev' | 'fn'>): DmarDeviceScope => ({ type: ACPI_DMAR_SCOPE_TYPE_ENDPOINT, enumerationId: 0, startBus: b.bus, path: [{ dev: b.dev, fn: b.fn }] });

// ---- bytes ------------------------------------------------------------------------------

const putStr = (b: Uint8Array, at: number, s: string, n: number): void => {
  for (let i = 0; i < n; i++) b[at + i] = i < s.length ? s.charCodeAt(i) & 0xff : 0x20;
};

function scopeBytes(s: DmarDeviceScope): number[] {
  const out = [s.type, SCOPE_SIZE + 2 * s.path.length, 0, 0, s.enumerationId & 0xff, s.startBus & 0xff];
  for (const p of s.path) out.push(p.dev & 0xff, p.fn & 0xff);
  return out;
}

const le = (v: bigint, n: number): number[] => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));

function structureBytes(s: DmarStructure): number[] {
  const scopes = (list: DmarDeviceScope[]): number[] => list.flatMap(scopeBytes);
  let body: number[];
  let type: number;
  switch (s.kind) {
    case 'drhd':
      type = ACPI_DMAR_TYPE_HARDWARE_UNIT;
      body = [s.flags & 0xff, 0, ...le(BigInt(s.segment), 2), ...le(s.base, 8), ...scopes(s.scopes)];
      break;
    case 'rmrr':
      type = ACPI_DMAR_TYPE_RESERVED_MEMORY;
      body = [0, 0, ...le(BigInt(s.segment), 2), ...le(s.base, 8), ...le(s.limit, 8), ...scopes(s.scopes)];
      break;
    case 'atsr':
      type = ACPI_DMAR_TYPE_ROOT_ATS;
      body = [s.flags & 0xff, 0, ...le(BigInt(s.segment), 2), ...scopes(s.scopes)];
      break;
    case 'other':
      return [...s.bytes];
  }
  return [...le(BigInt(type), 2), ...le(BigInt(body.length + 4), 2), ...body];
}

/** The table's bytes, with its length and ACPI checksum (all bytes sum to 0 mod 256). */
export function encodeDmar(t: DmarTable): Uint8Array {
  const rest = t.structures.flatMap(structureBytes);
  const b = new Uint8Array(DMAR_HEADER_SIZE + rest.length);
  const v = new DataView(b.buffer);
  putStr(b, 0, 'DMAR', 4);
  v.setUint32(4, b.length, true);
  b[8] = t.revision;
  putStr(b, 10, t.oemId, 6);
  putStr(b, 16, t.oemTableId, 8);
  v.setUint32(24, t.oemRevision, true);
  putStr(b, 28, t.creatorId, 4);
  v.setUint32(32, t.creatorRevision, true);
  b[36] = (t.haw - 1) & 0xff;
  b[37] = t.flags & 0xff;
  b.set(rest, DMAR_HEADER_SIZE);
  let sum = 0;
  for (const x of b) sum = (sum + x) & 0xff;
  b[9] = (0x100 - sum) & 0xff;
  return b;
}

export class DmarParseError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

function parseScopes(b: Uint8Array, start: number, end: number): DmarDeviceScope[] {
  const out: DmarDeviceScope[] = [];
  let at = start;
  while (at < end) {
    const len = b[at + 1]!;
    if (len < SCOPE_SIZE || at + len > end) throw new DmarParseError(at, `device scope at +${at} has length ${len} (needs >= ${SCOPE_SIZE}, within the structure)`);
    const path: { dev: number; fn: number }[] = [];
    for (let p = at + SCOPE_SIZE; p + 1 < at + len; p += 2) path.push({ dev: b[p]!, fn: b[p + 1]! });
    out.push({ type: b[at]!, enumerationId: b[at + 4]!, startBus: b[at + 5]!, path });
    at += len;
  }
  return out;
}

const getStr = (b: Uint8Array, at: number, n: number): string => String.fromCharCode(...b.subarray(at, at + n));

/** Parse DMAR bytes. Throws DmarParseError on a malformed table (the checksum is reported, not enforced, as Linux does). */
export function decodeDmar(b: Uint8Array): DmarTable & { checksumOk: boolean } {
  if (b.length < DMAR_HEADER_SIZE || getStr(b, 0, 4) !== 'DMAR') throw new DmarParseError(0, 'not a DMAR table (signature)');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const length = v.getUint32(4, true);
  if (length > b.length || length < DMAR_HEADER_SIZE) throw new DmarParseError(4, `table length ${length} does not fit the ${b.length} bytes given`);
  let sum = 0;
  for (let i = 0; i < length; i++) sum = (sum + b[i]!) & 0xff;
  const t: DmarTable & { checksumOk: boolean } = {
    haw: b[36]! + 1, flags: b[37]!, revision: b[8]!, oemId: getStr(b, 10, 6), oemTableId: getStr(b, 16, 8), oemRevision: v.getUint32(24, true),
    creatorId: getStr(b, 28, 4), creatorRevision: v.getUint32(32, true), structures: [], checksumOk: sum === 0,
  };
  let at = DMAR_HEADER_SIZE;
  while (at < length) {
    const type = v.getUint16(at, true);
    const len = v.getUint16(at + 2, true);
    if (len === 0) break; // linux: "Invalid 0-length structure", stop walking
    if (at + len > length) throw new DmarParseError(at, `structure at +${at} (type ${type}, length ${len}) passes the table end`);
    if (type === ACPI_DMAR_TYPE_HARDWARE_UNIT && len >= DRHD_SIZE) {
      t.structures.push({ kind: 'drhd', flags: b[at + 4]!, segment: v.getUint16(at + 6, true), base: v.getBigUint64(at + 8, true), scopes: parseScopes(b, at + DRHD_SIZE, at + len) });
    } else if (type === ACPI_DMAR_TYPE_RESERVED_MEMORY && len >= RMRR_SIZE) {
      t.structures.push({ kind: 'rmrr', segment: v.getUint16(at + 6, true), base: v.getBigUint64(at + 8, true), limit: v.getBigUint64(at + 16, true), scopes: parseScopes(b, at + RMRR_SIZE, at + len) });
    } else if (type === ACPI_DMAR_TYPE_ROOT_ATS && len >= ATSR_SIZE) {
      t.structures.push({ kind: 'atsr', flags: b[at + 4]!, segment: v.getUint16(at + 6, true), scopes: parseScopes(b, at + ATSR_SIZE, at + len) });
    } else {
      t.structures.push({ kind: 'other', type, bytes: b.slice(at, at + len) });
    }
    at += len;
  }
  return t;
}

// ---- QEMU q35 ---------------------------------------------------------------------------

export interface QemuQ35DmarOptions {
  /** intel-iommu aw-bits (39 default). */
  haw?: number;
  /** intremap=on: DMAR flags INTR_REMAP (default true). */
  intremap?: boolean;
  /** x2APIC opt-out flag (QEMU sets it when eim=off with intremap; default false). */
  x2apicOptOut?: boolean;
  /** device-iotlb=on: an ATSR with ALL_PORTS (default false). */
  deviceIotlb?: boolean;
  /** 'include-all' (older QEMU, default) or 'explicit' (newer: a scope per device). */
  style?: 'include-all' | 'explicit';
  /** For 'explicit': the PCI functions on IOMMU-enabled buses, in bus order. */
  devices?: Pick<Bdf, 'bus' | 'dev' | 'fn'>[];
  /** For 'explicit': devices the table leaves out although their DMA is translated (the reverse lie). */
  omit?: Pick<Bdf, 'bus' | 'dev' | 'fn'>[];
  /** Register base (default 0xfed90000). */
  base?: u64;
  /** RMRRs a device asks for (QEMU has none by default). */
  rmrrs?: Omit<DmarRmrr, 'kind'>[];
}

/** build_dmar_q35: the DMAR QEMU's q35 machine hands a guest with -device intel-iommu. */
export function qemuQ35Dmar(o: QemuQ35DmarOptions = {}): DmarTable {
  const style = o.style ?? 'include-all';
  const omit = (b: Pick<Bdf, 'bus' | 'dev' | 'fn'>): boolean => (o.omit ?? []).some((x) => x.bus === b.bus && x.dev === b.dev && x.fn === b.fn);
  const ioapic: DmarDeviceScope = { type: ACPI_DMAR_SCOPE_TYPE_IOAPIC, enumerationId: 0, startBus: Q35_PSEUDO_BUS_PLATFORM, path: [{ dev: Q35_PSEUDO_DEVFN_IOAPIC >> 3, fn: Q35_PSEUDO_DEVFN_IOAPIC & 7 }] };
  const scopes = style === 'explicit' ? [ioapic, ...(o.devices ?? []).filter((b) => !omit(b)).map(endpointScope)] : [ioapic];
  const structures: DmarStructure[] = [{ kind: 'drhd', flags: style === 'include-all' ? ACPI_DMAR_INCLUDE_ALL : 0, segment: 0, base: o.base ?? Q35_HOST_BRIDGE_IOMMU_ADDR, scopes }];
  for (const r of o.rmrrs ?? []) structures.push({ kind: 'rmrr', ...r });
  if (o.deviceIotlb) structures.push({ kind: 'atsr', flags: ACPI_DMAR_ALL_PORTS, segment: 0, scopes: [] });
  return {
    haw: o.haw ?? 39,
    flags: ((o.intremap ?? true) ? DMAR_INTR_REMAP : 0) | (o.x2apicOptOut ? DMAR_X2APIC_OPT_OUT : 0),
    revision: 1, oemId: 'BOCHS ', oemTableId: 'BXPC    ', oemRevision: 1, creatorId: 'BXPC', creatorRevision: 1,
    structures,
  };
}

// ---- what the table claims --------------------------------------------------------------

const scopeMatches = (s: DmarDeviceScope, b: Pick<Bdf, 'bus' | 'dev' | 'fn'>): boolean =>
  (s.type === ACPI_DMAR_SCOPE_TYPE_ENDPOINT || s.type === ACPI_DMAR_SCOPE_TYPE_BRIDGE) &&
  s.path.length === 1 && s.startBus === b.bus && s.path[0]!.dev === b.dev && s.path[0]!.fn === b.fn;

/**
 * The DRHD the table says covers a PCI function (dmar_find_matched_drhd_unit):
 * a unit whose scopes list the device, else an INCLUDE_PCI_ALL unit of the
 * segment (Linux keeps include-all units last, whatever the table order).
 * Only one-hop paths are resolved: the model has no PCI-to-PCI bridges.
 */
export function drhdFor(t: DmarTable, b: Bdf): DmarDrhd | undefined {
  const units = drhds(t).filter((d) => d.segment === b.segment);
  return units.find((d) => !(d.flags & ACPI_DMAR_INCLUDE_ALL) && d.scopes.some((s) => scopeMatches(s, b))) ?? units.find((d) => (d.flags & ACPI_DMAR_INCLUDE_ALL) !== 0);
}

/** RMRRs whose scopes name the device. */
export function rmrrsFor(t: DmarTable, b: Bdf): DmarRmrr[] {
  return rmrrs(t).filter((r) => r.segment === b.segment && r.scopes.some((s) => scopeMatches(s, b)));
}

export interface CoverageRow {
  device: string;
  bdf: Bdf;
  /** The DRHD base the table says covers it, if any. */
  claimedBy?: u64;
  /** How the device's DMA really travels. */
  path: 'translated' | 'bypass';
  /** The register base of the unit that really translates it, when translated. */
  translatedBy?: u64;
  agree: boolean;
  note: string;
}

/**
 * Firmware's claim against hardware truth, device by device: where they
 * disagree a kernel either programs a unit the device ignores (claimed,
 * bypasses: QEMU's old virtio) or leaves a translated device with no
 * context entry so every DMA faults (translated, not claimed).
 */
export function coverage(t: DmarTable, devices: { name: string; bdf: Bdf; path: 'translated' | 'bypass'; unitBase?: u64 }[]): CoverageRow[] {
  return devices.map((d) => {
    const drhd = drhdFor(t, d.bdf);
    const claimed = drhd?.base;
    const translatedBy = d.path === 'translated' ? d.unitBase : undefined;
    let agree: boolean;
    let note: string;
    if (claimed === undefined && d.path === 'bypass') {
      agree = true;
      note = 'not covered, and its DMA is untranslated';
    } else if (claimed !== undefined && d.path === 'translated') {
      agree = translatedBy === undefined || translatedBy === claimed;
      note = agree ? `covered by the DRHD at ${hex(claimed)}, and translated there` : `the table names the DRHD at ${hex(claimed)}, but the DMA goes through the unit at ${hex(translatedBy!)}`;
    } else if (claimed !== undefined) {
      agree = false;
      note = `the table claims the DRHD at ${hex(claimed)} covers it, but its DMA bypasses translation: the kernel's mappings have no effect`;
    } else {
      agree = false;
      note = `the table leaves it out, but its DMA is translated${translatedBy !== undefined ? ` by the unit at ${hex(translatedBy)}` : ''}: with nothing in its context entry every DMA faults`;
    }
    return { device: d.name, bdf: d.bdf, claimedBy: claimed, path: d.path, translatedBy, agree, note };
  });
}
