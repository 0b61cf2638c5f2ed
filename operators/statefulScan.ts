import { Observable, OperatorFunction } from 'rxjs';
import { invalidOption } from '../lib/core/errors';
import { guarded, operate } from '../lib/core/operate';
import { checkUid, joinScope } from '../lib/state/scope';

export interface StatefulScanOptions<T, S, R> {
  /** Creates the initial state; called once per subscription, lazily (first value, or on flush). */
  seed: () => S;
  /** Reads and may change the state, emits 0..n outputs, returns the next state (may be `state`). */
  step: (state: S, value: T, emit: (output: R) => void) => S;
  /** Emits final outputs when the source completes. */
  flush?: (state: S, emit: (output: R) => void) => void;
  /** Gives code outside the pipeline access to the live state (the hook for checkpoints). */
  handle?: StateHandle<S>;
  /** Stable id of the state in checkpoints (see `runCheckpointed`); needed there. */
  uid?: string;
}

/**
 * Reads and replaces the state of a running `statefulScan` from outside the pipeline. A handle
 * follows one subscription at a time: the most recent one that is still running.
 */
export interface StateHandle<S> {
  /**
   * The live state object (not a copy: serialise it before the next value if it is mutated in
   * place), the state waiting in `restore` if no subscription is running, or `undefined`.
   */
  snapshot(): S | undefined;
  /**
   * Replaces the live state; the next value is stepped from `state`. With no running subscription,
   * the next subscription starts from `state` instead of calling `seed` (once: later ones seed).
   */
  restore(state: S): void;
}

interface HandleCell<S> {
  live: { get(): S | undefined; set(state: S): void } | undefined;
  pending: { state: S } | undefined;
}

// Handles are matched to their cells here so the binding stays out of the public interface.
const cells = new WeakMap<StateHandle<unknown>, HandleCell<unknown>>();

/** Creates a {@link StateHandle} to pass to one `statefulScan` as its `handle` option. */
export function stateHandle<S>(): StateHandle<S> {
  const cell: HandleCell<S> = { live: undefined, pending: undefined };
  const handle: StateHandle<S> = {
    snapshot: () => (cell.live ? cell.live.get() : cell.pending?.state),
    restore(state) {
      if (cell.live) cell.live.set(state);
      else cell.pending = { state };
    },
  };
  cells.set(handle, cell as HandleCell<unknown>);
  return handle;
}

/**
 * Keeps a state per subscription and turns each value into zero, one or several outputs with it:
 * Wallaroo's state computation.
 *
 * Like `scan`, but the state and the outputs are kept apart (as in most.js `loop`): `step`
 * returns the next state and hands outputs to `emit`, so a step can emit nothing or many values
 * without allocating an array per event; `flush` emits final outputs on completion; and a
 * {@link StateHandle} can snapshot or restore the state from outside.
 *
 * ```text
 * source:          --a--b--a--|
 * statefulScan(count words, flush emits the number of distinct words)
 * result:          --1--1--2--(d|)        d = 2 distinct
 * ```
 *
 * `seed` is called on the first value (or on completion, if there is a `flush` and no value came),
 * once per subscription: the same operator piped onto two sources shares nothing. On source
 * completion `flush` runs, then the result completes. A source error is passed on as is, without
 * `flush`. If `seed`, `step` or `flush` throws, the result errors with `ERR_CALLBACK_FAILED`
 * naming the callback, and the source is unsubscribed. Outputs emitted after the subscriber has
 * unsubscribed (by an `emit` kept for later) go nowhere. Unsubscribing releases the handle.
 *
 * @example
 * ```ts
 * of('a', 'b', 'a').pipe(statefulScan({
 *   seed: () => new Map<string, number>(),
 *   step: (counts, word, emit: (line: string) => void) => {
 *     const n = (counts.get(word) ?? 0) + 1;
 *     counts.set(word, n);
 *     emit(`${word}=${n}`);
 *     return counts;
 *   },
 *   flush: (counts, emit) => emit(`distinct=${counts.size}`),
 * })).subscribe(console.log);
 * // a=1, b=1, a=2, distinct=2
 * ```
 */
export function statefulScan<T, S, R>(options: StatefulScanOptions<T, S, R>): OperatorFunction<T, R> {
  const { seed: seedFn, step: stepFn, flush: flushFn, handle, uid } = options ?? ({} as Partial<StatefulScanOptions<T, S, R>>);
  checkUid('statefulScan', uid);
  if (typeof seedFn !== 'function') throw invalidOption('statefulScan', 'seed must be a function returning the initial state');
  if (typeof stepFn !== 'function') throw invalidOption('statefulScan', 'step must be a function (state, value, emit) => state');
  if (flushFn !== undefined && typeof flushFn !== 'function') throw invalidOption('statefulScan', 'flush must be a function when given');
  const cell = handle === undefined ? undefined : (cells.get(handle) as HandleCell<S> | undefined);
  if (handle !== undefined && cell === undefined) throw invalidOption('statefulScan', 'handle must be created by stateHandle()');
  const seed = guarded('statefulScan', 'seed', seedFn, 'wrap');
  const step = guarded('statefulScan', 'step', stepFn, 'wrap');
  const flush = flushFn && guarded('statefulScan', 'flush', flushFn, 'wrap');

  return (source) =>
    new Observable<R>((destination) => {
      let state: S = undefined as S;
      let seeded = false;
      // A closed Subscriber ignores `next`, so an emit kept past unsubscribe is harmless.
      const emit = (output: R): void => destination.next(output);
      const seedOnce = (): void => {
        if (seeded) return;
        state = seed();
        seeded = true;
      };

      const binding = cell && {
        get: () => (seeded ? state : undefined),
        set: (restored: S) => {
          state = restored;
          seeded = true;
        },
      };
      if (cell && binding) {
        if (cell.pending) binding.set(cell.pending.state);
        cell.pending = undefined;
        cell.live = binding;
      }

      const leave = joinScope('statefulScan', uid, () => ({
        kind: 'statefulScan',
        version: 1,
        fingerprint: '',
        snapshot: () => ({ seeded, state }),
        restore: (saved) => ({ seeded, state } = saved as { seeded: boolean; state: S }),
      }));
      operate(source, destination, {
        next(value) {
          seedOnce();
          state = step(state, value, emit);
        },
        complete() {
          if (flush !== undefined) {
            seedOnce();
            flush(state, emit);
          }
          destination.complete();
        },
      });
      return () => {
        leave();
        if (cell && cell.live === binding) cell.live = undefined;
      };
    });
}
