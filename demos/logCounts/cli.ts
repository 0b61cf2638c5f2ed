import { join } from 'node:path';
import { Argument, Command, Option } from '@commander-js/extra-typings';
import { AsyncSubject, concat, EMPTY, finalize, ignoreElements, lastValueFrom, map, merge, MonoTypeOperatorFunction, Observable, of, share, Subject, tap } from 'rxjs';
import {
  fileLines, FileProgress, FlowGate, formatSocketAddress, lengthPrefixed, RivuletError, serveLiveView, SocketAddress, tcpListen, tcpSink, toJson, writeLines,
} from '../../index';
import { packageRoot } from '../packageRoot';
import { CountProgress, countProgress } from '../progress';
import { runCheckpointedLogCounts } from './checkpointed';
import type { CliIo } from '../cliIo';
import { watchConnection } from '../senderConnection';
import { gracefulStop, GracefulStop } from '../shutdown';
import { faultLog } from '../faultLog';
import { boundBy, CliError, UnreadableFiles } from '../cliErrors';
import { allowedHostFlag, checkpointEveryFlag, drainTimeoutFlag, duration, durationText, inputFiles, listenAddress, outputFile, peerAddress, timeZone } from '../cliFlags';
import { LogCountsDashboard, logCountsPage } from './dashboardFeed';
import { DayReport, DeadLetter, END_OF_DAY, LogCountsOptions, LogInput, logCounts } from './logCounts';

const BUNDLED_LOGS = [1, 2, 3, 4, 5, 6].map((day) => join(packageRoot(), 'demos', 'data', 'logs', `day_${day}.log`));

function logCountsCommand(program: Command) {
  return program
    .command('log-counts')
    .description('HTTP status codes per day from Apache access logs (Wallaroo\'s windowing example)')
    .addArgument(new Argument('[files...]', 'log files, in order; an END_OF_DAY is implied after each (default: the bundled sample)').argParser(inputFiles))
    .addOption(new Option('--listen <host:port>', 'read length-prefixed frames from TCP senders instead of files').argParser(listenAddress('--listen')))
    .addOption(new Option('--out <host:port>', 'send length-prefixed JSON results to a TCP listener instead of stdout').argParser(peerAddress('--out')))
    .addOption(new Option('--compat <app>', 'print exactly what the original application printed (END_OF_DAY windows only)').choices(['wallaroo'] as const).conflicts(['tz', 'dashboard']))
    .addOption(new Option('--window <kind>', 'close windows on END_OF_DAY markers, or by event time per calendar day').choices(['boundary', 'day'] as const).default('boundary' as const))
    .addOption(new Option('--tz <zone>', 'time zone of the calendar days; implies --window day (default: the log\'s own UTC offset)').argParser(timeZone('--tz')).implies({ window: 'day' }))
    .addOption(new Option('--allowed-lateness <duration>', 'how far out of order a line may arrive in --window day').argParser(duration('--allowed-lateness')).default(300_000, '5m'))
    .addOption(
      new Option('--max-future <duration>', 'in --window day: how far ahead of the latest time a line may move time before 3 more confirm the jump (rejected otherwise)')
        .argParser(duration('--max-future'))
        .default(86_400_000, '1d'),
    )
    .addOption(new Option('--dead-letter <file>', 'write every unparseable line, with its source and line number, to this file').argParser(outputFile('--dead-letter')))
    .addOption(new Option('--output <file>', 'write the JSON records to this file instead of stdout (exactly once with --checkpoint)').argParser(outputFile('--output')))
    .addOption(new Option('--checkpoint <dir>', 'keep checkpoints in this directory; run the same command again after a crash or Ctrl+C to resume').conflicts(['listen', 'out', 'dashboard']))
    .addOption(checkpointEveryFlag())
    .addOption(new Option('--dashboard <host:port>', 'serve a live chart of status codes per day (keeps serving after the input ends, until Ctrl+C)').argParser(listenAddress('--dashboard')))
    .option('--print', 'print the JSON reports on stdout even with --out or --dashboard')
    .addOption(allowedHostFlag('--dashboard'))
    .addOption(drainTimeoutFlag('the windows still open'));
}

/** The flags as their definitions give them, parsed. */
type LogCountsFlags = ReturnType<ReturnType<typeof logCountsCommand>['opts']>;

export function registerLogCounts(program: Command, io: CliIo): void {
  logCountsCommand(program).action(async (files, flags, command) => {
    // What commander cannot declare: a conflict with the files, or with one value of a flag.
    if (flags.listen !== undefined && files.length > 0) throw new CliError('--listen: cannot be used with files (give one input)');
    if (flags.compat !== undefined && flags.window === 'day') throw new CliError('--compat: cannot be used with --window day (the original only had END_OF_DAY markers)');
    if (flags.tz !== undefined && command.getOptionValueSource('window') === 'cli' && flags.window === 'boundary') {
      throw new CliError('--tz: cannot be used with --window boundary (a time zone places lines in calendar days: --window day)');
    }
    await runLogCounts(files, flags, io);
  });

  program
    .command('send-logs')
    .description('send log files to a log-counts listener as the original sender did: a connection per file, a frame per line, then END_OF_DAY')
    .addArgument(new Argument('<host:port>', 'where log-counts --listen is listening').argParser(peerAddress('<host:port>')))
    .addArgument(new Argument('<files...>', 'log files, in order').argParser(inputFiles))
    .action(async (address, files) => sendLogs(address, files));
}

