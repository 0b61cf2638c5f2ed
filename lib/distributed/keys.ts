/**
 * Key names of a distributed application in Redis.
 *
 * Every key starts with `rv:` and the application's name, so several applications share one Redis.
 * A partition's keys share one hash tag (`{...}`), so on a Cluster they live in one hash slot and
 * a commit touching all of them is one atomic script. Tags are chosen so that their slots spread
 * evenly over the slot space: partition i's tag lands in the i-th of P equal slot ranges, so any
 * Cluster that gives its nodes contiguous, equal slot ranges (as `redis-cli --cluster create` does)
 * holds P/N partitions per node, give or take one. Plain tags (`{app:0}`, `{app:1}`, ...) land
 * wherever CRC16 throws them (10 of them fell 6/2/2 on 3 nodes).
 */
import { invalidOption } from '../core/errors';

/** The 16384 hash slots of Redis Cluster. */
export const HASH_SLOTS = 16384;

/** Partition counts above this are refused: the tag search would grow with the square of it. */
export const MAX_PARTITIONS = 1024;

const APP_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Checks an application name: it becomes part of every key. */
export function checkAppName(where: string, app: unknown): string {
  if (typeof app !== 'string' || !APP_NAME.test(app)) {
    throw invalidOption(where, `the application name must be 1-64 letters, digits or "_.-", got ${JSON.stringify(app)}`);
  }
  return app;
}

/** CRC16-CCITT (XModem), the hash of Redis Cluster's key slots. */
export function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
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
 * smallest N whose slot falls in partition I's share of the slots. Pure, so the router, the
 * workers and the readers all derive the same names.
 */
export function partitionTags(app: string, count: number): string[] {
  checkAppName('partitionTags', app);
  if (!Number.isInteger(count) || count < 1 || count > MAX_PARTITIONS) {
    throw invalidOption('partitionTags', `the partition count must be an integer from 1 to ${MAX_PARTITIONS}, got ${String(count)}`);
  }
  const tags: string[] = [];
  for (let i = 0; i < count; i++) {
    const low = Math.floor((i * HASH_SLOTS) / count);
    const high = Math.floor(((i + 1) * HASH_SLOTS) / count);
    for (let n = 0; ; n++) {
      const tag = `rv:${app}:${i}:${n}`;
      const slot = crc16(tag) % HASH_SLOTS;
      if (slot >= low && slot < high) {
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
