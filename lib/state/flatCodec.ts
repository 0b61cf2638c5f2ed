/**
 * A flat codec for checkpoint state: any depth of nesting, in constant stack.
 *
 * V8's structured clone (`node:v8` `serialize`) recurses once per level of nesting, so a value
 * a few thousand levels deep (a hostile JSON event kept in an operator's state) makes it throw
 * RangeError, and every checkpoint after it fails. This codec walks the value with a work queue
 * instead of recursion, in both directions, so depth costs heap, never stack.
 *
 * Format (binary): a version byte, the root value, then the contents of every container in the
 * order the containers were first met. A value is a tag byte and its payload: a constant, an
 * int32 as a zigzag varint, a double's 8 bytes, a string's length and bytes, or a container. A
 * container met for the first time is only its tag (it takes the next id; its contents come
 * later, so a child is never written inside its parent); met again, it is its id. So shared
 * references and cycles come back with their identity, and both directions are a loop over the
 * containers in id order, the list itself being the work queue (devalue's idea, streamed).
 *
 * What it keeps, as `serialize` does:
 * - `null`, `undefined`, booleans, numbers exactly (`-0`, `NaN`, `±Infinity`), bigints, strings
 *   (lone surrogates included);
 * - arrays, holes included (a byte each, so a huge sparse array costs its length; an array's
 *   own non-index properties are not kept);
 * - plain objects (of any realm, or with a null prototype; restored as ordinary objects): their
 *   own enumerable string keys in order, values read as properties. A `__proto__` key is
 *   ordinary data both ways: it is restored with `Object.defineProperty`, so no prototype is
 *   ever read from or written to the input;
 * - `Map`s (insertion order, keys of any type), `Set`s and `Date`s (subclasses become the base
 *   class and extra properties on them are not kept, as with `serialize`).
 * Anything else (functions, symbols, class instances, typed arrays and Buffers, boxed
 * primitives, RegExps, Errors) is refused with a {@link FlatEncodeError} naming where it is,
 * e.g. `state.recent.get("a/b")[2].raw.payload is a function`, rather than saved as something
 * else (`serialize` saves a class instance as a plain object).
 *
 * Speed, against `serialize`/`deserialize` on a star-leaders-like checkpoint (a Map of 50,000
 * repo keys to `{ total, panes }`, 24 panes of about 4,200 keys each as `[start, Map]`, a few
 * raw events; 4.2 MB either way), Node 20 on 2 busy cores, fastest of 15 runs after 3 warm-ups,
 * over three runs (medians were 1.5 to 2.5 times these):
 *   encode: serialize 33-45 ms, flat 119-131 ms (about 3x slower);
 *   decode: deserialize 137-224 ms, flat 135-267 ms (about the same, up to 1.4x).
 * About half of the encoding time is the identity Map that keeps shared references (V8's is in
 * C++). So this is the fallback, used only when V8's body would be too deep (see codec.ts).
 */
import { types } from 'node:util';

/** A value that has no place in a checkpoint, and where it was found. */
export class FlatEncodeError extends TypeError {
  override readonly name = 'FlatEncodeError';

  constructor(
    /** Where the value is, from the root, e.g. `state.recent.get("a/b")[2].raw`. */
    readonly path: string,
    /** What it is, e.g. `a function`, `an instance of Foo`. */
    readonly what: string,
  ) {
    super(`${path} is ${what}, which cannot be encoded (only null, undefined, booleans, numbers, bigints, strings, arrays, plain objects, Maps, Sets and Dates can)`);
  }
}

/** Bytes that are not a flat encoding (only a bug or a damaged file makes them). */
export class FlatDecodeError extends Error {
  override readonly name = 'FlatDecodeError';
}

// Item tags: how each value starts.
const UNDEFINED = 0;
const NULL = 1;
const TRUE = 2;
const FALSE = 3;
/** An array hole; valid only as an array element. */
const HOLE = 4;
/** An int32 other than -0, as a zigzag varint. */
const INT = 5;
/** Any other number, as 8 bytes little-endian (so -0, NaN and ±Infinity too). */
const DOUBLE = 6;
/** A string, as a varint byte length and the bytes (ASCII: read back as latin1, the fast way). */
const ASCII = 7;
const UTF8 = 8;
/** A string that is not well-formed UTF-16 (a lone surrogate), which UTF-8 would lose. */
const UTF16 = 9;
/** A bigint, as a varint length and its decimal digits (a leading `-` if negative). */
const BIGINT = 10;
/** A container met before, as its container id. */
const SEEN = 11;
// A container met for the first time: it takes the next container id; its contents follow later.
const ARRAY = 12;
const OBJECT = 13;
const MAP = 14;
const SET = 15;
/** A Date has no contents: its time follows at once, as a DOUBLE's 8 bytes. */
const DATE = 16;

