import { asyncScheduler, Observable, OperatorFunction, Subscription } from 'rxjs';
import { RivuletError } from '../lib/core/errors';
import { guarded, operate } from '../lib/core/operate';
import { Partitioner, perKey } from '../lib/partitioning/partitioners';
import { FutureBound, FutureBoundState } from '../lib/windowing/futureBound';
import { checkUid, currentStateScope, joinScope, refuseCheckpoint, ScopeSnapshot, StateScope, withStateScope } from '../lib/state/scope';
import { checkPartitionByOptions, Partition, PartitionByOptions, PartitionContext, PartitionTable } from './internal/partitionTable';

export type { PartitionByOptions, PartitionContext } from './internal/partitionTable';

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
 * Order within a partition is input order. A value is routed first; then, if its timestamp is
 * the stream's new maximum, every partition that subscribed to `eventTime$` gets it (cost
 * O(those partitions) per advance), so a partition sees its own event before the clock passes
 * it; then partitions idle in event time are ended. Idle checks walk from the least recently
 * touched partition and stop at the first busy one; scheduler idleness uses one pending sweep.
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
  const { pipeline, timestampOf: timeFn, idleTimeoutMs, idleEventTimeMs, maxPartitions } = checkPartitionByOptions(options);
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

  return (source) =>
    new Observable<R>((destination) => {
      const table = new PartitionTable<T, P>(ordered);
      const running = new Set<Partition<T, P>>(); // partitions whose output has not completed yet
      const stopped = () => destination.closed;
      const idleInEventTime = (p: Partition<T, P>) => table.maxEventTime - p.lastEventTime >= idleEventTimeMs!;
      let sweep: Subscription | undefined;
      let sourceDone = false;
      let sourceFailed = false;
      const bound = maxFutureMs === undefined ? undefined : new FutureBound<T>(maxFutureMs, options.confirmations ?? 3);
      const reject = (): void => {
        for (const value of bound!.takeRejected()) {
          if (stats) stats.future++;
          rejectedTo?.(value);
        }
      };

      // Under a checkpointing runner each partition's operators register in a scope of their own,
      // kept here by partition; outside one, `scope` is undefined and this costs nothing.
      const scope = uid === undefined ? undefined : currentStateScope();
      const scopes = new Map<P, StateScope>();
      const create = (key: P, restoring?: ScopeSnapshot): Partition<T, P> => {
        const p = table.open(key);
        running.add(p);
        const own = scope?.nested(`partition ${String(key)}`, restoring);
        if (own) scopes.set(key, own);
        // Linked to the destination like the source, so a partition that emits as it is
        // subscribed (a replayed eventTime$) can end everything from within.
        withStateScope(own, () => operate(build({ key, eventTime$: p.eventTime$ }, p.input.asObservable()), destination, {
          next: (output) => destination.next(output),
          error: (err) => {
            if (!sourceFailed) destination.error(err);
          },
          complete: () => {
            running.delete(p);
            scopes.delete(key); // an ended partition's state ends with it
            if (sourceDone && running.size === 0) destination.complete();
          },
        }));
        own?.verifyClaimed();
        return p;
      };
      if (idleTimeoutMs !== undefined) refuseCheckpoint('partitionBy', 'idleTimeoutMs ends partitions by processing time, which a checkpoint cannot hold');
      destination.add(
        joinScope('partitionBy', uid, () => ({
          kind: 'partitionBy',
          version: 1,
          fingerprint:
            `timestampOf=${timestampOf !== undefined} idleEventTimeMs=${idleEventTimeMs} maxPartitions=${maxPartitions}` +
            (bound ? ` ${bound.describe()}` : ''),
          // Live partitions in touch order, each with its latest event time and its operators' state;
          // the values the future bound holds, not routed yet.
          snapshot: () => ({
            maxEventTime: table.maxEventTime,
            future: bound?.snapshot(),
            partitions: table.list().map((p) => [p.key, p.lastEventTime, scopes.get(p.key)!.snapshot()]),
          }),
          restore(state) {
            const saved = state as { maxEventTime: number; future?: FutureBoundState<T>; partitions: [P, number, ScopeSnapshot][] };
            table.maxEventTime = saved.maxEventTime;
            if (bound && saved.future) {
              bound.restore(saved.future);
              if (stats) stats.future = bound.rejected;
            }
            for (const [key, lastEventTime, restoring] of saved.partitions) create(key, restoring).lastEventTime = lastEventTime;
          },
        })),
      );
      const armSweep = () => {
        const oldest = table.oldest();
        if (oldest === undefined || scheduler === undefined) return;
        sweep = scheduler.schedule(() => {
          sweep = undefined;
          const now = scheduler.now();
          table.closeWhile((p) => now - p.touchedAt >= idleTimeoutMs!, stopped);
          if (!destination.closed) armSweep();
        }, Math.max(0, oldest.touchedAt + idleTimeoutMs! - scheduler.now()));
      };

      const timeOf = (value: T): number => {
        const time = timestampOf!(value);
        if (!Number.isFinite(time)) {
          throw new RivuletError('ERR_INVALID_VALUE', `partitionBy: timestampOf returned ${String(time)}, not a finite number`);
        }
        return time;
      };
      const route = (value: T, known?: number): void => {
          const partitionKey = partitionOf(keyOf(value));
          let time = 0;
          if (known !== undefined) time = known;
          else if (timestampOf !== undefined) time = timeOf(value);
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
          }
          if (scheduler !== undefined) {
            p.touchedAt = scheduler.now();
            if (sweep === undefined) armSweep();
          }
          if (time > p.lastEventTime) p.lastEventTime = time;
          p.input.next(value);
          if (timestampOf === undefined || destination.closed || !table.advance(time, stopped)) return;
          if (idleEventTimeMs !== undefined && !destination.closed) table.closeWhile(idleInEventTime, stopped);
      };

      operate(source, destination, {
        next: (value) => {
          if (bound === undefined) return route(value);
          const time = timeOf(value);
          const verdict = bound.offer(time, value, table.maxEventTime);
          reject();
          if (verdict === 'accept') return route(value, time);
          if (verdict === 'hold') return;
          for (const [t, held] of bound.takeReleased()) {
            if (destination.closed) return;
            route(held, t);
          }
        },
        error: (err) => {
          sourceFailed = true;
          table.closeAll(stopped, { error: err });
          destination.error(err);
        },
        complete: () => {
          sourceDone = true;
          if (bound && bound.heldCount > 0) {
            bound.rejectHeld();
            reject();
          }
          sweep?.unsubscribe();
          table.closeAll(stopped);
          if (!destination.closed && running.size === 0) destination.complete();
        },
      });
      // The partitions' outputs are linked to the destination and end with it.
      return () => {
        sweep?.unsubscribe();
        running.clear();
        scopes.clear();
        table.clear();
      };
    });
}
