/**
 * The checkpoint codec: a checkpoint as bytes and back, exactly.
 *
 * The body is V8's structured-clone serialisation (`node:v8`), which keeps what JSON loses:
 * `Map`s in insertion order with keys of any type, `Set`s, `-0`, `NaN`, `±Infinity`,
 * `undefined`, and shared references. It is built into Node, fast, and readable by later Node
 * versions. But it recurses once per level of nesting, and state can hold values from input (the
 * raw events of star-leaders' leaders): a hostile event nested a few thousand levels deep makes
 * `serialize` throw RangeError, or worse, `deserialize` (which needs more stack per level) fail
 * on a checkpoint that was written. So a checkpoint that `serialize` refuses as too deep, or
 * whose body nests deeper than {@link V8_SAFE_DEPTH}, is written with the flat codec instead
 * (flatCodec.ts: no recursion, slower). The header says which codec the body is in.
 *
 * Header: `rivulet-checkpoint 1\nsha256:<hex> bytes:<n> codec:<v8|flat>\n`; the SHA-256 of the
 * body detects a corrupt or half-written file. A header without `codec:` (older files) is v8.
 */
import { createHash } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import { RivuletError } from '../core/errors';
import { decodeFlat, encodeFlat, FlatEncodeError } from './flatCodec';
import type { ScopeSnapshot } from './scope';

/** One consistent cut of a run: where the source and sink were, and every operator's state. */
export interface Checkpoint<SourcePosition = unknown, SinkPosition = unknown> {
  /** 1 for the first checkpoint of a run, then one more each time. */
  seq: number;
  /** Identifies the job (application and the options that shape its output). */
  job: string;
  /** Source values processed before the cut. */
  values: number;
  /** The position of the last source value processed (undefined: none yet). */
  sourcePosition: SourcePosition | undefined;
  sinkPosition: SinkPosition;
  state: ScopeSnapshot;
}

const MAGIC = 'rivulet-checkpoint 1';

/**
 * The deepest nesting kept as a V8 body. `deserialize` needs more stack per level than
 * `serialize`: with Node 20's default stack, nested objects serialise up to about 3,100 levels
 * but read back only up to about 1,950 (1,927 inside jest), and fewer when reading from deep
 * inside a program. At 1,000 about half the stack is left. Finding the depth costs one pass over
 * the body's bytes (about 3 ms for a 4 MB body, against 35-45 ms to serialise it).
 */
const V8_SAFE_DEPTH = 1000;

/** Serialises a checkpoint; state that cannot be serialised is named by its uid. */
export function encodeCheckpoint(checkpoint: Checkpoint): Buffer {
  const { body, codec } = encodeBody(checkpoint);
  const header = `${MAGIC}\nsha256:${createHash('sha256').update(body).digest('hex')} bytes:${body.length} codec:${codec}\n`;
  return Buffer.concat([Buffer.from(header, 'latin1'), body]);
}

function encodeBody(checkpoint: Checkpoint): { body: Buffer; codec: 'v8' | 'flat' } {
  let body: Buffer;
  try {
    body = serialize(checkpoint);
  } catch (error) {
    if (!isRangeError(error)) throw unserialisable(checkpoint.state, error);
    try {
      return { body: encodeFlat(checkpoint, 'checkpoint'), codec: 'flat' };
    } catch (flatError) {
      throw unencodable(checkpoint.state, flatError);
    }
  }
  if (v8Nesting(body, V8_SAFE_DEPTH) !== 'deeper') return { body, codec: 'v8' };
  try {
    return { body: encodeFlat(checkpoint, 'checkpoint'), codec: 'flat' };
  } catch (flatError) {
    // Something V8 keeps and the flat codec refuses (a class instance): refusing would stop
    // every checkpoint of a state that V8 accepts, and the V8 body may well read back (if not,
    // decodeCheckpoint says so with ERR_CHECKPOINT_STORE, and a directory store uses the one before).
    if (flatError instanceof FlatEncodeError) return { body, codec: 'v8' };
    throw unencodable(checkpoint.state, flatError);
  }
}

