/**
 * What `partitionBy` takes and what a partition's sub-pipeline is given, and the checks that
 * reject bad options when the operator is created. Internal: the types are re-exported by
 * `operators/partitionBy.ts`.
 */
import { Observable, Observer, OperatorFunction, SchedulerLike } from 'rxjs';
import { invalidOption, requireInteger, requirePositive } from '../../lib/core/errors';
import type { Partitioner } from '../../lib/partitioning/partitioners';
import { checkFutureOptions } from '../../lib/windowing/futureBound';

/** What a partition's sub-pipeline knows about itself. */
export interface PartitionContext<P> {
  /** The partition, as the partitioner returned it. */
  readonly key: P;
  /**
   * The largest event time seen anywhere in the stream (the global clock), replayed on subscribe,
   * then emitted as it increases: on every increase by default; with `tickEveryMs`, when it
   * crosses a tick boundary, and around each value routed to this partition (just before it if
   * the clock moved since the partition last heard, just after it if the value moved the clock).
   * Strictly increasing. Never emits without `timestampOf`. Completes when the partition ends.
   * Pass it to event-time windows so a quiet partition still ages its windows.
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
  /** Event time of a value (ms); enables `eventTime$` and `idleEventTimeMs`. */
  timestampOf?: (value: T) => number;
  /**
   * How often every partition hears of event-time progress (needs `timestampOf`): when the clock
   * crosses a multiple of this (plus one of `tickOffsetsMs`). Absent: on every increase, which
   * costs O(partitions) per new maximum. A partition always hears the exact clock around its own
   * values, so outputs are the same as with every increase whenever the sub-pipeline only depends
   * on which tick interval the clock is in: windows whose panes end on tick boundaries (their
   * allowed lateness among the offsets), hourly steps with hourly ticks.
   */
  tickEveryMs?: number;
  /** Offsets of the tick boundaries, e.g. `[0, allowedLatenessMs]`; default `[0]`. Needs `tickEveryMs`. */
  tickOffsetsMs?: readonly number[];
  /** Ends a partition that received nothing for this long, measured on `scheduler`. */
  idleTimeoutMs?: number;
  /** Clock for `idleTimeoutMs`; default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Ends a partition whose latest event is this much older than the stream's latest. */
  idleEventTimeMs?: number;
  /** Cap on live partitions: creating one more first ends the least recently used. */
  maxPartitions?: number;
  /**
   * How far ahead of the global clock a value may move it by itself (needs `timestampOf`);
   * absent: no bound. A value further ahead is held, not routed, until `confirmations`
   * following values also lie beyond the bound (a real gap: the held values are then routed in
   * arrival order) or a value in bound shows it was an outlier (rejected: counted in
   * `stats.future`, sent to `rejected`). The same rule as the windows' (`FutureBound`).
   */
  maxFutureMs?: number;
  /** How many following values beyond the bound confirm a jump; default 3 (at most 1000). */
  confirmations?: number;
  /** Where values rejected by the future bound go; absent: dropped. */
  rejected?: Pick<Observer<T>, 'next'>;
  /** Updated in place: `future` counts the values rejected by the future bound. */
  stats?: { future: number };
  /**
   * Stable id of the partitions' state in checkpoints (see `runCheckpointed`); needed there. The
   * operators inside each partition are then scoped by partition, with uids of their own.
   */
  uid?: string;
}

/** Rejects bad `partitionBy` options when the operator is created, saying why. */
export function checkPartitionByOptions<T, K, P, R>(options: PartitionByOptions<T, K, P, R>): PartitionByOptions<T, K, P, R> {
  const where = 'partitionBy';
  if (options == null) throw invalidOption(where, 'options are required');
  const { keyOf, pipeline, partitioner, timestampOf, idleTimeoutMs, scheduler, idleEventTimeMs, maxPartitions } = options;
  if (typeof keyOf !== 'function') throw invalidOption(where, 'keyOf must be a function (value) => key');
  if (typeof pipeline !== 'function') throw invalidOption(where, 'pipeline must be a function (context) => operator');
  if (partitioner !== undefined && typeof partitioner?.partitionOf !== 'function') {
    throw invalidOption(where, 'partitioner must have a partitionOf(key) function');
  }
  if (timestampOf !== undefined && typeof timestampOf !== 'function') throw invalidOption(where, 'timestampOf must be a function');
  checkTicks(where, options);
  if (idleTimeoutMs !== undefined) requirePositive(where, 'idleTimeoutMs', idleTimeoutMs);
  if (scheduler !== undefined && idleTimeoutMs === undefined) throw invalidOption(where, 'scheduler is only used with idleTimeoutMs');
  if (idleEventTimeMs !== undefined) {
    requirePositive(where, 'idleEventTimeMs', idleEventTimeMs);
    if (timestampOf === undefined) throw invalidOption(where, 'idleEventTimeMs needs timestampOf');
  }
  if (maxPartitions !== undefined) requireInteger(where, 'maxPartitions', maxPartitions);
  checkFutureOptions(where, options.maxFutureMs, options.confirmations, options.rejected);
  if (options.maxFutureMs !== undefined && timestampOf === undefined) throw invalidOption(where, 'maxFutureMs needs timestampOf');
  if (options.stats !== undefined && (options.stats === null || typeof options.stats !== 'object')) throw invalidOption(where, 'stats must be an object such as windowStats()');
  return options;
}

function checkTicks<T, K, P, R>(where: string, { tickEveryMs, tickOffsetsMs, timestampOf }: PartitionByOptions<T, K, P, R>): void {
  if (tickEveryMs !== undefined) {
    requirePositive(where, 'tickEveryMs', tickEveryMs);
    if (timestampOf === undefined) throw invalidOption(where, 'tickEveryMs needs timestampOf');
  }
  if (tickOffsetsMs === undefined) return;
  if (tickEveryMs === undefined) throw invalidOption(where, 'tickOffsetsMs needs tickEveryMs');
  if (!Array.isArray(tickOffsetsMs) || tickOffsetsMs.length === 0) throw invalidOption(where, 'tickOffsetsMs must be a non-empty array of numbers');
  tickOffsetsMs.forEach((offset, i) => requirePositive(where, `tickOffsetsMs[${i}]`, offset, true));
}
