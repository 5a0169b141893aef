/**
 * `vfio ...`: what a user-space driver (QEMU, DPDK) does through the VFIO
 * ioctls, one command per ioctl, printed as the call and its result:
 *
 *   vfio group N             VFIO_GROUP_GET_STATUS       viable? in a container?
 *   vfio attach N            VFIO_GROUP_SET_CONTAINER    VFIO takes DMA ownership of the group
 *   vfio detach N            VFIO_GROUP_UNSET_CONTAINER
 *   vfio set-iommu [TYPE]    VFIO_SET_IOMMU              type1v2: unmanaged domain, MSI cookie
 *   vfio info                VFIO_IOMMU_GET_INFO         page sizes, the valid IOVA ranges
 *   vfio map IOVA SIZE [P]   VFIO_IOMMU_MAP_DMA          pin user memory, map it at IOVA
 *   vfio unmap IOVA SIZE     VFIO_IOMMU_UNMAP_DMA
 *   vfio maps                the container's mappings and locked memory
 *   vfio irq DEV             VFIO_DEVICE_SET_IRQS (MSI-X vector 0): the doorbell in the SW_MSI window
 *   vfio param NAME [VALUE]  memlock (ulimit -l), dma_entry_limit, allow_unsafe_interrupts
 *
 * A failing ioctl is a failed command (the machine is unchanged) whose
 * message carries the errno name as the kernel returns it and the check
 * that failed (kernel/vfio.ts). The device's own DMA to the IOVAs is
 * `devdma read|write DEV IOVA`; where its MSI lands is `msi DEV`.
 */
import { type u64, hex } from '../../machine/u64.ts';
import { ERRNO_NAMES } from '../../kernel/iommu.ts';
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, type VfioError } from '../../kernel/vfio.ts';
import { GITS_TRANSLATER, GicIts } from '../../machine/gic-its.ts';
import { span, plain, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec, ParsedArgs } from '../registry.ts';
import type { Session } from '../session.ts';
import { devLabel, kernelDevice, needLinux } from '../kernel-device.ts';
import type { SourceSpan } from '../errors.ts';

const SETUP = ['boot vda.iommu_platform=on', 'driver override vda vfio-pci', 'driver unbind vda', 'driver bind vda'];
const SETUP_ATTACHED = [...SETUP, 'vfio attach 0', 'vfio set-iommu'];
const MACHINE = 'qemu-virt-smmuv3';

const errnoName = (e: number): string => `-${ERRNO_NAMES[e] ?? `errno ${e}`}`;

/** A failed ioctl: the call as written, = -ERRNO, and the kernel's reason. */
function ioctlFailed(call: string, e: VfioError, sp: SourceSpan | undefined, hint?: string): never {
  throw new CommandError(`${call} = ${errnoName(e.errno)}: ${e.why}`, sp, undefined, hint);
}

const sizeStr = (n: u64): string => (n >= 1n << 20n && n % (1n << 20n) === 0n ? `${n >> 20n} MiB` : n >= 1024n && n % 1024n === 0n ? `${n >> 10n} KiB` : `${n} bytes`);

function groupArg(s: Session, a: ParsedArgs): number {
  const linux = needLinux(s, a.all);
  const id = Number(a.v.group as bigint);
  const groups = linux.core.groupsInfo().map((g) => g.id);
  if (!groups.includes(id)) {
    throw new CommandError(`no IOMMU group ${a.v.group}: /dev/vfio/${a.v.group} does not exist`, a.span.group, groups.length ? `a group number: ${groups.join(', ')}` : 'a group number, but no device is in an IOMMU group', "'info groups' lists them");
  }
  return id;
}

