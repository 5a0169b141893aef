/**
 * `xen ...`: the Xen-on-Arm machine (preset xen-arm) in Xen's and Linux's
 * words. Looking: `xen list`, `xen grants DOM` (the grant table, like
 * `xl debug-keys g` plus the shared entries), `xen entry DOM REF`,
 * `xen p2m DOM GFN`, `xen m2p MFN`, `xen read DOM ADDR LEN` (a domain's CPU
 * reads its memory), `xen trace` (PFN -> MFN -> bus address, bounces, each
 * cache operation, each device access). Doing: `xen grant GFN` and
 * `xen endaccess REF` in the domU; `xen map REF`, `xen unmap HANDLE`,
 * `xen dmamap`, `xen dmaunmap` in dom0; `xen query DOM`; `xen sda read|write`
 * (the disk controller's DMA); `xen blkread` (the whole split-driver path).
 *
 * Every command validates first and changes nothing when it fails; a
 * hypercall that Xen refuses is a failed command that names the GNTST_*
 * status Xen returned.
 */
import { hex, type u64 } from '../../machine/u64.ts';
import { plain, span, table, fieldLines, type Line } from '../../inspect/view.ts';
import { hexdump } from '../../inspect/hexdump.ts';
import { grantTable, grantEntryFields, xenDmaTrace, traceRecordText } from '../../inspect/xen.ts';
import { xenWorldOf, type XenWorld, DOMU_ID } from '../../kernel/xen/world.ts';
import { XEN_ERAS } from '../../kernel/xen/era.ts';
import { GNTMAP_host_map, GNTMAP_readonly, XENFEAT_NAMES, gtfNames, gntstName, gntmapNames, GNTST_okay } from '../../machine/xen/abi.ts';
import { GUEST_GNTTAB_BASE } from '../../machine/xen/xen.ts';
import { DMA_MAPPING_ERROR } from '../../kernel/types.ts';
import { CommandError, type SourceSpan } from '../errors.ts';
import type { CommandSpec, ParsedArgs } from '../registry.ts';
import type { Session } from '../session.ts';
import { DIR_CHOICES, dirName, parseDir } from '../kernel-device.ts';

/** Stated limits. */
const READ_MAX = 4096;
const DMA_MAX = 64n << 10n;

function world(s: Session, a: ParsedArgs): XenWorld {
  const w = xenWorldOf(s.machine);
  if (!w) throw new CommandError(`the '${s.system.preset.name}' machine has no Xen`, a.all, undefined, "'machine xen-arm' switches to the Xen machine");
  return w;
}

function domArg(w: XenWorld, a: ParsedArgs, name = 'dom'): number {
  const v = a.v[name] as u64;
  const d = w.xen.domain(Number(v));
  if (v > 0xffffn || !d) throw new CommandError(`no domain ${v}`, a.span[name], w.xen.domains().map((x) => `${x.domid} (${x.name})`).join(', '), "'xen list' shows the domains");
  return d.domid;
}

/** The Xen console line a failed hypercall printed (gdprintk), if any. */
const xenSays = (w: XenWorld, before: number): string => {
  const l = w.xen.consoleLog();
  return w.xen.consoleLines > before ? `; ${l[l.length - 1]}` : '';
};

const num = (a: ParsedArgs, n: string): number => Number(a.v[n] as u64);
const EXAMPLE = { exampleMachine: 'xen-arm' };

