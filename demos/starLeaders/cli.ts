import { join } from 'node:path';
import { Argument, Command, Option } from '@commander-js/extra-typings';
import {
  AsyncSubject, concat, concatMap, connect, defer, EMPTY, endWith, finalize, from, ignoreElements, interval, lastValueFrom, map, merge, mergeMap,
  MonoTypeOperatorFunction, Observable, of, OperatorFunction, share, startWith, Subject, switchMap, takeUntil, tap,
} from 'rxjs';
import {
  fileLines, FlowGate, formatSocketAddress, newlineDelimited, pace, RivuletError, serveLiveView, SocketAddress, tcpListen, tcpSink, toJson, webSocketBroadcast, webSocketConnect, windowStats, writeLines,
} from '../../index';
import type { CliIo } from '../cliIo';
import { watchConnection } from '../senderConnection';
import { gracefulStop } from '../shutdown';
import { faultLog } from '../faultLog';
import { boundBy, CliError, UnreadableFiles } from '../cliErrors';
import { allowedHostFlag, checkpointEveryFlag, drainTimeoutFlag, duration, durationText, inputFiles, listenAddress, outputFile, peerAddress, positiveNumber, webSocketUrl } from '../cliFlags';
import { dashboardPage, DashboardMessage, DashboardState, DashboardStatsMessage } from './dashboardServer';
import { describeGitHubEvent, GitHubEvent, githubEventTypeFilter, parseGitHubEvent } from './githubEvents';
import { packageRoot } from '../packageRoot';
import { replayProgress } from '../progress';
import { runCheckpointedStarLeaders } from './checkpointed';
import { allowedLatenessFlag, maxFutureFlag, partitionsFlag, topFlag, windowHoursFlag } from './pipelineFlags';
import { globalLeaders, INTERESTING_TYPES, Leader, PartitionLeaders, starLeaders } from './starLeaders';

export const BUNDLED_ARCHIVE = ['2015-01-01-0.json.gz', '2015-01-01-1.json.gz'].map((f) => join(packageRoot(), 'demos', 'data', 'gharchive', f));

/** A line of input that could not be read as an event. */
interface Unreadable {
  source: string;
  line: number;
  reason: string;
  text: string;
}

function starLeadersCommand(program: Command) {
  return program
    .command('star-leaders')
    .description('GitHub repositories with the most stars in the last 24 hours of event time, per partition')
    .addArgument(new Argument('[files...]', 'GitHub Archive files (.json or .json.gz), in order (default: the bundled sample)').argParser(inputFiles))
    .addOption(new Option('--listen <host:port>', 'read newline-delimited JSON events from TCP senders (e.g. stream-archive)').argParser(listenAddress('--listen')).conflicts('ws'))
    .addOption(new Option('--ws <url>', 'read JSON events from a WebSocket server').argParser(webSocketUrl('--ws')))
    .addOption(new Option('--out <host:port>', 'send newline-delimited JSON results to a TCP listener').argParser(peerAddress('--out')))
    .addOption(new Option('--ws-out <host:port>', 'serve the results to WebSocket clients').argParser(listenAddress('--ws-out')))
    .addOption(new Option('--dashboard <host:port>', 'serve the live dashboard page and its feed (keeps serving after a replay)').argParser(listenAddress('--dashboard')))
    .addOption(new Option('--format <format>', 'stdout: every partition change as JSON, or the final global leaderboard').choices(['json', 'table'] as const).default('json' as const))
    .addOption(partitionsFlag())
    .addOption(windowHoursFlag())
    .addOption(topFlag())
    .addOption(allowedLatenessFlag())
    .addOption(maxFutureFlag())
    .addOption(new Option('--speed <n>', 'replay files at N times event-time speed instead of as fast as possible').argParser(positiveNumber('--speed')))
    .addOption(new Option('--dead-letter <file>', 'write every unreadable input line, with its source and line number, to this file').argParser(outputFile('--dead-letter')))
    .addOption(new Option('--output <file>', 'write the JSON records to this file instead of stdout (exactly once with --checkpoint)').argParser(outputFile('--output')))
    .addOption(
      new Option('--checkpoint <dir>', 'keep checkpoints in this directory; run the same command again after a crash or Ctrl+C to resume')
        // Files only (resumed by position), nothing on processing time, output to a file or stdout.
        .conflicts(['listen', 'ws', 'speed', 'out', 'wsOut', 'dashboard']),
    )
    .addOption(checkpointEveryFlag())
    .option('--print', 'print every partition change as JSON on stdout even with --out, --ws-out or --dashboard')
    .addOption(allowedHostFlag('--dashboard and --ws-out'))
    .addOption(drainTimeoutFlag('the final lists'));
}

