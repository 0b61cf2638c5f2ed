import { HeapSlot, IndexedHeap } from './indexedHeap';

/** One row of a top-K list. Rows are shared between successive lists: treat them as immutable. */
export interface Ranked<K> {
  readonly key: K;
  readonly score: number;
}

interface Entry<K> extends HeapSlot {
  readonly key: K;
  score: number;
  inTop: boolean;
  /** The row last handed out for this key, reused until its score changes. */
  row: Ranked<K> | undefined;
}

/**
 * The state behind `topK`: the scores of all live keys, with the best `k` kept in rank order.
 * Rank: higher score first, then `compareKeys` ascending. The members sit in a sorted array,
 * every other key in an indexed max-heap, so the best non-member is always at hand: an update is
 * O(log n) (plus O(K) when the top K changes) and never needs a full recompute. A score of 0
 * forgets the key. `compareKeys` may throw; the structure is then unusable (the operator errors).
 */
export class TopRanking<K> {
  private readonly entries = new Map<K, Entry<K>>();
  /** Best first; while it holds fewer than k entries, `rest` is empty. */
  private readonly top: Entry<K>[] = [];
  private readonly rest: IndexedHeap<Entry<K>>;
  private readonly before: (a: Entry<K>, b: Entry<K>) => boolean;

  constructor(
    private readonly k: number,
    compareKeys: (a: K, b: K) => number,
  ) {
    this.before = (a, b) => (a.score !== b.score ? a.score > b.score : compareKeys(a.key, b.key) < 0);
    this.rest = new IndexedHeap(this.before);
  }

  /** Sets the score of `key` (0 removes it); true when the top K changed (members, scores, order). */
  set(key: K, score: number): boolean {
    const { top, rest, k, before } = this;
    let entry = this.entries.get(key);
    if (score === 0) {
      if (entry === undefined) return false;
      this.entries.delete(key);
      if (!entry.inTop) return rest.remove(entry), false;
      this.removeTop(entry);
      const promoted = rest.pop();
      if (promoted !== undefined) this.insertTop(promoted);
      return true;
    }
    if (entry === undefined) {
      entry = { key, score, heapIndex: -1, inTop: false, row: undefined };
      this.entries.set(key, entry);
      if (top.length < k) return this.insertTop(entry), true;
      if (!before(entry, top[k - 1])) return rest.push(entry), false;
      this.demoteWorst();
      return this.insertTop(entry), true;
    }
    if (entry.score === score) return false;
    entry.score = score;
    entry.row = undefined;
    if (entry.inTop) {
      this.removeTop(entry);
      const best = rest.peek();
      if (best !== undefined && before(best, entry)) {
        rest.pop();
        this.insertTop(best);
        rest.push(entry);
      } else this.insertTop(entry);
      return true;
    }
    rest.update(entry);
    if (!before(entry, top[k - 1])) return false;
    rest.remove(entry);
    this.demoteWorst();
    return this.insertTop(entry), true;
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
    this.rest.clear();
    this.top.length = 0;
  }

  private insertTop(entry: Entry<K>): void {
    const top = this.top;
    let i = top.length;
    top.push(entry);
    for (; i > 0 && this.before(entry, top[i - 1]); i--) top[i] = top[i - 1];
    top[i] = entry;
    entry.inTop = true;
  }

  private removeTop(entry: Entry<K>): void {
    this.top.splice(this.top.indexOf(entry), 1);
    entry.inTop = false;
  }

  private demoteWorst(): void {
    const worst = this.top.pop() as Entry<K>;
    worst.inTop = false;
    this.rest.push(worst);
  }
}
