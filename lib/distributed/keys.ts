/**
 * Key names of a distributed application in Redis.
 *
 * Every key starts with `rv:` and the application's name, so several applications share one Redis.
 * A partition's keys share one hash tag (`{...}`), so on a Cluster they live in one hash slot and
 * a commit touching all of them is one atomic script. Tags are chosen so that their slots spread
 * evenly over the slot space: partition i's tag lands within a few slots of the middle of the i-th
 * of P equal slot ranges. A Cluster that gives its nodes contiguous, equal slot ranges (as
 * `redis-cli --cluster create` does) then holds P/N partitions per node, rounded down or up, for
 * any application name: a middle lies on the node its whole range mostly belongs to. (Up to 64
 * partitions on up to 16 nodes this holds exactly; with hundreds of partitions a middle can fall
 * within a slot or two of a node's edge, and one node may hold one more.) Plain tags (`{app:0}`,
 * `{app:1}`, ...) land wherever CRC16 throws them (10 of them fell 6/2/2 on 3 nodes), and so does
 * a tag taken from anywhere in its range (10 fell 2/4/4 for some names).
 */
import { invalidOption } from '../core/errors';

/** The 16384 hash slots of Redis Cluster. */
export const HASH_SLOTS = 16384;

/**
 * Partition counts above this are refused: once shares are narrower than a tag's reach (past about
 * 900 partitions), the tag search grows with the square of the count.
 */
export const MAX_PARTITIONS = 1024;

const APP_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Checks an application name: it becomes part of every key. */
export function checkAppName(where: string, app: unknown): string {
  if (typeof app !== 'string' || !APP_NAME.test(app)) {
    throw invalidOption(where, `the application name must be 1-64 letters, digits or "_.-", got ${JSON.stringify(app)}`);
  }
  return app;
}

/** How far from the middle of its range a partition's tag may land, in slots. */
const TAG_REACH = 8;

/** CRC16-CCITT (XModem) of each byte value, for a byte at a time. */
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

/** CRC16-CCITT (XModem), the hash of Redis Cluster's key slots, over the text's UTF-8 bytes. */
export function crc16(text: string): number {
  let crc = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // ASCII is its own UTF-8; anything else is hashed from its encoding.
    if (code >= 0x80) return crc16Bytes(Buffer.from(text, 'utf8'));
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[(crc >> 8) ^ code];
  }
  return crc;
}

function crc16Bytes(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[(crc >> 8) ^ byte];
  return crc;
}

/** The hash slot of a key, as Redis Cluster computes it (the hash tag alone when there is one). */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16(key.slice(open + 1, close)) % HASH_SLOTS;
  }
  return crc16(key) % HASH_SLOTS;
}

/**
 * The hash tags of an application's partitions, by partition index: `rv:APP:I:N` with the
 * smallest N whose slot lies within `TAG_REACH` slots of the middle of partition I's share of the
 * slots (closer when the shares are narrower). Pure, so the router, the workers and the readers
 * all derive the same names. About 1,000 tries a partition: some 0.35 s for 1,024 partitions.
 */
export function partitionTags(app: string, count: number): string[] {
  checkAppName('partitionTags', app);
  if (!Number.isInteger(count) || count < 1 || count > MAX_PARTITIONS) {
    throw invalidOption('partitionTags', `the partition count must be an integer from 1 to ${MAX_PARTITIONS}, got ${String(count)}`);
  }
  const tags: string[] = [];
  for (let i = 0; i < count; i++) {
    const middle = Math.floor(((2 * i + 1) * HASH_SLOTS) / (2 * count));
    const reach = Math.min(TAG_REACH, Math.floor(HASH_SLOTS / count / 2) - 1);
    for (let n = 0; ; n++) {
      const tag = `rv:${app}:${i}:${n}`;
      if (Math.abs((crc16(tag) % HASH_SLOTS) - middle) <= reach) {
        tags.push(tag);
        break;
      }
    }
  }
  return tags;
}

/** The keys of one partition. */
export interface PartitionKeys {
  /** Input stream: events (`e` field) and clock ticks (`t` field), with the router's ids. */
  readonly input: string;
  /** Output stream: one entry per output, id `<seq>-0`. */
  readonly output: string;
  /** The committed state (a checkpoint: operators' state, clock, offsets). */
  readonly state: string;
  /** `<last input id consumed> <last output seq>`: what the next commit must find. */
  readonly offset: string;
  /** The owning worker's id, with a time to live. */
  readonly lease: string;
  /** Fencing epoch: incremented by every acquisition. */
  readonly epoch: string;
}

export function partitionKeys(tag: string): PartitionKeys {
  const k = (suffix: string) => `{${tag}}:${suffix}`;
  return { input: k('in'), output: k('out'), state: k('state'), offset: k('offset'), lease: k('lease'), epoch: k('epoch') };
}

/** The keys an application has once, beside its partitions. */
export interface AppKeys {
  /** The settings record (JSON), written by the router. */
  readonly settings: string;
  /** Sorted set of workers, scored by the time (Redis server clock, ms) until which each counts as live. */
  readonly workers: string;
  /** What the router has done: the next sequence number, the clock, an unfinished input. */
  readonly router: string;
}

export function appKeys(app: string): AppKeys {
  checkAppName('appKeys', app);
  const k = (suffix: string) => `{rv:${app}}:${suffix}`;
  return { settings: k('settings'), workers: k('workers'), router: k('router') };
}