/** Reads a checkpoint back; a wrong header, length or checksum is ERR_CHECKPOINT_STORE. */
export function decodeCheckpoint(bytes: Buffer, where: string): Checkpoint {
  const first = bytes.indexOf(0x0a);
  const second = first < 0 ? -1 : bytes.indexOf(0x0a, first + 1);
  if (second < 0 || bytes.toString('latin1', 0, first) !== MAGIC) throw corrupt(where, 'not a rivulet checkpoint (or of another version)');
  const match = /^sha256:([0-9a-f]{64}) bytes:(\d+)(?: codec:(v8|flat))?$/.exec(bytes.toString('latin1', first + 1, second));
  if (match === null) throw corrupt(where, 'damaged header');
  const body = bytes.subarray(second + 1);
  if (body.length !== Number(match[2])) throw corrupt(where, `${body.length} bytes of ${match[2]} (half-written?)`);
  if (createHash('sha256').update(body).digest('hex') !== match[1]) throw corrupt(where, 'checksum mismatch');
  const codec = match[3] ?? 'v8';
  let checkpoint: Checkpoint;
  try {
    checkpoint = (codec === 'flat' ? decodeFlat(body) : deserialize(body)) as Checkpoint;
  } catch (error) {
    throw corrupt(where, `its ${codec} body cannot be read: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  // Not `instanceof Map`: `deserialize` builds in Node's own realm, not in a vm context's.
  if (checkpoint === null || typeof checkpoint !== 'object' || Object.prototype.toString.call(checkpoint.state) !== '[object Map]') throw corrupt(where, 'unexpected content');
  return checkpoint;
}

function corrupt(where: string, why: string, cause?: unknown): RivuletError {
  return new RivuletError('ERR_CHECKPOINT_STORE', `${where}: corrupt checkpoint: ${why}`, cause === undefined ? undefined : { cause });
}

/** By name: an error thrown inside a vm context (as jest's) is another realm's RangeError. */
function isRangeError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'RangeError';
}

/** Finds which operator's state could not be serialised, for the message. */
function unserialisable(state: ScopeSnapshot, error: unknown): RivuletError {
  const reason = error instanceof Error ? error.message : String(error);
  for (const [uid, cell] of state) {
    try {
      serialize(cell.state);
    } catch {
      return new RivuletError('ERR_NOT_CHECKPOINTABLE', `checkpoint: the state of "${uid}" (${cell.kind}) cannot be saved: ${reason}`, { cause: error });
    }
  }
  return new RivuletError('ERR_NOT_CHECKPOINTABLE', `checkpoint: the state cannot be saved: ${reason}`, { cause: error });
}

/** The same for the flat codec, whose error names the path to the value inside the state. */
function unencodable(state: ScopeSnapshot, error: unknown): RivuletError {
  if (!(error instanceof FlatEncodeError)) return new RivuletError('ERR_NOT_CHECKPOINTABLE', `checkpoint: the state cannot be saved: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  const why = (e: FlatEncodeError) => `it is nested too deeply for V8's serialiser, and ${e.message}`;
  for (const [uid, cell] of state) {
    try {
      encodeFlat(cell.state, 'state');
    } catch (inCell) {
      if (inCell instanceof FlatEncodeError) return new RivuletError('ERR_NOT_CHECKPOINTABLE', `checkpoint: the state of "${uid}" (${cell.kind}) cannot be saved: ${why(inCell)}`, { cause: inCell });
    }
  }
  return new RivuletError('ERR_NOT_CHECKPOINTABLE', `checkpoint cannot be saved: ${why(error)}`, { cause: error });
}

/**
 * How deeply a V8 body nests objects, arrays, Maps and Sets, read from its bytes without building
 * anything: `deeper` than `limit`, `within` it, or `unknown` for a tag this reader does not know
 * (errors, WebAssembly, shared memory: values the flat codec could not write either). The tags
 * are those of V8's value-serializer.cc, stable since they must stay readable.
 */
export function v8Nesting(body: Uint8Array, limit: number): 'deeper' | 'within' | 'unknown' {
  const end = body.length;
  let pos = 0;
  let depth = 0;
  const varint = (): number => {
    let result = 0;
    for (let scale = 1; pos < end; scale *= 128) {
      const b = body[pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
    }
    return result;
  };
  // `pos += varint()` would add to the position read before varint() moved it.
  const skip = (bytes: number): void => {
    pos += bytes;
  };
  while (pos < end) {
    switch (body[pos++]) {
      case 0x00: // padding
      case 0x5f: // _ undefined
      case 0x30: // 0 null
      case 0x54: // T true
      case 0x46: // F false
      case 0x2d: // - the hole
      case 0x79: // y true object
      case 0x78: // x false object
      case 0x73: // s string object: a string follows
        break;
      case 0xff: // version
      case 0x49: // I int32
      case 0x55: // U uint32
      case 0x5e: // ^ object reference
        varint();
        break;
      case 0x4e: // N double
      case 0x44: // D date
      case 0x6e: // n number object
        pos += 8;
        break;
      case 0x5a: // Z bigint
      case 0x7a: // z bigint object
        skip(Math.floor(varint() / 2));
        break;
      case 0x53: // S utf-8 string
      case 0x22: // " one-byte string
      case 0x63: // c two-byte string
      case 0x42: // B array buffer
        skip(varint());
        break;
      case 0x52: {
        // R regexp: its source as a string, then flags
        while (body[pos] === 0x00) pos++;
        pos++;
        skip(varint());
        varint();
        break;
      }
      case 0x5c: {
        // \ host object: for Node, a typed array or Buffer as type, byte length, bytes
        varint();
        skip(varint());
        break;
      }
      case 0x6f: // o object
      case 0x3b: // ; map
      case 0x27: // ' set
        if (++depth > limit) return 'deeper';
        break;
      case 0x41: // A dense array
      case 0x61: // a sparse array
        varint();
        if (++depth > limit) return 'deeper';
        break;
      case 0x7b: // { end of object
      case 0x3a: // : end of map
      case 0x2c: // , end of set
        varint();
        depth--;
        break;
      case 0x24: // $ end of dense array
      case 0x40: // @ end of sparse array
        varint();
        varint();
        depth--;
        break;
      default:
        return 'unknown';
    }
  }
  return 'within';
}
