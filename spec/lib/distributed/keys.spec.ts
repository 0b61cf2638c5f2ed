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

  it('hashes the UTF-8 bytes of any text as the bit-at-a-time CRC16/XMODEM does', () => {
    const bitwise = (text: string) => {
      let crc = 0;
      for (const byte of Buffer.from(text, 'utf8')) {
        crc ^= byte << 8;
        for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
      }
      return crc;
    };
    for (const text of ['', 'a', 'rv:star-leaders:3:17', 'caf\u00e9', '\u{1f600} x', 'ascii then \u00ff', '\u0000\u007f\u0080']) {
      expect([text, crc16(text)]).toEqual([text, bitwise(text)]);
    }
  });

  /** The slot ranges `redis-cli --cluster create` gives N primaries (its own arithmetic, in float). */
  function createRanges(nodes: number): Array<[number, number]> {
    const perNode = Math.fround(16384 / nodes);
    const ranges: Array<[number, number]> = [];
    let first = 0;
    let cursor = 0;
    for (let i = 0; i < nodes; i++) {
      let last = Math.round(Math.fround(cursor + perNode - 1));
      if (last > 16384 || i === nodes - 1) last = 16383;
      ranges.push([first, Math.max(first, last)]);
      first = last + 1;
      cursor = Math.fround(cursor + perNode);
    }
    return ranges;
  }
  const tagsOf = new Map<string, string[]>();
  /** partitionTags, computed once per name and count for the tests below. */
  const tags = (app: string, partitions: number): string[] => {
    const key = `${app} ${partitions}`;
    if (!tagsOf.has(key)) tagsOf.set(key, partitionTags(app, partitions));
    return tagsOf.get(key)!;
  };
  const perNode = (partitionTagList: string[], nodes: number) => {
    const ranges = createRanges(nodes);
    const counts = new Array<number>(nodes).fill(0);
    for (const tag of partitionTagList) {
      const slot = keySlot(`{${tag}}:in`);
      counts[ranges.findIndex(([low, high]) => slot >= low && slot <= high)]++;
    }
    return counts;
  };

  it('lays out the slot ranges of redis-cli --cluster create (as the 3-node Cluster of the Redis specs has them)', () => {
    expect(createRanges(3)).toEqual([[0, 5460], [5461, 10922], [10923, 16383]]);
    expect(createRanges(1)).toEqual([[0, 16383]]);
  });

  it('puts each partition near the middle of its own equal share of the slots', () => {
    for (const partitions of [1, 3, 10, 16, 100, 1000, 1024]) {
      const all = tags('star-leaders', partitions);
      expect(new Set(all).size).toBe(partitions);
      all.forEach((tag, i) => {
        const slot = keySlot(`{${tag}}:in`);
        expect(slot).toBeGreaterThanOrEqual(Math.floor((i * 16384) / partitions));
        expect(slot).toBeLessThan(Math.floor(((i + 1) * 16384) / partitions));
        expect(Math.abs(slot - ((i + 0.5) * 16384) / partitions)).toBeLessThanOrEqual(9);
      });
    }
  });

  it('gives every node of a redis-cli Cluster P/N partitions, rounded down or up, up to 64 partitions on 16 nodes', () => {
    for (let partitions = 1; partitions <= 64; partitions++) {
      for (let nodes = 1; nodes <= Math.min(16, partitions); nodes++) {
        const counts = perNode(tags('star-leaders', partitions), nodes);
        expect([partitions, nodes, Math.min(...counts)]).toEqual([partitions, nodes, Math.floor(partitions / nodes)]);
        expect([partitions, nodes, Math.max(...counts)]).toEqual([partitions, nodes, Math.ceil(partitions / nodes)]);
      }
    }
    // The names the Redis specs use vary with the process id; 10 partitions on 3 nodes must be 4/3/3 for each.
    for (let pid = 1; pid <= 300; pid += 7) {
      for (const name of [`sl-${pid}-1`, `lc-${pid}-2`]) expect(perNode(partitionTags(name, 10), 3).sort()).toEqual([3, 3, 4]);
    }
  });

  it('with hundreds of partitions on up to 64 nodes, is never more than one off P/N rounded', () => {
    for (const partitions of [100, 500, 1000, 1024]) {
      for (let nodes = 2; nodes <= 64; nodes++) {
        const counts = perNode(tags('star-leaders', partitions), nodes);
        expect(Math.min(...counts)).toBeGreaterThanOrEqual(Math.floor(partitions / nodes) - 1);
        expect(Math.max(...counts)).toBeLessThanOrEqual(Math.ceil(partitions / nodes) + 1);
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
