/**
 * GICv3 Interrupt Translation Service (ITS): the MSI doorbell of an Arm
 * system. A device signals an interrupt by writing its EventID to
 * GITS_TRANSLATER (ITS base + 0x10040); the ITS takes the DeviceID from the
 * interconnect (a sideband of the write, not its data) and translates
 * (DeviceID, EventID) into an LPI. A write there is an interrupt, never a
 * memory write, and reads of GITS_TRANSLATER return 0.
 *
 * Register offsets: linux include/linux/irqchip/arm-gic-v3.h (GITS_CTLR
 * 0x0, GITS_IIDR 0x4, GITS_TYPER 0x8, GITS_CBASER 0x80, GITS_CWRITER 0x88,
 * GITS_CREADR 0x90, GITS_BASER 0x100, GITS_PIDR2 0xffe8, GITS_TRANSLATER
 * 0x10040); QEMU include/hw/intc/arm_gicv3_its_common.h (a control frame
 * of 0x10000 and a translation frame of 0x10000).
 *
 * DeviceID: the DMA engine passes the writing master with the write
 * (`deviceWrite`, see memory.ts DeviceWriteInfo). The ITS uses the master's
 * PCI requester ID, else its StreamID: on QEMU virt and the Arm FVP the
 * IORT maps a RID to the same number as SMMU StreamID and ITS DeviceID.
 * A CPU store to GITS_TRANSLATER (plain `write`) has no master; it is
 * recorded with source "cpu" (real hardware supplies an IMPLEMENTATION
 * DEFINED DeviceID).
 *
 * Not modelled: the ITS command queue (MAPD/MAPTI ... are stored, not
 * interpreted: CREADR follows CWRITER), the device/ITT/collection tables
 * and LPI delivery to a redistributor. Every TRANSLATER write is recorded
 * as (DeviceID, EventID) in the machine's interrupt log.
 */
import { type u64, hex } from './u64.ts';
import type { AccessSize, DeviceWriteInfo, MmioHandler } from './memory.ts';
import type { InterruptLog } from './interrupts.ts';
import { clone, type Stateful } from './state.ts';

export const GITS_CTLR = 0x0000;
export const GITS_IIDR = 0x0004;
export const GITS_TYPER = 0x0008;
export const GITS_CBASER = 0x0080;
export const GITS_CWRITER = 0x0088;
export const GITS_CREADR = 0x0090;
export const GITS_BASER = 0x0100; // 8 x 64-bit
export const GITS_PIDR2 = 0xffe8;
export const GITS_TRANSLATER = 0x10040;
export const GITS_REGION_SIZE = 0x20000n;

/** GITS_PIDR2.ArchRev [7:4] = 3 for GICv3 (0x3b as QEMU's virt shows it). */
const PIDR2_GICV3 = 0x3bn;
/** GITS_TYPER: Physical LPIs, 8-byte ITT entries, 16 EventID bits, 16 DeviceID bits (a plausible implementation). */
const TYPER = 1n | (7n << 4n) | (15n << 8n) | (15n << 13n);

export interface GicItsOptions {
  name: string;
  /** Physical base of the ITS frame (QEMU virt: 0x08080000). */
  base: u64;
  interrupts: InterruptLog;
}

interface ItsState {
  /** Control-frame registers by byte offset (64-bit values). */
  regs: Map<number, u64>;
  translations: number;
}

export class GicIts implements MmioHandler, Stateful {
  readonly name: string;
  readonly base: u64;
  private readonly log: InterruptLog;
  private s: ItsState = { regs: new Map(), translations: 0 };

  constructor(o: GicItsOptions) {
    this.name = o.name;
    this.base = o.base;
    this.log = o.interrupts;
  }

  /** Physical address of the doorbell. */
  get translaterAddr(): u64 {
    return this.base + BigInt(GITS_TRANSLATER);
  }

  read(offset: u64, size: AccessSize): u64 {
    const off = Number(offset);
    if (off >= 0x10000) return 0n; // translation frame: GITS_TRANSLATER reads as 0
    const base = off & ~7;
    let v: u64;
    if (base === GITS_PIDR2) v = PIDR2_GICV3;
    else if (base === GITS_TYPER) v = TYPER;
    else v = this.s.regs.get(base) ?? 0n;
    const sh = BigInt(8 * (off - base));
    return (v >> sh) & (size === 8 ? 0xffff_ffff_ffff_ffffn : (1n << BigInt(8 * size)) - 1n);
  }

  write(offset: u64, size: AccessSize, value: u64): void {
    const off = Number(offset);
    if (off === GITS_TRANSLATER) {
      this.translate('cpu', value & 0xffff_ffffn, 'a CPU store to GITS_TRANSLATER (no DeviceID sideband)');
      return;
    }
    if (off >= 0x10000) return;
    const base = off & ~7;
    const sh = BigInt(8 * (off - base));
    const m = (size === 8 ? 0xffff_ffff_ffff_ffffn : (1n << BigInt(8 * size)) - 1n) << sh;
    const old = this.s.regs.get(base) ?? 0n;
    this.s.regs.set(base, (old & ~m & 0xffff_ffff_ffff_ffffn) | ((value << sh) & m));
    // Commands are not interpreted: the queue is drained at once.
    if (base === GITS_CWRITER) this.s.regs.set(GITS_CREADR, this.s.regs.get(GITS_CWRITER)!);
  }

  /**
   * A write that arrived from a device (the DMA engine calls this with the
   * master). Returns a description when it was an interrupt.
   */
  deviceWrite(offset: u64, data: Uint8Array, from: DeviceWriteInfo): string | undefined {
    const off = Number(offset);
    if (off !== GITS_TRANSLATER || (data.length !== 4 && data.length !== 2)) {
      let v = 0n;
      for (let i = data.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[i]!);
      if (data.length === 1 || data.length === 2 || data.length === 4 || data.length === 8) this.write(offset, data.length as AccessSize, v);
      return undefined;
    }
    let ev = 0n;
    for (let i = data.length - 1; i >= 0; i--) ev = (ev << 8n) | BigInt(data[i]!);
    const deviceId = from.rid ?? from.sid;
    return this.translate(hex(deviceId), ev, `${from.name} wrote EventID ${ev} to GITS_TRANSLATER; DeviceID ${hex(deviceId)} came with the write`);
  }

  private translate(source: string, eventId: u64, detail: string): string {
    this.s.translations++;
    this.log.raise({ controller: 'its', source, addr: this.translaterAddr, data: eventId, detail: `${this.name}: ${detail}` });
    return `MSI to ${this.name} (GITS_TRANSLATER ${hex(this.translaterAddr)}): DeviceID ${source}, EventID ${eventId}`;
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as ItsState);
  }
}
