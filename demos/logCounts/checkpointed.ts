/**
 * log-counts from files with checkpoints (`--checkpoint DIR [--output FILE]`): the same pipeline
 * as an ordinary run, on the library's checkpointing runner. Each file ends its day, as the
 * original sender's END_OF_DAY did, and a resumed run starts after the last line processed.
 */
import { appendFileSync } from 'node:fs';
import { map, OperatorFunction, pipe } from 'rxjs';
import { positionedFileLines, statefulScan, toJson } from '../../index';
import { checkpointInterval, CheckpointFlags, runCheckpointedJob } from '../checkpointing';
import type { CliIo } from '../cliIo';
import { DayReport, END_OF_DAY, LogCountsOptions, logCounts } from './logCounts';

export interface CheckpointedLogCounts {
  files: string[];
  options: Pick<LogCountsOptions, 'compat' | 'eventTime'>;
  flags: CheckpointFlags & { checkpoint: string };
  deadLetter?: string;
}

export async function runCheckpointedLogCounts(run: CheckpointedLogCounts, io: CliIo): Promise<void> {
  const { files, options, flags, deadLetter } = run;
  checkpointInterval(flags.checkpointEvery);
  const toStdout = flags.output === undefined;
  const mode = options.eventTime === undefined ? 'boundary' : `day tz=${options.eventTime.timeZone ?? 'first-line'} allowedLatenessMs=${options.eventTime.allowedLatenessMs}`;
  const job = ['log-counts', `files=${JSON.stringify(files)}`, `window=${mode}`, `compat=${options.compat ?? 'none'}`, `output=${flags.output ?? 'stdout'}`].join(' ');
  const dead = deadLetter === undefined ? undefined : { next: (letter: unknown) => appendFileSync(deadLetter, `${toJson(letter)}\n`) };
  await runCheckpointedJob(
    {
      app: 'log-counts',
      job,
      source: positionedFileLines<typeof END_OF_DAY>(files, { endOfFile: END_OF_DAY }),
      pipeline: pipe(
        logCounts({ ...options, deadLetter: dead }),
        // On stdout, where a recovery may repeat records, each report carries its number; the
        // original's objects (--compat wallaroo) stay exactly as they were.
        toStdout && options.compat === undefined ? numbered() : map((report: DayReport | Map<string, number>) => toJson(report)),
      ),
      flags,
      numbered: toStdout && options.compat === undefined,
    },
    io,
  );
}

function numbered(): OperatorFunction<DayReport | Map<string, number>, string> {
  return statefulScan<DayReport | Map<string, number>, number, string>({
    uid: 'seq',
    seed: () => 0,
    step(seq, report, emit) {
      emit(toJson({ seq: seq + 1, ...(report as DayReport) }));
      return seq + 1;
    },
  });
}
