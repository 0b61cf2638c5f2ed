/**
 * star-leaders on several processes over Redis: `rivulet route star-leaders` appends archive
 * events to the partitions' streams, `rivulet worker star-leaders` (as many as wanted, on any
 * machine) runs the partitions, `rivulet results star-leaders` reads what they emitted.
 */
import { resolve } from 'node:path';
import { Argument, Command, Option, OptionValues } from '@commander-js/extra-typings';
import { concatMap, defer, EMPTY, filter, ignoreElements, interval, lastValueFrom, map, merge, mergeMap, of, takeUntil, tap } from 'rxjs';
import {
  closeRedis, connectRedis, describeRedisTarget, DistributedApp, distributedApp, DistributedSettings, fileLines, FlowGate,
  parseRedisTarget, readResults, readRouterProgress, RedisClient, route, runWorker, toJson, waitForSettings, WorkerEvent, writeLines,
} from '../../index';
import type { CliIo } from '../cliIo';
import { CliError } from '../cliErrors';
import { inputFiles, positiveInteger, redisTarget } from '../cliFlags';
import { BUNDLED_ARCHIVE, formatLeaderboard } from './cli';
import { allowedLatenessFlag, maxFutureFlag, partitionsFlag, topFlag, windowHoursFlag } from './pipelineFlags';
import { GitHubEvent, parseGitHubEvent } from './githubEvents';
import { globalLeaders, INTERESTING_TYPES, Leader, PartitionLeaders, starLeadersPartitioning } from './starLeaders';

const HOUR_MS = 3_600_000;

/** What fixes the shape of a star-leaders application's state; recorded in its settings. */
export interface StarLeadersParams {
  partitions: number;
  windowHours: number;
  top: number;
  allowedLatenessMs: number;
  /** As `rivulet star-leaders --max-future`; undefined: no bound. */
  maxFutureMs?: number;
}

/** star-leaders as a distributed application named `name` (the prefix of its Redis keys). */
export function starLeadersApp(params: StarLeadersParams, name = 'star-leaders'): DistributedApp<GitHubEvent, string, number, PartitionLeaders> {
  const { partitions, windowHours, top, allowedLatenessMs, maxFutureMs } = params;
  return distributedApp({
    name,
    // The router applies the partitioning's future bound to the global clock, as partitionBy does.
    ...starLeadersPartitioning({ partitions, windowHours, top, allowedLatenessMs, maxFutureMs }),
    // Windows expire when the watermark (clock minus lateness) crosses an hour; annotations age
    // when the clock itself does.
    tickEveryMs: HOUR_MS,
    tickOffsetsMs: allowedLatenessMs === 0 ? [0] : [0, allowedLatenessMs % HOUR_MS],
    encode: (event) => JSON.stringify(event.raw),
    decode: (text) => {
      const parsed = parseGitHubEvent(text);
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.event;
    },
    params: maxFutureMs === undefined ? { partitions, windowHours, top, allowedLatenessMs } : { partitions, windowHours, top, allowedLatenessMs, maxFutureMs },
  });
}

/** The application that the settings in Redis describe. */
function appOfSettings(settings: DistributedSettings): DistributedApp<GitHubEvent, string, number, PartitionLeaders> {
  const p = settings.params;
  const number = (key: string): number => {
    const value = p[key];
    if (typeof value !== 'number') throw new Error(`${settings.app}: the settings in Redis have no ${key}; were they written by star-leaders?`);
    return value;
  };
  const maxFutureMs = typeof p.maxFutureMs === 'number' ? p.maxFutureMs : undefined;
  return starLeadersApp({ partitions: number('partitions'), windowHours: number('windowHours'), top: number('top'), allowedLatenessMs: number('allowedLatenessMs'), maxFutureMs }, settings.app);
}

function withConnection<Args extends unknown[], Opts extends OptionValues>(command: Command<Args, Opts>) {
  return command
    .addOption(new Option('--redis <url>', 'one Redis node: redis://[USER:PASSWORD@]HOST:PORT').argParser(redisTarget('--redis')).conflicts('redisCluster'))
    .addOption(new Option('--redis-cluster <nodes>', 'a Redis Cluster: [USER:PASSWORD@]HOST:PORT,HOST:PORT,...').argParser(redisTarget('--redis-cluster')))
    .option('--app <name>', 'application name, the prefix of its Redis keys (several applications can share one Redis)', 'star-leaders');
}

/** The connection flags as their definitions give them. */
type ConnectionFlags = ReturnType<ReturnType<typeof withConnection<[], {}>>['opts']>;

/** Connects, reporting connection trouble on stderr once per distinct message. */
function connect(flags: ConnectionFlags, io: CliIo, who: string): { client: RedisClient; where: string } {
  if (flags.redis === undefined && flags.redisCluster === undefined) throw new CliError('--redis: missing: give --redis redis://HOST:PORT or --redis-cluster HOST:PORT,...');
  const target = parseRedisTarget(flags);
  let last = '';
  const client = connectRedis(target, {
    connectionName: `rivulet-${who}`,
    onError: (error) => {
      if (error.message !== last) io.stderr.write(`${who}: redis ${describeRedisTarget(target)}: ${error.message} (retrying)\n`);
      last = error.message;
    },
  });
  return { client, where: describeRedisTarget(target) };
}

