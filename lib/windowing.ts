/**
 * Window math for rivulet's event-time windows, kept apart as in Bytewax: a {@link PaneAssigner}
 * says which pane contains an instant, an {@link Aggregator} says what to do with the values,
 * and the clock (lib/windowClock.ts) says how far event time has got. Panes and windows are
 * half-open, `[start, end)`, in epoch milliseconds. Everything here is pure and free of I/O.
 */
import { TZDate } from '@date-fns/tz';
import { addDays, startOfDay } from 'date-fns';
import { invalidOption, requireInteger, RivuletError } from './errors';

/**
 * Cuts the time line into consecutive panes with no gaps: every instant `t` belongs to exactly
 * one pane, `[paneStartOf(t), nextPaneStart(paneStartOf(t)))`.
 */
export interface PaneAssigner {
  /** For messages and debugging, e.g. `fixed(3600000ms)` or `days(Europe/London)`. */
  readonly name: string;
  /** Start of the pane containing `t` (the largest pane start `<= t`). */
  paneStartOf(t: number): number;
  /** Start of the pane after the one starting at `start` (which is also the end of that pane). */
  nextPaneStart(start: number): number;
}

/**
 * Panes of a fixed length, aligned so that `offsetMs` (and every multiple of `paneMs` away from
 * it) is a pane start; the epoch is a pane start when the offset is 0. Both must be integers:
 * fractional milliseconds would make pane starts drift with rounding.
 *
 * @example
 * fixedPanes(3_600_000).paneStartOf(Date.parse('2024-01-01T10:59:59Z')) // 2024-01-01T10:00Z
 * fixedPanes(86_400_000, -3_600_000)                                      // days starting 23:00 UTC
 */
export function fixedPanes(paneMs: number, offsetMs = 0): PaneAssigner {
  requireInteger('fixedPanes', 'paneMs', paneMs);
  if (!Number.isInteger(offsetMs)) {
    throw invalidOption('fixedPanes', `offsetMs must be an integer, got ${String(offsetMs)}`);
  }
  // Normalised into [0, paneMs) so negative and oversized offsets give the same panes.
  const offset = ((offsetMs % paneMs) + paneMs) % paneMs;
  return {
    name: `fixed(${paneMs}ms${offset === 0 ? '' : ` offset ${offset}ms`})`,
    paneStartOf: (t) => t - ((((t - offset) % paneMs) + paneMs) % paneMs),
    nextPaneStart: (start) => start + paneMs,
  };
}

/**
 * Calendar days in a time zone: each pane runs from one local midnight to the next, so a day is
 * 23 or 25 hours long when the clocks change, and starts at the first instant of the date where
 * midnight itself does not exist. `timeZone` is an IANA name (`Europe/London`) or a UTC offset
 * (`+05:30`), checked at creation.
 *
 * @example
 * const days = calendarDays('America/Los_Angeles');
 * days.paneStartOf(Date.parse('2024-03-10T12:00:00Z')) // Date.parse('2024-03-10T00:00:00-08:00')
 * days.nextPaneStart(that)                             // Date.parse('2024-03-11T00:00:00-07:00'): 23 h later
 */
export function calendarDays(timeZone: string): PaneAssigner {
  if (typeof timeZone !== 'string' || timeZone === '' || !Number.isFinite(new TZDate(0, timeZone).getTime())) {
    throw invalidOption('calendarDays', `unknown time zone ${JSON.stringify(timeZone)} (expected an IANA name such as "Europe/London" or an offset such as "+05:30")`);
  }
  // Time-zone arithmetic is slow next to a comparison; events arrive mostly in order, so the
  // last day looked up answers nearly every call. Pure, so sharing it between subscriptions is safe.
  let cachedStart = NaN;
  let cachedEnd = NaN;
  const nextPaneStart = (start: number): number =>
    // Through startOfDay again: where the next date has no midnight, the day starts later.
    startOfDay(addDays(new TZDate(start, timeZone), 1)).getTime();
  return {
    name: `days(${timeZone})`,
    paneStartOf(t) {
      if (t >= cachedStart && t < cachedEnd) return cachedStart;
      const start = startOfDay(new TZDate(t, timeZone)).getTime();
      cachedStart = start;
      cachedEnd = nextPaneStart(start);
      return start;
    },
    nextPaneStart,
  };
}

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

/**
 * Counters an event-time window operator keeps up to date in place when given one, for
 * dashboards and tests: `late` counts values that arrived after their window had closed
 * (dropped or sent to the late stream alike), `watermark` is the current watermark in epoch ms
 * (`-Infinity` until the first event time is seen).
 */
export interface WindowStats {
  late: number;
  watermark: number;
}

/** A fresh {@link WindowStats}: nothing late, no watermark yet. */
export function windowStats(): WindowStats {
  return { late: 0, watermark: -Infinity };
}
