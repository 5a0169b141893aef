/**
 * `info iommu`, `info groups`, `info resv DEV`, `iova DEV`: the IOMMUs as
 * hardware (registers and the structures they point at, decoded from
 * MMIO and memory, not from the driver's bookkeeping), and the Linux IOMMU
 * core's view (groups, reserved regions, the IOVA allocator of a DMA
 * domain) with sysfs's own formats where sysfs has a file for it.
 */
import { type u64, hex } from '../../machine/u64.ts';
import { formatBdf } from '../../machine/pci.ts';
import * as R from '../../machine/smmuv3/regs.ts';
import { SmmuV3 } from '../../machine/smmuv3/smmuv3.ts';
import { VtdUnit } from '../../machine/vtd/vtd.ts';
import * as V from '../../machine/vtd/regs.ts';
import { decode, get } from '../../machine/fields.ts';
import { agawToLevels, agawToWidth, sidText } from '../../machine/vtd/context.ts';
import { coverage, decodeDmar, drhdFor, ACPI_DMAR_INCLUDE_ALL } from '../../machine/dmar.ts';
import { qCount, qIdx } from '../../machine/smmuv3/queue.ts';
import { infoGroups, infoResv, iovaInfo, iovaRowText } from '../../inspect/iommu.ts';
import { plain, span, styled, table, type Line } from '../../inspect/view.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { Session } from '../session.ts';
import { devLabel, kernelDevice, mmioBase, needLinux } from '../kernel-device.ts';

/** Stated limit: IOTLB entries listed by `info iommu` (the count is always given). */
const IOTLB_ROWS = 16;
/** What diagnosis mode (Session.diagnosis) says instead of the ground-truth column. */
const DIAGNOSIS_NOTE = "(diagnosis mode: where each device's DMA really goes is not shown; a running kernel cannot see it)";
/** Stated limit: IOVA ranges listed by `iova`. */
const IOVA_ROWS = 256;

/** "SMMUEN=1 EVENTQEN=1 CMDQEN=1" from a register value and its layout's flags. */
const flagsText = (layout: Parameters<typeof decode>[0], v: number, names: string[]): string =>
  decode(layout, [BigInt(v >>> 0)])
    .filter((f) => names.includes(f.name))
    .map((f) => `${f.name}=${f.value}`)
    .join(' ');

const queueText = (baseReg: u64, prod: number, cons: number, maxShift: number): { base: u64; shift: number; text: string; pending: number } => {
  const base = get(R.Q_BASE_LAYOUT, [baseReg], 'ADDR');
  const shift = Math.min(Number(get(R.Q_BASE_LAYOUT, [baseReg], 'LOG2SIZE')), maxShift);
  const pending = qCount(prod, cons, shift);
  return { base, shift, pending, text: `base ${hex(base)} (${1 << shift} entr${shift ? 'ies' : 'y'}), PROD ${hex(prod)} (slot ${qIdx(prod, shift)}), CONS ${hex(cons)} (slot ${qIdx(cons, shift)}), ${pending} between them` };
};