/** The flags as their definitions give them, parsed. */
type StarLeadersFlags = ReturnType<ReturnType<typeof starLeadersCommand>['opts']>;

export function registerStarLeaders(program: Command, io: CliIo): void {
  starLeadersCommand(program).action(async (files, flags) => {
    // What commander cannot declare: a conflict with the files, or with one value of a flag.
    if (files.length > 0 && flags.listen !== undefined) throw new CliError('--listen: cannot be used with files (give one input)');
    if (files.length > 0 && flags.ws !== undefined) throw new CliError('--ws: cannot be used with files (give one input)');
    if (flags.checkpoint !== undefined && flags.format === 'table') throw new CliError('--checkpoint: cannot be used with --format table (it checkpoints JSON records)');
    await runStarLeaders(files, flags, io);
  });

  program
    .command('stream-archive')
    .description('send GitHub Archive files to a TCP listener as newline-delimited JSON, paced in event time')
    .addArgument(new Argument('<host:port>', 'where star-leaders --listen is listening').argParser(peerAddress('<host:port>')))
    .addArgument(new Argument('<files...>', 'GitHub Archive files (.json or .json.gz), in order').argParser(inputFiles))
    .addOption(new Option('--speed <n>', 'times event-time speed (24: one hour of events in 2.5 minutes)').argParser(positiveNumber('--speed')).default(24))
    .addOption(
      new Option('--keepalive <duration>', 'send an empty line after this long without an event, so that a gap in event time does not look idle to the listener (0s: never)')
        .argParser(duration('--keepalive'))
        .default(10_000, '10s'),
    )
    .action(async (address, files, flags) => streamArchive(address, files, flags.speed, flags.keepalive, io));
}

