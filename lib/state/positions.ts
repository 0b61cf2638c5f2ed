/**
 * The two ends a checkpointing runner needs beyond the pipeline: a source that can resume after
 * a position, and a sink that can go back to one.
 */
import type { Observable } from 'rxjs';
import type { FlowGate } from '../core/flowGate';

/** A source value with the position just after it (where a resumed source starts). */
export interface Positioned<T, P> {
  readonly value: T;
  readonly position: P;
}

/**
 * A source whose values carry positions, and that can be opened again after any position it
 * gave out. Positions are plain data (they are stored in checkpoints).
 */
export interface PositionedSource<T, P> {
  /** Opens the source after `position`, or at its start; reading pauses while `gate` is paused. */
  open(after: P | undefined, gate: FlowGate): Observable<Positioned<T, P>>;
  /** A stable text for a position, for messages, failure records and dead letters. */
  describe(position: P): string;
}

/**
 * A sink that can be rewound to a position it reported, so that what was written after the last
 * checkpoint is written again exactly once (a file truncated to its checkpointed length).
 */
export interface RewindableSink<R, P> {
  /** What the sink writes to, for messages. */
  readonly name: string;
  /** Opens the sink at `at` (discarding anything after it), or empty when `at` is undefined. */
  open(at: P | undefined): Promise<void>;
  write(record: R): void;
  /** Where the sink stands after every record written so far (not necessarily durable yet). */
  position(): P;
  /** Bytes written but not yet durable: the runner pauses the source while this is large. */
  pendingBytes(): number;
  /** Resolves once every record written so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
