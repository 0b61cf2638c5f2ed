import { catchError, delay, endWith, map, merge, Observable, of, OperatorFunction, pipe, range, SchedulerAction, SchedulerLike, take, takeUntil, tap, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { hashMod, partitionBy, PartitionContext, RivuletError, slidingHourWindow, statefulScan, wallarooHashRing } from 'rivulet';
import { betweenMergeMaps, EndlessSource } from './operatorCases';

const boom = new Error('boom');
const failed = (callback: string) =>
  new RivuletError('ERR_CALLBACK_FAILED', `partitionBy: ${callback} threw: boom`, { cause: boom });

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** Values like 'x3': the key is the letter, the amount the number. */
const keyOf = (value: string) => value[0];

/** Per partition: emits `key=running sum` for each value and `key!final sum` when it ends. */
function runningSum(key: string): OperatorFunction<string, string> {
  return statefulScan<string, { sum: number }, string>({
    seed: () => ({ sum: 0 }),
    step: (state, value, emit) => {
      state.sum += Number(value.slice(1));
      emit(`${key}=${state.sum}`);
      return state;
    },
    flush: (state, emit) => emit(`${key}!${state.sum}`),
  });
}

/** Wraps a scheduler to count how many actions are scheduled, pending at once, run and cancelled. */
function instrument(inner: SchedulerLike) {
  const stats = { scheduled: 0, pending: 0, maxPending: 0, ran: 0, cancelled: 0 };
  const scheduler: SchedulerLike = {
    now: () => inner.now(),
    schedule<S>(work: (this: SchedulerAction<S>, state?: S) => void, delayMs?: number, state?: S) {
      let pending = true;
      stats.scheduled++;
      stats.maxPending = Math.max(stats.maxPending, ++stats.pending);
      const action = inner.schedule(
        function (this: SchedulerAction<S>, s?: S) {
          pending = false;
          stats.pending--;
          stats.ran++;
          work.call(this, s);
        },
        delayMs,
        state,
      );
      action.add(() => {
        if (!pending) return;
        pending = false;
        stats.pending--;
        stats.cancelled++;
      });
      return action;
    },
  };
  return { scheduler, stats };
}

describe('partitionBy', () => {
  it('routes values by key, keeps state per partition and merges the outputs', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-d-|', { a: 'x1', b: 'y2', c: 'x3', d: 'y4' });
      const result = source.pipe(partitionBy({ keyOf, pipeline: ({ key }) => runningSum(key) }));
      expectObservable(result).toBe('-1-2-3-4-(56|)', { 1: 'x=1', 2: 'y=2', 3: 'x=4', 4: 'y=6', 5: 'x!4', 6: 'y!6' });
      expectSubscriptions(source.subscriptions).toBe('^--------!');
    });
  });

  it('keeps input order within a partition', () => {
    const values = Array.from({ length: 300 }, (_, i) => `${'pqr'[(i * 7) % 3]}${i}`);
    const seen = new Map<string, number[]>();
    of(...values)
      .pipe(partitionBy({ keyOf, pipeline: ({ key }) => map((v: string) => [key, Number(v.slice(1))] as const) }))
      .subscribe(([key, n]) => seen.set(key, [...(seen.get(key) ?? []), n]));
    for (const key of 'pqr') {
      const expected = values.filter((v) => v[0] === key).map((v) => Number(v.slice(1)));
      expect(seen.get(key)).toEqual(expected);
    }
  });

  it('completes at once on an empty source without creating a partition', () => {
    let created = 0;
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<string>('---|');
      const result = source.pipe(partitionBy({ keyOf, pipeline: ({ key }) => (created++, runningSum(key)) }));
      expectObservable(result).toBe('---|');
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
    expect(created).toBe(0);
  });

  it('emits nothing and stays subscribed on a never source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<string>('-');
      expectObservable(source.pipe(partitionBy({ keyOf, pipeline: ({ key }) => runningSum(key) }))).toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('waits for every partition output to complete before completing', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const result = cold('-a-b|', { a: 'x1', b: 'y2' }).pipe(partitionBy({ keyOf, pipeline: () => delay(5) }));
      expectObservable(result).toBe('------a-(b|)', { a: 'x1', b: 'y2' });
    });
  });

  it('on a source error errors every open partition input, then the result with that error', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-#', { a: 'x1', b: 'y2' }, boom);
      const result = source.pipe(
        partitionBy({
          keyOf,
          pipeline: ({ key }) => pipe(runningSum(key), catchError((err: Error) => of(`${key} saw ${err.message}`))),
        }),
      );
      expectObservable(result).toBe('-1-2-(ab#)', { 1: 'x=1', 2: 'y=2', a: 'x saw boom', b: 'y saw boom' }, boom);
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it("ends with the source's error even when a partition turns it into another error", () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const other = new Error('other');
      const source = cold('-a-#', { a: 'x1' }, boom);
      const result = source.pipe(partitionBy({ keyOf, pipeline: () => catchError(() => throwError(() => other)) }));
      expectObservable(result).toBe('-a-#', { a: 'x1' }, boom);
    });
  });

  it("errors the whole result when one partition errors, and tears the others down", () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a: 'x1', b: 'y2', c: 'x3' });
      const notifier = cold('-');
      const result = source.pipe(
        partitionBy({
          keyOf,
          pipeline: ({ key }): OperatorFunction<string, string> =>
            key === 'y'
              ? map(() => {
                  throw boom;
                })
              : takeUntil(notifier),
        }),
      );
      expectObservable(result).toBe('-a-#', { a: 'x1' }, boom);
      expectSubscriptions(source.subscriptions).toBe('^--!');
      expectSubscriptions(notifier.subscriptions).toBe('-^-!');
    });
  });

  it.each(['keyOf', 'partitionOf', 'timestampOf', 'pipeline'])('errors with ERR_CALLBACK_FAILED when %s throws', (callback) => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', { a: 'x1', b: 'y2', c: 'x3' });
      const notifier = cold('-');
      const throwsOn = (value: string) => {
        if (value === 'y' || value === 'y2') throw boom;
      };
      const result = source.pipe(
        partitionBy<string, string, string, string>({
          keyOf: (v) => (callback === 'keyOf' && throwsOn(v), keyOf(v)),
          partitioner: { name: 'test', partitionOf: (k) => (callback === 'partitionOf' && throwsOn(k), k) },
          timestampOf: (v) => (callback === 'timestampOf' && throwsOn(v), 0),
          pipeline: ({ key }) => (callback === 'pipeline' && throwsOn(key), takeUntil(notifier)),
        }),
      );
      expectObservable(result).toBe('-a-#', { a: 'x1' }, failed(callback));
      expectSubscriptions(source.subscriptions).toBe('^--!');
      expectSubscriptions(notifier.subscriptions).toBe('-^-!');
    });
  });

  it('errors with ERR_CALLBACK_FAILED when pipeline does not return an operator', () => {
    const errors: unknown[] = [];
    of('x1')
      .pipe(partitionBy({ keyOf, pipeline: () => 'not an operator' as unknown as OperatorFunction<string, string> }))
      .subscribe({ error: (err) => errors.push(err) });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'ERR_CALLBACK_FAILED', message: expect.stringMatching(/^partitionBy: pipeline threw/) });
  });

  it('errors with ERR_INVALID_VALUE when a timestamp is not a finite number', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-|', { a: 'x1', b: 'yNaN' });
      const result = source.pipe(partitionBy({ keyOf, timestampOf: (v) => Number(v.slice(1)), pipeline: () => map((v: string) => v) }));
      const error = new RivuletError('ERR_INVALID_VALUE', 'partitionBy: timestampOf returned NaN, not a finite number');
      expectObservable(result).toBe('-a-#', { a: 'x1' }, error);
    });
  });

  it('tears down the source, every partition and the pending sweep on early unsubscribe', () => {
    const ts = testScheduler();
    const { scheduler, stats } = instrument(ts);
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-d-|', { a: 'x1', b: 'y2', c: 'x3', d: 'y4' });
      const notifier = cold('-');
      const result = source.pipe(
        partitionBy({ keyOf, idleTimeoutMs: 10, scheduler, pipeline: ({ key }) => pipe(takeUntil(notifier), runningSum(key)) }),
      );
      expectObservable(result, '----!').toBe('-1-2-', { 1: 'x=1', 2: 'y=2' });
      expectSubscriptions(source.subscriptions).toBe('^---!');
      expectSubscriptions(notifier.subscriptions).toBe(['-^--!', '---^!']);
    });
    expect(stats).toMatchObject({ scheduled: 1, ran: 0, cancelled: 1, pending: 0 });
  });

  it('stops listening to a synchronous source when unsubscribed', () => {
    const endless = new EndlessSource((i) => `${'xyz'[i % 3]}${i}`);
    const flushed: string[] = [];
    const seen: string[] = [];
    endless.source
      .pipe(
        partitionBy({ keyOf, pipeline: ({ key }) => pipe(runningSum(key), tap({ finalize: () => flushed.push(key) })) }),
        take(3),
      )
      .subscribe((v) => seen.push(v));
    expect(seen).toEqual(['x=0', 'y=1', 'z=2']);
    expect(endless.pulls).toBe(3);
    // The partitions were torn down with the result, not completed (no flush output).
    expect(flushed).toEqual(['x', 'y', 'z']);
  });

  it('stops when a partition emits as it is subscribed (its replayed eventTime$)', () => {
    const endless = new EndlessSource((i) => `${'xy'[i % 2]}${i}`);
    const seen: string[] = [];
    endless.source
      .pipe(
        partitionBy({
          keyOf,
          timestampOf: (v) => Number(v.slice(1)),
          pipeline: ({ key, eventTime$ }) => (input: Observable<string>) => merge(input, eventTime$.pipe(map((t) => `${key}@${t}`))),
        }),
        take(3),
      )
      .subscribe((v) => seen.push(v));
    // x0 is routed, the clock moves to 0; y's partition is created at y1 and replays 0 at once.
    expect(seen).toEqual(['x0', 'x@0', 'y@0']);
    expect(endless.pulls).toBe(2);
  });

  it('does not break unsubscription chains', () => {
    testScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c-d-|', { a: 'x1', b: 'y2', c: 'x3', d: 'y4' });
      const result = source.pipe(betweenMergeMaps(partitionBy({ keyOf, pipeline: ({ key }: PartitionContext<string>) => runningSum(key) })));
      expectObservable(result, '----!').toBe('-1-2-', { 1: 'x=1', 2: 'y=2' });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('gives two subscriptions to the same operator separate partitions and state', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const operator = partitionBy({ keyOf, pipeline: ({ key }: PartitionContext<string>) => runningSum(key) });
      expectObservable(cold('-a-a-|', { a: 'x1' }).pipe(operator)).toBe('-1-2-(3|)', { 1: 'x=1', 2: 'x=2', 3: 'x!2' });
      expectObservable(cold('--a-a-|', { a: 'x5' }).pipe(operator)).toBe('--1-2-(3|)', { 1: 'x=5', 2: 'x=10', 3: 'x!10' });
    });
  });

  it('keeps a partition whose output completed early until it is ended', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      let created = 0;
      const source = cold('-a-b-c-|', { a: 'x1', b: 'x2', c: 'y3' });
      const result = source.pipe(partitionBy({ keyOf, pipeline: () => (created++, take(1)) }));
      expectObservable(result).toBe('-a---c-|', { a: 'x1', c: 'y3' });
    });
  });

  describe('eviction', () => {
    it('ends partitions idle on the scheduler with one pending sweep at a time; a later value starts fresh', () => {
      const ts = testScheduler();
      const { scheduler, stats } = instrument(ts);
      const created: string[] = [];
      ts.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('a-b-c---------d-|', { a: 'x1', b: 'y2', c: 'x3', d: 'x5' });
        const notifier = cold('-');
        const result = source.pipe(
          partitionBy({
            keyOf,
            idleTimeoutMs: 5,
            scheduler,
            pipeline: ({ key }) => (created.push(key), pipe(takeUntil(notifier), runningSum(key))),
          }),
        );
        expectObservable(result).toBe('a-b-c--d-e----f-(g|)', {
          a: 'x=1', b: 'y=2', c: 'x=4', d: 'y!2', e: 'x!4', f: 'x=5', g: 'x!5',
        });
        expectSubscriptions(source.subscriptions).toBe('^---------------!');
        expectSubscriptions(notifier.subscriptions).toBe(['^--------!', '--^----!', '--------------^-!']);
      });
      expect(created).toEqual(['x', 'y', 'x']);
      expect(stats.maxPending).toBe(1);
      expect(stats.pending).toBe(0);
    });

    it('uses asyncScheduler by default (virtual inside TestScheduler.run)', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const source = cold('a 9ms b 20ms |', { a: 'x1', b: 'y2' });
        const result = source.pipe(partitionBy({ keyOf, idleTimeoutMs: 5, pipeline: ({ key }) => runningSum(key) }));
        expectObservable(result).toBe('a 4ms d 4ms b 4ms e 15ms |', { a: 'x=1', d: 'x!1', b: 'y=2', e: 'y!2' });
      });
    });

    it('ends partitions idle in event time, after routing the value that aged them', () => {
      const created: string[] = [];
      testScheduler().run(({ cold, expectObservable }) => {
        const source = cold('-a-b-c-d---e---|', { a: 'x0', b: 'y5', c: 'x12', d: 'x16', e: 'y20' });
        const result = source.pipe(
          partitionBy({
            keyOf,
            timestampOf: (v) => Number(v.slice(1)),
            idleEventTimeMs: 10,
            pipeline: ({ key }) => (created.push(key), runningSum(key)),
          }),
        );
        // The amounts double as timestamps: y (last event 5) is 11 behind when x16 arrives.
        expectObservable(result).toBe('-a-b-c-(de)f---(gh|)', {
          a: 'x=0', b: 'y=5', c: 'x=12', d: 'x=28', e: 'y!5', f: 'y=20', g: 'x!28', h: 'y!20',
        });
      });
      expect(created).toEqual(['x', 'y', 'y']);
    });

    it('caps live partitions: creating one more ends the least recently used, which flushes', () => {
      testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-a-b-c-d---e---|', { a: 'x1', b: 'y2', c: 'x3', d: 'z4', e: 'y5' });
        const notifier = cold('-');
        const result = source.pipe(
          partitionBy({ keyOf, maxPartitions: 2, pipeline: ({ key }) => pipe(takeUntil(notifier), runningSum(key)) }),
        );
        expectObservable(result).toBe('-1-2-3-(45)(67)(89|)', {
          1: 'x=1', 2: 'y=2', 3: 'x=4', 4: 'y!2', 5: 'z=4', 6: 'x!4', 7: 'y=5', 8: 'z!4', 9: 'y!5',
        });
        expectSubscriptions(notifier.subscriptions).toBe([
          '-^---------!', // x, ended when y comes back
          '---^---!', // y, least recently used when z is created
          '-------^-------!', // z
          '-----------^---!', // y again, fresh
        ]);
      });
    });

    it('stays bounded over 100,000 distinct keys with maxPartitions 100', () => {
      let created = 0;
      let live = 0;
      let maxLive = 0;
      const flushed: number[] = [];
      range(0, 100_000)
        .pipe(
          partitionBy({
            keyOf: (i: number) => i,
            maxPartitions: 100,
            pipeline: ({ key }) => {
              created++;
              maxLive = Math.max(maxLive, ++live);
              return statefulScan<number, number, number>({
                seed: () => 0,
                step: (count) => count + 1,
                flush: (count, emit) => {
                  live--;
                  emit(key * 10 + count);
                },
              });
            },
          }),
        )
        .subscribe((output) => flushed.push(output));
      expect(created).toBe(100_000);
      expect(maxLive).toBe(100);
      expect(live).toBe(0);
      expect(flushed).toHaveLength(100_000);
      // Least recently used first: the keys end in arrival order, each having seen one value.
      expect(flushed.every((output, i) => output === i * 10 + 1)).toBe(true);
    });
  });

  describe('global event time', () => {
    it("gives every partition's eventTime$ the stream's maximum, replayed on subscribe, after the value is routed", () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const source = cold('-a----b----c----|', { a: 'x10', b: 'y5', c: 'y20' });
        const result = source.pipe(
          partitionBy({
            keyOf,
            timestampOf: (v) => Number(v.slice(1)),
            pipeline: ({ key, eventTime$ }) => (input: Observable<string>) =>
              merge(input.pipe(map((v) => `${key} got ${v.slice(1)}`)), eventTime$.pipe(map((t) => `${key} clock ${t}`))),
          }),
        );
        expectObservable(result).toBe('-(ab)-(cd)-(efg)|', {
          a: 'x got 10', b: 'x clock 10',
          c: 'y clock 10', d: 'y got 5',
          e: 'y got 20', f: 'x clock 20', g: 'y clock 20',
        });
      });
    });

    it("event time is global: with events for 25 hours in one partition only, another partition's 24-hour window empties", () => {
      const HOUR = 3_600_000;
      type Star = { repo: string; t: number };
      // 'quiet' gets one star at 00:00; 'busy' gets one star an hour from 00:30 to 24:30.
      const stars: Star[] = [{ repo: 'quiet', t: 0 }];
      for (let h = 0; h <= 24; h++) stars.push({ repo: 'busy', t: h * HOUR + 30 * 60_000 });
      const run = (global: boolean) => {
        let routedHour = 0;
        const quiet: { total: number; atHour: number; windowStart: number }[] = [];
        of(...stars)
          .pipe(
            tap((star) => (routedHour = star.t / HOUR)),
            partitionBy({
              keyOf: (star: Star) => star.repo,
              timestampOf: (star) => star.t,
              pipeline: ({ eventTime$ }) =>
                slidingHourWindow({ keyOf: (star: Star) => star.repo, timestampOf: (star) => star.t, eventTime$: global ? eventTime$ : undefined }),
            }),
          )
          .subscribe((change) => {
            if (change.key === 'quiet') quiet.push({ total: change.total, atHour: routedHour, windowStart: change.windowStart });
          });
        return quiet;
      };
      // The star at 24:30 moves the watermark into hour 24: pane [00:00, 01:00) leaves the window.
      expect(run(true)).toEqual([
        { total: 1, atHour: 0, windowStart: -23 * HOUR },
        { total: 0, atHour: 24.5, windowStart: 1 * HOUR },
      ]);
      // Control: fed only its own events, the quiet partition keeps its stale count.
      expect(run(false)).toEqual([{ total: 1, atHour: 0, windowStart: -23 * HOUR }]);
    });

    it('completes eventTime$ when the partition ends, and never emits without timestampOf', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const source = cold('-a-b----|', { a: 'x1', b: 'y2' });
        const result = source.pipe(
          partitionBy({
            keyOf,
            maxPartitions: 1,
            pipeline: ({ key, eventTime$ }) => (input: Observable<string>) =>
              merge(input, eventTime$.pipe(map((t) => `${key} clock ${t}`), endWith(`${key} clock done`))),
          }),
        );
        expectObservable(result).toBe('-a-(bc)-(d|)', { a: 'x1', b: 'x clock done', c: 'y2', d: 'y clock done' });
      });
    });
  });

  it('routes by the Wallaroo hash ring, one partition per ring node', () => {
    // From vectors.jsonl: okhttp -> 4, davesbingrewardsbot -> 3, Vadek and d-statistics -> 9.
    const repos = ['square/okhttp', 'davidjhulse/davesbingrewardsbot', 'christoferpeterson/Vadek', 'xndcn/d-statistics'];
    const created: number[] = [];
    const outputs: string[] = [];
    of(...repos)
      .pipe(
        partitionBy({
          keyOf: (repo: string) => repo,
          partitioner: wallarooHashRing(10),
          pipeline: ({ key }) => (created.push(key), map((repo: string) => `${key}:${repo}`)),
        }),
      )
      .subscribe((line) => outputs.push(line));
    expect(created).toEqual([4, 3, 9]);
    expect(outputs).toEqual(['4:square/okhttp', '3:davidjhulse/davesbingrewardsbot', '9:christoferpeterson/Vadek', '9:xndcn/d-statistics']);
  });

  it('runs the documented example', () => {
    const lines: string[] = [];
    of({ user: 'ann', n: 1 }, { user: 'bob', n: 5 }, { user: 'ann', n: 2 })
      .pipe(
        partitionBy({
          keyOf: (e) => e.user,
          pipeline: ({ key }) =>
            statefulScan({
              seed: () => 0,
              step: (sum: number, e: { n: number }, emit: (line: string) => void) => {
                emit(`${key}:${sum + e.n}`);
                return sum + e.n;
              },
            }),
        }),
      )
      .subscribe((line) => lines.push(line));
    expect(lines).toEqual(['ann:1', 'bob:5', 'ann:3']);
  });

  it('rejects bad options at creation', () => {
    const pipeline = () => map((v: string) => v);
    const bad = (options: object, message: RegExp) =>
      expect(() => partitionBy({ keyOf, pipeline, ...options } as never)).toThrow(message);
    bad({ keyOf: 'x' }, /partitionBy: keyOf must be a function/);
    bad({ pipeline: undefined }, /partitionBy: pipeline must be a function/);
    bad({ partitioner: {} }, /partitionBy: partitioner must have a partitionOf/);
    bad({ timestampOf: 3 }, /partitionBy: timestampOf must be a function/);
    bad({ idleTimeoutMs: 0 }, /partitionBy: idleTimeoutMs must be a finite number > 0/);
    bad({ scheduler: testScheduler() }, /partitionBy: scheduler is only used with idleTimeoutMs/);
    bad({ idleEventTimeMs: -1, timestampOf: () => 0 }, /partitionBy: idleEventTimeMs must be a finite number > 0/);
    bad({ idleEventTimeMs: 10 }, /partitionBy: idleEventTimeMs needs timestampOf/);
    bad({ maxPartitions: 0 }, /partitionBy: maxPartitions must be an integer >= 1/);
    bad({ maxPartitions: 2.5 }, /partitionBy: maxPartitions must be an integer >= 1/);
    expect(() => partitionBy({ keyOf, pipeline, partitioner: hashMod(3) as never })).not.toThrow();
  });
});
