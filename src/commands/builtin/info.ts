/**
 * `info mtree`, `info pci`, `info machine`: the QEMU monitor's views of the
 * memory map and PCI, decoded from the model (config space bytes for PCI).
 */
import { hex, hexRaw, sizeStr } from '../../machine/u64.ts';
import { PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN, PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID, type PciFunction } from '../../machine/pci.ts';
import { span, plain, styled, table, type Line } from '../../inspect/view.ts';
import type { CommandSpec } from '../registry.ts';

const KIND_WORD: Record<string, string> = { ram: 'ram', rom: 'romd', mmio: 'i/o' };

export const infoMtree: CommandSpec = {
  name: 'info mtree',
  summary: 'The physical memory map (like QEMU\'s info mtree)',
  help: 'Each region with its inclusive range, kind (ram, romd, i/o) and name. Addresses outside every region are holes: an access there is an error. RAM is sparse: "touched" counts the 4 KiB pages ever written.',
  examples: ['info mtree'],
  args: [],
  mutates: false,
  run(s) {
    const mem = s.machine.memory;
    const regions = mem.listRegions();
    const lines: Line[] = [styled('address-space: memory', 'head'), [span('  '), span('0000000000000000-ffffffffffffffff', 'addr'), span(' (prio 0, i/o): system')]];
    for (const r of regions) {
      lines.push([
        span('    '),
        span(`${hexRaw(r.base, 16)}-${hexRaw(r.base + r.size - 1n, 16)}`, 'addr'),
        span(` (prio 0, ${KIND_WORD[r.kind]}): `),
        span(r.name, 'name'),
        ...(r.kind === 'ram' ? [span(`  [${sizeStr(r.size)}]`, 'dim')] : []),
      ]);
    }
    lines.push(plain(''), [span(`RAM ${sizeStr(s.machine.ramSize())}, `, 'dim'), span(`${mem.pageCount()} page${mem.pageCount() === 1 ? '' : 's'} touched`, 'dim')]);
    return {
      kind: 'mtree',
      data: { regions: regions.map((r) => ({ name: r.name, base: r.base, end: r.base + r.size - 1n, kind: r.kind })), pagesTouched: mem.pageCount() },
      lines,
    };
  },
};

/** QEMU hw/pci/pci.c pci_class_descriptions, the classes our presets use. */
const CLASS_NAMES: Record<number, string> = {
  0x0100: 'SCSI controller',
  0x0106: 'SATA controller',
  0x0108: 'NVMe controller',
  0x0180: 'Storage controller',
  0x0200: 'Ethernet controller',
  0x0300: 'VGA controller',
  0x0600: 'Host bridge',
  0x0601: 'ISA bridge',
  0x0604: 'PCI bridge',
  0x0c03: 'USB controller',
  0x0780: 'Communication controller',
  0x00ff: 'Unclassified device',
};

export function pciClassName(classCode: number): string {
  return CLASS_NAMES[classCode >> 8] ?? `Class ${hexRaw(classCode >> 8, 4)}`;
}

function pciLines(f: PciFunction): Line[] {
  const c = f.cfg();
  const pin = c.getUint8(PCI_INTERRUPT_PIN);
  const out: Line[] = [
    [span(`  Bus ${f.bdf.bus.toString().padStart(2)}, device ${f.bdf.dev.toString().padStart(3)}, function ${f.bdf.fn}:`, 'head')],
    [span(`    ${pciClassName(f.classCode)}: PCI device `), span(`${hexRaw(f.vendorId, 4)}:${hexRaw(f.deviceId, 4)}`, 'num')],
    plain(`      PCI subsystem ${hexRaw(c.getUint16(PCI_SUBSYSTEM_VENDOR_ID, true), 4)}:${hexRaw(c.getUint16(PCI_SUBSYSTEM_ID, true), 4)}`),
  ];
  if (pin) out.push(plain(`      IRQ ${c.getUint8(PCI_INTERRUPT_LINE)}, pin ${String.fromCharCode(64 + pin)}`));
  for (const b of f.bars) {
    const end = b.addr === 0n ? '' : ` [${hex(b.addr + b.size - 1n)}]`;
    const at = b.addr === 0n ? 'unassigned' : `at ${hex(b.addr)}${end}`;
    const what = b.kind === 'io' ? 'I/O' : `${b.kind === 'mem64' ? '64' : '32'} bit ${b.prefetchable ? 'prefetchable ' : ''}memory`;
    out.push([span(`      BAR${b.index}: ${what} `), span(at, 'addr'), span('.')]);
  }
  out.push(plain(`      id "${f.name}"`));
  return out;
}

