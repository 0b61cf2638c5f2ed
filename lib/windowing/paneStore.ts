/**
 * The open panes of an event-time window operator, in start order, each holding one
 * accumulator per key. Internal to the window operators (not part of the public API).
 */
export class PaneStore<K, A> {
  private readonly byStart = new Map<number, Map<K, A>>();
  // Ascending pane starts from `head` on; expired entries before `head` are compacted away
  // lazily so removing the oldest pane is O(1) amortised instead of an array shift.
  private starts: number[] = [];
  private head = 0;

  /** Number of open panes. */
  get size(): number {
    return this.byStart.size;
  }

  /** The pane starting at `start`, if open. */
  get(start: number): Map<K, A> | undefined {
    return this.byStart.get(start);
  }

  /** The pane starting at `start`, opened (in start order) if it was not. */
  open(start: number): Map<K, A> {
    let pane = this.byStart.get(start);
    if (pane !== undefined) return pane;
    pane = new Map();
    this.byStart.set(start, pane);
    // Events come mostly in time order, so the new pane nearly always goes at the end and the
    // scan stops at once; an out-of-order pane walks back over at most the window's panes.
    let i = this.starts.length;
    while (i > this.head && this.starts[i - 1] > start) i--;
    if (i === this.starts.length) this.starts.push(start);
    else this.starts.splice(i, 0, start);
    return pane;
  }

  /** Start of the oldest open pane, or undefined when none is open. */
  oldestStart(): number | undefined {
    return this.head < this.starts.length ? this.starts[this.head] : undefined;
  }

  /** Closes the oldest pane and returns it with its start (undefined when none is open). */
  closeOldest(): { start: number; pane: Map<K, A> } | undefined {
    if (this.head >= this.starts.length) return undefined;
    const start = this.starts[this.head++];
    const pane = this.byStart.get(start)!;
    this.byStart.delete(start);
    if (this.head === this.starts.length) {
      this.starts = [];
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.head = 0;
    }
    return { start, pane };
  }

  /** Every open pane with its start, in start order (the store's whole state, by reference). */
  entries(): [number, Map<K, A>][] {
    const out: [number, Map<K, A>][] = [];
    for (let i = this.head; i < this.starts.length; i++) out.push([this.starts[i], this.byStart.get(this.starts[i])!]);
    return out;
  }

  /** Replaces the open panes with `entries` (as {@link entries} gave them, in start order). */
  restore(entries: readonly [number, Map<K, A>][]): void {
    this.byStart.clear();
    this.starts = entries.map(([start]) => start);
    this.head = 0;
    for (const [start, pane] of entries) this.byStart.set(start, pane);
  }

  /** The open panes in start order. */
  *panes(): IterableIterator<Map<K, A>> {
    for (let i = this.head; i < this.starts.length; i++) yield this.byStart.get(this.starts[i])!;
  }
}