async function runLogCounts(files: string[], flags: LogCountsFlags, io: CliIo): Promise<void> {
  const eventTime = flags.window === 'day' ? { timeZone: flags.tz, allowedLatenessMs: flags.allowedLateness, maxFutureMs: flags.maxFuture } : undefined;
  if (flags.checkpoint !== undefined) return checkpointed(files, flags, eventTime, io);
  const stop = gracefulStop(io, { app: 'log-counts', drainTimeoutMs: flags.drainTimeout, drainTimeout: durationText(flags.drainTimeout) });
  const gate = new FlowGate();
  // Peers' faults (oversized frames, idle connections, refused pages), a sink's lost connection:
  // a few lines per kind per second, the rest counted.
  const faults = faultLog((line) => io.stderr.write(line), { app: 'log-counts', scheduler: io.scheduler });
  const deadLetters = new Subject<DeadLetter>();
  let beyondFuture = 0;
  // For the warning about a file none of whose lines is an access log line.
  const perFile = new UnreadableFiles();
  deadLetters.subscribe((d) => {
    if (d.reason === 'beyond --max-future') beyondFuture += 1;
    else perFile.unreadable(d.source);
  });
  const markShutdown = (report: DayReport | Map<string, number>) =>
    stop.stopping && !(report instanceof Map) ? { ...report, closedBy: 'shutdown' as const } : report;
  const inputFiles = files.length > 0 ? files : BUNDLED_LOGS;
  // Files only: a listener has no end to measure against.
  const progress = flags.listen === undefined ? countProgress(io, 'log-counts', inputFiles) : undefined;
  try {
    const input: Observable<LogInput> = (flags.listen !== undefined ? framesFrom(flags.listen, gate, io, faults.reporter('--listen')) : linesOf(inputFiles, gate, perFile, progress)).pipe(
      stop.input(),
    );
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
    if (flags.out !== undefined) sinks.push(results.pipe(tcpSink({ ...flags.out, framing: lengthPrefixed(), gate, onConnectionError: faults.reporter('--out') }), stop.output(`--out ${formatSocketAddress(flags.out.host, flags.out.port)}`)));
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
  // --compat wallaroo counts what it cannot read under "null", as the original did: no warning there.
  if (flags.listen === undefined && flags.compat === undefined) {
    perFile.warn(inputFiles, (line) => io.stderr.write(line), 'an access log line', 'is it an Apache or Nginx access log in the Common or Combined Log Format?');
  }
}

/** The page and its feed; it serves until Ctrl+C. */
function dashboardView(address: SocketAddress, dashboard: LogCountsDashboard, io: CliIo, allowedHosts: string[], onClientError: (error: RivuletError) => void): Observable<never> {
  return serveLiveView({ ...address, page: logCountsPage(), allowedHosts, onClientError, feeds: { '/feed': dashboard.feed() } }).pipe(
    boundBy('--dashboard', address),
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
  const flagsOf = { checkpoint: flags.checkpoint!, checkpointEvery: flags.checkpointEvery, output: flags.output };
  return runCheckpointedLogCounts({ files: files.length > 0 ? files : BUNDLED_LOGS, options: { compat: flags.compat, eventTime }, flags: flagsOf, deadLetter: flags.deadLetter }, io);
}

/**
 * Lines of each file followed by an END_OF_DAY, as if the original sender had sent them. Lines are
 * counted (per file, and for the bar) from the reader's progress, once a chunk, not once a line.
 */
function linesOf(files: string[], gate: FlowGate, perFile: UnreadableFiles, progress?: CountProgress): Observable<LogInput> {
  const read = (p: FileProgress) => {
    if (p.done) perFile.fileRead(p.source, p.linesRead);
    progress?.file(p);
  };
  return fileLines(files, { gate, progress: { next: read }, endOfFile: END_OF_DAY });
}

/** Frames from every TCP sender (numbered per connection); a frame `END_OF_DAY` (line ending or not) is the marker. */
function framesFrom(address: SocketAddress, gate: FlowGate, io: CliIo, onConnectionError: (error: RivuletError) => void): Observable<LogInput> {
  return tcpListen({
    ...address,
    tagPeer: true,
    raw: false,
    gate,
    onListening: (a) => io.stderr.write(`log-counts: listening on ${a.host}:${a.port}\n`),
    onConnectionError,
  }).pipe(
    boundBy('--listen', address),
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
async function sendLogs(target: SocketAddress, files: string[]): Promise<void> {
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