function smmuView(s: Session, smmu: SmmuV3): { lines: Line[]; data: unknown } {
  const base = mmioBase(s, smmu);
  const cr0 = smmu.reg32(R.SMMU_CR0);
  const cr0ack = smmu.reg32(R.SMMU_CR0ACK);
  const gbpa = smmu.reg32(R.SMMU_GBPA);
  const strtabBase = smmu.reg64(R.SMMU_STRTAB_BASE);
  const strtabCfg = smmu.reg32(R.SMMU_STRTAB_BASE_CFG);
  const cmdqBase = smmu.reg64(R.SMMU_CMDQ_BASE);
  const evtqBase = smmu.reg64(R.SMMU_EVENTQ_BASE);
  const idr1 = [BigInt(smmu.reg32(R.SMMU_IDR1) >>> 0)];
  const cmdq = queueText(cmdqBase, smmu.reg32(R.SMMU_CMDQ_PROD), smmu.reg32(R.SMMU_CMDQ_CONS), Number(get(R.IDR1_LAYOUT, idr1, 'CMDQS')));
  const evtq = queueText(evtqBase, smmu.reg32(R.SMMU_EVENTQ_PROD), smmu.reg32(R.SMMU_EVENTQ_CONS), Number(get(R.IDR1_LAYOUT, idr1, 'EVENTQS')));
  const log2 = strtabCfg & 0x3f;
  const fmt = (strtabCfg >> 16) & 3;
  const split = (strtabCfg >> 6) & 0x1f;
  const gerror = smmu.reg32(R.SMMU_GERROR) ^ smmu.reg32(R.SMMU_GERRORN);
  const tlb = smmu.iotlb();
  const cfgCache = smmu.configCache();
  const enabled = (cr0ack & R.CR0_SMMUEN) !== 0;
  const rows: [string, string][] = [
    ['CR0', `${hex(cr0, 8)}  ${flagsText(R.CR0_LAYOUT, cr0, ['SMMUEN', 'EVENTQEN', 'CMDQEN', 'PRIQEN'])}${cr0ack !== cr0 ? `  (CR0ACK ${hex(cr0ack, 8)}: update pending)` : ''}`],
    ['GBPA', `${hex(gbpa, 8)}  ABORT=${(gbpa & R.GBPA_ABORT) !== 0 ? 1 : 0}: ${enabled ? 'not in force (SMMUEN=1)' : (gbpa & R.GBPA_ABORT) !== 0 ? 'SMMUEN=0, so ALL traffic is aborted' : 'SMMUEN=0, so ALL traffic passes untranslated'}`],
    ['GERROR', gerror ? `${hex(gerror, 8)} active: ${flagsText(R.GERROR_LAYOUT, gerror, R.GERROR_LAYOUT.fields.map((f) => f.name)).split(' ').filter((x) => x.endsWith('=1')).join(' ')}` : 'no global error active'],
    ['STRTAB_BASE', `${hex(strtabBase, 16)}  ADDR ${hex(strtabBase & 0x000f_ffff_ffff_ffc0n)}`],
    ['STRTAB_BASE_CFG', `${hex(strtabCfg, 8)}  FMT ${fmt === 0 ? 'linear' : fmt === 1 ? '2-level' : `reserved (${fmt})`}, LOG2SIZE ${log2} (${2 ** log2} StreamID${log2 ? 's' : ''})${fmt === 1 ? `, SPLIT ${split} (${2 ** split} STEs per level-2 table)` : ''}`],
    ['CMDQ', `${hex(cmdqBase, 16)}  ${cmdq.text}`],
    ['EVENTQ', `${hex(evtqBase, 16)}  ${evtq.text}${evtq.pending ? ' pending (smmu events)' : ''}`],
    ['IOTLB', `${tlb.length} entr${tlb.length === 1 ? 'y' : 'ies'}; configuration cache: ${cfgCache.length ? cfgCache.map((c) => `StreamID ${hex(c.sid)} (${c.kind})`).join(', ') : 'empty'}`],
  ];
  const lines: Line[] = [
    [span(`${smmu.name}`, 'head'), span(`: SMMUv3, register frame at ${base !== undefined ? hex(base) : '(not mapped)'}`), span(` — ${enabled ? 'translating (SMMUEN=1)' : 'disabled (SMMUEN=0)'}`, enabled ? 'ok' : 'warn')],
    ...table([{ header: '', style: 'name' }, { header: '' }], rows, { header: false, indent: '  ' }),
  ];
  if (tlb.length) {
    lines.push(
      ...table(
        [{ header: 'tag' }, { header: 'va', style: 'addr' }, { header: 'size', align: 'right' }, { header: 'oa', style: 'addr' }, { header: 'permissions', style: 'dim' }],
        tlb.slice(0, IOTLB_ROWS).map((e) => [`${e.stage === 1 ? 'ASID' : 'VMID'} ${e.tag}`, hex(e.va), e.size >= 1 << 30 ? '1G' : e.size >= 1 << 21 ? '2M' : '4K', hex(e.oa), e.perm]),
        { indent: '    ' },
      ),
    );
    if (tlb.length > IOTLB_ROWS) lines.push(plain(`    ... ${tlb.length - IOTLB_ROWS} more`));
  }
  // What firmware (DT iommu-map / IORT) says sits behind this SMMU.
  const fw = s.system.extras.firmware?.smmus.find((f) => f.hw === smmu);
  const behind: { device: string; bdf: string; rid: number; sid: number; path: string }[] = [];
  if (fw) {
    for (const h of s.machine.pciHosts) {
      for (const f of h.functions) {
        const sid = fw.streamId(h, f);
        if (sid === undefined) continue;
        const m = s.machine.masters.get(f.name);
        behind.push({ device: f.name, bdf: formatBdf(f.bdf), rid: f.rid, sid, path: m ? (m.path === 'translated' && m.iommu === smmu ? 'translated by this SMMU' : m.path === 'bypass' ? 'bypass: its DMA never reaches the SMMU' : `translated by ${m.iommu?.name}`) : 'no DMA' });
      }
    }
    const fwKind = s.system.extras.firmware?.kind === 'acpi' ? 'IORT' : 'device tree iommu-map';
    lines.push([span(`  behind it, per firmware (${fwKind}; Linux's name ${fw.devName}):`, 'dim')]);
    if (behind.length && s.diagnosis) {
      lines.push(...table([{ header: 'device', style: 'name' }, { header: 'pci' }, { header: 'RID' }, { header: 'StreamID', style: 'num' }], behind.map((b) => [b.device, b.bdf, hex(b.rid, 4), hex(b.sid)]), { indent: '    ' }));
      lines.push([span(`    ${DIAGNOSIS_NOTE}`, 'dim')]);
    } else if (behind.length) lines.push(...table([{ header: 'device', style: 'name' }, { header: 'pci' }, { header: 'RID' }, { header: 'StreamID', style: 'num' }, { header: 'what its DMA really does', style: 'dim' }], behind.map((b) => [b.device, b.bdf, hex(b.rid, 4), hex(b.sid), b.path]), { indent: '    ' }));
    else lines.push(plain('    no devices'));
  }
  return {
    lines,
    data: {
      name: smmu.name,
      kind: smmu.kind,
      base,
      enabled,
      registers: { CR0: cr0, CR0ACK: cr0ack, GBPA: gbpa, GERROR: smmu.reg32(R.SMMU_GERROR), GERRORN: smmu.reg32(R.SMMU_GERRORN), STRTAB_BASE: strtabBase, STRTAB_BASE_CFG: strtabCfg, CMDQ_BASE: cmdqBase, CMDQ_PROD: smmu.reg32(R.SMMU_CMDQ_PROD), CMDQ_CONS: smmu.reg32(R.SMMU_CMDQ_CONS), EVENTQ_BASE: evtqBase, EVENTQ_PROD: smmu.reg32(R.SMMU_EVENTQ_PROD), EVENTQ_CONS: smmu.reg32(R.SMMU_EVENTQ_CONS) },
      streamTable: { base: strtabBase & 0x000f_ffff_ffff_ffc0n, format: fmt === 0 ? 'linear' : fmt === 1 ? '2-level' : 'reserved', log2size: log2, split },
      cmdq: { base: cmdq.base, entries: 1 << cmdq.shift, pending: cmdq.pending },
      evtq: { base: evtq.base, entries: 1 << evtq.shift, pending: evtq.pending },
      iotlb: tlb,
      configCache: cfgCache.map((c) => ({ sid: c.sid, kind: c.kind })),
      devices: behind,
    },
  };
}

