import { Observable, OperatorFunction } from 'rxjs';
import { invalidOption } from '../lib/core/errors';
import { PaneStore } from '../lib/windowing/paneStore';
import { guarded } from '../lib/core/operate';
import { guardWindowOptions, subscribeWindowed } from './internal/windowed';
import { checkEventTimeOptions, EventTimeOptions, WindowClock } from '../lib/windowing/windowClock';
import { Aggregator } from '../lib/windowing/aggregators';
import { PaneAssigner } from '../lib/windowing/panes';

/** The final aggregate of one key in one closed window `[windowStart, windowEnd)`. */
export interface WindowResult<K, A> {
  key: K;
  value: A;
  windowStart: number;
  windowEnd: number;
}

export interface TumblingWindowOptions<T, K, A> extends EventTimeOptions<T> {
  /** Default: one global key, `undefined`. */
  keyOf?: (value: T) => K;
  /** Each pane is one window: fixedPanes(ms) or calendarDays(zone). */
  panes: PaneAssigner;
  aggregate: Aggregator<T, A>;
  /** Emit the still-open windows, in start order, when the source completes; default true. */
  emitOnComplete?: boolean;
}

/**
 * Aggregates values per key in consecutive, non-overlapping event-time windows and emits each
 * window's final aggregate once, when the watermark reaches the window's end.
 *
 * Like `bufferTime` + `reduce`, but windows follow the data's own time (`timestampOf`) and the
 * pane assigner (fixed lengths, or calendar days in a time zone, DST included), grouped by key.
 * It is a sliding window whose slide equals its length: same clock, panes and late policy.
 *
 * ```text
 * source (key@hour, 1h panes): --a@0--b@0--a@0.5--a@1--------b@3--|
 * output (key=value):          --------------------(a=2 b=1)--a=1--(b=1|)
 * bounds: [0h,1h) for a=2 and b=1, [1h,2h) for a=1, [3h,4h) for b=1 (emitted on completion)
 * ```
 *
 * Semantics: the clock and watermark W are those of {@link slidingWindow}. A value at t belongs
 * to the window `[paneStartOf(t), nextPaneStart(...))`; once W reaches a window's end the window
 * closes: its keys are emitted in the order they first arrived in it, windows in start order
 * (a gap in event time closes several at once), and it is forgotten. A value whose window has
 * already closed is late: counted in `stats.late`, sent to `late.next` if given, else dropped.
 * So values up to `allowedLatenessMs` out of order still land in their window. Windows without
 * values emit nothing. Closing happens before the value that moved the clock is added.
 *
 * Future bound (`maxFutureMs`, off by default): lateness bounds how far behind a value may be,
 * this how far ahead. A value more than `maxFutureMs` after the largest accepted event time
 * does not move the clock by itself: it is held until `confirmations` (default 3) following
 * values also lie beyond that bound, a real gap in the data, and the held values are then
 * applied in arrival order; a value in bound arriving first shows the held ones were outliers:
 * they are rejected, counted in `stats.future` and sent to `rejected.next` if given. Values
 * still held when the source completes are rejected. `eventTime$` is trusted: when it moves
 * time, held values it brings in bound are applied. Data time only: replays decide alike.
 *
 * On completion the open windows are emitted in start order (unless `emitOnComplete: false`),
 * then the output completes and `eventTime$` is unsubscribed. An error of the source or
 * `eventTime$` errors the output; a throwing callback errors it with ERR_CALLBACK_FAILED and a
 * non-finite time with ERR_INVALID_VALUE. Unsubscribing tears down both inputs.
 *
 * @example
 * const lines = [['2024-03-10T08:30Z', 200], ['2024-03-11T06:30Z', 404], ['2024-03-11T07:01Z', 200]];
 * from(lines)
 *   .pipe(tumblingWindow({ timestampOf: ([at]) => Date.parse(at), panes: calendarDays('America/Los_Angeles'),
 *     aggregate: countingBy(([, status]) => status), allowedLatenessMs: 300_000 }))
 *   .subscribe((w) => console.log(new Date(w.windowStart).toISOString(), (w.windowEnd - w.windowStart) / 3_600_000, w.value));
 * // 2024-03-10T08:00:00.000Z 23 Map(2) { 200 => 1, 404 => 1 }   (emitted on completion: the
 * // 2024-03-11T07:00:00.000Z 24 Map(1) { 200 => 1 }              watermark is still 5 min short)
 */
export function tumblingWindow<T, K = undefined, A = unknown>(options: TumblingWindowOptions<T, K, A>): OperatorFunction<T, WindowResult<K, A>> {
  const where = 'tumblingWindow';
  checkEventTimeOptions(where, options, 1);
  const { keyOf: givenKeyOf, aggregate: given } = options;
  if (givenKeyOf !== undefined && typeof givenKeyOf !== 'function') throw invalidOption(where, 'keyOf must be a function');
  if (!given || typeof given.zero !== 'function' || typeof given.add !== 'function') {
    throw invalidOption(where, 'aggregate must be an Aggregator such as countingBy(keyOf)');
  }
  const o = guardWindowOptions(where, options);
  const keyOf = givenKeyOf && guarded(where, 'keyOf', givenKeyOf);
  const add = guarded(where, 'aggregate.add', (pane: Map<K, A>, key: K, value: T): void => {
    const acc = pane.get(key);
    const next = given.add(acc === undefined ? given.zero() : acc, value);
    // An aggregate updated in place needs no second lookup.
    if (next !== acc || acc === undefined) pane.set(key, next);
  });
  const emitOnComplete = options.emitOnComplete ?? true;
  const allowedLatenessMs = o.allowedLatenessMs ?? 0;

  return (source) =>
    new Observable<WindowResult<K, A>>((destination) => {
      const clock = new WindowClock(o.panes, 1, allowedLatenessMs);
      const store = new PaneStore<K, A>();
      // The pane the last value went to: nearly every value goes to the same one as the last.
      let lastStart = NaN;
      let lastPane: Map<K, A> | undefined;
      const closeOldest = (): void => {
        // Removed before emitting, so a re-entrant call never sees it half done.
        const { start, pane } = store.closeOldest()!;
        if (start === lastStart) lastPane = undefined;
        const windowEnd = o.panes.nextPaneStart(start);
        for (const [key, value] of pane) destination.next({ key, value, windowStart: start, windowEnd });
      };

      subscribeWindowed(where, source, destination, o, clock, {
        expire() {
          let oldest: number | undefined;
          while ((oldest = store.oldestStart()) !== undefined && oldest < clock.windowStart) closeOldest();
        },
        accept(value, paneStart) {
          if (lastPane === undefined || paneStart !== lastStart) {
            lastPane = store.open(paneStart);
            lastStart = paneStart;
          }
          add(lastPane, keyOf ? keyOf(value) : (undefined as K), value);
        },
        complete() {
          if (emitOnComplete) while (store.size > 0 && !destination.closed) closeOldest();
        },
        snapshot: () => store.entries(),
        restore: (panes) => {
          lastPane = undefined;
          store.restore(panes as [number, Map<K, A>][]);
        },
      });
    });
}
