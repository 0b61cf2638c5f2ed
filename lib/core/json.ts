import { randomBytes } from 'node:crypto';

/**
 * JSON text for records that hold keyed data in `Map`s (status codes, repository names).
 *
 * Keys from input never become keys of a plain object inside rivulet: a key such as `__proto__`
 * or `constructor` in a plain object either changes its prototype or collides with inherited
 * members. Maps are written straight to JSON text here, at the edge, as objects whose members
 * keep the Map's order. (A JavaScript object would move integer-like keys such as status codes
 * to the front in numeric order, so `{"200":1,"404":2,"null":3,"401":4}` could not be written.)
 *
 * Everything else is written as `JSON.stringify` writes it (`toJSON`, boxed primitives, members
 * that are undefined, functions or symbols left out, non-finite numbers as `null`), with one
 * difference that matters for input: the nesting is walked with a stack of our own, not by
 * recursion. Records carry raw events from the network (a GitHub event's payload), and a payload
 * nested 10,000 levels deep is a line of 50 KB; `JSON.stringify` and any recursive writer run
 * out of call stack on it, which would end the pipeline. Depth here costs heap, like the text.
 * A value that contains itself throws a TypeError, as `JSON.stringify` does.
 *
 * (A value too deep for the engine's writer is written twice over, so its `toJSON` methods, if
 * any, run twice; values parsed from JSON have none.)
 */
export function toJson(value: unknown): string {
  // The engine's writer is several times faster than a walk in JavaScript, so it writes what it
  // can: everything but the Maps, which it leaves as placeholders filled in below, and anything
  // nested deeper than its stack allows (it throws a RangeError), which is then walked here.
  const maps: unknown[] = [];
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, member: unknown) => {
      if (!(member instanceof Map)) return member;
      maps.push(member);
      return `${MAP_MARK}${maps.length - 1}`;
    });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return new JsonWriter().write(value);
  }
  if (text === undefined) return 'null';
  if (maps.length === 0) return text;
  return text.replace(MAP_PLACEHOLDER, (_match, index: string) => new JsonWriter().write(maps[Number(index)]));
}

/** Unguessable, so that no string from input can pass for a placeholder. */
const MAP_MARK = `rivulet-map-${randomBytes(16).toString('hex')}-`;
const MAP_PLACEHOLDER = new RegExp(`"${MAP_MARK}(\\d+)"`, 'g');

/** A container being written: the members still to go, and whether one was written already. */
interface Frame {
  readonly container: object;
  /** Member names of an object or a Map (Map keys as strings); undefined for an array. */
  readonly keys: readonly string[] | undefined;
  /** A Map's values, in the order of `keys`; undefined to read `container[key]` as we go. */
  readonly values: readonly unknown[] | undefined;
  readonly length: number;
  next: number;
  wrote: boolean;
}

class JsonWriter {
  private readonly out: string[] = [];
  private readonly stack: Frame[] = [];
  /** The containers from the root to the one being written: meeting one again is a cycle. */
  private readonly path = new Set<object>();

  write(root: unknown): string {
    const first = resolve(root, '');
    if (omitted(first)) return 'null';
    this.value(first);
    const { out, stack } = this;
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      if (this.step(frame)) continue;
      out.push(frame.keys === undefined ? ']' : '}');
      stack.pop();
      this.path.delete(frame.container);
    }
    return out.join('');
  }

  /** Writes the next member of `frame`; false once it has none left. */
  private step(frame: Frame): boolean {
    const { out } = this;
    if (frame.keys === undefined) {
      if (frame.next >= frame.length) return false;
      const index = frame.next++;
      if (index > 0) out.push(',');
      const item = resolve((frame.container as readonly unknown[])[index], index);
      if (omitted(item)) out.push('null');
      else this.value(item);
      return true;
    }
    while (frame.next < frame.length) {
      const index = frame.next++;
      const key = frame.keys[index];
      const member = resolve(frame.values === undefined ? (frame.container as Record<string, unknown>)[key] : frame.values[index], key);
      if (omitted(member)) continue;
      out.push(frame.wrote ? ',' : '', JSON.stringify(key), ':');
      frame.wrote = true;
      this.value(member);
      return true;
    }
    return false;
  }

  /** Writes a scalar, or opens a container (its members follow from the loop in `write`). */
  private value(value: unknown): void {
    const { out } = this;
    switch (typeof value) {
      case 'string':
        out.push(JSON.stringify(value));
        return;
      case 'number':
        out.push(Number.isFinite(value) ? String(value) : 'null');
        return;
      case 'boolean':
        out.push(value ? 'true' : 'false');
        return;
      case 'bigint':
        throw new TypeError('Do not know how to serialize a BigInt');
      default:
        break;
    }
    if (value === null) {
      out.push('null');
      return;
    }
    const container = value as object;
    if (this.path.has(container)) throw new TypeError('Converting circular structure to JSON');
    this.path.add(container);
    if (container instanceof Map) {
      const keys: string[] = [];
      const values: unknown[] = [];
      for (const [k, v] of container as Map<unknown, unknown>) {
        keys.push(String(k));
        values.push(v);
      }
      this.stack.push({ container, keys, values, length: keys.length, next: 0, wrote: false });
      out.push('{');
    } else if (Array.isArray(container)) {
      this.stack.push({ container, keys: undefined, values: undefined, length: container.length, next: 0, wrote: false });
      out.push('[');
    } else {
      const keys = Object.keys(container);
      this.stack.push({ container, keys, values: undefined, length: keys.length, next: 0, wrote: false });
      out.push('{');
    }
  }
}

/** What JSON.stringify writes for `value` held under `key`: its `toJSON()`, boxed primitives unboxed. */
function resolve(value: unknown, key: string | number): unknown {
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = toJSON.call(value, String(key)) as unknown;
  }
  if (typeof value === 'object' && value !== null) {
    if (value instanceof Number) return Number(value);
    if (value instanceof String) return String(value);
    if (value instanceof Boolean || value instanceof BigInt) return value.valueOf();
  }
  return value;
}

/** Members JSON leaves out of objects (and writes as null in arrays). */
function omitted(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}
