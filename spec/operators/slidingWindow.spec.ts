import { catchError, Observable, of, Subject, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Aggregator, counting, countingBy, fixedPanes, RivuletError, slidingWindow, SlidingWindowOptions, WindowChange, windowStats } from 'rivulet';
import { betweenMergeMaps, EndlessSource } from './operatorCases';

const H = 3_600_000;
interface Ev { k: string; t: number; id?: string; code?: number }
/** An event of key `k` at `hours` hours after the epoch. */
const ev = (k: string, hours: number, extra: Partial<Ev> = {}): Ev => ({ k, t: hours * H, ...extra });
const change = <A>(key: string, total: A, startH: number, endH: number): WindowChange<string, A> => ({ key, total, windowStart: startH * H, windowEnd: endH * H });
const asText = (e: unknown): string => (e instanceof RivuletError ? `${e.code}: ${e.message}` : `other: ${String(e)}`);
const caught = <T>(o: Observable<T>) => o.pipe(catchError((e: unknown) => of(asText(e))));

const hourly = (extra: Partial<SlidingWindowOptions<Ev, string, number>> = {}): SlidingWindowOptions<Ev, string, number> => ({
  keyOf: (e) => e.k,
  timestampOf: (e) => e.t,
  panes: fixedPanes(H),
  windowPanes: 2,
  aggregate: counting(),
  ...extra,
});

let scheduler: TestScheduler;
beforeEach(() => {
  scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
});

