import { Observable, OperatorFunction } from 'rxjs';
import { invalidOption } from '../lib/core/errors';
import { PaneStore } from '../lib/windowing/paneStore';
import { guarded } from '../lib/core/operate';
import { guardWindowOptions, subscribeWindowed } from './internal/windowed';
import { checkEventTimeOptions, EventTimeOptions, WindowClock } from '../lib/windowing/windowClock';
import { Aggregator } from '../lib/windowing/aggregators';
import { PaneAssigner } from '../lib/windowing/panes';

/** A key's new running total in a sliding window, and the window's bounds at that moment. */
export interface WindowChange<K, A> {
  key: K;
  total: A;
  windowStart: number;
  windowEnd: number;
}

export interface SlidingWindowOptions<T, K, A> extends EventTimeOptions<T> {
  keyOf: (value: T) => K;
  panes: PaneAssigner;
  /** The window is this many consecutive panes; it slides one pane at a time. */
  windowPanes: number;
  aggregate: Aggregator<T, A>;
}

/**
 * Keeps one running aggregate per key over a window of the last `windowPanes` panes of event
 * time, and emits a changelog of totals: up when a value arrives, down when a pane expires.
 *
 * Like `groupBy` + `scan`, but the totals forget what slid out of the window, time comes from
 * the data (`timestampOf`, epoch ms), and state stays bounded by the window.
 *
 * ```text
 * source (key@hour; 1h panes, windowPanes 2): --a@0--b@0--a@1--a@3----------------|
 * output (key:total):                         --a:1--b:1--a:2--(a:1 b:0 a:0 a:1)--|
 * window bounds: [-1h,1h) for the first two, [0h,2h) for a:2, [2h,4h) for the last four
 * ```
 *
 * Exact semantics (the reference for property tests):
 * - Clock: event time E is the largest timestamp seen so far, from the source or `eventTime$`
 *   (whose values only ever move E forward). Watermark W = E - allowedLatenessMs.
 * - Window: ends at the end of the pane containing W and holds the `windowPanes` panes up to
 *   there; `windowStart` is the start of its first pane. A pane starting at s therefore expires
 *   once W reaches the start of the pane `windowPanes` panes after s (hourly panes, 24 panes:
 *   at W >= s + 24h, half-open). Panes ahead of W (events up to the allowed lateness ahead of
 *   the watermark) are open too and counted in the totals.
 * - A value at t: compute t, move the clock (expiring first, as below), then if t's pane starts
 *   before `windowStart` the value is late: counted in `stats.late`, sent to `late.next` if
 *   given, otherwise dropped; never merged elsewhere. Otherwise `keyOf` is called, the value is
 *   added to its own pane (out-of-order ones included) and to the key's total, and
 *   `{ key, total }` is emitted, whether or not the total changed.
 * - Expiry: panes that start before the new `windowStart` close oldest first; for each key of a
 *   closing pane, in the order the key first arrived in that pane, the pane's aggregate is
 *   subtracted from the key's total (recomputed from the remaining panes if the aggregator has
 *   no `subtract`) and the new total is emitted. When no open pane holds the key any more its
 *   total is exactly `zero()`: that change is emitted once and the key is forgotten. A gap in
 *   event time thus expires everything due at once, in pane order. All changes carry the
 *   window bounds current when they are emitted (after the clock moved).
 * - Mutable accumulators are emitted through `aggregate.clone` when it exists.
 * - Future bound (`maxFutureMs`, off by default; the counterpart of the allowed lateness): a
 *   value more than `maxFutureMs` after E is held, not applied, until `confirmations` (default
 *   3) following values also lie beyond that bound (a real gap: the held values are then
 *   applied in arrival order, as if they had just arrived) or a value in bound arrives first
 *   (the held ones were outliers: rejected, counted in `stats.future`, sent to `rejected.next`
 *   if given). Values still held at completion are rejected; `eventTime$` is trusted, and held
 *   values its progress brings in bound are applied then. At most 1,000 are held.
 *
 * `eventTime$` is subscribed just before the source, and a value of it that moves the window
 * emits the resulting down changes at once. Completion of the source completes the output at
 * once (totals are a changelog, nothing is owed) and unsubscribes `eventTime$`; an error of either errors the output; `eventTime$`
 * completing changes nothing. A throwing callback errors the output with ERR_CALLBACK_FAILED
 * naming it; a non-finite time errors with ERR_INVALID_VALUE. Unsubscribing tears down both.
 * No scheduler: replays give the same output every time.
 *
 * @example
 * const h = 3_600_000;
 * of({ repo: 'rx', at: 0 }, { repo: 'rx', at: h }, { repo: 'ws', at: 2 * h })
 *   .pipe(slidingWindow({ keyOf: (e) => e.repo, timestampOf: (e) => e.at,
 *     panes: fixedPanes(h), windowPanes: 2, aggregate: counting() }))
 *   .subscribe((c) => console.log(c.key, c.total, c.windowStart / h, c.windowEnd / h));
 * // rx 1 -1 1
 * // rx 2 0 2
 * // rx 1 1 3    (02:00 arrived: the 00:00 hour expired first)
 * // ws 1 1 3
 */
