/**
 * JSON text for records that hold keyed data in `Map`s (status codes, repository names).
 *
 * Keys from input never become keys of a plain object inside rivulet: a key such as `__proto__`
 * or `constructor` in a plain object either changes its prototype or collides with inherited
 * members. Maps are written straight to JSON text here, at the edge, as objects whose members
 * keep the Map's order. (A JavaScript object would move integer-like keys such as status codes
 * to the front in numeric order, so `{"200":1,"404":2,"null":3,"401":4}` could not be written.)
 */
export function toJson(value: unknown): string {
  return write(value) ?? 'null';
}

/** The JSON text of `value`, or undefined where JSON.stringify would leave the member out. */
function write(value: unknown): string | undefined {
  if (value instanceof Map) {
    const members: string[] = [];
    for (const [key, v] of value) {
      const text = write(v);
      if (text !== undefined) members.push(`${JSON.stringify(String(key))}:${text}`);
    }
    return `{${members.join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => write(v) ?? 'null').join(',')}]`;
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    const members: string[] = [];
    for (const [key, v] of Object.entries(value)) {
      const text = write(v);
      if (text !== undefined) members.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) as string | undefined;
}
