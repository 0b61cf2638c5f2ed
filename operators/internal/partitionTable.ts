/**
 * The live partitions of one `partitionBy` subscription and the global event-time clock they
 * share. Internal: not part of the public API.
 *
 * The Map's insertion order is the touch order (a touch deletes and re-inserts the entry), so the
 * least recently touched partitions sit at the front: eviction by idleness or by a cap walks from
 * there and stops at the first busy one, without scanning the rest.
 */
import { Observable, Observer, OperatorFunction, SchedulerLike, Subject } from 'rxjs';
import { invalidOption, requireInteger, requirePositive } from '../../lib/core/errors';
import { operate } from '../../lib/core/operate';
import type { Partitioner } from '../../lib/partitioning/partitioners';
import { checkFutureOptions } from '../../lib/windowing/futureBound';

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
  /** Event time of a value (ms); enables `eventTime$` and `idleEventTimeMs`. */
  timestampOf?: (value: T) => number;
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
export interface Partition<T, P> {
  readonly key: P;
  /** What the partition's sub-pipeline reads. */
  readonly input: Subject<T>;
  /** The global event time, as `PartitionContext.eventTime$` describes it. */
  readonly eventTime$: Observable<number>;
  /** Scheduler time of the latest value routed here. */
  touchedAt: number;
  /** Largest timestamp routed here. */
  lastEventTime: number;
  /** Created on the first subscription to `eventTime$`. */
  clock: Subject<number> | undefined;
  ended: boolean;
}

export class PartitionTable<T, P> {
  /** The largest event time routed so far. */
  maxEventTime = -Infinity;
  private readonly live = new Map<P, Partition<T, P>>();
  /** Live partitions with a clock: only these are told when event time advances. */
  private readonly clocked = new Set<Partition<T, P>>();
  private newest: Partition<T, P> | undefined;

  /** @param ordered keep touch order (only worth its cost when something evicts by it) */
  constructor(private readonly ordered: boolean) {}

  get size(): number {
    return this.live.size;
  }

  get(key: P): Partition<T, P> | undefined {
    return this.live.get(key);
  }

  /** The least recently touched live partition. */
  oldest(): Partition<T, P> | undefined {
    return this.live.values().next().value;
  }

  /** Creates a live partition, the most recently touched. */
  open(key: P): Partition<T, P> {
    const p: Partition<T, P> = {
      key,
      input: new Subject<T>(),
      eventTime$: new Observable<number>((destination) => {
        if (p.ended) return destination.complete();
        if (!p.clock) this.clocked.add(p);
        if (this.maxEventTime > -Infinity) destination.next(this.maxEventTime);
        operate((p.clock ??= new Subject<number>()), destination, { next: (t) => destination.next(t) });
      }),
      touchedAt: 0,
      lastEventTime: -Infinity,
      clock: undefined,
      ended: false,
    };
    this.live.set(key, p);
    this.newest = p;
    return p;
  }

  /** The live partitions, least recently touched first. */
  list(): Partition<T, P>[] {
    return [...this.live.values()];
  }

  /** Makes `p` the most recently touched; free for a run of values to the same partition. */
  touch(p: Partition<T, P>): void {
    if (!this.ordered || p === this.newest) return;
    this.live.delete(p.key);
    this.live.set(p.key, p);
    this.newest = p;
  }

  /** Removes `p`, then completes its input (or errors it with `failure.error`) and its clock. */
  close(p: Partition<T, P>, failure?: { error: unknown }): void {
    this.live.delete(p.key);
    this.clocked.delete(p);
    if (this.newest === p) this.newest = undefined;
    p.ended = true;
    if (failure) p.input.error(failure.error);
    else p.input.complete();
    p.clock?.complete();
  }

  /** Closes partitions from the least recently touched while `idle` holds, until `stopped()`. */
  closeWhile(idle: (p: Partition<T, P>) => boolean, stopped: () => boolean): void {
    for (const p of this.live.values()) {
      if (!idle(p)) return;
      this.close(p);
      if (stopped()) return;
    }
  }

  /** Closes every partition, in touch order, until `stopped()`. */
  closeAll(stopped: () => boolean, failure?: { error: unknown }): void {
    for (const p of this.live.values()) {
      this.close(p, failure);
      if (stopped()) return;
    }
  }

  /**
   * Moves event time to `t` if that is later and tells every clocked partition, until
   * `stopped()`; O(clocked partitions). False if `t` is not an advance.
   */
  advance(t: number, stopped: () => boolean): boolean {
    if (!(t > this.maxEventTime)) return false;
    this.maxEventTime = t;
    for (const p of this.clocked) {
      p.clock!.next(t);
      if (stopped()) break;
    }
    return true;
  }

  /** Forgets everything, without notifying anyone (teardown). */
  clear(): void {
    this.live.clear();
    this.clocked.clear();
    this.newest = undefined;
  }
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
