import { from, lastValueFrom, map, Observable, OperatorFunction, toArray } from 'rxjs';
import {
  closeRedis, connectRedis, FlowGate, DistributedApp, distributedApp, DistributedContext, hashMod, joinScope, partitionBy, readResults, RedisClient,
  route, RouteEvent, runWorker, WorkerEvent,
} from 'rivulet';
import { COMMIT } from '../../../lib/distributed/scripts';
import { startRedis, RedisServer } from '../../support/redis';

const HOUR = 3_600_000;

interface Visit {
  user: string;
  n: number;
  at: number;
}

interface Line {
  partition: number;
  text: string;
}

/**
 * Running sums per user and an hourly line once the partition has data: a small stateful
 * operator scoped with joinScope (the way rivulet's operators take part in checkpoints), which
 * reads the global clock from `eventTime$`.
 */
function sums(uid: string | undefined, { key, eventTime$ }: DistributedContext<number>): OperatorFunction<Visit, Line> {
  return (source) =>
    new Observable<Line>((subscriber) => {
      let state = { totals: new Map<string, number>(), hour: -Infinity };
      const leave = joinScope('sums', uid, () => ({
        kind: 'sums',
        version: 1,
        fingerprint: 'v1',
        snapshot: () => state,
        restore: (saved) => (state = saved as typeof state),
      }));
      const clock = eventTime$.subscribe((t) => {
        const hour = Math.floor(t / HOUR);
        if (hour <= state.hour) return;
        state.hour = hour;
        if (state.totals.size > 0) subscriber.next({ partition: key, text: `hour ${hour}: ${[...state.totals].map(([u, s]) => `${u}=${s}`).join(' ')}` });
      });
      const inner = source.subscribe({
        next(visit) {
          const total = (state.totals.get(visit.user) ?? 0) + visit.n;
          state.totals.set(visit.user, total);
          subscriber.next({ partition: key, text: `${visit.user}=${total}` });
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
      return () => {
        leave();
        clock.unsubscribe();
        inner.unsubscribe();
      };
    });
}

const partitioning = {
  keyOf: (v: Visit) => v.user,
  partitioner: hashMod(4),
  timestampOf: (v: Visit) => v.at,
  pipeline: (context: DistributedContext<number>) => sums('sums', context),
};

function visitsApp(name: string, overrides: Partial<Parameters<typeof distributedApp<Visit, string, number, Line>>[0]> = {}): DistributedApp<Visit, string, number, Line> {
  return distributedApp({ name, ...partitioning, ...overrides });
}

/** Visits over several hours with gaps (a quiet hour still moves every partition's clock). */
function visits(count: number, seed = 7): Visit[] {
  let x = seed;
  const random = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let at = Date.UTC(2015, 0, 1);
  return Array.from({ length: count }, () => {
    at += Math.floor(random() * (random() < 0.02 ? 3 * HOUR : 60_000));
    return { user: `u${Math.floor(random() * 23)}`, n: 1 + Math.floor(random() * 5), at };
  });
}

/** Emits `values` while `gate` flows, as rivulet's file and socket sources do. */
function gated<T>(values: readonly T[], gate: FlowGate): Observable<T> {
  return new Observable<T>((subscriber) => {
    let i = 0;
    const pump = (): void => {
      while (i < values.length && !gate.paused && !subscriber.closed) subscriber.next(values[i++]);
      if (i === values.length) subscriber.complete();
    };
    const off = gate.onChange((paused) => paused || setImmediate(pump));
    pump();
    return off;
  });
}

/** What partitionBy emits in one process, by partition, in order. */
async function singleProcess(input: Visit[]): Promise<Map<number, string[]>> {
  const lines = await lastValueFrom(from(input).pipe(partitionBy(partitioning), toArray()));
  return byPartition(lines.map((l) => [l.partition, l.text]));
}

function byPartition(pairs: Array<[number, string]>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const [p, text] of pairs.sort((a, b) => a[0] - b[0])) out.set(p, [...(out.get(p) ?? []), text]);
  return out;
}

async function results(client: RedisClient, app: DistributedApp<Visit, string, number, Line>): Promise<Map<number, string[]>> {
  const records = await lastValueFrom(readResults(client, app).pipe(toArray()));
  for (const p of app.partitions) {
    const seqs = records.filter((r) => r.partition === p).map((r) => r.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  }
  return byPartition(records.map((r) => [r.partition, r.value.text]));
}

/** The partitions a worker holds, from its events. */
function holding(events: readonly WorkerEvent[]): Set<unknown> {
  const held = new Set<unknown>();
  for (const e of events) {
    if (e.type === 'gained') held.add(e.partition);
    if (e.type === 'lost') held.delete(e.partition);
  }
  return held;
}

/** A worker in this process, stopped by `stop()` (a clean stop: commit, release, leave). */
function startWorker(url: string, app: DistributedApp<Visit, string, number, Line>, extra: Parameters<typeof runWorker>[2] = {}) {
  const client = connectRedis({ url });
  const control = new AbortController();
  const events: WorkerEvent[] = [];
  const waiters: Array<() => void> = [];
  const done = runWorker(client, app, {
    leaseMs: 400,
    batchEntries: 50,
    ...extra,
    signal: control.signal,
    onEvent: (e) => {
      events.push(e);
      for (const w of waiters.splice(0)) w();
    },
  });
  const until = (test: (events: WorkerEvent[]) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (test(events) ? resolve() : waiters.push(check));
      done.catch(reject);
      check();
    });
  return {
    client,
    events,
    done,
    until,
    async stop() {
      control.abort();
      await done.catch(() => undefined);
      await closeRedis(client);
    },
    /** Drops the connection without releasing anything: to the others, this worker died. */
    async vanish() {
      client.disconnect();
      control.abort();
      await done.catch(() => undefined);
    },
  };
}

describe('distributed runs on one Redis node', () => {
  let redis: RedisServer;
  let client: RedisClient;
  const workers: Array<{ stop(): Promise<void> }> = [];
  let appCount = 0;
  const nextName = () => `visits-${++appCount}`;

  beforeAll(async () => {
    redis = await startRedis();
    client = connectRedis({ url: redis.url });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await closeRedis(client);
    await redis?.destroy();
  });

  it('routes values as <seq>-0 and, after a value that crosses an hour, a tick <seq>-1 to every partition; a finished input is not routed again; the next input continues the numbering', async () => {
    const app = visitsApp(nextName());
    const input = [
      { user: 'a', n: 1, at: 10 * HOUR + 5 },
      { user: 'b', n: 1, at: 10 * HOUR + 9 },
      { user: 'c', n: 1, at: 11 * HOUR },
      { user: 'a', n: 1, at: 10 * HOUR + 1 },
    ];
    const first = await route(client, app, { source: () => from(input), inputId: 'first' });
    expect(first).toMatchObject({ outcome: 'routed', values: 4, ticks: 2, skipped: 0, base: 0 });
    const streams = await Promise.all(app.partitionKeys.map((k) => client.xrange(k.input, '-', '+')));
    const partitionOf = (user: string) => hashMod(4).partitionOf(user);
    streams.forEach((entries, p) => {
      const expected: Array<[string, string[]]> = [];
      input.forEach((v, i) => {
        if (partitionOf(v.user) === p) expected.push([`${i + 1}-0`, ['e', JSON.stringify(v)]]);
        if (i === 0) expected.push(['1-1', ['t', String(10 * HOUR + 5)]]);
        if (i === 2) expected.push(['3-1', ['t', String(11 * HOUR)]]);
      });
      expect(entries).toEqual(expected);
    });
    expect(first.appendedByPartition.reduce((a, b) => a + b)).toBe(4);

    await expect(route(client, app, { source: () => from(input), inputId: 'first' })).resolves.toMatchObject({ outcome: 'already-routed', values: 4 });
    const second = await route(client, app, { source: () => from([{ user: 'a', n: 2, at: 12 * HOUR }]), inputId: 'second' });
    expect(second).toMatchObject({ outcome: 'routed', values: 1, base: 4, ticks: 1 });
    const a = app.partitionKeys[partitionOf('a')].input;
    expect((await client.xrevrange(a, '+', '-', 'COUNT', 2)).map(([id]) => id)).toEqual(['5-1', '5-0']);
  });

  it('applies the future bound as partitionBy does: an outlier is rejected, a confirmed jump is routed in arrival order with the next numbers', async () => {
    const echo = { ...partitioning, maxFutureMs: HOUR, pipeline: ({ key }: DistributedContext<number>) => (s: Observable<Visit>) => s.pipe(map((v) => ({ partition: key, text: v.user }))) };
    const app = distributedApp({ name: nextName(), ...echo });
    const t0 = 10 * HOUR;
    const input: Visit[] = [
      { user: 'a', n: 1, at: t0 },
      { user: 'outlier', n: 1, at: t0 + 10 * HOUR },
      { user: 'c', n: 1, at: t0 + 60_000 },
      { user: 'd', n: 1, at: t0 + 20 * HOUR },
      { user: 'e', n: 1, at: t0 + 20 * HOUR + 1 },
      { user: 'f', n: 1, at: t0 + 20 * HOUR + 2 },
      { user: 'g', n: 1, at: t0 + 20 * HOUR + 3 },
    ];
    const rejected: Visit[] = [];
    const summary = await route(client, app, { source: () => from(input), inputId: 'all', onRejected: (v) => rejected.push(v) });
    expect(summary).toMatchObject({ values: 6, rejected: 1, ticks: 2 });
    expect(rejected.map((v) => v.user)).toEqual(['outlier']);
    const routed = (await Promise.all(app.partitionKeys.map((k) => client.xrange(k.input, '-', '+'))))
      .flat()
      .filter(([, fields]) => fields[0] === 'e')
      .sort(([x], [y]) => parseInt(x, 10) - parseInt(y, 10))
      .map(([id, fields]) => `${id} ${(JSON.parse(fields[1]) as Visit).user}`);
    expect(routed).toEqual(['1-0 a', '2-0 c', '3-0 d', '4-0 e', '5-0 f', '6-0 g']);
    // partitionBy in one process delivers the same values to the same partitions, in the same order.
    const oneProcess = await lastValueFrom(from(input).pipe(partitionBy(echo), toArray()));
    workers.push(startWorker(redis.url, app));
    expect(await results(client, app)).toEqual(byPartition(oneProcess.map((l) => [l.partition, l.text])));
  });

  it('a router stopped midway appends exactly what was missing when run again, and refuses another input meanwhile', async () => {
    const input = visits(3000);
    const app = visitsApp(nextName());
    const whole = visitsApp(nextName());
    await route(client, whole, { source: () => from(input), inputId: 'all' });

    const control = new AbortController();
    let seen = 0;
    const partial = await route(client, app, {
      inputId: 'all',
      maxInFlight: 100,
      signal: control.signal,
      source: () => new Observable<Visit>((s) => {
        // Stops after 1000 values, as a crash would, with appends still in flight.
        for (const v of input) {
          if (s.closed) return;
          if (++seen === 1000) control.abort();
          s.next(v);
        }
        s.complete();
      }),
    });
    expect(partial.outcome).toBe('stopped');
    await expect(route(client, app, { source: () => from(input), inputId: 'other' })).rejects.toMatchObject({ code: 'ERR_CHECKPOINT_INCOMPATIBLE', message: expect.stringMatching(/did not finish/) });
    const resumed = await route(client, app, { source: () => from(input), inputId: 'all' });
    expect(resumed.outcome).toBe('routed');
    expect(resumed.skipped).toBeGreaterThan(0);
    for (let p = 0; p < 4; p++) {
      expect(await client.xrange(app.partitionKeys[p].input, '-', '+')).toEqual(await client.xrange(whole.partitionKeys[p].input, '-', '+'));
    }
  });

  it('two workers emit, per partition, what partitionBy emits in one process, with outputs numbered 1, 2, 3, ... per partition', async () => {
    const input = visits(4000);
    const app = visitsApp(nextName());
    await route(client, app, { source: () => from(input), inputId: 'all' });
    const a = startWorker(redis.url, app);
    const b = startWorker(redis.url, app);
    workers.push(a, b);
    expect(await results(client, app)).toEqual(await singleProcess(input));
    const gained = (w: typeof a) => w.events.filter((e) => e.type === 'gained').length;
    await Promise.all([a.until(() => gained(a) > 0), b.until(() => gained(b) > 0)]);
  });

  it('a worker that vanishes without releasing is taken over after its lease, from its last commit: nothing lost, nothing repeated', async () => {
    const input = visits(6000, 11);
    const app = visitsApp(nextName());
    const a = startWorker(redis.url, app, { batchEntries: 20 });
    workers.push(a);
    const routing = route(client, app, { source: (gate) => gated(input, gate), inputId: 'all', maxBacklog: 200, maxInFlight: 100 });
    await a.until((events) => events.filter((e) => e.type === 'committed').length >= 20);
    await a.vanish();
    const b = startWorker(redis.url, app);
    workers.push(b);
    await routing;
    expect(await results(client, app)).toEqual(await singleProcess(input));
    // b resumed each partition from a's commits, not from the start.
    expect(b.events.filter((e) => e.type === 'gained').some((e) => e.type === 'gained' && e.offset !== '0-0')).toBe(true);
  });

  it('pauses the source while a partition holds more than the backlog bound, and finishes once a worker consumes', async () => {
    const app = visitsApp(nextName());
    const events: RouteEvent[] = [];
    let full!: () => void;
    const backlogFull = new Promise<void>((resolve) => (full = resolve));
    const routing = route(client, app, {
      source: (gate) => gated(visits(3000, 5), gate),
      inputId: 'all',
      maxBacklog: 100,
      maxInFlight: 50,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'backlog-full') full();
      },
    });
    await backlogFull;
    const lengths = await Promise.all(app.partitionKeys.map((k) => client.xlen(k.input)));
    // The bound is checked every 50 appends (ticks included).
    expect(Math.max(...lengths)).toBeLessThan(100 + 50);
    workers.push(startWorker(redis.url, app));
    await expect(routing).resolves.toMatchObject({ outcome: 'routed', values: 3000 });
    expect(events.map((e) => e.type)).toContain('backlog-drained');
  });

  it('a joining worker takes a share: the first hands partitions back between batches', async () => {
    const input = visits(5000, 3);
    const app = visitsApp(nextName());
    const a = startWorker(redis.url, app);
    workers.push(a);
    const routing = route(client, app, { source: (gate) => gated(input, gate), inputId: 'all', maxBacklog: 300, maxInFlight: 100 });
    await a.until((events) => holding(events).size === 4);
    const b = startWorker(redis.url, app);
    workers.push(b);
    await a.until((events) => events.some((e) => e.type === 'lost' && e.reason === 'handed back'));
    await b.until((events) => holding(events).size === 2);
    await routing;
    expect(await results(client, app)).toEqual(await singleProcess(input));
  });

  it('refuses a pipeline with a stateful operator that has no uid, and settings that do not fit', async () => {
    const app = visitsApp(nextName(), { pipeline: (context) => sums(undefined, context) });
    await route(client, app, { source: () => from(visits(10)), inputId: 'all' });
    const worker = startWorker(redis.url, app);
    workers.push(worker);
    await expect(worker.done).rejects.toMatchObject({ code: 'ERR_NOT_CHECKPOINTABLE', message: expect.stringMatching(/sums in partition \d: a stateful operator needs a uid/) });

    const other = visitsApp(app.name, { partitioner: hashMod(5) });
    await expect(route(client, other, { source: () => from(visits(10)), inputId: 'more' })).rejects.toMatchObject({
      code: 'ERR_CHECKPOINT_INCOMPATIBLE',
      message: expect.stringMatching(/partitioner "hashMod\(4\)" \(here: "hashMod\(5\)"\)/),
    });
    await expect(runWorker(client, other, { leaseMs: 400 })).rejects.toMatchObject({ code: 'ERR_CHECKPOINT_INCOMPATIBLE' });
  });

  it('the commit script checks epoch, lease and offset before it writes anything, and takes back a lapsed lease nobody took', async () => {
    const app = visitsApp(nextName());
    await route(client, app, { source: () => from(visits(50)), inputId: 'all' });
    // A worker commits everything and leaves, so that there is state to protect.
    const worker = startWorker(redis.url, app);
    workers.push(worker);
    await results(client, app);
    await worker.stop();
    const k = app.partitionKeys[0];
    const snapshot = () => Promise.all([client.getBuffer(k.state), client.get(k.offset), client.xlen(k.output), client.get(k.epoch), client.xlen(k.input)]);
    const before = await snapshot();
    expect(before[1]).toMatch(/^\d+-\d \d+$/);
    const epoch = await client.incr(k.epoch);
    await client.set(k.lease, 'w2', 'PX', 60_000);
    const keys = [k.lease, k.epoch, k.offset, k.state, k.output, k.input];
    const outputSeq = Number(before[1]!.split(' ')[1]) + 1;
    const attempt = (worker: string, e: number, expected: string) =>
      COMMIT.run(client, keys, [worker, e, expected, `9999-0 ${outputSeq}`, 60_000, Buffer.from('state'), '9999-1', `${outputSeq}-0`, 'out']);
    await expect(attempt('w1', epoch, before[1]!)).rejects.toThrow(/^FENCED another worker holds the lease/);
    await expect(attempt('w1', epoch - 1, before[1]!)).rejects.toThrow(/^FENCED the epoch moved on/);
    await expect(attempt('w2', epoch - 1, before[1]!)).rejects.toThrow(/^FENCED the epoch moved on/);
    await expect(attempt('w2', epoch, '1-0 0')).rejects.toThrow(/^FENCED the committed offset/);
    expect(await snapshot()).toEqual([before[0], before[1], before[2], String(epoch), before[4]]);
    // The same call from the holder at its epoch and offset writes everything, even after its
    // lease lapsed, as long as nobody acquired the partition since (the epoch is the fence).
    await client.del(k.lease);
    await expect(attempt('w2', epoch, before[1]!)).resolves.toBe(1);
    expect(await snapshot()).toEqual([Buffer.from('state'), `9999-0 ${outputSeq}`, before[2] + 1, String(epoch), 0]);
    expect(await client.get(k.lease)).toBe('w2');
  });
});

