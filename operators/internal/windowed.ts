/**
 * The subscription plumbing that rivulet's event-time window operators share (slidingWindow,
 * tumblingWindow): timestamps, the clock, expiry, late values. Internal: not part of the public API.
 */
import { Observable, Subscriber } from 'rxjs';
import { RivuletError } from '../../lib/core/errors';
import { guarded, operate } from '../../lib/core/operate';
import { Aggregator } from '../../lib/windowing/aggregators';
import { PaneAssigner } from '../../lib/windowing/panes';
import { EventTimeOptions, WindowClock } from '../../lib/windowing/windowClock';

/**
 * What a window operator does as the plumbing drives it. A handler may throw: the output errors
 * with what it threw (callbacks come in already wrapped by {@link guardWindowOptions}).
 */
export interface WindowHandlers<T> {
  /** `clock.windowStart` moved: close the panes before it. */
  expire(): void;
  /** An on-time value, for the pane starting at `paneStart`. Runs after `expire`. */
  accept(value: T, paneStart: number): void;
  /** The source completed: emit anything still owed. */
  complete(): void;
}

export type WindowOptions<T> = EventTimeOptions<T> & { panes: PaneAssigner };

/**
 * The options with every user callback wrapped once, when the operator is created, so that a
 * throw names the operator and the callback. Errors rivulet raised itself pass through: those of
 * an operator built on this one (slidingHourWindow) or of a library aggregator (`counting`).
 */
export function guardWindowOptions<T>(where: string, o: WindowOptions<T>): WindowOptions<T> {
  const { panes, late } = o;
  return {
    allowedLatenessMs: o.allowedLatenessMs,
    stats: o.stats,
    eventTime$: o.eventTime$,
    timestampOf: guarded(where, 'timestampOf', o.timestampOf),
    late: late && { next: guarded(where, 'late.next', (value: T) => late.next(value)) },
    panes: {
      name: panes.name,
      paneStartOf: guarded(where, 'panes.paneStartOf', panes.paneStartOf.bind(panes)),
      nextPaneStart: guarded(where, 'panes.nextPaneStart', panes.nextPaneStart.bind(panes)),
    },
  };
}

/** The aggregator with each of its methods wrapped as {@link guardWindowOptions} does. */
export function guardAggregator<T, A>(where: string, aggregate: Aggregator<T, A>): Aggregator<T, A> {
  const { subtract, clone } = aggregate;
  return {
    zero: guarded(where, 'aggregate.zero', aggregate.zero.bind(aggregate)),
    add: guarded(where, 'aggregate.add', aggregate.add.bind(aggregate)),
    merge: guarded(where, 'aggregate.merge', aggregate.merge.bind(aggregate)),
    subtract: subtract && guarded(where, 'aggregate.subtract', subtract.bind(aggregate)),
    clone: clone && guarded(where, 'aggregate.clone', clone.bind(aggregate)),
  };
}

/**
 * Subscribes to `eventTime$` (first, so it can seed the clock) and to the source; per value:
 * timestamp, advance the clock (expiring closed panes), then either late or accepted.
 */
export function subscribeWindowed<T, R>(
  where: string,
  source: Observable<T>,
  destination: Subscriber<R>,
  o: WindowOptions<T>,
  clock: WindowClock,
  handlers: WindowHandlers<T>,
): void {
  const { timestampOf, late, stats, panes } = o;
  const advance = (t: number): void => {
    if (clock.advance(t)) handlers.expire();
    if (stats) stats.watermark = clock.watermark;
  };
  const requireTime = (t: number, what: string): void => {
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      throw new RivuletError('ERR_INVALID_VALUE', `${where}: ${what} ${String(t)}, expected finite epoch ms`);
    }
  };
  const ticks =
    o.eventTime$ &&
    operate(o.eventTime$, destination, {
      next(t) {
        requireTime(t, 'eventTime$ emitted');
        advance(t);
      },
      // Its completion only means no more outside progress; the source still drives time.
      complete() {},
    });
  operate(source, destination, {
    next(value) {
      const t = timestampOf(value);
      requireTime(t, 'timestampOf returned');
      advance(t); // expire first, then add: an event never lands in a pane that is closing
      const paneStart = panes.paneStartOf(t);
      if (paneStart >= clock.windowStart) return handlers.accept(value, paneStart);
      if (stats) stats.late++;
      late?.next(value);
    },
    complete() {
      ticks?.unsubscribe(); // no more progress can matter
      handlers.complete();
      destination.complete();
    },
  });
}