const list: CommandSpec = {
  name: 'xen list',
  summary: 'The domains (like xl list), Xen features and the dom0 kernel era',
  help: 'Shows each domain with its RAM as the p2m has it (GFN range and the machine frames behind it), its grant-table frames, and the XENFEAT_* bits Xen advertises to dom0.',
  examples: ['xen list'],
  ...EXAMPLE,
  args: [],
  mutates: false,
  run(s, a) {
    const w = world(s, a);
    const rows = w.xen.domains().map((d) => {
      const ext = d.p2m.extents.map((e) => `gfn ${hex(e.gfn)}..${hex(e.gfn + e.count - 1)} on mfn ${hex(e.mfn)}..${hex(e.mfn + e.count - 1)}${e.order === 'down' ? ' top down' : e.gfn === e.mfn ? ' (1:1)' : ''}`).join('; ');
      return [d.name, String(d.domid), `${(d.p2m.extents.reduce((n, e) => n + e.count, 0) * 4) >> 10}M`, ext, `${d.grantFrames.length}/${d.maxGrantFrames}`];
    });
    const era = XEN_ERAS[w.options.era];
    const lines: Line[] = [
      ...table([{ header: 'Name' }, { header: 'ID', align: 'right' }, { header: 'Mem', align: 'right' }, { header: 'p2m' }, { header: 'grant frames' }], rows),
      plain(''),
      plain(`XENFEAT: ${w.features.map((f) => `${f} ${XENFEAT_NAMES[f]}`).join(', ')}`),
      plain(`GNTTABOP_cache_flush: ${w.xen.hasCacheFlush ? 'implemented' : 'not implemented'}; dom0 uses it: ${w.swiotlb.hypercallCflush ? 'yes' : 'no'}`),
      plain(`dom0 kernel: ${era.what}`),
      plain(`sda: ${w.dev.coherent ? 'dma-coherent' : 'not dma-coherent'}, dma-ranges offset ${hex(w.dev.dmaOffset)}`),
    ];
    return { kind: 'xen-list', data: { domains: w.xen.domains().map((d) => ({ domid: d.domid, name: d.name, grantFrames: d.grantFrames })), features: w.features, era: w.options.era }, lines };
  },
};

const grants: CommandSpec = {
  name: 'xen grants',
  summary: "A domain's grant table read from its frames in memory, with Xen's active entries (like xl debug-keys g)",
  help: 'Lists every entry that is not all zeros, decoded from the 8-byte grant_entry_v1 records in the grant frames (machine memory), and, for pinned entries, the active entry Xen keeps: who mapped it, the machine frame and the pin counts.',
  examples: ['xen grants 1'],
  ...EXAMPLE,
  args: [{ name: 'dom', kind: 'u64', desc: 'domain id (1 is the domU)' }],
  mutates: false,
  run(s, a) {
    const w = world(s, a);
    const dom = domArg(w, a);
    const g = grantTable(w.xen, dom);
    const lines: Line[] = [plain(`grant-table for d${dom} (v1): ${g.frames.length} frame(s) of ${g.max} max at mfn ${g.frames.map((f) => hex(f)).join(', ')}; ${g.frames.length * 512} entries`)];
    if (!g.rows.length) lines.push(plain('  (every entry is GTF_invalid and zero)'));
    else {
      lines.push(
        ...table(
          [{ header: '[ref]' }, { header: 'entry @' }, { header: 'raw' }, { header: 'dom', align: 'right' }, { header: 'gfn' }, { header: 'flags' }, { header: 'active (Xen)' }],
          g.rows.map((r) => [`[${hex(r.ref, 3)}]`, hex(r.addr), hex(r.raw, 16), String(r.domid), hex(r.frame), `${hex(r.flags, 2)} ${r.flagNames.join('|')}`, r.active ? `d${r.active.domid} mfn ${hex(r.active.mfn)} ${r.active.pin}` : '-']),
          { indent: '  ' },
        ),
      );
    }
    const data = { dom, frames: g.frames, rows: g.rows.map((r) => ({ ...r, flagsText: r.flagNames.join('|') })) };
    return { kind: 'xen-grants', data, lines, focus: g.frames.length ? { addr: BigInt(g.frames[0]!) << 12n, len: 64 } : undefined };
  },
};

