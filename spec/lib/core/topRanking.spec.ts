import { TopRanking } from '../../../lib/core/topRanking';

/** mulberry32: a fixed sequence, so the workload is the same on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The documented rank, computed from scratch: every live key sorted, the first k taken. */
function naiveTop(scores: ReadonlyMap<string, number>, k: number): string {
  return [...scores]
    .sort(([a, x], [b, y]) => y - x || byCodeUnits(a, b))
    .slice(0, k)
    .map(([key, score]) => `${key}:${score}`)
    .join(',');
}

describe('TopRanking', () => {
  it('agrees with a full sort after every update while keys move between members, candidates and the low tier', () => {
    const random = seeded(0x5eed);
    const k = 4;
    const ranking = new TopRanking<string>(k, byCodeUnits);
    // Spied on to show that the workload drives the heap past its bound and empties it too.
    const spies = {
      trim: jest.spyOn(TopRanking.prototype as never, 'trim'),
      refill: jest.spyOn(TopRanking.prototype as never, 'refill'),
    };
    const scores = new Map<string, number>();
    let previous = '';
    const mismatches: string[] = [];
    for (let step = 0; step < 40_000 && mismatches.length < 5; step++) {
      // Phases of growth (many keys arrive and climb, past the heap's bound) and of decay (scores
      // sink, members most of all, so they fall and leave until the candidates run out), with
      // ties all along.
      const growing = Math.floor(step / 4000) % 2 === 0;
      const members = ranking.list();
      const key = !growing && members.length > 0 && random() < 0.6 ? members[Math.floor(random() * members.length)].key : `k${Math.floor(random() * 300)}`;
      const old = scores.get(key) ?? 0;
      const delta = growing ? Math.floor(random() * 5) - 1 : -Math.floor(random() * 4);
      const score = Math.max(0, random() < 0.02 ? Math.floor(random() * 40) : old + delta);
      if (score === 0) scores.delete(key);
      else scores.set(key, score);
      const changed = ranking.set(key, score);
      const expected = naiveTop(scores, k);
      const got = ranking.list().map((row) => `${row.key}:${row.score}`).join(',');
      if (got !== expected) mismatches.push(`step ${step}: got ${got}, expected ${expected}`);
      else if (changed !== (expected !== previous)) mismatches.push(`step ${step}: set returned ${changed}, list ${previous} -> ${expected}`);
      previous = expected;
    }
    expect(mismatches).toEqual([]);
    expect(ranking.size).toBe(scores.size);
    expect(ranking.scores()).toEqual(scores);
    expect(spies.trim.mock.calls.length).toBeGreaterThan(10);
    expect(spies.refill.mock.calls.length).toBeGreaterThan(10);
    jest.restoreAllMocks();
  });

  it('keeps rows of unchanged keys between lists and hands out a new row when a score changes', () => {
    const ranking = new TopRanking<string>(2, byCodeUnits);
    ranking.set('a', 3);
    ranking.set('b', 2);
    const first = ranking.list();
    ranking.set('b', 5);
    const second = ranking.list();
    expect(second).toEqual([{ key: 'b', score: 5 }, { key: 'a', score: 3 }]);
    expect(second[1]).toBe(first[0]);
    expect(second[0]).not.toBe(first[1]);
    expect(first).toEqual([{ key: 'a', score: 3 }, { key: 'b', score: 2 }]);
  });
});
