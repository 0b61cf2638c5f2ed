import fc from 'fast-check';
import { deserialize, serialize } from 'node:v8';
import { decodeFlat, encodeFlat, FlatDecodeError, FlatEncodeError } from '../../../lib/state/flatCodec';

const tagOf = (v: object): string => Object.prototype.toString.call(v);

/**
 * What a value is, as nested arrays of strings that are equal exactly when the values are the
 * same data: numbers by Object.is, strings as they are, containers with their kind, order, holes
 * and shared identity (a container met again is `ref:<n>`, n counted in walking order). Values
 * from any realm compare alike (V8's deserialize builds in Node's, jest runs specs in another).
 */
function canon(value: unknown): unknown {
  const seen = new Map<object, number>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'number') return Object.is(v, -0) ? 'number:-0' : `number:${v}`;
    if (typeof v === 'string') return ['string', v];
    if (typeof v !== 'object' || v === null) return `${typeof v}:${String(v)}`;
    const id = seen.get(v);
    if (id !== undefined) return `ref:${id}`;
    seen.set(v, seen.size);
    if (tagOf(v) === '[object Date]') return ['date', String((v as Date).getTime())];
    if (tagOf(v) === '[object Map]') return ['map', [...(v as Map<unknown, unknown>)].map(([k, x]) => [walk(k), walk(x)])];
    if (tagOf(v) === '[object Set]') return ['set', [...(v as Set<unknown>)].map(walk)];
    if (Array.isArray(v)) return ['array', v.length, Array.from({ length: v.length }, (_, i) => (i in v ? walk(v[i]) : 'hole'))];
    const proto: unknown = Object.getPrototypeOf(v);
    const ordinary = proto !== null && Object.getPrototypeOf(proto) === null;
    return ['object', ordinary, Object.keys(v).map((k) => [k, walk((v as Record<string, unknown>)[k])])];
  };
  return walk(value);
}

const flatRoundTrip = (v: unknown): unknown => decodeFlat(encodeFlat(v));
const v8RoundTrip = (v: unknown): unknown => deserialize(serialize(v));

/** Own data properties, so that `__proto__` is a key like any other, as JSON.parse makes it. */
function objectOf(entries: [string, unknown][], proto: object | null = Object.prototype): object {
  const o = Object.create(proto) as object;
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  return o;
}

const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '0', '7', '-1', '1.5', ''));
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  // Any UTF-16 code units, lone surrogates included.
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 8 }),
  fc.string({ minLength: 60, maxLength: 300 }),
);
const leaf = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32, -(2 ** 53), Number.MAX_VALUE, 5e-324),
  fc.bigInt(),
  text,
  fc.date({ noInvalidDate: false }),
);
const { value } = fc.letrec<{ value: unknown; array: unknown[]; sparse: unknown[]; object: object; bare: object; map: Map<unknown, unknown>; set: Set<unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('sparse'), tie('object'), tie('bare'), tie('map'), tie('set')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  sparse: fc.sparseArray(tie('value'), { maxLength: 8, maxNumElements: 3 }),
  object: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((entries) => objectOf(entries)),
  bare: fc.array(fc.tuple(key, tie('value')), { maxLength: 3 }).map((entries) => objectOf(entries, null)),
  map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
  set: fc.array(tie('value'), { maxLength: 4 }).map((members) => new Set(members)),
}));

/** Values whose containers are shared and point at each other, cycles included. */
const tangled = fc
  .record({
    pool: fc.array(value, { minLength: 1, maxLength: 6 }),
    picks: fc.array(fc.nat(), { maxLength: 8 }),
    links: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 8 }),
  })
  .map(({ pool: generated, picks, links }) => {
    const pool = structuredClone(generated); // links change the values: not the generator's own
    links.forEach(([from, to], n) => {
      const container = pool[from % pool.length];
      const target = pool[to % pool.length];
      if (typeof container !== 'object' || container === null || tagOf(container) === '[object Date]') return;
      if (Array.isArray(container)) container.push(target);
      else if (tagOf(container) === '[object Map]') (container as Map<unknown, unknown>).set(`link${n}`, target);
      else if (tagOf(container) === '[object Set]') (container as Set<unknown>).add(target);
      else (container as Record<string, unknown>)[`link${n}`] = target;
    });
    return picks.map((i) => pool[i % pool.length]);
  });

const DEPTH = 100_000;
type Kind = 'object' | 'array' | 'map' | 'set';
const KINDS: Kind[] = ['object', 'array', 'map', 'set'];