const entry: CommandSpec = {
  name: 'xen entry',
  summary: 'One grant entry: its 8 bytes in memory and their fields',
  help: 'Decodes grant_entry_v1 {u16 flags; u16 domid; u32 frame} at the machine address Xen and the guest both use.',
  examples: ['xen entry 1 8'],
  ...EXAMPLE,
  args: [{ name: 'dom', kind: 'u64', desc: 'domain id' }, { name: 'ref', kind: 'u64', desc: 'grant reference' }],
  mutates: false,
  run(s, a) {
    const w = world(s, a);
    const dom = domArg(w, a);
    const ref = num(a, 'ref');
    const e = grantEntryFields(w.xen, dom, ref);
    if (!e) throw new CommandError(`d${dom} has no grant reference ${ref}: its table has ${w.xen.nrGrantEntries(dom)} entries`, a.span.ref, `0..${w.xen.nrGrantEntries(dom) - 1}`);
    const flags = Number(e.raw & 0xffffn);
    const gpa = GUEST_GNTTAB_BASE + BigInt(ref * 8);
    const lines: Line[] = [
      plain(`d${dom} grant ref ${ref} at machine ${hex(e.addr)} (guest ${hex(gpa)}): ${hex(e.raw, 16)}`),
      ...fieldLines(e.fields.map((f) => ({ name: f.name, text: f.name === 'flags' ? `${hex(flags, 4)} ${grantFlagsText(flags)}` : f.text, desc: f.desc, bits: `[${f.hi}:${f.lo}]` }))),
    ];
    return { kind: 'xen-entry', data: { dom, ref, addr: e.addr, raw: e.raw, flags, domid: Number((e.raw >> 16n) & 0xffffn), frame: Number(e.raw >> 32n) }, lines, focus: { addr: e.addr, len: 8 } };
  },
};

const grantFlagsText = (f: number): string => gtfNames(f).join('|');

const p2m: CommandSpec = {
  name: 'xen p2m',
  summary: "A domain's p2m entry: GFN -> MFN (and what kind of page)",
  help: "Looks up the frame in Xen's p2m for the domain. For dom0 it also shows Linux's own view: pfn_to_bfn (the foreign p2m Linux keeps for granted pages).",
  examples: ['xen p2m 1 0x40800', 'xen p2m 0 0x4f000'],
  ...EXAMPLE,
  args: [{ name: 'dom', kind: 'u64', desc: 'domain id' }, { name: 'gfn', kind: 'u64', desc: 'guest frame number (address >> 12)' }],
  mutates: false,
  run(s, a) {
    const w = world(s, a);
    const dom = domArg(w, a);
    const gfn = num(a, 'gfn');
    const e = w.xen.p2m(dom, gfn);
    const what = e.kind === 'foreign' ? `foreign: d${e.owner}'s frame, granted as ref ${e.ref}` : e.kind === 'grant_table' ? 'a grant-table frame' : e.kind === 'ram' ? 'own RAM' : 'nothing (a hole: never populated or ballooned out)';
    const lines: Line[] = [plain(`d${dom} gfn ${hex(gfn)} -> ${e.mfn < 0 ? 'INVALID_MFN' : `mfn ${hex(e.mfn)}`}  (${what})`)];
    let bfn: number | undefined;
    if (dom === 0) {
      bfn = w.back.pfnToBfn(gfn);
      lines.push(plain(`Linux dom0: pfn_to_bfn(${hex(gfn)}) = ${hex(bfn)}${bfn === gfn ? ' (1:1: not in the foreign p2m)' : ' (from the foreign p2m)'}`));
    }
    return { kind: 'xen-p2m', data: { dom, gfn, mfn: e.mfn, type: e.kind, owner: e.owner, ref: e.ref, bfn }, lines };
  },
};

const m2p: CommandSpec = {
  name: 'xen m2p',
  summary: 'Who owns a machine frame, at which GFN, and every GFN that maps it',
  help: 'The m2p relation: the owner and its GFN, plus every grant mapping of the frame in other domains. A frame granted twice is mapped at two dom0 PFNs: the machine address alone cannot say which one is "the" page.',
  examples: ['xen m2p 0x607ff'],
  ...EXAMPLE,
  args: [{ name: 'mfn', kind: 'u64', desc: 'machine frame number' }],
  mutates: false,
  run(s, a) {
    const w = world(s, a);
    const mfn = num(a, 'mfn');
    const r = w.xen.m2p(mfn);
    const lines: Line[] = [
      plain(r.owner === undefined ? `mfn ${hex(mfn)}: ${r.kind === 'free' ? 'free (given back to Xen by a balloon driver)' : 'owned by no domain'}` : `mfn ${hex(mfn)}: owned by d${r.owner}${r.gfn !== undefined ? ` at gfn ${hex(r.gfn)}` : ''} (${r.kind})`),
    ];
    for (const m of r.mappings) lines.push(plain(`  mapped by d${m.domid} at gfn ${hex(m.gfn)} (grant ref ${m.entry.ref} of d${m.entry.owner})`));
    const identity = r.mappings.some((m) => m.domid === 0 && m.gfn === mfn);
    if (identity) lines.push([span(`  XENFEAT_grant_map_identity: dom0 gfn ${hex(mfn)} == mfn maps it too, so bfn_to_pfn(${hex(mfn)}) reaches the frame`, 'warn')]);
    else if (r.mappings.length > 1) lines.push([span(`  ${r.mappings.length} mappings of one frame: bfn_to_pfn(${hex(mfn)}) cannot return "the" dom0 page`, 'warn')]);
    return { kind: 'xen-m2p', data: { mfn, owner: r.owner, gfn: r.gfn, type: r.kind, mappings: r.mappings.map((m) => ({ domid: m.domid, gfn: m.gfn })) }, lines };
  },
};

