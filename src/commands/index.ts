/** The default command registry and a session factory. */
import { Registry } from './registry.ts';
import { Session } from './session.ts';
import { helpCommand } from './builtin/help.ts';
import { printCommand } from './builtin/print.ts';
import { xpCommand, writeCommand, fillCommand } from './builtin/memory.ts';
import { infoMachine, infoMtree, infoPci } from './builtin/info.ts';
import { resetCommand, undoCommand } from './builtin/state.ts';
import { setCommand, showCommand } from './builtin/options.ts';
import { traceCommand } from './builtin/trace.ts';
import { dmesgCommand } from './builtin/dmesg.ts';
import { xCommand } from './builtin/devmem.ts';
import { bootCommand } from './builtin/boot.ts';
import { machineCommand } from './builtin/machine.ts';
import { smmuCommands } from './builtin/smmu.ts';
import { walkCommand } from './builtin/walk.ts';
import { dmaCommands } from './builtin/dma.ts';
import { iommuCommands } from './builtin/iommu.ts';
import { virtioCommands } from './builtin/virtio.ts';
import { blkCommands } from './builtin/blk.ts';
import { vtdCommands } from './builtin/vtd.ts';
import { devdmaCommands } from './builtin/devdma.ts';
import { statsCommands } from './builtin/stats.ts';
import { groupCommands } from './builtin/group.ts';
import { vfioCommands } from './builtin/vfio.ts';
import { xenCommands } from './builtin/xen.ts';
import { itsCommands } from './builtin/its.ts';
import { dmaRulesCommands, cpuCommands } from './builtin/dma-rules.ts';
import { dmaScriptCommands } from './builtin/dma-script.ts';
import { DEFAULT_PRESET, findPreset } from '../scenarios/index.ts';
import { CommandError } from './errors.ts';

export function defaultRegistry(): Registry {
  const r = new Registry();
  r.addGroup('info', 'show what the machine and kernel hold');
  r.addGroup('dma', "call the booted kernel's DMA API for a device: map, unmap, alloc, sync, map-sg, DMA-API debug, driver scripts");
  r.addGroup('blk', 'block I/O through the booted virtio-blk driver');
  r.addGroup('smmu', 'SMMUv3 structures read from memory: stream table entries, context descriptors, the event queue');
  r.addGroup('vtd', 'Intel VT-d structures read from memory and registers: the root table, context entries, fault records');
  r.addGroup('ir', 'VT-d interrupt remapping: the interrupt remapping table in memory');
  r.addGroup('devdma', 'make a device issue DMA through its real path: IOMMU, fault recording and trace as hardware would');
  for (const c of [printCommand, xpCommand, xCommand, writeCommand, fillCommand, infoMtree, infoPci, infoMachine, undoCommand, resetCommand, setCommand, showCommand, traceCommand, dmesgCommand, bootCommand, machineCommand, ...smmuCommands, walkCommand, ...dmaCommands, ...iommuCommands, ...virtioCommands, ...blkCommands, ...vtdCommands, ...devdmaCommands]) r.add(c);
  r.addGroup('group', 'IOMMU groups as sysfs has them: the default-domain type');
  r.addGroup('driver', 'bind and unbind kernel drivers (sysfs bind/unbind)');
  for (const c of [...statsCommands, ...groupCommands]) r.add(c);
  // Xen on Arm (preset xen-arm)
  r.addGroup('xen', 'Xen on Arm: domains, grant tables in memory, p2m/m2p, grant maps, swiotlb-xen DMA and its trace');
  for (const c of xenCommands) r.add(c);
  r.addGroup('vfio', 'VFIO as a user-space driver uses it: groups, the type1 container, MAP_DMA, MSI doorbells');
  for (const c of vfioCommands) r.add(c);
  r.addGroup('its', 'the GICv3 ITS: its tables in memory, a DeviceID\'s entries, the route of one MSI down to the LPI');
  for (const c of itsCommands) r.add(c);
  // The DMA API's rules (issue 14): syncs, map-sg, dma-debug, the CPU's view through its cache, driver scripts
  for (const c of [...dmaRulesCommands, ...dmaScriptCommands]) r.add(c);
  r.addGroup('cpu', "the CPU's loads and stores: through its data cache when a device is not dma-coherent");
  for (const c of cpuCommands) r.add(c);
  r.add(helpCommand(r));
  return r;
}

/** Build a session on a preset. Throws CommandError for an unknown preset or a bad option. */
export function createSession(preset = DEFAULT_PRESET, options: ReadonlyMap<string, string> = new Map()): Session {
  const p = findPreset(preset);
  if (!p) throw new CommandError(`unknown machine '${preset}'`, undefined, undefined, "'dma-lab machines' lists them");
  for (const [k, v] of options) {
    const o = p.options.find((x) => x.name === k);
    if (!o) throw new CommandError(`machine ${preset} has no option '${k}'`, undefined, p.options.map((x) => x.name).join(', '));
    const err = o.values && !o.values.includes(v) ? `one of ${o.values.join(', ')}` : o.validate?.(v);
    if (err) throw new CommandError(`bad value for ${k}: ${err}`);
  }
  const bad = p.validate?.(options);
  if (bad) throw new CommandError(bad);
  return new Session(p.build(options), defaultRegistry());
}

export { Session };
