/**
 * Apache access logs in the Common and Combined Log Formats, parsed into typed records.
 *
 * ```text
 * host ident user [07/Mar/2004:16:05:49 -0800] "GET /path HTTP/1.1" 401 12846 "referer" "agent"
 * ```
 *
 * The timestamp has one fixed layout, so it is read field by field rather than through a
 * general date parser: this runs once per line on multi-million-line replays, where a
 * format-string parser costs several times more than the whole rest of the line.
 *
 * Two entry points: {@link parseAccessLogLine} builds the whole record; {@link parseAccessLogFields}
 * reads only what a counting pipeline needs (time, status, method) in one pass, and gives the same
 * answer for every line.
 */
export interface AccessLogRecord {
  readonly host: string;
  readonly ident: string;
  readonly user: string;
  /** Event time in epoch milliseconds (UTC). */
  readonly timestampMs: number;
  /** The line's own UTC offset in minutes east of UTC (`-0800` is -480). */
  readonly utcOffsetMinutes: number;
  /** The calendar day in the line's own offset, as an ISO date (`2004-03-07`). */
  readonly localDay: string;
  /** The request line as logged; may be `-` or junk for bad requests. */
  readonly request: string;
  /** Method, path and protocol when the request line has that shape, else undefined. */
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly protocol: string | undefined;
  readonly status: number;
  /** Response size in bytes; null when logged as `-`. */
  readonly bytes: number | null;
  /** Combined Log Format only. */
  readonly referer: string | undefined;
  readonly userAgent: string | undefined;
}

export type AccessLogParse =
  | { readonly ok: true; readonly record: AccessLogRecord }
  | { readonly ok: false; readonly reason: string };

// host ident user [time] "request" status bytes ["referer" "agent"]. The request may contain
// escaped quotes; status is three digits; the combined tail is optional but must be complete.
const LINE =
  /^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?\s*$/;
const TIME = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;
const REQUEST = /^([A-Z]+) (\S+) (HTTP\/\d(?:\.\d)?)$/;
const MONTHS = new Map(
  ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((m, i) => [m, i]),
);

/** Parses one line (a trailing `\r\n` or `\n` is ignored); never throws. */
export function parseAccessLogLine(line: string): AccessLogParse {
  const m = LINE.exec(line);
  if (m === null) return { ok: false, reason: describeFailure(line) };
  const time = parseLogTime(m[4]);
  if (typeof time === 'string') return { ok: false, reason: time };
  const request = REQUEST.exec(m[5]);
  return {
    ok: true,
    record: {
      host: m[1],
      ident: m[2],
      user: m[3],
      ...time,
      request: m[5],
      method: request?.[1],
      path: request?.[2],
      protocol: request?.[3],
      status: Number(m[6]),
      bytes: m[7] === '-' ? null : Number(m[7]),
      referer: m[8],
      userAgent: m[9],
    },
  };
}

/** Reads `07/Mar/2004:16:05:49 -0800`; returns the reason as a string when it is not valid. */
export function parseLogTime(
  text: string,
): { timestampMs: number; utcOffsetMinutes: number; localDay: string } | string {
  const t = TIME.exec(text);
  const month = t === null ? undefined : MONTHS.get(t[2]);
  if (t === null || month === undefined) return `timestamp "${text}" is not dd/Mon/yyyy:HH:mm:ss ±hhmm`;
  const [day, year, hour, minute, second] = [t[1], t[3], t[4], t[5], t[6]].map(Number);
  const offset = (t[7] === '-' ? -1 : 1) * (Number(t[8]) * 60 + Number(t[9]));
  const localMs = Date.UTC(year, month, day, hour, minute, second);
  const check = new Date(localMs);
  if (check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 60) {
    return `timestamp "${text}" is not a real date and time`;
  }
  const localDay = `${t[3]}-${String(month + 1).padStart(2, '0')}-${t[1]}`;
  return { timestampMs: localMs - offset * 60_000, utcOffsetMinutes: offset, localDay };
}

