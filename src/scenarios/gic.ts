/**
 * The GICv3 of the Arm presets: distributor (a register stub), ITS with
 * tables in memory (machine/gic-its.ts) and one redistributor per CPU
 * (machine/gicv3-redist.ts), placed where each board puts them.
 */
import type { u64 } from '../machine/u64.ts';
import type { Machine } from '../machine/machine.ts';
import { MmioStub } from '../machine/mmio-stub.ts';
import { GicIts, GITS_REGION_SIZE } from '../machine/gic-its.ts';
import { GicRedistributors } from '../machine/gicv3-redist.ts';

export function addGicV3(m: Machine, b: { gicdBase: u64; itsBase: u64; gicrBase: u64 }): GicIts {
  const mem = m.memory;
  const gicd = new MmioStub('gicv3_dist', new Map([[0xffe8, 0x3bn]]));
  m.register('mmio:gicd', gicd);
  mem.addRegion({ name: 'gicv3_dist', base: b.gicdBase, size: 0x1_0000n, kind: 'mmio', handler: gicd });
  const redist = new GicRedistributors({ base: b.gicrBase, cpus: m.info.cpus }, mem, m.interrupts);
  m.register('gicr', redist);
  mem.addRegion({ name: 'gicv3_redist', base: b.gicrBase, size: redist.size, kind: 'mmio', handler: redist });
  const its = new GicIts({ name: 'its', base: b.itsBase, interrupts: m.interrupts, memory: mem, redist });
  m.register('its', its);
  mem.addRegion({ name: 'arm-gicv3-its', base: b.itsBase, size: GITS_REGION_SIZE, kind: 'mmio', handler: its });
  return its;
}