const grant: CommandSpec = {
  name: 'xen grant',
  summary: 'In the domU: grant dom0 access to a page (gnttab_grant_foreign_access)',
  help: "The domU's grant-table driver takes the next free reference (refs 0..7 are reserved), writes frame and domid, then flags = GTF_permit_access (| GTF_readonly with ro=yes) into its grant frame in memory.",
  examples: ['xen grant 0x40800', 'xen grant 0x40801 ro=yes'],
  ...EXAMPLE,
  args: [{ name: 'gfn', kind: 'u64', desc: "the domU's frame to grant" }],
  opts: [{ name: 'ro', kind: 'enum', choices: ['yes', 'no'], desc: 'read-only grant (GTF_readonly)' }],
  mutates: true,
  run(s, a) {
    const w = world(s, a);
    const gfn = num(a, 'gfn');
    if (w.xen.p2m(DOMU_ID, gfn).kind !== 'ram') throw new CommandError(`gfn ${hex(gfn)} is not RAM of d${DOMU_ID}`, a.span.gfn, "a frame of the domU's RAM", "'xen list' shows its GFN range");
    const r = w.front.grantForeignAccess(0, gfn, a.v.ro === 'yes');
    if (!r.ok) throw new CommandError(r.message, a.all);
    const e = w.xen.readEntry(DOMU_ID, r.ref)!;
    return { kind: 'xen-grant', data: { ref: r.ref, gfn, flags: e.flags }, lines: [plain(`d${DOMU_ID}: gfn ${hex(gfn)} granted to d0 as ref ${r.ref}: flags ${hex(e.flags, 4)} ${grantFlagsText(e.flags)}`)] };
  },
};

const endaccess: CommandSpec = {
  name: 'xen endaccess',
  summary: 'In the domU: end a grant (gnttab_end_foreign_access_ref); refused while dom0 has it mapped',
  help: 'Clears the entry unless Xen still has GTF_reading/GTF_writing set in it, i.e. while the backend has the page mapped.',
  examples: ['xen endaccess 8'],
  ...EXAMPLE,
  exampleSetup: ['xen grant 0x40800'],
  args: [{ name: 'ref', kind: 'u64', desc: 'grant reference' }],
  mutates: true,
  run(s, a) {
    const w = world(s, a);
    const r = w.front.endForeignAccess(num(a, 'ref'));
    if (!r.ok) throw new CommandError(r.message, a.span.ref, undefined, r.status === -16 ? "'xen unmap HANDLE' in dom0 first" : undefined);
    return { kind: 'xen-endaccess', data: { ref: num(a, 'ref') }, lines: [plain(`d${DOMU_ID}: grant ref ${num(a, 'ref')} ended`)] };
  },
};

