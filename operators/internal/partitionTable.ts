/**
 * The live partitions of one `partitionBy` subscription and the global event-time clock they
 * share. Internal: not part of the public API.
 *
 * The Map's insertion order is the touch order (a touch deletes and re-inserts the entry), so the
 * least recently touched partitions sit at the front: eviction by idleness or by a cap walks from
 * there and stops at the first busy one, without scanning the rest.
 *
 * The clock tells every clocked partition only when it crosses a tick boundary (on every increase
 * without ticks), and the one partition a value goes to around that value. The next boundary is
 * kept, so an advance costs one comparison unless it crosses.
 */
import { Observable, Subject } from 'rxjs';
import { operate } from '../../lib/core/operate';
import { nextTickAfter } from '../../lib/windowing/windowClock';

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
  /** The latest event time the clock told this partition. */
  told: number;
  ended: boolean;
}

/** Tick boundaries: every `everyMs`, shifted by each of `offsetsMs`. */
export interface TickGrid {
  readonly everyMs: number;
  readonly offsetsMs: readonly number[];
}

export class PartitionTable<T, P> {
  private max = -Infinity;
  /** Without ticks it stays at -Infinity: every advance tells everyone. */
  private nextTick = -Infinity;
  private readonly live = new Map<P, Partition<T, P>>();
  /** Live partitions with a clock: only these are told when event time advances. */
  private readonly clocked = new Set<Partition<T, P>>();
  private newest: Partition<T, P> | undefined;

  /**
   * @param ordered keep touch order (only worth its cost when something evicts by it)
   * @param ticks when to tell every partition; absent: on every increase
   */
  constructor(
    private readonly ordered: boolean,
    private readonly ticks?: TickGrid,
  ) {}

  /** The largest event time routed so far. */
  get maxEventTime(): number {
    return this.max;
  }

  /** Puts back the clock of a checkpoint (before its partitions are opened again). */
  restoreClock(maxEventTime: number): void {
    this.max = maxEventTime;
    this.nextTick = this.ticks ? nextTickAfter(maxEventTime, this.ticks.everyMs, this.ticks.offsetsMs) : -Infinity;
  }

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
        if (!p.clock) {
          this.clocked.add(p);
          p.clock = new Subject<number>();
          p.told = this.max;
        }
        // A later subscriber may be replayed a time the clock tells the partition again.
        let heard = -Infinity;
        const hear = (t: number): void => {
          if (!(t > heard)) return;
          heard = t;
          destination.next(t);
        };
        if (this.max > -Infinity) hear(this.max);
        operate(p.clock, destination, { next: hear });
      }),
      touchedAt: 0,
      lastEventTime: -Infinity,
      clock: undefined,
      told: -Infinity,
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

  /** Tells `p` the clock if it moved since `p` last heard: before a value is routed to `p`. */
  catchUp(p: Partition<T, P>): void {
    if (p.clock === undefined || !(p.told < this.max) || p.ended) return;
    p.told = this.max;
    p.clock.next(this.max);
  }

  /**
   * Moves event time to `t` if that is later. Across a tick boundary (or at every increase without
   * ticks) it tells every clocked partition, until `stopped()`: O(clocked partitions); otherwise
   * only `routed`, the partition of the value that moved it. False if `t` is not an advance.
   */
  advance(t: number, stopped: () => boolean, routed?: Partition<T, P>): boolean {
    if (!(t > this.max)) return false;
    this.max = t;
    if (t < this.nextTick) {
      if (routed !== undefined) this.catchUp(routed);
      return true;
    }
    if (this.ticks) this.nextTick = nextTickAfter(t, this.ticks.everyMs, this.ticks.offsetsMs);
    for (const p of this.clocked) {
      p.told = t;
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
