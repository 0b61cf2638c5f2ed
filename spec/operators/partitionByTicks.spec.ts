import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import { from, map, merge, Observable, Subject, switchMap, take } from 'rxjs';
import { partitionBy, slidingHourWindow } from 'rivulet';
import { ScopeSnapshot, StateScope, withStateScope } from '../../lib/state/scope';
import { nextTickAfter } from '../../lib/windowing/windowClock';

const H = 3_600_000;

/** Values like 'x13': the key is the letter, the event time the number. */
const keyOf = (value: string) => value[0];
const timestampOf = (value: string) => Number(value.slice(1));

/** Each partition reports what it got and every time its clock told it. */
const reporting = ({ key, eventTime$ }: { key: string; eventTime$: Observable<number> }) => (input: Observable<string>) =>
  merge(input.pipe(map((v) => `${key} got ${v.slice(1)}`)), eventTime$.pipe(map((t) => `${key} clock ${t}`)));

describe('nextTickAfter', () => {
  it('gives the first boundary strictly after a time, on every offset grid', () => {
    expect(nextTickAfter(0, 10, [0])).toBe(10);
    expect(nextTickAfter(9, 10, [0])).toBe(10);
    expect(nextTickAfter(10, 10, [0])).toBe(20);
    expect(nextTickAfter(-1, 10, [0])).toBe(0);
    expect(nextTickAfter(-11, 10, [0])).toBe(-10);
    expect(nextTickAfter(5, 10, [0, 3])).toBe(10);
    expect(nextTickAfter(11, 10, [0, 3])).toBe(13);
    expect(nextTickAfter(13, 10, [3, 0])).toBe(20);
    expect(nextTickAfter(-Infinity, 10, [0])).toBe(-Infinity);
  });

  it('agrees with counting intervals: a move from a to b crosses a boundary exactly when b >= nextTickAfter(a)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -100_000, max: 100_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 3 }),
        (a, step, every, offsets) => {
          const b = a + step;
          const crosses = offsets.some((o) => Math.floor((b - o) / every) > Math.floor((a - o) / every));
          expect(b >= nextTickAfter(a, every, offsets)).toBe(crosses);
        },
      ),
    );
  });
});

