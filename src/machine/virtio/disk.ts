/**
 * A disk image: the backing store of a virtio-blk device (QEMU's -drive).
 *
 * Sparse: a Map of 512-byte sectors, a sector never written reads as
 * zeros, so a 1 GiB disk costs the handful of sectors that hold something.
 * Stateful: writes through the device are undone with the rest of the
 * machine.
 *
 * The default image (`makeDmaLabDisk`) carries a real MBR partition table
 * (the classic "DOS" label, read by linux block/partitions/msdos.c):
 *
 *   LBA 0          MBR: boot-code area holds the text "dma-lab disk ...",
 *                  disk signature 0x4c414d44 at 440, four 16-byte partition
 *                  entries at 446, 0x55 0xAA at 510
 *   LBA 2048       vda1: type 0x83 (Linux), 1835008 sectors (896 MiB), bootable
 *   LBA 2050       ext4 superblock of vda1 (byte 1024 of the partition):
 *                  s_magic 0xEF53 at +0x38, s_volume_name "dma-lab-root" at +0x78
 *   LBA 4096       a text sector: "hello from vda1 ..." (a file's data block)
 *   LBA 1837056    vda2: type 0x82 (Linux swap), 260096 sectors (127 MiB)
 *   LBA 1837063    last sector of vda2's first 4 KiB page: "SWAPSPACE2" at
 *                  page offset 4086 (mkswap's signature, sector offset 502)
 *   capacity       2097152 sectors = 1 GiB (vda2 ends exactly at the end)
 *
 * Partition entry (16 bytes, at 446 + 16*i): +0 status (0x80 bootable),
 * +1 CHS first (3), +4 type, +5 CHS last (3), +8 le32 first LBA,
 * +12 le32 number of sectors. CHS uses 255 heads x 63 sectors and saturates
 * at 1023/254/63 (FE FF FF) past cylinder 1023, as fdisk writes it.
 */
import { type u64, hex } from '../u64.ts';
import { clone, type Stateful } from '../state.ts';

export const SECTOR_SIZE = 512;
export const MBR_PARTITION_TABLE_OFFSET = 446;
export const MBR_PARTITION_ENTRY_SIZE = 16;
export const MBR_DISK_SIGNATURE_OFFSET = 440;
export const MBR_SIGNATURE_OFFSET = 510;
/** Partition type bytes (util-linux include/pt-mbr-partnames.h). */
export const MBR_TYPE_LINUX = 0x83;
export const MBR_TYPE_LINUX_SWAP = 0x82;
export const MBR_TYPE_EXTENDED = 0x05;
/** ext4 superblock: 1024 bytes into the partition; magic at +0x38. */
export const EXT4_SUPER_MAGIC = 0xef53;

/** The default disk's layout, for the boot code, lessons and tests. */
export const DMA_LAB_DISK = {
  capacity: 2097152n,
  diskSignature: 0x4c414d44,
  bootText: 'dma-lab disk: MBR with two partitions (vda1 Linux, vda2 swap)',
  parts: [
    { index: 1, type: MBR_TYPE_LINUX, start: 2048, sectors: 1835008, bootable: true },
    { index: 2, type: MBR_TYPE_LINUX_SWAP, start: 1837056, sectors: 260096, bootable: false },
  ],
  ext4SuperblockLba: 2050,
  ext4VolumeName: 'dma-lab-root',
  textLba: 4096,
  text: 'hello from vda1: this sector was read by the device through its DMA path\n',
  swapSignatureLba: 1837063,
  swapSignatureOffset: 502,
} as const;

interface DiskState {
  /** sector number (as a decimal string: Map keys survive structuredClone either way) -> 512 bytes */
  sectors: Map<string, Uint8Array>;
}

export class DiskImage implements Stateful {
  private s: DiskState = { sectors: new Map() };

  constructor(
    /** Capacity in 512-byte sectors. */
    readonly capacity: u64,
    /** Serial number returned by VIRTIO_BLK_T_GET_ID (QEMU -drive serial=; empty by default). */
    readonly serial = '',
  ) {}

  private check(lba: u64, count: number): void {
    if (lba < 0n || lba + BigInt(count) > this.capacity) {
      throw new RangeError(`sectors ${lba}..${lba + BigInt(count) - 1n} are outside the disk (capacity ${this.capacity} sectors)`);
    }
  }

  /** Whether [lba, lba+count) lies inside the disk. */
  inRange(lba: u64, count: number): boolean {
    return lba >= 0n && lba + BigInt(count) <= this.capacity;
  }

  read(lba: u64, count: number): Uint8Array {
    this.check(lba, count);
    const out = new Uint8Array(count * SECTOR_SIZE);
    for (let i = 0; i < count; i++) {
      const s = this.s.sectors.get((lba + BigInt(i)).toString());
      if (s) out.set(s, i * SECTOR_SIZE);
    }
    return out;
  }

