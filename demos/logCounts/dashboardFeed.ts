/*
 * The log-counts dashboard: what the page in demos/logCounts/dashboard/ draws (status codes per
 * day, stacked by code) and the feed that tells it, served by `serveLiveView`.
 *
 * Feed protocol: JSON text, one message per WebSocket message. The page ignores messages it does
 * not understand and fields of the wrong type.
 *
 * - {"type":"day","day":"2004-03-07","counts":[["200",147],["401",48]],"lines":196,"unparsed":0,
 *   "open":true}
 *   Everything known of one day so far: its closed windows' counts plus the open window's, which
 *   grows as lines arrive (`open` while a window of the day is still open). It replaces what the
 *   page had for that day. `counts` are [status code, lines] pairs, by every request method.
 * - {"type":"stats","lines":1546,"unparsed":0,"late":0,"days":6,"finished":false}
 *   Totals of the run; `finished` once the input has ended (the page keeps the last state).
 *
 * The open window is counted from the lines as they arrive, the closed windows from the
 * pipeline's reports: once a window closes, the report's counts are the day's, whatever the live
 * count said.
 */
import { TZDate } from '@date-fns/tz';
import { format } from 'date-fns/format';
import { join } from 'node:path';
import { asyncScheduler, defer, EMPTY, from, interval, merge, mergeMap, Observable, SchedulerLike, Subject } from 'rxjs';
import type { LiveFeed, LiveViewPage } from '../../index';
import { packageRoot } from '../packageRoot';
import { parseAccessLogFields } from './accessLog';
import { DayReport, END_OF_DAY, LogInput } from './logCounts';

/** One day as the page draws it. */
export interface LogCountsDayMessage {
  readonly type: 'day';
  readonly day: string;
  readonly counts: ReadonlyArray<readonly [string, number]>;
  readonly lines: number;
  readonly unparsed: number;
  readonly open: boolean;
}

/** Totals of the run, for the page's header. */
export interface LogCountsStatsMessage {
  readonly type: 'stats';
  readonly lines: number;
  readonly unparsed: number;
  readonly late: number;
  readonly days: number;
  readonly finished: boolean;
}

export type LogCountsMessage = LogCountsDayMessage | LogCountsStatsMessage;

export interface LogCountsDashboardOptions {
  /** How windows close, as in `logCounts`: 'day' (event time) keeps a closed day closed. */
  readonly window: 'boundary' | 'day';
  /** `--tz` of `--window day`; without it days follow the first line's UTC offset, as `logCounts` does. */
  readonly timeZone?: string;
  /** How often the open days are sent while lines arrive; 250 ms by default. */
  readonly refreshMs?: number;
  readonly scheduler?: SchedulerLike;
}

interface Totals {
  counts: Map<string, number>;
  lines: number;
  unparsed: number;
}

interface DayState {
  closed: Totals;
  open: Totals | undefined;
}

/** Days the server keeps (and a late page receives); the oldest go first. */
const MAX_DAYS = 400;

const newTotals = (): Totals => ({ counts: new Map(), lines: 0, unparsed: 0 });

/** The page's files: index.html, dashboard.js and dashboard.css, and the stylesheet the dashboards share. */
export function logCountsPage(): LiveViewPage {
  const demos = join(packageRoot(), 'demos');
  return { dir: join(demos, 'logCounts', 'dashboard'), files: { '/common.css': join(demos, 'dashboardCommon', 'common.css') } };
}

/**
 * The dashboard's state, fed from both ends of the pipeline: `line` with every input before
 * `logCounts` sees it, `report` with every report it emits, `finish` when the input has ended.
 * `feed()` is the `serveLiveView` feed: every change of a day (closed ones at once, open ones at
 * most every `refreshMs`), with the whole state as the snapshot for a page that opens late.
 */
export class LogCountsDashboard {
  private readonly days = new Map<string, DayState>();
  private readonly closedDays = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly changes = new Subject<LogCountsMessage>();
  private readonly window: 'boundary' | 'day';
  private readonly timeZone: string | undefined;
  private readonly refreshMs: number;
  private readonly scheduler: SchedulerLike;
  /** Without --tz, the first line's offset, as logCounts takes it. */
  private offsetMinutes: number | undefined;
  /** The day unparseable lines are counted in: the last parseable line's. */
  private currentDay: string | undefined;
  private unplaced = 0;
  private lines = 0;
  private unparsed = 0;
  private late = 0;
  private finished = false;

  constructor(options: LogCountsDashboardOptions) {
    this.window = options.window;
    this.timeZone = options.timeZone;
    this.refreshMs = options.refreshMs ?? 250;
    this.scheduler = options.scheduler ?? asyncScheduler;
  }

