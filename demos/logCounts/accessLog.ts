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
