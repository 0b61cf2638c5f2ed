/**
 * log-counts three ways: rivulet's `logCounts()` (files read with `fileLines`, as the CLI does),
 * the same in plain RxJS (`scan` over the hand-written loop's state object), and the loop itself
 * (logCountsLoop.ts: what a user would write for this one job, without rivulet).
 *
 * Modes: boundary windows (END_OF_DAY after each file, and a change of day between lines), over
 * one file per day or over one file of many days; and `--window day`, calendar days by event time
 * in the log's own UTC offset with 5 minutes of allowed lateness.
 */
import { concat, concatMap, endWith, from, lastValueFrom, mergeMap, Observable, of, OperatorFunction, scan, toArray } from 'rxjs';
import { DayReport, END_OF_DAY, LogInput, LogLine, logCounts } from '../demos/logCounts/logCounts';
import { fileLines } from '../lib/io/files';
import { plainFileLines } from './harness';
import { ALLOWED_LATENESS_MS, BoundaryDays, EventTimeDays } from './logCountsLoop';

export { ALLOWED_LATENESS_MS, loopDayWindow, loopFiles } from './logCountsLoop';

/** A report reduced to what the variants must agree on, with counts in key order. */
export type ReportSummary = [string | null, string, number, number, string | number | undefined];

export function summarize(reports: readonly DayReport[]): ReportSummary[] {
  return reports.map((r) => [r.day, JSON.stringify([...r.counts].sort()), r.lines, r.unparsed, r.closedBy ?? r.late]);
}

// --- rivulet ------------------------------------------------------------------------------------

export function rivuletMemory(input: readonly LogInput[]): Promise<DayReport[]> {
  return lastValueFrom(from(input).pipe(logCounts() as OperatorFunction<LogInput, DayReport>, toArray()));
}

/** As the CLI reads files: each file's lines, then an END_OF_DAY. */
function cliInput(files: readonly string[]): Observable<LogInput> {
  return fileLines(files, { endOfFile: END_OF_DAY });
}

export function rivuletFiles(files: readonly string[]): Promise<DayReport[]> {
  return lastValueFrom(cliInput(files).pipe(logCounts() as OperatorFunction<LogInput, DayReport>, toArray()));
}

/** `rivulet log-counts --window day FILE...` */
export function rivuletDayWindow(files: readonly string[]): Promise<DayReport[]> {
  const pipeline = logCounts({ eventTime: { allowedLatenessMs: ALLOWED_LATENESS_MS } }) as OperatorFunction<LogInput, DayReport>;
  return lastValueFrom(cliInput(files).pipe(pipeline, toArray()));
}

// --- the hand-written loop ----------------------------------------------------------------------

export function loopMemory(input: readonly LogInput[]): DayReport[] {
  const days = new BoundaryDays();
  for (let i = 0; i < input.length; i++) {
    const v = input[i];
    if (v === END_OF_DAY) days.marker();
    else days.line(v.text);
  }
  return days.end();
}

// --- plain RxJS ---------------------------------------------------------------------------------

const FLUSH = Symbol('flush');

/** What a user would write with `scan`: the state object, then the reports each step added. */
function plainBoundary(): OperatorFunction<LogInput, DayReport> {
  return (source) =>
    source.pipe(
      endWith(FLUSH),
      scan(
        (s, input) => {
          s.emitted = s.days.out.length;
          if (input === FLUSH) s.days.end();
          else if (input === END_OF_DAY) s.days.marker();
          else s.days.line(input.text);
          return s;
        },
        { days: new BoundaryDays(), emitted: 0 },
      ),
      mergeMap((s) => s.days.out.slice(s.emitted)),
    );
}

function plainEventTime(): OperatorFunction<LogInput, DayReport> {
  return (source) =>
    source.pipe(
      endWith(FLUSH),
      scan(
        (s, input) => {
          s.emitted = s.days.out.length;
          if (input === FLUSH) s.days.end();
          else if (input !== END_OF_DAY) s.days.line(input.text);
          return s;
        },
        { days: new EventTimeDays(), emitted: 0 },
      ),
      mergeMap((s) => s.days.out.slice(s.emitted)),
    );
}

function plainInput(files: readonly string[]): Observable<LogInput> {
  return from(files).pipe(concatMap((file) => concat<LogInput[]>(plainFileLines([file]) as Observable<LogLine>, of(END_OF_DAY))));
}

export function plainMemory(input: readonly LogInput[]): Promise<DayReport[]> {
  return lastValueFrom(from(input).pipe(plainBoundary(), toArray()));
}

export function plainFiles(files: readonly string[]): Promise<DayReport[]> {
  return lastValueFrom(plainInput(files).pipe(plainBoundary(), toArray()));
}

export function plainDayWindow(files: readonly string[]): Promise<DayReport[]> {
  return lastValueFrom(plainInput(files).pipe(plainEventTime(), toArray()));
}
