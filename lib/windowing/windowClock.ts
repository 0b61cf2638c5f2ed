/**
 * The clock of rivulet's event-time windows: what time it is and where the watermark stands.
 *
 * Event time only moves forward: it is the largest timestamp seen, from the source or from an
 * `eventTime$` stream. The watermark is that minus the allowed lateness. A window of
 * `windowPanes` panes ends at the end of the pane containing the watermark, so a pane is open
 * while it starts at or after `windowStart` and closes once the watermark reaches the start of
 * the pane `windowPanes` panes after it.
 *
 * Lateness bounds the past, `maxFutureMs` the future: with it, an event more than that ahead of
 * the largest accepted event time does not move event time by itself. It is held until
 * `confirmations` following events also lie beyond the bound (a real gap in the data: the held
 * events are then applied in arrival order) or an event in bound shows it was an outlier (it is
 * then rejected: counted in `stats.future` and sent to `rejected`). See {@link FutureBound}.
 */
import { Observable, Observer } from 'rxjs';
import { invalidOption, requireInteger, requirePositive } from '../core/errors';
import { PaneAssigner } from './panes';
import { checkFutureOptions } from './futureBound';

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

  /** The clock's whole state, for a checkpoint. */
  snapshot(): [number, number, number, number] {
    return [this.maxEventTime, this.watermark, this.windowStart, this.windowEnd];
  }

  /** Puts back what {@link snapshot} returned. */
  restore(state: readonly number[]): void {
    [this.maxEventTime, this.watermark, this.windowStart, this.windowEnd] = state;
  }

  /** The settings that give the clock's state its meaning (a checkpoint must match them). */
  describe(): string {
    return `panes=${this.panes.name} windowPanes=${this.windowPanes} allowedLatenessMs=${this.allowedLatenessMs}`;
  }
}

/**
 * The first tick boundary after `t`: the smallest `k * everyMs + offset` (any integer `k`, any of
 * `offsetsMs`) strictly greater than `t`; `-Infinity` when `t` is. A clock that moves from `a`
 * to `b` crosses a boundary exactly when `b >= nextTickAfter(a, ...)`, so whoever keeps the next
 * boundary pays one comparison per advance and recomputes only on a crossing. Hourly panes with
 * a lateness of 10 minutes close on the boundaries of `(3_600_000, [600_000])`.
 */
export function nextTickAfter(t: number, everyMs: number, offsetsMs: readonly number[]): number {
  let next = Infinity;
  for (const offset of offsetsMs) next = Math.min(next, (Math.floor((t - offset) / everyMs) + 1) * everyMs + offset);
  return next;
}

/** The options every event-time window operator takes. */
export interface EventTimeOptions<T> {
  /** Event time of a value in epoch ms; a non-finite result is an error (ERR_INVALID_VALUE). */
  timestampOf: (value: T) => number;
  /** How far behind the largest event time seen the watermark stays; default 0. */
  allowedLatenessMs?: number;
  /** Where late values go; absent: they are dropped. Either way they are counted in `stats.late`. */
  late?: Pick<Observer<T>, 'next'>;
  /**
   * How far ahead of the largest accepted event time a value may move event time by itself;
   * absent: no bound. A value further ahead is held until confirmed or rejected (see above).
   */
  maxFutureMs?: number;
  /** How many following values beyond the bound confirm a jump; default 3 (at most 1000). */
  confirmations?: number;
  /** Where values rejected by the future bound go; absent: dropped. Counted in `stats.future`. */
  rejected?: Pick<Observer<T>, 'next'>;
  /** Updated in place: late and rejected counts, and the current watermark. */
  stats?: WindowStats;
  /** Event-time progress from elsewhere (e.g. the global clock from partitionBy). */
  eventTime$?: Observable<number>;
  /** Stable id of the window's state in checkpoints (see `runCheckpointed`); needed there. */
  uid?: string;
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
  checkFutureOptions(where, o.maxFutureMs, o.confirmations, o.rejected);
  if (o.eventTime$ !== undefined && typeof o.eventTime$?.subscribe !== 'function') throw invalidOption(where, 'eventTime$ must be an Observable of epoch ms');
}

/**
 * Counters an event-time window operator keeps up to date in place when given one, for
 * dashboards and tests: `late` counts values that arrived after their window had closed
 * (dropped or sent to the late stream alike), `future` those rejected by the future bound
 * (`maxFutureMs`), `watermark` is the current watermark in epoch ms (`-Infinity` until the first
 * event time is seen).
 */
export interface WindowStats {
  late: number;
  future: number;
  watermark: number;
}

/** A fresh {@link WindowStats}: nothing late, no watermark yet. */
export function windowStats(): WindowStats {
  return { late: 0, future: 0, watermark: -Infinity };
}
