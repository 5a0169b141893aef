// Destination mode of x86 device interrupts by era (issue 11 item 5), from
// arch/x86/kernel/apic/apic_flat_64.c: up to 8 CPUs in xAPIC mode the flat
// driver routes in logical mode (dest 1 << cpu); before v4.15 (a31e58e129f7)
// with lowest-priority delivery, an unmanaged interrupt to every online CPU;
// from v6.12 (838ba7733e4e) 64-bit kernels are physical only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { x86ApicRouting, apicDestField, compatMsiMsg } from '../../src/kernel/intel-irq-remapping.ts';
import { decodeMsi, lapicTarget } from '../../src/machine/vtd/ir.ts';
import { booted, ok } from '../commands/helpers.ts';

test('routing by era, CPU count and x2APIC', () => {
  assert.equal(x86ApicRouting(409, 4, false), { logical: true, lowestPrio: true });
  assert.equal(x86ApicRouting(414, 4, false), { logical: true, lowestPrio: true });
  assert.equal(x86ApicRouting(415, 4, false), { logical: true, lowestPrio: false });
  assert.equal(x86ApicRouting(601, 8, false), { logical: true, lowestPrio: false });
  assert.equal(x86ApicRouting(601, 9, false), { logical: false, lowestPrio: false });
  assert.equal(x86ApicRouting(612, 4, false), { logical: false, lowestPrio: false });
  assert.equal(x86ApicRouting(601, 4, true), { logical: false, lowestPrio: false });
});

test('destination fields: physical id, 1 << cpu, and the online mask for an unmanaged lowest-priority interrupt', () => {
  const phys = x86ApicRouting(615, 4, false);
  const flat = x86ApicRouting(601, 4, false);
  const old = x86ApicRouting(409, 4, false);
  assert.is(apicDestField(phys, 3, true, 4), 3);
  assert.is(apicDestField(flat, 3, true, 4), 0x08);
  assert.is(apicDestField(flat, 0, false, 4), 0x01);
  assert.is(apicDestField(old, 2, true, 4), 0x04);
  assert.is(apicDestField(old, 0, false, 4), 0x0f);
});

test('compatibility-format messages carry DM, RH and the delivery mode of the era', () => {
  const flat = compatMsiMsg(0x41, 0x02, x86ApicRouting(601, 4, false));
  let d = decodeMsi(BigInt(flat.addressLo), flat.data);
  assert.equal([d.dm, d.rh, d.dest, d.dlm, d.vector], [true, false, 0x02, 0, 0x41]);
  const old = compatMsiMsg(0x41, 0x0f, x86ApicRouting(409, 4, false));
  d = decodeMsi(BigInt(old.addressLo), old.data);
  assert.equal([d.dm, d.rh, d.dest, d.dlm], [true, true, 0x0f, 1]);
  const phys = compatMsiMsg(0x41, 2, x86ApicRouting(615, 4, false));
  d = decodeMsi(BigInt(phys.addressLo), phys.data);
  assert.equal([d.dm, d.rh, d.dest, d.dlm], [false, false, 2, 0]);
});

test('lapicTarget resolves a logical flat destination to the APIC whose logical id matches', () => {
  assert.is(lapicTarget(0x04, true).apic, 2);
  assert.is(lapicTarget(2, false).apic, 2);
  assert.is(lapicTarget(0x0f, true, true).apic, 0);
  assert.match(lapicTarget(0x0f, true, true).text, 'APICs 0,1,2,3; lowest priority');
  assert.is(lapicTarget(0, true).apic, -1);
});

type IrteRow = { vector: number; dest: number; dm: string; dlm: string; device?: string };
const irtes = (preset: string, args = ''): IrteRow[] => (ok(booted(preset, args), 'ir table').data as { rows: IrteRow[] }).rows;

test('booted: 6.1 writes logical IRTEs (1 << cpu), 4.9 lowest priority, 6.15 physical', () => {
  const v61 = irtes('x86-q35-vtd').filter((e) => e.device === 'vda');
  assert.equal(v61.map((e) => [e.dm, e.dlm]), v61.map(() => ['logical', 'fixed']));
  // virtio-blk's per-CPU queue vectors (managed): one logical id each.
  assert.equal(v61.slice(1).map((e) => e.dest), [0x01, 0x02, 0x04, 0x08]);
  const v49 = irtes('x86-q35-vtd-2015').filter((e) => e.device === 'nic0');
  assert.ok(v49.length > 0);
  for (const e of v49) assert.equal([e.dm, e.dlm, e.dest], ['logical', 'lowest priority', 0x0f]);
  const v615 = irtes('x86-q35-vtd', 'kernel=6.x').filter((e) => e.device === 'vda');
  assert.equal(v615.map((e) => e.dm), v615.map(() => 'physical'));
  assert.equal(v615.slice(1).map((e) => e.dest), [0, 1, 2, 3]);
});

test.run();