  /** An input line (or marker), before the pipeline counts it: it grows its day's open window. */
  line(input: LogInput): void {
    if (input === END_OF_DAY) {
      // The next window's unparseable lines belong to its first parseable line's day.
      if (this.window === 'boundary') this.currentDay = undefined;
      return;
    }
    this.lines += 1;
    const parsed = parseAccessLogFields(input.text);
    if (!parsed.ok) {
      this.unparsed += 1;
      if (this.currentDay === undefined) this.unplaced += 1;
      else this.addOpen(this.currentDay, undefined);
      return;
    }
    this.offsetMinutes ??= parsed.utcOffsetMinutes;
    const day = this.dayOf(parsed.timestampMs, parsed.localDay);
    // A line of a day that has closed by event time is late: the next report counts it.
    if (this.window === 'day' && this.closedDays.has(day)) return;
    this.currentDay = day;
    for (; this.unplaced > 0; this.unplaced--) this.addOpen(day, undefined);
    this.addOpen(day, String(parsed.status));
  }

  /** A window closed: its counts are now the day's, and its open part is gone. */
  report(report: DayReport): void {
    this.late += report.late ?? 0;
    if (report.day === null) return;
    const state = this.stateOf(report.day);
    for (const [code, n] of report.counts) state.closed.counts.set(code, (state.closed.counts.get(code) ?? 0) + n);
    state.closed.lines += report.lines;
    state.closed.unparsed += report.unparsed;
    state.open = undefined;
    if (this.window === 'day') {
      this.closedDays.add(report.day);
      if (this.closedDays.size > MAX_DAYS) this.closedDays.delete(this.closedDays.values().next().value as string);
    }
    this.dirty.delete(report.day);
    this.changes.next(this.dayMessage(report.day, state));
    this.changes.next(this.statsMessage());
  }

  /** Input lines seen so far, markers aside. */
  get linesSeen(): number {
    return this.lines;
  }

  /** The input has ended: no window is open any more once the pipeline has flushed. */
  finish(): void {
    this.finished = true;
    this.changes.next(this.statsMessage());
  }

  /** The feed for `serveLiveView`. */
  feed(): LiveFeed<LogCountsMessage> {
    const refreshes = defer(() =>
      interval(this.refreshMs, this.scheduler).pipe(mergeMap(() => (this.dirty.size === 0 ? EMPTY : from(this.flushDirty())))),
    );
    const source: Observable<LogCountsMessage> = merge(this.changes, refreshes);
    return { source, snapshot: () => this.snapshot() };
  }

  /** Every day, oldest first, then the totals. */
  snapshot(): LogCountsMessage[] {
    const days = [...this.days.keys()].sort();
    return [...days.map((day) => this.dayMessage(day, this.days.get(day)!)), this.statsMessage()];
  }

  private flushDirty(): LogCountsMessage[] {
    const messages: LogCountsMessage[] = [];
    for (const day of [...this.dirty].sort()) {
      const state = this.days.get(day);
      if (state !== undefined) messages.push(this.dayMessage(day, state));
    }
    this.dirty.clear();
    messages.push(this.statsMessage());
    return messages;
  }

  private addOpen(day: string, code: string | undefined): void {
    const state = this.stateOf(day);
    const open = (state.open ??= newTotals());
    open.lines += 1;
    if (code === undefined) open.unparsed += 1;
    else open.counts.set(code, (open.counts.get(code) ?? 0) + 1);
    this.dirty.add(day);
  }

  private stateOf(day: string): DayState {
    let state = this.days.get(day);
    if (state === undefined) {
      state = { closed: newTotals(), open: undefined };
      this.days.set(day, state);
      if (this.days.size > MAX_DAYS) {
        const oldest = [...this.days.keys()].sort()[0];
        this.days.delete(oldest);
        this.dirty.delete(oldest);
      }
    }
    return state;
  }

  private dayOf(timestampMs: number, localDay: string): string {
    if (this.window === 'boundary') return localDay;
    if (this.timeZone !== undefined) return format(new TZDate(timestampMs, this.timeZone), 'yyyy-MM-dd');
    return new Date(timestampMs + (this.offsetMinutes ?? 0) * 60_000).toISOString().slice(0, 10);
  }

  private dayMessage(day: string, state: DayState): LogCountsDayMessage {
    const counts = new Map(state.closed.counts);
    let { lines, unparsed } = state.closed;
    if (state.open !== undefined) {
      for (const [code, n] of state.open.counts) counts.set(code, (counts.get(code) ?? 0) + n);
      lines += state.open.lines;
      unparsed += state.open.unparsed;
    }
    const sorted = [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { type: 'day', day, counts: sorted, lines, unparsed, open: state.open !== undefined };
  }

  private statsMessage(): LogCountsStatsMessage {
    return { type: 'stats', lines: this.lines, unparsed: this.unparsed, late: this.late, days: this.days.size, finished: this.finished };
  }
}
