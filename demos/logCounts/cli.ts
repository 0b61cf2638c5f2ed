import { join } from 'node:path';
import { Command, Option } from 'commander';
import { AsyncSubject, concat, concatMap, EMPTY, finalize, from, ignoreElements, lastValueFrom, map, merge, MonoTypeOperatorFunction, Observable, of, share, Subject, tap } from 'rxjs';
import {
  fileLines, FileProgress, FlowGate, formatSocketAddress, lengthPrefixed, parseDuration, parseSocketAddress, RivuletError, serveLiveView, tcpListen, tcpSink, toJson, writeLines,
} from '../../index';
import { packageRoot } from '../packageRoot';
import { CountProgress, countProgress } from '../progress';
import { runCheckpointedLogCounts } from './checkpointed';
import type { CliIo } from '../cliIo';
import { watchConnection } from '../senderConnection';
import { gracefulStop, GracefulStop } from '../shutdown';
import { faultLog } from '../faultLog';
import { LogCountsDashboard, logCountsPage } from './dashboardFeed';
import { DayReport, DeadLetter, END_OF_DAY, LogCountsOptions, LogInput, logCounts } from './logCounts';

const BUNDLED_LOGS = [1, 2, 3, 4, 5, 6].map((day) => join(packageRoot(), 'demos', 'data', 'logs', `day_${day}.log`));

interface LogCountsFlags {
  listen?: string;
  out?: string;
  compat?: 'wallaroo';
  window: 'boundary' | 'day';
  tz?: string;
  allowedLateness: string;
  maxFuture: string;
  deadLetter?: string;
  checkpoint?: string;
  checkpointEvery: string;
  output?: string;
  dashboard?: string;
  print?: boolean;
  allowedHost: string[];
  drainTimeout: string;
}

export function registerLogCounts(program: Command, io: CliIo): void {
  program
    .command('log-counts')
    .description('HTTP status codes per day from Apache access logs (Wallaroo\'s windowing example)')
    .argument('[files...]', 'log files, in order; an END_OF_DAY is implied after each (default: the bundled sample)')
    .option('--listen <host:port>', 'read length-prefixed frames from TCP senders instead of files')
    .option('--out <host:port>', 'send length-prefixed JSON results to a TCP listener instead of stdout')
    .addOption(new Option('--compat <app>', 'print exactly what the original application printed').choices(['wallaroo']))
    .addOption(new Option('--window <kind>', 'close windows on END_OF_DAY markers, or by event time per calendar day').choices(['boundary', 'day']).default('boundary'))
    .option('--tz <zone>', 'time zone of the calendar days in --window day (default: the log\'s own UTC offset)')
    .option('--allowed-lateness <duration>', 'how far out of order a line may arrive in --window day', '5m')
    .option('--max-future <duration>', 'in --window day: how far ahead of the latest time a line may move time before 3 more confirm the jump (rejected otherwise)', '1d')
    .option('--dead-letter <file>', 'write every unparseable line, with its source and line number, to this file')
    .option('--output <file>', 'write the JSON records to this file instead of stdout (exactly once with --checkpoint)')
    .option('--checkpoint <dir>', 'keep checkpoints in this directory; run the same command again after a crash or Ctrl+C to resume')
    .option('--checkpoint-every <interval>', 'checkpoint interval: a duration (1s) or a count of input lines (100000)', '1s')
    .option('--dashboard <host:port>', 'serve a live chart of status codes per day (keeps serving after the input ends, until Ctrl+C)')
    .option('--print', 'print the JSON reports on stdout even with --out or --dashboard')
    .option('--allowed-host <name>', 'another name (Host) under which --dashboard may be reached, e.g. behind a proxy; repeatable', (name: string, names: string[]) => [...names, name], [] as string[])
    .option('--drain-timeout <duration>', 'on Ctrl+C or SIGTERM without --checkpoint: how long to wait for the outputs to take the windows still open', '5s')
    .action(async (files: string[], flags: LogCountsFlags) => runLogCounts(files, flags, io));

  program
    .command('send-logs')
    .description('send log files to a log-counts listener as the original sender did: a connection per file, a frame per line, then END_OF_DAY')
    .argument('<host:port>', 'where log-counts --listen is listening')
    .argument('<files...>', 'log files, in order')
    .action(async (address: string, files: string[]) => sendLogs(address, files));
}

