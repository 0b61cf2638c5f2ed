import { PaneStore } from '../../../lib/windowing/paneStore';

describe('PaneStore', () => {
  it('keeps panes in start order whatever order they open in, and closes the oldest first', () => {
    const store = new PaneStore<string, number>();
    for (const start of [10, 30, 20, 40, 5]) store.open(start).set('k', start);
    expect(store.size).toBe(5);
    expect(store.oldestStart()).toBe(5);
    expect([...store.panes()].map((p) => p.get('k'))).toEqual([5, 10, 20, 30, 40]);
    expect(store.closeOldest()!.start).toBe(5);
    expect(store.closeOldest()!.pane.get('k')).toBe(10);
    store.open(15).set('k', 15);
    expect([...store.panes()].map((p) => p.get('k'))).toEqual([15, 20, 30, 40]);
    expect(store.get(20)!.get('k')).toBe(20);
    expect(store.get(10)).toBeUndefined();
  });

  it('returns the same pane when opened twice', () => {
    const store = new PaneStore<string, number>();
    store.open(7).set('a', 1);
    expect(store.open(7).get('a')).toBe(1);
    expect(store.size).toBe(1);
  });

  it('empties completely and stays ordered through many opens and closes', () => {
    const store = new PaneStore<number, number>();
    expect(store.closeOldest()).toBeUndefined();
    expect(store.oldestStart()).toBeUndefined();
    const closed: number[] = [];
    for (let start = 0; start < 500; start++) {
      store.open(start);
      if (start % 7 === 3) store.open(start - 2); // an already open pane: no duplicate
      while (store.size > 24) closed.push(store.closeOldest()!.start);
    }
    while (store.size > 0) closed.push(store.closeOldest()!.start);
    expect(closed).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(store.oldestStart()).toBeUndefined();
  });
});
