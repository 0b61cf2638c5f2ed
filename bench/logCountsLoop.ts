/**
 * log-counts as a user would write it for this one job, without rivulet: a line's date, time and
 * status code pulled out by hand (no full Combined Log Format parse), with only a check that the
 * line is complete, which is enough to agree with rivulet on the benchmark's real lines (the
 * elastic log's truncated line included). The state of both window modes, the loops over files,
 * and a script that prints a report per line as `rivulet log-counts` does, so the command itself
 * can be timed against it (start-up included). It loads Node's own modules only.
 *
 * node dist-bench/bench/logCountsLoop.js [--window day] FILE...
 */
import type { DayReport } from '../demos/logCounts/logCounts';
import { forEachLine } from './lineReader';

/** The CLI's default --allowed-lateness. */
export const ALLOWED_LATENESS_MS = 5 * 60_000;

// --- what the loops read from a line ------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY_MS = 86_400_000;

/**
 * Index of the `[` of a complete line (`host ident user [dd/Mon/yyyy:HH:mm:ss +hhmm] "request"
 * status size`, optionally `"referer" "agent"`), or -1.
 */
function timeAt(text: string): number {
  const open = text.indexOf(' [') + 1;
  // The timestamp is 26 characters; then `] "`.
  if (open === 0 || text.charCodeAt(open + 27) !== 93 || text.charCodeAt(open + 29) !== 34) return -1;
  const close = text.indexOf('" ', open + 30);
  if (close < 0) return -1;
  const size = text.indexOf(' ', close + 2);
  if (size !== close + 5) return -1;
  const tail = text.indexOf(' ', size + 1);
  // Common format ends after the size; Combined ends with the user agent's closing quote.
  if (tail >= 0 && (text.charCodeAt(tail + 1) !== 34 || text.charCodeAt(text.length - 1) !== 34 || text.length - tail < 6)) return -1;
  return open;
}

function statusAt(text: string, open: number): string {
  const close = text.indexOf('" ', open + 30);
  return text.slice(close + 2, close + 5);
}

/** `07/Mar/2004` -> `2004-03-07` */
function isoDate(logged: string): string {
  return `${logged.slice(7, 11)}-${String(MONTHS.indexOf(logged.slice(3, 6)) + 1).padStart(2, '0')}-${logged.slice(0, 2)}`;
}

function epochMs(text: string, open: number): { ms: number; offsetMinutes: number } {
  const n = (from: number, length: number) => Number(text.slice(open + from, open + from + length));
  const offsetMinutes = (text.charCodeAt(open + 22) === 45 ? -1 : 1) * (n(23, 2) * 60 + n(25, 2));
  const local = Date.UTC(n(8, 4), MONTHS.indexOf(text.slice(open + 4, open + 7)), n(1, 2), n(13, 2), n(16, 2), n(19, 2));
  return { ms: local - offsetMinutes * 60_000, offsetMinutes };
}

interface Totals {
  counts: Map<string, number>;
  lines: number;
  unparsed: number;
}

const fresh = (): Totals => ({ counts: new Map(), lines: 0, unparsed: 0 });

function count(t: Totals, status: string | undefined): void {
  t.lines += 1;
  if (status === undefined) t.unparsed += 1;
  else t.counts.set(status, (t.counts.get(status) ?? 0) + 1);
}

// --- boundary windows, the baselines' state -----------------------------------------------------

/** Counts per window; a window closes on a marker or when a line's date differs from the last one's. */
export class BoundaryDays {
  private totals: (Totals & { date: string | null }) | undefined;
  private previousDate: string | null = null;
  readonly out: DayReport[] = [];

  marker(): void {
    this.close('marker', this.totals ?? { ...fresh(), date: null });
  }

  line(text: string): void {
    const open = timeAt(text);
    const date = open < 0 ? null : text.slice(open + 1, open + 12);
    let t = this.totals;
    if (t !== undefined && date !== null && this.previousDate !== null && date !== this.previousDate) {
      this.close('day-change', t);
      t = undefined;
    }
    t ??= this.totals = { ...fresh(), date: null };
    t.date ??= date;
    count(t, open < 0 ? undefined : statusAt(text, open));
    this.previousDate = date;
  }