const VERSION = 1;
/** `String.prototype.isWellFormed` (Node 20), newer than the ES2022 typings. */
type WellFormed = string & { isWellFormed(): boolean };
/** Strings up to this length are written by hand when they are ASCII: cheaper than a native call. */
const SHORT = 64;

// How a child hangs from its container, to name the path in an error.
const AT_INDEX = 0;
const AT_KEY = 1;
const MAP_KEY = 2;
const MAP_VALUE = 3;
const SET_MEMBER = 4;

/**
 * Encodes `value` as bytes. Throws {@link FlatEncodeError} for a value it cannot keep; `root`
 * names the value in that error's path.
 */
export function encodeFlat(value: unknown, root = 'value'): Buffer {
  let buf = Buffer.allocUnsafe(1 << 16);
  let pos = 0;
  const room = (n: number): void => {
    if (pos + n <= buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, pos + n));
    buf.copy(bigger, 0, 0, pos);
    buf = bigger;
  };
  const varint = (n: number): void => {
    room(5);
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
  };
  const tag = (t: number): void => {
    room(1);
    buf[pos++] = t;
  };

  const string = (s: string): void => {
    const length = s.length;
    if (length <= SHORT) {
      room(2 + length);
      const start = pos;
      buf[pos++] = ASCII;
      buf[pos++] = length;
      let i = 0;
      for (; i < length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
      }
      if (i === length) return;
      pos = start;
    }
    if ((s as WellFormed).isWellFormed()) {
      const bytes = Buffer.byteLength(s, 'utf8');
      tag(UTF8);
      varint(bytes);
      room(bytes);
      pos += buf.write(s, pos, bytes, 'utf8');
    } else {
      tag(UTF16);
      varint(2 * length);
      room(2 * length);
      pos += buf.write(s, pos, 2 * length, 'utf16le');
    }
  };

  // Containers get ids in the order they are first met and their contents are written in that
  // order, so the list of containers is the work queue: no recursion, no stack. raw[id] is the
  // container, parent[id] the container that met it first (always a smaller id), for naming a
  // path in an error.
  const ids = new Map<object, number>();
  const raw: object[] = [];
  const kinds: number[] = [];
  const parent: number[] = [];
  let current = -1;

  const pathTo = (at: number, edge: number, key: unknown): string => {
    if (at < 0) return root;
    const steps = [step(raw[at], edge, key)];
    for (let child = at; parent[child] >= 0; child = parent[child]) steps.push(stepTo(raw[parent[child]], kinds[parent[child]], raw[child]));
    return root + shorten(steps.reverse());
  };

  const item = (v: unknown, edge: number, key: unknown): void => {
    switch (typeof v) {
      case 'string':
        string(v);
        return;
      case 'number':
        room(9);
        if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
          buf[pos++] = INT;
          varint(((v << 1) ^ (v >> 31)) >>> 0);
        } else {
          buf[pos++] = DOUBLE;
          pos = buf.writeDoubleLE(v, pos);
        }
        return;
      case 'undefined':
        tag(UNDEFINED);
        return;
      case 'boolean':
        tag(v ? TRUE : FALSE);
        return;
      case 'bigint': {
        const digits = v.toString();
        tag(BIGINT);
        varint(digits.length);
        room(digits.length);
        pos += buf.write(digits, pos, digits.length, 'latin1');
        return;
      }
      case 'object': {
        if (v === null) {
          tag(NULL);
          return;
        }
        const known = ids.get(v);
        if (known !== undefined) {
          tag(SEEN);
          varint(known);
          return;
        }
        const kind = containerKind(v);
        if (kind === undefined) throw new FlatEncodeError(pathTo(current, edge, key), describe(v));
        ids.set(v, raw.length);
        raw.push(v);
        kinds.push(kind);
        parent.push(current);
        tag(kind);
        if (kind === DATE) {
          room(8);
          pos = buf.writeDoubleLE((v as Date).getTime(), pos);
        }
        return;
      }
      default:
        throw new FlatEncodeError(pathTo(current, edge, key), describe(v));
    }
  };

  tag(VERSION);
  item(value, AT_INDEX, undefined);
  for (let id = 0; id < raw.length; id++) {
    const kind = kinds[id];
    current = id;
    if (kind === ARRAY) {
      const array = raw[id] as unknown[];
      const length = array.length;
      varint(length);
      for (let i = 0; i < length; i++) {
        const child = array[i];
        if (child === undefined && !(i in array)) tag(HOLE);
        else item(child, AT_INDEX, i);
      }
    } else if (kind === OBJECT) {
      const object = raw[id] as Record<string, unknown>;
      const keys = Object.keys(object);
      varint(keys.length);
      for (let i = 0; i < keys.length; i++) {
        const name = keys[i];
        string(name);
        item(object[name], AT_KEY, name);
      }
    } else if (kind === MAP) {
      const map = raw[id] as Map<unknown, unknown>;
      varint(map.size);
      let position = 0;
      map.forEach((entry, key) => {
        item(key, MAP_KEY, position++);
        item(entry, MAP_VALUE, key);
      });
    } else if (kind === SET) {
      const set = raw[id] as Set<unknown>;
      varint(set.size);
      let position = 0;
      set.forEach((member) => item(member, SET_MEMBER, position++));
    }
  }
  return buf.subarray(0, pos);
}

