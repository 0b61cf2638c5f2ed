import { catchError, Observable, of, Subject, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RivuletError, slidingHourWindow, SlidingHourWindowOptions, WindowChange, windowStats } from 'rivulet';
import { betweenMergeMaps, EndlessSource } from './operatorCases';

const H = 3_600_000;
interface Ev { k: string; t: number; w?: number }
/** An event of key `k` at `hours` hours after the epoch (a day of events stays readable). */
const ev = (k: string, hours: number, w?: number): Ev => ({ k, t: hours * H, ...(w === undefined ? {} : { w }) });
const change = (key: string, total: number, startH: number, endH: number): WindowChange<string, number> => ({ key, total, windowStart: startH * H, windowEnd: endH * H });
const asText = (e: unknown): string => (e instanceof RivuletError ? `${e.code}: ${e.message}` : `other: ${String(e)}`);
const caught = <T>(o: Observable<T>) => o.pipe(catchError((e: unknown) => of(asText(e))));
const options = (extra: Partial<SlidingHourWindowOptions<Ev, string>> = {}): SlidingHourWindowOptions<Ev, string> => ({
  keyOf: (e) => e.k,
  timestampOf: (e) => e.t,
  ...extra,
});

let scheduler: TestScheduler;
beforeEach(() => {
  scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
});

