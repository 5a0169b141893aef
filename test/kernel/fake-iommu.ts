/**
 * A fake IOMMU driver for testing the iommu core, iommu-dma and the DMA API
 * without a hardware model: a Map of 4 KiB pages per domain, counters of
 * syncs and flushes, and configurable aperture and reserved regions. The
 * real drivers (arm-smmu-v3, intel-iommu) have their own tests.
 */
import type { u64 } from '../../src/machine/u64.ts';
import { IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_WRITE, type DomainType, type IommuDomain, type IommuDriver, type KDevice, type ResvRegion } from '../../src/kernel/types.ts';

/** arm-smmu-v3's SW_MSI window: MSI_IOVA_BASE 0x8000000, MSI_IOVA_LENGTH 0x100000 (REFERENCE.md 4.3). */
export const SMMU_SW_MSI: ResvRegion = { start: 0x800_0000n, length: 0x10_0000n, prot: IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO, type: 'sw-msi' };

export interface FakeIommuOptions {
  name?: string;
  apertureEnd?: u64;
  resv?: (dev: KDevice) => ResvRegion[];
}

export class FakeIommu implements IommuDriver {
  readonly name: string;
  tables = new Map<number, Map<u64, { pa: u64; prot: number }>>();
  attached = new Map<string, number>();
  refuse = new Set<DomainType>();
  domainFree?: (d: IommuDomain) => void;
  syncs = 0;
  flushes = 0;
  private nextId = 1;
  private readonly apertureEnd: u64;
  private readonly resv: (dev: KDevice) => ResvRegion[];

  constructor(o: FakeIommuOptions = {}) {
    this.name = o.name ?? 'smmu0';
    this.apertureEnd = o.apertureEnd ?? 0xffff_ffff_ffffn;
    this.resv = o.resv ?? (() => [SMMU_SW_MSI]);
  }
  domainAlloc(type: DomainType): IommuDomain {
    if (this.refuse.has(type)) throw new Error(`no ${type} domains`);
    const id = this.nextId++;
    this.tables.set(id, new Map());
    return { id, type, iommu: this.name, apertureStart: 0n, apertureEnd: this.apertureEnd, pgsizeBitmap: 0x4020_1000n };
  }
  attachDev(dev: KDevice, d: IommuDomain): void {
    this.attached.set(dev.name, d.id);
  }
  map(d: IommuDomain, iova: u64, pa: u64, size: u64, prot: number): void {
    const t = this.tables.get(d.id)!;
    for (let o = 0n; o < size; o += 4096n) {
      if (t.has(iova + o)) throw new Error(`IOVA ${iova + o} already mapped`);
      t.set(iova + o, { pa: pa + o, prot });
    }
  }
  unmap(d: IommuDomain, iova: u64, size: u64): u64 {
    const t = this.tables.get(d.id)!;
    let n = 0n;
    for (let o = 0n; o < size; o += 4096n) if (t.delete(iova + o)) n += 4096n;
    return n;
  }
  iotlbSync(): void {
    this.syncs++;
  }
  flushIotlbAll(): void {
    this.flushes++;
  }
  iovaToPhys(d: IommuDomain, iova: u64): u64 | undefined {
    const e = this.tables.get(d.id)!.get(iova & ~0xfffn);
    return e ? e.pa + (iova & 0xfffn) : undefined;
  }
  prot(d: IommuDomain, iova: u64): number | undefined {
    return this.tables.get(d.id)!.get(iova & ~0xfffn)?.prot;
  }
  getResvRegions(dev: KDevice): ResvRegion[] {
    return this.resv(dev);
  }
}
