/**
 * The router: any rivulet source -> `keyOf` -> partitioner -> its partition's input stream.
 *
 * Each value gets a sequence number (the application's count of values routed before it, plus
 * its place in this input) and is appended with the entry id `<seq>-0`. When the value moves the
 * global event-time clock across a tick boundary, a tick `<seq>-1` carrying the clock goes to every
 * partition, right after the value: a worker sees the clock move at the same place in its
 * partition's sequence as `partitionBy` would show it, and a quiet partition still ages.
 *
 * Ids are deterministic, so a router restarted on the same input appends exactly what is
 * missing: it reads each stream's last id and skips what is already there (Redis would refuse a
 * repeated id anyway). The router's record (`{rv:APP}:router`) says which input is being routed
 * and from which sequence number, so a finished input is not routed again and the next input
 * continues the numbering and the clock.
 */
import { Observable, Subscription } from 'rxjs';
import { FlowGate } from '../core/flowGate';
import { invalidOption, RivuletError } from '../core/errors';
import { FutureBound } from '../windowing/futureBound';
import type { DistributedApp, PartitionId } from './app';
import { LuaScript, redisFailed, type RedisClient } from './connection';
import { lastIdOf, parseId } from './streamIds';
import { publishSettings } from './settings';
import { pause } from './wait';

export interface RouteOptions<T> {
  /** Opens the input; reading should pause while `gate` is paused (`fileLines(paths, { gate })`). */
  source: (gate: FlowGate) => Observable<T>;
  /**
   * Names this input (for files: their paths): a rerun of an unfinished input resumes it, a
   * finished one is not routed again, and another input cannot start while one is unfinished.
   */
  inputId: string;
  /** Entries waiting in one partition's input stream above which the source is paused. Default 20000. */
  maxBacklog?: number;
  /** Appends in flight before their replies are awaited. Default 2000. */
  maxInFlight?: number;
  /** Stops routing; the input stays unfinished, and a rerun resumes it. */
  signal?: AbortSignal;
  /** Values the application's future bound rejected (see `maxFutureMs`), in order. */
  onRejected?: (value: T) => void;
  onEvent?: (event: RouteEvent) => void;
}

export type RouteEvent =
  | { type: 'started'; base: number; resumed: boolean }
  | { type: 'backlog-full'; partition: PartitionId; backlog: number }
  | { type: 'backlog-drained' };

export interface RouteSummary {
  /** 'routed', 'already-routed' (nothing done), or 'stopped' (by the signal; unfinished). */
  outcome: 'routed' | 'already-routed' | 'stopped';
  /** Values of this input routed (already there or appended now). */
  values: number;
  /** Values of this input that the future bound rejected. */
  rejected: number;
  /** Values appended now, by partition index. */
  appendedByPartition: number[];
  /** Entries (values and ticks) found in Redis from an earlier, interrupted run. */
  skipped: number;
  /** Ticks appended now, per partition. */
  ticks: number;
  /** Sequence number of the input's first value, minus one. */
  base: number;
}

interface RouterRecord {
  /** Values routed by finished inputs: the next input's base. */
  next: number;
  /** The clock at the end of the finished inputs (null: no event time yet). */
  clock: number | null;
  current: { input: string; base: number; clock: number | null } | null;
  done: Array<{ input: string; base: number; values: number }>;
}

const EMPTY_RECORD: RouterRecord = { next: 0, clock: null, current: null, done: [] };

// Compare-and-set of the router's record: two routers must not both start an input.
const SWAP_RECORD = new LuaScript(
  'rivulet-router-swap',
  `#!lua
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`,
);

const DUPLICATE_ID = /equal or smaller than the target stream top item/;

