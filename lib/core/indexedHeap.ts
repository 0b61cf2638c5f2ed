/** An item that knows where it sits in an {@link IndexedHeap} (-1 when it is in none). */
export interface HeapSlot {
  heapIndex: number;
}

/**
 * A binary heap whose items remember their own position, so an item can be removed or re-placed
 * after its priority changed in O(log n) without a search. The heap never allocates per
 * operation (items are the caller's objects), which matters on hot paths such as `topK`.
 * `before(a, b)` is true when `a` must come out before `b`; it must be a strict order.
 */
export class IndexedHeap<E extends HeapSlot> {
  private readonly items: E[] = [];

  constructor(private readonly before: (a: E, b: E) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  /** The item that {@link pop} would return, without removing it. */
  peek(): E | undefined {
    return this.items[0];
  }

  push(item: E): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.siftUp(item.heapIndex);
  }

  pop(): E | undefined {
    const first = this.items[0];
    if (first !== undefined) this.remove(first);
    return first;
  }

  /** Removes `item`, which must be in this heap. */
  remove(item: E): void {
    const index = item.heapIndex;
    const last = this.items.pop() as E;
    item.heapIndex = -1;
    if (last === item) return;
    this.items[index] = last;
    last.heapIndex = index;
    this.update(last);
  }

  /** Restores the heap order after the priority of `item` (which is in this heap) changed. */
  update(item: E): void {
    if (!this.siftUp(item.heapIndex)) this.siftDown(item.heapIndex);
  }

  clear(): void {
    for (const item of this.items) item.heapIndex = -1;
    this.items.length = 0;
  }

  /** Empties the heap and returns its items, in no particular order. */
  drain(): E[] {
    const items = this.items.splice(0);
    for (const item of items) item.heapIndex = -1;
    return items;
  }

  /**
   * Fills an empty heap with `sorted`, which must already be in `before` order (first out
   * first): a sorted array is a heap, so this costs no comparison.
   */
  fill(sorted: readonly E[]): void {
    const items = this.items;
    for (let i = 0; i < sorted.length; i++) {
      sorted[i].heapIndex = items.length;
      items.push(sorted[i]);
    }
  }

  private siftUp(index: number): boolean {
    const items = this.items;
    const item = items[index];
    const start = index;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex];
      if (!this.before(item, parent)) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
    return index !== start;
  }

  private siftDown(index: number): void {
    const items = this.items;
    const length = items.length;
    const item = items[index];
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      if (child + 1 < length && this.before(items[child + 1], items[child])) child += 1;
      if (!this.before(items[child], item)) break;
      items[index] = items[child];
      items[index].heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
