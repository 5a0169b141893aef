/**
 * SR-IOV on the Linux side, after drivers/pci/iov.c: `echo N >
 * /sys/bus/pci/devices/PF/sriov_numvfs` (sriov_numvfs_store -> the PF
 * driver's sriov_configure -> pci_enable_sriov) writes NumVFs and VF
 * Enable into the PF's SR-IOV capability (machine/sriov.ts), then
 * pci_iov_add_virtfn adds each VF as a PCI device: the scan line, its
 * struct device with 32-bit masks (pci_device_add, per era: kernel/linux.ts
 * pciDeviceAdd), then pci_bus_add_device -> device_attach, which probes the
 * VF driver at once (ixgbevf in seed 003's log).
 *
 * Not modelled: disabling VFs again (sriov_numvfs 0), VF BARs, the PF
 * driver's mailbox with its VFs.
 */
import { SRIOV_CAP_OFFSET, PCI_SRIOV_CTRL, PCI_SRIOV_CTRL_MSE, PCI_SRIOV_CTRL_VFE, PCI_SRIOV_NUM_VF, SriovPf } from '../machine/sriov.ts';
import type { Linux } from './linux.ts';
import { pciDeviceAdd, pciScanLine } from './linux.ts';
import type { KDevice } from './types.ts';
import { EBUSY, EINVAL, ENODEV } from './iommu.ts';
import { findPciDriver } from './driver-core.ts';

/** include/uapi/asm-generic/errno-base.h */
export const ERANGE = 34;

/** The PF's SR-IOV function, if it has one. */
export const sriovPf = (dev: KDevice): SriovPf | undefined => (dev.pci instanceof SriovPf ? dev.pci : undefined);

/**
 * sriov_numvfs_store + pci_enable_sriov for `nr` VFs. Returns the VFs'
 * struct devices, or -errno: -ENODEV (no SR-IOV capability; sysfs has no
 * sriov_numvfs file then), -ERANGE (more than TotalVFs), -EBUSY (VFs
 * already enabled: write 0 first), -EINVAL (nr 0 with nothing enabled is
 * a no-op in Linux; here too).
 */
export function pciEnableSriov(linux: Linux, pfDev: KDevice, nr: number): KDevice[] | number {
  const pf = sriovPf(pfDev);
  if (!pf) return -ENODEV;
  if (nr > pf.totalVfs) return -ERANGE;
  if (nr === 0) return pf.vfEnabled ? -EINVAL : [];
  if (pf.vfEnabled) return -EBUSY;
  const m = linux.env.machine;
  const host = m.hostOf(pf);
  if (!host) return -ENODEV;
  const drv = linux.driverCore.boundDriver(pfDev);
  const def = drv ? findPciDriver(drv) : undefined;
  // sriov_numvfs_store needs a PF driver with sriov_configure (-ENOENT otherwise in Linux; -ENODEV here).
  if (!def?.sriovConfigure) return -ENODEV;
  def.sriovConfigure({ linux, dev: pfDev, info: (t) => linux.env.kernel.log('info', `${def.name} ${pfDev.name}: ${t}`) }, nr);
  pf.configWrite(SRIOV_CAP_OFFSET + PCI_SRIOV_NUM_VF, 2, BigInt(nr));
  pf.configWrite(SRIOV_CAP_OFFSET + PCI_SRIOV_CTRL, 2, BigInt(PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE));
  const out: KDevice[] = [];
  for (const vf of pf.presentVfs()) {
    // pci_iov_add_virtfn -> pci_setup_device prints the scan line.
    linux.env.kernel.log('info', pciScanLine(vf));
    const dev = pciDeviceAdd(linux, host, vf);
    if (!dev) continue;
    out.push(dev);
    // pci_bus_add_device -> device_attach: the VF driver probes now.
    linux.driverCore.attach(dev);
  }
  return out;
}
