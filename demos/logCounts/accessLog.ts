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
  /** The calendar day in the line's own offset (`2004-03-07`); lines of one day share one string. */
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
 * with one scan of the line, no regular expression and no `Date`: what a pipeline that counts by
 * day and status pays per line. Every line it does not recognise at once (escaped quotes,
 * characters outside printable ASCII in the first fields, a year before 100, a leap second, any
 * malformed line) goes to the full parser, so the answer, failure reasons included, is always the
 * full parser's. Never throws.
 *
 * ```ts
 * const f = parseAccessLogFields('h - - [07/Mar/2004:16:05:49 -0800] "GET / HTTP/1.1" 401 12846');
 * f.ok && [f.localDay, f.status, f.timestampMs] // ['2004-03-07', 401, Date.parse('2004-03-08T00:05:49Z')]
 * ```
 */
export function parseAccessLogFields(line: string): AccessLogFieldsParse {
  const fields = scanFields(line);
  if (fields !== undefined) return fields;
  const full = parseAccessLogLine(line);
  return full.ok ? fullFields(full.record) : full;
}

class ScannedFields implements AccessLogFields {
  readonly ok = true as const;
  private full: AccessLogRecord | undefined;
  private requestMethod: string | undefined | null = null;

  constructor(
    private readonly line: string,
    private readonly requestStart: number,
    private readonly requestEnd: number,
    readonly timestampMs: number,
    readonly utcOffsetMinutes: number,
    readonly localDay: string,
    readonly status: number,
  ) {}

  get method(): string | undefined {
    if (this.requestMethod === null) this.requestMethod = REQUEST.exec(this.line.slice(this.requestStart, this.requestEnd))?.[1];
    return this.requestMethod;
  }

  record(): AccessLogRecord {
    if (this.full === undefined) {
      const parsed = parseAccessLogLine(this.line);
      if (!parsed.ok) throw new Error(`parseAccessLogFields accepted a line the full parser rejects: ${parsed.reason}`);
      this.full = parsed.record;
    }
    return this.full;
  }
}

function fullFields(r: AccessLogRecord): AccessLogFields {
  return {
    ok: true, timestampMs: r.timestampMs, utcOffsetMinutes: r.utcOffsetMinutes, localDay: r.localDay, status: r.status, method: r.method, record: () => r,
  };
}

const SPACE = 32;
const QUOTE = 34;
const DASH = 45;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const DIGIT_0 = 48;
const MINUTE_MS = 60_000;

const isDigit = (c: number): boolean => c >= DIGIT_0 && c <= DIGIT_0 + 9;
const digits2 = (line: string, i: number): number => {
  const a = line.charCodeAt(i) - DIGIT_0;
  const b = line.charCodeAt(i + 1) - DIGIT_0;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
};

/**
 * The last date seen (`07/Mar/2004`) with its epoch day and ISO form: a log holds a few distinct
 * dates over millions of lines, so each is checked and formatted once, not once per line.
 */
let lastDate = '';
let lastDateMs = 0;
let lastLocalDay = '';

/**
 * The LINE regular expression and TIME, by hand, for the shapes real logs have; undefined wherever
 * the line is anything else, including every line the full parser rejects.
 */
