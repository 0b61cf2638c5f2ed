/**
 * State scopes: how a checkpoint reaches the state of every stateful operator in a pipeline.
 *
 * Operators are identified by a stable id (`uid`), never by their position in the chain, so a
 * pipeline can be edited around them and still restore (Flink's lesson). A runner makes a
 * {@link StateScope} current while it subscribes the pipeline ({@link withStateScope}); every
 * stateful rivulet operator subscribed meanwhile registers with it, and is restored at once if
 * the scope holds a snapshot for its id. Subscription is synchronous down an RxJS chain, so the
 * current scope is simply a variable saved and restored around the call: nothing is threaded
 * through the pipeline by hand. `partitionBy` gives each partition a scope of its own, nested in
 * its own state, so operators inside partitions are scoped by partition key.
 *
 * Outside a runner no scope is current and operators keep their state to themselves, as before.
 */
import { RivuletError } from '../core/errors';

/** What a stateful operator hands to its scope. */
export interface StateCell {
  /** The operator, e.g. `slidingWindow`: a snapshot only restores into the same kind. */
  readonly kind: string;
  /** Version of the snapshot's shape; bumped when the operator's state changes form. */
  readonly version: number;
  /**
   * The options that shape the state (window length, panes, k, ...), as text: restoring a
   * snapshot taken with other options would silently mean something else, so it is refused.
   */
  readonly fingerprint: string;
  /**
   * The whole state as plain data (Maps, Sets, arrays, numbers, strings), by reference: the
   * runner serialises it before the next value is processed, so no copy is needed.
   */
  snapshot(): unknown;
  /** Replaces the state with what `snapshot` returned (after a round trip through the codec). */
  restore(state: unknown): void;
}

/** One operator's entry in a scope snapshot. */
export interface CellSnapshot {
  kind: string;
  version: number;
  fingerprint: string;
  state: unknown;
}

/** A scope's state: each registered operator's snapshot by uid, in registration order. */
export type ScopeSnapshot = Map<string, CellSnapshot>;

/** Why a pipeline cannot be checkpointed, found while it was subscribed. */
export interface Refusal {
  readonly where: string;
  readonly reason: string;
}

const UID = /^[A-Za-z0-9_.:-]{1,100}$/;

/** Checks a `uid` option when an operator is created. */
export function checkUid(where: string, uid: unknown): void {
  if (uid === undefined) return;
  if (typeof uid !== 'string' || !UID.test(uid)) {
    throw new RivuletError('ERR_INVALID_OPTION', `${where}: uid must be 1-100 letters, digits or "_.:-", got ${JSON.stringify(uid)}`);
  }
}

export class StateScope {
  private readonly cells = new Map<string, StateCell>();
  private readonly refusals: Refusal[];

  /**
   * @param pending the snapshot to restore operators from as they register, if any
   * @param path where this scope sits, for messages (`partition 3`), '' at the top
   */
  constructor(
    private readonly pending: ScopeSnapshot | undefined = undefined,
    readonly path = '',
    refusals?: Refusal[],
  ) {
    // Nested scopes share their root's list, so a refusal anywhere reaches the runner.
    this.refusals = refusals ?? [];
  }

  /**
   * Registers an operator under `uid` and restores it from the pending snapshot, if that holds
   * state for `uid`. Returns the way to unregister (on the operator's teardown).
   */
  register(uid: string, cell: StateCell): () => void {
    if (this.cells.has(uid)) {
      throw new RivuletError('ERR_INVALID_OPTION', `${cell.kind}: two stateful operators share uid "${uid}"${this.where()}; give each its own`);
    }
    const saved = this.pending?.get(uid);
    if (saved !== undefined) {
      const mismatch =
        saved.kind !== cell.kind
          ? `it was taken from a ${saved.kind}`
          : saved.version !== cell.version
            ? `it has version ${saved.version}, this ${cell.kind} reads version ${cell.version}`
            : saved.fingerprint !== cell.fingerprint
              ? `it was taken with options ${saved.fingerprint}, the pipeline has ${cell.fingerprint}`
              : undefined;
      if (mismatch !== undefined) throw incompatible(`the snapshot of "${uid}"${this.where()} does not fit the ${cell.kind} with that uid: ${mismatch}`);
      cell.restore(saved.state);
    }
    this.cells.set(uid, cell);
    return () => {
      if (this.cells.get(uid) === cell) this.cells.delete(uid);
    };
  }