/** Names of the set flags of a register, from its layout: "QI IR PT". */
const setFlags = (layout: Parameters<typeof decode>[0], v: u64): string[] => decode(layout, [v]).filter((f) => f.value === 1n && layout.fields.find((x) => x.name === f.name)?.kind === 'flag').map((f) => f.name);

/**
 * An Intel VT-d unit from its registers (REFERENCE.md 3.1; machine/vtd/regs.ts
 * layouts): capabilities, what is enabled, the tables it latched, fault
 * status, the invalidation queue, its caches, and the devices the firmware's
 * DMAR table puts behind it next to what their DMA really does.
 */
function vtdView(s: Session, u: VtdUnit): { lines: Line[]; data: unknown } {
  const base = mmioBase(s, u);
  const ver = u.reg32(V.DMAR_VER_REG);
  const cap = u.cap;
  const ecap = u.ecap;
  const c = (n: string): number => Number(get(V.CAP_LAYOUT, [cap], n));
  const e = (n: string): number => Number(get(V.ECAP_LAYOUT, [ecap], n));
  const gsts = u.reg32(V.DMAR_GSTS_REG);
  const rtaddr = u.reg64(V.DMAR_RTADDR_REG);
  const irta = u.reg64(V.DMAR_IRTA_REG);
  const fsts = u.reg32(V.DMAR_FSTS_REG);
  const fectl = u.reg32(V.DMAR_FECTL_REG);
  const iqa = u.reg64(V.DMAR_IQA_REG);
  const iqh = u.reg64(V.DMAR_IQH_REG);
  const iqt = u.reg64(V.DMAR_IQT_REG);
  const tes = (gsts & V.DMA_GSTS_TES) !== 0;
  const sagaw = c('SAGAW');
  const widths = [1, 2, 3].filter((aw) => (sagaw >> aw) & 1).map((aw) => `${agawToWidth(aw)}-bit ${agawToLevels(aw)}-level`);
  const sllps = c('SLLPS');
  const gstsFlags = setFlags(V.GSTS_LAYOUT, BigInt(gsts >>> 0));
  const fstsFlags = setFlags(V.FSTS_LAYOUT, BigInt(fsts >>> 0));
  const iqSize = 2 ** (Number(iqa & V.IQA_QS_MASK) + 8);
  const qh = Number((iqh >> 4n) & 0x7fffn);
  const qt = Number((iqt >> 4n) & 0x7fffn);
  const pending = u.faultRecords().filter((r) => r.pending).length;
  const tlb = u.iotlb();
  const ctxCache = u.contextCache();
  const ndoms = 2 ** (4 + 2 * c('ND'));
  const rows: [string, string][] = [
    ['VER', `${hex(ver, 8)}  ${(ver >> 4) & 0xf}.${ver & 0xf}`],
    ['CAP', `${hex(cap, 16)}  SAGAW ${hex(sagaw)} (${widths.join(', ') || 'none'}), MGAW ${c('MGAW') + 1} bits, ND ${c('ND')} (${ndoms >= 1024 ? `${ndoms / 1024}K` : ndoms} domain ids), FRO ${hex(c('FRO'))} (fault records at ${hex(u.frcdOffset)}), NFR ${c('NFR')} (${c('NFR') + 1} record${c('NFR') ? 's' : ''}), SLLPS ${hex(sllps)} (${[sllps & 1 ? '2M' : '', sllps & 2 ? '1G' : ''].filter(Boolean).join(' ') || 'no superpages'}), ${setFlags(V.CAP_LAYOUT, cap).join(' ') || 'no flags'}, MAMV ${c('MAMV')}`],
    ['ECAP', `${hex(ecap, 16)}  ${setFlags(V.ECAP_LAYOUT, ecap).join(' ') || 'no flags'} (${['QI', 'DT', 'IR', 'EIM', 'PT', 'SC'].filter((n) => !e(n)).map((n) => `${n}=0`).join(' ')}), IRO ${hex(e('IRO'))} (IOTLB registers at ${hex(u.iotlbOffset)})${e('IR') ? `, MHMV ${e('MHMV')}` : ''}`],
    ['GSTS', `${hex(gsts >>> 0, 8)}  ${gstsFlags.join(' ') || 'nothing enabled'}${tes ? '' : ' (TES=0: every DMA passes untranslated)'}`],
    ['RTADDR', `${hex(rtaddr, 16)}  ${gsts & V.DMA_GSTS_RTPS ? `root table at ${hex(u.rootTable)}` : 'no root table latched (RTPS=0)'}, ${Number(get(V.RTADDR_LAYOUT, [rtaddr], 'TTM')) === 0 ? 'legacy mode (TTM=0)' : `TTM=${get(V.RTADDR_LAYOUT, [rtaddr], 'TTM')}`} (vtd root)`],
    ['IRTA', `${hex(irta, 16)}  ${gsts & V.DMA_GSTS_IRTPS ? `interrupt remapping table at ${hex(u.irTable.base)}, S=${Number(irta & V.IRTA_S_MASK)} (${u.irTable.entries} entries), EIME=${u.irTable.eime ? 1 : 0}; remapping ${gsts & V.DMA_GSTS_IRES ? 'on (IRES=1)' : 'off (IRES=0)'} (ir table)` : 'no interrupt remapping table latched (IRTPS=0)'}`],
    ['FSTS', `${hex(fsts >>> 0, 8)}  ${fstsFlags.length ? fstsFlags.join(' ') : 'no fault status'}, FRI ${(fsts >> 8) & 0xff}; ${pending} pending fault record${pending === 1 ? '' : 's'} (vtd faults)`],
    ['FECTL', `${hex(fectl >>> 0, 8)}  IM=${(fectl >>> 31) & 1} IP=${(fectl >>> 30) & 1}; fault event MSI to ${hex(u.reg32(V.DMAR_FEADDR_REG))} data ${hex(u.reg32(V.DMAR_FEDATA_REG))}`],
    ['IQ', gsts & V.DMA_GSTS_QIES ? `IQA ${hex(iqa, 16)}: queue at ${hex(iqa & ~0xfffn)}, ${iqSize} descriptors; IQH ${hex(iqh)} (descriptor ${qh}), IQT ${hex(iqt)} (descriptor ${qt}): ${qh === qt ? 'empty, every descriptor fetched' : `${(qt - qh + iqSize) % iqSize} not yet fetched`}` : 'queued invalidation off (QIES=0): register-based invalidation'],
    ['IOTLB', `${tlb.length} entr${tlb.length === 1 ? 'y' : 'ies'}; context cache: ${ctxCache.length ? ctxCache.map((x) => `${sidText(x.sid)} (DID ${x.did}${x.tt === 2 ? ', pass-through' : ''})`).join(', ') : 'empty'}`],
  ];
  const lines: Line[] = [
    [span(u.name, 'head'), span(`: Intel VT-d remapping unit (DRHD), register page at ${base !== undefined ? hex(base) : '(not mapped)'}`), span(` — ${tes ? 'translating (GSTS.TES=1)' : 'DMA remapping off (GSTS.TES=0)'}`, tes ? 'ok' : 'warn')],
    ...table([{ header: '', style: 'name' }, { header: '' }], rows, { header: false, indent: '  ' }),
  ];
  if (tlb.length) {
    lines.push(
      ...table(
        [{ header: 'DID' }, { header: 'iova', style: 'addr' }, { header: 'size', align: 'right' }, { header: 'pa', style: 'addr' }, { header: 'permissions', style: 'dim' }],
        tlb.slice(0, IOTLB_ROWS).map((x) => [String(x.did), hex(x.iova), x.size >= 1 << 30 ? '1G' : x.size >= 1 << 21 ? '2M' : '4K', hex(x.pa), x.perm]),
        { indent: '    ' },
      ),
    );
    if (tlb.length > IOTLB_ROWS) lines.push(plain(`    ... ${tlb.length - IOTLB_ROWS} more`));
  }
  // What the firmware's DMAR table says sits behind this unit.
  const fw = s.system.extras.firmware?.dmar;
  const behind: { device: string; bdf: string; sid: string; claimed: boolean; path: string; note: string }[] = [];
  if (fw && fw.units.includes(u) && base !== undefined) {
    const t = decodeDmar(fw.bytes);
    const devs = s.machine.pciFunctions().map((f) => ({ f, m: s.machine.masters.get(f.name) }));
    const rows = coverage(t, devs.filter((d) => d.m).map((d) => ({ name: d.f.name, bdf: d.f.bdf, path: d.m!.path, unitBase: d.m!.iommu === u ? base : undefined })));
    const drhd = t.structures.find((x) => x.kind === 'drhd' && x.base === base);
    lines.push([span(`  behind it, per firmware (ACPI DMAR: DRHD at ${hex(base)}${drhd && drhd.kind === 'drhd' ? (drhd.flags & ACPI_DMAR_INCLUDE_ALL ? ', INCLUDE_PCI_ALL' : `, ${drhd.scopes.length} device scopes`) : ''}):`, 'dim')]);
    for (const r of rows) {
      const claimed = drhdFor(t, r.bdf)?.base === base;
      behind.push({ device: r.device, bdf: formatBdf(r.bdf), sid: hex((r.bdf.bus << 8) | (r.bdf.dev << 3) | r.bdf.fn, 4), claimed, path: r.path, note: r.note });
    }
    if (s.diagnosis) {
      lines.push(...table([{ header: 'device', style: 'name' }, { header: 'pci' }, { header: 'source-id', style: 'num' }, { header: 'DMAR says' }], behind.map((b) => [b.device, b.bdf, b.sid, b.claimed ? 'behind it' : 'not covered']), { indent: '    ' }));
      lines.push([span(`    ${DIAGNOSIS_NOTE}`, 'dim')]);
    } else lines.push(...table([{ header: 'device', style: 'name' }, { header: 'pci' }, { header: 'source-id', style: 'num' }, { header: 'DMAR says' }, { header: 'what its DMA really does', style: 'dim' }], behind.map((b) => [b.device, b.bdf, b.sid, b.claimed ? 'behind it' : 'not covered', b.note]), { indent: '    ' }));
  }
  return {
    lines,
    data: {
      name: u.name,
      kind: u.kind,
      base,
      enabled: tes,
      registers: { VER: ver, CAP: cap, ECAP: ecap, GSTS: gsts >>> 0, RTADDR: rtaddr, IRTA: irta, FSTS: fsts >>> 0, FECTL: fectl >>> 0, IQA: iqa, IQH: iqh, IQT: iqt },
      cap: { sagaw, widths, mgaw: c('MGAW') + 1, nd: c('ND'), domainIds: ndoms, frcdOffset: u.frcdOffset, faultRecords: u.faultRecordCount, sllps, flags: setFlags(V.CAP_LAYOUT, cap) },
      ecap: { flags: setFlags(V.ECAP_LAYOUT, ecap), iotlbOffset: u.iotlbOffset },
      gsts: gstsFlags,
      rootTable: gsts & V.DMA_GSTS_RTPS ? u.rootTable : null,
      irTable: gsts & V.DMA_GSTS_IRTPS ? { base: u.irTable.base, entries: u.irTable.entries, eime: u.irTable.eime } : null,
      fsts: { flags: fstsFlags, fri: (fsts >> 8) & 0xff, pendingRecords: pending },
      iq: gsts & V.DMA_GSTS_QIES ? { base: iqa & ~0xfffn, size: iqSize, head: qh, tail: qt } : null,
      iotlb: tlb,
      contextCache: ctxCache.map((x) => ({ sid: x.sid, did: x.did, tt: x.tt })),
      devices: behind,
    },
  };
}

