/**
 * Window math for rivulet's event-time windows, kept apart as in Bytewax: a {@link PaneAssigner}
 * says which pane contains an instant, an {@link Aggregator} says what to do with the values,
 * and the clock (windowClock.ts) says how far event time has got. Panes and windows are
 * half-open, `[start, end)`, in epoch milliseconds. Everything here is pure and free of I/O.
 */
import { TZDate } from '@date-fns/tz';
import { addDays, startOfDay } from 'date-fns';
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
