// QEMU 6.0+ q35 DMAR (hw/i386/acpi-build.c build_dmar_q35, "Add explicit
// scope in DMAR table"): DRHD flags 0, the IOAPIC scope, then one scope per
// device on the root bus in devfn order -- the host bridge 00:00.0 included.
// The 2015 board keeps the old INCLUDE_PCI_ALL table.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeDmar, ACPI_DMAR_SCOPE_TYPE_ENDPOINT, ACPI_DMAR_SCOPE_TYPE_IOAPIC } from '../../src/machine/dmar.ts';
import { createSession } from '../../src/commands/index.ts';

function drhdOf(preset: string) {
  const s = createSession(preset);
  const fw = s.system.extras.firmware;
  assert.ok(fw?.dmar, 'the preset has a DMAR');
  const t = decodeDmar(fw!.dmar!.bytes);
  assert.ok(t.checksumOk);
  const d = t.structures.find((x) => x.kind === 'drhd');
  assert.ok(d && d.kind === 'drhd');
  return d as Extract<typeof d, { kind: 'drhd' }>;
}

test('x86-q35-vtd (QEMU 7.2): flags 0x0, IOAPIC scope, then 00:00.0, 00:01.0, 00:02.0, 00:1f.0, 00:1f.2, 00:1f.3', () => {
  const d = drhdOf('x86-q35-vtd');
  assert.is(d.flags, 0);
  assert.is(d.base, 0xfed90000n);
  assert.is(d.scopes[0]!.type, ACPI_DMAR_SCOPE_TYPE_IOAPIC);
  const eps = d.scopes.slice(1);
  assert.ok(eps.every((x) => x.type === ACPI_DMAR_SCOPE_TYPE_ENDPOINT && x.startBus === 0 && x.path.length === 1));
  assert.equal(eps.map((x) => `${x.path[0]!.dev.toString(16).padStart(2, '0')}.${x.path[0]!.fn}`), ['00.0', '01.0', '02.0', '1f.0', '1f.2', '1f.3']);
});

test('x86-q35-vtd-2015: one DRHD with INCLUDE_PCI_ALL (flags 0x1) and only the IOAPIC scope', () => {
  const d = drhdOf('x86-q35-vtd-2015');
  assert.is(d.flags, 1);
  assert.equal(d.scopes.map((x) => x.type), [ACPI_DMAR_SCOPE_TYPE_IOAPIC]);
});

test.run();
