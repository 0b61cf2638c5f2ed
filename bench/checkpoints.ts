/**
 * Checkpoint overhead and restore time, on the bench inputs (31 days of GitHub events, 36 days of
 * access logs). Each application runs from its files through the CLI's own pipeline: once plainly
 * (fileLines -> pipeline -> file) and once on the checkpointing runner at the default interval
 * (1 s), in rounds after a warm-up; seconds are median runs and the ratio the median of the
 * rounds' ratios (as in run.ts). Then the last checkpoint of a 30-day star-leaders run is
 * decoded and restored into a freshly subscribed pipeline, timed; and the 36-day log as one file
 * is reopened just before its end, by the position's byte offset and by counting lines again.
 *
 *   npx tsc -p tsconfig.bench.json && node --expose-gc dist-bench/bench/checkpoints.js
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EMPTY, firstValueFrom, lastValueFrom, map, mergeMap, of, OperatorFunction, pipe, Subject, tap } from 'rxjs';
import {
  decodeCheckpoint, directoryStore, FileLine, fileLines, FlowGate, fileOutput, positionedFileLines, runCheckpointed, RunEvent, StateScope, toJson, withStateScope,
  writeLines,
} from '../index';
import { END_OF_DAY, logCounts } from '../demos/logCounts/logCounts';
import { parseGitHubEvent } from '../demos/starLeaders/githubEvents';
import { starLeaders } from '../demos/starLeaders/starLeaders';
import { collectGarbage, Measured, measureRounds, roundsRatio } from './harness';
import { eventInputs, logInputs, logOneFile } from './inputs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const starPipeline = (): OperatorFunction<FileLine, string> =>
  pipe(
    mergeMap((line: FileLine) => {
      const parsed = parseGitHubEvent(line.text);
      return parsed.ok ? of(parsed.event) : EMPTY;
    }),
    starLeaders(),
    map((out) => toJson(out)),
  );

/** What a run wrote in checkpoints (none for a plain run); measureRounds times the runs. */
interface Checkpointing {
  checkpoints: number;
  bytes: number;
  writeMs: number;
}

async function plain(files: string[], pipeline: OperatorFunction<FileLine | typeof END_OF_DAY, string>, out: string, markers: boolean): Promise<Checkpointing> {
  const lines = markers
    ? positionedFileLines<typeof END_OF_DAY>(files, { endOfFile: END_OF_DAY }).open(undefined, new FlowGate()).pipe(map((p) => p.value))
    : fileLines(files);
  await lastValueFrom(lines.pipe(pipeline, writeLines(out)), { defaultValue: undefined });
  return { checkpoints: 0, bytes: 0, writeMs: 0 };
}

async function checkpointed(files: string[], pipeline: OperatorFunction<FileLine | typeof END_OF_DAY, string>, out: string, dir: string, markers: boolean): Promise<Checkpointing> {
  rmSync(dir, { recursive: true, force: true });
  const written: Checkpointing = { checkpoints: 0, bytes: 0, writeMs: 0 };
  await lastValueFrom(
    runCheckpointed({
      job: 'bench',
      source: markers ? positionedFileLines<typeof END_OF_DAY>(files, { endOfFile: END_OF_DAY }) : positionedFileLines(files),
      pipeline,
      sink: fileOutput(out),
      store: directoryStore(dir),
    }).pipe(
      tap((e: RunEvent) => {
        if (e.type !== 'checkpoint') return;
        written.checkpoints++;
        written.bytes = e.bytes;
        written.writeMs = Math.max(written.writeMs, e.writeMs);
      }),
    ),
    { defaultValue: undefined },
  );
  return written;
}

async function compare(name: string, files: string[], pipeline: () => OperatorFunction<FileLine | typeof END_OF_DAY, string>, markers: boolean, work: string): Promise<void> {
  const [mp, mc] = await measureRounds<Checkpointing>([
    () => plain(files, pipeline(), join(work, `${name}-plain.out`), markers),
    () => checkpointed(files, pipeline(), join(work, `${name}-ckpt.out`), join(work, `${name}-ckpt`), markers),
  ], RUNS);
  const last = mc.result;
  const kept = roundsRatio(mc, mp);
  const runs = (m: Measured<Checkpointing>) => m.runsSeconds.map((t) => t.toFixed(2)).join(', ');
  process.stderr.write(`${name}: runs without ${runs(mp)} s; with checkpoints ${runs(mc)} s\n`);
  const same = readFileSync(join(work, `${name}-plain.out`)).equals(readFileSync(join(work, `${name}-ckpt.out`)));
  console.log(
    `${name.padEnd(14)} without ${mp.medianSeconds.toFixed(2)} s, with checkpoints ${mc.medianSeconds.toFixed(2)} s: ` +
      `${kept.toFixed(2)} of the throughput (target >= 0.90); ${last.checkpoints} checkpoints, ` +
      `last ${(last.bytes / 1024).toFixed(0)} KiB, slowest write ${last.writeMs.toFixed(0)} ms; outputs identical: ${same}`,
  );
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'rivulet-bench-ckpt-'));
  try {
    const events = eventInputs(1, true);
    const logs = logInputs();
    await compare('star-leaders', events.files, starPipeline as () => OperatorFunction<FileLine | typeof END_OF_DAY, string>, false, work);
    await compare('log-counts', logs.files, () => pipe(logCounts({}), map((r) => toJson(r))), true, work);
    await compare('log-counts day', logs.files, () => pipe(logCounts({ eventTime: { allowedLatenessMs: 300_000 } }), map((r) => toJson(r))), true, work);

    // Restore: decode the newest checkpoint of the 30-day run and restore it into a fresh pipeline.
    const dir = join(work, 'star-leaders-ckpt');
    const newest = readdirSync(dir).filter((n) => n.endsWith('.ckpt')).sort().pop()!;
    const bytes = readFileSync(join(dir, newest));
    collectGarbage();
    const started = performance.now();
    const checkpoint = decodeCheckpoint(bytes, newest);
    const scope = new StateScope(checkpoint.state);
    const input = new Subject<FileLine>();
    const subscription = withStateScope(scope, () => input.pipe(starPipeline()).subscribe());
    scope.verify();
    const restoreMs = performance.now() - started;
    subscription.unsubscribe();
    console.log(`restore        ${(bytes.length / 1024).toFixed(0)} KiB checkpoint of a ${events.events}-event run decoded and restored in ${restoreMs.toFixed(0)} ms (target < 1000 ms)`);
    await resumeNearTheEnd(logOneFile(logs));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Time to the first line after a position ten lines before the end of one large plain file. */
async function resumeNearTheEnd(one: { file: string; lines: number }): Promise<void> {
  const source = positionedFileLines([one.file]);
  const position = (await firstValueFrom(source.open({ file: 0, line: one.lines - 11 }, new FlowGate()))).position;
  const firstLineMs = async (after: typeof position) => {
    const started = performance.now();
    await firstValueFrom(source.open(after, new FlowGate()));
    return performance.now() - started;
  };
  let seek = Infinity;
  let skip = Infinity;
  for (let run = 0; run < RUNS; run++) {
    seek = Math.min(seek, await firstLineMs(position));
    skip = Math.min(skip, await firstLineMs({ file: 0, line: position.line }));
  }
  console.log(`resume         ${one.lines} lines in one file, reopened at line ${position.line}: ${seek.toFixed(1)} ms by byte offset, ${skip.toFixed(0)} ms by counting lines`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