const vfioGroup: CommandSpec = {
  name: 'vfio group',
  summary: 'VFIO_GROUP_GET_STATUS: is the group viable, is it in the container',
  help: [
    'A group is viable when every device in it is bound to vfio-pci or to no driver: VFIO must own all',
    'of the group, because the IOMMU cannot tell its devices apart. `driver override DEV vfio-pci`,',
    '`driver unbind DEV`, `driver bind DEV` moves a device to vfio-pci.',
  ].join('\n'),
  examples: ['vfio group 0'],
  exampleMachine: MACHINE,
  exampleSetup: SETUP,
  args: [{ name: 'group', kind: 'u64', desc: 'the IOMMU group number (info groups)' }],
  mutates: false,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const id = groupArg(s, a);
    const st = linux.vfio.groupStatus(id)!;
    const flags = [st.viable ? 'VIABLE' : '', st.containerSet ? 'CONTAINER_SET' : ''].filter(Boolean).join('|') || '0';
    const lines: Line[] = [[span(`ioctl(/dev/vfio/${id}, VFIO_GROUP_GET_STATUS) = 0`, 'dim'), span(`  flags ${hex(st.flags)} (${flags})`)]];
    for (const d of st.devices) lines.push([span(`  ${d.name}  `), span(d.driver ?? 'no driver', d.ok ? 'ok' : 'bad'), span(d.ok ? '' : '  (a kernel driver: the group is not viable)', 'dim')]);
    return { kind: 'vfio-group', data: { group: id, flags: st.flags, viable: (st.flags & VFIO_GROUP_FLAGS_VIABLE) !== 0, containerSet: (st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0, devices: st.devices }, lines };
  },
};

const vfioAttach: CommandSpec = {
  name: 'vfio attach',
  summary: 'VFIO_GROUP_SET_CONTAINER: put a group in the container (VFIO takes DMA ownership)',
  help: 'Fails with -EPERM when the group is not viable (a kernel driver still uses the DMA API in it). After `vfio set-iommu` a group is attached to the container\'s IOMMU domain at once.',
  examples: ['vfio attach 0'],
  exampleMachine: MACHINE,
  exampleSetup: SETUP,
  args: [{ name: 'group', kind: 'u64', desc: 'the IOMMU group number' }],
  mutates: true,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const id = groupArg(s, a);
    const call = `ioctl(/dev/vfio/${id}, VFIO_GROUP_SET_CONTAINER, container)`;
    const r = linux.vfio.setContainer(id);
    if (!r.ok) ioctlFailed(call, r, a.span.group, `vfio group ${id} shows who holds its devices`);
    return { kind: 'vfio-attach', data: { group: id }, lines: [[span(`${call} = 0`)], plain(linux.vfio.iommuSet ? `  group ${id} attached to the container's IOMMU domain` : '  next: vfio set-iommu')] };
  },
};

const vfioDetach: CommandSpec = {
  name: 'vfio detach',
  summary: 'VFIO_GROUP_UNSET_CONTAINER: take a group out (back to its default domain)',
  help: 'The last group out takes the container\'s mappings and IOMMU backend with it.',
  examples: ['vfio detach 0'],
  exampleMachine: MACHINE,
  exampleSetup: SETUP_ATTACHED,
  args: [{ name: 'group', kind: 'u64', desc: 'the IOMMU group number' }],
  mutates: true,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const id = groupArg(s, a);
    const call = `ioctl(/dev/vfio/${id}, VFIO_GROUP_UNSET_CONTAINER)`;
    const r = linux.vfio.unsetContainer(id);
    if (!r.ok) ioctlFailed(call, r, a.span.group);
    return { kind: 'vfio-detach', data: { group: id }, lines: [[span(`${call} = 0`)]] };
  },
};

