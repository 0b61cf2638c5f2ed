/**
 * The subscription plumbing that rivulet's event-time window operators share (slidingWindow,
 * tumblingWindow): timestamps, the clock, expiry, late values. Internal: not part of the public API.
 */
import { Observable, Subscriber, Subscription } from 'rxjs';
import { callbackFailed, RivuletError } from '../../lib/core/errors';
import { PaneAssigner } from '../../lib/windowing/panes';
import { EventTimeOptions, WindowClock } from '../../lib/windowing/windowClock';

/** What a window operator does as the plumbing drives it. May throw; see {@link asWindowError}. */
export interface WindowHandlers<T> {
  /** `clock.windowStart` moved: close the panes before it. */
  expire(): void;
  /** An on-time value, for the pane starting at `paneStart`. Runs after `expire`. */
  accept(value: T, paneStart: number): void;
  /** The source completed: emit anything still owed. */
  complete(): void;
}

/** Errors from user callbacks name the operator and the callback; rivulet's own pass through. */
export function asWindowError(where: string, callback: string, cause: unknown): RivuletError {
  return cause instanceof RivuletError ? cause : callbackFailed(where, callback, cause);
}

/** A value's key through the user's `keyOf`, naming the operator if it throws. */
export function keyOfValue<T, K>(where: string, keyOf: (value: T) => K, value: T): K {
  try {
    return keyOf(value);
  } catch (error) {
    throw asWindowError(where, 'keyOf', error);
  }
}

/**
 * Subscribes to `eventTime$` (first, so it can seed the clock) and to the source; per value:
 * timestamp, advance the clock (expiring closed panes), then either late or accepted.
 */
export function subscribeWindowed<T, R>(
  where: string,
  source: Observable<T>,
  subscriber: Subscriber<R>,
  o: EventTimeOptions<T> & { panes: PaneAssigner },
  clock: WindowClock,
  handlers: WindowHandlers<T>,
): Subscription {
  const { timestampOf, late, stats, panes } = o;
  const subscription = new Subscription();
  const fail = (error: unknown): void => subscriber.error(asWindowError(where, 'aggregate', error));
  const advance = (t: number): void => {
    if (clock.advance(t)) handlers.expire();
    if (stats) stats.watermark = clock.watermark;
  };
  if (o.eventTime$) {
    subscription.add(
      o.eventTime$.subscribe({
        next(t) {
          if (typeof t !== 'number' || !Number.isFinite(t)) {
            subscriber.error(new RivuletError('ERR_INVALID_VALUE', `${where}: eventTime$ emitted ${String(t)}, expected finite epoch ms`));
            return;
          }
          try {
            advance(t);
          } catch (error) {
            fail(error);
          }
        },
        error: (error) => subscriber.error(error),
        // Its completion only means no more outside progress; the source still drives time.
      }),
    );
  }
  if (subscriber.closed) return subscription;
  subscription.add(
    source.subscribe({
      next(value) {
        let t: number;
        try {
          t = timestampOf(value);
        } catch (error) {
          subscriber.error(asWindowError(where, 'timestampOf', error));
          return;
        }
        if (typeof t !== 'number' || !Number.isFinite(t)) {
          subscriber.error(new RivuletError('ERR_INVALID_VALUE', `${where}: timestampOf returned ${String(t)}, expected finite epoch ms`));
          return;
        }
        try {
          advance(t); // expire first, then add: an event never lands in a pane that is closing
          const paneStart = panes.paneStartOf(t);
          if (paneStart >= clock.windowStart) {
            handlers.accept(value, paneStart);
            return;
          }
          if (stats) stats.late++;
          if (late) {
            try {
              late.next(value);
            } catch (error) {
              subscriber.error(asWindowError(where, 'late.next', error));
            }
          }
        } catch (error) {
          fail(error);
        }
      },
      error: (error) => subscriber.error(error),
      complete() {
        subscription.unsubscribe(); // eventTime$ too: no more progress can matter
        try {
          handlers.complete();
        } catch (error) {
          fail(error);
          return;
        }
        subscriber.complete();
      },
    }),
  );
  return subscription;
}
