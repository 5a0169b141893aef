/**
 * A booted Xen-on-Arm system: the hypervisor, dom0's Linux (grant-table
 * backend side, swiotlb-xen, blkback) and one domU's Linux (grant-table
 * frontend side, blkfront), wired to a real disk controller. Built by the
 * `xen-arm` preset; the commands in commands/builtin/xen.ts work on it.
 */
import type { Machine } from '../../machine/machine.ts';
import type { Kernel } from '../kernel.ts';
import { Xen } from '../../machine/xen/xen.ts';
import { GUEST_RAM0_BASE } from '../../machine/xen/xen.ts';
import { DmaDisk } from '../../machine/dma-disk.ts';
import { makeDmaLabDisk } from '../../machine/virtio/disk.ts';
import { hex, dmaBitMask } from '../../machine/u64.ts';
import { IO_TLB_SEGSIZE, IO_TLB_SIZE } from '../swiotlb.ts';
import { GnttabBack, GnttabFront } from './gnttab.ts';
import { SwiotlbXen, type CpuMemory, type XenDmaDevice } from './swiotlb-xen.ts';
import { Blkback, Blkfront } from './blk.ts';
import { XEN_ERAS, type XenEra } from './era.ts';
import { XEN_ENOSYS, XENFEAT_auto_translated_physmap, XENFEAT_dom0, XENFEAT_grant_map_identity, XENFEAT_direct_mapped } from '../../machine/xen/abi.ts';

/** Machine RAM: 1 GiB at 0x40000000. */
export const XEN_MACHINE_RAM = { base: 0x4000_0000n, size: 0x4000_0000n };
/** dom0: 256 MiB, GFN == MFN (0x40000..0x4ffff). */
export const DOM0_RAM = { pfn: 0x40000, count: 0x10000 };
/** Pages dom0 balloons out at boot for grant mappings. */
export const DOM0_BALLOON = { pfn: 0x4f000, count: 64 };
/** dom0's swiotlb-xen pool: 4 MiB at 0x48000000 (a stated size; Linux's default is 64 MiB). */
export const DOM0_SWIOTLB = { base: 0x4800_0000n, nslabs: 2048 };
/** domU: 16 MiB at GUEST_RAM0_BASE on machine frames 0x60000..0x60fff, handed out top down. */
export const DOMU_RAM = { pfn: Number(GUEST_RAM0_BASE >> 12n), count: 0x1000, mfn: 0x60000 };
/** blkfront's data pages. */
export const DOMU_BLK_PAGES = { first: 0x40a00, last: 0x40aff };
/** Xen heap frames (grant tables). */
export const XEN_HEAP = { first: 0x7f000, end: 0x7f100 };
export const DOMU_ID = 1;

export interface XenWorldOptions {
  era: XenEra;
  /** The hypervisor has GNTTABOP_cache_flush (Xen 4.5+). */
  cacheFlush: boolean;
  /** The disk controller snoops CPU caches. */
  coherent: boolean;
  /** DT dma-ranges offset of the disk controller. */
  dmaOffset: bigint;
  /** dom0 cmdline swiotlb=force. */
  swiotlbForce: boolean;
}

export class XenWorld {
  readonly xen: Xen;
  readonly front: GnttabFront;
  readonly back: GnttabBack;
  readonly swiotlb: SwiotlbXen;
  readonly disk: DmaDisk;
  readonly dev: XenDmaDevice;
  readonly blkfront: Blkfront;
  readonly blkback: Blkback;
  readonly features: number[];

