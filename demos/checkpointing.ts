/**
 * What both applications' `--checkpoint DIR --output FILE` runs share: the interval flag, the
 * run itself on the library's runner, progress on a terminal, and the messages a user sees.
 */
import { from, lastValueFrom, OperatorFunction, tap } from 'rxjs';
import {
  directoryStore, fileOutput, parseDuration, PositionedSource, RivuletError, runCheckpointed, RunEvent, streamOutput,
} from '../index';
import type { CliIo } from './cliIo';

export interface CheckpointFlags {
  checkpoint?: string;
  checkpointEvery: string;
  output?: string;
}

/** `--checkpoint-every`: a duration of processing time (`1s`, `500ms`) or a count of input values. */
export function checkpointInterval(text: string): { ms: number } | { values: number } {
  if (/^\d+$/.test(text)) {
    const values = Number(text);
    if (values >= 1) return { values };
  }
  try {
    return { ms: parseDuration(text, '--checkpoint-every') };
  } catch {
    throw new RivuletError('ERR_INVALID_OPTION', `--checkpoint-every: expected a duration such as 1s or a count of input values such as 100000, got ${JSON.stringify(text)}`);
  }
}

export interface CheckpointedJob<T, P> {
  /** The command, for messages: `star-leaders`. */
  app: string;
  /** Everything that shapes the output: a checkpoint of another job is refused. */
  job: string;
  source: PositionedSource<T, P>;
  pipeline: OperatorFunction<T, string>;
  flags: CheckpointFlags & { checkpoint: string };
  /** Whether records on stdout carry a seq by which a consumer can drop repeats. */
  numbered: boolean;
}

/**
 * Runs a job with checkpoints in `--checkpoint DIR`, writing to `--output FILE` (exactly once) or
 * to stdout (at least once after a recovery). A stop (SIGINT/SIGTERM) takes a final checkpoint and
 * leaves open windows open for the rerun; the process then exits 130 or 143.
 */
export async function runCheckpointedJob<T, P>(job: CheckpointedJob<T, P>, io: CliIo): Promise<void> {
  const { app, flags } = job;
  const say = (line: string): boolean => io.stderr.write(`${app}: ${line}\n`);
  const sink = flags.output !== undefined ? fileOutput(flags.output) : streamOutput(io.stdout, 'stdout');
  let lastCheckpoint = 'none yet';
  let values = 0;
  let progressShown = false;
  const progress = (): void => {
    if (!io.interactive) return;
    progressShown = true;
    io.stderr.write(`\r${app}: ${values} values, last checkpoint ${lastCheckpoint}\u001b[K`);
  };
  const endProgress = (): void => {
    if (progressShown) io.stderr.write('\n');
    progressShown = false;
  };
  const report = (event: RunEvent): void => {
    switch (event.type) {
      case 'resumed':
        say(`resuming from checkpoint ${event.seq} (${event.values} values, after ${event.position})`);
        break;
      case 'checkpoint':
        values = event.values;
        lastCheckpoint = `${event.seq} at ${event.position}`;
        progress();
        break;
      case 'corrupt':
        endProgress();
        say(`warning: ${event.message}`);
        break;
      case 'failure':
        endProgress();
        say(`processing failed at ${event.position} (attempt ${event.attempts}): ${event.error}; recovering from the last checkpoint`);
        break;
      case 'dead-letter':
        endProgress();
        say(`gave up on the value at ${event.position} after ${event.attempts} attempts; written to ${flags.checkpoint}/dead-letters.jsonl`);
        break;
      case 'already-completed':
        say(`this run already completed (${event.values} values; ${flags.checkpoint}/completed.json); nothing to do`);
        break;
      case 'completed':
        endProgress();
        break;
      case 'stopped':
        endProgress();
        say(`stopped at checkpoint ${event.seq} (${event.values} values); run the same command again to continue`);
        break;
    }
  };
  if (flags.output === undefined) {
    say(`writing to stdout: after a crash, records since the last checkpoint are written again${job.numbered ? ' (each carries a seq)' : ''}; --output FILE writes them exactly once`);
  }
  await lastValueFrom(
    runCheckpointed({
      job: job.job,
      source: job.source,
      pipeline: job.pipeline,
      sink,
      store: directoryStore(flags.checkpoint),
      every: checkpointInterval(flags.checkpointEvery),
      stop$: from(io.stopRequested),
    }).pipe(tap(report)),
    { defaultValue: undefined },
  );
}