/** `bottom` inside `depth` containers, built from the inside out (no recursion). */
function nest(depth: number, kindAt: (level: number) => Kind): unknown {
  let v: unknown = 'bottom';
  for (let level = 0; level < depth; level++) {
    const kind = kindAt(level);
    v = kind === 'object' ? { child: v } : kind === 'array' ? [v] : kind === 'map' ? new Map([['child', v]]) : new Set([v]);
  }
  return v;
}

/** How many containers wrap the innermost value, and that value, walked without recursion. */
function unnest(v: unknown): [number, unknown] {
  let depth = 0;
  for (;;) {
    if (Array.isArray(v)) v = v[0];
    else if (typeof v === 'object' && v !== null && tagOf(v) === '[object Map]') v = (v as Map<string, unknown>).get('child');
    else if (typeof v === 'object' && v !== null && tagOf(v) === '[object Set]') v = [...(v as Set<unknown>)][0];
    else if (typeof v === 'object' && v !== null) v = (v as { child: unknown }).child;
    else return [depth, v];
    depth++;
  }
}

function encodeError(v: unknown, root?: string): FlatEncodeError {
  try {
    encodeFlat(v, root);
  } catch (error) {
    if (error instanceof FlatEncodeError) return error;
    throw error;
  }
  throw new Error('encodeFlat accepted the value');
}