function describeFailure(line: string): string {
  if (line.trim() === '') return 'empty line';
  if (!/\[[^\]]+\]/.test(line)) return 'no [timestamp] field';
  if (!/"[^"]*"/.test(line)) return 'no quoted request field';
  if (!/" \d{3} (\d+|-)/.test(line)) return 'no status code and size after the request';
  return 'line does not match the Common or Combined Log Format (truncated referer or user-agent?)';
}

// The original application's regular expressions, kept exactly (including the unescaped `.`
// between the HTTP version digits), so `--compat wallaroo` counts what it counted.
const WALLAROO_CODE = /"GET [^\s]* HTTP\/[12].[01]" ([0-9]+)/;

/**
 * The status code as Wallaroo's log example saw it: only `GET <path> HTTP/1.x` requests have one;
 * every other line (other methods, junk) gives null, which the original counted under `"null"`.
 */
export function wallarooStatusOf(line: string): string | null {
  const m = WALLAROO_CODE.exec(line);
  return m === null ? null : m[1];
}

/**
 * The fields a counting pipeline reads, from a line that {@link parseAccessLogLine} accepts, with
 * the same values it would give; the rest of the record is parsed only when asked for.
 */
export interface AccessLogFields {
  readonly ok: true;
  /** Event time in epoch milliseconds (UTC). */
  readonly timestampMs: number;
  /** The line's own UTC offset in minutes east of UTC. */
  readonly utcOffsetMinutes: number;
  /** The calendar day in the line's own offset (`2004-03-07`); lines of one day usually share one string. */
  readonly localDay: string;
  readonly status: number;
  /** The request's method when the request line is `METHOD PATH PROTOCOL`, else undefined. */
  readonly method: string | undefined;
  /** The whole record, as {@link parseAccessLogLine} gives it. */
  record(): AccessLogRecord;
}

export type AccessLogFieldsParse = AccessLogFields | { readonly ok: false; readonly reason: string };

/**
 * Like {@link parseAccessLogLine}, but reads only the time, the status and (on demand) the method,
 * without a regular expression over the whole line and without `Date`: what a pipeline that
 * counts by day and status pays per line. Gives the full parser's answer for every line, failure
 * reasons included (see {@link AccessLogScanner}). Never throws.
 *
 * ```ts
 * const f = parseAccessLogFields('h - - [07/Mar/2004:16:05:49 -0800] "GET / HTTP/1.1" 401 12846');
 * f.ok && [f.localDay, f.status, f.timestampMs] // ['2004-03-07', 401, Date.parse('2004-03-08T00:05:49Z')]
 * ```
 */
export function parseAccessLogFields(line: string): AccessLogFieldsParse {
  const s = shared;
  return s.scan(line) ? s.fields() : { ok: false, reason: s.reason };
}

/**
 * Reads lines one after another into one set of fields, those of the line scanned last: what
 * {@link parseAccessLogFields} gives, without an object per line, for a pipeline that takes what
 * it needs from each line before reading the next. The fields, `method` and `record()` are the
 * full parser's for that line until the next `scan`.
 *
 * The lines real logs hold are read with two short sticky regular expressions and four `indexOf`
 * jumps, visiting few characters one by one: in V8 a regular expression costs some twenty
 * nanoseconds a call and under a nanosecond a character, `indexOf` of one character is a memchr
 * behind a call of about half that, and a `charCodeAt` costs a few nanoseconds. The first
 * expression reads `host ident user [timestamp] "` (its `\S` is JavaScript's, so a tab or a
 * no-break space inside a field fails as it does in the full parser), then come a jump to the
 * quote that ends the request, the second expression over the status and size, and jumps over
 * the referer and agent. The time of day is read only when asked for. Every other line (a
 * backslash anywhere after the timestamp, a year before 100, a leap second, anything malformed)
 * goes to the full parser, so the answer is always the full parser's.
 *
 * @example
 * ```ts
 * const scanner = new AccessLogScanner();
 * for (const line of lines) if (scanner.scan(line)) count(scanner.localDay, scanner.status);
 * ```
 */