function abortOn(stopRequested: Promise<void>): AbortSignal {
  const control = new AbortController();
  void stopRequested.then(() => control.abort());
  return control.signal;
}

export function registerDistributedStarLeaders(program: Command, io: CliIo): void {
  const routeCommand = program.commands.find((c) => c.name() === 'route') ?? program.command('route').description('append input to a distributed application in Redis');
  withConnection(routeCommand.command('star-leaders'))
    .description('append GitHub Archive events to the star-leaders partitions in Redis (exits when done; rerun after a crash to resume)')
    .addArgument(new Argument('[files...]', 'GitHub Archive files (.json or .json.gz), in order (default: the bundled sample)').argParser(inputFiles))
    .addOption(partitionsFlag('partitions of the hash ring (fixed for the application)'))
    .addOption(windowHoursFlag())
    .addOption(topFlag())
    .addOption(allowedLatenessFlag())
    .addOption(maxFutureFlag())
    .addOption(new Option('--max-backlog <n>', 'entries waiting in one partition above which reading pauses').argParser(positiveInteger('--max-backlog')).default(20_000))
    .action(async (files, flags) => {
      const { allowedLateness: allowedLatenessMs, maxFuture: maxFutureMs } = flags;
      const app = starLeadersApp({ partitions: flags.partitions, windowHours: flags.windowHours, top: flags.top, allowedLatenessMs, maxFutureMs }, flags.app);
      const paths = files.length > 0 ? files : BUNDLED_ARCHIVE;
      const { client } = connect(flags, io, 'route');
      let unreadable = 0;
      try {
        const summary = await route(client, app, {
          inputId: JSON.stringify(paths.map((p) => resolve(p))),
          maxBacklog: flags.maxBacklog,
          signal: abortOn(io.stopRequested),
          source: (gate) =>
            fileLines(paths, { gate }).pipe(
              mergeMap((line) => {
                if (line.text.trim() === '') return EMPTY;
                const parsed = parseGitHubEvent(line.text);
                if (parsed.ok) return of(parsed.event);
                unreadable++;
                return EMPTY;
              }),
              filter((e) => INTERESTING_TYPES.has(e.type)),
            ),
          onEvent: (event) => {
            if (event.type === 'started' && event.resumed) io.stderr.write(`route: resuming an interrupted run of these files\n`);
            if (event.type === 'backlog-full') io.stderr.write(`route: partition ${String(event.partition)} has ${event.backlog} entries waiting: paused until workers catch up\n`);
            if (event.type === 'backlog-drained') io.stderr.write('route: backlog drained, reading on\n');
          },
        });
        const label = `route ${app.name}`;
        if (summary.outcome === 'already-routed') {
          io.stdout.write(`${label}: these files were routed before (${summary.values} events); nothing to do\n`);
        } else if (summary.outcome === 'stopped') {
          io.stdout.write(`${label}: stopped after ${summary.values} events; run the same command again to finish\n`);
        } else {
          const appended = summary.appendedByPartition.reduce((a, b) => a + b, 0);
          io.stdout.write(`${label}: ${summary.values} events, ${appended} appended now (${summary.skipped} entries were already in Redis), ${summary.ticks} clock ticks to each of ${app.partitions.length} partitions\n`);
          io.stdout.write(`${label}: appended by partition: ${summary.appendedByPartition.map((n, i) => `${String(app.partitions[i])}:${n}`).join(' ')}\n`);
        }
        if (summary.rejected > 0) io.stderr.write(`${label}: ${summary.rejected} events lay beyond --max-future and were rejected\n`);
        if (unreadable > 0) io.stderr.write(`${label}: ${unreadable} input lines could not be read as events\n`);
      } finally {
        await closeRedis(client);
      }
    });

  const workerCommand = program.commands.find((c) => c.name() === 'worker') ?? program.command('worker').description('run partitions of a distributed application from Redis');
  withConnection(workerCommand.command('star-leaders'))
    .description('run a fair share of the star-leaders partitions until SIGTERM (which commits, releases the partitions and exits 0)')
    .addOption(new Option('--lease-ms <ms>', 'how long a partition stays locked to a worker that stopped answering').argParser(positiveInteger('--lease-ms')).default(2000))
    .addOption(new Option('--batch <n>', 'input entries per commit').argParser(positiveInteger('--batch')).default(1000))
    .action(async (flags) => {
      const { client, where } = connect(flags, io, 'worker');
      const signal = abortOn(io.stopRequested);
      try {
        const settings = await waitForSettings(client, flags.app, { signal, onWaiting: () => io.stderr.write(`worker: waiting for a router to set up ${flags.app} in ${where}\n`) });
        if (settings === undefined) return;
        const app = appOfSettings(settings);
        let me = 'worker';
        await runWorker(client, app, {
          leaseMs: flags.leaseMs,
          batchEntries: flags.batch,
          signal,
          onEvent: (event) => {
            if (event.type === 'joined') me = `worker ${event.worker}`;
            const line = describeWorkerEvent(event, app.name, flags.leaseMs);
            if (line !== undefined) io.stderr.write(`${me}: ${line}\n`);
          },
        });
        io.stderr.write(`${me}: stopped; every partition committed and released\n`);
        // Stopping on SIGTERM is how a worker is meant to end: it finished its work.
        if (signal.aborted) process.exitCode = 0;
      } finally {
        await closeRedis(client);
      }
    });

  const resultsCommand = program.commands.find((c) => c.name() === 'results') ?? program.command('results').description('read the outputs of a distributed application from Redis');
  withConnection(resultsCommand.command('star-leaders'))
    .description('read what the star-leaders workers emitted, once every partition has consumed everything routed so far')
    .addOption(new Option('--format <format>', 'every partition change as JSON {partition, seq, leaders}, or the global leaderboard').choices(['json', 'table'] as const).default('json' as const))
    .option('--follow', 'print outputs as they are committed, until interrupted')
    .action(async (flags) => {
      const { client, where } = connect(flags, io, 'results');
      const signal = abortOn(io.stopRequested);
      try {
        const settings = await waitForSettings(client, flags.app, { signal, onWaiting: () => io.stderr.write(`results: waiting for a router to set up ${flags.app} in ${where}\n`) });
        if (settings === undefined) return;
        const app = appOfSettings(settings);
        const gate = new FlowGate();
        let lastLine = '';
        let lastLineAt = 0;
        const latest = new Map<number, Leader[]>();
        const records = readResults(client, app, {
          follow: flags.follow === true,
          gate,
          onWaiting: (status) => {
            const lag = status.lag.map((p) => `${String(p.partition)}:${p.entries}`).join(' ');
            const workers = status.workers === 0 ? 'no worker is running' : `${status.workers} worker${status.workers === 1 ? '' : 's'} running`;
            const line = `results: waiting for the workers (${workers}); entries to consume by partition: ${lag}\n`;
            // Once a second while it changes; a line that says the same again only every 10 s.
            if (line !== lastLine || Date.now() - lastLineAt >= 10_000) {
              io.stderr.write(line);
              lastLineAt = Date.now();
            }
            lastLine = line;
          },
        });
        const stopped$ = defer(() => io.stopRequested);
        if (flags.format === 'json') {
          const lines = records.pipe(takeUntil(stopped$), map((r) => toJson({ partition: r.partition, seq: r.seq, leaders: r.value.leaders })), writeLines(io.stdout, { gate }));
          await lastValueFrom(lines, { defaultValue: undefined });
          return;
        }
        const table = async (): Promise<string> => {
          const progress = await readRouterProgress(client, app);
          return formatLeaderboard(globalLeaders(latest, Number(settings.params.top)), progress.values, progress.clock ?? NaN, Number(settings.params.windowHours));
        };
        const updates = records.pipe(takeUntil(stopped$), tap((r) => latest.set(r.partition, r.value.leaders)));
        if (!flags.follow) {
          await lastValueFrom(updates, { defaultValue: undefined });
          if (!signal.aborted) io.stdout.write(await table());
          return;
        }
        // Following, the table is printed again at most once a second, when something changed.
        let changed = false;
        await lastValueFrom(
          merge(
            updates.pipe(tap(() => (changed = true)), ignoreElements()),
            interval(1000).pipe(
              takeUntil(stopped$),
              filter(() => changed),
              concatMap(async () => {
                changed = false;
                io.stdout.write(await table());
              }),
              ignoreElements(),
            ),
          ),
          { defaultValue: undefined },
        );
      } finally {
        await closeRedis(client);
      }
    });
}

/** A worker's event as a log line, or undefined for events not worth a line (commits). */
function describeWorkerEvent(event: WorkerEvent, app: string, leaseMs: number): string | undefined {
  switch (event.type) {
    case 'waiting':
      return `waiting for the settings of ${app}`;
    case 'joined':
      return `joined ${app} (lease ${leaseMs} ms)`;
    case 'share':
      return `${event.live} worker${event.live === 1 ? '' : 's'} live, fair share ${event.share} partition${event.share === 1 ? '' : 's'}`;
    case 'gained':
      return `gained partition ${String(event.partition)} (epoch ${event.epoch}, from entry ${event.offset}, ${event.outputs} outputs so far)`;
    case 'lost':
      return `lost partition ${String(event.partition)}: ${event.reason}${event.detail ? ` (${event.detail})` : ''}`;
    case 'redis-error':
      return `redis: ${event.message}`;
    default:
      return undefined;
  }
}