  /** A stateful operator without a uid: its state could not be restored, so the run is refused. */
  unscoped(where: string): void {
    this.refuse(where, 'a stateful operator needs a uid option when the pipeline is checkpointed');
  }

  /** An operator that cannot take part in a checkpoint at all (processing time, ...). */
  refuse(where: string, reason: string): void {
    this.refusals.push({ where: `${where}${this.where()}`, reason });
  }

  /** A scope nested in this one (a partition's), restoring from `pending`. */
  nested(path: string, pending: ScopeSnapshot | undefined): StateScope {
    return new StateScope(pending, this.path === '' ? path : `${this.path} / ${path}`, this.refusals);
  }

  /** Every registered operator's state, by reference. */
  snapshot(): ScopeSnapshot {
    const out: ScopeSnapshot = new Map();
    for (const [uid, cell] of this.cells) out.set(uid, { kind: cell.kind, version: cell.version, fingerprint: cell.fingerprint, state: cell.snapshot() });
    return out;
  }

  /**
   * After subscribing: throws if the pipeline cannot be checkpointed, or if the pending snapshot
   * holds state that no operator claimed (a renamed or removed uid would otherwise lose it).
   */
  verify(): void {
    if (this.refusals.length > 0) {
      const list = this.refusals.map((r) => `${r.where}: ${r.reason}`).join('; ');
      throw new RivuletError('ERR_NOT_CHECKPOINTABLE', `this pipeline cannot be checkpointed: ${list}`);
    }
    this.verifyClaimed();
  }

  /** Throws ERR_CHECKPOINT_INCOMPATIBLE for snapshot entries no registered operator took. */
  verifyClaimed(): void {
    if (this.pending === undefined) return;
    const unclaimed = [...this.pending.keys()].filter((uid) => !this.cells.has(uid));
    if (unclaimed.length > 0) {
      throw incompatible(`the checkpoint holds state for ${unclaimed.map((u) => `"${u}"`).join(', ')}${this.where()}, but the pipeline has no operator with that uid`);
    }
  }

  private where(): string {
    return this.path === '' ? '' : ` in ${this.path}`;
  }
}

function incompatible(message: string): RivuletError {
  return new RivuletError('ERR_CHECKPOINT_INCOMPATIBLE', `checkpoint: ${message}`);
}

let current: StateScope | undefined;

/** The scope operators register with while they are being subscribed, if a runner set one. */
export function currentStateScope(): StateScope | undefined {
  return current;
}

/** Runs `subscribe` with `scope` current (nested calls restore the outer scope afterwards). */
export function withStateScope<R>(scope: StateScope | undefined, subscribe: () => R): R {
  const outer = current;
  current = scope;
  try {
    return subscribe();
  } finally {
    current = outer;
  }
}

/**
 * What a stateful operator does when it is subscribed: registers `cell` under `uid` with the
 * current scope (restoring it), or records that it has no uid. Returns the unregister function.
 */
export function joinScope(where: string, uid: string | undefined, cell: () => StateCell): () => void {
  const scope = current;
  if (scope === undefined) return noop;
  if (uid === undefined) {
    scope.unscoped(where);
    return noop;
  }
  return scope.register(uid, cell());
}

/** For operators that cannot be checkpointed: records why, if a runner is subscribing. */
export function refuseCheckpoint(where: string, reason: string): void {
  current?.refuse(where, reason);
}

const noop = (): void => undefined;
