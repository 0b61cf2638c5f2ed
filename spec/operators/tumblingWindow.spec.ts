import { readFileSync } from 'fs';
import { catchError, from, lastValueFrom, Observable, of, Subject, take, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { calendarDays, counting, countingBy, fixedPanes, RivuletError, tumblingWindow, TumblingWindowOptions, WindowResult, windowStats } from 'rivulet';
import { betweenMergeMaps, EndlessSource } from './operatorCases';
import { ELASTIC_LOG_SAMPLE } from '../support/data';

const H = 3_600_000;
const M = 60_000;
interface Ev { k: string; t: number; code?: number }
const ev = (k: string, hours: number, code?: number): Ev => ({ k, t: hours * H, ...(code === undefined ? {} : { code }) });
const result = <K, A>(key: K, value: A, start: number, end: number): WindowResult<K, A> => ({ key, value, windowStart: start, windowEnd: end });
const asText = (e: unknown): string => (e instanceof RivuletError ? `${e.code}: ${e.message}` : `other: ${String(e)}`);
const caught = <T>(o: Observable<T>) => o.pipe(catchError((e: unknown) => of(asText(e))));
const hourly = (extra: Partial<TumblingWindowOptions<Ev, string, number>> = {}): TumblingWindowOptions<Ev, string, number> => ({
  keyOf: (e) => e.k,
  timestampOf: (e) => e.t,
  panes: fixedPanes(H),
  aggregate: counting(),
  ...extra,
});

let scheduler: TestScheduler;
const fresh = () => (scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected)));
beforeEach(fresh);

