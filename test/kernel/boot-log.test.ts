// The boot log as real kernels print it (issue 11 items 8 and 9).
// - "Booting Linux on physical CPU" is arch/arm64/kernel/setup.c's: no such
//   line on x86.
// - x86 allocates the swiotlb pool in mem_init but prints it from
//   pci_iommu_init (rootfs_initcall, arch/x86/kernel/pci-dma.c), after the
//   DMAR probe, with "PCI-DMA: Using software bounce buffering"; a v4.9
//   intel_iommu_init set swiotlb = 0, so the pool was freed unprinted.
// - With ACPI, acpi_init scans PCI (subsys_initcall, linked before
//   drivers/iommu): PCI enumeration precedes "iommu: Default domain type".
// - v4.x printed "software IO TLB [mem %#010llx-%#010llx] (%luMB) mapped at [%p-%p]".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { booted } from '../commands/helpers.ts';

const log = (preset: string, args = ''): string[] => booted(preset, args).system.kernel.dmesg().map((l) => l.text);
const at = (lines: string[], re: RegExp): number => lines.findIndex((t) => re.test(t));

test('x86 6.1: no "Booting Linux on physical CPU"; DMAR, PCI scan, default domain, groups, then the swiotlb lines', () => {
  const l = log('x86-q35-vtd');
  assert.is(at(l, /Booting Linux on physical CPU/), -1);
  const dmar = at(l, /DMAR: Host address width/);
  const pci = at(l, /^pci 0000:00:00\.0: \[8086:29c0\]/);
  const dflt = at(l, /iommu: Default domain type/);
  const vtd = at(l, /DMAR: Intel\(R\) Virtualization Technology/);
  const pcidma = at(l, /^PCI-DMA: Using software bounce buffering for IO \(SWIOTLB\)$/);
  const tlb = at(l, /^software IO TLB: mapped \[mem 0x[0-9a-f]{16}-0x[0-9a-f]{16}\] \(64MB\)$/);
  assert.ok(dmar >= 0 && dmar < pci && pci < dflt && dflt < vtd && vtd < pcidma && pcidma + 1 === tlb, l.join('\n'));
});

test('x86 4.9 with intel_iommu=on: intel-iommu turned swiotlb off, no swiotlb line, no pool', () => {
  const s = booted('x86-q35-vtd-2015');
  const l = s.system.kernel.dmesg().map((x) => x.text);
  assert.is(at(l, /software IO TLB|PCI-DMA/), -1, l.join('\n'));
  assert.not.ok(s.system.linux!.swiotlb.active);
});

test('arm64 keeps its first line; v4.10 prints the v4.x swiotlb line with the linear-map addresses', () => {
  const l = log('arm-fastmodel');
  assert.is(at(l, /Booting Linux on physical CPU 0x0/), 0);
  assert.match(l.find((t) => t.includes('software IO TLB'))!, /^software IO TLB \[mem 0x[0-9a-f]{8}-0x[0-9a-f]{8,9}\] \(64MB\) mapped at \[ffff8000[0-9a-f]{8}-ffff8000[0-9a-f]{8}\]$/);
});

test.run();