export class AccessLogScanner {
  /** The line scanned last. */
  line = '';
  /** Why the last line could not be parsed (meaningful only when `scan` returned false). */
  reason = '';
  /** The calendar day in the line's own offset; lines of one day usually share one string. */
  localDay = '';
  status = 0;
  /** Where the timestamp starts, or -1 once the time is read (or came from the full parser). */
  private timeAt = -1;
  private time = NaN;
  private offset = 0;
  private requestStart = 0;
  private requestEnd = 0;
  private full: AccessLogRecord | undefined = undefined;
  private methodRead = false;
  private requestMethod: string | undefined = undefined;
  // A log holds a few dates and offsets over millions of lines: each pair is checked and
  // formatted once, and the last line's pair is tried first, with its own HEAD, then the one before.
  private known: KnownDate | undefined = undefined;
  private other: KnownDate | undefined = undefined;
  private readonly dates = new Map<string, KnownDate>();

  /** Reads `line`; true when it parses (the fields are then its own), false with `reason`. */
  scan(line: string): boolean {
    this.line = line;
    this.full = undefined;
    this.methodRead = false;
    if (this.scanCommon(line)) return true;
    this.timeAt = -1;
    const parsed = parseAccessLogLine(line);
    if (!parsed.ok) {
      this.reason = parsed.reason;
      return false;
    }
    const r = (this.full = parsed.record);
    this.time = r.timestampMs;
    this.offset = r.utcOffsetMinutes;
    this.localDay = r.localDay;
    this.status = r.status;
    this.methodRead = true;
    this.requestMethod = r.method;
    return true;
  }

  /** Event time in epoch milliseconds (UTC). */
  get timestampMs(): number {
    if (this.timeAt >= 0) this.readTime();
    return this.time;
  }

  /** The line's own UTC offset in minutes east of UTC. */
  get utcOffsetMinutes(): number {
    return this.offset;
  }

  /** The request's method when the request line is `METHOD PATH PROTOCOL`, else undefined. */
  get method(): string | undefined {
    if (!this.methodRead) {
      this.requestMethod = REQUEST.exec(this.line.slice(this.requestStart, this.requestEnd))?.[1];
      this.methodRead = true;
    }
    return this.requestMethod;
  }

  /** The last line's fields as an object of their own, which the next `scan` leaves alone. */
  fields(): AccessLogFields {
    const { line, requestStart, requestEnd, full, timestampMs, utcOffsetMinutes, localDay, status } = this;
    return new ScannedFields(line, requestStart, requestEnd, full, timestampMs, utcOffsetMinutes, localDay, status);
  }

  /** The whole record of the last line, which `scan` accepted. */
  record(): AccessLogRecord {
    return (this.full ??= fullRecord(this.line, 'AccessLogScanner'));
  }