const map: CommandSpec = {
  name: 'xen map',
  summary: 'In dom0: map a domU grant (GNTTABOP_map_grant_ref) at a ballooned page',
  help: [
    'gnttab_map_refs for one grant: host_addr is the next ballooned-out dom0 page, flags GNTMAP_host_map (| GNTMAP_readonly with ro=yes);',
    'flags=N sends those GNTMAP_* bits instead (GNTMAP_device_map 1, host_map 2, readonly 4, ...). Shows the handle and dev_bus_addr Xen returns,',
    'and the dom0 PFN whose p2m entry now points at the foreign machine frame. A status other than GNTST_okay is an error naming it.',
  ].join('\n'),
  examples: ['xen map 8', 'xen map 8 ro=yes', 'xen map 8 flags=2'],
  ...EXAMPLE,
  exampleSetup: ['xen grant 0x40800'],
  args: [{ name: 'ref', kind: 'u64', desc: 'grant reference of the domU' }],
  opts: [
    { name: 'ro', kind: 'enum', choices: ['yes', 'no'], desc: 'map read-only (GNTMAP_readonly)' },
    { name: 'flags', kind: 'u64', desc: 'GNTMAP_* flags to send as they are' },
    { name: 'dom', kind: 'u64', desc: 'the granting domain (default 1)' },
  ],
  mutates: true,
  run(s, a) {
    const w = world(s, a);
    const dom = a.v.dom === undefined ? DOMU_ID : Number(a.v.dom as u64);
    const ro = a.v.ro === 'yes';
    const flags = a.v.flags === undefined ? GNTMAP_host_map | (ro ? GNTMAP_readonly : 0) : Number((a.v.flags as u64) & 0xffffffffn);
    const logLen = w.xen.consoleLines;
    const r = w.back.mapRef(dom, num(a, 'ref'), ro, flags);
    if (!r.ok) throw new CommandError(r.message + xenSays(w, logLen), a.v.flags !== undefined ? a.span.flags : a.span.ref, undefined, r.status < 0 && r.status >= -12 ? "'xen grants 1' shows the domU's entries; 'help xen map' the flags" : undefined);
    const m = r.mapping;
    const lines: Line[] = [
      plain(`GNTTABOP_map_grant_ref {host_addr ${hex(BigInt(m.pfn) << 12n)}, flags ${gntmapNames(flags)}, ref ${m.ref}, dom ${m.dom}} -> ${gntstName(GNTST_okay)}`),
      plain(`  handle ${m.handle}, dev_bus_addr ${hex(BigInt(m.bfn) << 12n)}`),
      plain(`  dom0 pfn ${hex(m.pfn)} -> mfn ${hex(m.bfn)} (p2m and Linux's foreign p2m); pfn != mfn`),
    ];
    return { kind: 'xen-map', data: { handle: m.handle, pfn: m.pfn, mfn: m.bfn, dev_bus_addr: BigInt(m.bfn) << 12n, host_addr: BigInt(m.pfn) << 12n }, lines };
  },
};

const unmap: CommandSpec = {
  name: 'xen unmap',
  summary: 'In dom0: unmap a grant by handle (GNTTABOP_unmap_grant_ref)',
  help: 'gnttab_unmap_refs for one handle: Xen removes the p2m entry and, with the last pin gone, clears GTF_reading/GTF_writing in the granting domain\'s entry; the page goes back to the balloon.',
  examples: ['xen unmap 0'],
  ...EXAMPLE,
  exampleSetup: ['xen grant 0x40800', 'xen map 8'],
  args: [{ name: 'handle', kind: 'u64', desc: 'grant handle from xen map' }],
  mutates: true,
  run(s, a) {
    const w = world(s, a);
    const h = a.v.handle as u64;
    const logLen = w.xen.consoleLines;
    const r = w.back.unmapHandle(h > 0xffffffffn ? -1 : Number(h));
    if (!r.ok) throw new CommandError(r.message + xenSays(w, logLen), a.span.handle, w.back.mappings().length ? `one of ${w.back.mappings().map((m) => m.handle).join(', ')}` : 'no grant is mapped');
    return { kind: 'xen-unmap', data: { handle: Number(h), pfn: r.mapping.pfn }, lines: [plain(`GNTTABOP_unmap_grant_ref handle ${h} -> GNTST_okay; dom0 pfn ${hex(r.mapping.pfn)} is a hole again`)] };
  },
};

