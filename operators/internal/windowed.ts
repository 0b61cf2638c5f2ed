/**
 * The subscription plumbing that rivulet's event-time window operators share (slidingWindow,
 * tumblingWindow): timestamps, the clock, expiry, late values. Internal: not part of the public API.
 */
import { Observable, Subscriber } from 'rxjs';
import { RivuletError } from '../../lib/core/errors';
import { guarded, operate } from '../../lib/core/operate';
import { PaneAssigner } from '../../lib/windowing/panes';
import { EventTimeOptions, WindowClock } from '../../lib/windowing/windowClock';
import type { FutureBoundState } from '../../lib/windowing/futureBound';
import { checkUid, joinScope } from '../../lib/state/scope';
import { FutureGate } from './futureGate';

/**
 * What a window operator does as the plumbing drives it. Whatever `expire` and `complete` throw
 * is reported as the aggregator's failure (`aggregate`), rivulet's own errors passing through:
 * the aggregator is the user code that runs there. `accept` names its own callbacks.
 */
export interface WindowHandlers<T> {
  /** `clock.windowStart` moved: close the panes before it. */
  expire(): void;
  /** An on-time value, for the pane starting at `paneStart`. Runs after `expire`. */
  accept(value: T, paneStart: number): void;
  /** The source completed: emit anything still owed. */
  complete(): void;
  /** The operator's own state (panes, totals), by reference, for a checkpoint. */
  snapshot(): unknown;
  /** Puts back what {@link snapshot} returned. */
  restore(state: unknown): void;
}

export type WindowOptions<T> = EventTimeOptions<T> & { panes: PaneAssigner };

/**
 * The options with the per-value callbacks wrapped once, when the operator is created, so that a
 * throw names the operator and the callback. Errors rivulet raised itself pass through: those of
 * an operator built on this one (slidingHourWindow) or of a library aggregator (`counting`).
 */
export function guardWindowOptions<T>(where: string, o: WindowOptions<T>): WindowOptions<T> {
  const { late, rejected } = o;
  checkUid(where, o.uid);
  return {
    ...o,
    timestampOf: guarded(where, 'timestampOf', o.timestampOf),
    late: late && { next: guarded(where, 'late.next', (value: T) => late.next(value)) },
    rejected: rejected && { next: guarded(where, 'rejected.next', (value: T) => rejected.next(value)) },
  };
}

/**
 * Joins the checkpoint scope (restoring the clock, the late count and the operator's own state),
 * then subscribes to `eventTime$` (first, so it can seed the clock) and to the source; per value:
 * timestamp, the future bound if any (hold, release or reject), advance the clock (expiring
 * closed panes), then either late or accepted.
 */
export function subscribeWindowed<T, R>(
  where: string,
  source: Observable<T>,
  destination: Subscriber<R>,
  o: WindowOptions<T>,
  clock: WindowClock,
  handlers: WindowHandlers<T>,
): void {
  const { timestampOf, late, rejected, stats, panes } = o;
  const stopped = () => destination.closed;
  const bound = o.maxFutureMs === undefined ? undefined : new FutureGate<T>(o.maxFutureMs, o.confirmations ?? 3, stats, rejected && ((value: T) => rejected.next(value)));
  destination.add(
    joinScope(where, o.uid, () => ({
      kind: where,
      version: 1,
      fingerprint: bound ? `${clock.describe()} ${bound.describe()}` : clock.describe(),
      snapshot: () => ({ clock: clock.snapshot(), late: stats?.late ?? 0, future: bound?.snapshot(), own: handlers.snapshot() }),
      restore(state) {
        const saved = state as { clock: number[]; late: number; future?: FutureBoundState<T>; own: unknown };
        clock.restore(saved.clock);
        if (stats) {
          stats.late = saved.late;
          stats.future = 0;
          stats.watermark = clock.watermark;
        }
        if (bound && saved.future) bound.restore(saved.future);
        handlers.restore(saved.own);
      },
    })),
  );
  // One guard for all that runs as time moves, so the hot path pays for one wrapper, not one
  // per pane-assigner or aggregator call.
  const advance = guarded(where, 'aggregate', (t: number, place: boolean): number => {
    if (clock.advance(t)) handlers.expire();
    if (stats) stats.watermark = clock.watermark;
    return place ? panes.paneStartOf(t) : NaN;
  });
  const complete = guarded(where, 'aggregate', () => handlers.complete());
  const requireTime = (t: number, what: string): void => {
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      throw new RivuletError('ERR_INVALID_VALUE', `${where}: ${what} ${String(t)}, expected finite epoch ms`);
    }
  };
  // Expire first, then add: an event never lands in a pane that is closing.
  const place = (value: T, t: number): void => {
    const paneStart = advance(t, true);
    if (paneStart >= clock.windowStart) return handlers.accept(value, paneStart);
    if (stats) stats.late++;
    late?.next(value);
  };
  const ticks =
    o.eventTime$ &&
    operate(o.eventTime$, destination, {
      next(t) {
        requireTime(t, 'eventTime$ emitted');
        advance(t, false);
        // Outside progress is trusted: it may bring held values in bound.
        bound?.advanced(clock.maxEventTime, place, stopped);
      },
      // Its completion only means no more outside progress; the source still drives time.
      complete() {},
    });
  operate(source, destination, {
    next(value) {
      const t = timestampOf(value);
      requireTime(t, 'timestampOf returned');
      if (bound === undefined) place(value, t);
      else bound.offer(t, value, clock.maxEventTime, place, stopped);
    },
    complete() {
      ticks?.unsubscribe(); // no more progress can matter
      bound?.end(); // nothing can confirm a jump any more: what is still held is rejected
      complete();
      destination.complete();
    },
  });
}