/** Decodes what {@link encodeFlat} wrote. Throws {@link FlatDecodeError} for anything else. */
export function decodeFlat(bytes: Uint8Array): unknown {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = buf.length;
  let pos = 0;
  const need = (n: number): void => {
    if (pos + n > end) throw new FlatDecodeError(`cut short at byte ${pos}`);
  };
  const varint = (): number => {
    let result = 0;
    for (let scale = 1; scale < 2 ** 35; scale *= 128) {
      need(1);
      const b = buf[pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
    }
    throw new FlatDecodeError(`a damaged number at byte ${pos}`);
  };
  const text = (encoding: 'latin1' | 'utf8' | 'utf16le'): string => {
    const length = varint();
    need(length);
    pos += length;
    return buf.toString(encoding, pos - length, pos);
  };

  const containers: object[] = [];
  const kinds: number[] = [];
  const hole = {};

  const item = (): unknown => {
    need(1);
    const t = buf[pos++];
    switch (t) {
      case UNDEFINED:
        return undefined;
      case NULL:
        return null;
      case TRUE:
        return true;
      case FALSE:
        return false;
      case HOLE:
        return hole;
      case INT: {
        const n = varint();
        return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
      }
      case DOUBLE:
        need(8);
        pos += 8;
        return buf.readDoubleLE(pos - 8);
      case ASCII:
      case UTF8:
      case UTF16:
        return text(t === ASCII ? 'latin1' : t === UTF8 ? 'utf8' : 'utf16le');
      case BIGINT: {
        const digits = text('latin1');
        if (!/^-?\d+$/.test(digits)) throw new FlatDecodeError(`a damaged bigint at byte ${pos}`);
        return BigInt(digits);
      }
      case SEEN: {
        const id = varint();
        if (id >= containers.length) throw new FlatDecodeError(`container ${id} used before it was defined, at byte ${pos}`);
        return containers[id];
      }
      case ARRAY:
      case OBJECT:
      case MAP:
      case SET:
      case DATE: {
        let container: object;
        if (t === ARRAY) container = [];
        else if (t === OBJECT) container = {};
        else if (t === MAP) container = new Map();
        else if (t === SET) container = new Set();
        else {
          need(8);
          pos += 8;
          container = new Date(buf.readDoubleLE(pos - 8));
        }
        containers.push(container);
        kinds.push(t);
        return container;
      }
      default:
        throw new FlatDecodeError(`an unknown tag ${t} at byte ${pos - 1}`);
    }
  };
  const value = (): unknown => {
    const v = item();
    if (v === hole) throw new FlatDecodeError(`a hole outside an array, at byte ${pos - 1}`);
    return v;
  };

  need(1);
  if (buf[pos++] !== VERSION) throw new FlatDecodeError(`version ${buf[0]}, expected ${VERSION}`);
  const result = value();
  // Every container was created empty when first met; its contents come in the same order.
  for (let id = 0; id < containers.length; id++) {
    const kind = kinds[id];
    if (kind === ARRAY) {
      const array = containers[id] as unknown[];
      const length = varint();
      for (let i = 0; i < length; i++) {
        const v = item();
        if (v === hole) array.length = i + 1;
        else array.push(v);
      }
    } else if (kind === OBJECT) {
      const object = containers[id] as Record<string, unknown>;
      const count = varint();
      for (let i = 0; i < count; i++) {
        const key = value();
        if (typeof key !== 'string') throw new FlatDecodeError(`an object key that is not a string, at byte ${pos}`);
        const v = value();
        if (key === '__proto__') Object.defineProperty(object, key, { value: v, writable: true, enumerable: true, configurable: true });
        else object[key] = v;
      }
    } else if (kind === MAP) {
      const map = containers[id] as Map<unknown, unknown>;
      const count = varint();
      for (let i = 0; i < count; i++) map.set(value(), value());
    } else if (kind === SET) {
      const set = containers[id] as Set<unknown>;
      const count = varint();
      for (let i = 0; i < count; i++) set.add(value());
    }
  }
  if (pos !== end) throw new FlatDecodeError(`${end - pos} bytes after the end`);
  return result;
}

/** The node tag for a container, or undefined for an object this codec does not keep. */
function containerKind(v: object): number | undefined {
  if (Array.isArray(v)) return ARRAY;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) return OBJECT;
  if (types.isMap(v)) return MAP;
  if (types.isSet(v)) return SET;
  if (types.isDate(v)) return DATE;
  // A plain object of another realm (a vm context, as jest's): its prototype is that realm's
  // Object.prototype, the one prototype without a prototype that owns hasOwnProperty.
  if (Object.getPrototypeOf(proto) === null && Object.prototype.hasOwnProperty.call(proto, 'hasOwnProperty')) return OBJECT;
  return undefined;
}

