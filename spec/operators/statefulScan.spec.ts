import { of, range, Subject, take, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RivuletError, stateHandle, statefulScan, StateHandle } from 'rivulet';
import { betweenMergeMaps, EndlessSource } from './operatorCases';

const boom = new Error('boom');
const failed = (callback: string) =>
  new RivuletError('ERR_CALLBACK_FAILED', `statefulScan: ${callback} threw: boom`, { cause: boom });

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** Running sum: emits the sum after each value; flush emits the count of values seen. */
function runningSum(handle?: StateHandle<{ sum: number; count: number }>, seeds = { calls: 0 }) {
  return statefulScan<number, { sum: number; count: number }, number>({
    seed: () => {
      seeds.calls++;
      return { sum: 0, count: 0 };
    },
    step: (state, value, emit) => {
      state.sum += value;
      state.count++;
      emit(state.sum);
      return state;
    },
    flush: (state, emit) => emit(state.count * 1000),
    handle,
  });
}

describe('statefulScan', () => {
  it('steps each value through the state and flushes on completion', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a: 1, b: 2, c: 3 });
      expectObservable(source.pipe(runningSum())).toBe('-x-y-z-(f|)', { x: 1, y: 3, z: 6, f: 3000 });
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
  });

  it('lets a step emit nothing or several outputs, and returns a new state', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c---|', { a: 1, b: 2, c: 4 });
      const result = source.pipe(
        statefulScan<number, number, string>({
          seed: () => 0,
          // Emits the value once per unit of the previous value; the state is the last value.
          step: (previous, value, emit) => {
            for (let i = 0; i < previous; i++) emit(`${value}#${i}`);
            return value;
          },
        }),
      );
      expectObservable(result).toBe('---b-(cd)|', { b: '2#0', c: '4#0', d: '4#1' });
    });
  });

  it('on an empty source seeds and flushes once, or does nothing without flush', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const seeds = { calls: 0 };
      const source = cold<number>('---|');
      expectObservable(source.pipe(runningSum(undefined, seeds))).toBe('---(f|)', { f: 0 });
      expectSubscriptions(source.subscriptions).toBe('^--!');
      const noFlush = statefulScan<number, number, number>({
        seed: () => {
          throw boom;
        },
        step: (state) => state,
      });
      expectObservable(cold<number>('--|').pipe(noFlush)).toBe('--|');
    });
  });

  it('counts seed calls: exactly one per subscription, lazily', () => {
    const seeds = { calls: 0 };
    const source = new Subject<number>();
    const seen: number[] = [];
    source.pipe(runningSum(undefined, seeds)).subscribe((v) => seen.push(v));
    expect(seeds.calls).toBe(0);
    source.next(5);
    source.next(6);
    expect(seeds.calls).toBe(1);
    source.complete();
    expect(seen).toEqual([5, 11, 2000]);
    expect(seeds.calls).toBe(1);
  });

  it('never emits and keeps the source subscribed on a never source', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<number>('-');
      expectObservable(source.pipe(runningSum())).toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('passes a source error through as is, without flushing', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-#', { a: 1 }, boom);
      expectObservable(source.pipe(runningSum())).toBe('-x-#', { x: 1 }, boom);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it.each(['seed', 'step'])('errors with ERR_CALLBACK_FAILED when %s throws, and unsubscribes', (callback) => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a: 1, b: 2, c: 3 });
      let calls = 0;
      const result = source.pipe(
        statefulScan<number, number, number>({
          seed: () => {
            if (callback === 'seed') throw boom;
            return 0;
          },
          step: (sum, value, emit) => {
            if (callback === 'step' && ++calls === 2) throw boom;
            emit(sum + value);
            return sum + value;
          },
        }),
      );
      if (callback === 'seed') {
        expectObservable(result).toBe('-#', undefined, failed('seed'));
        expectSubscriptions(source.subscriptions).toBe('^!');
      } else {
        expectObservable(result).toBe('-x-#', { x: 1 }, failed('step'));
        expectSubscriptions(source.subscriptions).toBe('^--!');
      }
    });
  });

  it('errors with ERR_CALLBACK_FAILED when flush throws', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const result = cold('-a-|', { a: 1 }).pipe(
        statefulScan<number, number, number>({
          seed: () => 0,
          step: (sum, value) => sum + value,
          flush: () => {
            throw boom;
          },
        }),
      );
      expectObservable(result).toBe('---#', undefined, failed('flush'));
    });
  });

  it('stops stepping a synchronous source after a step throws', () => {
    let steps = 0;
    const errors: unknown[] = [];
    of(1, 2, 3, 4)
      .pipe(
        statefulScan<number, number, number>({
          seed: () => 0,
          step: () => {
            steps++;
            throw boom;
          },
        }),
      )
      .subscribe({ error: (err) => errors.push(err) });
    expect(steps).toBe(1);
    expect(errors).toEqual([failed('step')]);
    expect((errors[0] as RivuletError).code).toBe('ERR_CALLBACK_FAILED');
  });

  it('unsubscribes from the source on early unsubscribe', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-d-|', { a: 1, b: 2, c: 3, d: 4 });
      expectObservable(source.pipe(runningSum()), '----!').toBe('-x-y-', { x: 1, y: 3 });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('keeps state per subscription: the same operator on two sources shares nothing', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const operator = runningSum();
      expectObservable(cold('-a-a-|', { a: 1 }).pipe(operator)).toBe('-x-y-(f|)', { x: 1, y: 2, f: 2000 });
      expectObservable(cold('--b-b-|', { b: 10 }).pipe(operator)).toBe('--x-y-(f|)', { x: 10, y: 20, f: 2000 });
    });
  });

  it('sends outputs emitted after unsubscribe nowhere', () => {
    let kept: ((output: number) => void) | undefined;
    const source = new Subject<number>();
    const seen: number[] = [];
    const subscription = source
      .pipe(
        statefulScan<number, null, number>({
          seed: () => null,
          step: (state, value, emit) => {
            kept = emit;
            emit(value);
            return state;
          },
        }),
      )
      .subscribe({ next: (v) => seen.push(v), error: (e) => seen.push(e) });
    source.next(1);
    subscription.unsubscribe();
    expect(() => kept!(2)).not.toThrow();
    expect(seen).toEqual([1]);
    expect(source.observed).toBe(false);
  });

  it('stops listening to a synchronous source when unsubscribed', () => {
    const endless = new EndlessSource((i) => i + 1);
    const seen: number[] = [];
    endless.source.pipe(runningSum(), take(3)).subscribe({ next: (v) => seen.push(v), complete: () => seen.push(-1) });
    expect(seen).toEqual([1, 3, 6, -1]);
    expect(endless.pulls).toBe(3);
  });

  it('pulls three values of a million-value range for take(3), as scan does', () => {
    let pulled = 0;
    range(0, 1_000_000)
      .pipe(
        tap(() => pulled++),
        statefulScan<number, number, number>({ seed: () => 0, step: (sum, n, emit) => (emit(sum + n), sum + n) }),
        take(3),
      )
      .subscribe();
    expect(pulled).toBe(3);
  });

  it('stops in the middle of a step that emits several outputs, and releases the handle', () => {
    const endless = new EndlessSource((i) => i);
    const handle = stateHandle<number>();
    const seen: string[] = [];
    endless.source
      .pipe(
        statefulScan<number, number, string>({
          seed: () => 0,
          step: (steps, n, emit) => {
            for (let copy = 0; copy < 3; copy++) emit(`${n}.${copy}`);
            return steps + 1;
          },
          handle,
        }),
        take(2),
      )
      .subscribe((v) => seen.push(v));
    expect(seen).toEqual(['0.0', '0.1']);
    expect(endless.pulls).toBe(1);
    expect(handle.snapshot()).toBeUndefined();
  });

  it('does not break unsubscription chains', () => {
    scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c-d-|', { a: 1, b: 2, c: 3, d: 4 });
      const result = source.pipe(betweenMergeMaps(runningSum()));
      expectObservable(result, '----!').toBe('-x-y-', { x: 1, y: 3 });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('runs the documented example', () => {
    const lines: string[] = [];
    of('a', 'b', 'a')
      .pipe(
        statefulScan({
          seed: () => new Map<string, number>(),
          step: (counts, word, emit: (line: string) => void) => {
            const n = (counts.get(word) ?? 0) + 1;
            counts.set(word, n);
            emit(`${word}=${n}`);
            return counts;
          },
          flush: (counts, emit) => emit(`distinct=${counts.size}`),
        }),
      )
      .subscribe((line) => lines.push(line));
    expect(lines).toEqual(['a=1', 'b=1', 'a=2', 'distinct=2']);
  });

  it('rejects bad options at creation', () => {
    const step = (s: number) => s;
    expect(() => statefulScan({ seed: 1 as never, step })).toThrow(/statefulScan: seed must be a function/);
    expect(() => statefulScan({ seed: () => 0, step: undefined as never })).toThrow(/statefulScan: step must be a function/);
    expect(() => statefulScan({ seed: () => 0, step, flush: 'x' as never })).toThrow(/statefulScan: flush must be a function/);
    const fake: StateHandle<number> = { snapshot: () => undefined, restore: () => undefined };
    expect(() => statefulScan({ seed: () => 0, step, handle: fake })).toThrow(/handle must be created by stateHandle/);
  });
});

