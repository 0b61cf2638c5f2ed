/**
 * Where checkpoints are kept. The runner only needs this interface; {@link directoryStore} is the
 * embedded one (a local folder), and a distributed store implements the same.
 */
import type { Checkpoint } from './codec';

/** How a run that finished is remembered, so a rerun neither redoes nor duplicates it. */
export interface CompletedRun {
  job: string;
  values: number;
  /** The sink position at the end (for a file: its length in bytes). */
  sinkPosition: unknown;
}

/** A value whose processing threw, by source position. */
export interface Failure {
  /** The source position, as the source describes it. */
  position: string;
  attempts: number;
  error: string;
}

/** A value given up on after repeated failures, with where it came from and why. */
export interface DeadLetterRecord {
  position: string;
  error: string;
  attempts: number;
  value: unknown;
}

export interface CheckpointStore {
  /** For messages: the folder, the Redis key prefix... */
  readonly name: string;
  /** Claims the store for this run (one writer at a time). */
  open(): Promise<void>;
  /** The latest intact checkpoint; a corrupt newer one is reported through `onCorrupt` and skipped. */
  load(onCorrupt?: (message: string) => void): Promise<Checkpoint | undefined>;
  /** Writes a checkpoint atomically: after a crash either it is there whole, or the previous one is. */
  save(checkpoint: Checkpoint, bytes: Buffer): Promise<void>;
  completed(): Promise<CompletedRun | undefined>;
  complete(run: CompletedRun): Promise<void>;
  failures(): Promise<Map<string, Failure>>;
  recordFailure(failure: Failure): Promise<void>;
  deadLetter(record: DeadLetterRecord): Promise<void>;
  /** Releases the claim. */
  close(): Promise<void>;
}
