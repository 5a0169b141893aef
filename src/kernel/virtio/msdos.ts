/**
 * The DOS/MBR partition-table parser and the partition line Linux prints:
 * linux block/partitions/msdos.c (msdos_partition) and
 * block/partitions/core.c (check_partition, put_partition,
 * blk_add_partition). Lives beside virtio-blk because that is the only
 * block driver in the model; it knows nothing of virtio.
 *
 *   check_partition:  pp_buf = " vda:"
 *   msdos_partition:  for slot 1..4 with a non-zero size: " vda<slot>"
 *                     (extended: " vda<slot> <" ... " >"), then "\n"
 *   printed at KERN_INFO:   " vda: vda1 vda2"
 *
 * Not modelled: logical partitions inside an extended one (the container
 * is listed, its chain is not followed), BSD/Solaris/UnixWare sub-labels,
 * AIX, and the GPT parser that runs first (efi.c gives up on a disk whose
 * sector 0 is not a protective MBR, as here).
 */
import { MBR_PARTITION_ENTRY_SIZE, MBR_PARTITION_TABLE_OFFSET, MBR_SIGNATURE_OFFSET, SECTOR_SIZE } from '../../machine/virtio/disk.ts';

/** Partition types msdos.c looks at (include/linux/msdos_partition.h). */
export const DOS_EXTENDED_PARTITION = 0x05;
export const LINUX_EXTENDED_PARTITION = 0x85;
export const WIN98_EXTENDED_PARTITION = 0x0f;
export const EFI_PMBR_OSTYPE_EFI_GPT = 0xee;

export interface MsdosPartition {
  /** Partition number (slot 1..4 for primaries). */
  slot: number;
  /** "vda1" */
  name: string;
  /** First sector and size, 512-byte units. */
  start: number;
  sectors: number;
  type: number;
  bootable: boolean;
  extended: boolean;
}

export interface PartitionScan {
  /** 'msdos' when a DOS label was found; 'none' when no parser recognised the disk. */
  label: 'msdos' | 'none';
  /** Disk identifier at offset 440 (blkid's PTUUID). */
  diskIdent?: number;
  parts: MsdosPartition[];
  /**
   * What check_partition prints: " vda: vda1 vda2". Undefined when no label
   * was recognised: current kernels print nothing then (2.6-era ones said
   * " vda: unknown partition table").
   */
  line: string | undefined;
  /** Warnings blk_add_partition prints for partitions past the end of the disk. */
  warnings: string[];
}

const isExtended = (t: number): boolean => t === DOS_EXTENDED_PARTITION || t === WIN98_EXTENDED_PARTITION || t === LINUX_EXTENDED_PARTITION;

/** disk name + partition number: "vda1", or "nvme0n1p1" when the name ends in a digit. */
export const partitionName = (disk: string, n: number): string => (/[0-9]$/.test(disk) ? `${disk}p${n}` : `${disk}${n}`);

/**
 * Parse sector 0 (the first 512 bytes of `data`) for a disk of `capacity`
 * sectors named `disk`.
 */
export function msdosPartition(disk: string, data: Uint8Array, capacity: bigint): PartitionScan {
  const none = (): PartitionScan => ({ label: 'none', parts: [], line: undefined, warnings: [] });
  if (data.length < SECTOR_SIZE) return none();
  if (data[MBR_SIGNATURE_OFFSET] !== 0x55 || data[MBR_SIGNATURE_OFFSET + 1] !== 0xaa) return none();
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const entry = (slot: number): number => MBR_PARTITION_TABLE_OFFSET + (slot - 1) * MBR_PARTITION_ENTRY_SIZE;
  // A boot indicator other than 0 or 0x80 means this is not a partition table (likely a FAT boot sector).
  for (let slot = 1; slot <= 4; slot++) {
    const b = data[entry(slot)]!;
    if (b !== 0 && b !== 0x80) return none();
  }
  // A GPT protective entry: the EFI parser's business, not msdos'.
  for (let slot = 1; slot <= 4; slot++) if (data[entry(slot) + 4] === EFI_PMBR_OSTYPE_EFI_GPT) return none();
  const parts: MsdosPartition[] = [];
  const warnings: string[] = [];
  let line = ` ${disk}:`;
  for (let slot = 1; slot <= 4; slot++) {
    const o = entry(slot);
    const start = v.getUint32(o + 8, true);
    let sectors = v.getUint32(o + 12, true);
    if (!sectors) continue;
    const type = data[o + 4]!;
    const extended = isExtended(type);
    line += ` ${partitionName(disk, slot)}`;
    if (extended) line += ' < >';
    // blk_add_partition: a partition starting past the end is dropped, one running past it is cut.
    if (BigInt(start) >= capacity) {
      warnings.push(`${disk}: p${slot} start ${start} is beyond EOD, truncated`);
      continue;
    }
    if (BigInt(start) + BigInt(sectors) > capacity) {
      warnings.push(`${disk}: p${slot} size ${sectors} extends beyond EOD, truncated`);
      sectors = Number(capacity - BigInt(start));
    }
    parts.push({ slot, name: partitionName(disk, slot), start, sectors, type, bootable: data[o] === 0x80, extended });
  }
  return { label: 'msdos', diskIdent: v.getUint32(440, true), parts, line, warnings };
}
