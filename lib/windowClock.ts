/**
 * The clock of rivulet's event-time windows and the subscription plumbing they share
 * (slidingWindow, tumblingWindow). Internal: not part of the public API.
 *
 * Event time only moves forward: it is the largest timestamp seen, from the source or from an
 * `eventTime$` stream. The watermark is that minus the allowed lateness. A window of
 * `windowPanes` panes ends at the end of the pane containing the watermark, so a pane is open
 * while it starts at or after `windowStart` and closes once the watermark reaches the start of
 * the pane `windowPanes` panes after it.
 */
import { Observable, Observer, Subscriber, Subscription } from 'rxjs';
import { callbackFailed, invalidOption, requireInteger, requirePositive, RivuletError } from './errors';
import { PaneAssigner, WindowStats } from './windowing';

export class WindowClock {
  maxEventTime = -Infinity;
  watermark = -Infinity;
  /** Start of the oldest open pane: panes (and events) starting before it are closed. */
  windowStart = -Infinity;
  /** End of the pane containing the watermark. */
  windowEnd = -Infinity;

  constructor(
    private readonly panes: PaneAssigner,
    private readonly windowPanes: number,
    private readonly allowedLatenessMs: number,
  ) {}

  /** Moves event time forward to `t` (never back); true when `windowStart` moved. */
  advance(t: number): boolean {
    if (!(t > this.maxEventTime)) return false;
    this.maxEventTime = t;
    this.watermark = t - this.allowedLatenessMs;
    // Within the same pane nothing closes: one comparison per event on the hot path.
    if (this.watermark < this.windowEnd) return false;
    const current = this.panes.paneStartOf(this.watermark);
    this.windowEnd = this.panes.nextPaneStart(current);
    let start = current;
    for (let i = 1; i < this.windowPanes; i++) start = this.panes.paneStartOf(start - 1);
    const moved = start !== this.windowStart;
    this.windowStart = start;
    return moved;
  }
}

/** The options every event-time window operator takes. */
export interface EventTimeOptions<T> {
  /** Event time of a value in epoch ms; a non-finite result is an error (ERR_INVALID_VALUE). */
  timestampOf: (value: T) => number;
  /** How far behind the largest event time seen the watermark stays; default 0. */
  allowedLatenessMs?: number;
  /** Where late values go; absent: they are dropped. Either way they are counted in `stats.late`. */
  late?: Pick<Observer<T>, 'next'>;
  /** Updated in place: late count and current watermark. */
  stats?: WindowStats;
  /** Event-time progress from elsewhere (e.g. the global clock from partitionBy). */
  eventTime$?: Observable<number>;
}

/** Rejects bad options at creation, with the reason. */
export function checkEventTimeOptions<T>(where: string, o: EventTimeOptions<T> & { panes: PaneAssigner }, windowPanes: number): void {
  if (o === null || typeof o !== 'object') throw invalidOption(where, 'options must be an object');
  if (typeof o.timestampOf !== 'function') throw invalidOption(where, 'timestampOf must be a function');
  const panes = o.panes as Partial<PaneAssigner> | undefined;
  if (!panes || typeof panes.paneStartOf !== 'function' || typeof panes.nextPaneStart !== 'function') {
    throw invalidOption(where, 'panes must be a PaneAssigner such as fixedPanes(3_600_000) or calendarDays("UTC")');
  }
  requireInteger(where, 'windowPanes', windowPanes);
  requirePositive(where, 'allowedLatenessMs', o.allowedLatenessMs ?? 0, true);
  if (o.late !== undefined && typeof o.late?.next !== 'function') throw invalidOption(where, 'late must be an observer (with next)');
  if (o.stats !== undefined && (o.stats === null || typeof o.stats !== 'object')) throw invalidOption(where, 'stats must come from windowStats()');
  if (o.eventTime$ !== undefined && typeof o.eventTime$?.subscribe !== 'function') throw invalidOption(where, 'eventTime$ must be an Observable of epoch ms');
}

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
