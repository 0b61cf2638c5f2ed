import { readFileSync } from 'node:fs';
import { from, lastValueFrom, Subject, toArray } from 'rxjs';
import { type DayReport, END_OF_DAY, type LogInput, logCounts } from 'rivulet/demos';
import { StateScope, withStateScope } from '../../../lib/state/scope';
import { ELASTIC_LOG_SAMPLE, WALLAROO_DAYS } from '../../support/data';

const lineOf = (text: string, lineNumber: number): LogInput => ({ text, source: 'test.log', lineNumber });
const STATUS = /" (\d{3}) /;

/** The status codes of the lines of each day, in the order each first appears. */
function firstSeen(lines: readonly string[]): string[] {
  const order: string[] = [];
  for (const line of lines) {
    const code = STATUS.exec(line)?.[1];
    if (code !== undefined && !order.includes(code)) order.push(code);
  }
  return order;
}

describe('logCounts counts', () => {
  it('lists the status codes of a window in the order they first appear, in both window modes', async () => {
    const lines = readFileSync(WALLAROO_DAYS[1], 'utf8').split('\n').filter((l) => l !== '');
    const input: LogInput[] = [...lines.map(lineOf), END_OF_DAY];
    const [boundary] = await lastValueFrom(from(input).pipe(logCounts(), toArray()));
    const [byDay] = await lastValueFrom(from(input).pipe(logCounts({ eventTime: { allowedLatenessMs: 0 } }), toArray()));
    const expected = firstSeen(lines);
    expect(expected.length).toBeGreaterThan(3);
    expect([...(boundary as DayReport).counts.keys()]).toEqual(expected);
    expect([...(byDay as DayReport).counts.keys()]).toEqual(expected);
  });

  it('adds a window restored from a checkpoint that holds its counts in a Map alone to what comes after', async () => {
    // The elastic sample's lines of its first day, after a checkpoint of three of them.
    const lines = readFileSync(ELASTIC_LOG_SAMPLE, 'utf8').split('\n').filter((l) => l.includes('17/May/2015'));
    expect(lines.length).toBeGreaterThan(30);
    const day = '2015-05-17';
    const saved = new Map([
      [
        'day',
        {
          kind: 'boundaryWindow',
          version: 1,
          fingerprint: 'emitEmpty=true onComplete=emit',
          state: { acc: { counts: new Map([['200', 2], ['418', 1]]), lines: 3, unparsed: 0, day }, count: 3, previous: { day, countAs: '200', unparsed: false } },
        },
      ],
    ]);
    const input = new Subject<LogInput>();
    const reports: DayReport[] = [];
    withStateScope(new StateScope(saved), () => input.pipe(logCounts()).subscribe((r) => reports.push(r as DayReport)));
    lines.forEach((l, i) => input.next(lineOf(l, i + 1)));
    input.next(END_OF_DAY);
    const fresh = await lastValueFrom(from<LogInput[]>([...lines.map(lineOf), END_OF_DAY]).pipe(logCounts(), toArray()));
    const alone = (fresh[0] as DayReport).counts;
    expect(reports).toHaveLength(1);
    expect(reports[0].lines).toBe(lines.length + 3);
    expect([...reports[0].counts]).toEqual([
      ['200', (alone.get('200') ?? 0) + 2],
      ['418', 1],
      ...[...alone].filter(([code]) => code !== '200'),
    ]);
  });
});
