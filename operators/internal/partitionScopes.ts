/**
 * The checkpointed state of one `partitionBy` subscription. Under a checkpointing runner each
 * partition's operators register in a scope of their own, nested in the runner's and kept here by
 * partition; the subscription's own cell holds the clock, the values the future bound holds, and
 * the live partitions in touch order, each with its latest event time and its operators' state.
 * Outside a runner (or without a uid) there is no scope and this costs nothing.
 * Internal: not part of the public API.
 */
import { currentStateScope, joinScope, ScopeSnapshot, StateScope, withStateScope } from '../../lib/state/scope';
import type { FutureBoundState } from '../../lib/windowing/futureBound';
import type { FutureGate } from './futureGate';
import type { PartitionTable } from './partitionTable';

interface Saved<T, P> {
  maxEventTime: number;
  future?: FutureBoundState<T>;
  partitions: [P, number, ScopeSnapshot][];
}

export class PartitionScopes<T, P> {
  private readonly parent: StateScope | undefined;
  private readonly scopes = new Map<P, StateScope>();

  /** Call while the subscription is being made: that is when a runner's scope is current. */
  constructor(private readonly uid: string | undefined) {
    this.parent = uid === undefined ? undefined : currentStateScope();
  }

  /**
   * Subscribes a new partition's sub-pipeline with a scope of its own current (restoring its
   * operators from `restoring`), then checks that each saved operator found its state.
   */
  subscribe(key: P, restoring: ScopeSnapshot | undefined, subscribe: () => void): void {
    const own = this.parent?.nested(`partition ${String(key)}`, restoring);
    if (own) this.scopes.set(key, own);
    withStateScope(own, subscribe);
    own?.verifyClaimed();
  }

  /** An ended partition's state ends with it. */
  end(key: P): void {
    this.scopes.delete(key);
  }

  clear(): void {
    this.scopes.clear();
  }

  /**
   * Registers the subscription's cell with the current scope (restoring it at once if the scope
   * holds a snapshot: the clock first, then `reopen` for each saved partition in touch order).
   * `settings` says what gives the state its meaning. Returns the unregister function.
   */
  join(
    settings: string,
    table: PartitionTable<T, P>,
    future: FutureGate<T> | undefined,
    reopen: (key: P, lastEventTime: number, restoring: ScopeSnapshot) => void,
  ): () => void {
    return joinScope('partitionBy', this.uid, () => ({
      kind: 'partitionBy',
      version: 1,
      fingerprint: future ? `${settings} ${future.describe()}` : settings,
      snapshot: (): Saved<T, P> => ({
        maxEventTime: table.maxEventTime,
        future: future?.snapshot(),
        partitions: table.list().map((p) => [p.key, p.lastEventTime, this.scopes.get(p.key)!.snapshot()]),
      }),
      restore(state) {
        const saved = state as Saved<T, P>;
        table.restoreClock(saved.maxEventTime);
        if (future && saved.future) future.restore(saved.future);
        for (const [key, lastEventTime, restoring] of saved.partitions) reopen(key, lastEventTime, restoring);
      },
    }));
  }
}