describe('tumblingWindow', () => {
  it('emits each window once when the watermark reaches its end, keys in first-seen order, open windows on completion', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-d----e-|', { a: ev('a', 0), b: ev('b', 0), c: ev('a', 0.5), d: ev('a', 1), e: ev('b', 3) });
      expectObservable(source.pipe(tumblingWindow(hourly()))).toBe('-------(xy)-e-(z|)', {
        x: result('a', 2, 0, H),
        y: result('b', 1, 0, H),
        e: result('a', 1, H, 2 * H),
        z: result('b', 1, 3 * H, 4 * H),
      });
      expectSubscriptions(source.subscriptions).toBe('^-------------!');
    });
  });

  it('uses one global key by default and drops open windows on completion when asked', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-|', { a: ev('x', 0, 200), b: ev('y', 0, 404), c: ev('z', 1, 200) });
      const byCode = { timestampOf: (e: Ev) => e.t, panes: fixedPanes(H), aggregate: countingBy((e: Ev) => e.code!) };
      expectObservable(source.pipe(tumblingWindow(byCode))).toBe('-----w-(v|)', {
        w: result(undefined, new Map([[200, 1], [404, 1]]), 0, H),
        v: result(undefined, new Map([[200, 1]]), H, 2 * H),
      });
      expectObservable(source.pipe(tumblingWindow({ ...byCode, emitOnComplete: false }))).toBe('-----w-|', {
        w: result(undefined, new Map([[200, 1], [404, 1]]), 0, H),
      });
    });
  });

  it('lets values up to the allowed lateness out of order land in their window; later ones are late', () => {
    const stats = windowStats();
    const late = new Subject<Ev>();
    const lateSeen: Ev[] = [];
    late.subscribe((e) => lateSeen.push(e));
    const at = (minutes: number): Ev => ({ k: 'a', t: minutes * M });
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-e-|', { a: at(58), b: at(61), c: at(59), d: at(66), e: at(59.5) });
      // Watermark = newest - 5 min: 53, 56, 56, 61 (closes [0, 60)), 61.
      expectObservable(source.pipe(tumblingWindow(hourly({ allowedLatenessMs: 5 * M, stats, late })))).toBe('-------x---(y|)', {
        x: result('a', 2, 0, H),
        y: result('a', 2, H, 2 * H),
      });
    });
    expect(lateSeen).toEqual([at(59.5)]);
    expect(stats).toEqual({ late: 1, future: 0, watermark: 61 * M });
  });

  it('drops and counts late values by default', () => {
    const stats = windowStats();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-|', { a: ev('a', 0), b: ev('a', 1), c: ev('a', 0.5) });
      expectObservable(source.pipe(tumblingWindow(hourly({ stats })))).toBe('---x---(y|)', {
        x: result('a', 1, 0, H),
        y: result('a', 1, H, 2 * H),
      });
    });
    expect(stats).toEqual({ late: 1, future: 0, watermark: H });
  });

  it('folds an aggregate updated in place as one replaced on each value, as values move between open panes', async () => {
    // Lateness 90 min: values of the hour before stay on time until the watermark passes its end.
    const events = [ev('a', 0.1), ev('b', 1.2), ev('a', 0.5), ev('a', 1.3), ev('b', 0.9), ev('a', 2.6), ev('b', 1.4)];
    const inPlace = { zero: () => ({ n: 0 }), add: (acc: { n: number }) => ((acc.n += 1), acc), merge: (a: { n: number }, b: { n: number }) => ({ n: a.n + b.n }) };
    const replaced = { zero: () => ({ n: 0 }), add: (acc: { n: number }) => ({ n: acc.n + 1 }), merge: inPlace.merge };
    const run = (aggregate: typeof inPlace) =>
      lastValueFrom(from(events).pipe(tumblingWindow({ keyOf: (e: Ev) => e.k, timestampOf: (e) => e.t, panes: fixedPanes(H), aggregate, allowedLatenessMs: 90 * M }), toArray()));
    const expected = [
      result('a', { n: 2 }, 0, H), result('b', { n: 1 }, 0, H),
      result('b', { n: 2 }, H, 2 * H), result('a', { n: 1 }, H, 2 * H),
      result('a', { n: 1 }, 2 * H, 3 * H),
    ];
    expect(await run(inPlace)).toEqual(expected);
    expect(await run(replaced)).toEqual(expected);
  });

  it('closes several windows at once, in start order, after a gap', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d------|', { a: ev('a', 2), b: ev('b', 0.5), c: ev('c', 5), d: ev('d', 9) });
      // b@0.5 is late (window [0,1) closed when 02:00 arrived); empty hours emit nothing.
      expectObservable(source.pipe(tumblingWindow(hourly()))).toBe('-----x-y------(z|)', {
        x: result('a', 1, 2 * H, 3 * H),
        y: result('c', 1, 5 * H, 6 * H),
        z: result('d', 1, 9 * H, 10 * H),
      });
    });
  });

  it('closes windows from eventTime$ alone, which never moves time back', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('-a---------|', { a: ev('a', 0) });
      const eventTime$ = hot('---x--y--z-', { x: 0.9 * H, y: H, z: 0 });
      expectObservable(source.pipe(tumblingWindow(hourly({ eventTime$ })))).toBe('------x----|', { x: result('a', 1, 0, H) });
      expectSubscriptions(source.subscriptions).toBe('^----------!');
      expectSubscriptions(eventTime$.subscriptions).toBe('^----------!');
    });
  });

  it('counts status codes per calendar day in Los Angeles across the 23-hour day of 10 March 2024', () => {
    const line = (iso: string, code: number): Ev => ({ k: 'log', t: Date.parse(iso), code });
    const day = (date: string, offset: string) => Date.parse(`${date}T00:00:00${offset}`);
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-e-f-g-h-|', {
        a: line('2024-03-09T23:59:00-08:00', 200),
        b: line('2024-03-10T00:10:00-08:00', 200), // watermark 00:05: 9 March closes
        c: line('2024-03-10T03:30:00-07:00', 404), // 02:00 became 03:00
        d: line('2024-03-10T23:30:00-07:00', 200), // 06:30 UTC on the 11th, still the 10th here
        e: line('2024-03-11T00:02:00-07:00', 500), // watermark 23:57: the 10th stays open
        f: line('2024-03-10T23:58:00-07:00', 404), // 4 minutes out of order: lands on the 10th
        g: line('2024-03-11T00:06:00-07:00', 200), // watermark 00:01: the 10th closes
        h: line('2024-03-12T09:00:00-07:00', 200), // the 11th closes
      });
      const op = tumblingWindow({ timestampOf: (e: Ev) => e.t, panes: calendarDays('America/Los_Angeles'), aggregate: countingBy((e: Ev) => e.code!), allowedLatenessMs: 5 * M });
      expectObservable(source.pipe(op)).toBe('---x---------y-z-(w|)', {
        x: result(undefined, new Map([[200, 1]]), day('2024-03-09', '-08:00'), day('2024-03-10', '-08:00')),
        y: result(undefined, new Map([[200, 2], [404, 2]]), day('2024-03-10', '-08:00'), day('2024-03-11', '-07:00')),
        z: result(undefined, new Map([[500, 1], [200, 1]]), day('2024-03-11', '-07:00'), day('2024-03-12', '-07:00')),
        w: result(undefined, new Map([[200, 1]]), day('2024-03-12', '-07:00'), day('2024-03-13', '-07:00')),
      });
    });
  });

  it('agrees with a naive per-line count on a real multi-day access log, days in America/Los_Angeles', () => {
    const zone = 'America/Los_Angeles';
    const months = new Map(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((m, i) => [m, i]));
    const pattern = /\[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\] "[^"]*" (\d{3}) /;
    const lines = readFileSync(ELASTIC_LOG_SAMPLE, 'utf8')
      .split('\n')
      .flatMap((text) => {
        const m = pattern.exec(text);
        if (!m) return [];
        const offsetMs = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) * M;
        const t = Date.UTC(+m[3], months.get(m[2])!, +m[1], +m[4], +m[5], +m[6]) - offsetMs;
        return [{ t, status: m[10] }];
      });
    expect(lines.length).toBe(251); // every line of the sample (spec/fixtures/SOURCE.md), over 4 days

    // The naive model: local dates from Intl, a line is late when its date is before the
    // watermark's date; everything else is counted under its date.
    const dateIn = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
    const timeIn = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    const expected = new Map<string, Map<string, number>>();
    let newest = -Infinity;
    let expectedLate = 0;
    for (const { t, status } of lines) {
      newest = Math.max(newest, t);
      const date = dateIn.format(t);
      if (date < dateIn.format(newest - 5 * M)) {
        expectedLate++;
        continue;
      }
      const counts = expected.get(date) ?? new Map<string, number>();
      counts.set(status, (counts.get(status) ?? 0) + 1);
      expected.set(date, counts);
    }

    const stats = windowStats();
    const results: Array<WindowResult<undefined, Map<string, number>>> = [];
    from(lines)
      .pipe(tumblingWindow({ timestampOf: (l) => l.t, panes: calendarDays(zone), aggregate: countingBy((l) => l.status), allowedLatenessMs: 5 * M, stats }))
      .subscribe((r) => results.push(r));

    expect(results.map((r) => dateIn.format(r.windowStart))).toEqual([...expected.keys()].sort());
    expect(results.length).toBeGreaterThanOrEqual(4);
    for (const r of results) {
      expect(timeIn.format(r.windowStart)).toBe('00:00:00');
      expect(timeIn.format(r.windowEnd)).toBe('00:00:00');
      expect(dateIn.format(r.windowEnd - 1)).toBe(dateIn.format(r.windowStart));
      expect(r.value).toEqual(expected.get(dateIn.format(r.windowStart)));
    }
    expect(stats.late).toBe(expectedLate);
  });

  it('completes on empty, stays silent on never, passes source errors through', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const eventTime$ = hot<number>('----');
      const empty = cold<Ev>('|');
      expectObservable(empty.pipe(tumblingWindow(hourly({ eventTime$ })))).toBe('|');
      expectSubscriptions(empty.subscriptions).toBe('(^!)');
      const never = cold<Ev>('-');
      expectObservable(never.pipe(tumblingWindow(hourly()))).toBe('-');
      expectSubscriptions(never.subscriptions).toBe('^');
      const failing = cold('-a-#', { a: ev('a', 0) }, new Error('boom'));
      // An error is not a completion: open windows are not emitted.
      expectObservable(failing.pipe(tumblingWindow(hourly({ eventTime$ })))).toBe('---#', undefined, new Error('boom'));
      expectSubscriptions(failing.subscriptions).toBe('^--!');
      expectSubscriptions(eventTime$.subscriptions).toBe(['(^!)', '^--!']);
    });
  });

  it('errors when eventTime$ errors', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold<Ev>('------|');
      const eventTime$ = hot<number>('--#', undefined, new Error('clock broke'));
      expectObservable(source.pipe(tumblingWindow(hourly({ eventTime$ })))).toBe('--#', undefined, new Error('clock broke'));
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('tears down the source and eventTime$ on early unsubscribe, emitting nothing more', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a: ev('a', 0), b: ev('a', 1), c: ev('a', 2) });
      const eventTime$ = hot<number>('-------');
      expectObservable(source.pipe(tumblingWindow(hourly({ eventTime$ }))), '----!').toBe('---x-', { x: result('a', 1, 0, H) });
      expectSubscriptions(source.subscriptions).toBe('^---!');
      expectSubscriptions(eventTime$.subscriptions).toBe('^---!');
    });
  });

  it('stops listening to a synchronous source when unsubscribed', () => {
    // One event an hour: each event closes the window of the one before.
    const endless = new EndlessSource((i) => ev('a', i));
    const closed: number[] = [];
    endless.source.pipe(tumblingWindow(hourly()), take(3)).subscribe((w) => closed.push(w.windowStart / H));
    expect(closed).toEqual([0, 1, 2]);
    expect(endless.pulls).toBe(4);
  });

  it('does not break unsubscription chains', () => {
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c-|', { a: ev('a', 0), b: ev('a', 1), c: ev('a', 2) });
      const eventTime$ = hot<number>('--------');
      const windows = source.pipe(betweenMergeMaps(tumblingWindow(hourly({ eventTime$ }))));
      expectObservable(windows, '----!').toBe('---x-', { x: result('a', 1, 0, H) });
      expectSubscriptions(source.subscriptions).toBe('^---!');
      expectSubscriptions(eventTime$.subscriptions).toBe('^---!');
    });
  });

  it('is re-entrant: a subscriber may feed the source while a window is being emitted', () => {
    const source = new Subject<Ev>();
    const seen: string[] = [];
    source.pipe(tumblingWindow(hourly())).subscribe((w) => {
      seen.push(`${w.key}=${w.value}@${w.windowStart / H}`);
      if (w.windowStart === 0) source.next(ev('b', 1.5));
    });
    source.next(ev('a', 0));
    source.next(ev('a', 1));
    source.complete();
    // b joined the 01:00 window before a@1 itself did, so it comes first there.
    expect(seen).toEqual(['a=1@0', 'b=1@1', 'a=1@1']);
  });

  it('sends each throwing callback and a non-finite time down the error channel, naming them', () => {
    const boom = () => {
      throw new Error('boom');
    };
    const cases: Array<[Partial<TumblingWindowOptions<Ev, string, number>>, string]> = [
      [{ keyOf: boom }, 'ERR_CALLBACK_FAILED: tumblingWindow: keyOf threw: boom'],
      [{ timestampOf: boom }, 'ERR_CALLBACK_FAILED: tumblingWindow: timestampOf threw: boom'],
      [{ timestampOf: () => NaN }, 'ERR_INVALID_VALUE: tumblingWindow: timestampOf returned NaN, expected finite epoch ms'],
      [{ aggregate: { ...counting(), add: boom } }, 'ERR_CALLBACK_FAILED: tumblingWindow: aggregate.add threw: boom'],
      [{ aggregate: counting(() => NaN) }, 'ERR_INVALID_VALUE: counting: weightOf returned NaN, expected a finite number'],
    ];
    for (const [extra, message] of cases) {
      fresh().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-a-|', { a: ev('a', 0) });
        expectObservable(caught(source.pipe(tumblingWindow(hourly(extra))))).toBe('-(e|)', { e: message });
        expectSubscriptions(source.subscriptions).toBe('^!');
      });
    }
    fresh().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-|', { a: ev('a', 5), b: ev('a', 1) });
      expectObservable(caught(source.pipe(tumblingWindow(hourly({ late: { next: boom } })))))
        .toBe('---(e|)', { e: 'ERR_CALLBACK_FAILED: tumblingWindow: late.next threw: boom' });
    });
  });

  it('rejects bad options at creation, with the reason', () => {
    const bad: Array<[Partial<TumblingWindowOptions<Ev, string, number>>, string]> = [
      [{ allowedLatenessMs: -5 }, 'tumblingWindow: allowedLatenessMs must be a finite number >= 0, got -5'],
      [{ keyOf: 'k' as never }, 'tumblingWindow: keyOf must be a function'],
      [{ timestampOf: undefined }, 'tumblingWindow: timestampOf must be a function'],
      [{ panes: undefined }, 'tumblingWindow: panes must be a PaneAssigner'],
      [{ aggregate: {} as never }, 'tumblingWindow: aggregate must be an Aggregator'],
      [{ stats: 3 as never }, 'tumblingWindow: stats must come from windowStats()'],
    ];
    for (const [extra, message] of bad) expect(() => tumblingWindow(hourly(extra))).toThrow(message);
  });
});