function describe(v: unknown): string {
  if (typeof v === 'function') return v.name ? `a function (${v.name})` : 'a function';
  if (typeof v === 'symbol') return `a symbol (${v.toString()})`;
  if (types.isBoxedPrimitive(v)) return 'a boxed primitive';
  const name = (() => {
    try {
      const ctor = (Object.getPrototypeOf(v) as { constructor?: unknown } | null)?.constructor;
      return typeof ctor === 'function' && ctor.name ? ctor.name : undefined;
    } catch {
      return undefined;
    }
  })();
  return name === undefined ? 'an object of unknown class' : `an instance of ${name}`;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** How to reach a child with a known edge from its container, e.g. `.raw`, `[2]`, `.get("a/b")`. */
function step(container: unknown, edge: number, key: unknown): string {
  switch (edge) {
    case AT_INDEX:
      return `[${key as number}]`;
    case AT_KEY:
      return IDENTIFIER.test(key as string) ? `.${key as string}` : `[${JSON.stringify(key)}]`;
    case MAP_KEY:
      return `.keys()[${key as number}]`;
    case MAP_VALUE:
      return mapGet(container as Map<unknown, unknown>, key);
    default:
      return `.values()[${key as number}]`;
  }
}

/** The step from a container to one of its children, found again by identity (errors only). */
function stepTo(container: unknown, k: number, child: unknown): string {
  if (k === ARRAY) return `[${(container as unknown[]).indexOf(child)}]`;
  if (k === OBJECT) {
    const object = container as Record<string, unknown>;
    const name = Object.keys(object).find((key) => object[key] === child);
    return name === undefined ? '[?]' : step(container, AT_KEY, name);
  }
  if (k === MAP) {
    let position = 0;
    for (const [key, value] of container as Map<unknown, unknown>) {
      if (key === child) return step(container, MAP_KEY, position);
      if (value === child) return step(container, MAP_VALUE, key);
      position++;
    }
  }
  if (k === SET) return `.values()[${[...(container as Set<unknown>)].indexOf(child)}]`;
  return '[?]';
}

function mapGet(map: Map<unknown, unknown>, key: unknown): string {
  switch (typeof key) {
    case 'string':
      return `.get(${JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key)})`;
    case 'bigint':
      return `.get(${key}n)`;
    case 'number':
      return `.get(${Object.is(key, -0) ? '-0' : String(key)})`;
    case 'object':
    case 'function': {
      const position = [...map.keys()].indexOf(key);
      return `.values()[${position}]`;
    }
    default:
      return `.get(${String(key)})`;
  }
}

/** A path thousands of levels deep is cut in the middle: its ends say where it is. */
function shorten(steps: string[]): string {
  if (steps.length <= 24) return steps.join('');
  return `${steps.slice(0, 8).join('')}…(${steps.length - 20} more)…${steps.slice(-12).join('')}`;
}
