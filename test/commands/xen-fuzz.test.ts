/**
 * Property tests of the Xen machine: any sequence of grant-table hypercalls
 * and xen commands returns a value (never throws, never an internal error),
 * and a refused one leaves the hypervisor, both kernels and memory exactly
 * as they were (validate, then mutate).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createSession } from '../../src/commands/index.ts';
import type { Session } from '../../src/commands/session.ts';
import { xenArm } from '../../src/scenarios/xen-arm.ts';
import { xenWorldOf } from '../../src/kernel/xen/world.ts';
import { GNTST_NAMES, XEN_ERRNO_NAMES, DOMID_SELF } from '../../src/machine/xen/abi.ts';

const ser = (v: unknown): string => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Map ? [...x] : x instanceof Uint8Array ? [...x] : x));

/** Everything a refused hypercall must leave alone. */
function snapshot(w: NonNullable<ReturnType<typeof xenWorldOf>>, mem: () => string): string {
  const x = w.xen.saveState() as { domains: unknown; freed: unknown; heapNext: unknown };
  return ser([x.domains, x.freed, x.heapNext, w.back.saveState(), w.front.saveState(), mem()]);
}

const small = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: -2, max: 600 }), fc.constantFrom(DOMID_SELF, 0x7fff, 0xffff));
const op = fc.oneof(
  fc.record({ k: fc.constant('grant'), gfn: fc.integer({ min: 0x40000, max: 0x40010 }), ro: fc.boolean() }),
  fc.record({ k: fc.constant('end'), ref: small }),
  fc.record({ k: fc.constant('map'), ref: small, dom: fc.integer({ min: 0, max: 3 }), flags: fc.integer({ min: 0, max: 31 }), host: fc.integer({ min: 0x4f000, max: 0x4f003 }) }),
  fc.record({ k: fc.constant('unmap'), handle: small, host: fc.integer({ min: 0x4f000, max: 0x4f003 }), bus: fc.constantFrom(0n, 0x607ff000n, 0x1000n) }),
  fc.record({ k: fc.constant('setup'), caller: fc.integer({ min: 0, max: 2 }), dom: small, n: fc.integer({ min: 0, max: 70 }) }),
  fc.record({ k: fc.constant('query'), caller: fc.integer({ min: 0, max: 2 }), dom: small }),
  fc.record({ k: fc.constant('copy'), caller: fc.integer({ min: 0, max: 1 }), src: small, dst: small, sdom: small, ddom: small, soff: fc.integer({ min: 0, max: 4100 }), len: fc.integer({ min: 0, max: 4100 }), flags: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ k: fc.constant('flush'), a: fc.constantFrom(0x607ff000n, 0x40000000n, 0x7f001000n, 0x1234n, 0x4f000000n), off: fc.integer({ min: 0, max: 4200 }), len: fc.integer({ min: 0, max: 4200 }), op: fc.constantFrom(0, 1, 2, 3, 4, 0x80000001) }),
);

test('no hypercall sequence throws; a refused one changes nothing', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
      const sys = xenArm.build(new Map());
      const w = xenWorldOf(sys.machine)!;
      const mem = () => ser([w.xen.domains().flatMap((d) => d.grantFrames.map((f) => w.machine.memory.read(BigInt(f) << 12n, 64)))]);
      for (const o of ops) {
        const before = snapshot(w, mem);
        let status = 0;
        switch (o.k) {
          case 'grant': { const r = w.front.grantForeignAccess(0, o.gfn, o.ro); status = r.ok ? 0 : r.status; break; }
          case 'end': { const r = w.front.endForeignAccess(o.ref); status = r.ok ? 0 : r.status; break; }
          case 'map': status = w.xen.mapGrantRef(0, { host_addr: BigInt(o.host) << 12n, flags: o.flags, ref: o.ref, dom: o.dom }).status; break;
          case 'unmap': status = w.xen.unmapGrantRef(0, { host_addr: BigInt(o.host) << 12n, dev_bus_addr: o.bus, handle: o.handle }).status; break;
          case 'setup': status = w.xen.setupTable(o.caller, o.dom, o.n).status; break;
          case 'query': status = w.xen.querySize(o.caller, o.dom).status; break;
          case 'copy': status = w.xen.copy(o.caller, { source: { u: o.src, domid: o.sdom, offset: o.soff }, dest: { u: o.dst, domid: o.ddom, offset: 0 }, len: o.len, flags: o.flags }).status; break;
          case 'flush': status = w.xen.cacheFlush(0, { a: o.a, offset: o.off, length: o.len, op: o.op }); break;
        }
        if (status !== 0) {
          assert.ok(GNTST_NAMES[status] !== undefined || XEN_ERRNO_NAMES[status] !== undefined || [-12, -16, -22, -28].includes(status), `unknown status ${status}`);
          assert.is(snapshot(w, mem), before, `${ser(o)} returned ${status} but changed state`);
        }
      }
    }),
    { numRuns: 200, seed: 2014 },
  );
});

const WORDS = ['xen', 'list', 'grants', 'entry', 'p2m', 'm2p', 'grant', 'endaccess', 'map', 'unmap', 'query', 'dmamap', 'dmaunmap', 'sda', 'read', 'write', 'blkread', 'trace', 'clear', 'undo', 'ro=yes', 'flags=1', 'flags=7', 'ops=dma-direct', 'from_device', 'to_device', 'as=1', 'count=9', 'dom=0'];
const NUMS = ['0', '1', '8', '9', '0x40800', '0x4f000000', '0x607ff000', '0x607ff', '512', '4K', '0xffffffffffffffff', '-1', '0x12zz', '(', '"s"'];
const tok = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...WORDS) }, { weight: 3, arbitrary: fc.constantFrom(...NUMS) }, { weight: 1, arbitrary: fc.string({ maxLength: 4 }) });
const line = fc.array(tok, { minLength: 1, maxLength: 6 }).map((t) => (t[0] === 'xen' ? t : ['xen', ...t]).join(' '));

const fingerprint = (s: Session): string => {
  const w = xenWorldOf(s.machine)!;
  return ser([snapshot(w, () => ''), w.swiotlb.saveState(), s.machine.memory.pageCount(), s.machine.trace.records().length, s.undoDepth]);
};

test('any xen command line on xen-arm: an outcome, no internal error, failures change nothing', () => {
  const s = createSession('xen-arm');
  for (const l of ['xen grant 0x40800', 'xen map 8']) assert.ok(s.execute(l).ok);
  fc.assert(
    fc.property(line, (l) => {
      const before = fingerprint(s);
      const o = s.execute(l);
      if (!o.ok) {
        assert.not.match(o.error.message, 'internal error', `${l}: ${o.error.message}`);
        assert.is(fingerprint(s), before, `failed command changed the machine: ${l}`);
      }
    }),
    { numRuns: 400, seed: 1106 },
  );
});

test.run();
