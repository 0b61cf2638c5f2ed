import { appKeys, crc16, keySlot, partitionKeys, partitionTags } from 'rivulet';

describe('distributed key names', () => {
  it('computes the hash slots Redis Cluster computes (vectors from the Redis documentation)', () => {
    expect(crc16('123456789')).toBe(0x31c3); // the CRC16/XMODEM check value
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('foo{hash_tag}')).toBe(2515);
    expect(keySlot('bar{hash_tag}')).toBe(2515);
    // An empty tag is no tag: the whole key is hashed.
    expect(keySlot('foo{}{bar}')).toBe(crc16('foo{}{bar}') % 16384);
  });

  it('gives each partition a tag in its own equal share of the slots, so contiguous node ranges hold P/N partitions each, give or take one', () => {
    for (const partitions of [1, 3, 10, 16, 100]) {
      const tags = partitionTags('star-leaders', partitions);
      expect(new Set(tags).size).toBe(partitions);
      tags.forEach((tag, i) => {
        const slot = keySlot(`{${tag}}:in`);
        expect(slot).toBeGreaterThanOrEqual(Math.floor((i * 16384) / partitions));
        expect(slot).toBeLessThan(Math.floor(((i + 1) * 16384) / partitions));
      });
      for (const nodes of [1, 2, 3, 4, 5]) {
        // redis-cli --cluster create splits the slots into contiguous, equal ranges.
        const perNode = new Array<number>(nodes).fill(0);
        for (const tag of tags) perNode[Math.min(nodes - 1, Math.floor(keySlot(`{${tag}}`) / (16384 / nodes)))]++;
        expect(Math.max(...perNode) - Math.min(...perNode)).toBeLessThanOrEqual(Math.ceil(partitions / nodes) - Math.floor(partitions / nodes) + 1);
        if (partitions === 10 && nodes === 3) expect(perNode.sort()).toEqual([3, 3, 4]);
      }
    }
  });

  it('keeps every key of a partition in one slot, and prefixes keys with the application', () => {
    const [tag] = partitionTags('word-counts', 4);
    const keys = Object.values(partitionKeys(tag));
    expect(new Set(keys.map(keySlot)).size).toBe(1);
    expect(keys.every((k) => k.startsWith('{rv:word-counts:0:'))).toBe(true);
    expect(Object.values(appKeys('word-counts')).every((k) => k.startsWith('{rv:word-counts}:'))).toBe(true);
  });

  it('refuses application names that would break key names, and partition counts out of range', () => {
    expect(() => partitionTags('a}b', 2)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => appKeys('')).toThrow(/application name/);
    expect(() => partitionTags('ok', 0)).toThrow(/from 1 to 1024/);
    expect(() => partitionTags('ok', 1025)).toThrow(/from 1 to 1024/);
  });
});