const vfioSetIommu: CommandSpec = {
  name: 'vfio set-iommu',
  summary: 'VFIO_SET_IOMMU: the type1 backend; an unmanaged domain per IOMMU, the MSI cookie',
  help: [
    'Attaches every group of the container to an unmanaged IOMMU domain and builds the valid IOVA list',
    "(the aperture minus the groups' reserved regions). A group with a software MSI window (SMMU:",
    "0x8000000, 1 MiB) gets an MSI cookie there: VFIO's doorbells are mapped in that window. Fails with",
    '-EPERM when MSIs are not isolated (no interrupt remapping, no ITS) unless allow_unsafe_interrupts.',
  ].join('\n'),
  examples: ['vfio set-iommu', 'vfio set-iommu type1v2'],
  exampleMachine: MACHINE,
  exampleSetup: [...SETUP, 'vfio attach 0'],
  args: [{ name: 'type', kind: 'enum', choices: ['type1v2', 'type1'], desc: 'VFIO_TYPE1v2_IOMMU (default) or VFIO_TYPE1_IOMMU', optional: true }],
  mutates: true,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const type = a.v.type === 'type1' ? VFIO_TYPE1_IOMMU : VFIO_TYPE1v2_IOMMU;
    const call = `ioctl(container, VFIO_SET_IOMMU, ${type === VFIO_TYPE1_IOMMU ? 'VFIO_TYPE1_IOMMU' : 'VFIO_TYPE1v2_IOMMU'})`;
    const r = linux.vfio.setIommu(type);
    if (!r.ok) ioctlFailed(call, r, a.span.type ?? a.all, 'vfio param allow_unsafe_interrupts 1 overrides the interrupt check (unsafe)');
    const lines: Line[] = [[span(`${call} = 0`)]];
    for (const d of linux.vfio.domains) {
      const tag = linux.core.driver(d.domain.iommu)?.domainTag?.(d.domain);
      lines.push(plain(`  ${d.domain.iommu}: unmanaged domain${tag ? ` (${tag})` : ''} for group${d.groups.length > 1 ? 's' : ''} ${d.groups.join(', ')}`));
      if (d.msiBase !== undefined) lines.push([span(`  MSI cookie at ${hex(d.msiBase)}: the SW_MSI window; doorbells are mapped here, one page each`, 'dim')]);
    }
    return { kind: 'vfio-set-iommu', data: { type, domains: linux.vfio.domains.map((d) => ({ iommu: d.domain.iommu, groups: d.groups, msiBase: d.msiBase ?? null })) }, lines };
  },
};

const vfioInfo: CommandSpec = {
  name: 'vfio info',
  summary: 'VFIO_IOMMU_GET_INFO: IOMMU page sizes and the valid IOVA ranges (capability 1)',
  help: 'MAP_DMA accepts only an [iova, iova + size - 1] that lies inside one of these ranges (since v5.4). Compare `info resv DEV`: the ranges are the aperture minus exactly those regions.',
  examples: ['vfio info'],
  exampleMachine: MACHINE,
  exampleSetup: SETUP_ATTACHED,
  args: [],
  mutates: false,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const r = linux.vfio.info();
    if (!r.ok) ioctlFailed('ioctl(container, VFIO_IOMMU_GET_INFO)', r, a.all);
    const { info } = r;
    const sizes = [12n, 21n, 30n].filter((b) => info.iovaPgsizes & (1n << b)).map((b) => (b === 12n ? '4K' : b === 21n ? '2M' : '1G'));
    const lines: Line[] = [
      [span('ioctl(container, VFIO_IOMMU_GET_INFO) = 0', 'dim')],
      plain(`  flags ${hex(info.flags)} (PGSIZES|CAPS)  iova_pgsizes ${hex(info.iovaPgsizes)} (${sizes.join(' ')})`),
      plain(`  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE (id 1, version 1): nr_iovas ${info.ranges.length}`),
    ];
    for (const x of info.ranges) lines.push([span('    ['), span(hex(x.start), 'addr'), span(', '), span(hex(x.end), 'addr'), span(']')]);
    return { kind: 'vfio-info', data: { flags: info.flags, iovaPgsizes: info.iovaPgsizes, ranges: info.ranges }, lines };
  },
};

const PROTS = ['rw', 'r', 'w'] as const;