const query: CommandSpec = {
  name: 'xen query',
  summary: 'GNTTABOP_query_size for a domain, as dom0 or as another domain (as=ID)',
  help: 'Returns nr_frames and max_nr_frames. Xen\'s default XSM policy lets a domain query its own table and dom0 any table; anything else is GNTST_permission_denied.',
  examples: ['xen query 1', 'xen query 1 as=1'],
  ...EXAMPLE,
  args: [{ name: 'dom', kind: 'u64', desc: 'domain id' }],
  opts: [{ name: 'as', kind: 'u64', desc: 'the calling domain (default 0)' }],
  mutates: false,
  run(s, a) {
    const w = world(s, a);
    const caller = a.v.as === undefined ? 0 : Number(a.v.as as u64);
    if (!w.xen.domain(caller)) throw new CommandError(`no domain ${caller}`, a.span.as);
    const r = w.xen.querySize(caller, Number(a.v.dom as u64));
    if (r.status !== GNTST_okay) throw new CommandError(`GNTTABOP_query_size {dom ${a.v.dom}} from d${caller}: ${gntstName(r.status)} (${r.status})`, a.span.dom);
    return { kind: 'xen-query', data: r, lines: [plain(`GNTTABOP_query_size {dom ${a.v.dom}} -> GNTST_okay: nr_frames ${r.nr_frames}, max_nr_frames ${r.max_nr_frames}`)] };
  },
};

function dirArg(a: ParsedArgs) {
  return parseDir(a.v.dir as string);
}
const OPS = ['swiotlb-xen', 'dma-direct'] as const;

const dmamap: CommandSpec = {
  name: 'xen dmamap',
  summary: "In dom0: dma_map_page for the disk controller through swiotlb-xen (or ops=dma-direct)",
  help: [
    'Maps a dom0 physical buffer for the disk controller sda and shows the steps: PFN -> BFN (Linux p2m) -> bus address,',
    'whether swiotlb-xen used the page directly or bounced it and why, and the cache maintenance for a non-coherent device',
    '(by address for dom0 pages, GNTTABOP_cache_flush per Xen page for foreign ones). ops=dma-direct is what dom0 would do without Xen.',
  ].join('\n'),
  examples: ['xen dmamap 0x4f000000 512 from_device', 'xen dmamap 0x4f000000 512 from_device ops=dma-direct'],
  ...EXAMPLE,
  exampleSetup: ['xen grant 0x40800', 'xen map 8'],
  args: [
    { name: 'addr', kind: 'u64', desc: 'dom0 physical address of the buffer' },
    { name: 'len', kind: 'u64', desc: 'length in bytes' },
    { name: 'dir', kind: 'enum', choices: DIR_CHOICES, desc: 'DMA direction' },
  ],
  opts: [{ name: 'ops', kind: 'enum', choices: OPS, desc: "dom0's DMA ops (default swiotlb-xen)" }],
  mutates: true,
  run(s, a) {
    const w = world(s, a);
    const pa = a.v.addr as u64;
    const len = a.v.len as u64;
    checkBuf(w, pa, len, a.span.addr, a.span.len);
    const ops = (a.v.ops as (typeof OPS)[number] | undefined) ?? 'swiotlb-xen';
    const since = w.swiotlb.events().length;
    const r = w.swiotlb.mapPage(w.dev, pa, Number(len), dirArg(a), ops);
    if (r.dma === DMA_MAPPING_ERROR) throw new CommandError(`dma_map_page failed: ${r.why}`, a.all);
    const lines: Line[] = [plain(`dma_map_page(sda, ${hex(pa)}, ${len}, ${dirName(dirArg(a))}) = ${hex(r.dma)}`), ...w.swiotlb.events().slice(since).map((e) => plain(`  ${e.text}`))];
    return { kind: 'xen-dmamap', data: { dma: r.dma, bounced: r.bounced, ops }, lines };
  },
};