async function runStarLeaders(files: string[], flags: StarLeadersFlags, io: CliIo): Promise<void> {
  if (flags.checkpoint !== undefined) return checkpointed(files, flags, io);
  const { allowedLateness: allowedLatenessMs, maxFuture: maxFutureMs } = flags;
  const stop = gracefulStop(io, { app: 'star-leaders', drainTimeoutMs: flags.drainTimeout, drainTimeout: durationText(flags.drainTimeout) });
  const gate = new FlowGate();
  // Paced, the sinks hold the pacer through a gate of their own (its full queue then pauses the
  // reader); unpaced, they pause the reader directly.
  const sinkGate = flags.speed !== undefined ? new FlowGate() : gate;
  const stats = windowStats();
  const unreadable = new Subject<Unreadable>();
  // For the warning about a file none of whose lines is an event.
  const perFile = new UnreadableFiles();
  unreadable.subscribe((line) => perFile.unreadable(line.source));
  const rejected = new Subject<GitHubEvent>();
  let events = 0;
  let lastEventTime = NaN;
  let unreadableCount = 0;
  // The chart's x: the watermark, or before the window has one, the latest event's own time.
  const eventTimeOf = () => (Number.isFinite(stats.watermark) ? stats.watermark : lastEventTime);

  // Peers' faults (oversized lines, idle connections, refused WebSocket clients), a sink's lost
  // connection: a few lines per kind per second, the rest counted.
  const faults = faultLog((line) => io.stderr.write(line), { app: 'star-leaders', scheduler: io.scheduler });
  const lines: Observable<{ text: string; source: string; lineNumber: number }> =
    flags.listen !== undefined ? tcpLines(flags.listen, gate, io, faults.reporter('--listen'))
    : flags.ws !== undefined ? webSocketLines(flags.ws, gate)
    // Files: only lines of the event types the pipeline keeps are decoded and parsed.
    : fileLines(files.length > 0 ? files : BUNDLED_ARCHIVE, { gate, accept: githubEventTypeFilter(INTERESTING_TYPES) });
  const parsed = lines.pipe(
    tap((line) => line.text.trim() !== '' && perFile.line(line.source)),
    parseEvents(unreadable),
    finalize(() => unreadable.complete()),
    flags.speed !== undefined ? pace({ timestampOf: (e) => e.createdAtMs, speed: flags.speed, gate, outputGate: sinkGate }) : (e) => e,
    // After the pacer: what waits in its queue at a stop was never seen by the pipeline.
    stop.input(),
    // Counted as they leave the pacer: what the pipeline has seen, not what waits in its queue.
    tap((e) => {
      events += 1;
      if (!(e.createdAtMs <= lastEventTime)) lastEventTime = e.createdAtMs;
    }),
  );
  const latest = new Map<number, Leader[]>();
  // At a stop, every partition's list once more, in partition order: the state the windows had.
  const finalLists = defer(() => (stop.stopping ? from([...latest].sort(([a], [b]) => a - b).map(([partition, list]) => ({ partition, leaders: list }))) : EMPTY));
  const leadersDone = new AsyncSubject<void>();
  const leaders: Observable<PartitionLeaders> = concat(
    parsed.pipe(
      starLeaders({ partitions: flags.partitions, windowHours: flags.windowHours, top: flags.top, allowedLatenessMs, stats, maxFutureMs, rejected }),
      finalize(() => rejected.complete()),
      tap((out) => latest.set(out.partition, out.leaders)),
    ),
    finalLists,
  ).pipe(
    tap({ next: (out) => stop.produced(toJson(out)), complete: () => (leadersDone.next(), leadersDone.complete()) }),
    share(),
  );

  const sinks: Observable<never>[] = [leaders.pipe(ignoreElements())];
  const json = leaders.pipe(map(toJson));
  if (flags.out !== undefined) sinks.push(json.pipe(tcpSink({ ...flags.out, framing: newlineDelimited(), gate: sinkGate, onConnectionError: faults.reporter('--out') }), stop.output(`--out ${formatSocketAddress(flags.out.host, flags.out.port)}`)));
  if (flags.wsOut !== undefined) {
    const snapshot = () => [...latest].map(([partition, list]) => ({ partition, leaders: list }));
    const onClientError = faults.reporter('--ws-out');
    // After a replay it keeps serving the final state; after a stop, it closes once its clients have everything.
    const served = merge(leaders, stop.stopped.pipe(ignoreElements()));
    const broadcast = webSocketBroadcast<PartitionLeaders>({ ...flags.wsOut, snapshot, closeOnComplete: true, serialize: toJson, onClientError, allowedHosts: flags.allowedHost });
    sinks.push(served.pipe(broadcast, boundBy('--ws-out', flags.wsOut), stop.output(`--ws-out ${formatSocketAddress(flags.wsOut.host, flags.wsOut.port)}`)));
  }
  const elsewhere = flags.out !== undefined || flags.wsOut !== undefined || flags.dashboard !== undefined || flags.output !== undefined;
  if (flags.output !== undefined) sinks.push(json.pipe(writeLines(flags.output, { gate: sinkGate }), stop.output(`--output ${flags.output}`)));
  if (flags.format === 'json' && (flags.print === true || !elsewhere)) sinks.push(json.pipe(writeLines(io.stdout, { gate: sinkGate }), stop.output('stdout')));
  if (flags.dashboard !== undefined || flags.wsOut !== undefined) {
    // Both keep serving the final state after a replay: say that the wait is for the user now.
    const notice = () => {
      if (!stop.stopping) io.stderr.write(`star-leaders: replay finished: ${events} events; serving until Ctrl+C\n`);
    };
    sinks.push(leaders.pipe(ignoreElements(), endWith(null), tap(notice), ignoreElements()));
  }
  if (flags.deadLetter !== undefined) {
    const beyond = rejected.pipe(map((e) => ({ source: 'event', repo: e.repo, type: e.type, reason: 'beyond --max-future', text: toJson(e.raw) })));
    sinks.push(merge(unreadable, beyond).pipe(map(toJson), writeLines(flags.deadLetter)));
  }
  else sinks.push(unreadable.pipe(tap(() => (unreadableCount += 1)), ignoreElements()));

  let dashboardClosed: Promise<void> | undefined;
  if (flags.dashboard !== undefined) {
    const statsMessage = (eventsPerSecond: number): DashboardStatsMessage => {
      const feed = view.stats.get('/feed');
      return {
        type: 'stats', eventsPerSecond, events, watermark: Number.isFinite(stats.watermark) ? stats.watermark : null,
        late: stats.late, clients: feed?.clients ?? 0, partitions: flags.partitions,
        refusedOrigins: feed?.refusedOrigins ?? 0, refusedHosts: feed?.refusedHosts ?? 0, oversizedMessages: feed?.oversizedMessages ?? 0,
        slowClientsDropped: (feed?.slowClientsDisconnected ?? 0) + (feed?.clientsEvicted ?? 0), messagesDropped: feed?.messagesDropped ?? 0,
      };
    };
    let eventsAtLastTick = 0;
    const ticks = interval(1000).pipe(
      map(() => {
        const perSecond = events - eventsAtLastTick;
        eventsAtLastTick = events;
        return statsMessage(perSecond);
      }),
      takeUntil(stop.stopped),
    );
    // Recorded from the start, with the other sinks; sent once the page's server listens.
    const state = new DashboardState();
    const live = new Subject<DashboardMessage>();
    const messages = merge(leaders.pipe(map((out) => dashboardLeaders(out.partition, out.leaders, eventTimeOf()))), ticks);
    sinks.push(messages.pipe(tap((message) => (state.record(message), live.next(message))), ignoreElements()));
    // Only the view's own page may read the feed (same-host Origin), under the view's names only.
    const address = flags.dashboard;
    const view = serveLiveView({
      ...address,
      page: dashboardPage(),
      allowedHosts: flags.allowedHost,
      feeds: { '/feed': { source: live, snapshot: () => state.snapshot(statsMessage(0)) } },
      onClientError: faults.reporter('dashboard feed'),
    });
    sinks.push(
      view.pipe(
        boundBy('--dashboard', address),
        tap(({ url, closed }) => {
          dashboardClosed = closed;
          io.stderr.write(`star-leaders: dashboard at ${url}\n`);
        }),
        ignoreElements(),
        // The page gets the lists of the stop too, then closes.
        stop.serving(leadersDone),
      ),
    );
  }

  try {
    await stop.run(merge(...sinks));
  } finally {
    faults.flush();
    await dashboardClosed;
  }
  if (flags.format === 'table') io.stdout.write(formatLeaderboard(globalLeaders(latest, flags.top), events, stats.watermark, flags.windowHours));
  if (unreadableCount > 0) io.stderr.write(`star-leaders: ${unreadableCount} input lines could not be read as events (see --dead-letter)\n`);
  if (stats.future > 0) {
    const where = flags.deadLetter !== undefined ? 'written to --dead-letter' : 'see --dead-letter';
    io.stderr.write(`star-leaders: ${stats.future} events lay beyond --max-future and were rejected (${where})\n`);
  }
  if (flags.listen === undefined && flags.ws === undefined) {
    perFile.warn(files.length > 0 ? files : BUNDLED_ARCHIVE, (line) => io.stderr.write(line), 'a GitHub event', 'is it a GitHub Archive file, one JSON event per line?');
  }
}

