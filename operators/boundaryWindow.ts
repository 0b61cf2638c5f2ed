import { Observable, OperatorFunction } from 'rxjs';
import { callbackFailed, invalidOption } from '../lib/core/errors';
import { operate } from '../lib/core/operate';
import { checkUid, joinScope } from '../lib/state/scope';

export interface BoundaryWindowOptions<T, A, V = T> {
  /** True for a marker value (such as `'END_OF_DAY'`) that closes the current window. */
  isBoundary: (value: T) => boolean;
  /**
   * What a value that is not a marker stands for in its window, worked out once per value:
   * `splitBefore` and `add` see what it returns, and so does the checkpointed `previous`. The
   * same as a `map` before the window on every value but the markers, without a subscriber of its
   * own for each value to pass through.
   */
  mapValue?: (value: T) => V;
  /** A fresh, empty aggregate; called once per window. */
  seed: () => A;
  add: (acc: A, value: V) => A;
  /** When true, the window is closed before `next`, which opens the next window. */
  splitBefore?: (previous: V, next: V) => boolean;
  /** Whether a marker that closes an empty window emits `seed()` (default true). */
  emitEmpty?: boolean;
  /** The last, unclosed window at completion: `'emit'` it (if non-empty) or `'drop'` it. */
  onComplete: 'emit' | 'drop';
  /** Stable id of this operator's state in checkpoints (see `runCheckpointed`); needed there. */
  uid?: string;
}

export interface ClosedWindow<T, A> {
  value: A;
  /** How many values went into `value`. */
  count: number;
  closedBy: 'boundary' | 'split' | 'complete';
  /** The marker that closed the window (only when `closedBy` is `'boundary'`). */
  boundary?: T;
}

/**
 * Cuts the stream into windows whose boundaries come from the data, and emits each window's
 * aggregate when it closes.
 *
 * Like `bufferWhen`/`window` with a closing notifier, but the notifier is a marker value inside
 * the stream (Wallaroo's event-based windowing), the window is folded with `seed`/`add` rather
 * than buffered, and the window can also be closed from within (`splitBefore`, e.g. when the day
 * of a log line differs from the previous line's, instead of failing as the original did).
 * Every non-marker value is added to exactly one window; markers belong to none. `splitBefore`
 * only compares values of the same window: the first value after a marker opens a new window.
 *
 * ```text
 * source:  --1--2--E--E--3--4--5--|       (E is the marker; splitBefore(4, 5) is true)
 *            boundaryWindow({ seed: () => 0, add: (a, v) => a + v, onComplete: 'emit', ... })
 * result:  --------x--y--------z--(w|)
 *   x = { value: 3, count: 2, closedBy: 'boundary' }   y = { value: 0, count: 0, closedBy: 'boundary' }
 *   z = { value: 7, count: 2, closedBy: 'split' }      w = { value: 5, count: 1, closedBy: 'complete' }
 * ```
 *
 * On completion the open window is emitted (`onComplete: 'emit'`, only if non-empty) or dropped,
 * then the result completes. Source errors pass through and the open window is discarded; a
 * throwing callback errors with `ERR_CALLBACK_FAILED` naming it. Unsubscribing unsubscribes the
 * source and drops the open window.
 *
 * @example
 * from(['a', 'b', 'END_OF_DAY', 'END_OF_DAY', 'c'])
 *   .pipe(boundaryWindow({
 *     isBoundary: (line) => line === 'END_OF_DAY',
 *     seed: () => [] as string[], add: (lines, line) => [...lines, line],
 *     emitEmpty: false, onComplete: 'drop',
 *   }))
 *   .subscribe((w) => console.log(w.closedBy, w.value));
 * // boundary [ 'a', 'b' ]
 * // (the empty window and the unclosed ['c'] are not emitted)
 */
export function boundaryWindow<T, A, V = T>(
  // Without mapValue, splitBefore and add see the values themselves.
  options: BoundaryWindowOptions<T, A, V> & ([V] extends [T] ? unknown : { mapValue: (value: T) => V }),
): OperatorFunction<T, ClosedWindow<T, A>> {
  const { isBoundary, mapValue, seed, add, splitBefore, emitEmpty = true, onComplete } = options;
  for (const [name, fn] of [['isBoundary', isBoundary], ['seed', seed], ['add', add]] as const) {
    if (typeof fn !== 'function') throw invalidOption('boundaryWindow', `${name} must be a function, got ${typeof fn}`);
  }
  for (const [name, fn] of [['mapValue', mapValue], ['splitBefore', splitBefore]] as const) {
    if (fn !== undefined && typeof fn !== 'function') throw invalidOption('boundaryWindow', `${name} must be a function when given, got ${typeof fn}`);
  }
  if (typeof emitEmpty !== 'boolean') throw invalidOption('boundaryWindow', `emitEmpty must be a boolean, got ${typeof emitEmpty}`);
  if (onComplete !== 'emit' && onComplete !== 'drop') {
    throw invalidOption('boundaryWindow', `onComplete must be 'emit' or 'drop', got ${String(onComplete)}`);
  }

  checkUid('boundaryWindow', options.uid);
  return (source) =>
    new Observable<ClosedWindow<T, A>>((destination) => {
      // The aggregate is seeded lazily by the window's first value, so `acc` is meaningful only
      // while `count > 0`; `previous` is the last value added to the open window.
      let acc: A | undefined;
      let count = 0;
      let previous: V | undefined;

      const close = (closedBy: ClosedWindow<T, A>['closedBy'], value: A, boundary?: T): void => {
        const closed: ClosedWindow<T, A> = { value, count, closedBy };
        if (closedBy === 'boundary') closed.boundary = boundary;
        acc = previous = undefined;
        count = 0;
        destination.next(closed);
      };

      const leave = joinScope('boundaryWindow', options.uid, () => ({
        kind: 'boundaryWindow',
        version: 1,
        fingerprint: `emitEmpty=${emitEmpty} onComplete=${onComplete}`,
        snapshot: () => ({ acc, count, previous }),
        restore: (state) => ({ acc, count, previous } = state as { acc: A | undefined; count: number; previous: V | undefined }),
      }));
      operate(source, destination, {
        next(input) {
          // One try around the step names whichever callback threw, where a guarded() wrapper
          // around each would put a call through one shared function between every value and every
          // callback, which the compiler cannot inline. `step` is undefined while the window's own
          // code and downstream run: what they throw passes unchanged.
          let step: string | undefined = 'isBoundary';
          try {
            if (isBoundary(input)) {
              if (count > 0 || emitEmpty) {
                step = 'seed';
                const value = count > 0 ? (acc as A) : seed();
                step = undefined;
                close('boundary', value, input);
              }
              return;
            }
            step = 'mapValue';
            const value = mapValue === undefined ? (input as unknown as V) : mapValue(input);
            if (count > 0 && splitBefore !== undefined) {
              step = 'splitBefore';
              if (splitBefore(previous as V, value)) {
                step = undefined;
                close('split', acc as A);
                if (destination.closed) return;
              }
            }
            if (count === 0) {
              step = 'seed';
              acc = seed();
            }
            step = 'add';
            acc = add(acc as A, value);
            count += 1;
            previous = value;
          } catch (cause) {
            throw step === undefined ? cause : callbackFailed('boundaryWindow', step, cause);
          }
        },
        complete() {
          if (onComplete === 'emit' && count > 0) close('complete', acc as A);
          destination.complete();
        },
      });
      return () => {
        leave();
        acc = previous = undefined;
      };
    });
}
