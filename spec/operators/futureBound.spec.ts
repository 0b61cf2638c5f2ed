import { deserialize, serialize } from 'node:v8';
import { from, map, Subject } from 'rxjs';
import { ScopeSnapshot, StateScope, withStateScope } from '../../lib/state/scope';
import { TestScheduler } from 'rxjs/testing';
import {
  counting, fixedPanes, partitionBy, slidingHourWindow, slidingWindow, tumblingWindow, WindowChange, WindowResult, windowStats,
} from 'rivulet';

const H = 3_600_000;
const Y9999 = Date.parse('9999-12-31T23:59:59Z');
interface Ev { k: string; t: number }
const ev = (k: string, hours: number): Ev => ({ k, t: hours * H });
const far = (k: string): Ev => ({ k, t: Y9999 });
const result = (key: string, value: number, startH: number, endH: number): WindowResult<string, number> => ({
  key, value, windowStart: startH * H, windowEnd: endH * H,
});
const change = (key: string, total: number, startH: number, endH: number): WindowChange<string, number> => ({
  key, total, windowStart: startH * H, windowEnd: endH * H,
});
const hourly = { keyOf: (e: Ev) => e.k, timestampOf: (e: Ev) => e.t, panes: fixedPanes(H), aggregate: counting<Ev>() };

let scheduler: TestScheduler;
beforeEach(() => {
  scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
});

describe('the future bound (maxFutureMs) of the event-time windows', () => {
  it('tumblingWindow: one event dated 9999 moves nothing; the next in-bound event rejects it', () => {
    const stats = windowStats();
    const rejected: Ev[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-x-c-d-|', { a: ev('a', 0), b: ev('a', 0.5), x: far('a'), c: ev('a', 0.7), d: ev('a', 1.2) });
      const op = tumblingWindow({ ...hourly, maxFutureMs: H, stats, rejected: { next: (e) => rejected.push(e) } });
      expectObservable(source.pipe(op)).toBe('---------w-(z|)', { w: result('a', 3, 0, 1), z: result('a', 1, 1, 2) });
    });
    expect(rejected).toEqual([far('a')]);
    expect(stats).toEqual({ late: 0, future: 1, watermark: 1.2 * H });
  });

  it('without the bound, the same event empties the window (what the bound prevents)', () => {
    const stats = windowStats();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-x-c-d-|', { a: ev('a', 0), b: ev('a', 0.5), x: far('a'), c: ev('a', 0.7), d: ev('a', 1.2) });
      expectObservable(source.pipe(tumblingWindow({ ...hourly, stats }))).toBe('-----w-----(z|)', {
        w: result('a', 2, 0, 1),
        z: { key: 'a', value: 1, windowStart: Math.floor(Y9999 / H) * H, windowEnd: Math.floor(Y9999 / H) * H + H },
      });
    });
    expect(stats.late).toBe(2);
  });

  it('tumblingWindow: a real jump confirmed by 3 following events passes, the held events applied in order', () => {
    const stats = windowStats();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-p-q-r-s----|', { a: ev('a', 0), b: ev('b', 0.5), p: ev('a', 12), q: ev('b', 12.2), r: ev('a', 12.1), s: ev('c', 12.5) });
      expectObservable(source.pipe(tumblingWindow({ ...hourly, maxFutureMs: H, stats }))).toBe('-----------(wv)-(xyz|)', {
        w: result('a', 1, 0, 1),
        v: result('b', 1, 0, 1),
        x: result('a', 2, 12, 13),
        y: result('b', 1, 12, 13),
        z: result('c', 1, 12, 13),
      });
    });
    expect(stats).toEqual({ late: 0, future: 0, watermark: 12.5 * H });
  });

  it('rejects what is still held when the source completes, and accepts events up to maxFutureMs ahead', () => {
    const stats = windowStats();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-b-x-|', { a: ev('a', 0), b: ev('a', 1), x: ev('a', 30) });
      expectObservable(source.pipe(tumblingWindow({ ...hourly, maxFutureMs: H, stats }))).toBe('---w---(z|)', {
        w: result('a', 1, 0, 1),
        z: result('a', 1, 1, 2),
      });
    });
    expect(stats.future).toBe(1);
  });

  it('slidingHourWindow: the 9999 event neither counts nor expires the window', () => {
    const stats = windowStats();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a-x-b-|', { a: ev('a', 0), x: far('a'), b: ev('a', 1) });
      const op = slidingHourWindow({ keyOf: (e: Ev) => e.k, timestampOf: (e: Ev) => e.t, hours: 2, maxFutureMs: H, stats });
      expectObservable(source.pipe(op)).toBe('-a---b-|', { a: change('a', 1, -1, 1), b: change('a', 2, 0, 2) });
    });
    expect(stats).toEqual({ late: 0, future: 1, watermark: H });
  });

  it('slidingWindow: held values that eventTime$ brings in bound are applied when it moves', () => {
    const ticks = new Subject<number>();
    const source = new Subject<Ev>();
    const out: WindowChange<string, number>[] = [];
    source.pipe(slidingWindow({ ...hourly, windowPanes: 2, maxFutureMs: H, eventTime$: ticks })).subscribe((c) => out.push(c));
    source.next(ev('a', 0));
    source.next(ev('a', 5));
    expect(out).toEqual([change('a', 1, -1, 1)]);
    ticks.next(4.5 * H);
    expect(out).toEqual([change('a', 1, -1, 1), change('a', 0, 3, 5), change('a', 1, 4, 6)]);
  });

  it('refuses bad future options at creation', () => {
    expect(() => tumblingWindow({ ...hourly, maxFutureMs: -1 })).toThrow(/maxFutureMs/);
    expect(() => slidingHourWindow({ keyOf: (e: Ev) => e.k, timestampOf: (e: Ev) => e.t, confirmations: 2 })).toThrow(/needs maxFutureMs/);
    expect(() => partitionBy({ keyOf: (e: Ev) => e.k, pipeline: () => (x) => x, maxFutureMs: H })).toThrow(/needs timestampOf/);
  });
});

