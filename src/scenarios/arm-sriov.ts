/**
 * `arm-d05-sriov` — the board of seed 003's thread: an arm64 server
 * (HiSilicon D05 class) whose PCIe root complex on segment 2 sits behind
 * an SMMUv3, with an Intel 82599 10GbE NIC: the physical function at
 * 0002:81:00.0 (ixgbe) and, once `sriov_numvfs` is written, its virtual
 * function 0002:81:10.0 (ixgbevf; First VF Offset 0x80, VF Stride 2, as
 * the 82599 has them). The VF's StreamID is its RID (identity iommu-map /
 * IORT ID mapping): 0x8180.
 *
 * Firmware: device tree or ACPI/IORT (`firmware=`). Both configure DMA the
 * same way (of_dma_configure / acpi_dma_configure, size = coherent mask + 1
 * in the 4.12 era); the names differ (the DT node's "a0040000.smmu", the
 * IORT platform device "arm-smmu-v3.0.auto"). The ACPI path's later
 * `kernel BUG at drivers/iommu/arm-smmu-v3.c:1064` in the thread is not
 * modelled (its root cause is unverified, REFERENCE.md 9.3).
 *
 * The addresses (SMMU, ITS, ECAM, windows, DRAM) are illustrative, not the
 * D05's (its firmware tables were not available); what the lesson needs is
 * the topology and the IDs, which are the thread's.
 */
import { Machine } from '../machine/machine.ts';
import { PciHostBridge } from '../machine/pci.ts';
import { SmmuV3 } from '../machine/smmuv3/smmuv3.ts';
import { SMMU_REGION_SIZE } from '../machine/smmuv3/regs.ts';
import { addGicV3 } from './gic.ts';
import { SriovPf } from '../machine/sriov.ts';
import type { Firmware } from '../machine/firmware.ts';
import { Kernel } from '../kernel/kernel.ts';
import { IOMMU_DRIVER_LOADS, type IommuDriverLoad } from '../kernel/driver-core.ts';
import type { KernelEra } from '../kernel/era.ts';
import { type Preset, System } from './system.ts';
import { parseSizeOption, splitCmdline } from './options.ts';
import { CMDLINE_OPTIONS, ERA_OPTION } from './arm-smmu.ts';

const GiB = 1n << 30n;