/** Routes `options.source` into the application's partitions; resolves when the input is done. */
export async function route<T, K, P extends PartitionId, R>(client: RedisClient, app: DistributedApp<T, K, P, R>, options: RouteOptions<T>): Promise<RouteSummary> {
  const { source, inputId, signal, onEvent } = options;
  const maxBacklog = options.maxBacklog ?? 20_000;
  const maxInFlight = options.maxInFlight ?? 2000;
  if (typeof source !== 'function') throw invalidOption('route', 'source must be a function (gate) => Observable');
  if (typeof inputId !== 'string' || inputId === '') throw invalidOption('route', 'inputId must be a non-empty string');
  if (!(Number.isInteger(maxBacklog) && maxBacklog >= 1)) throw invalidOption('route', 'maxBacklog must be an integer >= 1');
  if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1)) throw invalidOption('route', 'maxInFlight must be an integer >= 1');

  await publishSettings(client, app);
  const recordText = await call('reading the router record', () => client.get(app.keys.router));
  const record: RouterRecord = recordText === null ? EMPTY_RECORD : (JSON.parse(recordText) as RouterRecord);
  const count = app.partitions.length;
  const summary: RouteSummary = { outcome: 'routed', values: 0, rejected: 0, appendedByPartition: new Array<number>(count).fill(0), skipped: 0, ticks: 0, base: 0 };

  let current = record.current;
  if (current !== null && current.input !== inputId) {
    throw new RivuletError('ERR_CHECKPOINT_INCOMPATIBLE', `${app.name}: the routing of another input did not finish (${brief(current.input)}); route that input again to finish it first`);
  }
  if (current === null) {
    const done = record.done.find((d) => d.input === inputId);
    if (done !== undefined) return { ...summary, outcome: 'already-routed', values: done.values, base: done.base };
    current = { input: inputId, base: record.next, clock: record.clock };
    const swapped = await call('starting the input', () => SWAP_RECORD.run(client, [app.keys.router], [recordText ?? '', JSON.stringify({ ...record, current })]));
    if (swapped !== 1) throw new RivuletError('ERR_CHECKPOINT_STORE', `${app.name}: another router changed the router record meanwhile; run one router at a time`);
    onEvent?.({ type: 'started', base: current.base, resumed: false });
  } else {
    onEvent?.({ type: 'started', base: current.base, resumed: true });
  }
  summary.base = current.base;

  // What an interrupted run already appended: each stream's last id (trimming does not lower it).
  const lastIds = await Promise.all(app.partitionKeys.map((keys) => call('reading a stream', () => lastIdOf(client, keys.input))));
  const last = lastIds.map(parseId);

  const gate = new FlowGate();
  const holder = {};
  let seq = current.base;
  let clock = current.clock ?? -Infinity;
  let inFlight: Promise<unknown>[] = [];
  let draining: Promise<void> | undefined;
  let failure: { error: unknown } | undefined;

  /** Appends an entry unless an earlier run did; true if it is appended now. */
  const append = (index: number, idMs: number, idSeq: number, field: string, value: string): boolean => {
    const [ms, s] = last[index];
    if (idMs < ms || (idMs === ms && idSeq <= s)) {
      summary.skipped++;
      return false;
    }
    inFlight.push(
      client.xadd(app.partitionKeys[index].input, `${idMs}-${idSeq}`, field, value).catch((error: unknown) => {
        // A repeated append (a command sent again after a reconnect) finds its entry there.
        if (error instanceof Error && DUPLICATE_ID.test(error.message)) return;
        failure ??= { error: redisFailed(`appending to ${app.partitionKeys[index].input}`, error) };
      }),
    );
    return true;
  };

  const bound = app.maxFutureMs === undefined ? undefined : new FutureBound<T>(app.maxFutureMs, app.confirmations);
  const takeRejected = (): void => {
    for (const value of bound!.takeRejected()) {
      summary.rejected++;
      options.onRejected?.(value);
    }
  };

  /** Appends a value with the next sequence number, then a tick to every partition if it moved the clock across a boundary. */
  const routeOne = (value: T, time: number | undefined): void => {
    seq++;
    summary.values++;
    const partition = app.partitioner.partitionOf(app.keyOf(value));
    const index = app.indexOf.get(partition);
    if (index === undefined) throw new RivuletError('ERR_INVALID_VALUE', `route: ${app.partitioner.name} returned ${String(partition)}, not one of the partitions it declares`);
    if (append(index, seq, 0, 'e', app.encode(value))) summary.appendedByPartition[index]++;
    if (time === undefined || !(time > clock)) return;
    const tick = crosses(clock, time);
    clock = time;
    if (!tick) return;
    let appended = false;
    for (let i = 0; i < count; i++) appended = append(i, seq, 1, 't', String(time)) || appended;
    if (appended) summary.ticks++;
  };

  const crosses = (from: number, to: number): boolean =>
    app.tickOffsetsMs.some((offset) => Math.floor((to - offset) / app.tickEveryMs) > Math.floor((from - offset) / app.tickEveryMs));

  const waitWhileBacklogFull = async (): Promise<void> => {
    const lengths = await Promise.all(app.partitionKeys.map((keys) => client.xlen(keys.input)));
    const worst = lengths.reduce((w, n, i) => (n > lengths[w] ? i : w), 0);
    if (lengths[worst] < maxBacklog) return;
    onEvent?.({ type: 'backlog-full', partition: app.partitions[worst], backlog: lengths[worst] });
    for (;;) {
      await pause(100, signal);
      if (signal?.aborted) return;
      const now = await Promise.all(app.partitionKeys.map((keys) => client.xlen(keys.input)));
      if (now.every((n) => n < maxBacklog / 2)) break;
    }
    onEvent?.({ type: 'backlog-drained' });
  };

  // Awaits what is in flight with the source paused; then, unless the input is done, waits while
  // a partition's backlog is full (a router that has read everything just finishes).
  const drain = (checkBacklog: boolean): Promise<void> =>
    (draining ??= (async () => {
      gate.pause(holder);
      try {
        while (inFlight.length > 0) {
          const batch = inFlight;
          inFlight = [];
          await Promise.all(batch);
        }
        if (checkBacklog && failure === undefined) await waitWhileBacklogFull();
      } catch (error) {
        failure ??= { error: redisFailed('checking the backlog', error) };
      } finally {
        draining = undefined;
        gate.resume(holder);
      }
    })());

  const routed = await new Promise<'completed' | 'stopped'>((resolve, reject) => {
    let subscription: Subscription | undefined;
    let finished = false;
    const finish = (outcome: { ok: 'completed' | 'stopped' } | { error: unknown }): void => {
      if (finished) return;
      finished = true;
      subscription?.unsubscribe();
      signal?.removeEventListener('abort', onAbort);
      void (async () => {
        while (inFlight.length > 0 || draining) await (draining ?? drain(false));
        if ('error' in outcome) reject(outcome.error);
        else if (failure) reject(failure.error);
        else resolve(outcome.ok);
      })();
    };
    const onAbort = (): void => finish({ ok: 'stopped' });
    signal?.addEventListener('abort', onAbort);
    if (signal?.aborted) return finish({ ok: 'stopped' });
    subscription = source(gate).subscribe({
      next(value) {
        if (finished) return;
        if (failure) return finish({ error: failure.error });
        try {
          if (app.timestampOf === undefined) routeOne(value, undefined);
          else {
            const t = app.timestampOf(value);
            if (typeof t !== 'number' || !Number.isFinite(t)) throw new RivuletError('ERR_INVALID_VALUE', `route: timestampOf returned ${String(t)}, not a finite number`);
            if (bound === undefined) routeOne(value, t);
            else {
              const verdict = bound.offer(t, value, clock);
              takeRejected();
              if (verdict === 'accept') routeOne(value, t);
              else if (verdict === 'release') for (const [time, held] of bound.takeReleased()) routeOne(held, time);
            }
          }
        } catch (error) {
          return finish({ error: error instanceof RivuletError ? error : new RivuletError('ERR_CALLBACK_FAILED', `route: ${(error as Error)?.message ?? String(error)}`, { cause: error }) });
        }
        if (inFlight.length >= maxInFlight) void drain(true);
      },
      error: (error: unknown) => finish({ error }),
      complete: () => {
        // As partitionBy at the end of its input: held values can no longer be confirmed.
        bound?.rejectHeld();
        if (bound) takeRejected();
        finish({ ok: 'completed' });
      },
    });
  });

  if (routed === 'stopped') return { ...summary, outcome: 'stopped' };
  const finishedRecord: RouterRecord = {
    next: seq,
    clock: Number.isFinite(clock) ? clock : current.clock,
    current: null,
    done: [...record.done, { input: inputId, base: current.base, values: seq - current.base }],
  };
  const before = await call('reading the router record', () => client.get(app.keys.router));
  const swapped = await call('finishing the input', () => SWAP_RECORD.run(client, [app.keys.router], [before ?? '', JSON.stringify(finishedRecord)]));
  const stillMine = before !== null && (JSON.parse(before) as RouterRecord).current?.input === inputId;
  if (swapped !== 1 || !stillMine) throw new RivuletError('ERR_CHECKPOINT_STORE', `${app.name}: another router changed the router record meanwhile; run one router at a time`);
  return summary;
}

/** What the routers of `app` have done so far: values routed, the clock, an unfinished input. */
export async function readRouterProgress<T, K, P extends PartitionId, R>(
  client: RedisClient,
  app: DistributedApp<T, K, P, R>,
): Promise<{ values: number; clock: number | undefined; unfinished: string | undefined }> {
  const text = await call('reading the router record', () => client.get(app.keys.router));
  const record: RouterRecord = text === null ? EMPTY_RECORD : (JSON.parse(text) as RouterRecord);
  return { values: record.next, clock: record.clock ?? undefined, unfinished: record.current?.input };
}

async function call<V>(what: string, command: () => Promise<V>): Promise<V> {
  try {
    return await command();
  } catch (error) {
    throw redisFailed(what, error);
  }
}

function brief(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

