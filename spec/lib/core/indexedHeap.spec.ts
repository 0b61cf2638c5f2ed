import { IndexedHeap } from '../../../lib/core/indexedHeap';

interface Item {
  id: number;
  priority: number;
  heapIndex: number;
}

describe('IndexedHeap', () => {
  it('pops in priority order through random pushes, removals and priority changes', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    // Highest priority first, ties by id, as topK uses it.
    const heap = new IndexedHeap<Item>((a, b) => (a.priority !== b.priority ? a.priority > b.priority : a.id < b.id));
    const inHeap = new Map<number, Item>();
    const best = (): Item | undefined =>
      [...inHeap.values()].sort((a, b) => b.priority - a.priority || a.id - b.id)[0];
    for (let step = 0; step < 5000; step++) {
      const id = Math.floor(random() * 200);
      const item = inHeap.get(id);
      const roll = random();
      if (item === undefined) {
        const fresh = { id, priority: Math.floor(random() * 20), heapIndex: -1 };
        heap.push(fresh);
        inHeap.set(id, fresh);
      } else if (roll < 0.3) {
        heap.remove(item);
        inHeap.delete(id);
        expect(item.heapIndex).toBe(-1);
      } else if (roll < 0.4) {
        expect(heap.pop()).toBe(best());
        inHeap.delete(best()!.id);
      } else {
        item.priority = Math.floor(random() * 20);
        heap.update(item);
      }
      expect(heap.size).toBe(inHeap.size);
      expect(heap.peek()).toBe(best());
    }
    heap.clear();
    expect(heap.size).toBe(0);
    expect(heap.pop()).toBeUndefined();
    expect([...inHeap.values()].every((item) => item.heapIndex === -1)).toBe(true);
  });

  it('drains its items and is filled again from a sorted array without comparing', () => {
    let comparisons = 0;
    const heap = new IndexedHeap<Item>((a, b) => (comparisons++, a.priority > b.priority));
    const items = [3, 9, 1, 7].map((priority, id) => ({ id, priority, heapIndex: -1 }));
    items.forEach((item) => heap.push(item));
    const drained = heap.drain();
    expect(heap.size).toBe(0);
    expect(drained.map((item) => item.priority).sort()).toEqual([1, 3, 7, 9]);
    expect(drained.every((item) => item.heapIndex === -1)).toBe(true);
    const sorted = [...drained].sort((a, b) => b.priority - a.priority);
    comparisons = 0;
    heap.fill(sorted);
    expect(comparisons).toBe(0);
    expect(sorted.map((item) => item.heapIndex)).toEqual([0, 1, 2, 3]);
    const popped: number[] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) popped.push(item.priority);
    expect(popped).toEqual([9, 7, 3, 1]);
  });
});