describe('partitionBy tickEveryMs', () => {
  const run = (values: string[], options: { tickEveryMs?: number; tickOffsetsMs?: number[] } = {}) => {
    const out: string[] = [];
    from(values).pipe(partitionBy({ keyOf, timestampOf, ...options, pipeline: reporting })).subscribe((line) => out.push(line));
    return out;
  };

  it('tells every partition at a tick boundary, and a partition the exact time just before and after its own values', () => {
    expect(run(['x1', 'y3', 'y5', 'x7', 'y12', 'x13', 'y4'], { tickEveryMs: 10 })).toEqual([
      'x got 1', 'x clock 1', // the first time crosses a boundary: every partition (x) hears it
      'y clock 1', 'y got 3', 'y clock 3', // y is replayed the clock, then hears its own 3
      'y got 5', 'y clock 5', // y already knew 3: nothing before its value
      'x clock 5', 'x got 7', 'x clock 7', // x missed 3 and 5: told 5 just before its value
      'y clock 7', 'y got 12', 'x clock 12', 'y clock 12', // 12 crosses 10: all, in creation order
      'x got 13', 'x clock 13',
      'y clock 13', 'y got 4', // a late value hears the time and moves nothing
    ]);
  });

  it('tells every partition at every increase without tickEveryMs', () => {
    expect(run(['x1', 'y3', 'y5'])).toEqual([
      'x got 1', 'x clock 1',
      'y clock 1', 'y got 3', 'x clock 3', 'y clock 3',
      'y got 5', 'x clock 5', 'y clock 5',
    ]);
  });

  it('ticks on the boundaries of every offset', () => {
    const clocks = (values: string[]) => run(values, { tickEveryMs: 10, tickOffsetsMs: [0, 3] }).filter((line) => line.startsWith('x clock'));
    // y2 tells y only; y4 crosses 3 and y11 crosses 10, so x hears both.
    expect(clocks(['x1', 'y2', 'y4', 'y11'])).toEqual(['x clock 1', 'x clock 4', 'x clock 11']);
  });

  it('never tells a subscriber the same time twice, even one that subscribed while its partition was behind', () => {
    const source = new Subject<string>();
    const subscribeLate = new Subject<void>();
    const out: string[] = [];
    source
      .pipe(
        partitionBy({
          keyOf,
          timestampOf,
          tickEveryMs: 100,
          pipeline: ({ key, eventTime$ }) => (input: Observable<string>) =>
            merge(
              input.pipe(map((v) => `${key} got ${v.slice(1)}`)),
              eventTime$.pipe(map((t) => `${key} first ${t}`)),
              subscribeLate.pipe(take(1), switchMap(() => eventTime$), map((t) => `${key} late ${t}`)),
            ),
        }),
      )
      .subscribe((line) => out.push(line));
    source.next('x1');
    source.next('y3');
    subscribeLate.next(); // x has heard only 1, the clock is at 3: the late subscribers are replayed 3
    source.next('x5');
    expect(out).toEqual([
      'x got 1', 'x first 1',
      'y first 1', 'y got 3', 'y first 3',
      'x late 3', 'y late 3',
      'x first 3', 'x got 5', 'x first 5', 'x late 5',
    ]);
  });

  it("ages a quiet partition's window at the tick, as on every increase", () => {
    type Star = { repo: string; t: number };
    const stars: Star[] = [{ repo: 'quiet', t: 0 }];
    for (let h = 0; h <= 24; h++) stars.push({ repo: 'busy', t: h * H + 30 * 60_000 });
    const run = (tickEveryMs?: number) => {
      const out: string[] = [];
      from(stars)
        .pipe(
          partitionBy({
            keyOf: (star: Star) => star.repo,
            timestampOf: (star) => star.t,
            ...(tickEveryMs === undefined ? {} : { tickEveryMs }),
            pipeline: ({ eventTime$ }) => slidingHourWindow({ keyOf: (star: Star) => star.repo, timestampOf: (star) => star.t, eventTime$ }),
          }),
        )
        .subscribe((c) => out.push(`${c.key}:${c.total}@${c.windowStart / H}`));
      return out;
    };
    const ticked = run(H);
    expect(ticked).toContain('quiet:0@1');
    expect(ticked).toEqual(run());
  });

  it('restores from a checkpoint taken between ticks and goes on as an uninterrupted run', () => {
    const copy = (snapshot: ScopeSnapshot): ScopeSnapshot => deserialize(serialize(snapshot)) as ScopeSnapshot;
    const values = ['x1', 'y3', 'y5', 'x7', 'y12', 'z14', 'x16', 'y25', 'z27'];
    const build = () => partitionBy({ uid: 'p', keyOf, timestampOf, tickEveryMs: 10, pipeline: reporting });
    const whole: string[] = [];
    from(values).pipe(build()).subscribe((line) => whole.push(line));
    for (let cut = 1; cut < values.length; cut++) {
      const out: string[] = [];
      const before = new Subject<string>();
      const scope = new StateScope();
      withStateScope(scope, () => before.pipe(build()).subscribe((line) => out.push(line)));
      values.slice(0, cut).forEach((v) => before.next(v));
      const saved = copy(scope.snapshot());
      const after = new Subject<string>();
      const resumed: string[] = [];
      withStateScope(new StateScope(saved), () => after.pipe(build()).subscribe((line) => resumed.push(line)));
      // A restored partition is replayed the clock when it subscribes: that may repeat a time.
      const replayed = resumed.filter((line) => line.includes('clock'));
      resumed.splice(0, replayed.length);
      values.slice(cut).forEach((v) => after.next(v));
      after.complete();
      const expectedAfter = whole.slice(out.length);
      // What the partitions got, in order, is exactly the uninterrupted run's.
      expect(resumed.filter((l) => l.includes('got'))).toEqual(expectedAfter.filter((l) => l.includes('got')));
      // Every time told after the restore is one the uninterrupted run told that partition too.
      for (const line of resumed.filter((l) => l.includes('clock'))) expect(expectedAfter).toContain(line);
    }
  });

  it('rejects bad tick options at creation', () => {
    const pipeline = () => map((v: string) => v);
    const bad = (options: object, message: RegExp) => expect(() => partitionBy({ keyOf, pipeline, timestampOf, ...options } as never)).toThrow(message);
    bad({ tickEveryMs: 0 }, /partitionBy: tickEveryMs must be a finite number > 0/);
    bad({ tickEveryMs: Infinity }, /partitionBy: tickEveryMs must be a finite number > 0/);
    bad({ tickOffsetsMs: [0] }, /partitionBy: tickOffsetsMs needs tickEveryMs/);
    bad({ tickEveryMs: 10, tickOffsetsMs: [] }, /partitionBy: tickOffsetsMs must be a non-empty array/);
    bad({ tickEveryMs: 10, tickOffsetsMs: [0, -1] }, /partitionBy: tickOffsetsMs\[1\] must be a finite number >= 0/);
    expect(() => partitionBy({ keyOf, pipeline, tickEveryMs: 10 })).toThrow(/partitionBy: tickEveryMs needs timestampOf/);
    expect(() => partitionBy({ keyOf, pipeline, timestampOf, tickEveryMs: 10, tickOffsetsMs: [0, 3] })).not.toThrow();
  });
});