describe('slidingHourWindow', () => {
  it('counts per key over 24 hourly panes, up on arrival and down when an hour expires', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-d----|', { a: ev('a', 0), b: ev('a', 5), c: ev('b', 23), d: ev('a', 24) });
      expectObservable(source.pipe(slidingHourWindow(options()))).toBe('-a-b-c-(de)-|', {
        a: change('a', 1, -23, 1),
        b: change('a', 2, -18, 6),
        c: change('b', 1, 0, 24),
        d: change('a', 1, 1, 25), // the 00:00 pane leaves first...
        e: change('a', 2, 1, 25), // ...then the 24:00 event is added
      });
      expectSubscriptions(source.subscriptions).toBe('^-----------!');
    });
  });

  it('keeps an event of 00:00 until the watermark is exactly 24:00 (half-open window)', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c----|', { a: ev('a', 0), b: { k: 'b', t: 24 * H - 1 }, c: ev('c', 24) });
      expectObservable(source.pipe(slidingHourWindow(options()))).toBe('-a-b-(xc)-|', {
        a: change('a', 1, -23, 1),
        b: change('b', 1, 0, 24),
        x: change('a', 0, 1, 25),
        c: change('c', 1, 1, 25),
      });
    });
  });

  it('puts out-of-order events inside the window in their own hour, which expires on its own schedule', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d----e----f----|', { a: ev('a', 10), b: ev('a', 5), c: ev('a', 2), d: ev('b', 26), e: ev('b', 29), f: ev('b', 34) });
      expectObservable(source.pipe(slidingHourWindow(options()))).toBe('-a-b-c-(xd)-(ye)-(zf)-|', {
        a: change('a', 1, -13, 11),
        b: change('a', 2, -13, 11),
        c: change('a', 3, -13, 11),
        x: change('a', 2, 3, 27), // the 02:00 hour expires at 26:00
        d: change('b', 1, 3, 27),
        y: change('a', 1, 6, 30), // the 05:00 hour at 29:00
        e: change('b', 2, 6, 30),
        z: change('a', 0, 11, 35), // the 10:00 hour at 34:00
        f: change('b', 3, 11, 35),
      });
    });
  });

  it('drops and counts late events by default', () => {
    const stats = windowStats();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-|', { a: ev('a', 30), b: { k: 'a', t: 7 * H - 1 }, c: ev('a', 7) });
      // At 30:00 the window is [07:00, 31:00): 06:59:59.999 is late, 07:00 is not.
      expectObservable(source.pipe(slidingHourWindow(options({ stats })))).toBe('-a---c-|', {
        a: change('a', 1, 7, 31),
        c: change('a', 2, 7, 31),
      });
    });
    expect(stats).toEqual({ late: 1, future: 0, watermark: 30 * H });
  });

  it('sends late events to a late stream, counts them, and never merges them into a pane', () => {
    const stats = windowStats();
    const late = new Subject<Ev>();
    const lateSeen: Ev[] = [];
    late.subscribe((e) => lateSeen.push(e));
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-e-----|', { a: ev('a', 30), b: ev('b', 1), c: ev('a', 2), d: ev('a', 31), e: ev('a', 55) });
      expectObservable(source.pipe(slidingHourWindow(options({ stats, late })))).toBe('-a-----d-(xye)-|', {
        a: change('a', 1, 7, 31),
        d: change('a', 2, 8, 32),
        x: change('a', 1, 32, 56), // only the two counted events ever leave: nothing was merged from b or c
        y: change('a', 0, 32, 56),
        e: change('a', 1, 32, 56),
      });
    });
    expect(lateSeen).toEqual([ev('b', 1), ev('a', 2)]);
    expect(stats.late).toBe(2);
  });

  it('accepts stragglers within the allowed lateness, the watermark trailing the newest event', () => {
    const stats = windowStats();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-|', { a: ev('a', 25.5), b: ev('a', 1.5), c: ev('a', 0.9) });
      // Watermark 25:30 - 1h = 24:30: the window is [01:00, 25:00), so 01:30 counts and 00:54 is late.
      expectObservable(source.pipe(slidingHourWindow(options({ stats, allowedLatenessMs: H })))).toBe('-a-b---|', {
        a: change('a', 1, 1, 25),
        b: change('a', 2, 1, 25),
      });
    });
    expect(stats).toEqual({ late: 1, future: 0, watermark: 24.5 * H });
  });

  it('expires everything after a gap of more than 24 hours, in hour order, then forgets the keys', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d------e---f-----|', { a: ev('a', 0), b: ev('b', 1), c: ev('a', 2), d: ev('c', 100), e: ev('a', 101), f: ev('d', 130) });
      expectObservable(source.pipe(slidingHourWindow(options()))).toBe('-a-b-c-(wxyd)-e---(uvf)-|', {
        a: change('a', 1, -23, 1),
        b: change('b', 1, -22, 2),
        c: change('a', 2, -21, 3),
        w: change('a', 1, 77, 101), // hour 0
        x: change('b', 0, 77, 101), // hour 1: b reaches zero once and is forgotten
        y: change('a', 0, 77, 101), // hour 2
        d: change('c', 1, 77, 101),
        e: change('a', 1, 78, 102), // a starts afresh
        u: change('c', 0, 107, 131),
        v: change('a', 0, 107, 131),
        f: change('d', 1, 107, 131),
      });
    });
  });

  it('ages a quiet key from eventTime$ alone (how a quiet partition sees the global clock)', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-----------|', { a: ev('a', 0) });
      const eventTime$ = hot('---x--y--z---', { x: 12 * H, y: 24 * H - 1, z: 24 * H });
      expectObservable(source.pipe(slidingHourWindow(options({ eventTime$ })))).toBe('-a-------z---|', {
        a: change('a', 1, -23, 1),
        z: change('a', 0, 1, 25),
      });
      expectSubscriptions(source.subscriptions).toBe('^------------!');
      expectSubscriptions(eventTime$.subscriptions).toBe('^------------!');
    });
  });

  it('sums weights when weightOf is given', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c----|', { a: ev('a', 0, 3), b: ev('a', 1, 0.5), c: ev('a', 24, 2) });
      expectObservable(source.pipe(slidingHourWindow(options({ weightOf: (e) => e.w! })))).toBe('-a-b-(xc)-|', {
        a: change('a', 3, -23, 1),
        b: change('a', 3.5, -22, 2),
        x: change('a', 0.5, 1, 25),
        c: change('a', 2.5, 1, 25),
      });
    });
  });

  it('supports other window lengths', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c---|', { a: ev('a', 0), b: ev('a', 1), c: ev('a', 2) });
      expectObservable(source.pipe(slidingHourWindow(options({ hours: 2 })))).toBe('-a-b-(xc)|', {
        a: change('a', 1, -1, 1),
        b: change('a', 2, 0, 2),
        x: change('a', 1, 1, 3),
        c: change('a', 2, 1, 3),
      });
    });
  });

  it('completes on empty, stays silent on never, passes source errors through', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const eventTime$ = hot<number>('----');
      const empty = cold<Ev>('|');
      expectObservable(empty.pipe(slidingHourWindow(options({ eventTime$ })))).toBe('|');
      expectSubscriptions(empty.subscriptions).toBe('(^!)');
      const never = cold<Ev>('-');
      expectObservable(never.pipe(slidingHourWindow(options()))).toBe('-');
      expectSubscriptions(never.subscriptions).toBe('^');
      const failing = cold('-a-#', { a: ev('a', 0) }, new Error('boom'));
      expectObservable(failing.pipe(slidingHourWindow(options({ eventTime$ })))).toBe('-a-#', { a: change('a', 1, -23, 1) }, new Error('boom'));
      expectSubscriptions(failing.subscriptions).toBe('^--!');
      expectSubscriptions(eventTime$.subscriptions).toBe(['(^!)', '^--!']);
    });
  });

  it('tears down the source and eventTime$ on early unsubscribe', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a: ev('a', 0), b: ev('a', 1), c: ev('a', 2) });
      const eventTime$ = hot<number>('-------');
      expectObservable(source.pipe(slidingHourWindow(options({ eventTime$ }))), '--!').toBe('-a-', { a: change('a', 1, -23, 1) });
      expectSubscriptions(source.subscriptions).toBe('^-!');
      expectSubscriptions(eventTime$.subscriptions).toBe('^-!');
    });
  });

  it('stops listening to a synchronous source when unsubscribed', () => {
    // A one-hour window and one event an hour: each event expires the previous one, then adds itself.
    const endless = new EndlessSource((i) => ev('a', i));
    const seen: string[] = [];
    endless.source.pipe(slidingHourWindow(options({ hours: 1 })), take(3)).subscribe((c) => seen.push(`${c.key}:${c.total}`));
    expect(seen).toEqual(['a:1', 'a:0', 'a:1']);
    expect(endless.pulls).toBe(2);
  });

  it('does not break unsubscription chains', () => {
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c-|', { a: ev('a', 0), b: ev('a', 1), c: ev('a', 2) });
      const eventTime$ = hot<number>('--------');
      const result = source.pipe(betweenMergeMaps(slidingHourWindow(options({ eventTime$ }))));
      expectObservable(result, '----!').toBe('-a-b-', { a: change('a', 1, -23, 1), b: change('a', 2, -22, 2) });
      expectSubscriptions(source.subscriptions).toBe('^---!');
      expectSubscriptions(eventTime$.subscriptions).toBe('^---!');
    });
  });

  it('sends each throwing callback and bad numbers down the error channel, naming slidingHourWindow', () => {
    const boom = () => {
      throw new Error('boom');
    };
    const cases: Array<[Partial<SlidingHourWindowOptions<Ev, string>>, string]> = [
      [{ keyOf: boom }, 'ERR_CALLBACK_FAILED: slidingHourWindow: keyOf threw: boom'],
      [{ timestampOf: boom }, 'ERR_CALLBACK_FAILED: slidingHourWindow: timestampOf threw: boom'],
      [{ weightOf: boom }, 'ERR_CALLBACK_FAILED: slidingHourWindow: weightOf threw: boom'],
      [{ timestampOf: () => Infinity }, 'ERR_INVALID_VALUE: slidingHourWindow: timestampOf returned Infinity, expected a finite number'],
      [{ weightOf: () => NaN }, 'ERR_INVALID_VALUE: slidingHourWindow: weightOf returned NaN, expected a finite number'],
      [{ late: { next: boom }, timestampOf: (e) => (e.k === 'late' ? 0 : 30 * H) }, 'ERR_CALLBACK_FAILED: slidingHourWindow: late.next threw: boom'],
    ];
    for (const [extra, message] of cases) {
      scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-a-|', { a: ev(extra.late ? 'late' : 'a', 0) });
        const eventTime$ = cold('x-----', { x: extra.late ? 30 * H : 0 });
        expectObservable(caught(source.pipe(slidingHourWindow(options({ eventTime$, ...extra }))))).toBe('-(e|)', { e: message });
        expectSubscriptions(source.subscriptions).toBe('^!');
        expectSubscriptions(eventTime$.subscriptions).toBe('^!');
      });
    }
  });

  it('rejects bad options at creation, with the reason', () => {
    const bad: Array<[Partial<SlidingHourWindowOptions<Ev, string>>, string]> = [
      [{ hours: 0 }, 'slidingHourWindow: hours must be an integer >= 1, got 0'],
      [{ hours: -24 }, 'slidingHourWindow: hours must be an integer >= 1, got -24'],
      [{ hours: 1.5 }, 'slidingHourWindow: hours must be an integer >= 1, got 1.5'],
      [{ allowedLatenessMs: NaN }, 'slidingHourWindow: allowedLatenessMs must be a finite number >= 0, got NaN'],
      [{ keyOf: undefined }, 'slidingHourWindow: keyOf must be a function'],
      [{ timestampOf: undefined }, 'slidingHourWindow: timestampOf must be a function'],
      [{ weightOf: 2 as never }, 'slidingHourWindow: weightOf must be a function'],
    ];
    for (const [extra, message] of bad) expect(() => slidingHourWindow(options(extra))).toThrow(message);
  });
});
