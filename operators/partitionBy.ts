import { asyncScheduler, Observable, OperatorFunction } from 'rxjs';
import { RivuletError } from '../lib/core/errors';
import { guarded, operate } from '../lib/core/operate';
import { Partitioner, perKey } from '../lib/partitioning/partitioners';
import { checkUid, refuseCheckpoint, ScopeSnapshot } from '../lib/state/scope';
import { FutureGate } from './internal/futureGate';
import { IdleSweep } from './internal/idleSweep';
import { checkPartitionByOptions, PartitionByOptions, PartitionContext } from './internal/partitionOptions';
import { PartitionScopes } from './internal/partitionScopes';
import { Partition, PartitionTable } from './internal/partitionTable';

export type { PartitionByOptions, PartitionContext } from './internal/partitionOptions';

/**
 * Routes each value to a partition chosen by its key, runs one sub-pipeline (with its own state)
 * per partition, and merges their outputs: Wallaroo's state partitioning.
 *
 * Like `groupBy` + `mergeMap`, but partitions are chosen by a {@link Partitioner}, and memory is
 * bounded: partitions are ended when idle (on a scheduler or in event time) or least recently
 * used beyond `maxPartitions`. Ending a partition completes its input, so a `statefulScan` in it
 * flushes, and its final outputs are still delivered; a later value for it starts a fresh one.
 * Event time is global: each partition's `eventTime$` follows the whole stream. Eviction ends
 * state: evict only partitions whose windows are empty (idle longer than window plus lateness).
 * With `maxFutureMs`, a value dated further ahead of the global clock is held before routing
 * until following values confirm the jump or an in-bound one shows it was an outlier (then it is
 * rejected and counted); held values still unconfirmed when the source completes are rejected.
 *
 * ```text
 * source:  --a1--b1--a2--b2--|        keyOf = letter, pipeline = running sum per partition
 * result:  --1---1---3---3---|
 * ```
 *
 * Order within a partition is input order. A value is routed first (its partition hearing the
 * clock just before, if it moved since), then, if its timestamp is the stream's new maximum, the
 * clock tells the partitions: all of those that subscribed to `eventTime$` when it crosses a
 * boundary of `tickEveryMs` (at every new maximum without it: O(partitions) per advance), else
 * only the value's own, so the cost per value does not grow with the number of partitions. A
 * partition thus sees its own event before the clock passes it. Then partitions idle in event
 * time are ended. Idle checks walk from the least recently touched partition and stop at the
 * first busy one; scheduler idleness uses one pending sweep.
 *
 * Source completion ends every partition and completes once all their outputs complete. A source
 * error errors every open partition's input, then the result with that error. A partition's error
 * errors the result and tears everything down. A throwing callback errors the result with
 * `ERR_CALLBACK_FAILED` (`keyOf`, `partitionOf`, `timestampOf`, `pipeline`); a timestamp that is
 * not a finite number with `ERR_INVALID_VALUE`. Unsubscribing tears down every partition and
 * cancels the pending sweep. `P` defaults to the key type, as with `perKey()`.
 *
 * @example
 * ```ts
 * of({ user: 'ann', n: 1 }, { user: 'bob', n: 5 }, { user: 'ann', n: 2 }).pipe(partitionBy({
 *   keyOf: (e) => e.user,
 *   pipeline: ({ key }) => statefulScan({
 *     seed: () => 0,
 *     step: (sum: number, e: { n: number }, emit: (line: string) => void) => {
 *       emit(`${key}:${sum + e.n}`);
 *       return sum + e.n;
 *     },
 *   }),
 * })).subscribe(console.log);
 * // ann:1, bob:5, ann:3
 * ```
 */