async function runLogCounts(files: string[], flags: LogCountsFlags, io: CliIo): Promise<void> {
  if (flags.listen !== undefined && files.length > 0) throw new Error('give either --listen or files, not both');
  if (flags.compat !== undefined && flags.window === 'day') throw new Error('--compat wallaroo has no --window day: the original only had END_OF_DAY markers');
  const eventTime =
    flags.window === 'day'
      ? { timeZone: flags.tz, allowedLatenessMs: parseDuration(flags.allowedLateness, '--allowed-lateness'), maxFutureMs: parseDuration(flags.maxFuture, '--max-future') }
      : undefined;
  if (flags.checkpoint !== undefined) return checkpointed(files, flags, eventTime, io);
  const stop = gracefulStop(io, { app: 'log-counts', drainTimeoutMs: parseDuration(flags.drainTimeout, '--drain-timeout'), drainTimeout: flags.drainTimeout });
  const gate = new FlowGate();
  // Peers' faults (oversized frames, idle connections, refused pages), a sink's lost connection:
  // a few lines per kind per second, the rest counted.
  const faults = faultLog((line) => io.stderr.write(line), { app: 'log-counts', scheduler: io.scheduler });
  const deadLetters = new Subject<DeadLetter>();
  let beyondFuture = 0;
  deadLetters.subscribe((d) => {
    if (d.reason === 'beyond --max-future') beyondFuture += 1;
  });
  const markShutdown = (report: DayReport | Map<string, number>) =>
    stop.stopping && !(report instanceof Map) ? { ...report, closedBy: 'shutdown' as const } : report;
  if (flags.dashboard !== undefined && flags.compat !== undefined) throw new Error('--dashboard draws the reports by day; it has no --compat wallaroo view');
  const inputFiles = files.length > 0 ? files : BUNDLED_LOGS;
  // Files only: a listener has no end to measure against.
  const progress = flags.listen === undefined ? countProgress(io, 'log-counts', inputFiles) : undefined;
  try {
    const input: Observable<LogInput> = (flags.listen !== undefined ? framesFrom(flags.listen, gate, io, faults.reporter('--listen')) : linesOf(inputFiles, gate, progress)).pipe(stop.input());
    const dashboard = flags.dashboard !== undefined ? new LogCountsDashboard({ window: flags.window, timeZone: flags.tz }) : undefined;
    const watched = dashboard === undefined ? input : input.pipe(tap((line) => dashboard.line(line)));
    const reportsDone = new AsyncSubject<void>();
    const reports = watched.pipe(
      logCounts({ compat: flags.compat, eventTime, deadLetter: deadLetters }),
      map(markShutdown),
      // The bar goes once the last report is out, before the dashboard says the input has ended.
      tap({ next: () => progress?.day(), complete: () => progress?.stop() }),
    );
    const results = (dashboard === undefined ? reports : reports.pipe(dashboardReports(dashboard, io, stop))).pipe(
      map(toJson),
      tap({ next: (json) => stop.produced(json), complete: () => (reportsDone.next(), reportsDone.complete()) }),
      share(),
    );
    const sinks: Observable<never>[] = [];
    if (flags.out !== undefined) sinks.push(results.pipe(tcpSink({ ...parseSocketAddress(flags.out), framing: lengthPrefixed(), gate, onConnectionError: faults.reporter('--out') }), stop.output(`--out ${flags.out}`)));
    if (flags.output !== undefined) sinks.push(results.pipe(writeLines(flags.output, { gate }), stop.output(`--output ${flags.output}`)));
    if (flags.print === true || (flags.out === undefined && dashboard === undefined && flags.output === undefined)) sinks.push(results.pipe(writeLines(io.stdout, { gate }), stop.output('stdout')));
    const out = sinks.length > 0 ? merge(...sinks) : results.pipe(ignoreElements());
    const dead = flags.deadLetter !== undefined ? deadLetters.pipe(map(toJson), writeLines(flags.deadLetter)) : EMPTY;
    // The page gets the reports of the stop too, then closes.
    const view = dashboard !== undefined && flags.dashboard !== undefined ? dashboardView(flags.dashboard, dashboard, io, flags.allowedHost, faults.reporter('dashboard feed')).pipe(stop.serving(reportsDone)) : EMPTY;
    // The dead-letter writer subscribes first so it sees every line the pipeline rejects.
    await stop.run(merge(dead, out.pipe(finalize(() => deadLetters.complete())), view));
  } finally {
    faults.flush();
    progress?.stop();
  }
  if (beyondFuture > 0) {
    const where = flags.deadLetter !== undefined ? 'written to --dead-letter' : 'see --dead-letter';
    io.stderr.write(`log-counts: ${beyondFuture} lines lay beyond --max-future and were rejected (${where})\n`);
  }
}

