/*
 * How a run without checkpoints stops on SIGINT/SIGTERM (with checkpoints, the runner takes a
 * final checkpoint instead and leaves the windows open for the rerun). The input ends rather than
 * the whole pipeline being torn down, so every open window is emitted once, as at the end of a
 * file; the outputs then get up to --drain-timeout to take what is left; past it, stderr says how
 * much was produced at the stop and may not have been delivered. The exit code (130 or 143) is
 * set by `main` in cli.ts; a second signal ends the process at once.
 */
import { defer, lastValueFrom, MonoTypeOperatorFunction, Observable, share, switchMap, takeUntil, tap, timer } from 'rxjs';
import type { CliIo } from './cliIo';

export interface GracefulStop {
  /** Emits once a stop has been asked for; subscribing late still sees it. */
  readonly stopped: Observable<void>;
  /** Whether a stop has been asked for. */
  readonly stopping: boolean;
  /** Ends the input at the stop: it completes, so the pipeline closes its windows as at the end of a file. */
  input<T>(): MonoTypeOperatorFunction<T>;
  /**
   * For outputs that keep serving after the input has ended (dashboards): they end at the stop,
   * once `done` has emitted, so that they take the records emitted at the stop first.
   */
  serving<T>(done: Observable<unknown>): MonoTypeOperatorFunction<T>;
  /** Names an output (`--out 127.0.0.1:7002`), so that the report can say which had not finished. */
  output<T>(name: string): MonoTypeOperatorFunction<T>;
  /** Counts a record (its text as written, without the line ending) if it is produced after the stop. */
  produced(text: string): void;
  /** Runs the outputs to their end, or until the drain timeout after a stop, then says what may be lost. */
  run(outputs: Observable<unknown>): Promise<void>;
}

export interface GracefulStopOptions {
  /** The command, for messages: `star-leaders`. */
  app: string;
  drainTimeoutMs: number;
  /** `--drain-timeout` as the user wrote it, for messages. */
  drainTimeout: string;
}

export function gracefulStop(io: CliIo, options: GracefulStopOptions): GracefulStop {
  const { app, drainTimeoutMs, drainTimeout } = options;
  let stopping = false;
  let records = 0;
  let bytes = 0;
  const unfinished = new Set<string>();
  const stopped = defer(() => io.stopRequested).pipe(
    tap(() => (stopping = true)),
    share(),
  );
  return {
    stopped,
    get stopping() {
      return stopping;
    },
    input: () => takeUntil(stopped),
    serving: (done) => takeUntil(stopped.pipe(switchMap(() => done))),
    output: (name) => (source) =>
      defer(() => {
        unfinished.add(name);
        return source.pipe(tap({ complete: () => unfinished.delete(name) }));
      }),
    produced(text) {
      if (!stopping) return;
      records += 1;
      bytes += Buffer.byteLength(text) + 1;
    },
    async run(outputs) {
      let drained = true;
      const deadline = stopped.pipe(
        switchMap(() => timer(drainTimeoutMs)),
        tap(() => (drained = false)),
      );
      await lastValueFrom(outputs.pipe(takeUntil(deadline)), { defaultValue: undefined });
      if (drained) return;
      const where = unfinished.size > 0 ? ` to ${[...unfinished].join(', ')}` : '';
      const before = unfinished.size > 1 ? ', nor what they still held from before' : unfinished.size === 1 ? ', nor what it still held from before' : '';
      io.stderr.write(
        `${app}: stopped after --drain-timeout ${drainTimeout} with output not yet delivered${where}: ` +
          `${records} record(s) (${bytes} bytes) were produced at the stop and may not have been delivered${before}\n`,
      );
    },
  };
}