export const infoPci: CommandSpec = {
  name: 'info pci',
  summary: 'PCI functions, IDs and BARs (like QEMU\'s info pci), and the host bridges\' windows',
  help: 'Decoded from each function\'s configuration space. The requester ID is bus<<8 | device<<3 | function. Host-bridge windows are the CPU ranges the root complex forwards to PCI; a device\'s DMA into one is routed peer to peer.',
  examples: ['info pci'],
  args: [],
  mutates: false,
  run(s) {
    const lines: Line[] = [];
    const data = [];
    for (const h of s.machine.pciHosts) {
      lines.push([span(`${h.name}: segment ${hexRaw(h.segment, 4)}, buses ${h.busStart}-${h.busEnd}, ECAM at `, 'head'), span(hex(h.ecamBase), 'addr')]);
      lines.push(
        ...table(
          [{ header: 'window' }, { header: 'cpu address', style: 'addr' }, { header: 'pci address', style: 'addr' }, { header: 'size' }],
          h.windows.map((w) => [w.kind, `${hex(w.cpuBase)}-${hex(w.cpuBase + w.size - 1n)}`, hex(w.pciBase), sizeStr(w.size)]),
          { indent: '  ' },
        ),
      );
      for (const f of h.functions) {
        if (!f.present) continue;
        lines.push(...pciLines(f));
        data.push({ name: f.name, bdf: `${hexRaw(f.bdf.segment, 4)}:${hexRaw(f.bdf.bus, 2)}:${hexRaw(f.bdf.dev, 2)}.${f.bdf.fn}`, rid: f.rid, vendor: f.vendorId, device: f.deviceId, class: f.classCode, bars: f.bars });
      }
    }
    if (!lines.length) lines.push(plain('no PCI host bridges'));
    return { kind: 'pci', data: { functions: data, hosts: s.machine.pciHosts.map((h) => ({ name: h.name, windows: h.windows })) }, lines };
  },
};

export const infoMachine: CommandSpec = {
  name: 'info machine',
  summary: 'What this machine is: preset, board, CPUs, RAM, IOMMUs and options',
  help: '',
  examples: ['info machine'],
  args: [],
  mutates: false,
  run(s) {
    const m = s.machine;
    const sys = s.system;
    const rows: [string, string][] = [
      ['preset', sys.preset.name],
      ['board', m.info.board],
      ['arch', m.info.arch],
      ['cpus', String(m.info.cpus)],
      ['ram', `${sizeStr(m.ramSize())} (${m.memory.pageCount()} pages touched)`],
      ['iommus', m.iommus.length ? m.iommus.map((i) => `${i.name} (${i.kind})`).join(', ') : 'none'],
      ['pci', `${m.pciFunctions().length} function(s) on ${m.pciHosts.length} host bridge(s)`],
      ['kernel', sys.kernel.booted ? 'booted' : 'not booted'],
    ];
    const opts = sys.preset.options.map((o) => [o.name, (sys.options.get(o.name) ?? o.default) || '(empty)'] as [string, string]);
    return {
      kind: 'machine',
      data: { preset: sys.preset.name, board: m.info.board, arch: m.info.arch, cpus: m.info.cpus, ram: m.ramSize(), options: Object.fromEntries(opts) },
      lines: [
        ...table([{ header: '', style: 'name' }, { header: '' }], rows, { header: false }),
        plain(''),
        plain(sys.preset.description),
        ...(opts.length ? [plain(''), styled('options:', 'head'), ...table([{ header: '', style: 'name' }, { header: '' }], opts, { header: false, indent: '  ' })] : []),
      ],
    };
  },
};
