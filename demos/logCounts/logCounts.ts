/**
 * log-counts: HTTP status codes per day from Apache access logs, Wallaroo's windowing example.
 *
 * Lines arrive from files or TCP frames; a window closes on an `END_OF_DAY` marker (the
 * original's protocol), on a change of day without a marker (the original crashed there), or,
 * in event-time mode, when the watermark passes the end of a calendar day.
 */
import { TZDate } from '@date-fns/tz';
import { format } from 'date-fns/format';
import { defer, map, Observable, Observer, OperatorFunction } from 'rxjs';
import {
  Aggregator, boundaryWindow, calendarDays, ClosedWindow, fixedPanes, PaneAssigner, statefulScan, stateHandle, tumblingWindow, type TumblingWindowOptions, windowStats,
} from '../../index';
import { AccessLogScanner, wallarooStatusOf } from './accessLog';

export const END_OF_DAY = 'END_OF_DAY';

/** One line of input and where it came from (a file and line, or a peer and frame number). */
export interface LogLine {
  readonly text: string;
  readonly source: string;
  readonly lineNumber: number;
}
export type LogInput = LogLine | typeof END_OF_DAY;

/** One window's result: counts by status code over every request method. */
export interface DayReport {
  /** ISO date of the window, or null for a window without a parseable line. */
  day: string | null;
  counts: Map<string, number>;
  lines: number;
  unparsed: number;
  /** What closed the window (`'shutdown'`: the process was stopped with the window open). */
  closedBy?: 'marker' | 'day-change' | 'end' | 'shutdown';
  /** Event-time mode: lines that arrived after their own day had closed, since the last report. */
  late?: number;
}

/** A line that could not be parsed, for the dead-letter file. */
export interface DeadLetter {
  source: string;
  line: number;
  reason: string;
  text: string;
}

export interface LogCountsOptions {
  /** `'wallaroo'`: the original's objects (GET-only codes, `"null"` for every other line). */
  compat?: 'wallaroo';
  /** Windows by event time (calendar days) instead of markers. */
  eventTime?: {
    timeZone?: string;
    allowedLatenessMs: number;
    /**
     * A line more than this ahead of the latest accepted time is held until 3 following lines
     * confirm the jump; one that an in-bound line follows first goes to `deadLetter` with reason
     * "beyond --max-future" and is not counted. Absent: no bound.
     */
    maxFutureMs?: number;
  };
  deadLetter?: Partial<Observer<DeadLetter>>;
}

/** What one line contributes to a window: its day and the counts key it adds to (if any). */
interface DayEntry {
  readonly day: string | null;
  readonly countAs: string | null;
  /** The status code that `countAs` spells, counted by number; absent for a key of another kind. */
  readonly code?: number;
  readonly unparsed: boolean;
}

/** A line's contribution with its time, for windows by event time. */
interface Entry extends DayEntry {
  timestampMs: number;
  offsetMinutes: number;
  /** Where a parsed line came from, for the dead-letter record if the future bound rejects it. */
  from?: LogLine;
}

/** The log-counts pipeline: log lines and markers in, one report per window out. */
export function logCounts(options: LogCountsOptions = {}): OperatorFunction<LogInput, DayReport | Map<string, number>> {
  if (options.eventTime === undefined) {
    const report = map((w: ClosedWindow<LogInput, Totals>) => (options.compat === 'wallaroo' ? countsOf(w.value) : boundaryReport(w)));
    return (source) =>
      defer(() => {
        // Each subscription reads its lines with its own scanner.
        const classify = options.compat === 'wallaroo' ? classifyLikeWallaroo : dayEntries(options.deadLetter);
        const windows = boundaryWindow({
          uid: 'day',
          isBoundary: (v: LogInput) => v === END_OF_DAY,
          // A line's day and status, read in the window's own step (markers never reach it).
          mapValue: classify as (v: LogInput) => DayEntry,
          seed: newTotals,
          add: addEntry,
          // Lines of one day and status share their entry.
          splitBefore: (a: DayEntry, b: DayEntry) => a !== b && a.day !== b.day && a.day !== null && b.day !== null,
          onComplete: 'emit',
        });
        return source.pipe(windows, report);
      });
  }
  const { timeZone, allowedLatenessMs, maxFutureMs } = options.eventTime;
  if (timeZone !== undefined) calendarDays(timeZone); // a bad zone fails here, not at the first line
  const { deadLetter } = options;
  const future =
    maxFutureMs === undefined ? {} : {
      maxFutureMs,
      rejected: {
        next: ({ from }: Entry) => {
          if (from) deadLetter?.next?.({ source: from.source, line: from.lineNumber, reason: 'beyond --max-future', text: from.text });
        },
      },
    };
  return (source) =>
    defer(() => {
      const classify = options.compat === 'wallaroo' ? classifyLikeWallaroo : timedEntries(deadLetter);
      return dailyByEventTime(source, classify, allowedLatenessMs, timeZone, future);
    });
}