const vfioMap: CommandSpec = {
  name: 'vfio map',
  summary: "VFIO_IOMMU_MAP_DMA: pin the user process's memory and map it at an IOVA",
  help: [
    'rw (default), r or w say what the DEVICE may do (READ = the device reads memory). vaddr= is the',
    "user virtual address of the memory (default: the IOVA itself, DPDK's --iova-mode=va). The checks",
    "run in the kernel's order: flags, size and alignment, wrap, overlap (-EEXIST), dma_entry_limit",
    '(-ENOSPC), the valid IOVA ranges (-EINVAL), then pinning against RLIMIT_MEMLOCK (-ENOMEM).',
  ].join('\n'),
  examples: ['vfio map 0x40000000 0x4000', 'vfio map 0x40100000 4K r vaddr=0x7f0000000000'],
  exampleMachine: MACHINE,
  exampleSetup: SETUP_ATTACHED,
  args: [
    { name: 'iova', kind: 'u64', desc: 'the IOVA the device will use' },
    { name: 'size', kind: 'u64', desc: 'bytes, a multiple of the IOMMU page size' },
    { name: 'prot', kind: 'enum', choices: PROTS, desc: 'what the device may do: rw, r (device reads) or w (device writes)', optional: true },
  ],
  opts: [{ name: 'vaddr', kind: 'u64', desc: 'user virtual address of the memory (default: = iova)' }],
  mutates: true,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const iova = a.v.iova as bigint;
    const size = a.v.size as bigint;
    const prot = (a.v.prot as string | undefined) ?? 'rw';
    const flags = (prot.includes('r') ? VFIO_DMA_MAP_FLAG_READ : 0) | (prot.includes('w') ? VFIO_DMA_MAP_FLAG_WRITE : 0);
    const vaddr = (a.v.vaddr as bigint | undefined) ?? iova;
    const fl = [flags & VFIO_DMA_MAP_FLAG_READ ? 'READ' : '', flags & VFIO_DMA_MAP_FLAG_WRITE ? 'WRITE' : ''].filter(Boolean).join('|');
    const call = `ioctl(container, VFIO_IOMMU_MAP_DMA, {argsz 32, flags ${fl}, vaddr ${hex(vaddr)}, iova ${hex(iova)}, size ${hex(size)}})`;
    const r = linux.vfio.mapDma(iova, size, flags, vaddr);
    if (!r.ok) {
      const sp = /overlap|valid IOVA|iova/.test(r.why) ? a.span.iova : /size|RLIMIT|dma_entry/.test(r.why) ? a.span.size : /vaddr/.test(r.why) ? (a.span.vaddr ?? a.all) : a.all;
      ioctlFailed(call, r, sp, /valid IOVA/.test(r.why) ? 'vfio info lists the valid ranges' : /RLIMIT/.test(r.why) ? 'vfio param memlock SIZE raises the limit (ulimit -l)' : undefined);
    }
    const pages = Number(size / 4096n);
    const lines: Line[] = [[span(`${call} = 0`)]];
    lines.push(plain(`  pinned ${pages} page${pages === 1 ? '' : 's'}; locked ${sizeStr(linux.vfio.pinnedBytes)} of RLIMIT_MEMLOCK ${sizeStr(linux.vfio.memlock)}`));
    const pa = linux.vfio.userPhys(vaddr)!;
    lines.push([span('  IOVA '), span(hex(iova), 'addr'), span(' -> PA '), span(hex(pa), 'addr'), span(pages > 1 ? ` (first page; walk DEV IOVA shows any)` : '', 'dim')]);
    return { kind: 'vfio-map', data: { iova, size, vaddr, flags, pa }, lines };
  },
};

