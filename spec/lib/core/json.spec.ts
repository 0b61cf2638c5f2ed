import fc from 'fast-check';
import { toJson } from 'rivulet';

describe('toJson', () => {
  it('writes Maps as JSON objects in insertion order, integer-like keys included, nested', () => {
    const counts = new Map<string, number>([['200', 143], ['404', 1], ['null', 4], ['401', 48]]);
    expect(toJson({ day: '2004-03-07', counts, nested: [new Map([[1, new Map([['a', true]])]])] })).toBe(
      '{"day":"2004-03-07","counts":{"200":143,"404":1,"null":4,"401":48},"nested":[{"1":{"a":true}}]}',
    );
  });

  it('agrees with JSON.stringify on everything that is not a Map', () => {
    const values: unknown[] = [
      { a: 1, b: 'x"y', c: [1, null, undefined, () => 1], d: undefined, e: { f: new Date(0) }, g: -0, h: NaN },
      [undefined, { toJSON: () => 'custom' }],
      'text\n',
      42,
      null,
      true,
    ];
    for (const value of values) expect(toJson(value)).toBe(JSON.stringify(value));
  });

  it('keeps hostile keys as ordinary members', () => {
    const text = toJson(new Map([['__proto__', 1], ['constructor', 2], ['toString', 3]]));
    expect(text).toBe('{"__proto__":1,"constructor":2,"toString":3}');
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });
});

describe('toJson on hostile values', () => {
  const hostileKey = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', 'toJSON', 'hasOwnProperty', 'prototype'));

  it('agrees with JSON.stringify on arbitrary values without Maps, hostile keys, boxed values and sparse arrays included', () => {
    const values = fc.anything({
      key: hostileKey,
      withBoxedValues: true,
      withDate: true,
      withNullPrototype: true,
      withSparseArray: true,
      withTypedArray: true,
      withObjectString: true,
      withUnicodeString: true,
    });
    const anyValue = fc.oneof(values, fc.jsonValue());
    fc.assert(
      fc.property(anyValue, (value) => {
        const expected = JSON.stringify(value);
        expect(toJson(value)).toBe(expected ?? 'null');
        // Inside a Map, the value is written by toJson's own walk.
        expect(toJson(new Map([['v', value]]))).toBe(expected === undefined ? '{}' : `{"v":${expected}}`);
      }),
      { numRuns: 200 },
    );
    // And so it is when nested deeper than JSON.stringify's own recursion takes.
    const depth = 20_000;
    fc.assert(
      fc.property(anyValue, (value) => {
        let deep: unknown[] = [value];
        for (let i = 1; i < depth; i++) deep = [deep];
        expect(toJson(deep)).toBe(`${'['.repeat(depth)}${JSON.stringify(value) ?? 'null'}${']'.repeat(depth)}`);
      }),
      { numRuns: 15 },
    );
  });

  /** A value nested `depth` levels deep, one container kind per level, and its JSON text built separately. */
  function nested(kinds: ReadonlyArray<'array' | 'object' | 'map'>, key: string, leaf: string): { value: unknown; text: string } {
    let value: unknown = leaf;
    for (let i = kinds.length - 1; i >= 0; i--) {
      const kind = kinds[i];
      if (kind === 'array') value = [value];
      else if (kind === 'map') value = new Map([[key, value]]);
      else value = Object.defineProperty({}, key, { value, enumerable: true });
    }
    const name = JSON.stringify(key);
    const open = kinds.map((kind) => (kind === 'array' ? '[' : `{${name}:`)).join('');
    const close = [...kinds].reverse().map((kind) => (kind === 'array' ? ']' : '}')).join('');
    return { value, text: `${open}${JSON.stringify(leaf)}${close}` };
  }

  it('writes values nested 100,000 levels deep, of every container kind, without running out of stack', () => {
    for (const kind of ['array', 'object', 'map'] as const) {
      const { value, text } = nested(new Array<typeof kind>(100_000).fill(kind), '__proto__', 'leaf');
      expect(toJson(value)).toBe(text);
    }
  });

  it('writes deep values mixing containers, hostile keys and long strings', () => {
    // A short pattern of container kinds repeated to the depth (fast-check keeps arrays short).
    const pattern = fc.array(fc.constantFrom('array' as const, 'object' as const, 'map' as const), { minLength: 1, maxLength: 12 });
    const depth = fc.integer({ min: 1, max: 100_000 });
    const leaf = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ minLength: 65_536, maxLength: 70_000 }));
    fc.assert(
      fc.property(pattern, depth, hostileKey, leaf, (kinds, levels, key, text) => {
        const expected = nested(Array.from({ length: levels }, (_, i) => kinds[i % kinds.length]), key, text);
        expect(toJson(expected.value)).toBe(expected.text);
      }),
      { numRuns: 8 },
    );
  });

  it('writes a 2 MiB string with quotes, control characters and lone surrogates as JSON.stringify does', () => {
    const huge = '"\\\n\u0000\ud800x'.repeat((2 * 1024 * 1024) / 6);
    const text = toJson({ huge, list: [huge] });
    expect(text).toBe(JSON.stringify({ huge, list: [huge] }));
    expect((JSON.parse(text) as { huge: string }).huge === huge).toBe(true);
  });

  it('throws a TypeError on a value that contains itself, and writes a value shared by two members twice', () => {
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = [new Map([['back', loop]])];
    expect(() => toJson(loop)).toThrow(TypeError);
    const shared = { x: 1 };
    expect(toJson([shared, new Map([['again', shared]])])).toBe('[{"x":1},{"again":{"x":1}}]');
  });

  it('passes each toJSON its key, as JSON.stringify does', () => {
    const seen: string[] = [];
    const probe = { toJSON: (key: string) => (seen.push(key), key) };
    expect(toJson({ a: probe, b: [probe, probe], m: new Map([[7, probe]]) })).toBe('{"a":"a","b":["0","1"],"m":{"7":"7"}}');
    expect(seen).toEqual(['a', '0', '1', '7']);
  });
});
