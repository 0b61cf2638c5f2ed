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
