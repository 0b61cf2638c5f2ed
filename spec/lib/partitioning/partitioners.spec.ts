import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { hashMod, perKey, RivuletError, wallarooHashRing } from 'rivulet';
import { fnv1a32 } from '../../../lib/partitioning/partitioners';
import { HASH_RING_VECTORS } from '../../support/data';

/** A byte-at-a-time FNV-1a over Buffer's own UTF-8 encoding, with BigInt arithmetic. */
function referenceFnv1a32(text: string): number {
  let hash = 0x811c9dc5n;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * 0x01000193n) & 0xffffffffn;
  }
  return Number(hash);
}

/** hash_ring 1.3.1 written out literally: a sorted list with duplicates, a dict, bisect_right. */
function referenceRing(n: number): (key: string) => number {
  const ring = new Map<number, number>();
  const sortedKeys: number[] = [];
  const totalWeight = n;
  for (let node = 0; node < n; node++) {
    const factor = Math.floor((40 * n * 1) / totalWeight);
    for (let j = 0; j < factor; j++) {
      const b = createHash('md5').update(`${node}-${j}`).digest();
      for (let i = 0; i < 3; i++) {
        const key = ((b[i * 4 + 3] << 24) | (b[i * 4 + 2] << 16) | (b[i * 4 + 1] << 8) | b[i * 4]) >>> 0;
        ring.set(key, node);
        sortedKeys.push(key);
      }
    }
  }
  sortedKeys.sort((a, b) => a - b);
  return (name) => {
    const b = createHash('md5').update(Buffer.from(name, 'utf8')).digest();
    const k = ((b[3] << 24) | (b[2] << 16) | (b[1] << 8) | b[0]) >>> 0;
    let pos = sortedKeys.findIndex((point) => point > k);
    if (pos === -1) pos = 0;
    return ring.get(sortedKeys[pos])!;
  };
}

describe('perKey', () => {
  it('makes every key its own partition, with no fixed partition list', () => {
    const partitioner = perKey<unknown>();
    const objectKey = {};
    expect(partitioner.partitionOf('__proto__')).toBe('__proto__');
    expect(partitioner.partitionOf(42)).toBe(42);
    expect(partitioner.partitionOf(objectKey)).toBe(objectKey);
    expect(partitioner.partitions).toBeUndefined();
    expect(partitioner.name).toBe('perKey');
  });
});

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes, including astral characters and lone surrogates', () => {
    for (const text of ['é', '€uro', '日本語', '😀 grin', 'a\ud800b', '\udc00', 'x\ud83d']) {
      expect(fnv1a32(text)).toBe(referenceFnv1a32(text));
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => fnv1a32(text) === referenceFnv1a32(text)),
      { numRuns: 1000 },
    );
  });
});

describe('hashMod', () => {
  it('maps a key to FNV-1a mod n and lists partitions 0..n-1', () => {
    const partitioner = hashMod(7);
    expect(partitioner.partitions).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(partitioner.name).toBe('hashMod(7)');
    fc.assert(
      fc.property(fc.string(), (key) => partitioner.partitionOf(key) === referenceFnv1a32(key) % 7),
    );
    expect(hashMod(1).partitionOf('anything')).toBe(0);
  });

  it('rejects n that is not an integer >= 1 at creation', () => {
    for (const n of [0, -1, 1.5, NaN, Infinity]) {
      expect(() => hashMod(n)).toThrow(RivuletError);
      expect(() => hashMod(n)).toThrow(/hashMod: n must be an integer >= 1/);
    }
  });
});

describe('wallarooHashRing', () => {
  it("reproduces all 7,700 partitions computed by the original Python partitioner", () => {
    const lines = readFileSync(HASH_RING_VECTORS, 'utf8').split('\n').filter((line) => line.length > 0);
    expect(lines).toHaveLength(7700);
    const ring = wallarooHashRing();
    const mismatches: string[] = [];
    for (const line of lines) {
      const { repo, partition } = JSON.parse(line) as { repo: string; partition: number };
      const got = ring.partitionOf(repo);
      if (got !== partition) mismatches.push(`${repo}: expected ${partition}, got ${got}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('defaults to 10 partitions and lists them', () => {
    expect(wallarooHashRing().partitions).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(wallarooHashRing(3).name).toBe('wallarooHashRing(3)');
  });

  it('agrees with a literal transcription of hash_ring 1.3.1 for other node counts', () => {
    for (const n of [1, 2, 3, 16]) {
      const ring = wallarooHashRing(n);
      const reference = referenceRing(n);
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme' }), (key) => ring.partitionOf(key) === reference(key)),
        { numRuns: 300 },
      );
    }
  });

  it('rejects n that is not an integer >= 1 at creation', () => {
    for (const n of [0, -3, 2.5, NaN]) {
      expect(() => wallarooHashRing(n)).toThrow(/wallarooHashRing: n must be an integer >= 1/);
    }
  });
});
