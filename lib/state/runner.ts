/**
 * The checkpointing runner: a synchronous pipeline between a positioned source and a rewindable
 * sink, with consistent checkpoints and recovery.
 *
 * Why no barriers are needed: when a synchronous RxJS pipeline's `next` returns, every operator
 * has finished with that value and every output it caused has reached the sink. Between two
 * source values the source position, every operator's state and the sink position therefore form
 * a consistent cut, taken in one synchronous step. The cut is serialised at once (so processing
 * goes on while it is written); the sink is made durable up to the cut's position, and only then
 * is the checkpoint written, atomically. After a crash the run resumes from the latest intact
 * checkpoint: state restored, sink rewound, source reopened after the position.
 */
import { asyncScheduler, Observable, OperatorFunction, SchedulerLike, Subscriber, Subscription } from 'rxjs';
import { FlowGate } from '../core/flowGate';
import { RivuletError } from '../core/errors';
import { encodeCheckpoint, type Checkpoint } from './codec';
import type { PositionedSource, RewindableSink } from './positions';
import { StateScope, withStateScope } from './scope';
import type { CheckpointStore, Failure } from './store';

export interface CheckpointedRunOptions<T, R, SP, KP> {
  /** Identifies the job: a checkpoint or completed run of another job is refused. */
  job: string;
  source: PositionedSource<T, SP>;
  /** Synchronous, with a `uid` on every stateful operator. */
  pipeline: OperatorFunction<T, R>;
  sink: RewindableSink<R, KP>;
  store: CheckpointStore;
  /** Checkpoint interval: `{ ms }` of processing time (default 1000) or `{ values }`. */
  every?: { ms: number } | { values: number };
  /** Processing-time clock for `every.ms`. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Attempts at a value whose processing throws before it is given up on. Default 3. */
  maxAttempts?: number;
  /** What to do with a value that failed `maxAttempts` times. Default 'dead-letter'. */
  onPoison?: 'dead-letter' | 'fail';
  /** Emits to stop: a final checkpoint is taken and open windows stay open for the next run. */
  stop$?: Observable<unknown>;
}

export type RunEvent =
  | { type: 'resumed'; seq: number; values: number; position: string }
  | { type: 'checkpoint'; seq: number; values: number; position: string; bytes: number; writeMs: number }
  | { type: 'corrupt'; message: string }
  | { type: 'failure'; position: string; attempts: number; error: string }
  | { type: 'dead-letter'; position: string; attempts: number; error: string }
  | { type: 'completed'; values: number }
  | { type: 'already-completed'; values: number }
  | { type: 'stopped'; seq: number; values: number };

const END_OF_INPUT = 'end of input';

/** Sink bytes not yet durable above which the source is paused. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

type Outcome = { kind: 'completed' | 'stopped' } | { kind: 'failed'; position: string; error: unknown };

/**
 * Runs `pipeline` from `source` to `sink` with checkpoints in `store`, resuming from the latest
 * one. Emits what happens ({@link RunEvent}) and completes when the input is done (or was done
 * before: `already-completed`), or after a stop. Errors with ERR_NOT_CHECKPOINTABLE at start if
 * the pipeline cannot be checkpointed, ERR_CHECKPOINT_INCOMPATIBLE if the checkpoint does not
 * fit it, ERR_CHECKPOINT_STORE if the store fails, or with the pipeline's own error when a
 * poison value is set to fail. Unsubscribing abandons the run without a checkpoint.
 */