describe("the future bound of partitionBy's global clock", () => {
  const run = (events: Ev[], extra: { maxFutureMs?: number } = {}) => {
    const stats = { future: 0 };
    const rejected: Ev[] = [];
    const ticks: string[] = [];
    const out: string[] = [];
    from(events)
      .pipe(
        partitionBy({
          keyOf: (e: Ev) => e.k,
          timestampOf: (e: Ev) => e.t,
          stats,
          ...(extra.maxFutureMs === undefined ? {} : { rejected: { next: (e: Ev) => rejected.push(e) } }),
          ...extra,
          pipeline: ({ key, eventTime$ }) => {
            eventTime$.subscribe((t) => ticks.push(`${key}@${t / H}`));
            return slidingHourWindow({ keyOf: (e: Ev) => e.k, timestampOf: (e: Ev) => e.t, hours: 2, eventTime$, ...extra });
          },
        }),
      )
      .subscribe((c) => out.push(`${c.key}:${c.total}`));
    return { out, rejected, stats, ticks };
  };

  it('holds a 9999 event before routing it, rejects it on the next in-bound event, and keeps the clock where it was', () => {
    const events = [ev('a', 0), ev('b', 0.5), far('a'), ev('b', 1), ev('a', 1.5)];
    const bounded = run(events, { maxFutureMs: H });
    expect(bounded.rejected).toEqual([far('a')]);
    expect(bounded.stats.future).toBe(1);
    expect(bounded.out).toEqual(run(events.filter((e) => e.t !== Y9999)).out);
    expect(bounded.ticks.some((t) => t.endsWith(`@${Y9999 / H}`))).toBe(false);
    // Unbounded, the same event ages every window to 9999: both keys drop to 0.
    expect(run(events).out).toContain('b:0');
  });

  it('routes a real jump once 3 following events confirm it, in arrival order, each partition seeing its own event', () => {
    const events = [ev('a', 0), ev('b', 1), ev('a', 12), ev('b', 12.1), ev('c', 12.2), ev('a', 12.3), ev('b', 12.4)];
    const bounded = run(events, { maxFutureMs: H });
    expect(bounded.stats.future).toBe(0);
    expect(bounded.rejected).toEqual([]);
    expect(bounded.out).toEqual(run(events).out);
    expect(bounded.out).toEqual(['a:1', 'b:1', 'a:0', 'a:1', 'b:0', 'b:1', 'c:1', 'a:2', 'b:2']);
  });
});

describe('the future bound in checkpoints', () => {
  // Deep copies, as a checkpoint written and read back would be.
  const copy = (snapshot: ScopeSnapshot): ScopeSnapshot => deserialize(serialize(snapshot)) as ScopeSnapshot;

  it('tumblingWindow: held values and the rejected count survive a restore, and the restored run decides the same', () => {
    const options = { ...hourly, uid: 'w', maxFutureMs: H };
    const before = new Subject<Ev>();
    const scope = new StateScope();
    withStateScope(scope, () => before.pipe(tumblingWindow(options)).subscribe());
    before.next(ev('a', 0));
    before.next(far('a'));
    before.next(ev('a', 0.2)); // rejects the first 9999 event
    before.next(far('b')); // held when the checkpoint is taken
    const saved = copy(scope.snapshot());

    const stats = windowStats();
    const rejected: Ev[] = [];
    const out: WindowResult<string, number>[] = [];
    const after = new Subject<Ev>();
    withStateScope(new StateScope(saved), () =>
      after.pipe(tumblingWindow({ ...options, stats, rejected: { next: (e) => rejected.push(e) } })).subscribe((r) => out.push(r)),
    );
    expect(stats.future).toBe(1);
    after.next(ev('a', 1.1)); // in bound: the held far('b') was an outlier
    after.complete();
    expect(rejected).toEqual([far('b')]);
    expect(stats.future).toBe(2);
    expect(out).toEqual([result('a', 2, 0, 1), result('a', 1, 1, 2)]);
  });

  it('partitionBy: values held before routing survive a restore and are routed once confirmed', () => {
    const build = (out: string[]) =>
      partitionBy({
        uid: 'p',
        keyOf: (e: Ev) => e.k,
        timestampOf: (e: Ev) => e.t,
        maxFutureMs: H,
        pipeline: ({ key }) => (input) => input.pipe(map((e: Ev) => `${key}@${e.t / H}`)),
      });
    const before = new Subject<Ev>();
    const scope = new StateScope();
    const seen: string[] = [];
    withStateScope(scope, () => before.pipe(build(seen)).subscribe((s) => seen.push(s)));
    before.next(ev('a', 0));
    before.next(ev('b', 12));
    before.next(ev('a', 12));
    expect(seen).toEqual(['a@0']);
    const saved = copy(scope.snapshot());

    const out: string[] = [];
    const after = new Subject<Ev>();
    withStateScope(new StateScope(saved), () => after.pipe(build(out)).subscribe((s) => out.push(s)));
    after.next(ev('c', 12));
    expect(out).toEqual([]);
    after.next(ev('a', 12.5));
    expect(out).toEqual(['b@12', 'a@12', 'c@12', 'a@12.5']);
  });
});