export const armD05Sriov: Preset = {
  name: 'arm-d05-sriov',
  summary: 'arm64 server (D05 class) with SMMUv3 and an SR-IOV 82599 NIC: PF 0002:81:00.0, VF 0002:81:10.0 (seed 003)',
  description:
    "The machine of seed 003: an arm64 server whose PCIe segment 2 is translated by an SMMUv3. An Intel 82599 NIC's physical function (0002:81:00.0, ixgbe) enables one virtual function (0002:81:10.0, ixgbevf, StreamID 0x8180) after boot, as the thread's `echo 1 > sriov_numvfs` did. Rebinding the VF to vfio-pci through driver_override shows the coherent_dma_mask + 1 overflow on the eras that had it.",
  options: [
    ERA_OPTION('4.12'),
    ...CMDLINE_OPTIONS,
    { name: 'firmware', default: 'dt', values: ['dt', 'acpi'], desc: 'boot path: device tree (of_dma_configure) or ACPI/IORT (acpi_dma_configure)', scope: 'machine' },
    {
      name: 'iommu-driver',
      default: 'builtin',
      values: [...IOMMU_DRIVER_LOADS],
      desc: 'when arm-smmu-v3 probes: builtin (before the PCI drivers), late (built in, after them: probe deferral), module (loaded after boot: modprobe arm_smmu_v3)',
      scope: 'kernel',
    },
    { name: 'sriov_numvfs', default: '1', values: ['0', '1', '2', '4'], desc: "VFs user space enables after boot (echo N > /sys/bus/pci/devices/0002:81:00.0/sriov_numvfs)", scope: 'device' },
    { name: 'debug-dma-configure', default: 'off', values: ['on', 'off'], desc: "the thread's debug print in iommu_dma_init_domain: base, size, aperture start and end, dma_mask, coherent_dma_mask", scope: 'kernel' },
    { name: 'ram', default: '4G', desc: 'DRAM: 2 GiB at 0x0, the rest at 0x2000000000', scope: 'machine', validate: (v) => parseSizeOption(v, 1n << 30n, 64n << 30n) },
  ],
  panes: [
    { title: 'groups', run: 'info groups' },
    { title: 'deferred', run: 'driver deferred' },
  ],
  build(options) {
    const get = (k: string): string => options.get(k) ?? armD05Sriov.options.find((o) => o.name === k)!.default;
    const m = new Machine({ name: 'arm-d05-sriov', arch: 'aarch64', board: 'arm64 server (HiSilicon D05 class): SMMUv3, PCIe segment 2, Intel 82599 SR-IOV NIC', cpus: 4, description: armD05Sriov.description });
    const mem = m.memory;
    const total = BigInt(parseSizeOption(get('ram'), 1n << 30n, 64n << 30n, true)!);
    const low = total < 2n * GiB ? total : 2n * GiB;
    addGicV3(m, { gicdBase: 0xd000_0000n, itsBase: 0xc600_0000n, gicrBase: 0xd010_0000n });
    const smmu = new SmmuV3({ name: 'smmuv3', memory: mem, interrupts: m.interrupts });
    mem.addRegion({ name: 'smmuv3', base: 0xa004_0000n, size: SMMU_REGION_SIZE, kind: 'mmio', handler: smmu });
    m.addIommu(smmu);

    // Segment 2, buses 0x80-0x8f (root port 0002:80:00.0 not modelled; the NIC on bus 0x81).
    const host = new PciHostBridge({
      name: 'pcie2',
      segment: 2,
      busStart: 0x80,
      busEnd: 0x8f,
      ecamBase: 0x8a_0000_0000n,
      windows: [
        { kind: 'mem32', cpuBase: 0xa800_0000n, pciBase: 0xa800_0000n, size: 0x800_0000n },
        { kind: 'mem64-pref', cpuBase: 0x8b_0000_0000n, pciBase: 0x8b_0000_0000n, size: 0x1_0000_0000n },
      ],
    });
    m.addPciHost(host);
    for (const w of host.windows) mem.addRegion({ name: `${host.name}-${w.kind}-window`, base: w.cpuBase, size: w.size, kind: 'mmio', handler: host.windowHandler(w) });
    mem.addRegion({ name: 'dram0', base: 0x0n, size: low, kind: 'ram' });
    if (total > low) mem.addRegion({ name: 'dram1', base: 0x20_0000_0000n, size: total - low, kind: 'ram' });

    // Intel 82599ES (8086:10fb): TotalVFs 63, First VF Offset 0x80, VF Stride 2, VF Device ID 0x10ed.
    const pf = new SriovPf({
      name: 'pf0',
      bdf: { segment: 2, bus: 0x81, dev: 0, fn: 0 },
      vendorId: 0x8086,
      deviceId: 0x10fb,
      classCode: 0x020000,
      description: 'Ethernet controller: Intel Corporation 82599ES 10-Gigabit SFI/SFP+ Network Connection',
      bars: [{ index: 0, kind: 'mem64', size: 0x40_0000n, prefetchable: true }],
      totalVfs: 63,
      vfDeviceId: 0x10ed,
      firstVfOffset: 0x80,
      vfStride: 2,
      vfName: (i) => `vf${i}`,
      vfDescription: 'Ethernet controller: Intel Corporation 82599 Ethernet Controller Virtual Function',
    });
    m.addPciFunction(host, pf);
    pf.assignBar(0, 0x8b_0000_0000n);
    for (const f of [pf, ...pf.vfs]) {
      if (f !== pf) m.addPciFunction(host, f);
      m.masters.set(f.name, { name: f.name, rid: f.rid, sid: f.rid, path: 'translated', iommu: smmu, rootComplex: host });
    }

    const acpi = get('firmware') === 'acpi';
    const firmware: Firmware = {
      kind: acpi ? 'acpi' : 'dt',
      dmaCoherent: true,
      smmus: [{ kind: 'smmuv3', base: 0xa004_0000n, hw: smmu, devName: acpi ? 'arm-smmu-v3.0.auto' : 'a0040000.smmu', streamId: (h, f) => (h === host ? f.rid : undefined) }],
    };
    const cmdline = new Map<string, string>();
    if (acpi) cmdline.set('acpi', 'force');
    for (const o of CMDLINE_OPTIONS) {
      const v = options.get(o.name);
      if (v === undefined || v === '') continue;
      if (o.name === 'cmdline') for (const [k, x] of splitCmdline(v)) cmdline.set(k, x);
      else cmdline.set(o.name, v);
    }
    const kernel = new Kernel(cmdline);
    return new System(armD05Sriov, options, m, kernel, {
      firmware,
      era: get('kernel') as KernelEra,
      boot: {
        iommuDriver: get('iommu-driver') as IommuDriverLoad,
        sriovNumVfs: { pf0: Number(get('sriov_numvfs')) },
        debugDmaConfigure: get('debug-dma-configure') === 'on',
      },
    });
  },
};