/** `--checkpoint`: files only, and nothing that runs on processing time (see the flag's conflicts). */
function checkpointed(files: string[], flags: StarLeadersFlags, io: CliIo): Promise<void> {
  const options = { partitions: flags.partitions, windowHours: flags.windowHours, top: flags.top, allowedLatenessMs: flags.allowedLateness, maxFutureMs: flags.maxFuture };
  const flagsOf = { checkpoint: flags.checkpoint!, checkpointEvery: flags.checkpointEvery, output: flags.output };
  return runCheckpointedStarLeaders({ files: files.length > 0 ? files : BUNDLED_ARCHIVE, options, flags: flagsOf, deadLetter: flags.deadLetter }, io);
}

/** Reads each line as a GitHub event; lines that are not go to `unreadable`, with where they were. */
function parseEvents(unreadable: Subject<Unreadable>): OperatorFunction<{ text: string; source: string; lineNumber: number }, GitHubEvent> {
  return mergeMap((line) => {
    if (line.text.trim() === '') return EMPTY;
    const result = parseGitHubEvent(line.text);
    if (result.ok) return of(result.event);
    unreadable.next({ source: line.source, line: line.lineNumber, reason: result.reason, text: line.text });
    return EMPTY;
  });
}

/** Newline-delimited JSON events from every TCP sender, numbered per connection. */
function tcpLines(address: SocketAddress, gate: FlowGate, io: CliIo, onConnectionError: (error: RivuletError) => void) {
  return tcpListen({
    ...address,
    framing: newlineDelimited(),
    tagPeer: true,
    raw: false,
    gate,
    onListening: (a) => io.stderr.write(`star-leaders: listening on ${a.host}:${a.port}\n`),
    onConnectionError,
  }).pipe(
    boundBy('--listen', address),
    map(({ peer, frame, data }) => ({ text: data, source: peer, lineNumber: frame })),
  );
}

