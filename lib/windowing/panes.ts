/**
 * Window math for rivulet's event-time windows, kept apart as in Bytewax: a {@link PaneAssigner}
 * says which pane contains an instant, an {@link Aggregator} says what to do with the values,
 * and the clock (windowClock.ts) says how far event time has got. Panes and windows are
 * half-open, `[start, end)`, in epoch milliseconds. Everything here is pure and free of I/O.
 */
import { TZDate } from '@date-fns/tz';
// One function per module: the package's index loads all of date-fns, a tenth of a second at start-up.
import { addDays } from 'date-fns/addDays';
import { startOfDay } from 'date-fns/startOfDay';
import { invalidOption, requireInteger } from '../core/errors';

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
  const startOf = (t: number): number => startOfDay(new TZDate(t, timeZone)).getTime();
  // Through startOfDay again: where the next date has no midnight, the day starts later.
  const after = (start: number): number => startOfDay(addDays(new TZDate(start, timeZone), 1)).getTime();
  const days = new DayRange(startOf, after);
  return {
    name: `days(${timeZone})`,
    paneStartOf: (t) => days.startOf(t),
    nextPaneStart: (start) => days.after(start),
  };
}

/** How many consecutive days a {@link DayRange} remembers. */
const REMEMBERED_DAYS = 64;

/**
 * The zone library's answers for a run of consecutive days, so that finding an instant's day
 * costs a comparison or two instead of a time-zone lookup (which costs more than everything else
 * a log line goes through). Real input dwells on a few neighbouring days: a log whose lines mix
 * UTC offsets, or arrive a little out of order, moves to and fro across one midnight on every
 * line. The zone library is asked only for an instant outside the known days, and each day it
 * adds is checked against it at both ends, so the answers are always the library's own. Pure
 * (the same answers in any order of calls), so an assigner may be shared between subscriptions.
 */
class DayRange {
  /** Consecutive day starts, ascending: the known days are `[starts[i], starts[i + 1])`. */
  private starts: number[] = [];
  /** The day asked for last: the first place to look. */
  private last = 0;

  constructor(
    private readonly startOfUncached: (t: number) => number,
    private readonly afterUncached: (start: number) => number,
  ) {}

  startOf(t: number): number {
    const i = this.indexOf(t);
    if (i >= 0) return this.starts[i];
    const start = this.startOfUncached(t);
    const j = this.learn(start);
    return j < 0 ? start : this.starts[j];
  }

  after(start: number): number {
    const i = this.indexOf(start);
    if (i >= 0 && this.starts[i] === start) return this.starts[i + 1];
    const n = this.starts.length - 1;
    // The start of the day after the known ones: learning it extends the range by one day.
    if (n >= 0 && start === this.starts[n]) {
      const j = this.learn(start);
      if (j >= 0) return this.starts[j + 1];
    }
    return this.afterUncached(start);
  }

  /** Index of the known day containing `t`, or -1. */
  private indexOf(t: number): number {
    const starts = this.starts;
    const n = starts.length - 1;
    if (!(n >= 1 && t >= starts[0] && t < starts[n])) return -1;
    const last = this.last;
    if (last < n && t >= starts[last] && t < starts[last + 1]) return last;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    return (this.last = lo);
  }

  /**
   * Adds the day starting at `start` (a result of startOfUncached) to the known days, next to them
   * or in their place; returns its index, or -1 where the zone library's answers for it are not
   * those of one contiguous day (then nothing is remembered).
   */
  private learn(start: number): number {
    if (!Number.isFinite(start)) return -1;
    const end = this.afterUncached(start);
    if (!(end > start) || this.startOfUncached(end - 1) !== start || this.startOfUncached(end) !== end) return -1;
    const starts = this.starts;
    const n = starts.length - 1;
    if (n >= 0 && start === starts[n]) {
      starts.push(end);
      if (starts.length > REMEMBERED_DAYS + 1) starts.shift();
      return (this.last = starts.length - 2);
    }
    if (n >= 0 && end === starts[0]) {
      starts.unshift(start);
      if (starts.length > REMEMBERED_DAYS + 1) starts.pop();
      return (this.last = 0);
    }
    this.starts = [start, end];
    return (this.last = 0);
  }
}
