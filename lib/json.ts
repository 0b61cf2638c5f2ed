/**
 * JSON text for records that hold keyed data in `Map`s (status codes, repository names).
 *
 * Keys from input never become keys of a plain object inside rivulet: a key such as `__proto__`
 * or `constructor` in a plain object either changes its prototype or collides with inherited
 * members. Maps are written as JSON objects only at the edge, here, through objects without a
 * prototype, where every key is an ordinary property.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Map ? mapToRecord(v) : v));
}

/** A prototype-less object with the Map's entries, keys as strings, in the Map's order. */
export function mapToRecord(map: ReadonlyMap<unknown, unknown>): Record<string, unknown> {
  const record: Record<string, unknown> = Object.create(null);
  for (const [key, value] of map) record[String(key)] = value;
  return record;
}