function dailyByEventTime(
  input: Observable<LogInput>,
  classify: (line: LogLine) => Entry,
  allowedLatenessMs: number,
  timeZone: string | undefined,
  future: Pick<TumblingWindowOptions<Entry, undefined, Totals>, 'maxFutureMs' | 'rejected'>,
): Observable<DayReport> {
  // Without --tz, days follow the UTC offset of the first parseable line, as the log has it. The
  // zone so found, and the late count already reported, are state: kept in a scoped step (read
  // here through its handle), so a run restored from a checkpoint goes on with the same ones.
  const settings = stateHandle<{ zone: string | undefined; reportedLate: number }>();
  const zoneOf = (): string => settings.snapshot()?.zone ?? 'UTC';
  let days: { zone: string; panes: PaneAssigner } | undefined;
  const daysNow = (): PaneAssigner => {
    const zone = zoneOf();
    if (days?.zone !== zone) days = { zone, panes: daysIn(zone) };
    return days.panes;
  };
  const panes: PaneAssigner = {
    name: timeZone === undefined ? 'days(offset of the first line)' : `days(${timeZone})`,
    paneStartOf: (t) => daysNow().paneStartOf(t),
    nextPaneStart: (s) => daysNow().nextPaneStart(s),
  };
  const stats = windowStats();
  return input.pipe(
    // Markers mean nothing here: days close by event time.
    statefulScan<LogInput, { zone: string | undefined; reportedLate: number }, Entry>({
      uid: 'zone',
      handle: settings,
      seed: () => ({ zone: timeZone, reportedLate: 0 }),
      step(state, input, emit) {
        if (input === END_OF_DAY) return state;
        const e = classify(input);
        if (state.zone === undefined && Number.isFinite(e.timestampMs)) state.zone = offsetZone(e.offsetMinutes);
        emit(e);
        return state;
      },
    }),
    timeUnparsedLines(),
    tumblingWindow({ uid: 'days', timestampOf: (e) => e.timestampMs, panes, aggregate: TOTALS, allowedLatenessMs, stats, ...future }),
    map(({ value, windowStart }) => {
      const state = settings.snapshot()!;
      const late = stats.late - state.reportedLate;
      state.reportedLate = stats.late;
      const day = format(new TZDate(windowStart, zoneOf()), 'yyyy-MM-dd');
      return { day, counts: countsOf(value), lines: value.lines, unparsed: value.unparsed, late };
    }),
  );
}

/**
 * An unparseable line has no time of its own: it is counted in the day of the parseable line
 * before it (lines before the first parseable one wait for it; only their number is kept, so memory stays bounded).
 */
function timeUnparsedLines(): OperatorFunction<Entry, Entry> {
  return statefulScan<Entry, { lastMs: number; waiting: number }, Entry>({
    uid: 'unparsed-time',
    seed: () => ({ lastMs: NaN, waiting: 0 }),
    step(state, entry, emit) {
      if (Number.isFinite(entry.timestampMs)) {
        for (; state.waiting > 0; state.waiting--) emit({ ...UNPARSED, timestampMs: entry.timestampMs });
        state.lastMs = entry.timestampMs;
        emit(entry);
      } else if (Number.isFinite(state.lastMs)) emit({ ...entry, timestampMs: state.lastMs });
      else state.waiting += 1;
      return state;
    },
  });
}

/**
 * A window's counts, as checkpoints keep them. Status codes are counted in an array by code (an
 * increment per line, where a Map costs a lookup and a store), in the order first seen; other
 * keys (`--compat wallaroo`'s) in `counts`, as are codes in a checkpoint that holds no array.
 */
interface Totals {
  counts: Map<string, number>;
  lines: number;
  unparsed: number;
  day: string | null;
  /** Lines by status code: `byCode[code]`, for each code of `codes`. */
  byCode?: number[];
  codes?: number[];
}

function newTotals(): Totals {
  return { counts: new Map(), lines: 0, unparsed: 0, day: null };
}

function addEntry(t: Totals, e: DayEntry): Totals {
  t.lines += 1;
  t.day ??= e.day;
  if (e.unparsed) t.unparsed += 1;
  const code = e.code;
  if (code !== undefined) countCode(t, code, 1);
  else if (e.countAs !== null) t.counts.set(e.countAs, (t.counts.get(e.countAs) ?? 0) + 1);
  return t;
}

