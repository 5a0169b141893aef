/**
 * clone (src/machine/state.ts) is written out for speed (issue 15) and must
 * give what structuredClone gives: random plain data (objects, arrays with
 * holes, Maps, Sets, bigints, typed arrays, Dates, class instances) copied
 * both ways compare equal, nothing mutable is shared with the original, an
 * object reached twice stays one object, cycles survive, and functions and
 * symbols are refused with structuredClone's error.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { clone } from '../../src/machine/state.ts';

class Point {
  constructor(
    public x: number,
    public y: bigint,
  ) {}
}

const leaf = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 8 }),
  fc.date({ noInvalidDate: true }),
  fc.tuple(fc.integer(), fc.bigInt()).map(([x, y]) => new Point(x, y)),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object'), tie('map'), tie('set')),
  array: fc.array(tie('value'), { maxLength: 5 }).chain((a) => fc.integer({ min: 0, max: 3 }).map((holes) => (holes ? Object.assign(new Array(a.length + holes), a) : a))),
  object: fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 5 }),
  map: fc.array(fc.tuple(fc.oneof(fc.string(), fc.integer(), fc.bigInt()), tie('value')), { maxLength: 4 }).map((es) => new Map(es)),
  set: fc.array(fc.oneof(fc.string(), fc.integer(), fc.bigInt()), { maxLength: 4 }).map((xs) => new Set(xs)),
}));

test('random plain data: clone equals structuredClone, and shares nothing mutable', () => {
  fc.assert(
    fc.property(value, (v) => {
      const a = clone(v);
      const b = structuredClone(v);
      assert.equal(a, b);
      if (typeof v === 'object' && v !== null) assert.ok(a !== v, 'a new object');
      if (Array.isArray(v)) {
        assert.is((a as unknown[]).length, v.length);
        for (let i = 0; i < v.length; i++) assert.is(i in (a as unknown[]), i in v, `hole at ${i}`);
      }
    }),
    { numRuns: 500, seed: 15 },
  );
});

test('class instances come back as plain objects, as structuredClone makes them', () => {
  const p = clone({ p: new Point(1, 2n) }).p;
  assert.is(Object.getPrototypeOf(p), Object.prototype);
  assert.equal(p, { x: 1, y: 2n });
  assert.is(Object.getPrototypeOf(clone(Object.create(null))), Object.prototype);
});

test('an object reached twice stays one object; cycles survive; the copy is deep', () => {
  const shared = { n: 1n, list: [1, 2] };
  const v: { a: typeof shared; b: typeof shared; m: Map<string, typeof shared>; self?: unknown } = { a: shared, b: shared, m: new Map([['k', shared]]) };
  v.self = v;
  const c = clone(v);
  assert.ok(c.a === c.b && c.a === c.m.get('k'), 'aliasing kept');
  assert.ok(c.self === c, 'cycle kept');
  c.a.list.push(3);
  assert.equal(shared.list, [1, 2], 'nothing shared with the original');
});

test('functions and symbols are refused as structuredClone refuses them', () => {
  for (const bad of [{ f: () => 1 }, [Symbol('x')], () => 1]) {
    let mine: unknown;
    let theirs: unknown;
    try {
      clone(bad);
    } catch (e) {
      mine = (e as Error).name;
    }
    try {
      structuredClone(bad);
    } catch (e) {
      theirs = (e as Error).name;
    }
    assert.ok(theirs, 'structuredClone refuses it');
    assert.is(mine, theirs);
  }
});

test.run();