describe('slidingWindow', () => {
  it('emits totals up on arrival and down on expiry, expiring before adding', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-d------|', { a: ev('a', 0), b: ev('b', 0), c: ev('a', 1), d: ev('a', 3) });
      // a@3: the window becomes [2h,4h); pane 0 (a, b) then pane 1 (a) expire, then a@3 is added.
      expectObservable(source.pipe(slidingWindow(hourly()))).toBe('-a-b-c-(defg)-|', {
        a: change('a', 1, -1, 1),
        b: change('b', 1, -1, 1),
        c: change('a', 2, 0, 2),
        d: change('a', 1, 2, 4),
        e: change('b', 0, 2, 4),
        f: change('a', 0, 2, 4),
        g: change('a', 1, 2, 4),
      });
      expectSubscriptions(source.subscriptions).toBe('^-------------!');
    });
  });

  it('emits snapshots of mutable totals (countingBy), so later changes do not rewrite earlier output', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d----|', { a: ev('a', 0, { code: 200 }), b: ev('a', 0, { code: 404 }), c: ev('a', 1, { code: 200 }), d: ev('a', 2, { code: 500 }) });
      const op = slidingWindow<Ev, string, Map<number, number>>({ ...hourly(), aggregate: countingBy((e: Ev) => e.code!) } as SlidingWindowOptions<Ev, string, Map<number, number>>);
      expectObservable(source.pipe(op)).toBe('-a-b-c-(de)-|', {
        a: change('a', new Map([[200, 1]]), -1, 1),
        b: change('a', new Map([[200, 1], [404, 1]]), -1, 1),
        c: change('a', new Map([[200, 2], [404, 1]]), 0, 2),
        d: change('a', new Map([[200, 1]]), 1, 3),
        e: change('a', new Map([[200, 1], [500, 1]]), 1, 3),
      });
    });
  });

  it('recomputes from the remaining panes when the aggregator cannot subtract', () => {
    const ids: Aggregator<Ev, string[]> = { zero: () => [], add: (a, v) => [...a, v.id!], merge: (a, b) => [...a, ...b] };
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-e----|', {
        a: ev('a', 0, { id: 'x1' }),
        b: ev('a', 1, { id: 'x2' }),
        c: ev('a', 0.5, { id: 'x3' }), // out of order, into pane 0
        d: ev('a', 2, { id: 'x4' }),
        e: ev('a', 3, { id: 'x5' }),
      });
      const op = slidingWindow<Ev, string, string[]>({ keyOf: (e) => e.k, timestampOf: (e) => e.t, panes: fixedPanes(H), windowPanes: 3, aggregate: ids });
      expectObservable(source.pipe(op)).toBe('-a-b-c-d-(ef)-|', {
        a: change('a', ['x1'], -2, 1),
        b: change('a', ['x1', 'x2'], -1, 2),
        c: change('a', ['x1', 'x2', 'x3'], -1, 2),
        d: change('a', ['x1', 'x2', 'x3', 'x4'], 0, 3),
        e: change('a', ['x2', 'x4'], 1, 4),
        f: change('a', ['x2', 'x4', 'x5'], 1, 4),
      });
    });
  });

  it('counts events ahead of the watermark and accepts stragglers within the allowed lateness', () => {
    const stats = windowStats();
    const late: Ev[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c---d-|', { a: ev('a', 1.2), b: ev('a', 0.8), c: ev('a', 1.6), d: ev('a', 0.95) });
      const op = slidingWindow(hourly({ windowPanes: 1, allowedLatenessMs: 30 * 60_000, stats, late: { next: (v) => late.push(v) } }));
      // a@1.2: watermark 0.7h, window [0,1h) but the event (pane 1h) counts already.
      // a@1.6: watermark 1.1h, pane 0 expires (a down to 1), then a@1.6 is added.
      // a@0.95: its pane (0) has expired: late.
      expectObservable(source.pipe(op)).toBe('-a-b-(cd)--|', {
        a: change('a', 1, 0, 1),
        b: change('a', 2, 0, 1),
        c: change('a', 1, 1, 2),
        d: change('a', 2, 1, 2),
      });
    });
    expect(late).toEqual([ev('a', 0.95)]);
    expect(stats).toEqual({ late: 1, future: 0, watermark: 66 * 60_000 }); // 01:36 - 30 min
  });

  it('drops and counts late events when no late observer is given, never merging them elsewhere', () => {
    const stats = windowStats();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-|', { a: ev('a', 5), b: ev('a', 4.5), c: ev('a', 3.99), d: ev('b', 2) });
      expectObservable(source.pipe(slidingWindow(hourly({ stats })))).toBe('-a-b-----|', {
        a: change('a', 1, 4, 6),
        b: change('a', 2, 4, 6),
      });
    });
    expect(stats).toEqual({ late: 2, future: 0, watermark: 5 * H });
  });

  it('ages the window from eventTime$ alone; eventTime$ never moves time back and its completion is ignored', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('-a---------b-|', { a: ev('a', 0), b: ev('b', 2.5) });
      const eventTime$ = hot('---x--y--z|', { x: 0.5 * H, y: 2 * H, z: 1 * H });
      const stats = windowStats();
      expectObservable(source.pipe(slidingWindow(hourly({ eventTime$, stats })))).toBe('-a----e----b-|', {
        a: change('a', 1, -1, 1),
        e: change('a', 0, 1, 3),
        b: change('b', 1, 1, 3),
      });
      expectSubscriptions(source.subscriptions).toBe('^------------!');
      expectSubscriptions(eventTime$.subscriptions).toBe('^---------!');
    });
  });

  it('unsubscribes eventTime$ when the source completes', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-|', { a: ev('a', 0) });
      const eventTime$ = hot('------x-', { x: 5 * H });
      expectObservable(source.pipe(slidingWindow(hourly({ eventTime$ })))).toBe('-a-|', { a: change('a', 1, -1, 1) });
      expectSubscriptions(eventTime$.subscriptions).toBe('^--!');
    });
  });

  it('errors when eventTime$ errors or emits a time that is not finite', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('-a------|', { a: ev('a', 0) });
      const failing = hot<number>('---#', undefined, new Error('clock broke'));
      expectObservable(caught(source.pipe(slidingWindow(hourly({ eventTime$: failing }))))).toBe('-a-(e|)', {
        a: change('a', 1, -1, 1),
        e: 'other: Error: clock broke',
      });
      expectSubscriptions(source.subscriptions).toBe('^--!');
      const nonsense = cold('--x', { x: NaN });
      expectObservable(caught(cold<Ev>('-|').pipe(slidingWindow(hourly({ eventTime$: nonsense }))))).toBe('-|');
      expectObservable(caught(cold<Ev>('----|').pipe(slidingWindow(hourly({ eventTime$: nonsense }))))).toBe('--(e|)', {
        e: 'ERR_INVALID_VALUE: slidingWindow: eventTime$ emitted NaN, expected finite epoch ms',
      });
    });
  });

  it('completes on empty, stays silent on never, passes source errors through', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const empty = cold<Ev>('|');
      expectObservable(empty.pipe(slidingWindow(hourly()))).toBe('|');
      expectSubscriptions(empty.subscriptions).toBe('(^!)');
      const never = cold<Ev>('-');
      expectObservable(never.pipe(slidingWindow(hourly()))).toBe('-');
      expectSubscriptions(never.subscriptions).toBe('^');
      const failing = cold('-a-#', { a: ev('a', 0) }, new Error('boom'));
      expectObservable(failing.pipe(slidingWindow(hourly()))).toBe('-a-#', { a: change('a', 1, -1, 1) }, new Error('boom'));
      expectSubscriptions(failing.subscriptions).toBe('^--!');
    });
  });

  it('tears down the source and eventTime$ on early unsubscribe', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a: ev('a', 0), b: ev('a', 1), c: ev('a', 2) });
      const eventTime$ = hot<number>('--------');
      expectObservable(source.pipe(slidingWindow(hourly({ eventTime$ }))), '----!').toBe('-a-b-', {
        a: change('a', 1, -1, 1),
        b: change('a', 2, 0, 2),
      });
      expectSubscriptions(source.subscriptions).toBe('^---!');
      expectSubscriptions(eventTime$.subscriptions).toBe('^---!');
    });
  });

  it('sends each throwing callback and a non-finite time down the error channel, naming them', () => {
    const boom = () => {
      throw new Error('boom');
    };
    const cases: Array<[Partial<SlidingWindowOptions<Ev, string, number>>, string]> = [
      [{ keyOf: boom }, 'ERR_CALLBACK_FAILED: slidingWindow: keyOf threw: boom'],
      [{ timestampOf: boom }, 'ERR_CALLBACK_FAILED: slidingWindow: timestampOf threw: boom'],
      [{ timestampOf: () => NaN }, 'ERR_INVALID_VALUE: slidingWindow: timestampOf returned NaN, expected finite epoch ms'],
      [{ timestampOf: () => '5' as unknown as number }, 'ERR_INVALID_VALUE: slidingWindow: timestampOf returned 5, expected finite epoch ms'],
      [{ aggregate: { ...counting(), add: boom } }, 'ERR_CALLBACK_FAILED: slidingWindow: aggregate.add threw: boom'],
    ];
    for (const [options, message] of cases) {
      scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-a-|', { a: ev('a', 0) });
        expectObservable(caught(source.pipe(slidingWindow(hourly(options))))).toBe('-(e|)', { e: message });
        expectSubscriptions(source.subscriptions).toBe('^!');
      });
    }
    scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-|', { a: ev('a', 5), b: ev('a', 1) });
      expectObservable(caught(source.pipe(slidingWindow(hourly({ late: { next: boom } }))))).toBe('-a-(e|)', {
        a: change('a', 1, 4, 6),
        e: 'ERR_CALLBACK_FAILED: slidingWindow: late.next threw: boom',
      });
    });
  });

  it('stops listening to a synchronous source when unsubscribed, even halfway through an expiry', () => {
    // A one-pane window and one event an hour: each event expires the previous one, then adds itself.
    const endless = new EndlessSource((i) => ev('a', i));
    const seen: string[] = [];
    endless.source.pipe(slidingWindow(hourly({ windowPanes: 1 })), take(2)).subscribe((c) => seen.push(`${c.key}:${c.total}`));
    expect(seen).toEqual(['a:1', 'a:0']);
    expect(endless.pulls).toBe(2);
  });

  it('does not break unsubscription chains', () => {
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c-|', { a: ev('a', 0), b: ev('a', 1), c: ev('a', 2) });
      const eventTime$ = hot<number>('--------');
      const result = source.pipe(betweenMergeMaps(slidingWindow(hourly({ eventTime$ }))));
      expectObservable(result, '----!').toBe('-a-b-', { a: change('a', 1, -1, 1), b: change('a', 2, 0, 2) });
      expectSubscriptions(source.subscriptions).toBe('^---!');
      expectSubscriptions(eventTime$.subscriptions).toBe('^---!');
    });
  });

  it('is re-entrant: a subscriber may feed the source from within next, during an expiry too', () => {
    const source = new Subject<Ev>();
    const stats = windowStats();
    const seen: string[] = [];
    source.pipe(slidingWindow(hourly({ windowPanes: 1, stats }))).subscribe((c) => {
      seen.push(`${c.key}:${c.total}@${c.windowStart / H}`);
      // While the 00:00 pane expires: one event in the new window, one that moves time on again.
      if (c.key === 'a' && c.total === 0 && c.windowStart === 2 * H) source.next(ev('b', 2));
      if (c.key === 'b' && c.total === 0) source.next(ev('c', 6));
    });
    source.next(ev('a', 0));
    source.next(ev('a', 2));
    expect(seen).toEqual(['a:1@0', 'a:0@2', 'b:1@2', 'a:1@2']);
    // a@3 expires the 02:00 pane, b first (it came first there); b:0 feeds c@6, which is handled
    // at once: the expiring pane was taken out before emitting, so c neither sees it nor waits
    // for it. Then a leaves, and a@3 itself is late behind the watermark c moved.
    source.next(ev('a', 3));
    expect(seen.slice(4)).toEqual(['b:0@3', 'c:1@6', 'a:0@6']);
    expect(stats).toEqual({ late: 1, future: 0, watermark: 6 * H });
    // Nothing was left half done: a was forgotten, c's pane expires on its own schedule.
    source.next(ev('a', 7));
    expect(seen.slice(7)).toEqual(['c:0@7', 'a:1@7']);
  });

  it('shares no state between subscriptions of the same operator', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const op = slidingWindow(hourly());
      const source = cold('-a-a-|', { a: ev('a', 0) });
      expectObservable(source.pipe(op)).toBe('-x-y-|', { x: change('a', 1, -1, 1), y: change('a', 2, -1, 1) });
      expectObservable(source.pipe(op)).toBe('-x-y-|', { x: change('a', 1, -1, 1), y: change('a', 2, -1, 1) });
    });
  });

  it('rejects bad options at creation, with the reason', () => {
    const bad: Array<[Partial<SlidingWindowOptions<Ev, string, number>>, string]> = [
      [{ windowPanes: 0 }, 'slidingWindow: windowPanes must be an integer >= 1, got 0'],
      [{ windowPanes: 1.5 }, 'slidingWindow: windowPanes must be an integer >= 1, got 1.5'],
      [{ allowedLatenessMs: -1 }, 'slidingWindow: allowedLatenessMs must be a finite number >= 0, got -1'],
      [{ keyOf: undefined }, 'slidingWindow: keyOf must be a function'],
      [{ timestampOf: 3 as unknown as () => number }, 'slidingWindow: timestampOf must be a function'],
      [{ panes: {} as never }, 'slidingWindow: panes must be a PaneAssigner'],
      [{ aggregate: undefined }, 'slidingWindow: aggregate must be an Aggregator'],
      [{ late: {} as never }, 'slidingWindow: late must be an observer'],
      [{ eventTime$: 5 as never }, 'slidingWindow: eventTime$ must be an Observable'],
    ];
    for (const [options, message] of bad) {
      expect(() => slidingWindow(hourly(options))).toThrow(message);
    }
  });
});
