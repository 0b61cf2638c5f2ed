import { HeapSlot, IndexedHeap } from './indexedHeap';

/** One row of a top-K list. Rows are shared between successive lists: treat them as immutable. */
export interface Ranked<K> {
  readonly key: K;
  readonly score: number;
}

/** Where an entry sits: among the K members, among the candidates (the heap), or below them. */
const MEMBER = 0;
const CANDIDATE = 1;
const LOW = 2;

interface Entry<K> extends HeapSlot {
  readonly key: K;
  score: number;
  tier: typeof MEMBER | typeof CANDIDATE | typeof LOW;
  /** The row last handed out for this key, reused until its score changes. */
  row: Ranked<K> | undefined;
}

/** Fewest candidates kept in the heap after a refill or a trim. */
const MIN_CANDIDATES = 16;

/**
 * The state behind `topK`: the scores of all live keys, with the best `k` kept in rank order.
 * Rank: higher score first, then `compareKeys` ascending. `compareKeys` may throw; the structure
 * is then unusable (the operator errors). A score of 0 forgets the key.
 *
 * Three tiers. The members sit in a sorted array. The best non-members, the candidates, sit in
 * an indexed max-heap, so the best non-member is at hand when a member falls. Every other key is
 * low: it ranks below a floor that every candidate reaches, and lives in the Map alone. Most keys
 * of a long tail are low, and a low key that arrives, changes or leaves costs a Map operation and
 * at most two comparisons (with the last member and the floor), with no heap work: in a sliding
 * window over many keys, that is most updates. A candidate's update is O(log c) in the heap.
 *
 * The heap is kept between `c` and `2c` entries (`c` at least 16, and an eighth of the
 * non-members, worked out again at each trim and refill, so it follows the number of keys): beyond `2c`, the worst are sent below a raised floor (O(c log c), once per `c`
 * insertions at least). When the heap runs empty while a member falls, the best `c` low keys are
 * selected into it in one pass over the keys (O(n), about one comparison per key); the heap
 * only empties after `c` candidates left it, so this costs O(n / c), a few steps, per update
 * at worst, and nothing in the usual case. No full recompute, no full sort.
 */
export class TopRanking<K> {
  private readonly entries = new Map<K, Entry<K>>();
  /** Best first; while it holds fewer than k entries, no key is outside it. */
  private readonly top: Entry<K>[] = [];
  private readonly candidates: IndexedHeap<Entry<K>>;
  private readonly before: (a: Entry<K>, b: Entry<K>) => boolean;
  private lowCount = 0;
  /** Every low key ranks below the floor, every candidate at or above it; none before the first trim. */
  private hasFloor = false;
  private floorScore = 0;
  private floorKey: K | undefined;
  private capacity = MIN_CANDIDATES;

  constructor(
    private readonly k: number,
    private readonly compareKeys: (a: K, b: K) => number,
  ) {
    this.before = (a, b) => (a.score !== b.score ? a.score > b.score : compareKeys(a.key, b.key) < 0);
    this.candidates = new IndexedHeap(this.before);
  }

  /** Sets the score of `key` (0 removes it); true when the top K changed (members, scores, order). */
  set(key: K, score: number): boolean {
    const { top, k, before } = this;
    let entry = this.entries.get(key);
    if (score === 0) {
      if (entry === undefined) return false;
      this.entries.delete(key);
      if (entry.tier !== MEMBER) return this.leaveOutside(entry), false;
      this.removeTop(entry);
      const promoted = this.bestOutside();
      if (promoted !== undefined) {
        this.candidates.remove(promoted);
        this.insertTop(promoted);
      }
      return true;
    }
    if (entry === undefined) {
      entry = { key, score, heapIndex: -1, tier: LOW, row: undefined };
      this.entries.set(key, entry);
      if (top.length < k) return this.insertTop(entry), true;
      if (!before(entry, top[k - 1])) return this.placeOutside(entry), false;
      this.demoteWorst();
      return this.insertTop(entry), true;
    }
    const old = entry.score;
    if (old === score) return false;
    entry.score = score;
    entry.row = undefined;
    if (entry.tier === MEMBER) {
      this.removeTop(entry);
      const best = score < old ? this.bestOutside() : undefined;
      if (best !== undefined && before(best, entry)) {
        this.candidates.remove(best);
        this.insertTop(best);
        this.placeOutside(entry);
      } else this.insertTop(entry);
      return true;
    }
    // Outside the top, which is therefore full.
    if (before(entry, top[k - 1])) {
      this.leaveOutside(entry);
      this.demoteWorst();
      return this.insertTop(entry), true;
    }
    if (entry.tier === CANDIDATE) {
      if (score < old && this.belowFloor(entry)) {
        this.candidates.remove(entry);
        entry.tier = LOW;
        this.lowCount++;
      } else this.candidates.update(entry);
    } else if (score > old && !this.belowFloor(entry)) {
      this.lowCount--;
      this.addCandidate(entry);
    }
    return false;
  }