export function runCheckpointed<T, R, SP, KP>(options: CheckpointedRunOptions<T, R, SP, KP>): Observable<RunEvent> {
  const { job, source, pipeline, sink, store } = options;
  const every = options.every ?? { ms: 1000 };
  const scheduler = options.scheduler ?? asyncScheduler;
  const maxAttempts = options.maxAttempts ?? 3;
  const onPoison = options.onPoison ?? 'dead-letter';
  if ('ms' in every ? !(every.ms > 0) : !(Number.isInteger(every.values) && every.values > 0)) {
    throw new RivuletError('ERR_INVALID_OPTION', 'runCheckpointed: every must be { ms: > 0 } or { values: integer >= 1 }');
  }
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) throw new RivuletError('ERR_INVALID_OPTION', 'runCheckpointed: maxAttempts must be an integer >= 1');

  return new Observable<RunEvent>((events) => {
    let abandoned = false;
    const teardown = new Subscription();

    const incompatibleJob = (what: string, other: string): RivuletError =>
      new RivuletError('ERR_CHECKPOINT_INCOMPATIBLE', `${store.name}: the ${what} was made by another job (${other}), not ${job}`);

    async function run(): Promise<void> {
      await store.open();
      try {
        const done = await store.completed();
        if (done !== undefined) {
          if (done.job !== job) throw incompatibleJob('completed run', done.job);
          events.next({ type: 'already-completed', values: done.values });
          return;
        }
        for (;;) {
          const checkpoint = await store.load((message) => events.next({ type: 'corrupt', message }));
          if (checkpoint !== undefined && checkpoint.job !== job) throw incompatibleJob('checkpoint', checkpoint.job);
          const failures = await store.failures();
          const outcome = await runOnce(checkpoint as Checkpoint<SP, KP> | undefined, failures);
          if (outcome.kind !== 'failed') return;
          const attempts = (failures.get(outcome.position)?.attempts ?? 0) + 1;
          const error = describeError(outcome.error);
          await store.recordFailure({ position: outcome.position, attempts, error });
          events.next({ type: 'failure', position: outcome.position, attempts, error });
          // A failure at the end of input has no value to set aside: it can only fail the run.
          if (attempts >= maxAttempts && (onPoison === 'fail' || outcome.position === END_OF_INPUT)) throw outcome.error;
          if (abandoned) return;
        }
      } finally {
        await store.close();
      }
    }

    function runOnce(checkpoint: Checkpoint<SP, KP> | undefined, failures: Map<string, Failure>): Promise<Outcome> {
      return new Promise<Outcome>((resolve, reject) => {
        const scope = new StateScope(checkpoint?.state);
        const gate = new FlowGate();
        // The pipeline's subscribers to its input, fed directly: a Subject would cost a closure and
        // a copy of its observer list per value, for what is nearly always a single subscriber.
        const feeds: Subscriber<T>[] = [];
        const input = new Observable<T>((subscriber) => {
          feeds.push(subscriber);
          return () => {
            const at = feeds.indexOf(subscriber);
            if (at >= 0) feeds.splice(at, 1);
          };
        });
        const feed = (value: T): void => {
          if (feeds.length === 1) feeds[0].next(value);
          else for (const subscriber of [...feeds]) subscriber.next(value);
        };
        const subscriptions = new Subscription();
        teardown.add(subscriptions);
        let seq = checkpoint?.seq ?? 0;
        let values = checkpoint?.values ?? 0;
        let lastPosition: SP | undefined = checkpoint?.sourcePosition;
        let inValue = false; // a source value is being processed
        let pipelineError: { error: unknown } | undefined;
        let completing = false;
        let lastAt = scheduler.now();
        let valuesAt = values;
        let saving: Promise<void> = Promise.resolve();
        let queued = 0; // cuts taken but not yet saved
        let finished = false;

        const finish = (outcome: Outcome | { kind: 'error'; error: unknown }): void => {
          if (finished) return;
          finished = true;
          subscriptions.unsubscribe();
          void saving
            .then(() => sink.close())
            .then(
              () => (outcome.kind === 'error' ? reject(outcome.error) : resolve(outcome)),
              (error: unknown) => reject(outcome.kind === 'error' ? outcome.error : error),
            );
        };

        const checkpointNow = (): void => {
          seq++;
          const cut: Checkpoint<SP, KP> = { seq, job, values, sourcePosition: lastPosition, sinkPosition: sink.position(), state: scope.snapshot() };
          const bytes = encodeCheckpoint(cut as Checkpoint);
          lastAt = scheduler.now();
          valuesAt = values;
          queued++;
          if (queued > 1) gate.pause(store);
          const position = lastPosition === undefined ? 'start' : source.describe(lastPosition);
          saving = saving.then(async () => {
            const started = scheduler.now();
            await sink.flush();
            await store.save(cut as Checkpoint, bytes);
            queued--;
            if (queued <= 1) gate.resume(store);
            if (sink.pendingBytes() < MAX_PENDING_BYTES / 2) gate.resume(sink);
            events.next({ type: 'checkpoint', seq: cut.seq, values: cut.values, position, bytes: bytes.length, writeMs: scheduler.now() - started });
          });
          saving.catch((error: unknown) => finish({ kind: 'error', error }));
        };
        let stopRequested = false;
        const stop = (): void => {
          if (finished || completing) return;
          try {
            checkpointNow();
          } catch (error) {
            return finish({ kind: 'error', error });
          }
          const stopped = { seq, values };
          saving = saving.then(() => events.next({ type: 'stopped', ...stopped }));
          finish({ kind: 'stopped' });
        };
        // The clock is read every 64 values: often enough for a 1 s interval, cheap per value.
        const due = (): boolean => ('ms' in every ? (values & 63) === 0 && scheduler.now() - lastAt >= every.ms : values - valuesAt >= every.values);

        (async () => {
          await sink.open(checkpoint?.sinkPosition);
          if (checkpoint !== undefined) {
            const position = checkpoint.sourcePosition === undefined ? 'start' : source.describe(checkpoint.sourcePosition);
            events.next({ type: 'resumed', seq: checkpoint.seq, values: checkpoint.values, position });
          }
          subscriptions.add(
            withStateScope(scope, () =>
              input.pipe(pipeline).subscribe({
                next(record) {
                  if (!inValue && !completing) {
                    const error = new RivuletError('ERR_NOT_CHECKPOINTABLE', 'runCheckpointed: the pipeline emitted between two source values: asynchronous steps cannot be checkpointed');
                    return finish({ kind: 'error', error });
                  }
                  try {
                    sink.write(record);
                  } catch (error) {
                    finish({ kind: 'error', error });
                  }
                },
                error(error) {
                  pipelineError = { error };
                },
              }),
            ),
          );
          // An operator that failed to subscribe (a snapshot that does not fit it) errored at once.
          if (pipelineError) throw pipelineError.error;
          scope.verify();
          if (options.stop$) {
            subscriptions.add(
              options.stop$.subscribe(() => {
                // Asked from within a value's processing, the stop waits for the value to finish.
                if (!inValue) stop();
                else stopRequested = true;
              }),
            );
          }
          subscriptions.add(
            source.open(checkpoint?.sourcePosition, gate).subscribe({
              next({ value, position }) {
                if (finished) return;
                // Positions are described (a string per value) only when there are failures to match.
                const described = failures.size > 0 ? source.describe(position) : undefined;
                const failure = described === undefined ? undefined : failures.get(described);
                if (failure !== undefined && failure.attempts >= maxAttempts) {
                  const record = { position: described!, attempts: failure.attempts, error: failure.error, value: printable(value) };
                  saving = saving.then(() => store.deadLetter(record));
                  events.next({ type: 'dead-letter', position: described!, attempts: failure.attempts, error: failure.error });
                } else {
                  inValue = true;
                  feed(value);
                  inValue = false;
                  if (pipelineError) return finish({ kind: 'failed', position: described ?? source.describe(position), error: pipelineError.error });
                }
                lastPosition = position;
                values++;
                if (stopRequested) return stop();
                if (due()) {
                  try {
                    checkpointNow();
                  } catch (error) {
                    return finish({ kind: 'error', error });
                  }
                }
                if (sink.pendingBytes() >= MAX_PENDING_BYTES) gate.pause(sink);
              },
              error: (error: unknown) => finish({ kind: 'error', error }),
              complete() {
                if (finished) return;
                completing = true;
                for (const subscriber of [...feeds]) subscriber.complete();
                if (pipelineError) return finish({ kind: 'failed', position: END_OF_INPUT, error: pipelineError.error });
                saving = saving
                  .then(() => sink.flush())
                  .then(() => store.complete({ job, values, sinkPosition: sink.position() }))
                  .then(() => events.next({ type: 'completed', values }));
                finish({ kind: 'completed' });
              },
            }),
          );
        })().catch((error: unknown) => finish({ kind: 'error', error }));
      });
    }

    run().then(
      () => events.complete(),
      (error: unknown) => events.error(error),
    );
    return () => {
      abandoned = true;
      teardown.unsubscribe();
    };
  });
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A dead-lettered value as JSON can hold it (strings and plain records as they are). */
function printable(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value) ?? 'null') as unknown;
  } catch {
    return String(value);
  }
}
