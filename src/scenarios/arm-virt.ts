/**
 * `arm-virt`: QEMU's `-M virt` board (aarch64), the lab's default machine
 * for free exploration of memory and PCI. Memory map from QEMU
 * hw/arm/virt.c (base_memmap, extended_memmap):
 *
 *   0x00000000 flash (2 x 64 MiB)      0x09000000 PL011 UART
 *   0x08000000 GICv3 distributor       0x09010000 PL031 RTC
 *   0x08080000 GICv3 ITS               0x10000000 PCIe MMIO window (to 0x3efeffff)
 *   0x080a0000 GICv3 redistributors    0x3eff0000 PCIe I/O window (64 KiB)
 *   0x0a000000 32 virtio-mmio transports, 0x200 each (empty: no -device virtio-*-device)
 *   0x40000000 RAM                     0x3f000000 PCIe ECAM (16 buses)
 *   0x8000000000 PCIe high MMIO window (512 GiB; above RAM when RAM is larger)
 *
 * No IOMMU: every device's DMA reaches memory untranslated.
 */
import { Machine } from '../machine/machine.ts';
import { alignUp } from '../machine/u64.ts';
import { PciFunction, PciHostBridge } from '../machine/pci.ts';
import { MmioStub } from '../machine/mmio-stub.ts';
import { EmptyVirtioMmioTransport, VIRTIO_MMIO_TRANSPORT_SIZE } from '../machine/virtio/mmio-transport.ts';
import { Kernel } from '../kernel/kernel.ts';
import { type Preset, System } from './system.ts';
import { parseSizeOption, splitCmdline } from './options.ts';

export const ARM_VIRT_RAM_BASE = 0x4000_0000n;

export const armVirt: Preset = {
  name: 'arm-virt',
  summary: 'QEMU virt board (aarch64), RAM at 0x40000000, GICv3, one PCIe root complex, no IOMMU',
  description:
    'QEMU -M virt,gic-version=3 with a PCIe host bridge (gpex) and no IOMMU. Every device DMA reaches memory untranslated. The default machine for exploring memory, PCI and the command language.',
  options: [
    { name: 'ram', default: '1G', desc: 'RAM size at 0x40000000 (QEMU -m); up to 1T, a sparse model costs only what is touched', scope: 'machine', validate: (v) => parseSizeOption(v, 1n << 20n, 1n << 40n) },
    { name: 'cmdline', default: '', desc: 'kernel command line parameters, space separated', scope: 'cmdline' },
  ],
  build(options) {
    const ram = BigInt(parseSizeOption(options.get('ram') ?? '1G', 1n << 20n, 1n << 40n, true)!);
    // QEMU places the high I/O regions (GIC redistributors 64 MiB, PCIe ECAM
    // 256 MiB, PCIe MMIO 512 GiB, each aligned to its size) above RAM, from
    // 256 GiB at the lowest; the 512 GiB MMIO window lands at 512 GiB for
    // any RAM below 256 GiB (hw/arm/virt.c, virt_set_high_memmap).
    const ramEnd = ARM_VIRT_RAM_BASE + ram;
    const highBase = ramEnd > 0x40_0000_0000n ? ramEnd : 0x40_0000_0000n;
    const afterEcam = alignUp(alignUp(highBase, 1n << 26n) + (1n << 26n), 1n << 28n) + (1n << 28n);
    const highMmio = alignUp(afterEcam, 0x80_0000_0000n);
    const m = new Machine({
      name: 'arm-virt',
      arch: 'aarch64',
      board: 'QEMU virt (gic-version=3)',
      cpus: 2,
      description: armVirt.description,
    });
    const mem = m.memory;
    mem.addRegion({ name: 'virt.flash0', base: 0x0n, size: 0x400_0000n, kind: 'rom' });
    mem.addRegion({ name: 'virt.flash1', base: 0x400_0000n, size: 0x400_0000n, kind: 'rom' });
    const stub = (name: string, base: bigint, size: bigint, reset?: Map<number, bigint>): void => {
      const s = new MmioStub(name, reset);
      m.register(`mmio:${name}`, s);
      mem.addRegion({ name, base, size, kind: 'mmio', handler: s });
    };
    stub('gicv3_dist', 0x800_0000n, 0x1_0000n, new Map([[0xffe8, 0x3bn]]));
    stub('arm-gicv3-its', 0x808_0000n, 0x2_0000n);
    stub('gicv3_redist_region[0]', 0x80a_0000n, 0xf6_0000n);
    // PL011 reset flag register (TXFE|RXFE) and PrimeCell IDs as QEMU's pl011 returns them.
    stub('pl011', 0x900_0000n, 0x1000n, new Map([[0x18, 0x90n], [0xfe0, 0x11n], [0xfe4, 0x10n], [0xfe8, 0x14n], [0xfec, 0x00n], [0xff0, 0x0dn], [0xff4, 0xf0n], [0xff8, 0x05n], [0xffc, 0xb1n]]));
    stub('pl031', 0x901_0000n, 0x1000n);
    stub('fwcfg.data', 0x902_0000n, 0x18n);
    // hw/arm/virt.c: 32 virtio-mmio transports at VIRT_MMIO, 0x200 apart, all empty here.
    const transport = new EmptyVirtioMmioTransport();
    for (let i = 0; i < 32; i++) mem.addRegion({ name: 'virtio-mmio', base: 0xa00_0000n + BigInt(i) * VIRTIO_MMIO_TRANSPORT_SIZE, size: VIRTIO_MMIO_TRANSPORT_SIZE, kind: 'mmio', handler: transport });

    const host = new PciHostBridge({
      name: 'pcie.0',
      segment: 0,
      busStart: 0,
      busEnd: 15,
      ecamBase: 0x3f00_0000n,
      windows: [
        { kind: 'mem32', cpuBase: 0x1000_0000n, pciBase: 0x1000_0000n, size: 0x2eff_0000n },
        { kind: 'io', cpuBase: 0x3eff_0000n, pciBase: 0x0n, size: 0x1_0000n },
        { kind: 'mem64-pref', cpuBase: highMmio, pciBase: highMmio, size: 0x80_0000_0000n },
      ],
    });
    m.addPciHost(host);
    for (const w of host.windows) {
      mem.addRegion({ name: `${host.name}-${w.kind}-window`, base: w.cpuBase, size: w.size, kind: 'mmio', handler: host.windowHandler(w) });
    }
    // The gpex host bridge itself: Red Hat 1b36:0008, class 0x060000.
    m.addPciFunction(
      host,
      new PciFunction({
        name: 'host-bridge',
        bdf: { segment: 0, bus: 0, dev: 0, fn: 0 },
        vendorId: 0x1b36,
        deviceId: 0x0008,
        classCode: 0x060000,
        subsystemVendorId: 0x1af4,
        subsystemId: 0x1100,
        interruptPin: 0,
        description: 'Host bridge: Red Hat, Inc. QEMU PCIe Host bridge',
      }),
    );
    mem.addRegion({ name: 'mach-virt.ram', base: ARM_VIRT_RAM_BASE, size: ram, kind: 'ram' });
    const kernel = new Kernel(splitCmdline(options.get('cmdline') ?? ''));
    return new System(armVirt, options, m, kernel);
  },
};