function countCode(t: Totals, code: number, n: number): void {
  const byCode = (t.byCode ??= []);
  const before = byCode[code];
  if (before === undefined) {
    byCode[code] = n;
    (t.codes ??= []).push(code);
  } else byCode[code] = before + n;
}

/** The counts of a closed window, by key, in the order the keys were first counted. */
function countsOf(t: Totals): Map<string, number> {
  if (t.codes === undefined) return t.counts;
  const counts = new Map(t.counts);
  for (const code of t.codes) {
    const key = statusKey(code);
    counts.set(key, (counts.get(key) ?? 0) + t.byCode![code]);
  }
  return counts;
}

const TOTALS: Aggregator<Entry, Totals> = {
  zero: newTotals,
  add: addEntry,
  merge(a, b) {
    for (const [k, n] of b.counts) a.counts.set(k, (a.counts.get(k) ?? 0) + n);
    for (const code of b.codes ?? []) countCode(a, code, b.byCode![code]);
    a.lines += b.lines;
    a.unparsed += b.unparsed;
    return a;
  },
};

function boundaryReport(w: ClosedWindow<LogInput, Totals>): DayReport {
  const closedBy = w.closedBy === 'boundary' ? 'marker' : w.closedBy === 'split' ? 'day-change' : 'end';
  const { day, lines, unparsed } = w.value;
  return { day, counts: countsOf(w.value), lines, unparsed, closedBy };
}

const UNPARSED: Entry = { day: null, countAs: null, unparsed: true, timestampMs: NaN, offsetMinutes: 0 };

/** Status codes as counts keys, made once each. */
const STATUS_KEYS: string[] = [];
const statusKey = (code: number): string => (STATUS_KEYS[code] ??= String(code));

/**
 * For boundary windows, which need only a line's day and status: the entry of each status for the
 * current day, made once and given to every line of that day and status, so a line costs a scan
 * and no object.
 */
function dayEntries(deadLetter?: Partial<Observer<DeadLetter>>): (line: LogLine) => DayEntry {
  const scanner = new AccessLogScanner();
  let day: string | null = null;
  let byStatus: DayEntry[] = [];
  return (line) => {
    if (!scanner.scan(line.text)) {
      deadLetter?.next?.({ source: line.source, line: line.lineNumber, reason: scanner.reason, text: line.text });
      return UNPARSED;
    }
    if (scanner.localDay !== day) {
      day = scanner.localDay;
      byStatus = [];
    }
    const status = scanner.status;
    return (byStatus[status] ??= { day, countAs: statusKey(status), code: status, unparsed: false });
  };
}

/** For event-time windows: an entry of its own for each line, with its time. */
function timedEntries(deadLetter?: Partial<Observer<DeadLetter>>): (line: LogLine) => Entry {
  const scanner = new AccessLogScanner();
  return (line) => {
    // Only the day, the time and the status are read, never the whole record.
    if (scanner.scan(line.text)) {
      const status = scanner.status;
      return { day: scanner.localDay, countAs: statusKey(status), code: status, unparsed: false, timestampMs: scanner.timestampMs, offsetMinutes: scanner.utcOffsetMinutes, from: line };
    }
    deadLetter?.next?.({ source: line.source, line: line.lineNumber, reason: scanner.reason, text: line.text });
    return UNPARSED;
  };
}

// The original's day: the text between the first `[` and the last `]`, up to the first `:`.
const WALLAROO_DAY = /\[(.*)\]/;

/** Every line counts, under its GET status code or under "null", as the original counted it. */
function classifyLikeWallaroo(line: LogLine): Entry {
  const day = WALLAROO_DAY.exec(line.text)?.[1].split(':')[0] ?? null;
  return { day, countAs: wallarooStatusOf(line.text) ?? 'null', unparsed: false, timestampMs: NaN, offsetMinutes: 0 };
}

const DAY_MS = 86_400_000;
const UTC_OFFSET = /^(?:UTC|[+-]\d\d:\d\d)$/;

/**
 * Calendar days in `zone`. A zone that is a UTC offset (the zone of a log's first line) has days
 * of 24 hours, each starting where the zone library starts them: fixed panes find an instant's
 * day by arithmetic, where the library's answers cost a lookup for every new day.
 */
function daysIn(zone: string): PaneAssigner {
  const days = calendarDays(zone);
  if (!UTC_OFFSET.test(zone)) return days;
  const start = days.paneStartOf(0);
  return days.nextPaneStart(start) === start + DAY_MS ? fixedPanes(DAY_MS, start) : days;
}

function offsetZone(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