export function slidingWindow<T, K, A>(options: SlidingWindowOptions<T, K, A>): OperatorFunction<T, WindowChange<K, A>> {
  const where = 'slidingWindow';
  checkEventTimeOptions(where, options, options?.windowPanes);
  if (typeof options.keyOf !== 'function') throw invalidOption(where, 'keyOf must be a function');
  const { windowPanes, aggregate } = options;
  if (!aggregate || typeof aggregate.zero !== 'function' || typeof aggregate.add !== 'function' || typeof aggregate.merge !== 'function') {
    throw invalidOption(where, 'aggregate must be an Aggregator such as counting()');
  }
  const o = guardWindowOptions(where, options);
  const keyOf = guarded(where, 'keyOf', options.keyOf);
  const { subtract, clone } = aggregate;
  const allowedLatenessMs = o.allowedLatenessMs ?? 0;

  return (source) =>
    new Observable<WindowChange<K, A>>((destination) => {
      const clock = new WindowClock(o.panes, windowPanes, allowedLatenessMs);
      const store = new PaneStore<K, A>();
      // Per key: the running total and how many open panes hold the key.
      let keys = new Map<K, { total: A; panes: number }>();
      const emit = (key: K, total: A): void =>
        destination.next({ key, total: clone ? clone.call(aggregate, total) : total, windowStart: clock.windowStart, windowEnd: clock.windowEnd });

      const recompute = (key: K): A => {
        let total = aggregate.zero();
        for (const pane of store.panes()) {
          const part = pane.get(key);
          if (part !== undefined) total = aggregate.merge(total, part);
        }
        return total;
      };

      const add = guarded(where, 'aggregate.add', (key: K, value: T, paneStart: number): void => {
        const pane = store.open(paneStart);
        let state = keys.get(key);
        let part: A | undefined;
        if (state === undefined) {
          // A new key is in no pane yet: no need to look it up in this one.
          keys.set(key, (state = { total: aggregate.zero(), panes: 0 }));
        } else part = pane.get(key);
        if (part === undefined) state.panes++;
        pane.set(key, aggregate.add(part ?? aggregate.zero(), value));
        state.total = aggregate.add(state.total, value);
        emit(key, state.total);
      });

      subscribeWindowed(where, source, destination, o, clock, {
        expire() {
          let oldest: number | undefined;
          while ((oldest = store.oldestStart()) !== undefined && oldest < clock.windowStart) {
            // Removed before emitting, so a re-entrant call never sees it half done.
            const { pane } = store.closeOldest()!;
            for (const [key, part] of pane) {
              const state = keys.get(key)!;
              if (--state.panes === 0) {
                keys.delete(key);
                emit(key, aggregate.zero());
                continue;
              }
              state.total = subtract ? subtract.call(aggregate, state.total, part) : recompute(key);
              emit(key, state.total);
            }
          }
        },
        accept(value, paneStart) {
          add(keyOf(value), value, paneStart);
        },
        complete() {},
        snapshot: () => ({ panes: store.entries(), keys }),
        restore(state) {
          const saved = state as { panes: [number, Map<K, A>][]; keys: Map<K, { total: A; panes: number }> };
          store.restore(saved.panes);
          keys = saved.keys;
        },
      });
    });
}
