import { PartitionTable } from '../../../operators/internal/partitionTable';

const never = () => false;

describe('PartitionTable', () => {
  it('keeps partitions in least-recently-touched order when ordered', () => {
    const table = new PartitionTable<string, string>(true);
    const a = table.open('a');
    table.open('b');
    table.open('c');
    table.touch(a);
    expect(table.oldest()?.key).toBe('b');
    const closed: string[] = [];
    table.closeWhile((p) => (closed.push(p.key), p.key !== 'c'), never);
    // Walks b, then c (busy: stops), and never looks at a.
    expect(closed).toEqual(['b', 'c']);
    expect(table.size).toBe(2);
    expect(table.oldest()?.key).toBe('c');
  });

  it('keeps creation order when not ordered', () => {
    const table = new PartitionTable<string, string>(false);
    const a = table.open('a');
    table.open('b');
    table.touch(a);
    expect(table.oldest()).toBe(a);
  });

  it('completes or errors the input and the clock of a closed partition', () => {
    const table = new PartitionTable<number, string>(true);
    const a = table.open('a');
    const b = table.open('b');
    const seen: string[] = [];
    a.input.subscribe({ complete: () => seen.push('a input complete') });
    a.eventTime$.subscribe({ complete: () => seen.push('a clock complete') });
    b.input.subscribe({ error: (err: Error) => seen.push(`b input ${err.message}`) });
    table.close(a);
    table.closeAll(never, { error: new Error('boom') });
    expect(seen).toEqual(['a input complete', 'a clock complete', 'b input boom']);
    expect(table.size).toBe(0);
    a.eventTime$.subscribe({ complete: () => seen.push('late subscriber complete') });
    expect(seen).toContain('late subscriber complete');
  });

  it('advances event time only forward, replays it to new subscribers, and skips closed partitions', () => {
    const table = new PartitionTable<number, string>(true);
    const a = table.open('a');
    const b = table.open('b');
    const ticks: string[] = [];
    a.eventTime$.subscribe((t) => ticks.push(`a${t}`));
    expect(table.advance(10, never)).toBe(true);
    expect(table.advance(10, never)).toBe(false);
    expect(table.advance(5, never)).toBe(false);
    b.eventTime$.subscribe((t) => ticks.push(`b${t}`));
    table.close(a);
    expect(table.advance(20, never)).toBe(true);
    expect(ticks).toEqual(['a10', 'b10', 'b20']);
    expect(table.maxEventTime).toBe(20);
  });

  it('stops walking when told to', () => {
    const table = new PartitionTable<number, string>(true);
    for (const key of ['a', 'b', 'c']) table.open(key);
    let closes = 0;
    table.closeAll(() => ++closes === 2);
    expect(table.size).toBe(1);
  });
});