const dmaunmap: CommandSpec = {
  name: 'xen dmaunmap',
  summary: 'In dom0: dma_unmap_page with only the bus address, as drivers call it',
  help: 'swiotlb-xen gets the bus address alone: xen_dma_to_phys is bfn_to_pfn, the identity on Arm, so a foreign frame comes back as its MFN, not as the dom0 page; cache maintenance for a non-coherent device goes to Xen, and a bounce slot is copied back and freed.',
  examples: ['xen dmaunmap 0x607ff000 512 from_device'],
  ...EXAMPLE,
  args: [
    { name: 'bus', kind: 'u64', desc: 'the DMA address dmamap returned' },
    { name: 'len', kind: 'u64', desc: 'length in bytes' },
    { name: 'dir', kind: 'enum', choices: DIR_CHOICES, desc: 'DMA direction' },
  ],
  opts: [{ name: 'ops', kind: 'enum', choices: OPS, desc: "dom0's DMA ops (default swiotlb-xen)" }],
  mutates: true,
  run(s, a) {
    const w = world(s, a);
    const len = a.v.len as u64;
    if (len === 0n || len > DMA_MAX) throw new CommandError(`length ${len} is outside 1..${DMA_MAX} (a stated limit)`, a.span.len);
    const ops = (a.v.ops as (typeof OPS)[number] | undefined) ?? 'swiotlb-xen';
    const since = w.swiotlb.events().length;
    w.swiotlb.unmapPage(w.dev, a.v.bus as u64, Number(len), dirArg(a), ops);
    const lines = w.swiotlb.events().slice(since).map((e) => plain(e.text));
    return { kind: 'xen-dmaunmap', data: {}, lines };
  },
};

function checkBuf(w: XenWorld, pa: u64, len: u64, ps?: SourceSpan, ls?: SourceSpan): void {
  if (len === 0n || len > DMA_MAX) throw new CommandError(`length ${len} is outside 1..${DMA_MAX} (a stated limit)`, ls);
  for (let p = pa >> 12n; p <= (pa + len - 1n) >> 12n; p++) {
    if (w.xen.p2m(0, Number(p)).mfn < 0) throw new CommandError(`dom0 pfn ${hex(p)} has no page behind it (a hole or ballooned out)`, ps, 'a dom0 RAM page or a mapped grant', "'xen map REF' maps a grant at a ballooned page");
  }
}

const sda: CommandSpec = {
  name: 'xen sda',
  summary: 'The disk controller: read sectors into memory (or write them from memory) by DMA at a bus address',
  help: 'The device model moves whole 512-byte sectors with traced DMA at BUS (+ its dma-ranges offset). It does what it is told: the bus address decides which machine page it touches.',
  examples: ['xen sda read 0 0x607ff000'],
  ...EXAMPLE,
  args: [
    { name: 'op', kind: 'enum', choices: ['read', 'write'], desc: 'read: disk -> memory (device writes); write: memory -> disk' },
    { name: 'lba', kind: 'u64', desc: 'first sector' },
    { name: 'bus', kind: 'u64', desc: 'bus address' },
  ],
  opts: [{ name: 'count', kind: 'u64', desc: 'sectors (default 1, at most 8)' }],
  mutates: true,
  run(s, a) {
    const w = world(s, a);
    const count = a.v.count === undefined ? 1 : Number(a.v.count as u64);
    if (count < 1 || count > 8) throw new CommandError(`count ${count} is outside 1..8 (a stated limit)`, a.span.count);
    const first = w.machine.trace.nextSeq;
    const r = a.v.op === 'read' ? w.disk.readSectors(a.v.lba as u64, count, a.v.bus as u64) : w.disk.writeSectors(a.v.lba as u64, count, a.v.bus as u64);
    if (!r.ok) throw new CommandError(`sda: ${r.detail}`, a.span.bus);
    const lines = [plain(`sda: ${r.detail}`), ...w.machine.trace.since(first).map((t) => plain(`  ${traceRecordText(t)}`))];
    return { kind: 'xen-sda', data: { ok: true }, lines };
  },
};

