import { from, Subject, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { boundaryWindow, BoundaryWindowOptions, ClosedWindow } from 'rivulet';
import { callbackFailed } from '../../lib/core/errors';
import { StateScope, withStateScope } from '../../lib/state/scope';
import { betweenMergeMaps, EndlessSource } from './operatorCases';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const MARK = 'END';
/** Sums numbers; 'END' is the marker. */
const summing = (extra: Partial<BoundaryWindowOptions<number | string, number>> = {}) =>
  boundaryWindow<number | string, number>({
    isBoundary: (v) => v === MARK,
    seed: () => 0,
    add: (sum, v) => sum + (v as number),
    onComplete: 'emit',
    ...extra,
  });
const values = { a: 1, b: 2, c: 3, d: 4, e: 5, m: MARK };
const byBoundary = (value: number, count: number): ClosedWindow<number | string, number> => ({
  value,
  count,
  closedBy: 'boundary',
  boundary: MARK,
});

describe('boundaryWindow', () => {
  it('emits the aggregate of each window when a marker closes it', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-m-c-m-|', values);
      expectObservable(source.pipe(summing())).toBe('-----x---y-|', { x: byBoundary(3, 2), y: byBoundary(3, 1) });
      expectSubscriptions(source.subscriptions).toBe('^----------!');
    });
  });

  it('completes without emitting on an empty source', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<number | string>('|');
      expectObservable(source.pipe(summing())).toBe('|');
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('stays silent on a source that never emits', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<number | string>('-');
      expectObservable(source.pipe(summing())).toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('passes a source error on and discards the open window', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-m-b-#', values, new Error('boom'));
      expectObservable(source.pipe(summing())).toBe('---x---#', { x: byBoundary(1, 1) }, new Error('boom'));
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
  });

  it('unsubscribes from the source on early unsubscribe, dropping the open window', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-m-b-m-|', values);
      expectObservable(source.pipe(summing()), '------!').toBe('---x---', { x: byBoundary(1, 1) });
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  describe('errors with ERR_CALLBACK_FAILED naming the callback that threw', () => {
    const thrown = new Error('broken');
    const fail = (): never => {
      throw thrown;
    };
    it.each([
      // callback, marbles of the result, where the source is unsubscribed
      ['isBoundary', '-#', '^!'],
      ['add', '-#', '^!'],
      ['splitBefore', '---#', '^--!'], // asked first when a second value joins a window
    ] as const)('%s', (name, expected, subscription) => {
      newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-a-b-m-|', values);
        const result = source.pipe(summing({ splitBefore: () => false, [name]: fail }));
        expectObservable(result).toBe(expected, undefined, callbackFailed('boundaryWindow', name, thrown));
        expectSubscriptions(source.subscriptions).toBe(subscription);
      });
    });
    it('seed (on the first value of a window, and when a marker closes an empty window)', () => {
      newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('-a-|', values);
        const empty = cold('-m-|', values);
        const error = callbackFailed('boundaryWindow', 'seed', thrown);
        expectObservable(first.pipe(summing({ seed: fail }))).toBe('-#', undefined, error);
        expectObservable(empty.pipe(summing({ seed: fail }))).toBe('-#', undefined, error);
        expectSubscriptions(first.subscriptions).toBe('^!');
        expectSubscriptions(empty.subscriptions).toBe('^!');
      });
    });
  });

  it('stops listening to a synchronous source when unsubscribed', () => {
    // 1, END, 2, END, ...: each marker closes a window of one value.
    const endless = new EndlessSource((i) => (i % 2 === 1 ? MARK : i / 2 + 1));
    const sums: number[] = [];
    endless.source.pipe(summing(), take(3)).subscribe((w) => sums.push(w.value));
    expect(sums).toEqual([1, 2, 3]);
    expect(endless.pulls).toBe(6);
  });

  it('stops on a window that splitBefore closes', () => {
    // Every value closes the window before it: value i emits window i - 1.
    const endless = new EndlessSource((i) => i);
    const closed: string[] = [];
    endless.source.pipe(summing({ splitBefore: () => true }), take(3)).subscribe((w) => closed.push(`${w.closedBy}:${w.value}`));
    expect(closed).toEqual(['split:0', 'split:1', 'split:2']);
    expect(endless.pulls).toBe(4);
  });

  it('does not break unsubscription chains', () => {
    newScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-m-b-m-c-m-|', values);
      const result = source.pipe(betweenMergeMaps(summing()));
      expectObservable(result, '------!').toBe('---x---', { x: byBoundary(1, 1) });
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  it('emits seed() for an empty window by default, and nothing with emitEmpty: false', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-m-a-m-m-|', values);
      expectObservable(source.pipe(summing())).toBe('-x---y-z-|', {
        x: byBoundary(0, 0),
        y: byBoundary(1, 1),
        z: byBoundary(0, 0),
      });
      expectObservable(source.pipe(summing({ emitEmpty: false }))).toBe('-----y---|', { y: byBoundary(1, 1) });
    });
  });

  it('calls seed() afresh for every window, so mutable aggregates are never shared', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-m-m-b-m-|', values);
      const collecting = boundaryWindow<number | string, (number | string)[]>({
        isBoundary: (v) => v === MARK,
        seed: () => [],
        add: (list, v) => (list.push(v), list),
        onComplete: 'drop',
      });
      expectObservable(source.pipe(collecting)).toBe('---x-y---z-|', {
        x: { value: [1], count: 1, closedBy: 'boundary', boundary: MARK },
        y: { value: [], count: 0, closedBy: 'boundary', boundary: MARK },
        z: { value: [2], count: 1, closedBy: 'boundary', boundary: MARK },
      });
    });
  });

  it('closes the window before a value when splitBefore says so', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      // A new window whenever the value goes down: [1 2] [1 3 4] | [2] [1] then complete.
      const source = cold('-a-b-a-c-d-m-b-a-|', values);
      const splitOnDrop = summing({ splitBefore: (previous, next) => (next as number) < (previous as number) });
      expectObservable(source.pipe(splitOnDrop)).toBe('-----s-----x---t-(w|)', {
        s: { value: 3, count: 2, closedBy: 'split' },
        x: byBoundary(8, 3),
        t: { value: 2, count: 1, closedBy: 'split' },
        w: { value: 1, count: 1, closedBy: 'complete' },
      });
    });
  });

  it('never asks splitBefore across a marker', () => {
    const asked: [unknown, unknown][] = [];
    const source = new Subject<number | string>();
    source.pipe(summing({ splitBefore: (p, n) => (asked.push([p, n]), false) })).subscribe();
    [1, 2, MARK, 3, MARK, MARK, 4, 5].forEach((v) => source.next(v));
    expect(asked).toEqual([
      [1, 2],
      [4, 5],
    ]);
  });

  it("emits the unclosed window on completion with onComplete 'emit' (if non-empty), not with 'drop'", () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const open = cold('-a-m-b-c-|', values);
      const closed = cold('-a-m-|', values);
      const last = { value: 5, count: 2, closedBy: 'complete' };
      expectObservable(open.pipe(summing({ onComplete: 'emit' }))).toBe('---x-----(w|)', { x: byBoundary(1, 1), w: last });
      expectObservable(open.pipe(summing({ onComplete: 'drop' }))).toBe('---x-----|', { x: byBoundary(1, 1) });
      expectObservable(closed.pipe(summing({ onComplete: 'emit' }))).toBe('---x-|', { x: byBoundary(1, 1) });
    });
  });

  it('puts every non-marker value in exactly one window, in order', () => {
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let run = 0; run < 50; run++) {
      const input = Array.from({ length: 200 }, () => (random() < 0.1 ? MARK : Math.floor(random() * 10)));
      const windows: ClosedWindow<number | string, number[]>[] = [];
      const source = new Subject<number | string>();
      source
        .pipe(
          boundaryWindow<number | string, number[]>({
            isBoundary: (v) => v === MARK,
            seed: () => [],
            add: (list, v) => [...list, v as number],
            splitBefore: (p, n) => (p as number) + (n as number) === 9,
            emitEmpty: run % 2 === 0,
            onComplete: 'emit',
          }),
        )
        .subscribe((w) => windows.push(w));
      input.forEach((v) => source.next(v));
      source.complete();
      expect(windows.flatMap((w) => w.value)).toEqual(input.filter((v) => v !== MARK));
      for (const w of windows) {
        expect(w.count).toBe(w.value.length);
        if (w.closedBy !== 'boundary') expect(w.count).toBeGreaterThan(0);
      }
      // A marker closes a window, and with emitEmpty false only when values came since the last marker.
      let closingMarkers = 0;
      let sinceMarker = 0;
      for (const v of input) {
        if (v !== MARK) sinceMarker += 1;
        else if (run % 2 === 0 || sinceMarker > 0) (closingMarkers += 1), (sinceMarker = 0);
        else sinceMarker = 0;
      }
      expect(windows.filter((w) => w.closedBy === 'boundary').length).toBe(closingMarkers);
    }
  });

  it('prints what its documented example says', () => {
    const lines: string[] = [];
    from(['a', 'b', 'END_OF_DAY', 'END_OF_DAY', 'c'])
      .pipe(
        boundaryWindow({
          isBoundary: (line) => line === 'END_OF_DAY',
          seed: () => [] as string[],
          add: (lines, line) => [...lines, line],
          emitEmpty: false,
          onComplete: 'drop',
        }),
      )
      .subscribe((w) => lines.push(`${w.closedBy} ${JSON.stringify(w.value)}`));
    expect(lines).toEqual(['boundary ["a","b"]']);
  });

  describe('mapValue', () => {
    /** Words in, their lengths summed; a window splits when a word's first letter changes. */
    const byInitial = (mapped: string[]) =>
      boundaryWindow({
        uid: 'words',
        isBoundary: (v: string) => v === MARK,
        mapValue: (word: string) => (mapped.push(word), { initial: word[0], length: word.length }),
        seed: () => 0,
        add: (sum: number, w: { initial: string; length: number }) => sum + w.length,
        splitBefore: (previous, next) => previous.initial !== next.initial,
        onComplete: 'emit',
      });

    it('is applied once to each value but the markers, and splitBefore and add see what it returns', () => {
      const mapped: string[] = [];
      const windows: ClosedWindow<string, number>[] = [];
      from(['apple', 'avocado', 'banana', MARK, 'cherry', 'cress']).pipe(byInitial(mapped)).subscribe((w) => windows.push(w));
      expect(mapped).toEqual(['apple', 'avocado', 'banana', 'cherry', 'cress']);
      expect(windows).toEqual([
        { value: 12, count: 2, closedBy: 'split' },
        { value: 6, count: 1, closedBy: 'boundary', boundary: MARK },
        { value: 11, count: 2, closedBy: 'complete' },
      ]);
    });

    it('is what a checkpoint keeps as the previous value, so a restored window splits as the original would', () => {
      const scope = new StateScope();
      const first = new Subject<string>();
      const seen: ClosedWindow<string, number>[] = [];
      withStateScope(scope, () => first.pipe(byInitial([])).subscribe((w) => seen.push(w)));
      first.next('apple');
      first.next('avocado');
      const snapshot = scope.snapshot();
      expect(snapshot.get('words')?.state).toEqual({ acc: 12, count: 2, previous: { initial: 'a', length: 7 } });
      // A new run from the snapshot: 'art' joins the restored window, 'bee' splits it.
      const restored = new Subject<string>();
      const after: ClosedWindow<string, number>[] = [];
      withStateScope(new StateScope(structuredClone(snapshot)), () => restored.pipe(byInitial([])).subscribe((w) => after.push(w)));
      restored.next('art');
      restored.next('bee');
      restored.complete();
      expect(after).toEqual([
        { value: 15, count: 3, closedBy: 'split' },
        { value: 3, count: 1, closedBy: 'complete' },
      ]);
    });

    it('errors with ERR_CALLBACK_FAILED naming it when it throws, and unsubscribes', () => {
      const thrown = new Error('broken');
      newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-m-a-|', values);
        const result = source.pipe(
          boundaryWindow({
            isBoundary: (v: number | string) => v === MARK,
            mapValue: (): number => {
              throw thrown;
            },
            seed: () => 0,
            add: (sum: number, v: number) => sum + v,
            onComplete: 'emit',
          }),
        );
        // The marker is not mapped: the window it closes is empty.
        expectObservable(result).toBe('-x-#', { x: byBoundary(0, 0) }, callbackFailed('boundaryWindow', 'mapValue', thrown));
        expectSubscriptions(source.subscriptions).toBe('^--!');
      });
    });
  });

  it('rejects bad options at creation', () => {
    const base: BoundaryWindowOptions<string, number> = {
      isBoundary: (v) => v === MARK,
      seed: () => 0,
      add: (n) => n + 1,
      onComplete: 'emit',
    };
    expect(() => boundaryWindow({ ...base, onComplete: undefined as never })).toThrow(
      "boundaryWindow: onComplete must be 'emit' or 'drop', got undefined",
    );
    expect(() => boundaryWindow({ ...base, add: undefined as never })).toThrow(/boundaryWindow: add must be a function/);
    expect(() => boundaryWindow({ ...base, splitBefore: 1 as never })).toThrow(/splitBefore must be a function/);
    expect(() => boundaryWindow({ ...base, emitEmpty: 'no' as never })).toThrow(/emitEmpty must be a boolean/);
    expect(() => boundaryWindow({ ...base, mapValue: 'length' as never })).toThrow('boundaryWindow: mapValue must be a function when given, got string');
  });
});