export function partitionBy<T, K, P = K, R = unknown>(options: PartitionByOptions<T, K, P, R>): OperatorFunction<T, R> {
  const { pipeline, timestampOf: timeFn, idleTimeoutMs, idleEventTimeMs, maxPartitions, tickEveryMs } = checkPartitionByOptions(options);
  const partitioner = options.partitioner ?? (perKey<K>() as unknown as Partitioner<K, P>);
  const keyOf = guarded('partitionBy', 'keyOf', options.keyOf, 'wrap');
  const partitionOf = guarded('partitionBy', 'partitionOf', (key: K): P => partitioner.partitionOf(key), 'wrap');
  const timestampOf = timeFn && guarded('partitionBy', 'timestampOf', timeFn, 'wrap');
  const build = guarded('partitionBy', 'pipeline', (context: PartitionContext<P>, input: Observable<T>) => pipeline(context)(input), 'wrap');
  const { uid, maxFutureMs, stats } = options;
  const rejectedTo = options.rejected && guarded('partitionBy', 'rejected.next', (value: T) => options.rejected!.next(value), 'wrap');
  checkUid('partitionBy', uid);
  const scheduler = idleTimeoutMs === undefined ? undefined : (options.scheduler ?? asyncScheduler);
  // Touch order is only worth keeping when something evicts by it.
  const ordered = idleTimeoutMs !== undefined || idleEventTimeMs !== undefined || maxPartitions !== undefined;
  const ticks = tickEveryMs === undefined ? undefined : { everyMs: tickEveryMs, offsetsMs: [...(options.tickOffsetsMs ?? [0])] };
  // Ticks are left out: they change when partitions hear the clock, not what the state means.
  const timeOf = (value: T): number => {
    const time = timestampOf!(value);
    if (Number.isFinite(time)) return time;
    throw new RivuletError('ERR_INVALID_VALUE', `partitionBy: timestampOf returned ${String(time)}, not a finite number`);
  };
  const settings = `timestampOf=${timestampOf !== undefined} idleEventTimeMs=${idleEventTimeMs} maxPartitions=${maxPartitions}`;

  return (source) =>
    new Observable<R>((destination) => {
      const table = new PartitionTable<T, P>(ordered, ticks);
      const running = new Set<Partition<T, P>>(); // partitions whose output has not completed yet
      const stopped = () => destination.closed;
      const idleInEventTime = (p: Partition<T, P>) => table.maxEventTime - p.lastEventTime >= idleEventTimeMs!;
      let sourceDone = false;
      let sourceFailed = false;
      const future = maxFutureMs === undefined ? undefined : new FutureGate<T>(maxFutureMs, options.confirmations ?? 3, stats, rejectedTo);
      const scopes = new PartitionScopes<T, P>(uid);
      const sweep = scheduler === undefined ? undefined : new IdleSweep(table, scheduler, idleTimeoutMs!, stopped);
      const create = (key: P, restoring?: ScopeSnapshot): Partition<T, P> => {
        const p = table.open(key);
        running.add(p);
        // Linked to the destination like the source, so a partition that emits as it is
        // subscribed (a replayed eventTime$) can end everything from within.
        scopes.subscribe(key, restoring, () => operate(build({ key, eventTime$: p.eventTime$ }, p.input.asObservable()), destination, {
          next: (output) => destination.next(output),
          error: (err) => {
            if (!sourceFailed) destination.error(err);
          },
          complete: () => {
            running.delete(p);
            scopes.end(key);
            if (sourceDone && running.size === 0) destination.complete();
          },
        }));
        return p;
      };
      if (idleTimeoutMs !== undefined) refuseCheckpoint('partitionBy', 'idleTimeoutMs ends partitions by processing time, which a checkpoint cannot hold');
      destination.add(scopes.join(settings, table, future, (key, lastEventTime, restoring) => (create(key, restoring).lastEventTime = lastEventTime)));
      const route = (value: T, known?: number): void => {
        const partitionKey = partitionOf(keyOf(value));
        const time = known ?? (timestampOf === undefined ? 0 : timeOf(value));
        let p = table.get(partitionKey);
        if (p === undefined) {
          if (maxPartitions !== undefined && table.size >= maxPartitions) {
            table.close(table.oldest()!);
            if (destination.closed) return;
          }
          p = create(partitionKey);
          if (destination.closed) return;
        } else {
          table.touch(p);
          table.catchUp(p);
          if (destination.closed) return;
        }
        sweep?.touched(p);
        if (time > p.lastEventTime) p.lastEventTime = time;
        p.input.next(value);
        if (timestampOf === undefined || destination.closed || !table.advance(time, stopped, p)) return;
        if (idleEventTimeMs !== undefined && !destination.closed) table.closeWhile(idleInEventTime, stopped);
      };

      operate(source, destination, {
        next: (value) => (future === undefined ? route(value) : future.offer(timeOf(value), value, table.maxEventTime, route, stopped)),
        error: (err) => {
          sourceFailed = true;
          table.closeAll(stopped, { error: err });
          destination.error(err);
        },
        complete: () => {
          sourceDone = true;
          future?.end();
          sweep?.cancel();
          table.closeAll(stopped);
          if (!destination.closed && running.size === 0) destination.complete();
        },
      });
      // The partitions' outputs are linked to the destination and end with it.
      return () => {
        sweep?.cancel();
        running.clear();
        scopes.clear();
        table.clear();
      };
    });
}