const blkread: CommandSpec = {
  name: 'xen blkread',
  summary: 'The whole split-driver read: blkfront grants a page, blkback maps it, DMA through dom0\'s ops, unmap, end access',
  help: 'Reads sectors into a fresh domU page and prints each step; the data is in the domU page named in the first line (xen read 1 ADDR LEN shows it).',
  examples: ['xen blkread 0', 'xen blkread 0 ops=dma-direct'],
  ...EXAMPLE,
  args: [{ name: 'lba', kind: 'u64', desc: 'first sector' }],
  opts: [{ name: 'ops', kind: 'enum', choices: OPS, desc: "dom0's DMA ops (default swiotlb-xen)" }, { name: 'count', kind: 'u64', desc: 'sectors (default 1, at most 8)' }],
  mutates: true,
  run(s, a) {
    const w = world(s, a);
    const count = a.v.count === undefined ? 1 : Number(a.v.count as u64);
    if (count < 1 || count > 8) throw new CommandError(`count ${count} is outside 1..8 (a stated limit)`, a.span.count);
    const r = w.blkRead(a.v.lba as u64, count, (a.v.ops as (typeof OPS)[number] | undefined) ?? 'swiotlb-xen');
    if (r.gfn === undefined) throw new CommandError(r.steps.join('; '), a.all);
    const lines = [plain(`blkif response ${r.status === 0 ? 'BLKIF_RSP_OKAY' : 'BLKIF_RSP_ERROR'}; data in d${DOMU_ID} gfn ${hex(r.gfn)}`), ...r.steps.map((t) => plain(`  ${t}`))];
    return { kind: 'xen-blkread', data: { status: r.status, gfn: r.gfn, gref: r.gref }, lines };
  },
};

const read: CommandSpec = {
  name: 'xen read',
  summary: "A domain's CPU reads its own memory (guest physical address, through its p2m)",
  help: 'What the guest would see: the bytes at ADDR in the domain\'s address space, read by its CPU (through the caches when the machine models them).',
  examples: ['xen read 1 0x40800000+510 2'],
  ...EXAMPLE,
  args: [{ name: 'dom', kind: 'u64', desc: 'domain id' }, { name: 'addr', kind: 'u64', desc: 'guest physical address' }, { name: 'len', kind: 'u64', desc: `bytes (at most ${READ_MAX})` }],
  mutates: false,
  run(s, a) {
    const w = world(s, a);
    const dom = domArg(w, a);
    const addr = a.v.addr as u64;
    const len = a.v.len as u64;
    if (len === 0n || len > BigInt(READ_MAX)) throw new CommandError(`length ${len} is outside 1..${READ_MAX} (a stated limit)`, a.span.len);
    const out = new Uint8Array(Number(len));
    let done = 0;
    while (done < out.length) {
      const g = addr + BigInt(done);
      const n = Math.min(out.length - done, 4096 - Number(g & 0xfffn));
      const b = dom === DOMU_ID ? w.domuRead(g, n) : w.dom0Read(g, n);
      if (!b) throw new CommandError(`d${dom} has nothing mapped at ${hex(g)} (p2m hole): the guest would take a stage-2 data abort`, a.span.addr);
      out.set(b, done);
      done += n;
    }
    const bytes = [...out].map((b) => b.toString(16).padStart(2, '0')).join('');
    return { kind: 'xen-read', data: { dom, addr, bytes }, lines: hexdump(addr, out) };
  },
};

const trace: CommandSpec = {
  name: 'xen trace',
  summary: "dom0's Xen DMA trace: PFN -> MFN -> bus address, bounces, cache operations and hypercalls, device accesses",
  help: 'Interleaves what swiotlb-xen decided (and the GNTTABOP_cache_flush calls it made) with the machine trace of every device access and CPU bounce copy. `xen trace clear` empties both views.',
  examples: ['xen trace'],
  ...EXAMPLE,
  args: [{ name: 'what', kind: 'enum', choices: ['clear'], desc: 'clear: forget the trace', optional: true }],
  mutates: false,
  run(s, a) {
    const w = world(s, a);
    if (a.v.what === 'clear') {
      w.swiotlb.clearEvents();
      w.machine.trace.clear();
      return { kind: 'xen-trace', data: { items: [] }, lines: [plain('trace cleared')] };
    }
    const items = xenDmaTrace(w.swiotlb.events(), w.machine.trace);
    const lines = items.length ? items.map((i) => plain(i.kind === 'xen' ? `[${i.ev.kind}] ${i.ev.text}` : traceRecordText(i.rec))) : [plain('(empty)')];
    return { kind: 'xen-trace', data: { items: items.map((i) => (i.kind === 'xen' ? { kind: i.ev.kind, text: i.ev.text } : { kind: 'dma', text: traceRecordText(i.rec) })) }, lines };
  },
};

export const xenCommands: CommandSpec[] = [list, grants, entry, p2m, m2p, grant, endaccess, map, unmap, query, dmamap, dmaunmap, sda, blkread, read, trace];
