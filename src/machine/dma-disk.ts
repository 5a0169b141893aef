/**
 * A platform disk controller that moves whole sectors between a disk image
 * and memory by DMA (a minimal AHCI-like block engine without its command
 * lists: the driver hands it a sector, a count and one bus address). It
 * sits on an interconnect that may offset addresses (DT dma-ranges: the
 * device's bus address 0 is CPU physical `dmaOffset`), and it may or may
 * not snoop the CPU caches (DT `dma-coherent`): a non-coherent device's
 * accesses go to memory only — which is what makes cache maintenance
 * visible when the machine has a cache model.
 *
 * Every access goes through Machine.dmaRead/dmaWrite, so it is traced. The
 * storage is a DiskImage (machine/virtio/disk.ts), reused as is.
 */
import type { Machine } from './machine.ts';
import type { DmaMaster } from './dma.ts';
import type { DiskImage } from './virtio/disk.ts';
import { SECTOR_SIZE } from './virtio/disk.ts';
import { describeFault } from './dma.ts';

export interface DmaDiskResult {
  ok: boolean;
  detail: string;
}

export class DmaDisk {
  readonly master: DmaMaster;

  constructor(
    readonly machine: Machine,
    readonly name: string,
    readonly disk: DiskImage,
    /** CPU physical = bus + dmaOffset (the interconnect's dma-ranges). */
    readonly dmaOffset: bigint,
    /** Snoops CPU caches (dma-coherent). */
    readonly coherent: boolean,
  ) {
    this.master = { name, sid: 0, path: 'bypass', ...(coherent ? {} : { coherent: false }) };
    machine.masters.set(name, this.master);
  }

  /** The address the device's transaction reaches memory at. */
  busToPhys(bus: bigint): bigint {
    return BigInt.asUintN(64, bus + this.dmaOffset);
  }

  /** Read `count` sectors from `lba` into memory at bus address `bus` (device writes). */
  readSectors(lba: bigint, count: number, bus: bigint): DmaDiskResult {
    if (!this.disk.inRange(lba, count)) return { ok: false, detail: `sectors ${lba}+${count} are outside the disk` };
    const data = this.disk.read(lba, count);
    const r = this.machine.dmaWrite(this.master, this.busToPhys(bus), data, `${this.name} read lba ${lba}, bus ${'0x' + bus.toString(16)}`);
    return r.ok ? { ok: true, detail: `wrote ${count * SECTOR_SIZE} bytes at bus ${'0x' + bus.toString(16)}` } : { ok: false, detail: describeFault(r.fault) };
  }

  /** Write `count` sectors at `lba` from memory at bus address `bus` (device reads). */
  writeSectors(lba: bigint, count: number, bus: bigint): DmaDiskResult {
    if (!this.disk.inRange(lba, count)) return { ok: false, detail: `sectors ${lba}+${count} are outside the disk` };
    const r = this.machine.dmaRead(this.master, this.busToPhys(bus), count * SECTOR_SIZE, `${this.name} write lba ${lba}, bus ${'0x' + bus.toString(16)}`);
    if (!r.ok) return { ok: false, detail: describeFault(r.fault) };
    this.disk.write(lba, r.data);
    return { ok: true, detail: `read ${count * SECTOR_SIZE} bytes at bus ${'0x' + bus.toString(16)}` };
  }
}
