/**
 * One partition's sub-pipeline inside a worker: subscribed in a state scope of its own (restored
 * from the partition's last commit), fed the entries of its input stream (values and clock
 * ticks), and snapshotted after each batch for the next commit.
 *
 * A synchronous pipeline has finished all its work for an entry when `next` returns, so the
 * state after a batch, the batch's outputs and the id of its last entry form a consistent cut:
 * committing the three together is what makes a takeover exact.
 */
import { Observable, Subject, Subscription } from 'rxjs';
import { RivuletError } from '../core/errors';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../state/codec';
import { StateScope, withStateScope } from '../state/scope';
import type { DistributedApp, PartitionId } from './app';

/** Where a partition's input stands, kept in its checkpoint. */
export interface InputPosition {
  /** Id of the last input entry consumed ('0-0': none). */
  offset: string;
  /** The clock from the last tick consumed (-Infinity: none yet). */
  clock: number;
}

/** A stream entry as XRANGE returns it: id and flat field list. */
export type StreamEntry = [id: string, fields: string[]];

export class PartitionHost<T, K, P extends PartitionId, R> {
  /** Id of the last entry processed. */
  offset: string;
  /** Outputs emitted so far (the last output's seq). */
  outputs: number;
  /** Values consumed so far. */
  values: number;
  /** Commits so far. */
  commits: number;
  private clock: number;
  private readonly scope: StateScope;
  private readonly input = new Subject<T>();
  private readonly ticks = new Subject<number>();
  private readonly subscription: Subscription;
  private batch: string[] | undefined;
  private failure: { error: unknown } | undefined;

  /**
   * Subscribes `app`'s pipeline for `partition`, restored from `checkpoint` (the bytes of the
   * partition's state key) if there is one. Throws ERR_NOT_CHECKPOINTABLE or
   * ERR_CHECKPOINT_INCOMPATIBLE when the pipeline cannot run distributed or does not fit the state.
   */
  constructor(
    private readonly app: DistributedApp<T, K, P, R>,
    readonly partition: P,
    checkpoint: Buffer | undefined,
  ) {
    const where = `${app.name} partition ${String(partition)}`;
    const restored = checkpoint === undefined ? undefined : (decodeCheckpoint(checkpoint, where) as Checkpoint<InputPosition, number>);
    if (restored !== undefined && restored.job !== app.name) {
      throw new RivuletError('ERR_CHECKPOINT_INCOMPATIBLE', `${where}: the state was written by application ${restored.job}`);
    }
    this.offset = restored?.sourcePosition?.offset ?? '0-0';
    this.clock = restored?.sourcePosition?.clock ?? -Infinity;
    this.outputs = restored?.sinkPosition ?? 0;
    this.values = restored?.values ?? 0;
    this.commits = restored?.seq ?? 0;
    this.scope = new StateScope(restored?.state, `partition ${String(partition)}`);
    const eventTime$ = new Observable<number>((subscriber) => {
      if (this.clock > -Infinity) subscriber.next(this.clock);
      return this.ticks.subscribe(subscriber);
    });
    const encodeOutput = app.encodeOutput;
    this.subscription = withStateScope(this.scope, () =>
      this.input.pipe(app.pipeline({ key: partition, eventTime$ })).subscribe({
        next: (output) => {
          if (this.batch === undefined) {
            this.failure ??= { error: new RivuletError('ERR_NOT_CHECKPOINTABLE', `${where}: the pipeline emitted outside the processing of an input entry: asynchronous or processing-time steps cannot run distributed`) };
            return;
          }
          this.batch.push(encodeOutput(output));
        },
        error: (error: unknown) => {
          this.failure ??= { error };
        },
      }),
    );
    try {
      if (this.failure) throw this.failure.error;
      this.scope.verify();
    } catch (error) {
      this.subscription.unsubscribe();
      throw error;
    }
  }

  /**
   * Feeds a batch of entries to the pipeline and returns the texts of the outputs it emitted, in
   * order. Throws what the pipeline failed with (the host is then unusable).
   */
  process(entries: readonly StreamEntry[]): string[] {
    if (this.failure) throw this.failure.error;
    const outputs: string[] = [];
    this.batch = outputs;
    try {
      for (const [id, fields] of entries) {
        const field = fields[0];
        const text = fields[1];
        if (field === 'e') {
          let value: T;
          try {
            value = this.app.decode(text);
          } catch (error) {
            throw new RivuletError('ERR_INVALID_VALUE', `${this.app.name} partition ${String(this.partition)}: entry ${id} cannot be decoded: ${(error as Error)?.message ?? String(error)}`, { cause: error });
          }
          this.values++;
          this.input.next(value);
        } else if (field === 't') {
          const t = Number(text);
          if (t > this.clock) {
            this.clock = t;
            this.ticks.next(t);
          }
        } else {
          throw new RivuletError('ERR_INVALID_VALUE', `${this.app.name} partition ${String(this.partition)}: entry ${id} is neither a value nor a tick`);
        }
        // The pipeline reports failures through its error callback, while `next` is running.
        const failure = this.failure as { error: unknown } | undefined;
        if (failure) throw failure.error;
        this.offset = id;
      }
    } catch (error) {
      this.failure ??= { error };
      throw error;
    } finally {
      this.batch = undefined;
    }
    this.outputs += outputs.length;
    return outputs;
  }

  /** The partition's state as the next commit stores it (taken between batches). */
  checkpoint(): Buffer {
    this.commits++;
    const checkpoint: Checkpoint<InputPosition, number> = {
      seq: this.commits,
      job: this.app.name,
      values: this.values,
      sourcePosition: { offset: this.offset, clock: this.clock },
      sinkPosition: this.outputs,
      state: this.scope.snapshot(),
    };
    return encodeCheckpoint(checkpoint as Checkpoint);
  }

  /** Ends the pipeline without completing its input: nothing is flushed, the state stays in Redis. */
  close(): void {
    this.subscription.unsubscribe();
  }
}

/** The value of a partition's offset key: the last input id consumed and the last output seq. */
export function offsetRecord(offset: string, outputs: number): string {
  return `${offset} ${outputs}`;
}

export function parseOffsetRecord(text: string | null): { offset: string; outputs: number } {
  if (text === null || text === '') return { offset: '0-0', outputs: 0 };
  const space = text.indexOf(' ');
  return { offset: text.slice(0, space), outputs: Number(text.slice(space + 1)) };
}
