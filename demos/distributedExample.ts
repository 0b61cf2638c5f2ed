/**
 * A user's own partitioned pipeline, run on several processes over Redis: the three busiest
 * repositories of the last hour of event time (every event type), per partition of hashMod(4).
 * In one process it is `events.pipe(partitionBy(busiestRepos))`; distributed, the same options
 * run on as many workers as are started:
 *
 *   node dist/demos/distributedExample.js route redis://127.0.0.1:6379 demos/data/gharchive/*.json.gz
 *   node dist/demos/distributedExample.js worker redis://127.0.0.1:6379     (one or more, until Ctrl+C)
 *   node dist/demos/distributedExample.js results redis://127.0.0.1:6379
 */
import { EMPTY, lastValueFrom, map, mergeMap, of, pipe, tap } from 'rxjs';
import {
  closeRedis, connectRedis, DistributedContext, distributedApp, fileLines, FlowGate, hashMod, readResults, route, runWorker, slidingHourWindow, topK,
} from '../index';
import { GitHubEvent, parseGitHubEvent } from './starLeaders/githubEvents';

/** What `partitionBy` takes: key, partitioner, event time, and each partition's pipeline. */
export const busiestRepos = {
  keyOf: (e: GitHubEvent) => e.repo,
  partitioner: hashMod(4),
  timestampOf: (e: GitHubEvent) => e.createdAtMs,
  pipeline: ({ key, eventTime$ }: DistributedContext<number>) =>
    pipe(
      slidingHourWindow({ uid: 'events', keyOf: (e: GitHubEvent) => e.repo, timestampOf: (e: GitHubEvent) => e.createdAtMs, hours: 1, eventTime$ }),
      topK({ uid: 'top', k: 3, keyOf: (change) => change.key, scoreOf: (change) => change.total }),
      map((top) => ({ partition: key, top })),
    ),
};

/** The same, as a distributed application (its keys in Redis start with `rv:busiest-repos`). */
export const busiestReposApp = distributedApp({ name: 'busiest-repos', ...busiestRepos });

/** Archive files as events, read as fast as the router's backlog allows. */
export const archiveEvents = (files: string[]) => (gate: FlowGate) =>
  fileLines(files, { gate }).pipe(
    mergeMap((line) => {
      const parsed = parseGitHubEvent(line.text);
      return parsed.ok ? of(parsed.event) : EMPTY;
    }),
  );

async function main([command, url, ...files]: string[]): Promise<void> {
  const redis = connectRedis({ url });
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  try {
    if (command === 'route') {
      const summary = await route(redis, busiestReposApp, { inputId: files.join(' '), source: archiveEvents(files) });
      console.log(`${summary.outcome}: ${summary.values} events`);
    } else if (command === 'worker') {
      await runWorker(redis, busiestReposApp, { signal: stop.signal, onEvent: (e) => e.type === 'gained' && console.error(`gained partition ${e.partition}`) });
    } else if (command === 'results') {
      const print = tap(({ seq, value }: { seq: number; value: { partition: number; top: unknown } }) => console.log(JSON.stringify({ ...value, seq })));
      await lastValueFrom(readResults(redis, busiestReposApp).pipe(print), { defaultValue: undefined });
    } else {
      throw new Error('usage: distributedExample.js route|worker|results redis://HOST:PORT [FILE...]');
    }
  } finally {
    await closeRedis(redis);
  }
}

if (require.main === module) void main(process.argv.slice(2));