describe('stateHandle', () => {
  type State = { sum: number; count: number };

  it('snapshots the live state and restores a replacement while running', () => {
    const handle = stateHandle<State>();
    const source = new Subject<number>();
    const seen: number[] = [];
    expect(handle.snapshot()).toBeUndefined();
    const subscription = source.pipe(runningSum(handle)).subscribe((v) => seen.push(v));
    expect(handle.snapshot()).toBeUndefined(); // subscribed, not seeded yet
    source.next(4);
    source.next(5);
    expect(handle.snapshot()).toEqual({ sum: 9, count: 2 });
    handle.restore({ sum: 100, count: 0 });
    source.next(1);
    expect(handle.snapshot()).toEqual({ sum: 101, count: 1 });
    expect(seen).toEqual([4, 9, 101]);
    subscription.unsubscribe();
    expect(handle.snapshot()).toBeUndefined();
  });

  it('restored before subscribing, the next subscription starts from it instead of seed, once', () => {
    const handle = stateHandle<State>();
    const seeds = { calls: 0 };
    handle.restore({ sum: 50, count: 7 });
    expect(handle.snapshot()).toEqual({ sum: 50, count: 7 });
    const first: number[] = [];
    of(1, 2).pipe(runningSum(handle, seeds)).subscribe((v) => first.push(v));
    expect(first).toEqual([51, 53, 9000]);
    expect(seeds.calls).toBe(0);
    const second: number[] = [];
    of(1).pipe(runningSum(handle, seeds)).subscribe((v) => second.push(v));
    expect(second).toEqual([1, 1000]);
    expect(seeds.calls).toBe(1);
  });

  it('restored after subscribing but before the first value, replaces seeding', () => {
    const handle = stateHandle<State>();
    const seeds = { calls: 0 };
    const source = new Subject<number>();
    const seen: number[] = [];
    source.pipe(runningSum(handle, seeds)).subscribe((v) => seen.push(v));
    handle.restore({ sum: 10, count: 1 });
    source.next(1);
    source.complete();
    expect(seen).toEqual([11, 2000]);
    expect(seeds.calls).toBe(0);
  });

  it('follows the most recent running subscription and is released when it ends', () => {
    const handle = stateHandle<State>();
    const a = new Subject<number>();
    const b = new Subject<number>();
    const operator = runningSum(handle);
    const subA = a.pipe(operator).subscribe();
    a.next(1);
    const subB = b.pipe(operator).subscribe();
    b.next(20);
    expect(handle.snapshot()).toEqual({ sum: 20, count: 1 });
    subA.unsubscribe(); // not the bound one: the handle stays on b
    expect(handle.snapshot()).toEqual({ sum: 20, count: 1 });
    b.complete();
    expect(subB.closed).toBe(true);
    expect(handle.snapshot()).toBeUndefined();
  });
});
