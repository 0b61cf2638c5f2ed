import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { AccessLogScanner, parseAccessLogFields, parseAccessLogLine } from 'rivulet/demos';
import { ANTLR_LOG_SAMPLE, ELASTIC_LOG_SAMPLE, WALLAROO_DAYS } from '../../support/data';

const REAL_LINES = [ANTLR_LOG_SAMPLE, ELASTIC_LOG_SAMPLE, ...WALLAROO_DAYS].flatMap((file) => readFileSync(file, 'utf8').split('\n'));

/** The fast path's answer must be the full parser's, field for field, reason for reason. */
function expectSameAsFullParser(line: string): void {
  const full = parseAccessLogLine(line);
  const fast = parseAccessLogFields(line);
  if (!full.ok) {
    expect(fast).toEqual({ ok: false, reason: full.reason });
    return;
  }
  expect(fast.ok).toBe(true);
  if (!fast.ok) return;
  const r = full.record;
  expect([fast.timestampMs, fast.utcOffsetMinutes, fast.localDay, fast.status, fast.method]).toEqual([r.timestampMs, r.utcOffsetMinutes, r.localDay, r.status, r.method]);
  expect(fast.record()).toEqual(r);
}

/** The scanner's answer for the line it scanned last must be the full parser's too. */
function expectScannerAsFullParser(scanner: AccessLogScanner, line: string, ok: boolean): void {
  const full = parseAccessLogLine(line);
  expect(ok).toBe(full.ok);
  if (!full.ok) {
    expect(scanner.reason).toBe(full.reason);
    return;
  }
  const r = full.record;
  expect([scanner.timestampMs, scanner.utcOffsetMinutes, scanner.localDay, scanner.status, scanner.method]).toEqual([r.timestampMs, r.utcOffsetMinutes, r.localDay, r.status, r.method]);
  expect(scanner.record()).toEqual(r);
}

// Every character JavaScript's \s matches (the full parser's \S excludes them all), and a few
// that look alike but are not white space.
const JS_WHITE_SPACE = [...'\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff'];
const NOT_WHITE_SPACE = ['\u0085', '\u180e', '\u200b', '\u0000', '\u007f', '\u00ad', '\u2060'];

// Pieces of real lines, usually well formed, sometimes with the characters and values that the
// full parser's regular expressions tell apart (\S and \s, \d, quotes, backslashes, line ends,
// impossible dates): about two fifths of the generated lines parse.
const oddChars = ['"', '\\', ' ', '\t', '\r', '\n', '\u00a0', '\u2028', '\ufeff', ']', '[', ':', '/', '-', '+', '0', '9', 'é', '😀', 'A', 'z'];
const odd = fc.oneof(fc.constantFrom(...oddChars), fc.constantFrom(...JS_WHITE_SPACE), fc.string({ maxLength: 3 }));
const usually = <T>(common: fc.Arbitrary<T>, rare: fc.Arbitrary<T>) => fc.oneof({ arbitrary: common, weight: 12 }, { arbitrary: rare, weight: 1 });
const digits = (n: number, max: number) => fc.integer({ min: 0, max }).map((v) => String(v).padStart(n, '0'));
const time = fc
  .tuple(
    usually(fc.integer({ min: 1, max: 31 }).map((d) => String(d).padStart(2, '0')), fc.constantFrom('00', '1', '32', '99')),
    usually(fc.constantFrom('Jan', 'Feb', 'Mar', 'Apr', 'Jun', 'Sep', 'Nov', 'Dec'), fc.constantFrom('jan', 'Foo', 'FEB')),
    usually(fc.constantFrom('1900', '2000', '2003', '2004', '2023', '2024', '2100'), fc.oneof(digits(4, 9999), fc.constantFrom('0000', '0004', '0099', '0100', '123'))),
    usually(digits(2, 23), fc.constantFrom('24', '99', '7')),
    usually(digits(2, 59), fc.constantFrom('60', '61')),
    usually(digits(2, 59), fc.constantFrom('60', '61', '99')),
    usually(fc.constantFrom('+', '-'), fc.constantFrom('*', ' ')),
    usually(digits(2, 14), digits(2, 99)),
    usually(fc.constantFrom('00', '30', '45'), digits(2, 99)),
  )
  .map(([d, mon, y, h, m, s, sign, oh, om]) => `${d}/${mon}/${y}:${h}:${m}:${s} ${sign}${oh}${om}`);