function scanFields(line: string): ScannedFields | undefined {
  const n = line.length;
  let i = 0;
  // host, ident and user: non-empty, printable ASCII without spaces, one space after each.
  for (let field = 0; field < 3; field++) {
    const start = i;
    let c = line.charCodeAt(i);
    while (c > SPACE && c < 127) c = line.charCodeAt(++i);
    if (i === start || c !== SPACE) return undefined;
    i++;
  }
  // [dd/Mon/yyyy:HH:mm:ss +hhmm] "
  if (line.charCodeAt(i) !== OPEN_BRACKET || line.charCodeAt(i + 27) !== CLOSE_BRACKET || line.charCodeAt(i + 28) !== SPACE || line.charCodeAt(i + 29) !== QUOTE) return undefined;
  const dateMs = dateAt(line, i + 1);
  if (dateMs === undefined) return undefined;
  const localDay = lastLocalDay;
  const hour = digits2(line, i + 13);
  const minute = digits2(line, i + 16);
  const second = digits2(line, i + 19);
  const offsetHours = digits2(line, i + 23);
  const offsetMinutes = digits2(line, i + 25);
  const sign = line.charCodeAt(i + 22);
  if (
    line.charCodeAt(i + 12) !== 58 || line.charCodeAt(i + 15) !== 58 || line.charCodeAt(i + 18) !== 58 || line.charCodeAt(i + 21) !== SPACE ||
    (sign !== 43 && sign !== DASH) || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || offsetHours < 0 || offsetMinutes < 0
  ) {
    return undefined; // a leap second may roll the date over: the full parser decides
  }
  // "request": up to the next quote, which must not be escaped. Backslashes are rare: one search
  // from here on says whether any quoted field can hold one.
  const requestStart = i + 30;
  const requestEnd = line.indexOf('"', requestStart);
  const backslash = line.indexOf('\\', requestStart);
  const escapes = backslash >= 0;
  if (requestEnd < 0 || (escapes && backslash < requestEnd)) return undefined;
  // " status size
  i = requestEnd + 1;
  const s0 = line.charCodeAt(i + 1) - DIGIT_0;
  const s1 = line.charCodeAt(i + 2) - DIGIT_0;
  const s2 = line.charCodeAt(i + 3) - DIGIT_0;
  if (line.charCodeAt(i) !== SPACE || !(s0 >= 0 && s0 <= 9 && s1 >= 0 && s1 <= 9 && s2 >= 0 && s2 <= 9) || line.charCodeAt(i + 4) !== SPACE) return undefined;
  i += 5;
  if (line.charCodeAt(i) === DASH) i++;
  else {
    const start = i;
    while (isDigit(line.charCodeAt(i))) i++;
    if (i === start) return undefined;
  }
  // Optionally "referer" "agent", then nothing but whitespace.
  if (line.charCodeAt(i) === SPACE && line.charCodeAt(i + 1) === QUOTE) {
    const refererEnd = line.indexOf('"', i + 2);
    if (refererEnd < 0 || (escapes && hasBackslash(line, i + 2, refererEnd)) || line.charCodeAt(refererEnd + 1) !== SPACE || line.charCodeAt(refererEnd + 2) !== QUOTE) return undefined;
    const agentEnd = line.indexOf('"', refererEnd + 3);
    if (agentEnd < 0 || (escapes && hasBackslash(line, refererEnd + 3, agentEnd))) return undefined;
    i = agentEnd + 1;
  }
  for (; i < n; i++) {
    const c = line.charCodeAt(i);
    if (c !== SPACE && c !== 9 && c !== 10 && c !== 13) return undefined;
  }
  const offset = (sign === DASH ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  const timestampMs = dateMs + ((hour * 60 + minute) * 60 + second) * 1000 - offset * MINUTE_MS;
  return new ScannedFields(line, requestStart, requestEnd, timestampMs, offset, localDay, s0 * 100 + s1 * 10 + s2);
}

function hasBackslash(line: string, from: number, to: number): boolean {
  const at = line.indexOf('\\', from);
  return at >= 0 && at < to;
}

/** Epoch ms of local midnight of the date `dd/Mon/yyyy` at `at`, or undefined; sets lastLocalDay. */
function dateAt(line: string, at: number): number | undefined {
  // A short slice is a copy and one comparison, quicker here than startsWith at an offset.
  if (line.slice(at, at + 11) === lastDate) return lastDateMs;
  const day = digits2(line, at);
  const month = MONTHS.get(line.slice(at + 3, at + 6));
  const century = digits2(line, at + 7);
  const yy = digits2(line, at + 9);
  // Two-digit years mean 19xx to Date.UTC (and so to the full parser): left to it.
  if (line.charCodeAt(at + 2) !== 47 || line.charCodeAt(at + 6) !== 47 || month === undefined || century < 1 || yy < 0 || day < 1) return undefined;
  const year = century * 100 + yy;
  if (day > daysInMonth(year, month)) return undefined;
  lastDate = line.slice(at, at + 11);
  lastDateMs = Date.UTC(year, month, day);
  lastLocalDay = `${line.slice(at + 7, at + 11)}-${String(month + 1).padStart(2, '0')}-${line.slice(at, at + 2)}`;
  return lastDateMs;
}

function daysInMonth(year: number, month: number): number {
  if (month === 1) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 3 || month === 5 || month === 8 || month === 10 ? 30 : 31;
}
