/**
 * Resolving a device argument. Users name a device the way `info pci` and
 * `info virtio` do: its model name ("vda"), or its PCI address
 * ("0000:00:01.0", "00:01.0").
 */
import type { DmaMaster } from '../machine/dma.ts';
import { formatBdf, parseBdf, type PciFunction } from '../machine/pci.ts';
import { CommandError, type SourceSpan } from './errors.ts';
import type { Session } from './session.ts';

export interface DeviceRef {
  name: string;
  pci?: PciFunction;
  master?: DmaMaster;
}

export function deviceNames(s: Session): string[] {
  return [...new Set([...s.machine.masters.keys(), ...s.machine.pciFunctions().filter((f) => s.machine.masters.has(f.name)).map((f) => f.name)])];
}

export function findDevice(s: Session, text: string, sp: SourceSpan | undefined): DeviceRef {
  const m = s.machine;
  const bdf = parseBdf(text);
  const pci = bdf ? m.pciFunctions().find((f) => formatBdf(f.bdf) === formatBdf(bdf)) : m.pciFunctions().find((f) => f.name === text);
  const name = pci?.name ?? text;
  const master = m.masters.get(name);
  if (!pci && !master) {
    const names = deviceNames(s);
    const sug = s.registry.suggest(text, names);
    throw new CommandError(
      `no device '${text}' on ${s.system.preset.name}${sug ? `; did you mean '${sug}'?` : ''}`,
      sp,
      names.length ? `a device: ${names.join(', ')} (or its PCI address)` : 'a device, but this machine has no DMA-capable devices',
      "'info pci' lists the devices",
    );
  }
  return { name, pci, master };
}

/** A device that can do DMA (has a DMA path). */
export function findMaster(s: Session, text: string, sp: SourceSpan | undefined): DeviceRef & { master: DmaMaster } {
  const d = findDevice(s, text, sp);
  if (!d.master) throw new CommandError(`${d.name} does not issue DMA in this model`, sp, 'a DMA-capable device', "'info pci'");
  return d as DeviceRef & { master: DmaMaster };
}