  /**
   * LINE and TIME for the shapes real logs have, setting the fields (the time only as where to
   * read it: a pipeline that counts by day never needs it); false wherever the line is anything
   * else, including every line the full parser rejects. Why each step is exact:
   * - HEAD is LINE's start with TIME's layout inside the brackets; `\S+` cannot cross the space
   *   after it, so it has one match, and the timestamp holds no `]` to end LINE's `[^\]]+` early.
   *   Its hours, minutes and seconds are in range, so only the date is left to check.
   * - Without a backslash, `(?:[^"\\]|\\.)*` is `[^"]*`: it ends at the next quote, and so do the
   *   referer and agent. Past the timestamp LINE allows a backslash only inside those three
   *   fields, so a line with one anywhere there is left to the full parser.
   * - STATUS is LINE's own text from the request's closing quote: the status, the size (`\d+`
   *   takes every digit in both, as white space or the end follows it), then either the
   *   referer's opening quote with something after it or LINE's `\s*$`. A quote is not white
   *   space, so LINE takes the same of the two; END is LINE's `\s*$` after the agent.
   */
  private scanCommon(line: string): boolean {
    const last = this.known;
    let requestStart: number;
    if (last !== undefined && last.head.test(line)) {
      requestStart = last.head.lastIndex;
      last.head.lastIndex = 0;
    } else if ((requestStart = this.headOfNewDate(line)) < 0) return false;
    const known = this.known!;
    const requestEnd = line.indexOf('"', requestStart);
    if (requestEnd < 0 || line.indexOf('\\', requestStart) >= 0) return false;
    // One regular expression over the dozen characters of status and size costs less than
    // reading them one by one.
    STATUS.lastIndex = requestEnd;
    if (!STATUS.test(line)) return false;
    const refererStart = STATUS.lastIndex;
    if (refererStart < line.length) {
      const refererEnd = line.indexOf('"', refererStart);
      // ` "` and an agent must follow. Testing for the room first keeps these reads inside the
      // line: one read past a string's end leaves that read slower in V8's optimised code.
      if (refererEnd < 0 || refererEnd + 3 >= line.length) return false;
      if (line.charCodeAt(refererEnd + 1) !== SPACE || line.charCodeAt(refererEnd + 2) !== QUOTE) return false;
      const agentEnd = line.indexOf('"', refererEnd + 3);
      if (agentEnd < 0) return false;
      if (agentEnd + 1 < line.length) {
        END.lastIndex = agentEnd + 1;
        if (!END.test(line)) return false;
      }
    }
    this.timeAt = requestStart - 29;
    this.offset = known.offsetMinutes;
    this.localDay = known.localDay;
    this.status = line.charCodeAt(requestEnd + 2) * 100 + line.charCodeAt(requestEnd + 3) * 10 + line.charCodeAt(requestEnd + 4) - DIGIT_0 * 111;
    this.requestStart = requestStart;
    this.requestEnd = requestEnd;
    return true;
  }

  /**
   * Where the request starts in a line whose date or offset is not the last line's, with `known`
   * set to them; -1 when the line is not for scanCommon.
   */
  private headOfNewDate(line: string): number {
    const other = this.other;
    if (other !== undefined && other.head.test(line)) {
      // Lines of two dates or offsets interleaved (around midnight, or from servers in two zones).
      this.other = this.known;
      this.known = other;
      const at = other.head.lastIndex;
      other.head.lastIndex = 0;
      return at;
    }
    HEAD.lastIndex = 0;
    if (!HEAD.test(line)) return -1;
    const requestStart = HEAD.lastIndex;
    const found = this.dateOf(line.slice(requestStart - 29, requestStart - 18), line.slice(requestStart - 8, requestStart - 3));
    if (found === undefined) return -1;
    this.other = this.known;
    this.known = found;
    return requestStart;
  }

  /** The time of day of the line scanCommon accepted, whose date and offset are `known`'s. */
  private readTime(): void {
    const { line, timeAt: at } = this;
    const secondOfDay = (digitsAt(line, at + 12) * 60 + digitsAt(line, at + 15)) * 60 + digitsAt(line, at + 18);
    this.time = this.known!.startMs + secondOfDay * 1000;
    this.timeAt = -1;
  }

  /**
   * The date `dd/Mon/yyyy` with the offset `±hhmm` (digits where HEAD wants them), checked and
   * remembered; undefined when the full parser must decide.
   */
  private dateOf(date: string, offset: string): KnownDate | undefined {
    const key = `${date} ${offset}`;
    const seen = this.dates.get(key);
    if (seen !== undefined) return seen;
    const day = digitsAt(date, 0);
    const month = MONTHS.get(date.slice(3, 6));
    const year = digitsAt(date, 7) * 100 + digitsAt(date, 9);
    // Two-digit years mean 19xx to Date.UTC (and so to the full parser): left to it.
    if (month === undefined || year < 100 || day < 1 || day > daysInMonth(year, month)) return undefined;
    const size = digitsAt(offset, 1) * 60 + digitsAt(offset, 3);
    const offsetMinutes = offset.charCodeAt(0) === DASH ? -size : size;
    const known: KnownDate = {
      head: headFor(date, offset),
      startMs: Date.UTC(year, month, day) - offsetMinutes * MINUTE_MS,
      offsetMinutes,
      localDay: `${date.slice(7, 11)}-${String(month + 1).padStart(2, '0')}-${date.slice(0, 2)}`,
    };
    if (this.dates.size >= 64) this.dates.clear(); // bounded, whatever the input
    this.dates.set(key, known);
    return known;
  }
}

