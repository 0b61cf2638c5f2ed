import { OperatorFunction } from 'rxjs';
import { invalidOption, requireInteger, RivuletError } from '../lib/core/errors';
import { guarded } from '../lib/core/operate';
import { checkEventTimeOptions, EventTimeOptions } from '../lib/windowing/windowClock';
import { counting } from '../lib/windowing/aggregators';
import { fixedPanes } from '../lib/windowing/panes';
import { slidingWindow, WindowChange } from './slidingWindow';

export interface SlidingHourWindowOptions<T, K> extends EventTimeOptions<T> {
  keyOf: (value: T) => K;
  /** Window length in whole hours (hourly panes aligned to the UTC hour); default 24. */
  hours?: number;
  /** What a value counts for; default 1. Must return a finite number. */
  weightOf?: (value: T) => number;
}

const HOUR_MS = 3_600_000;

/**
 * Counts values per key over the last `hours` hours of event time, in hourly panes, and emits
 * each key's new count whenever it changes: up when a value arrives, down when an hour expires.
 *
 * Like {@link slidingWindow} with `fixedPanes(3_600_000)`, `windowPanes: hours` and
 * `counting(weightOf)`, which defines the exact semantics; errors name `slidingHourWindow`.
 * With 24 hours, a value at 00:00 counts in `[00:00, 24:00)` and is subtracted as soon as the
 * watermark reaches 24:00 (half-open), however large the gap before the next event.
 *
 * ```text
 * source (key@hour, hours: 24):  --a@0--a@5--b@23------a@24----------------|
 * output (key:count):            --a:1--a:2--b:1------(a:1 a:2)------------|
 * a@24 first expires pane 0 (a down to 1), then adds itself (a up to 2)
 * ```
 *
 * `maxFutureMs` bounds how far ahead of the latest accepted time a value may move time, as
 * {@link slidingWindow} describes: one star dated 9999 is held and rejected, not applied.
 *
 * Completes when the source completes; errors when the source, `eventTime$` or a callback
 * does; unsubscribing tears down the source and `eventTime$`. A key whose count falls to 0 is
 * emitted once with 0 and forgotten, so memory stays bounded by the window.
 *
 * @example
 * const stars = [['rx', '2024-01-01T10:15Z'], ['ws', '2024-01-01T11:00Z'], ['ws', '2024-01-02T10:00Z']];
 * from(stars)
 *   .pipe(slidingHourWindow({ keyOf: ([repo]) => repo, timestampOf: ([, at]) => Date.parse(at) }))
 *   .subscribe((c) => console.log(c.key, c.total, new Date(c.windowStart).toISOString()));
 * // rx 1 2023-12-31T11:00:00.000Z
 * // ws 1 2023-12-31T12:00:00.000Z
 * // rx 0 2024-01-01T11:00:00.000Z   (10:00 the next day: the 10:00 hour expired, rx forgotten)
 * // ws 2 2024-01-01T11:00:00.000Z
 */
export function slidingHourWindow<T, K>(o: SlidingHourWindowOptions<T, K>): OperatorFunction<T, WindowChange<K, number>> {
  const where = 'slidingHourWindow';
  const hours = o?.hours ?? 24;
  requireInteger(where, 'hours', hours);
  const panes = fixedPanes(HOUR_MS);
  checkEventTimeOptions(where, { ...o, panes }, hours);
  if (typeof o.keyOf !== 'function') throw invalidOption(where, 'keyOf must be a function');
  if (o.weightOf !== undefined && typeof o.weightOf !== 'function') throw invalidOption(where, 'weightOf must be a function');
  // Wrapped here so that a failure names this operator, not the slidingWindow it is built on.
  const finite = (name: string, fn: (value: T) => number) => {
    const call = guarded(where, name, fn);
    return (value: T): number => {
      const n = call(value);
      if (typeof n === 'number' && Number.isFinite(n)) return n;
      throw new RivuletError('ERR_INVALID_VALUE', `${where}: ${name} returned ${String(n)}, expected a finite number`);
    };
  };
  const { weightOf, late, rejected } = o;
  return slidingWindow<T, K, number>({
    ...o,
    late: late && { next: guarded(where, 'late.next', (value: T) => late.next(value)) },
    rejected: rejected && { next: guarded(where, 'rejected.next', (value: T) => rejected.next(value)) },
    keyOf: guarded(where, 'keyOf', o.keyOf),
    timestampOf: finite('timestampOf', o.timestampOf),
    panes,
    windowPanes: hours,
    aggregate: counting(weightOf && finite('weightOf', weightOf)),
  });
}