  constructor(
    readonly machine: Machine,
    readonly kernel: Kernel,
    readonly options: XenWorldOptions,
    /** dom0's and the domU's CPU view of machine memory (through the caches when the machine has them). */
    readonly cpu: CpuMemory,
  ) {
    const era = XEN_ERAS[options.era];
    const mem = machine.memory;
    this.xen = new Xen(mem, XEN_HEAP.first, XEN_HEAP.end);
    this.xen.hasCacheFlush = options.cacheFlush;
    this.xen.grantMapIdentity = era.grantMapIdentity;
    machine.register('xen', this.xen);
    this.features = [XENFEAT_auto_translated_physmap, XENFEAT_dom0, XENFEAT_direct_mapped, ...(era.grantMapIdentity ? [XENFEAT_grant_map_identity] : [])].sort((a, b) => a - b);
    this.xen.createDomain({ domid: 0, name: 'Domain-0', extents: [{ gfn: DOM0_RAM.pfn, count: DOM0_RAM.count, mfn: DOM0_RAM.pfn, order: 'up' }] });
    this.xen.createDomain({ domid: DOMU_ID, name: 'domU', extents: [{ gfn: DOMU_RAM.pfn, count: DOMU_RAM.count, mfn: DOMU_RAM.mfn, order: 'down' }] });

    const disk = makeDmaLabDisk('xen-disk');
    machine.register('disk:sda', disk);
    this.disk = new DmaDisk(machine, 'sda', disk, options.dmaOffset, options.coherent);
    this.dev = { name: 'sda', dmaMask: dmaBitMask(64), coherent: options.coherent, dmaOffset: options.dmaOffset };

    this.back = new GnttabBack(this.xen, 0);
    this.back.ramPfns = [[DOM0_RAM.pfn, DOM0_RAM.count]];
    this.front = new GnttabFront(this.xen, DOMU_ID);
    this.swiotlb = new SwiotlbXen(machine, this.xen, this.back, cpu, era, DOM0_SWIOTLB.base, DOM0_SWIOTLB.nslabs);
    this.swiotlb.force = options.swiotlbForce;
    this.blkfront = new Blkfront(this.front, DOMU_BLK_PAGES.first, DOMU_BLK_PAGES.last);
    this.blkback = new Blkback(this.back, this.swiotlb, this.disk, this.dev, DOMU_ID);
    machine.register('linux:dom0-gnttab', this.back);
    machine.register('linux:domU-gnttab', this.front);
    machine.register('linux:swiotlb-xen', this.swiotlb);
    machine.register('linux:blkfront', this.blkfront);
    this.boot(era.release, era.what);
  }

  private boot(release: string, what: string): void {
    const k = this.kernel;
    const log = (t: string): void => k.log('info', t);
    log('Booting Linux on physical CPU 0x0');
    k.log('notice', `Linux version ${release} (dma-lab model of ${what})`);
    // The hypervisor of the era: 4.4 had no GNTTABOP_cache_flush; 4.5 (Jan 2015) added it; 4.19 is current.
    log(`Xen ${!this.options.cacheFlush ? '4.4' : this.options.era === '6.x' ? '4.19' : '4.5'} support found`);
    // dom0's grant table: one frame, version 1 (drivers/xen/grant-table.c gnttab_init).
    this.xen.setupTable(0, 0, 1);
    this.xen.setupTable(DOMU_ID, DOMU_ID, 1);
    // drivers/xen/grant-table.c: printk "Grant tables using version 1 layout." in 3.x; pr_info with the "xen:grant_table: " prefix later.
    log(this.options.era === '6.x' ? 'xen:grant_table: Grant tables using version 1 layout' : 'Grant tables using version 1 layout.');
    // The swiotlb-xen pool must be machine-contiguous in IO_TLB_SEGSIZE chunks
    // (xen_swiotlb_fixup -> xen_create_contiguous_region). dom0 is 1:1 on Arm, so each
    // chunk already is; the model checks it instead of exchanging memory.
    const chunk = IO_TLB_SEGSIZE * IO_TLB_SIZE;
    const bytes = DOM0_SWIOTLB.nslabs * IO_TLB_SIZE;
    for (let off = 0; off < bytes; off += chunk) {
      const pa = DOM0_SWIOTLB.base + BigInt(off);
      if (this.swiotlb.rangeStraddlesPageBoundary(pa, chunk)) throw new Error('swiotlb-xen pool not machine-contiguous');
    }
    // swiotlb_print_info prints mem->end = start + bytes: the end is exclusive.
    log(`software IO TLB: mapped [mem ${hex(DOM0_SWIOTLB.base, 16)}-${hex(DOM0_SWIOTLB.base + BigInt(bytes), 16)}] (${bytes >> 20}MB)`);
    // hypercall_cflush: probe GNTTABOP_cache_flush with an empty op (arch/arm/xen/mm.c xen_mm_init).
    const era = XEN_ERAS[this.options.era];
    // xen_mm_init: an empty GNTTABOP_cache_flush; anything but -ENOSYS means Xen has the op.
    this.swiotlb.hypercallCflush = era.probesCacheFlush && this.xen.cacheFlush(0, { a: 0n, offset: 0, length: 0, op: 0 }) !== XEN_ENOSYS;
    // Lines Linux does not print are marked "dma-lab:" (what the model decided at boot).
    if (era.probesCacheFlush) log(`dma-lab: GNTTABOP_cache_flush probe: ${this.swiotlb.hypercallCflush ? 'available' : 'not available: foreign pages for non-coherent devices will be bounced'}`);
    if (era.grantMapIdentity) log('dma-lab: XENFEAT_grant_map_identity set: Xen maps grants at pfn == mfn in dom0 too');
    this.back.balloonOut(DOM0_BALLOON.pfn, DOM0_BALLOON.count);
    log(`dma-lab: ${DOM0_BALLOON.count} pages ballooned out for grant mappings (pfn ${hex(DOM0_BALLOON.pfn)}..${hex(DOM0_BALLOON.pfn + DOM0_BALLOON.count - 1)})`);
    log(`dma-lab: sda: ${this.disk.disk.capacity} 512-byte logical blocks, ${this.options.coherent ? 'dma-coherent' : 'not dma-coherent'}, dma-ranges offset ${hex(this.options.dmaOffset)}`);
    log(`dma-lab: xen-blkback: backend for d${DOMU_ID} vbd 51712 (xvda) on sda`);
    k.booted = true;
  }