const text = fc.stringMatching(/^[ -!#-\[\]-~]{0,12}$/); // printable ASCII without quote and backslash
const quoted = usually(
  fc.oneof(fc.constantFrom('GET / HTTP/1.1', 'POST /a?b=1 HTTP/1.0', 'get / HTTP/1.1', '-', ''), text),
  fc.array(fc.oneof(fc.constantFrom('\\"', '\\\\', '\\\n', '\\'), odd, text), { maxLength: 4 }).map((p) => p.join('')),
);
const token = usually(fc.oneof(fc.constantFrom('-', '1.2.3.4', 'bob', 'a[b'), fc.stringMatching(/^[!-~]{1,8}$/)), fc.array(odd, { minLength: 1, maxLength: 3 }).map((p) => p.join('')));
const status = usually(fc.constantFrom('200', '304', '404', '500'), fc.oneof(fc.constantFrom('2000', '20', '2x0'), digits(3, 999)));
const size = usually(fc.oneof(fc.constant('-'), fc.integer({ min: 0, max: 1e9 }).map(String)), fc.constantFrom('-5', '', '1-', '--', '1 2'));
const tail = usually(
  fc.oneof(fc.constant(''), fc.tuple(quoted, quoted).map(([a, b]) => ` "${a}" "${b}"`)),
  fc.oneof(fc.tuple(quoted, quoted).map(([a, b]) => ` "${a}" "${b}`), fc.constantFrom(' ', '\r\n', ' \t', '\u00a0', ' x', '\n\n')),
);
const gap = usually(fc.constant(' '), fc.constantFrom('  ', '\t', ''));
const generated = fc
  .tuple(token, token, token, time, quoted, status, size, tail, gap)
  .map(([host, ident, user, t, request, code, bytes, rest, g]) => `${host}${g}${ident} ${user} [${t}] "${request}" ${code} ${bytes}${rest}`);

describe('parseAccessLogFields', () => {
  it('reads the time, status and method of a Common Log Format line, and the whole record on demand', () => {
    const line = '64.242.88.10 - - [07/Mar/2004:16:05:49 -0800] "GET /twiki/bin/edit/Main/Double HTTP/1.1" 401 12846';
    const fields = parseAccessLogFields(line);
    expect(fields).toMatchObject({ ok: true, timestampMs: Date.parse('2004-03-08T00:05:49Z'), utcOffsetMinutes: -480, localDay: '2004-03-07', status: 401, method: 'GET' });
    expect(fields.ok && fields.record()).toMatchObject({ host: '64.242.88.10', path: '/twiki/bin/edit/Main/Double', bytes: 12846, referer: undefined });
  });

  it('agrees with the full parser on every line of the real logs in the repository', () => {
    expect(REAL_LINES.length).toBeGreaterThan(1500);
    for (const line of REAL_LINES) expectSameAsFullParser(line);
    // The elastic sample's truncated line is rejected with the full parser's reason.
    const truncated = REAL_LINES.filter((l) => !parseAccessLogFields(l).ok && l !== '');
    expect(truncated).toHaveLength(1);
  });

  it.each([
    ['a leap day', 'h - - [29/Feb/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['no leap day in 1900', 'h - - [29/Feb/1900:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['a leap day in 2000', 'h - - [29/Feb/2000:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['31 April', 'h - - [31/Apr/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['day 00', 'h - - [00/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['a two-digit year, which Date.UTC reads as 19xx', 'h - - [29/Feb/0004:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['29 February 0000, which Date.UTC reads as 1900 (no leap day)', 'h - - [29/Feb/0000:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['year 0100', 'h - - [01/Jan/0100:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['a leap second', 'h - - [30/Jun/2015:23:59:60 +0000] "GET / HTTP/1.1" 200 1'],
    ['a leap second at the end of a year', 'h - - [31/Dec/2016:23:59:60 +0000] "GET / HTTP/1.1" 200 1'],
    ['hour 24', 'h - - [01/Jan/2024:24:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['offset minutes above 59', 'h - - [01/Jan/2024:10:00:00 +0199] "GET / HTTP/1.1" 200 1'],
    ['a lower-case month', 'h - - [01/jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['escaped quotes in the request', 'h - - [01/Jan/2024:10:00:00 +0000] "GET /a\\"b HTTP/1.1" 200 1'],
    ['an escaped backslash before the closing quote', 'h - - [01/Jan/2024:10:00:00 +0000] "GET /a\\\\" 200 1'],
    ['an escaped line end', 'h - - [01/Jan/2024:10:00:00 +0000] "GET /a\\\n" 200 1'],
    ['escaped quotes in the user agent', '1.2.3.4 - bob [02/Sep/2003:00:00:09 -0700] "HEAD / HTTP/1.0" 304 - "http://x/" "Mozilla/4.0 (a \\"b\\")"\r\n'],
    ['a no-break space in the host', 'h\u00a0x - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['a non-ASCII user', 'h - jörg [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['a tab between fields', 'h\t- - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['trailing spaces and CRLF', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 \t\r\n'],
    ['a trailing no-break space', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1\u00a0'],
    ['trailing junk', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 x'],
    ['a truncated user agent', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "ref" "agent'],
    ['a size of -5', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 -5'],
    ['a four-digit status', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 2000 1'],
    ['a two-digit status', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 20 1'],
    ['no size at the end', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 '],
    ['no size before the referer', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200  "ref" "agent"'],
    ['a size of 1-', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1- "ref" "agent"'],
    ['a referer right after the size', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1"ref" "agent"'],
    ['a lone quote after the size', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "'],
    ['a lone quote after a dash size', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 - "'],
    ['a referer that ends the line', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "ref"'],
    ['a referer and the opening quote of a user agent that ends the line', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "ref" "'],
    ['an unquoted referer', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 ref" "agent"'],
    ['no space between the referer and the user agent', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "ref"x"agent"'],
    ['an unquoted user agent', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "ref" agent"'],
    ['junk after the user agent', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "ref" "agent" x'],
    ['junk right after the user agent', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "ref" "agent"x'],
    ['a no-break space and CRLF after the user agent', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "ref" "agent"\u00a0\r\n'],
    ['a line separator after the size', 'h - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1\u2028'],
    ['a request that is not METHOD PATH PROTOCOL', 'h - - [01/Jan/2024:10:00:00 +0000] "-" 408 -'],
    ['a lower-case method', 'h - - [01/Jan/2024:10:00:00 +0000] "get / HTTP/1.1" 200 1'],
    ['a bracket inside the host', 'a[b - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['two timestamps', 'h - - [x] [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'],
    ['an empty line', ''],
  ])('gives the full parser\'s answer for %s', (_what, line) => {
    expectSameAsFullParser(line);
  });

  it('agrees with the full parser on generated lines with the characters and dates that matter', () => {
    fc.assert(fc.property(generated, (line) => expectSameAsFullParser(line)), { numRuns: 3000 });
  });

  it('agrees with the full parser where white space, or what looks like it, sits in any field or at the end', () => {
    expect(JS_WHITE_SPACE.every((c) => /\s/.test(c)) && NOT_WHITE_SPACE.every((c) => !/\s/.test(c))).toBe(true);
    const real = REAL_LINES.filter((l) => l !== '');
    const spaced = fc
      .tuple(fc.constantFrom(...real), fc.nat(), fc.nat({ max: 3 }), fc.constantFrom(...JS_WHITE_SPACE, ...NOT_WHITE_SPACE), fc.boolean())
      .map(([line, where, region, c, replace]) => {
        // Region 0-2: inside host, ident or user, or over the space after it; 3: the line's last 12 characters.
        const starts = [0];
        for (let i = 0; i < line.length && starts.length < 4; i++) if (line[i] === ' ') starts.push(i + 1);
        const at = region < 3 ? starts[region] + (where % (starts[region + 1] - starts[region])) : line.length - (where % 12);
        return line.slice(0, at) + c + line.slice(replace ? at + 1 : at);
      });
    fc.assert(fc.property(spaced, (line) => expectSameAsFullParser(line)), { numRuns: 3000 });
  });

  it('agrees with the full parser on real lines with a character inserted, removed or replaced', () => {
    const real = REAL_LINES.filter((l) => l !== '');
    const edited = fc
      .tuple(fc.integer({ min: 0, max: real.length - 1 }), fc.nat(), fc.constantFrom('insert', 'remove', 'replace'), fc.constantFrom(...oddChars))
      .map(([which, where, how, c]) => {
        const line = real[which];
        const at = where % (line.length + 1);
        if (how === 'insert') return line.slice(0, at) + c + line.slice(at);
        return line.slice(0, at) + (how === 'replace' ? c : '') + line.slice(at + 1);
      });
    fc.assert(fc.property(edited, (line) => expectSameAsFullParser(line)), { numRuns: 3000 });
  });
});

describe('AccessLogScanner', () => {
  it('gives, line after line, the full parser\'s answer for each, across dates, failures and the lines of its fallback', () => {
    const lines = [
      'h - - [29/Feb/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1',
      'h - - [29/Feb/2024:10:00:01 -0130] "POST /x HTTP/1.0" 404 -',
      'h - - [29/Feb/2023:10:00:00 +0000] "GET / HTTP/1.1" 200 1', // no such date, after a cached one
      'h - - [29/Feb/2024:23:59:60 +0000] "GET / HTTP/1.1" 200 1', // a leap second: the full parser's
      'h - - [29/Feb/2024:10:00:02 +0000] "GET /a\\"b HTTP/1.1" 200 1', // escaped quote: the full parser's
      'h - - [01/Mar/2024:00:00:00 +0100] "-" 408 - "ref" "agent"',
      // Two dates, then two offsets, interleaved line by line.
      'h - - [29/Feb/2024:23:59:59 +0000] "GET / HTTP/1.1" 200 1',
      'h - - [01/Mar/2024:00:00:01 +0100] "GET / HTTP/1.1" 301 2',
      'h - - [29/Feb/2024:23:59:58 +0000] "GET / HTTP/1.1" 200 3',
      'h - - [01/Mar/2024:00:00:02 +0100] "GET / HTTP/1.1" 302 4',
      'h - - [01/Mar/2024:00:00:03 -0100] "GET / HTTP/1.1" 303 5',
      'h - - [01/Mar/2024:00:00:04 +0100] "GET / HTTP/1.1" 304 6',
      'h - - [01/Mar/2024:00:00:05 -0100] "GET / HTTP/1.1" 305 7',
      'h - - [01/Mar/2024:00:00:00 +0100] "GET / HTTP/1.1" 200 1 "ref" "agent',
      '',
      ...REAL_LINES,
    ];
    const scanner = new AccessLogScanner();
    for (const line of lines) expectScannerAsFullParser(scanner, line, scanner.scan(line));
  });

  it('keeps the fields it hands out apart from the next line it scans', () => {
    const scanner = new AccessLogScanner();
    expect(scanner.scan('64.242.88.10 - - [07/Mar/2004:16:05:49 -0800] "GET /twiki HTTP/1.1" 401 12846')).toBe(true);
    const first = scanner.fields();
    expect(scanner.scan('h - bob [08/Mar/2004:01:02:03 +0000] "POST / HTTP/1.0" 200 -')).toBe(true);
    expect(first).toMatchObject({ ok: true, timestampMs: Date.parse('2004-03-08T00:05:49Z'), utcOffsetMinutes: -480, localDay: '2004-03-07', status: 401, method: 'GET' });
    expect(first.record()).toMatchObject({ host: '64.242.88.10', path: '/twiki', bytes: 12846 });
    expect([scanner.localDay, scanner.status, scanner.method, scanner.record().user]).toEqual(['2004-03-08', 200, 'POST', 'bob']);
  });

  it('agrees with the full parser on a run of generated lines read by one scanner', () => {
    const scanner = new AccessLogScanner();
    fc.assert(
      fc.property(fc.array(generated, { minLength: 1, maxLength: 20 }), (run) => {
        for (const line of run) expectScannerAsFullParser(scanner, line, scanner.scan(line));
      }),
      { numRuns: 300 },
    );
  });
});