/** JSON events, one per WebSocket message. */
function webSocketLines(url: string, gate: FlowGate) {
  let lineNumber = 0;
  return webSocketConnect(url, { gate }).pipe(map((text) => ({ text, source: url, lineNumber: ++lineNumber })));
}

/** A partition's list as the dashboard feed carries it: recent events as one line of text each. */
function dashboardLeaders(partition: number, leaders: readonly Leader[], eventTime: number): DashboardMessage {
  return {
    type: 'leaders',
    partition,
    eventTime,
    leaders: leaders.map(({ repo, stars, recent_events }) => ({
      repo,
      stars,
      recent: recent_events.map((raw) => ({
        kind: raw.type === 'ForkEvent' ? ('fork' as const) : ('pull_request' as const),
        text: describeGitHubEvent(raw),
        url: githubPageOf(raw),
      })),
    })),
  };
}

/** The github.com page of a fork or pull request, when the event names one. */
function githubPageOf(raw: Readonly<Record<string, unknown>>): string | null {
  const payload = raw.payload as { forkee?: { html_url?: unknown }; pull_request?: { html_url?: unknown } } | undefined;
  const url = payload?.forkee?.html_url ?? payload?.pull_request?.html_url;
  return typeof url === 'string' && url.startsWith('https://github.com/') ? url : null;
}

/** The global leaderboard as a text table. */
export function formatLeaderboard(leaders: readonly Leader[], events: number, watermark: number, windowHours: number): string {
  const when = Number.isFinite(watermark) ? new Date(watermark).toISOString().replace('.000Z', 'Z') : 'no events';
  const width = Math.max(10, ...leaders.map((l) => l.repo.length));
  const rows = leaders.map((l, i) => {
    const recent = l.recent_events.map((raw) => describeGitHubEvent(raw)).join('; ');
    return `${String(i + 1).padStart(4)}  ${l.repo.padEnd(width)}  ${String(l.stars).padStart(5)}  ${recent}`;
  });
  return [
    `GitHub star leaders, last ${windowHours} h of event time, at ${when} (${events} events read)`,
    `rank  ${'repository'.padEnd(width)}  stars  recent forks and pull requests (this hour)`,
    ...rows,
    '',
  ].join('\n');
}