const vfioUnmap: CommandSpec = {
  name: 'vfio unmap',
  summary: 'VFIO_IOMMU_UNMAP_DMA: unmap whole mappings in [IOVA, IOVA + SIZE) and unpin them',
  help: 'Type1v2 never splits a mapping: a range that starts or ends inside one fails with -EINVAL and unmaps nothing. A range with no mapping is not an error: size comes back 0.',
  examples: ['vfio unmap 0x40000000 0x4000'],
  exampleMachine: MACHINE,
  exampleSetup: [...SETUP_ATTACHED, 'vfio map 0x40000000 0x4000'],
  args: [
    { name: 'iova', kind: 'u64', desc: 'start of the range' },
    { name: 'size', kind: 'u64', desc: 'bytes' },
  ],
  mutates: true,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const iova = a.v.iova as bigint;
    const size = a.v.size as bigint;
    const call = `ioctl(container, VFIO_IOMMU_UNMAP_DMA, {argsz 24, flags 0, iova ${hex(iova)}, size ${hex(size)}})`;
    const r = linux.vfio.unmapDma(iova, size);
    if (!r.ok) ioctlFailed(call, r, /bisect/.test(r.why) ? a.span.iova : a.span.size, 'vfio maps lists the mappings');
    return { kind: 'vfio-unmap', data: { iova, size, unmapped: r.unmapped }, lines: [[span(`${call} = 0`)], plain(`  size on return: ${hex(r.unmapped)} (${r.unmapped === 0n ? 'nothing was mapped there' : sizeStr(r.unmapped)})`)] };
  },
};

const vfioMaps: CommandSpec = {
  name: 'vfio maps',
  summary: "The container's DMA mappings, domains and locked memory",
  help: 'What vfio_iommu->dma_list holds, with the pinned-page count against RLIMIT_MEMLOCK and dma_entry_limit.',
  examples: ['vfio maps'],
  exampleMachine: MACHINE,
  exampleSetup: [...SETUP_ATTACHED, 'vfio map 0x40000000 0x4000'],
  args: [],
  mutates: false,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const v = linux.vfio;
    const lines: Line[] = [plain(`container: groups ${v.groups.join(', ') || 'none'}; IOMMU ${v.iommuSet ? 'type1v2' : 'not set'}; ${v.dmas.length} of ${v.dmaEntryLimit} mappings; locked ${sizeStr(v.pinnedBytes)} of ${sizeStr(v.memlock)}`)];
    const max = 32;
    for (const d of v.dmas.slice(0, max)) {
      lines.push([span('  IOVA '), span(hex(d.iova), 'addr'), span(` size ${hex(d.size)} vaddr ${hex(d.vaddr)} ${d.prot & 1 ? 'R' : '-'}${d.prot & 2 ? 'W' : '-'}`)]);
    }
    if (v.dmas.length > max) lines.push(plain(`  ... ${v.dmas.length - max} more`));
    return { kind: 'vfio-maps', data: { groups: [...v.groups], iommuSet: v.iommuSet, dmas: v.dmas.map((d) => ({ ...d })), pinnedBytes: v.pinnedBytes, memlock: v.memlock }, lines };
  },
};

