import { asyncScheduler, Observable, OperatorFunction, SchedulerLike, Subject, Subscription } from 'rxjs';
import { callbackFailed, invalidOption, requireInteger, requirePositive, RivuletError } from '../lib/errors';
import { Partitioner, perKey } from '../lib/partitioners';

/** What a partition's sub-pipeline knows about itself. */
export interface PartitionContext<P> {
  /** The partition, as the partitioner returned it. */
  readonly key: P;
  /**
   * The largest event time seen anywhere in the stream (the global clock), replayed on subscribe,
   * then emitted each time it increases. Never emits without `timestampOf`. Completes when the
   * partition ends. Pass it to event-time windows so a quiet partition still ages its windows.
   */
  readonly eventTime$: Observable<number>;
}

export interface PartitionByOptions<T, K, P, R> {
  /** The key of a value; the partitioner maps it to a partition. */
  keyOf: (value: T) => K;
  /** Default `perKey()`: one partition per distinct key (compared as `Map` keys). */
  partitioner?: Partitioner<K, P>;
  /** Builds a partition's sub-pipeline; called once each time a partition is created. */
  pipeline: (context: PartitionContext<P>) => OperatorFunction<T, R>;
  /** The event time of a value (ms); enables `eventTime$` and `idleEventTimeMs`. */
  timestampOf?: (value: T) => number;
  /** Ends a partition that received nothing for this long, measured on `scheduler`. */
  idleTimeoutMs?: number;
  /** Clock for `idleTimeoutMs`; default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Ends a partition whose latest event is this much older than the stream's latest. */
  idleEventTimeMs?: number;
  /** Cap on live partitions: creating one more first ends the least recently used. */
  maxPartitions?: number;
}

interface Partition<T, P> {
  readonly key: P;
  readonly input: Subject<T>;
  output: Subscription | undefined;
  clock: Subject<number> | undefined;
  touchedAt: number;
  lastEventTime: number;
  ended: boolean;
}

/**
 * Routes each value to a partition chosen by its key, runs one sub-pipeline (with its own state)
 * per partition, and merges their outputs: Wallaroo's state partitioning.
 *
 * Like `groupBy` + `mergeMap`, but partitions are chosen by a {@link Partitioner}, and memory is
 * bounded: partitions are ended when idle (on a scheduler or in event time) or least recently
 * used beyond `maxPartitions`. Ending a partition completes its input, so a `statefulScan` in it
 * flushes, and its final outputs are still delivered; a later value for it starts a fresh one.
 * Event time is global: each partition's `eventTime$` follows the whole stream.
 *
 * ```text
 * source:  --a1--b1--a2--b2--|        keyOf = letter, pipeline = running sum per partition
 * result:  --1---1---3---3---|
 * ```
 *
 * Order within a partition is input order. A value is routed first; then, if its timestamp is
 * the stream's new maximum, every partition that subscribed to `eventTime$` gets it (cost
 * O(those partitions) per advance), so a partition sees its own event before the clock passes
 * it; then partitions idle in event time are ended. Idle checks walk partitions from the least
 * recently touched and stop at the first busy one (out-of-order timestamps can delay an event
 * time eviction, never hasten it); scheduler idleness uses one pending sweep at a time.
 *
 * Source completion ends every partition and completes once all their outputs complete. A source
 * error errors every open partition's input, then the result with that error. A partition's error
 * errors the result and tears everything down. A throwing callback errors the result with
 * `ERR_CALLBACK_FAILED` (`keyOf`, `partitionOf`, `timestampOf`, `pipeline`); a timestamp that is
 * not a finite number with `ERR_INVALID_VALUE`. Unsubscribing tears down every partition and
 * cancels the pending sweep.
 *
 * @example
 * ```ts
 * of({ user: 'ann', n: 1 }, { user: 'bob', n: 5 }, { user: 'ann', n: 2 }).pipe(partitionBy({
 *   keyOf: (e) => e.user,
 *   pipeline: ({ key }) => statefulScan({ seed: () => 0, step: (sum: number, e: { n: number }, emit: (line: string) => void) => {
 *     emit(`${key}:${sum + e.n}`);
 *     return sum + e.n;
 *   } }),
 * })).subscribe(console.log);
 * // ann:1, bob:5, ann:3
 * ```
 */
