/**
 * star-leaders from files with checkpoints (`--checkpoint DIR [--output FILE]`): the same
 * pipeline as an ordinary run, on the library's checkpointing runner.
 */
import { appendFileSync } from 'node:fs';
import { EMPTY, map, mergeMap, of, OperatorFunction, pipe } from 'rxjs';
import { FileLine, positionedFileLines, statefulScan, toJson } from '../../index';
import { checkpointInterval, CheckpointFlags, runCheckpointedJob } from '../checkpointing';
import type { CliIo } from '../cliIo';
import { GitHubEvent, githubEventTypeFilter, parseGitHubEvent } from './githubEvents';
import { INTERESTING_TYPES, PartitionLeaders, starLeaders, StarLeadersOptions } from './starLeaders';

export interface CheckpointedStarLeaders {
  files: string[];
  options: StarLeadersOptions;
  flags: CheckpointFlags & { checkpoint: string };
  deadLetter?: string;
}

/** Runs star-leaders over `files` with checkpoints; output records as an ordinary run writes them. */
export async function runCheckpointedStarLeaders(run: CheckpointedStarLeaders, io: CliIo): Promise<void> {
  const { files, options, flags } = run;
  checkpointInterval(flags.checkpointEvery); // a bad interval is reported before anything is opened
  const toStdout = flags.output === undefined;
  const job = [
    'star-leaders',
    `files=${JSON.stringify(files)}`,
    `partitions=${options.partitions} windowHours=${options.windowHours} top=${options.top} allowedLatenessMs=${options.allowedLatenessMs}`,
    `output=${flags.output ?? 'stdout'}`,
  ].join(' ');
  await runCheckpointedJob(
    {
      app: 'star-leaders',
      job,
      source: positionedFileLines(files, { accept: githubEventTypeFilter(INTERESTING_TYPES) }),
      pipeline: pipe(
        parseLines(run.deadLetter),
        starLeaders(options),
        // Records that may be repeated after a recovery carry their partition's sequence number.
        toStdout ? numbered() : map((out: PartitionLeaders) => toJson(out)),
      ),
      flags,
      numbered: toStdout,
    },
    io,
  );
}

/** Lines to events; an unreadable line is appended to `deadLetter` (again after a recovery). */
function parseLines(deadLetter: string | undefined): OperatorFunction<FileLine, GitHubEvent> {
  return mergeMap((line) => {
    if (line.text.trim() === '') return EMPTY;
    const parsed = parseGitHubEvent(line.text);
    if (parsed.ok) return of(parsed.event);
    if (deadLetter !== undefined) {
      appendFileSync(deadLetter, `${toJson({ source: line.source, line: line.lineNumber, reason: parsed.reason, text: line.text })}\n`);
    }
    return EMPTY;
  });
}

/** `{"partition", "seq", "leaders"}`: seq counts each partition's records from 1, kept in state. */
function numbered(): OperatorFunction<PartitionLeaders, string> {
  return statefulScan<PartitionLeaders, Map<number, number>, string>({
    uid: 'seq',
    seed: () => new Map(),
    step(seqs, out, emit) {
      const seq = (seqs.get(out.partition) ?? 0) + 1;
      seqs.set(out.partition, seq);
      emit(toJson({ partition: out.partition, seq, leaders: out.leaders }));
      return seqs;
    },
  });
}