const vfioIrq: CommandSpec = {
  name: 'vfio irq',
  summary: 'VFIO_DEVICE_SET_IRQS (MSI-X): enable COUNT vectors of a vfio-pci device (count=0 disables)',
  help: [
    "vfio-pci enables MSI-X (pci_alloc_irq_vectors) and requests each vector. On Arm with a GICv3 ITS the",
    'kernel maps the device in the ITS (MAPD, an ITT, one LPI per vector with MAPTI) and writes each',
    "vector's message into the device's MSI-X table: the address is the doorbell as the device must reach",
    "it -- in VFIO's unmanaged domain the MSI cookie's next page of the SW_MSI window (0x8000000 on SMMU),",
    'not an IOVA from an allocator -- and the data is the EventID. `devirq DEV N` makes the device send',
    'vector N; `vfio irqs` shows where each would land and how often a CPU took its LPI (seed 002).',
  ].join('\n'),
  examples: ['vfio irq vda', 'vfio irq vda count=2'],
  exampleMachine: MACHINE,
  exampleSetup: SETUP_ATTACHED,
  args: [{ name: 'dev', kind: 'device', desc: 'a device bound to vfio-pci' }],
  opts: [{ name: 'count', kind: 'u64', desc: 'vectors to enable (default 1); 0 disables them' }],
  mutates: true,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const its = s.machine.memory.listRegions().find((r) => r.kind === 'mmio' && r.handler instanceof GicIts);
    const x86 = s.machine.info.arch === 'x86_64';
    if (!its && !x86) throw new CommandError(`${s.system.preset.name} has no MSI controller this lab models (no GICv3 ITS)`, a.span.dev, undefined, 'try --machine arm-iproc-smmuv3');
    const count = a.v.count === undefined ? 1n : (a.v.count as bigint);
    if (count > 2048n) throw new CommandError(`count=${count}: an MSI-X table has at most 2048 entries`, a.span.count, 'a count from 0 to 2048');
    // x86: no doorbell page to map; the interrupt window 0xfee00000-0xfeefffff is decoded before translation.
    const doorbell = its ? its.base + BigInt(GITS_TRANSLATER) : 0xfee0_0000n;
    if (count === 0n) {
      const call = `ioctl(device, VFIO_DEVICE_SET_IRQS, {flags DATA_NONE|ACTION_TRIGGER, index VFIO_PCI_MSIX_IRQ_INDEX, start 0, count 0})`;
      if (!linux.vfio.disableMsi(k.dev)) ioctlFailed(call, { errno: 22, why: `${k.dev.name} has no MSI-X vectors enabled` }, a.span.dev);
      return { kind: 'vfio-irq', data: { device: k.dev.name, disabled: true }, lines: [[span(`${call} = 0`)], plain(`  MSI-X disabled: the ITS events are discarded (DISCARD, MAPD V=0) and the LPIs freed`)] };
    }
    const call = `ioctl(device, VFIO_DEVICE_SET_IRQS, {flags DATA_EVENTFD|ACTION_TRIGGER, index VFIO_PCI_MSIX_IRQ_INDEX, start 0, count ${count}})`;
    const r = linux.vfio.prepareMsi(k.dev, doorbell, Number(count));
    if (!r.ok) ioctlFailed(call, r, a.span.dev);
    const lines: Line[] = [[span(`${call} = 0`)]];
    lines.push(plain(x86 ? `  x86: the interrupt window 0xfee00000-0xfeefffff, decoded before any translation (VT-d reports it as a hardware MSI region, so no cookie)` : `  doorbell: GITS_TRANSLATER at ${hex(doorbell)}`));
    if (x86) {
      /* no doorbell mapping */
    } else if (r.iova !== undefined) lines.push([span('  iommu_dma_prepare_msi: doorbell page mapped at IOVA '), span(hex(r.iova), 'addr'), span(`; message address ${hex(r.msgAddr)}`)]);
    else lines.push(plain(`  no MSI cookie in ${devLabel(k.dev)}'s domain: the message address is the doorbell itself, ${hex(r.msgAddr)}`));
    for (const v of r.vectors ?? []) {
      const x86v = linux.msi.s.x86[k.dev.name]?.[v.index];
      const target = x86v ? (x86v.index !== undefined ? `IRTE ${x86v.index}: vector ${hex(x86v.vector, 2)} to APIC ${x86v.dest}` : `compatibility format: vector ${hex(x86v.vector, 2)} to APIC ${x86v.dest}`) : `ITS: DeviceID ${hex(k.dev.master.rid ?? k.dev.master.sid)} EventID ${v.event} -> LPI ${v.lpi} on CPU${v.cpu}`;
      lines.push([span(`  vector ${v.index}: `), span(`address ${hex(v.address)} data ${hex(v.data, 8)}`, 'num'), span(` written to the MSI-X table at ${hex(v.entryAddr)}; ${target}`)]);
    }
    lines.push([span(`  devirq ${a.v.dev} sends a vector; vfio irqs shows where each lands`, 'dim')]);
    return { kind: 'vfio-irq', data: { device: k.dev.name, doorbell, iova: r.iova ?? null, address: r.msgAddr, vectors: r.vectors ?? [] }, lines };
  },
};

