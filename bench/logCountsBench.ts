/**
 * log-counts three ways, in boundary mode (windows closed by END_OF_DAY markers, and by a change
 * of day between lines), which is the CLI's default and the original's protocol:
 * rivulet's `logCounts()`, the same in plain RxJS (`scan` over a state object), and a
 * hand-written loop. All three parse with the same `parseAccessLogLine`, so they differ only in
 * how the stream is driven.
 */
import { concat, concatMap, endWith, filter, from, lastValueFrom, map, Observable, of, OperatorFunction, scan, toArray } from 'rxjs';
import { DayReport, END_OF_DAY, LogInput, LogLine, logCounts } from '../demos/logCounts/logCounts';
import { fileLines } from '../lib/io/files';
import { parseAccessLogLine } from '../demos/logCounts/accessLog';
import { forEachLine, plainFileLines } from './harness';

/** A report reduced to what the three variants must agree on, with counts in key order. */
export type ReportSummary = [string | null, string, number, number, string | undefined];

export function summarize(reports: readonly DayReport[]): ReportSummary[] {
  return reports.map((r) => [r.day, JSON.stringify([...r.counts].sort()), r.lines, r.unparsed, r.closedBy]);
}

// --- rivulet ------------------------------------------------------------------------------------

export function rivuletMemory(input: readonly LogInput[]): Promise<DayReport[]> {
  return lastValueFrom(from(input).pipe(logCounts() as OperatorFunction<LogInput, DayReport>, toArray()));
}

/** As the CLI reads files: each file's lines, then an END_OF_DAY. */
export function rivuletFiles(files: readonly string[]): Promise<DayReport[]> {
  const input = from(files).pipe(concatMap((file) => concat<LogInput[]>(fileLines(file), of(END_OF_DAY))));
  return lastValueFrom(input.pipe(logCounts() as OperatorFunction<LogInput, DayReport>, toArray()));
}

// --- the hand-written loop ----------------------------------------------------------------------

interface Totals {
  day: string | null;
  counts: Map<string, number>;
  lines: number;
  unparsed: number;
}

/** The loop's state, fed one input at a time; reports are pushed to `out`. */
class DayCounter {
  private totals: Totals | undefined;
  private previousDay: string | null = null;

  constructor(private readonly out: DayReport[]) {}

  marker(): void {
    this.close('marker', this.totals ?? { day: null, counts: new Map(), lines: 0, unparsed: 0 });
  }

  line(text: string): void {
    const parsed = parseAccessLogLine(text);
    const day = parsed.ok ? parsed.record.localDay : null;
    let t = this.totals;
    if (t !== undefined && day !== null && this.previousDay !== null && day !== this.previousDay) {
      this.close('day-change', t);
      t = undefined;
    }
    if (t === undefined) this.totals = t = { day: null, counts: new Map(), lines: 0, unparsed: 0 };
    t.lines += 1;
    t.day ??= day;
    if (parsed.ok) {
      const code = String(parsed.record.status);
      t.counts.set(code, (t.counts.get(code) ?? 0) + 1);
    } else t.unparsed += 1;
    this.previousDay = day;
  }

  end(): DayReport[] {
    if (this.totals !== undefined) this.close('end', this.totals);
    return this.out;
  }

  private close(closedBy: DayReport['closedBy'], t: Totals): void {
    this.out.push({ day: t.day, counts: t.counts, lines: t.lines, unparsed: t.unparsed, closedBy });
    this.totals = undefined;
    this.previousDay = null;
  }
}

export function loopMemory(input: readonly LogInput[]): DayReport[] {
  const counter = new DayCounter([]);
  for (let i = 0; i < input.length; i++) {
    const v = input[i];
    if (v === END_OF_DAY) counter.marker();
    else counter.line(v.text);
  }
  return counter.end();
}

export async function loopFiles(files: readonly string[]): Promise<DayReport[]> {
  const counter = new DayCounter([]);
  for (const file of files) {
    await forEachLine(file, (text) => counter.line(text));
    counter.marker();
  }
  return counter.end();
}

// --- plain RxJS ---------------------------------------------------------------------------------

const FLUSH = Symbol('flush');

interface ScanState {
  totals: Totals | undefined;
  previousDay: string | null;
  out: DayReport | undefined;
}

/** What a user would write with `scan`: state plus the report the step produced, if any. */
function plainLogCounts(): OperatorFunction<LogInput, DayReport> {
  const fresh = (): Totals => ({ day: null, counts: new Map(), lines: 0, unparsed: 0 });
  const report = (t: Totals, closedBy: DayReport['closedBy']): DayReport => ({ day: t.day, counts: t.counts, lines: t.lines, unparsed: t.unparsed, closedBy });
  return (source) =>
    source.pipe(
      endWith(FLUSH),
      scan<LogInput | typeof FLUSH, ScanState>(
        (s, input) => {
          s.out = undefined;
          if (input === FLUSH) {
            if (s.totals !== undefined) s.out = report(s.totals, 'end');
            return s;
          }
          if (input === END_OF_DAY) {
            s.out = report(s.totals ?? fresh(), 'marker');
            s.totals = undefined;
            s.previousDay = null;
            return s;
          }
          const parsed = parseAccessLogLine(input.text);
          const day = parsed.ok ? parsed.record.localDay : null;
          if (s.totals !== undefined && day !== null && s.previousDay !== null && day !== s.previousDay) {
            s.out = report(s.totals, 'day-change');
            s.totals = undefined;
          }
          const t = (s.totals ??= fresh());
          t.lines += 1;
          t.day ??= day;
          if (parsed.ok) {
            const code = String(parsed.record.status);
            t.counts.set(code, (t.counts.get(code) ?? 0) + 1);
          } else t.unparsed += 1;
          s.previousDay = day;
          return s;
        },
        { totals: undefined, previousDay: null, out: undefined },
      ),
      filter((s) => s.out !== undefined),
      map((s) => s.out!),
    );
}

export function plainMemory(input: readonly LogInput[]): Promise<DayReport[]> {
  return lastValueFrom(from(input).pipe(plainLogCounts(), toArray()));
}

export function plainFiles(files: readonly string[]): Promise<DayReport[]> {
  const input: Observable<LogInput> = from(files).pipe(
    concatMap((file) => concat<LogInput[]>(plainFileLines([file]) as Observable<LogLine>, of(END_OF_DAY))),
  );
  return lastValueFrom(input.pipe(plainLogCounts(), toArray()));
}