  end(): DayReport[] {
    if (this.totals !== undefined) this.close('end', this.totals);
    return this.out;
  }

  private close(closedBy: DayReport['closedBy'], t: Totals & { date: string | null }): void {
    this.out.push({ day: t.date === null ? null : isoDate(t.date), counts: t.counts, lines: t.lines, unparsed: t.unparsed, closedBy });
    this.totals = undefined;
    this.previousDate = null;
  }
}

// --- calendar days by event time, the baselines' state -------------------------------------------

/**
 * Days in the UTC offset of the first complete line. Event time is the largest time seen; a day
 * closes once that minus the allowed lateness reaches its end, and a line of a closed day is
 * counted as late. An incomplete line counts in the day of the complete line before it.
 */
export class EventTimeDays {
  private offsetMs = NaN;
  private maxMs = -Infinity;
  /** Days before this one are closed. */
  private openFrom = -Infinity;
  private readonly days = new Map<number, Totals>();
  private lastDay = NaN;
  private waiting = 0;
  private late = 0;
  readonly out: DayReport[] = [];

  line(text: string): void {
    const open = timeAt(text);
    if (open < 0) {
      if (Number.isNaN(this.lastDay)) this.waiting += 1;
      else this.add(this.lastDay, undefined);
      return;
    }
    const { ms, offsetMinutes } = epochMs(text, open);
    if (Number.isNaN(this.offsetMs)) this.offsetMs = offsetMinutes * 60_000;
    if (ms > this.maxMs) {
      this.maxMs = ms;
      const watermarkDay = Math.floor((ms - ALLOWED_LATENESS_MS + this.offsetMs) / DAY_MS);
      if (watermarkDay > this.openFrom) {
        this.openFrom = watermarkDay;
        this.closeBefore(watermarkDay);
      }
    }
    const day = Math.floor((ms + this.offsetMs) / DAY_MS);
    for (; this.waiting > 0; this.waiting--) this.add(day, undefined);
    this.lastDay = day;
    this.add(day, statusAt(text, open));
  }

  end(): DayReport[] {
    this.closeBefore(Infinity);
    return this.out;
  }

  private add(day: number, status: string | undefined): void {
    if (day < this.openFrom) {
      this.late += 1;
      return;
    }
    let t = this.days.get(day);
    if (t === undefined) this.days.set(day, (t = fresh()));
    count(t, status);
  }

  private closeBefore(day: number): void {
    const closing = [...this.days.keys()].filter((d) => d < day).sort((a, b) => a - b);
    for (const d of closing) {
      const t = this.days.get(d)!;
      this.days.delete(d);
      this.out.push({ day: new Date(d * DAY_MS).toISOString().slice(0, 10), counts: t.counts, lines: t.lines, unparsed: t.unparsed, late: this.late });
      this.late = 0;
    }
  }
}

// --- the loops ------------------------------------------------------------------------------------

export async function loopFiles(files: readonly string[]): Promise<DayReport[]> {
  const days = new BoundaryDays();
  for (const file of files) {
    await forEachLine(file, (text) => days.line(text));
    days.marker();
  }
  return days.end();
}

export async function loopDayWindow(files: readonly string[]): Promise<DayReport[]> {
  const days = new EventTimeDays();
  for (const file of files) await forEachLine(file, (text) => days.line(text));
  return days.end();
}

async function script(args: string[]): Promise<void> {
  const byDay = args[0] === '--window' && args[1] === 'day';
  const files = byDay ? args.slice(2) : args;
  const reports = await (byDay ? loopDayWindow(files) : loopFiles(files));
  process.stdout.write(reports.map((r) => `${JSON.stringify({ ...r, counts: Object.fromEntries(r.counts) })}\n`).join(''));
}

if (require.main === module) {
  script(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  });
}