/** A date and UTC offset that HEAD found and the calendar accepts, with what they mean. */
interface KnownDate {
  /** HEAD with this date and offset in place of their patterns. */
  readonly head: RegExp;
  /** Epoch ms of local midnight of the date at the offset. */
  readonly startMs: number;
  readonly offsetMinutes: number;
  readonly localDay: string;
}

/** The fields of one line, kept apart from the scanner that read them. */
class ScannedFields implements AccessLogFields {
  readonly ok = true as const;
  private requestMethod: string | undefined | null = null;

  constructor(
    private readonly line: string,
    private readonly requestStart: number,
    private readonly requestEnd: number,
    private full: AccessLogRecord | undefined,
    readonly timestampMs: number,
    readonly utcOffsetMinutes: number,
    readonly localDay: string,
    readonly status: number,
  ) {}

  get method(): string | undefined {
    if (this.requestMethod === null) {
      this.requestMethod = this.full !== undefined ? this.full.method : REQUEST.exec(this.line.slice(this.requestStart, this.requestEnd))?.[1];
    }
    return this.requestMethod;
  }

  record(): AccessLogRecord {
    return (this.full ??= fullRecord(this.line, 'parseAccessLogFields'));
  }
}

// LINE's start up to the request, with TIME's layout (the time of day in range) between the brackets.
const TIME_OF_DAY = String.raw`(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d`;
const HEAD = new RegExp(String.raw`\S+ \S+ \S+ \[\d\d\/[A-Z][a-z]{2}\/\d{4}:${TIME_OF_DAY} [+-]\d{4}\] "`, 'y');
// LINE from the request's closing quote to where the referer starts, or to the end of a line
// without one; the quote before a referer must have something after it (` "` alone ends no line).
const STATUS = /" \d{3} (?:\d+|-)(?: "(?=[^])|\s*$)/y;
const END = /\s*$/y;
const SPACE = 32;
const QUOTE = 34;
const DASH = 45;
const DIGIT_0 = 48;
const MINUTE_MS = 60_000;

/** HEAD for lines of one date and offset: one regular expression checks the line's start and its date. */
function headFor(date: string, offset: string): RegExp {
  const literal = (text: string) => text.replace(/[^0-9A-Za-z]/g, (c) => `\\${c}`);
  return new RegExp(String.raw`\S+ \S+ \S+ \[${literal(date)}:${TIME_OF_DAY} ${literal(offset)}\] "`, 'y');
}

/** The two-digit number at `i`, where HEAD has already found two digits. */
const digitsAt = (text: string, i: number): number => text.charCodeAt(i) * 10 + text.charCodeAt(i + 1) - DIGIT_0 * 11;

/** The scanner behind {@link parseAccessLogFields}, whose date cache all its callers share. */
const shared = new AccessLogScanner();

/** The full parser's record of a line a scanner accepted: it accepts every such line too. */
function fullRecord(line: string, scanner: string): AccessLogRecord {
  const parsed = parseAccessLogLine(line);
  if (!parsed.ok) throw new Error(`${scanner} accepted a line the full parser rejects: ${parsed.reason}`);
  return parsed.record;
}

function daysInMonth(year: number, month: number): number {
  if (month === 1) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 3 || month === 5 || month === 8 || month === 10 ? 30 : 31;
}