const vfioIrqs: CommandSpec = {
  name: 'vfio irqs',
  summary: 'The MSI-X vectors VFIO set up, where each device write really goes (nothing is sent), and LPIs taken',
  help: "For each `vfio irq DEV`: the message address and the path the device's write would take: the host bridge (outbound windows, inbound dma-ranges), then the IOMMU, then the doorbell. delivered = it reaches GITS_TRANSLATER. With an ITS, each vector's LPI, its CPU and how many times a CPU took it (devirq sends one).",
  examples: ['vfio irqs'],
  exampleMachine: MACHINE,
  exampleSetup: [...SETUP_ATTACHED, 'vfio irq vda'],
  args: [],
  mutates: false,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const irqs = linux.vfio.irqPaths();
    const lines: Line[] = irqs.length ? [] : [plain('no vector set up (vfio irq DEV)')];
    for (const q of irqs) {
      lines.push([span(`${q.dev}: message address `), span(hex(q.msgAddr), 'addr'), span(' -> '), span(q.delivered ? 'delivered' : 'LOST', q.delivered ? 'ok' : 'bad'), span(`: ${q.detail}`, 'dim')]);
      for (const v of q.vectors ?? []) lines.push(plain(`  vector ${v.index}: ${v.lpi >= 0 ? `LPI ${v.lpi} on CPU${v.cpu}` : `APIC ${v.cpu}`}, taken ${v.taken} time${v.taken === 1 ? '' : 's'}`));
    }
    return { kind: 'vfio-irqs', data: { irqs }, lines };
  },
};

const PARAMS = ['memlock', 'dma_entry_limit', 'allow_unsafe_interrupts'] as const;

const vfioParam: CommandSpec = {
  name: 'vfio param',
  summary: 'Limits: memlock (ulimit -l of the user process), dma_entry_limit, allow_unsafe_interrupts',
  help: [
    'memlock: RLIMIT_MEMLOCK in bytes (default 8 MiB since v5.16, 64 KiB before). dma_entry_limit:',
    'vfio_iommu_type1 module parameter (default 65535 mappings). allow_unsafe_interrupts: 1 lets',
    'SET_IOMMU proceed without MSI isolation. Without VALUE: print it.',
  ].join('\n'),
  examples: ['vfio param memlock', 'vfio param memlock 1G', 'vfio param dma_entry_limit 4'],
  exampleMachine: MACHINE,
  exampleSetup: ['boot'],
  args: [
    { name: 'name', kind: 'enum', choices: PARAMS, desc: 'memlock, dma_entry_limit or allow_unsafe_interrupts' },
    { name: 'value', kind: 'u64', desc: 'the new value', optional: true },
  ],
  mutates: true,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const v = linux.vfio;
    const name = a.v.name as (typeof PARAMS)[number];
    const value = a.v.value as bigint | undefined;
    if (value !== undefined) {
      if (name === 'memlock') v.setMemlock(value);
      else if (name === 'dma_entry_limit') {
        if (value > 0xffff_ffffn) throw new CommandError(`${value} does not fit dma_entry_limit (an unsigned int)`, a.span.value, 'at most 4294967295');
        v.setDmaEntryLimit(Number(value));
      } else {
        if (value > 1n) throw new CommandError(`allow_unsafe_interrupts is a bool: 0 or 1, not ${value}`, a.span.value, '0 or 1');
        v.setAllowUnsafeInterrupts(value === 1n);
      }
    }
    const cur = name === 'memlock' ? `${v.memlock} (${sizeStr(v.memlock)})` : name === 'dma_entry_limit' ? `${v.dmaEntryLimit}` : v.allowUnsafeInterrupts ? 'Y' : 'N';
    return { kind: 'vfio-param', data: { name, value: name === 'memlock' ? v.memlock : name === 'dma_entry_limit' ? v.dmaEntryLimit : v.allowUnsafeInterrupts }, lines: [plain(`${name} = ${cur}`)] };
  },
};

export const vfioCommands: CommandSpec[] = [vfioGroup, vfioAttach, vfioDetach, vfioSetIommu, vfioInfo, vfioMap, vfioUnmap, vfioMaps, vfioIrq, vfioIrqs, vfioParam];