export function partitionBy<T, K, P = K, R = unknown>(options: PartitionByOptions<T, K, P, R>): OperatorFunction<T, R> {
  const { keyOf, pipeline, timestampOf, idleTimeoutMs, idleEventTimeMs, maxPartitions } = validate(options);
  const partitioner = options.partitioner ?? (perKey<K>() as unknown as Partitioner<K, P>);
  const scheduler = idleTimeoutMs === undefined ? undefined : (options.scheduler ?? asyncScheduler);
  // Touch order is only worth keeping when something evicts by it.
  const ordered = idleTimeoutMs !== undefined || idleEventTimeMs !== undefined || maxPartitions !== undefined;

  return (source) =>
    new Observable<R>((subscriber) => {
      const partitions = new Map<P, Partition<T, P>>(); // least recently touched first, if `ordered`
      const running = new Set<Partition<T, P>>(); // partitions whose output has not completed yet
      const clocked = new Set<Partition<T, P>>(); // live partitions with an `eventTime$` subject
      let newest: Partition<T, P> | undefined;
      let maxEventTime = -Infinity;
      let sweep: Subscription | undefined;
      let sourceDone = false;
      let sourceFailed = false;

      const fail = (callback: string, err: unknown) => subscriber.error(callbackFailed('partitionBy', callback, err));
      const end = (p: Partition<T, P>, err?: { error: unknown }) => {
        partitions.delete(p.key);
        clocked.delete(p);
        if (newest === p) newest = undefined;
        p.ended = true;
        if (err) p.input.error(err.error);
        else p.input.complete();
        p.clock?.complete();
      };
      const create = (key: P): Partition<T, P> | undefined => {
        const p: Partition<T, P> = { key, input: new Subject<T>(), output: undefined, clock: undefined, touchedAt: 0, lastEventTime: -Infinity, ended: false };
        const eventTime$ = new Observable<number>((o) => {
          if (p.ended) return o.complete();
          if (!p.clock) clocked.add(p);
          if (maxEventTime > -Infinity) o.next(maxEventTime);
          return (p.clock ??= new Subject<number>()).subscribe(o);
        });
        partitions.set(key, p);
        running.add(p);
        try {
          p.output = pipeline({ key, eventTime$ })(p.input.asObservable()).subscribe({
            next: (output) => subscriber.next(output),
            error: (err) => {
              if (!sourceFailed) subscriber.error(err);
            },
            complete: () => {
              running.delete(p);
              if (sourceDone && running.size === 0) subscriber.complete();
            },
          });
        } catch (err) {
          fail('pipeline', err);
          return undefined;
        }
        return p;
      };
      const endIdle = (idle: (p: Partition<T, P>) => boolean) => {
        for (const p of partitions.values()) {
          if (!idle(p)) break;
          end(p);
          if (subscriber.closed) return;
        }
      };
      const armSweep = () => {
        const front = partitions.values().next().value;
        if (front === undefined || scheduler === undefined) return;
        sweep = scheduler.schedule(() => {
          sweep = undefined;
          const now = scheduler.now();
          endIdle((p) => now - p.touchedAt >= idleTimeoutMs!);
          if (!subscriber.closed) armSweep();
        }, Math.max(0, front.touchedAt + idleTimeoutMs! - scheduler.now()));
      };

      const subscription = source.subscribe({
        next: (value) => {
          if (subscriber.closed) return;
          let key: K;
          let partitionKey: P;
          let time = 0;
          try {
            key = keyOf(value);
          } catch (err) {
            return fail('keyOf', err);
          }
          try {
            partitionKey = partitioner.partitionOf(key);
          } catch (err) {
            return fail('partitionOf', err);
          }
          if (timestampOf !== undefined) {
            try {
              time = timestampOf(value);
            } catch (err) {
              return fail('timestampOf', err);
            }
            if (!Number.isFinite(time)) {
              return subscriber.error(new RivuletError('ERR_INVALID_VALUE', `partitionBy: timestampOf returned ${String(time)}, not a finite number`));
            }
          }
          let p = partitions.get(partitionKey);
          if (p === undefined) {
            if (maxPartitions !== undefined && partitions.size >= maxPartitions) {
              end(partitions.values().next().value!);
              if (subscriber.closed) return;
            }
            p = create(partitionKey);
            if (p === undefined || subscriber.closed) return;
          } else if (ordered && p !== newest) {
            partitions.delete(partitionKey);
            partitions.set(partitionKey, p);
          }
          newest = p;
          if (scheduler !== undefined) {
            p.touchedAt = scheduler.now();
            if (sweep === undefined) armSweep();
          }
          if (time > p.lastEventTime) p.lastEventTime = time;
          p.input.next(value);
          if (timestampOf === undefined || time <= maxEventTime || subscriber.closed) return;
          maxEventTime = time;
          for (const q of clocked) {
            q.clock!.next(time);
            if (subscriber.closed) return;
          }
          if (idleEventTimeMs !== undefined) endIdle((q) => time - q.lastEventTime >= idleEventTimeMs);
        },
        error: (err) => {
          sourceFailed = true;
          for (const p of partitions.values()) end(p, { error: err });
          subscriber.error(err);
        },
        complete: () => {
          sourceDone = true;
          sweep?.unsubscribe();
          for (const p of partitions.values()) {
            end(p);
            if (subscriber.closed) return;
          }
          if (running.size === 0) subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        sweep?.unsubscribe();
        for (const p of running) p.output?.unsubscribe();
        running.clear();
        partitions.clear();
        clocked.clear();
        newest = undefined;
      };
    });
}

function validate<T, K, P, R>(options: PartitionByOptions<T, K, P, R>): PartitionByOptions<T, K, P, R> {
  const where = 'partitionBy';
  if (options == null) throw invalidOption(where, 'options are required');
  const { keyOf, pipeline, partitioner, timestampOf, idleTimeoutMs, scheduler, idleEventTimeMs, maxPartitions } = options;
  if (typeof keyOf !== 'function') throw invalidOption(where, 'keyOf must be a function (value) => key');
  if (typeof pipeline !== 'function') throw invalidOption(where, 'pipeline must be a function (context) => operator');
  if (partitioner !== undefined && typeof partitioner?.partitionOf !== 'function') {
    throw invalidOption(where, 'partitioner must have a partitionOf(key) function');
  }
  if (timestampOf !== undefined && typeof timestampOf !== 'function') throw invalidOption(where, 'timestampOf must be a function');
  if (idleTimeoutMs !== undefined) requirePositive(where, 'idleTimeoutMs', idleTimeoutMs);
  if (scheduler !== undefined && idleTimeoutMs === undefined) throw invalidOption(where, 'scheduler is only used with idleTimeoutMs');
  if (idleEventTimeMs !== undefined) {
    requirePositive(where, 'idleEventTimeMs', idleEventTimeMs);
    if (timestampOf === undefined) throw invalidOption(where, 'idleEventTimeMs needs timestampOf');
  }
  if (maxPartitions !== undefined) requireInteger(where, 'maxPartitions', maxPartitions);
  return options;
}
