/**
 * Memory: the 30-day star-leaders replay from the event files, with the heap measured after a
 * full garbage collection at every simulated day boundary. Run as a child process with
 * --expose-gc (run.js forks it); prints one JSON line.
 */
import { filter, lastValueFrom, map, tap } from 'rxjs';
import { INTERESTING_TYPES, starLeaders } from '../demos/starLeaders/starLeaders';
import { fileLines } from '../lib/io/files';
import { githubEventTypeFilter, parseGitHubEvent, GitHubEvent } from '../demos/starLeaders/githubEvents';

const DAY_MS = 86_400_000;

export interface MemoryReport {
  /** heapUsed in MB after GC at the end of each simulated day but the last, day 1 first. */
  heapMbByDay: number[];
  firstDayMb: number;
  maxLaterMb: number;
  ratio: number;
}

async function main(files: string[]): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('memory benchmark: run node with --expose-gc');
  const heapMbByDay: number[] = [];
  let day = NaN;
  const sample = (): void => {
    gc();
    heapMbByDay.push(process.memoryUsage().heapUsed / 1_048_576);
  };
  // Read as the CLI reads archive files: only lines of the kept types are decoded and parsed.
  const events = fileLines(files, { accept: githubEventTypeFilter(INTERESTING_TYPES) }).pipe(
    map((line) => parseGitHubEvent(line.text)),
    filter((r) => r.ok),
    map((r) => (r as { event: GitHubEvent }).event),
    tap((e) => {
      const d = Math.floor(e.createdAtMs / DAY_MS);
      if (d !== day) {
        if (!Number.isNaN(day)) sample(); // the previous day is over: the pipeline holds its state
        day = d;
      }
    }),
  );
  await lastValueFrom(events.pipe(starLeaders()), { defaultValue: undefined });
  const firstDayMb = heapMbByDay[0];
  const maxLaterMb = Math.max(...heapMbByDay.slice(1));
  const report: MemoryReport = { heapMbByDay, firstDayMb, maxLaterMb, ratio: maxLaterMb / firstDayMb };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