describe('flat codec', () => {
  it('round-trips arbitrary values exactly as V8 does', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(canon(flatRoundTrip(v))).toEqual(canon(v8RoundTrip(v)));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps shared references and cycles as V8 does', () => {
    fc.assert(
      fc.property(tangled, (v) => {
        expect(canon(flatRoundTrip(v))).toEqual(canon(v8RoundTrip(v)));
      }),
      { numRuns: 100 },
    );
  });

  it('restores the identity of shared containers and of containers inside themselves', () => {
    const shared: Record<string, unknown> = { name: 'shared' };
    shared.self = shared;
    const map = new Map<unknown, unknown>([[shared, shared]]);
    map.set('map', map);
    const set = new Set<unknown>([shared]);
    set.add(set);
    const list: unknown[] = [shared];
    list.push(list);
    const when = new Date(0);
    const back = flatRoundTrip({ a: shared, b: [shared], map, set, list, when, again: when }) as Record<string, any>;
    expect(back.a.self).toBe(back.a);
    expect(back.b[0]).toBe(back.a);
    expect([...back.map.keys()][0]).toBe(back.a);
    expect(back.map.get(back.a)).toBe(back.a);
    expect(back.map.get('map')).toBe(back.map);
    expect(back.set.has(back.a) && back.set.has(back.set)).toBe(true);
    expect(back.list[1]).toBe(back.list);
    expect(back.again).toBe(back.when);
    expect(back.when.getTime()).toBe(0);
  });

  it('keeps holes, numbers, bigints and strings (lone surrogates too) exactly', () => {
    // eslint-disable-next-line no-sparse-arrays
    const holes = [1, , undefined, , 'x', ,];
    const numbers = [-0, 0, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 0.1 + 0.2, 5e-324, Number.MAX_VALUE];
    const bigints = [0n, -1n, 2n ** 200n, -(3n ** 99n)];
    const strings = ['', 'ascii', 'é', '日本', '\u{1F600}', '\uD800', 'a\uDFFFb', 'x'.repeat(100) + 'é', 'y'.repeat(10_000)];
    const back = flatRoundTrip({ holes, numbers, bigints, strings }) as { holes: unknown[]; numbers: number[]; bigints: bigint[]; strings: string[] };
    expect(back.holes).toHaveLength(6);
    expect([0, 1, 2, 3, 4, 5].map((i) => i in back.holes)).toEqual([true, false, true, false, true, false]);
    numbers.forEach((n, i) => expect(Object.is(back.numbers[i], n)).toBe(true));
    expect(back.bigints).toEqual(bigints);
    expect(back.strings).toEqual(strings);
  });

  it.each(['object', 'array', 'map'] as const)('encodes and decodes %ss nested 100,000 levels deep', (kind) => {
    const bytes = encodeFlat(nest(DEPTH, () => kind));
    expect(unnest(decodeFlat(bytes))).toEqual([DEPTH, 'bottom']);
  });

  it('encodes and decodes 100,000 levels of objects, arrays, Maps and Sets in turn, deep in a Map key', () => {
    const deep = nest(DEPTH, (level) => KINDS[level % 4]);
    const back = flatRoundTrip(new Map([[deep, 'value']])) as Map<unknown, unknown>;
    expect(unnest([...back.keys()][0])).toEqual([DEPTH, 'bottom']);
    expect([...back.values()]).toEqual(['value']);
  });

  it('keeps __proto__ and constructor keys as own data, polluting no prototype', () => {
    const input = JSON.parse('{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"nested":[{"__proto__":{"isAdmin":true}}]}') as Record<string, any>;
    const back = flatRoundTrip(new Map([['event', input]])) as Map<string, Record<string, any>>;
    const event = back.get('event')!;
    expect(Object.getPrototypeOf(event)).toBe(Object.prototype);
    expect(Object.keys(event)).toEqual(['__proto__', 'constructor', 'nested']);
    expect(Object.getOwnPropertyDescriptor(event, '__proto__')).toEqual({ value: { polluted: 'yes' }, writable: true, enumerable: true, configurable: true });
    expect(event.polluted).toBeUndefined();
    expect(event.constructor).toEqual({ prototype: { polluted: 'yes' } });
    expect(Object.getPrototypeOf(event.nested[0])).toBe(Object.prototype);
    expect(event.nested[0].isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
  });

  it('restores objects without a prototype as ordinary objects', () => {
    const bare = objectOf([['a', 1]], null);
    const back = flatRoundTrip(bare) as object;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(back).toEqual({ a: 1 });
  });

  it('refuses a function, naming where it is', () => {
    const state = { recent: new Map([['a/b', [1, 2, { raw: { payload: () => 1 } }]]]) };
    const error = encodeError(state, 'state');
    expect(error.path).toBe('state.recent.get("a/b")[2].raw.payload');
    expect(error.message).toMatch(/^state\.recent\.get\("a\/b"\)\[2\]\.raw\.payload is a function \(payload\), which cannot be encoded/);
  });

  it('names what it refuses and where: symbols, class instances, typed arrays, Map keys, Set members, odd keys, the root', () => {
    class Point {
      x = 1;
    }
    const keyed = new Map<unknown, unknown>([[{ id: 1 }, { inner: [Symbol('s')] }]]);
    expect(encodeError({ list: [Symbol('s')] }, 'state')).toMatchObject({ path: 'state.list[0]', what: 'a symbol (Symbol(s))' });
    expect(encodeError({ at: new Point() }, 'state')).toMatchObject({ path: 'state.at', what: 'an instance of Point' });
    expect(encodeError({ bytes: new Uint8Array(2) }, 'state')).toMatchObject({ path: 'state.bytes', what: 'an instance of Uint8Array' });
    expect(encodeError({ boxed: Object(1) as object })).toMatchObject({ path: 'value.boxed', what: 'a boxed primitive' });
    expect(encodeError(new Map([[() => 1, 1]]), 'm')).toMatchObject({ path: 'm.keys()[0]' });
    expect(encodeError(new Set([1, () => 1]), 's')).toMatchObject({ path: 's.values()[1]' });
    expect(encodeError({ 'a b': { 'c-d': [() => 1] } }, 'o')).toMatchObject({ path: 'o["a b"]["c-d"][0]' });
    expect(encodeError(keyed, 'k')).toMatchObject({ path: 'k.values()[0].inner[0]' });
    expect(encodeError(new Map([[7, new Map([[-0, () => 1]])]]), 'n')).toMatchObject({ path: 'n.get(7).get(0)' });
    expect(encodeError(() => 1, 'state')).toMatchObject({ path: 'state', what: 'a function' });
  });

  it('shortens the path to a value thousands of levels deep', () => {
    const deep = nest(5000, () => 'object') as { child: unknown };
    let bottom = deep;
    while (typeof bottom.child === 'object') bottom = bottom.child as { child: unknown };
    bottom.child = function callback() {};
    const error = encodeError({ event: deep }, 'state');
    expect(error.path).toBe(`state.event${'.child'.repeat(7)}…(${5000 + 1 - 20} more)…${'.child'.repeat(12)}`);
    expect(error.what).toBe('a function (callback)');
  });

  it('refuses bytes it did not write, with a FlatDecodeError', () => {
    const bytes = encodeFlat({ list: [1, 'two', 3n], when: new Date(5) });
    expect(() => decodeFlat(bytes.subarray(0, bytes.length - 1))).toThrow(FlatDecodeError);
    expect(() => decodeFlat(Buffer.concat([bytes, Buffer.from([0])]))).toThrow(/1 bytes after the end/);
    const otherVersion = Buffer.from(bytes);
    otherVersion[0] = 99;
    expect(() => decodeFlat(otherVersion)).toThrow(/version 99/);
    expect(() => decodeFlat(Buffer.alloc(0))).toThrow(/cut short/);
  });

  it('reads any bytes to a value or a FlatDecodeError, never another failure', () => {
    const version = encodeFlat(null).subarray(0, 1);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (tail) => {
        try {
          decodeFlat(Buffer.concat([version, tail]));
        } catch (error) {
          expect(error).toBeInstanceOf(FlatDecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
