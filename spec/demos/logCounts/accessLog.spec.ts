import { readFileSync } from 'node:fs';
import { parseAccessLogLine, parseLogTime, wallarooStatusOf, type AccessLogRecord } from 'rivulet/demos';
import { ANTLR_LOG_SAMPLE, ELASTIC_LOG_SAMPLE, WALLAROO_DAYS } from '../../support/data';

function lines(file: string): string[] {
  const all = readFileSync(file, 'utf8').split('\n');
  if (all[all.length - 1] === '') all.pop();
  return all;
}

function statusCounts(records: AccessLogRecord[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const r of records) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  return counts;
}

function parsed(file: string): { records: AccessLogRecord[]; failures: number[] } {
  const records: AccessLogRecord[] = [];
  const failures: number[] = [];
  lines(file).forEach((line, i) => {
    const result = parseAccessLogLine(line);
    if (result.ok) records.push(result.record);
    else failures.push(i + 1);
  });
  return { records, failures };
}

describe('parseAccessLogLine', () => {
  it('reads a Common Log Format line', () => {
    const result = parseAccessLogLine(
      '64.242.88.10 - - [07/Mar/2004:16:05:49 -0800] "GET /twiki/bin/edit/Main/Double HTTP/1.1" 401 12846',
    );
    expect(result).toEqual({
      ok: true,
      record: expect.objectContaining({
        host: '64.242.88.10',
        timestampMs: Date.parse('2004-03-08T00:05:49Z'),
        utcOffsetMinutes: -480,
        localDay: '2004-03-07',
        method: 'GET',
        path: '/twiki/bin/edit/Main/Double',
        protocol: 'HTTP/1.1',
        status: 401,
        bytes: 12846,
        referer: undefined,
      }),
    });
  });

  it('reads a Combined Log Format line with a dash for the size, and a CRLF ending', () => {
    const result = parseAccessLogLine(
      '1.2.3.4 - bob [02/Sep/2003:00:00:09 -0700] "HEAD / HTTP/1.0" 304 - "http://x/" "Mozilla/4.0 (a \\"b\\")"\r\n',
    );
    expect(result.ok && result.record).toMatchObject({
      user: 'bob',
      method: 'HEAD',
      bytes: null,
      referer: 'http://x/',
      userAgent: 'Mozilla/4.0 (a \\"b\\")',
    });
  });

  it('keeps a request line that is not METHOD PATH PROTOCOL', () => {
    const result = parseAccessLogLine('h - - [07/Mar/2004:19:47:36 -0800] "-" 408 -');
    expect(result.ok && result.record).toMatchObject({ request: '-', method: undefined, status: 408 });
  });

  it.each([
    ['', 'empty line'],
    ['garbage without fields', 'no [timestamp] field'],
    ['h - - [07/Mar/2004:16:05:49 -0800] GET / 200 1', 'no quoted request field'],
    ['h - - [07/Mar/2004:16:05:49 -0800] "GET / HTTP/1.1"', 'no status code'],
    ['h - - [07/Mar/2004:16:05:49 -0800] "GET / HTTP/1.1" 200 1 "ref" "agent', 'truncated'],
    ['h - - [31/Feb/2004:16:05:49 -0800] "GET / HTTP/1.1" 200 1', 'not a real date'],
    ['h - - [07/Foo/2004:16:05:49 -0800] "GET / HTTP/1.1" 200 1', 'is not dd/Mon/yyyy'],
  ])('rejects %j with a reason', (line, reason) => {
    const result = parseAccessLogLine(line);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toContain(reason);
  });

  it('parses every line of a sample of the antlr.org log, with the status counts its SOURCE.md lists', () => {
    const { records, failures } = parsed(ANTLR_LOG_SAMPLE);
    expect(failures).toEqual([]);
    expect(records).toHaveLength(188);
    expect(statusCounts(records)).toEqual(new Map([[200, 143], [304, 37], [302, 7], [404, 1]]));
    expect(records.every((r) => r.userAgent !== undefined && r.referer !== undefined)).toBe(true);
  });

  it('parses a sample of the elastic log except its one truncated line (224 here, 8,899 in the origin)', () => {
    const { records, failures } = parsed(ELASTIC_LOG_SAMPLE);
    expect(failures).toEqual([224]);
    expect(lines(ELASTIC_LOG_SAMPLE)[223]).toMatch(/\+http:\/\/www\.google\.com\/bot\.html$/);
    const days = new Map<string, number>();
    for (const r of records) days.set(r.localDay, (days.get(r.localDay) ?? 0) + 1);
    // The sample's SOURCE.md lists 65 lines on 2015-05-20, one of which is the truncated line.
    expect(days).toEqual(new Map([['2015-05-17', 41], ['2015-05-18', 73], ['2015-05-19', 72], ['2015-05-20', 64]]));
    expect(statusCounts(records)).toEqual(new Map([[200, 229], [304, 13], [301, 4], [404, 3], [206, 1]]));
  });

  it('gives every line of a Wallaroo day file that file\'s calendar day', () => {
    for (const day of [1, 2, 3, 4, 5, 6]) {
      const { records, failures } = parsed(WALLAROO_DAYS[day - 1]);
      expect(failures).toEqual([]);
      expect(new Set(records.map((r) => r.localDay))).toEqual(new Set([`2004-03-${String(6 + day).padStart(2, '0')}`]));
    }
  });
});

describe('parseLogTime', () => {
  it('applies positive and negative offsets', () => {
    expect(parseLogTime('01/Jan/2020:00:30:00 +0130')).toEqual({
      timestampMs: Date.parse('2019-12-31T23:00:00Z'),
      utcOffsetMinutes: 90,
      localDay: '2020-01-01',
    });
    expect(parseLogTime('31/Dec/2019:23:00:00 -0100')).toMatchObject({ timestampMs: Date.parse('2020-01-01T00:00:00Z') });
  });
});

describe('wallarooStatusOf', () => {
  it('sees only GET requests over HTTP/1.x, as the original did', () => {
    expect(wallarooStatusOf('h - - [d] "GET /a HTTP/1.1" 200 5\n')).toBe('200');
    expect(wallarooStatusOf('h - - [d] "POST /a HTTP/1.1" 200 5\n')).toBeNull();
    expect(wallarooStatusOf('h - - [d] "HEAD /a HTTP/1.0" 200 5')).toBeNull();
    expect(wallarooStatusOf('h - - [d] "GET /a HTTP/3.0" 200 5')).toBeNull();
  });

  it('counts the lines without a GET status that the Wallaroo data set lists (4, 1, 5, 8, 3, 0)', () => {
    const nulls = [1, 2, 3, 4, 5, 6].map(
      (day) => lines(WALLAROO_DAYS[day - 1]).filter((l) => wallarooStatusOf(l) === null).length,
    );
    expect(nulls).toEqual([4, 1, 5, 8, 3, 0]);
  });
});