export const infoIommuCommand: CommandSpec = {
  name: 'info iommu',
  summary: 'Each IOMMU: registers (CR0, GBPA, stream table, queues), IOTLB, and the devices firmware puts behind it',
  help: [
    'Read from the hardware, not from the driver: CR0 (SMMUEN, EVENTQEN, CMDQEN), GBPA (what happens',
    'to all traffic while SMMUEN=0), STRTAB_BASE/STRTAB_BASE_CFG, the command and event queues with',
    'their PROD/CONS pointers, the IOTLB and configuration cache, and the devices firmware\'s iommu-map',
    'puts behind the SMMU with their StreamIDs — next to what each device\'s DMA really goes through.',
    'For an Intel VT-d unit: VER, CAP and ECAP decoded, GSTS, RTADDR, IRTA, FSTS, FECTL, the invalidation',
    'queue (IQA, IQH, IQT), the IOTLB and context cache, and the devices the firmware\'s DMAR table claims.',
    'Works before boot too (then the registers hold their reset values).',
  ].join('\n'),
  examples: ['info iommu'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot'],
  args: [],
  mutates: false,
  run(s) {
    const lines: Line[] = [];
    const data: unknown[] = [];
    for (const i of s.machine.iommus) {
      if (i instanceof SmmuV3) {
        const v = smmuView(s, i);
        lines.push(...v.lines);
        data.push(v.data);
      } else if (i instanceof VtdUnit) {
        const v = vtdView(s, i);
        lines.push(...v.lines);
        data.push(v.data);
      } else {
        lines.push([span(i.name, 'head'), span(`: ${i.kind} (no register view in this lab yet)`)]);
        data.push({ name: i.name, kind: i.kind });
      }
    }
    if (!s.machine.iommus.length) lines.push(plain(`${s.system.preset.name} has no IOMMU: every device's DMA address is a physical address`));
    return { kind: 'iommus', data: { iommus: data }, lines };
  },
};

export const infoGroupsCommand: CommandSpec = {
  name: 'info groups',
  summary: 'IOMMU groups: number, devices and default-domain type (/sys/kernel/iommu_groups)',
  help: [
    'What `ls /sys/kernel/iommu_groups/*/devices` and `cat /sys/kernel/iommu_groups/*/type` show:',
    'each group, its devices (dev_name, and the driver\'s name for it) and the type string of its',
    'default domain in the booted kernel\'s era (DMA, DMA-FQ, identity, ...). A group is the smallest set',
    'of devices the IOMMU can isolate from each other; VFIO assigns whole groups.',
  ].join('\n'),
  examples: ['info groups'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot'],
  args: [],
  mutates: false,
  run(s, a) {
    const linux = needLinux(s, a.all);
    const groups = infoGroups_(linux);
    const lines: Line[] = [];
    for (const g of groups) {
      for (const d of g.devices) lines.push([span(`/sys/kernel/iommu_groups/${g.group}/devices/`, 'dim'), span(d.name, 'name'), span(d.alias ? `  (${d.alias})` : '', 'dim')]);
      lines.push([span(`/sys/kernel/iommu_groups/${g.group}/type: `, 'dim'), span(g.type, 'num')]);
    }
    if (!groups.length) lines.push(plain('no IOMMU groups: no device is behind an IOMMU the kernel drives'));
    else if (linux.core.config.version < 500) {
      lines.push(plain(''), [span(`(the sysfs type file does not exist on ${linux.core.config.version >= 400 ? 'v4.x' : 'this'} kernels: it came with the v5.x series, release unverified; the type shown is the default domain's)`, 'dim')]);
      // intel_iommu_domain_alloc returned NULL for anything but IOMMU_DOMAIN_UNMANAGED in v4.x.
      if (linux.intel && linux.intel.privateDomains() && linux.core.policy.type !== 'identity') lines.push([span("(intel-iommu in v4.x made no default domains, hence 'unknown': intel_iommu_domain_alloc made only unmanaged ones, and intel_dma_ops gives each device a private domain at its first DMA mapping; 'vtd context DEV' shows it)", 'dim')]);
    }
    return { kind: 'iommu-groups', data: { groups }, lines };
  },
};

/** inspect/iommu.ts infoGroups with each device's driver alias added. */
function infoGroups_(linux: ReturnType<typeof needLinux>): { group: number; type: string; devices: { name: string; alias?: string }[] }[] {
  return infoGroups(linux.core).map((g) => ({ group: g.group, type: g.type, devices: g.devices.map((n) => ({ name: n, alias: linux.devices.find((d) => d.name === n)?.alias })) }));
}

export const infoResvCommand: CommandSpec = {
  name: 'info resv',
  summary: "A device's IOMMU group reserved regions, exactly as /sys/kernel/iommu_groups/N/reserved_regions",
  help: [
    'Prints the content of the group\'s reserved_regions file: one line per region, start and inclusive',
    'end as 0x%016llx, then the type (direct, direct-relaxable, reserved, msi). Both hardware MSI windows',
    'and the SMMU\'s software-managed MSI window (IOMMU_RESV_SW_MSI) print as "msi"; --json keeps them apart.',
    'PCI host-bridge windows are not reserved regions: `iova DEV` shows them carved out of the allocator.',
  ].join('\n'),
  examples: ['info resv vda', 'info resv 00:00.0'],
  exampleMachine: 'arm-fastmodel',
  exampleSetup: ['boot'],
  args: [{ name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' }],
  mutates: false,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const r = infoResv(k.linux.core, k.dev);
    if (r.group === undefined) {
      throw new CommandError(`${devLabel(k.dev)} is in no IOMMU group: it is not behind an IOMMU the kernel drives`, a.span.dev, 'a device behind an IOMMU', "'info groups' lists the groups");
    }
    const lines: Line[] = [[span(`/sys/kernel/iommu_groups/${r.group}/reserved_regions`, 'head'), span(` (the group of ${k.ref.name}, ${k.dev.name}):`, 'dim')]];
    for (const l of r.text.split('\n').filter(Boolean)) lines.push(plain(l));
    if (!r.text) lines.push(styled('(empty)', 'dim'));
    // arm_smmu_get_resv_regions and the reserved_regions file came with Eric Auger's
    // "KVM PCIe/MSI passthrough on ARM/ARM64" series (patches of Jan 2017, merged for v4.11).
    // intel_iommu_get_resv_regions (the MSI range and RMRRs as regions) came in the same series.
    const intel = k.linux.intel !== undefined && k.dev.iommuName === k.linux.intel.name;
    if (k.linux.core.config.version < 411) lines.push(styled(`(the reserved_regions file and the ${intel ? "intel-iommu driver's reserved regions" : "SMMU's MSI region"} arrived in v4.11; a ${k.linux.era} kernel has neither: shown as a v4.11+ kernel would)`, 'dim'));
    return { kind: 'resv-regions', data: r, lines };
  },
};

export const iovaCommand: CommandSpec = {
  name: 'iova',
  summary: "A device's IOVA allocator: allocated ranges and the holes reserved in its DMA domain",
  help: [
    'The IOVA space of the device\'s DMA domain as dma-iommu\'s allocator (iova.c) holds it, in address',
    'order: ranges in use by mappings, ranges cached for reuse (rcache), ranges waiting in the flush',
    'queue, and holes reserved at domain set-up (PCI host-bridge windows; reserved regions other than',
    'the software MSI window). Allocations come top-down below the DMA mask, 32-bit first for PCI',
    'devices. A device in an identity domain, or not behind an IOMMU, has no allocator.',
  ].join('\n'),
  examples: ['iova vda'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot vda.iommu_platform=on'],
  args: [{ name: 'dev', kind: 'device', desc: 'the device: vda or a PCI address' }],
  mutates: false,
  run(s, a) {
    const k = kernelDevice(s, a.v.dev as string, a.span.dev);
    const info = iovaInfo(k.linux.core, k.linux.iommuDma, k.dev, IOVA_ROWS);
    const lines: Line[] = [[span(`IOVA space of ${devLabel(k.dev)}`, 'head'), span(`: ${info.domain}`)]];
    const resv = infoResv(k.linux.core, k.dev).regions;
    if (info.granule === undefined) {
      if (k.dev.dmaOps === 'direct') lines.push([span('  the device uses dma-direct: its DMA addresses are physical addresses')]);
    } else {
      lines.push([span(`  granule ${info.granule} bytes, first usable pfn ${hex(info.startPfn ?? 0)}, DMA mask ${hex(k.dev.dmaMask)} (coherent ${hex(k.dev.coherentDmaMask)})`, 'dim')]);
      lines.push(...table([{ header: 'start', style: 'addr' }, { header: 'end', style: 'addr' }, { header: 'pages', align: 'right' }, { header: 'what' }], info.rows.map((r) => [hex(r.start, 16), hex(r.end, 16), String(r.pages), KIND_TEXT[r.kind] ?? r.kind]), { indent: '  ' }));
      if (!info.rows.length) lines.push(plain('  (empty)'));
      if (info.truncated) lines.push(plain(`  ... ${info.total - info.rows.length} more ranges (a stated limit of ${IOVA_ROWS} rows)`));
      for (const r of msiPageRuns(info.msiPages)) {
        if (r.n === 1) lines.push(plain(`  MSI doorbell page: IOVA ${hex(r.iova)} -> PA ${hex(r.phys)}`));
        // x86: cookie_init_hw_msi_region records every page of the hardware MSI window as IOVA = PA (256 pages for 0xfee00000-0xfeefffff)
        else lines.push(plain(`  MSI doorbell pages: IOVA ${hex(r.iova)}-${hex(r.iova + BigInt(r.n) * 4096n - 1n)} -> PA ${hex(r.phys)}-${hex(r.phys + BigInt(r.n) * 4096n - 1n)} (${r.n} pages)`));
      }
    }
    for (const r of resv) {
      lines.push([span(`  reserved region ${hex(r.start, 16)}-${hex(r.end, 16)} ${r.type}${r.kind === 'sw-msi' ? ' (software MSI window: NOT carved out of kernel DMA domains; only VFIO puts doorbells there)' : ''}`, 'dim')]);
    }
    if (k.ref.master.path === 'bypass' && info.granule !== undefined && !s.diagnosis) {
      lines.push([span(`  note: ${k.ref.name}'s DMA really bypasses the IOMMU: an IOVA from this allocator would reach the physical page of the same number`, 'warn')]);
    }
    return { kind: 'iova', data: { ...info, rowsText: info.rows.map(iovaRowText), reserved: resv }, lines };
  },
};

/** Consecutive doorbell pages with consecutive IOVAs (4 KiB apart), as runs; a lone page is a run of 1. */
function msiPageRuns(pages: { phys: u64; iova: u64 }[]): { phys: u64; iova: u64; n: number }[] {
  const out: { phys: u64; iova: u64; n: number }[] = [];
  for (const p of pages) {
    const last = out[out.length - 1];
    if (last && p.iova === last.iova + BigInt(last.n) * 4096n && p.phys === last.phys + BigInt(last.n) * 4096n) last.n++;
    else out.push({ ...p, n: 1 });
  }
  return out;
}

const KIND_TEXT: Record<string, string> = {
  reserved: 'reserved (carved out at domain set-up)',
  allocated: 'allocated (mapped)',
  cached: 'free, cached in an rcache magazine',
  'flush-queue': 'unmapped, waiting in the flush queue',
};

export const iommuCommands: CommandSpec[] = [infoIommuCommand, infoGroupsCommand, infoResvCommand, iovaCommand];