  /** The domU's CPU reading its own memory (guest physical), through its p2m. */
  domuRead(gpa: bigint, len: number): Uint8Array | undefined {
    const ma = this.xen.gpaToMa(DOMU_ID, gpa);
    return ma === undefined ? undefined : this.cpu.read(ma, len);
  }
  domuWrite(gpa: bigint, data: Uint8Array): boolean {
    const ma = this.xen.gpaToMa(DOMU_ID, gpa);
    if (ma === undefined) return false;
    this.cpu.write(ma, data);
    return true;
  }
  /** dom0's CPU reading its own address space. */
  dom0Read(pa: bigint, len: number): Uint8Array | undefined {
    const ma = this.xen.gpaToMa(0, pa);
    return ma === undefined ? undefined : this.cpu.read(ma, len);
  }

  /** When the domU blkfront reads `nsect` sectors from `sector`: the whole path. */
  blkRead(sector: bigint, nsect: number, ops: 'swiotlb-xen' | 'dma-direct'): { ok: boolean; status: number; steps: string[]; gfn?: number; gref?: number } {
    const gfn = this.blkfront.allocPage();
    if (gfn === undefined) return { ok: false, status: -1, steps: [`blkfront: no free data page left (limit: GFN ${hex(DOMU_BLK_PAGES.first)}..${hex(DOMU_BLK_PAGES.last)})`] };
    const r = this.blkfront.request(0, sector, nsect, gfn);
    if ('error' in r) return { ok: false, status: -1, steps: [r.error] };
    const steps = [`blkfront: grant gfn ${hex(gfn)} (mfn ${hex(this.xen.p2m(DOMU_ID, gfn).mfn)}) to d0 as gref ${r.gref}; BLKIF_OP_READ sector ${sector} nr ${nsect}`];
    const b = this.blkback.handle(r.req, ops);
    steps.push(...b.steps);
    const e = this.front.endForeignAccess(r.gref);
    steps.push(e.ok ? `blkfront: gnttab_end_foreign_access gref ${r.gref}` : e.message);
    return { ok: b.status === 0, status: b.status, steps, gfn, gref: r.gref };
  }
}

const worlds = new WeakMap<Machine, XenWorld>();
export const setXenWorld = (m: Machine, w: XenWorld): void => void worlds.set(m, w);
export const xenWorldOf = (m: Machine): XenWorld | undefined => worlds.get(m);
