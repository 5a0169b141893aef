/**
 * `x/FMT dev:DEV:IOVA`: read memory as a device sees it. The address goes
 * through the device's real DMA path: its IOMMU's tables (walked in
 * memory, no IOTLB fill, no fault recorded) when it is translated, or
 * straight to physical memory when it bypasses. A fault is reported, not
 * logged: the device did not really make the access.
 */
import { type u64, hex } from '../../machine/u64.ts';
import { CommandError } from '../errors.ts';
import type { CommandSpec } from '../registry.ts';
import type { XpState } from '../session.ts';
import { examine } from './memory.ts';
import { findMaster } from '../devices.ts';
import { linuxFaultReason } from '../../machine/vtd/fault.ts';

const xState = new WeakMap<object, XpState>();

export const xCommand: CommandSpec = {
  name: 'x',
  summary: 'Examine memory as a device sees it, through its IOMMU: x/FMT dev:DEV:IOVA',
  help: [
    'Formats as in xp (count, x d u o c, b h w g; sticky; no format: hexdump).',
    'The address is a bus address (IOVA) of device DEV. A translated device\'s address goes through',
    'its IOMMU\'s tables in memory; a bypassing device\'s address is physical. A missing',
    'translation is reported here but not logged as an IOMMU event.',
  ].join('\n'),
  examples: ['x/4xg dev:vda:0x40000000', 'x dev:vda:0x40001000'],
  exampleMachine: 'qemu-virt-smmuv3',
  exampleSetup: ['boot'],
  format: 'as xp: count, format (x d u o c), size (b h w g)',
  args: [{ name: 'target', kind: 'word', desc: 'dev:DEV:IOVA, e.g. dev:vda:0xfffff000' }],
  mutates: false,
  run(s, a) {
    const text = a.v.target as string;
    const sp = a.span.target!;
    const m = /^dev:([^:]+):(.+)$/.exec(text);
    if (!m) throw new CommandError(`'${text}' is not dev:DEV:IOVA`, sp, 'dev:DEV:IOVA, e.g. dev:vda:0xfffff000', "for physical memory use 'xp ADDR'");
    const devSpan = { start: sp.start + 4, end: sp.start + 4 + m[1]!.length };
    const addrStart = devSpan.end + 1;
    const dev = findMaster(s, m[1]!, devSpan);
    const iova = s.evalAt(m[2]!, addrStart);
    let st = xState.get(s);
    if (!st) xState.set(s, (st = { count: 1, fmt: 'x', size: 4, mode: 'hexdump' }));
    const master = dev.master;
    const reader = (addr: u64, len: number): Uint8Array => {
      const out = new Uint8Array(len);
      let done = 0;
      while (done < len) {
        const va = addr + BigInt(done);
        const n = Math.min(len - done, 4096 - Number(va & 0xfffn));
        let pa = va;
        if (master.path === 'translated' && master.iommu) {
          const t = master.iommu.translate({ sid: master.sid, addr: va, write: false }, { record: false, useTlb: false });
          if (!t.ok) {
            // VT-d: the reason code and Linux's string for it (REFERENCE.md 3.5), as a DMAR fault line would say.
            const why = master.iommu.kind === 'vtd' && t.fault.code >= 0 ? ` ${hex(t.fault.code, 2)} "${linuxFaultReason(t.fault.code).text}"` : '';
            throw new CommandError(
              `${dev.name} cannot read ${hex(va)}: ${t.fault.name}${why} (${t.fault.detail})`,
              { start: addrStart, end: sp.end },
              `an IOVA mapped for ${dev.name}`,
              `walk ${dev.name} ${hex(va)} shows every level`,
            );
          }
          pa = t.pa;
        }
        out.set(s.machine.memory.read(pa, n), done);
        done += n;
      }
      return out;
    };
    const r = examine(s, iova, { start: addrStart, end: sp.end }, a.fmt, a.all, reader, st);
    return {
      kind: 'device-memory',
      data: { device: dev.name, path: master.path, iova: r.start, len: r.len, bytes: Buffer.from(r.bytes).toString('hex') },
      lines: r.lines,
    };
  },
};