/**
 * The archive streamer: files to a TCP listener, paced at `speed` times event time. A connection
 * refused, reset or closed by the listener fails the command, naming the file being sent; it is
 * not reopened, so the listener never sees part of the archive twice.
 */
async function streamArchive(target: SocketAddress, files: string[], speed: number, keepAliveMs: number, io: CliIo): Promise<void> {
  const gate = new FlowGate();
  const sinkGate = new FlowGate();
  // A sink holding the pacer for a moment is ordinary backpressure; for a second, worth saying.
  let stall: NodeJS.Timeout | undefined;
  const stopStallNotices = sinkGate.onChange((paused) => {
    clearTimeout(stall);
    stall = undefined;
    if (!paused) return;
    stall = setTimeout(() => {
      io.stderr.write(`stream-archive: ${formatSocketAddress(target.host, target.port)} has not been reading for a second; events wait until it does\n`);
    }, 1_000).unref();
  });
  // Events sent and the event time reached: the reader runs far ahead, into the pacer's queue.
  const progress = replayProgress(io, 'stream-archive', files, speed);
  const connection = watchConnection();
  let sending = files[0];
  const lines = fileLines(files, { gate, progress: { next: (p) => progress?.file(p) } });
  const send = lines.pipe(
    concatMap((line) => {
      const result = parseGitHubEvent(line.text);
      if (result.ok) return of({ text: line.text, at: result.event.createdAtMs, source: line.source });
      io.stderr.write(`stream-archive: ${line.source}:${line.lineNumber}: skipped, ${result.reason}\n`);
      return EMPTY;
    }),
    tap({ next: (e) => progress?.read(e.at), complete: () => progress?.readingDone() }),
    // The sink holds the pacer through its own gate; the pacer's queue filling then pauses the
    // reader. With one gate for both, the sink's pause would not stop the pacer's queue from
    // pouring into the sink's buffer until it overflowed.
    pace({ timestampOf: (e) => e.at, speed, gate, outputGate: sinkGate }),
    tap((e) => {
      progress?.sent(e.at);
      sending = e.source;
    }),
    map((e) => e.text),
    keepAliveMs > 0 ? keepAlive(keepAliveMs) : (texts) => texts,
    tcpSink({ ...target, framing: newlineDelimited(), gate: sinkGate, maxAttempts: 1, createConnection: connection.createConnection }),
    takeUntil(defer(() => io.stopRequested)),
  );
  let failure: string | undefined;
  try {
    await lastValueFrom(send, { defaultValue: undefined });
  } catch (error) {
    if (connection.problem === undefined && (error as { code?: unknown }).code !== 'ERR_CONNECTION') throw error;
    failure = connection.problem ?? (error as Error).message;
  } finally {
    stopStallNotices();
    clearTimeout(stall);
    progress?.stop();
  }
  failure ??= connection.problem;
  if (failure !== undefined) {
    const rest = files.slice(files.indexOf(sending) + 1);
    throw new Error(`stream-archive: ${sending}: not delivered to ${formatSocketAddress(target.host, target.port)}: ${failure}${rest.length > 0 ? `; not sent: ${rest.join(', ')}` : ''}`);
  }
}

/** Adds an empty line after `ms` without a line (star-leaders skips empty lines). */
function keepAlive(ms: number): MonoTypeOperatorFunction<string> {
  return connect((texts) =>
    merge(
      texts,
      texts.pipe(
        startWith(''),
        switchMap(() => interval(ms).pipe(map(() => ''))),
        takeUntil(texts.pipe(ignoreElements(), endWith(true))),
      ),
    ),
  );
}