  /** The current top K, best first, as a fresh array. */
  list(): Ranked<K>[] {
    const top = this.top;
    const list = new Array<Ranked<K>>(top.length);
    for (let i = 0; i < top.length; i++) {
      const entry = top[i];
      list[i] = entry.row ??= { key: entry.key, score: entry.score };
    }
    return list;
  }

  /** How many keys have a live (non-zero) score. */
  get size(): number {
    return this.entries.size;
  }

  /** Every live key with its score (the whole state: `set` rebuilds the same ranking from it). */
  scores(): Map<K, number> {
    const out = new Map<K, number>();
    for (const [key, entry] of this.entries) out.set(key, entry.score);
    return out;
  }

  clear(): void {
    this.entries.clear();
    this.candidates.clear();
    this.top.length = 0;
    this.lowCount = 0;
    this.hasFloor = false;
    this.floorKey = undefined;
  }

  private belowFloor(entry: Entry<K>): boolean {
    if (!this.hasFloor) return false;
    return entry.score !== this.floorScore ? entry.score < this.floorScore : this.compareKeys(this.floorKey as K, entry.key) < 0;
  }

  private setFloor(entry: Entry<K>): void {
    this.hasFloor = true;
    this.floorScore = entry.score;
    this.floorKey = entry.key;
  }

  /** A key that is not a member any more, or not yet: a candidate or low, by the floor. */
  private placeOutside(entry: Entry<K>): void {
    if (this.belowFloor(entry)) {
      entry.tier = LOW;
      this.lowCount++;
    } else this.addCandidate(entry);
  }

  private leaveOutside(entry: Entry<K>): void {
    if (entry.tier === CANDIDATE) this.candidates.remove(entry);
    else this.lowCount--;
  }

  private addCandidate(entry: Entry<K>): void {
    entry.tier = CANDIDATE;
    this.candidates.push(entry);
    if (this.candidates.size > 2 * this.capacity) this.trim();
  }

  /** The best non-member, selecting candidates from the low keys if the heap ran empty. */
  private bestOutside(): Entry<K> | undefined {
    if (this.candidates.size === 0 && this.lowCount > 0) this.refill();
    return this.candidates.peek();
  }

  private resize(): void {
    this.capacity = Math.max(MIN_CANDIDATES, this.k, (this.candidates.size + this.lowCount) >>> 3);
  }

  /** Keeps the best `capacity` candidates and sends the others below a floor raised to the last kept. */
  private trim(): void {
    this.resize();
    const sorted = this.candidates.drain().sort((a, b) => (this.before(a, b) ? -1 : 1));
    const keep = Math.min(this.capacity, sorted.length);
    for (let i = keep; i < sorted.length; i++) sorted[i].tier = LOW;
    this.lowCount += sorted.length - keep;
    sorted.length = keep;
    this.candidates.fill(sorted);
    this.setFloor(sorted[keep - 1]);
  }

  /**
   * The heap is empty: the best `capacity` low keys become the candidates, found in one pass
   * with a small heap of the best so far (worst on top), and the floor drops to the last of them.
   */
  private refill(): void {
    this.resize();
    const { before, capacity } = this;
    const picked = new IndexedHeap<Entry<K>>((a, b) => before(b, a));
    for (const entry of this.entries.values()) {
      if (entry.tier !== LOW) continue;
      if (picked.size < capacity) picked.push(entry);
      else if (before(entry, picked.peek()!)) {
        picked.pop();
        picked.push(entry);
      }
    }
    const sorted = picked.drain().sort((a, b) => (before(a, b) ? -1 : 1));
    for (const entry of sorted) entry.tier = CANDIDATE;
    this.lowCount -= sorted.length;
    this.candidates.fill(sorted);
    this.setFloor(sorted[sorted.length - 1]);
  }

  private insertTop(entry: Entry<K>): void {
    const top = this.top;
    let i = top.length;
    top.push(entry);
    for (; i > 0 && this.before(entry, top[i - 1]); i--) top[i] = top[i - 1];
    top[i] = entry;
    entry.tier = MEMBER;
  }

  private removeTop(entry: Entry<K>): void {
    this.top.splice(this.top.indexOf(entry), 1);
  }

  private demoteWorst(): void {
    this.placeOutside(this.top.pop() as Entry<K>);
  }
}
