/**
 * What event-time windows do with their values: aggregators are pure accumulators, tested as
 * functions; the operators decide when panes open and close.
 */
import { invalidOption, RivuletError } from '../core/errors';

/**
 * What a window does with its values: an accumulator that starts at `zero()`, grows with
 * `add`, and combines with `merge` (panes into a window total). `subtract` (optional) undoes a
 * `merge`, which lets a sliding window drop an expired pane in O(keys in the pane) instead of
 * recomputing from the remaining panes.
 *
 * `add`, `merge` and `subtract` may change their first argument in place and return it (a Map
 * accumulator then costs no copy per value); they never change their second argument. `clone`,
 * if given, returns an independent copy; operators that emit an accumulator they keep changing
 * (slidingWindow's running totals) emit `clone(total)` when it exists.
 */
export interface Aggregator<T, A> {
  zero(): A;
  add(acc: A, value: T): A;
  merge(a: A, b: A): A;
  subtract?(a: A, b: A): A;
  clone?(acc: A): A;
}

/**
 * Counts values, or sums `weightOf(value)` when given (it may be called more than once per value
 * and must return a finite number). Invertible, so sliding windows expire panes by subtraction.
 */
export function counting<T>(weightOf?: (value: T) => number): Aggregator<T, number> {
  if (weightOf !== undefined && typeof weightOf !== 'function') {
    throw invalidOption('counting', 'weightOf must be a function');
  }
  const add = weightOf
    ? (acc: number, value: T): number => {
        const weight = weightOf(value);
        if (typeof weight !== 'number' || !Number.isFinite(weight)) {
          throw new RivuletError('ERR_INVALID_VALUE', `counting: weightOf returned ${String(weight)}, expected a finite number`);
        }
        return acc + weight;
      }
    : (acc: number): number => acc + 1;
  return { zero: () => 0, add, merge: (a, b) => a + b, subtract: (a, b) => a - b };
}

/**
 * Counts values per sub-key, e.g. HTTP status code -> count. The accumulator is a `Map` (never
 * a plain object, so keys from input such as `__proto__` are safe), in first-seen key order;
 * a sub-key whose count falls to zero on `subtract` is removed.
 */
export function countingBy<T, K>(keyOf: (value: T) => K): Aggregator<T, Map<K, number>> {
  if (typeof keyOf !== 'function') throw invalidOption('countingBy', 'keyOf must be a function');
  return {
    zero: () => new Map(),
    add(acc, value) {
      const key = keyOf(value);
      acc.set(key, (acc.get(key) ?? 0) + 1);
      return acc;
    },
    merge(a, b) {
      for (const [key, n] of b) a.set(key, (a.get(key) ?? 0) + n);
      return a;
    },
    subtract(a, b) {
      for (const [key, n] of b) {
        const left = (a.get(key) ?? 0) - n;
        if (left === 0) a.delete(key);
        else a.set(key, left);
      }
      return a;
    },
    clone: (acc) => new Map(acc),
  };
}
