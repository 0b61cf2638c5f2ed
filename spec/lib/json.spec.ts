import { toJson } from 'rivulet';

describe('toJson', () => {
  it('writes Maps as JSON objects, nested and in insertion order', () => {
    const counts = new Map([['200', 3], ['404', 1]]);
    expect(toJson({ day: '2004-03-07', counts, nested: [new Map([[1, new Map([['a', true]])]])] })).toBe(
      '{"day":"2004-03-07","counts":{"200":3,"404":1},"nested":[{"1":{"a":true}}]}',
    );
  });

  it('keeps hostile keys as ordinary properties', () => {
    const text = toJson(new Map([['__proto__', 1], ['constructor', 2], ['toString', 3]]));
    expect(text).toBe('{"__proto__":1,"constructor":2,"toString":3}');
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });
});