/** The page and its feed; it serves until Ctrl+C. */
function dashboardView(address: string, dashboard: LogCountsDashboard, io: CliIo, allowedHosts: string[], onClientError: (error: RivuletError) => void): Observable<never> {
  return serveLiveView({ ...parseSocketAddress(address), page: logCountsPage(), allowedHosts, onClientError, feeds: { '/feed': dashboard.feed() } }).pipe(
    tap((view) => io.stderr.write(`log-counts: dashboard at ${view.url}\n`)),
    ignoreElements(),
  );
}

/** Gives the dashboard every report and, after the last one, says that the input has ended. */
function dashboardReports<T>(dashboard: LogCountsDashboard, io: CliIo, stop: GracefulStop): MonoTypeOperatorFunction<T> {
  return tap({
    next: (report) => dashboard.report(report as DayReport),
    complete: () => {
      dashboard.finish();
      if (!stop.stopping) io.stderr.write(`log-counts: input finished: ${dashboard.linesSeen} lines; serving until Ctrl+C\n`);
    },
  });
}

/** `--checkpoint`: files only (they are resumed by position), to a file or stdout. */
function checkpointed(files: string[], flags: LogCountsFlags, eventTime: LogCountsOptions['eventTime'], io: CliIo): Promise<void> {
  if (flags.listen !== undefined) throw new Error('--checkpoint needs files as input (it resumes them by position), not --listen');
  if (flags.out !== undefined || flags.dashboard !== undefined) throw new Error('--checkpoint needs its output in a file (--output) or on stdout, not --out or --dashboard');
  const flagsOf = { checkpoint: flags.checkpoint!, checkpointEvery: flags.checkpointEvery, output: flags.output };
  return runCheckpointedLogCounts({ files: files.length > 0 ? files : BUNDLED_LOGS, options: { compat: flags.compat, eventTime }, flags: flagsOf, deadLetter: flags.deadLetter }, io);
}

/** Lines of each file followed by an END_OF_DAY, as if the original sender had sent them. */
function linesOf(files: string[], gate: FlowGate, progress?: CountProgress): Observable<LogInput> {
  const options = progress === undefined ? { gate } : { gate, progress: { next: (p: FileProgress) => progress.file(p) } };
  const lines = from(files).pipe(concatMap((file) => concat<LogInput[]>(fileLines(file, options), of(END_OF_DAY))));
  if (progress === undefined) return lines;
  return lines.pipe(
    tap((line) => {
      if (line !== END_OF_DAY) progress.line();
    }),
  );
}

/** Frames from every TCP sender (numbered per connection); a frame `END_OF_DAY` (line ending or not) is the marker. */
function framesFrom(address: string, gate: FlowGate, io: CliIo, onConnectionError: (error: RivuletError) => void): Observable<LogInput> {
  return tcpListen({
    ...parseSocketAddress(address),
    tagPeer: true,
    raw: false,
    gate,
    onListening: (a) => io.stderr.write(`log-counts: listening on ${a.host}:${a.port}\n`),
    onConnectionError,
  }).pipe(
    map(({ peer, frame, data }): LogInput => {
      const text = data.replace(/\r?\n$/, '');
      return text === END_OF_DAY ? END_OF_DAY : { text, source: peer, lineNumber: frame };
    }),
  );
}

/**
 * One connection per file, as the original sender: its lines, then END_OF_DAY. A connection that
 * is refused, reset or closed by the listener before the end fails the command, naming the file
 * and the files after it, which are not sent (a later day must not be counted before it).
 * No reconnection: the listener would count the resent part of a day twice.
 */
async function sendLogs(address: string, files: string[]): Promise<void> {
  const target = parseSocketAddress(address);
  const peer = formatSocketAddress(target.host, target.port);
  for (const [index, file] of files.entries()) {
    // The file is read no faster than the socket drains: the sink pauses the reader through the gate.
    const gate = new FlowGate();
    const connection = watchConnection();
    const frames = concat(fileLines(file, { gate }).pipe(map((line) => `${line.text}\n`)), of(END_OF_DAY));
    const sink = tcpSink({ ...target, framing: lengthPrefixed(), maxAttempts: 1, gate, createConnection: connection.createConnection });
    let failure: string | undefined;
    try {
      await lastValueFrom(frames.pipe(sink), { defaultValue: undefined });
    } catch (error) {
      if (connection.problem === undefined && (error as { code?: unknown }).code !== 'ERR_CONNECTION') throw error;
      failure = connection.problem ?? (error as Error).message;
    }
    failure ??= connection.problem;
    if (failure !== undefined) {
      const rest = files.slice(index + 1);
      throw new Error(`send-logs: ${file}: not delivered to ${peer}: ${failure}${rest.length > 0 ? `; not sent: ${rest.join(', ')}` : ''}`);
    }
  }
}
