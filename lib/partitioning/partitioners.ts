import * as crypto from 'node:crypto';
import { requireInteger } from '../core/errors';

/**
 * Decides which partition a key belongs to; `partitionBy` keeps one sub-pipeline (and its state)
 * per partition. Partitioners are pure: the same key always gives the same partition.
 */
export interface Partitioner<K, P> {
  /** A short description for messages and logs, such as `hashMod(8)`. */
  readonly name: string;
  /** The partition of `key`; must not depend on anything but `key`. */
  partitionOf(key: K): P;
  /** Every partition this partitioner can return, when that set is fixed and known. */
  readonly partitions?: readonly P[];
}

/**
 * One partition per distinct key (Wallaroo's "dynamic keys"): the key is its own partition.
 * Keys are compared as `Map` keys are (SameValueZero), so object keys go by identity.
 *
 * ```ts
 * perKey<string>().partitionOf('square/okhttp'); // 'square/okhttp'
 * ```
 */
export function perKey<K>(): Partitioner<K, K> {
  return { name: 'perKey', partitionOf: (key) => key };
}

/**
 * A fixed number of partitions, `0 .. n-1`, by FNV-1a (32-bit, over the key's UTF-8 bytes) mod `n`.
 * The hash is stable across processes and platforms, unlike anything based on object identity.
 *
 * ```ts
 * hashMod(4).partitionOf('foobar'); // 0xbf9cf968 % 4 === 0
 * ```
 */
export function hashMod(n: number): Partitioner<string, number> {
  requireInteger('hashMod', 'n', n);
  return {
    name: `hashMod(${n})`,
    partitionOf: (key) => fnv1a32(key) % n,
    partitions: Object.freeze(Array.from({ length: n }, (_, i) => i)),
  };
}

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a 32-bit hash of the UTF-8 encoding of `text`, as an unsigned integer. The UTF-8 bytes are
 * produced on the fly (no buffer per call); a lone surrogate counts as U+FFFD, as `TextEncoder`
 * and `Buffer.from(text, 'utf8')` encode it.
 */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      hash = Math.imul(hash ^ code, FNV_PRIME);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = i + 1 < length ? text.charCodeAt(i + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        code = 0xfffd;
      }
    }
    if (code < 0x800) {
      hash = Math.imul(hash ^ (0xc0 | (code >> 6)), FNV_PRIME);
    } else if (code < 0x10000) {
      hash = Math.imul(hash ^ (0xe0 | (code >> 12)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | ((code >> 6) & 0x3f)), FNV_PRIME);
    } else {
      hash = Math.imul(hash ^ (0xf0 | (code >> 18)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | ((code >> 12) & 0x3f)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | ((code >> 6) & 0x3f)), FNV_PRIME);
    }
    hash = Math.imul(hash ^ (0x80 | (code & 0x3f)), FNV_PRIME);
  }
  return hash >>> 0;
}

/**
 * The consistent-hash ring of Wallaroo's star-leaders example: nodes `0 .. n-1` placed on a ring
 * by the algorithm of the Python package hash_ring 1.3.1, so a repository name lands in exactly
 * the partition the original gave it.
 *
 * - Every node has weight 1, so each gets `floor(40 * n * 1 / n) = 40` virtual nodes (hash_ring's
 *   formula is `floor(40 * nodes * weight / total_weight)`); a virtual node `"<node>-<j>"`, j in
 *   0..39, contributes 3 points: the little-endian uint32s at bytes 0, 4 and 8 of its MD5 digest.
 * - A key hashes to the little-endian uint32 of the first 4 bytes of MD5(key as UTF-8) and belongs
 *   to the owner of the first point strictly greater than it, wrapping past the end to the first.
 * - If two points coincide, the later node in placement order owns it, as in the original's dict.
 *
 * The ring (120 points per node) is built once, when the partitioner is created; a lookup is one
 * MD5 and a binary search. Nothing is cached per key, so memory does not grow with the keys.
 *
 * ```ts
 * wallarooHashRing(10).partitionOf('square/okhttp'); // 4
 * ```
 */
export function wallarooHashRing(n = 10): Partitioner<string, number> {
  requireInteger('wallarooHashRing', 'n', n);
  const { points, owners } = buildRing(n);
  const last = points.length - 1;
  return {
    name: `wallarooHashRing(${n})`,
    partitionOf(key) {
      const k = md5Uint32LE(key);
      // Binary search for the first point > k.
      let lo = 0;
      let hi = last + 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (points[mid] <= k) lo = mid + 1;
        else hi = mid;
      }
      return owners[lo > last ? 0 : lo];
    },
    partitions: Object.freeze(Array.from({ length: n }, (_, i) => i)),
  };
}

const VIRTUAL_NODES_PER_NODE = 40;
const POINTS_PER_VIRTUAL_NODE = 3;

function buildRing(n: number): { points: Uint32Array; owners: Uint32Array } {
  const ownerOf = new Map<number, number>();
  for (let node = 0; node < n; node++) {
    for (let j = 0; j < VIRTUAL_NODES_PER_NODE; j++) {
      const digest = crypto.createHash('md5').update(`${node}-${j}`, 'utf8').digest();
      for (let i = 0; i < POINTS_PER_VIRTUAL_NODE; i++) ownerOf.set(digest.readUInt32LE(4 * i), node);
    }
  }
  const points = Uint32Array.from(ownerOf.keys()).sort();
  const owners = new Uint32Array(points.length);
  for (let i = 0; i < points.length; i++) owners[i] = ownerOf.get(points[i])!;
  return { points, owners };
}

/**
 * The little-endian uint32 at the start of MD5(key as UTF-8). Node's one-shot `crypto.hash`
 * builds no Hash object and, asked for hex, no Buffer either: several times quicker per key than
 * `createHash`.
 */
function md5Uint32LE(key: string): number {
  const first = Number.parseInt(crypto.hash('md5', key, 'hex').slice(0, 8), 16);
  return (((first & 0xff) << 24) | ((first & 0xff00) << 8) | ((first >>> 8) & 0xff00) | (first >>> 24)) >>> 0;
}