  /** Write whole sectors; `data.length` must be a multiple of 512. */
  write(lba: u64, data: Uint8Array): void {
    if (data.length % SECTOR_SIZE !== 0) throw new RangeError(`disk writes are whole sectors; got ${data.length} bytes`);
    const count = data.length / SECTOR_SIZE;
    this.check(lba, count);
    for (let i = 0; i < count; i++) {
      const chunk = data.subarray(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE);
      const key = (lba + BigInt(i)).toString();
      if (chunk.every((b) => b === 0)) this.s.sectors.delete(key);
      else this.s.sectors.set(key, new Uint8Array(chunk));
    }
  }

  /** Write bytes at a byte offset inside one sector (image building). */
  poke(lba: u64, offset: number, bytes: Uint8Array): void {
    if (offset + bytes.length > SECTOR_SIZE) throw new RangeError(`poke at ${offset}+${bytes.length} crosses the sector`);
    const s = this.read(lba, 1);
    s.set(bytes, offset);
    this.write(lba, s);
  }

  /** Sectors that hold non-zero data, ascending. */
  usedSectors(): u64[] {
    return [...this.s.sectors.keys()].map((k) => BigInt(k)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  describe(): string {
    return `${this.capacity} sectors (${hex(this.capacity * 512n)} bytes), ${this.s.sectors.size} non-zero`;
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as DiskState);
  }
}

const ascii = (t: string): Uint8Array => new TextEncoder().encode(t);

/** CHS triple as MBR stores it (255 heads, 63 sectors per track; saturated past cylinder 1023). */
export function mbrChs(lba: number): [number, number, number] {
  const spt = 63;
  const heads = 255;
  const c = Math.floor(lba / (spt * heads));
  if (c > 1023) return [0xfe, 0xff, 0xff];
  const h = Math.floor(lba / spt) % heads;
  const s = (lba % spt) + 1;
  return [h, ((c >> 2) & 0xc0) | s, c & 0xff];
}

export interface MbrPartitionSpec {
  type: number;
  start: number;
  sectors: number;
  bootable?: boolean;
}

/** Build a 512-byte MBR sector. */
export function buildMbr(parts: MbrPartitionSpec[], diskSignature: number, bootText = ''): Uint8Array {
  if (parts.length > 4) throw new RangeError('an MBR holds at most four primary partitions');
  const b = new Uint8Array(SECTOR_SIZE);
  const v = new DataView(b.buffer);
  b.set(ascii(bootText).subarray(0, MBR_DISK_SIGNATURE_OFFSET), 0);
  v.setUint32(MBR_DISK_SIGNATURE_OFFSET, diskSignature >>> 0, true);
  parts.forEach((p, i) => {
    const o = MBR_PARTITION_TABLE_OFFSET + i * MBR_PARTITION_ENTRY_SIZE;
    b[o] = p.bootable ? 0x80 : 0x00;
    b.set(mbrChs(p.start), o + 1);
    b[o + 4] = p.type;
    b.set(mbrChs(p.start + p.sectors - 1), o + 5);
    v.setUint32(o + 8, p.start, true);
    v.setUint32(o + 12, p.sectors, true);
  });
  b[MBR_SIGNATURE_OFFSET] = 0x55;
  b[MBR_SIGNATURE_OFFSET + 1] = 0xaa;
  return b;
}

/** The lab's default disk (layout in the file comment and DMA_LAB_DISK). */
export function makeDmaLabDisk(serial = ''): DiskImage {
  const L = DMA_LAB_DISK;
  const d = new DiskImage(L.capacity, serial);
  d.write(0n, buildMbr([...L.parts], L.diskSignature, L.bootText));
  // ext4 superblock: starts 1024 bytes into vda1, i.e. sector 2050 offset 0.
  const sb = new Uint8Array(SECTOR_SIZE);
  const sv = new DataView(sb.buffer);
  sv.setUint32(0x00, 57344, true); // s_inodes_count
  sv.setUint32(0x04, 229376, true); // s_blocks_count_lo: 896 MiB in 4 KiB blocks
  sv.setUint32(0x18, 2, true); // s_log_block_size: 1024 << 2 = 4096
  sv.setUint16(0x38, EXT4_SUPER_MAGIC, true); // s_magic
  sb.set(ascii(L.ext4VolumeName), 0x78); // s_volume_name[16]
  d.write(BigInt(L.ext4SuperblockLba), sb);
  d.poke(BigInt(L.textLba), 0, ascii(L.text));
  d.poke(BigInt(L.swapSignatureLba), L.swapSignatureOffset, ascii('SWAPSPACE2'));
  return d;
}
