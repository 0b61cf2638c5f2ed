/**
 * The checkpoint codec: a checkpoint as bytes and back, exactly.
 *
 * The body is V8's structured-clone serialisation (`node:v8`), which keeps what JSON loses:
 * `Map`s in insertion order with keys of any type, `Set`s, `-0`, `NaN`, `±Infinity`,
 * `undefined`, and shared references. It is built into Node and readable by later Node
 * versions, so no hand-written codec is needed. A header line names the format and version, and
 * a SHA-256 of the body detects a corrupt or half-written file.
 */
import { createHash } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import { RivuletError } from '../core/errors';
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

/** Serialises a checkpoint; state that cannot be serialised is named by its uid. */
export function encodeCheckpoint(checkpoint: Checkpoint): Buffer {
  let body: Buffer;
  try {
    body = serialize(checkpoint);
  } catch (error) {
    throw unserialisable(checkpoint.state, error);
  }
  const header = `${MAGIC}\nsha256:${createHash('sha256').update(body).digest('hex')} bytes:${body.length}\n`;
  return Buffer.concat([Buffer.from(header, 'latin1'), body]);
}

/** Reads a checkpoint back; a wrong header, length or checksum is ERR_CHECKPOINT_STORE. */
export function decodeCheckpoint(bytes: Buffer, where: string): Checkpoint {
  const first = bytes.indexOf(0x0a);
  const second = first < 0 ? -1 : bytes.indexOf(0x0a, first + 1);
  if (second < 0 || bytes.toString('latin1', 0, first) !== MAGIC) throw corrupt(where, 'not a rivulet checkpoint (or of another version)');
  const match = /^sha256:([0-9a-f]{64}) bytes:(\d+)$/.exec(bytes.toString('latin1', first + 1, second));
  if (match === null) throw corrupt(where, 'damaged header');
  const body = bytes.subarray(second + 1);
  if (body.length !== Number(match[2])) throw corrupt(where, `${body.length} bytes of ${match[2]} (half-written?)`);
  if (createHash('sha256').update(body).digest('hex') !== match[1]) throw corrupt(where, 'checksum mismatch');
  const checkpoint = deserialize(body) as Checkpoint;
  if (checkpoint === null || typeof checkpoint !== 'object' || Object.prototype.toString.call(checkpoint.state) !== '[object Map]') throw corrupt(where, 'unexpected content');
  return checkpoint;
}

function corrupt(where: string, why: string): RivuletError {
  return new RivuletError('ERR_CHECKPOINT_STORE', `${where}: corrupt checkpoint: ${why}`);
}

/** Finds which operator's state could not be serialised, for the message. */
function unserialisable(state: ScopeSnapshot, error: unknown): RivuletError {
  const reason = error instanceof RangeError ? 'it is nested too deeply' : error instanceof Error ? error.message : String(error);
  for (const [uid, cell] of state) {
    try {
      serialize(cell.state);
    } catch {
      return new RivuletError('ERR_NOT_CHECKPOINTABLE', `checkpoint: the state of "${uid}" (${cell.kind}) cannot be saved: ${reason}`, { cause: error });
    }
  }
  return new RivuletError('ERR_NOT_CHECKPOINTABLE', `checkpoint: the state cannot be saved: ${reason}`, { cause: error });
}
