/**
 * `npm run bench`: rivulet against the baselines a user would otherwise write, in one run.
 * Prints a table and writes bench/results.json. Set BENCH_RUNS to change the timed runs per
 * variant (default 3, after one warm-up, in rounds of one run of each variant). A row's time and
 * throughput are its median run; its ratio to the baseline is the median of the rounds' ratios,
 * so one lucky or unlucky run on a shared machine decides neither; the best run is kept too.
 * BENCH_ONLY=logs,stars,memory,tcp,floods,checkpoints,workers (or the names as arguments: `node
 * dist-bench/bench/run.js floods`) runs only the named parts; the table then has only those, and
 * bench/results.json is left as the last full run wrote it. The floods part writes its own
 * bench/floods-results.json whenever it runs: its figures are memory and limits, not speed, so a
 * run of it alone is as good as one inside the whole bench. The checkpoint overhead
 * (bench/checkpoints.ts) and the N-worker scale-out on Redis (bench/distributed.ts, which writes
 * bench/distributed-results.json, skipped without redis-server) run as scripts of their own, in
 * child processes, and their lines are added to the table.
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../demos/packageRoot';
import { assertSame, Measured, measureRounds, roundsRatio } from './harness';
import { archiveInputs, CACHE_DIR, eventInputs, logInputs, logOneFile } from './inputs';
import * as logs from './logCountsBench';
import * as stars from './starLeadersBench';
import { rawRelay, rivuletRelay, tcpRun } from './tcpBench';
import { tcpFloods } from './floods';
import type { FloodFigure } from './procStats';
import { wsFloods } from './wsFloods';
import type { MemoryReport } from './memory';
import type { LoadReport } from './tcpLoad';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TCP_FRAMES = 1_000_000;
const TCP_RATE = 50_000;
const TCP_RATE_SECONDS = 4;
const PARTS = ['logs', 'stars', 'memory', 'tcp', 'floods', 'checkpoints', 'workers'];

interface Row {
  benchmark: string;
  variant: string;
  events: number;
  bestSeconds: number;
  medianSeconds: number;
  eventsPerSecond: number;
  /**
   * Throughput relative to the hand-written loop: the median over the rounds of each round's
   * ratio. The TCP rows: the best run's throughput relative to the raw socket loop's best.
   */
  vsBaseline?: number;
  note?: string;
}

interface Target {
  name: string;
  value: number;
  goal: string;
  met: boolean;
}

const rows: Row[] = [];
const targets: Target[] = [];
const started = Date.now();

function log(message: string): void {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
}

/** A row of the table; with `baseline` (timed in the same rounds), its ratio to that. */
function row(benchmark: string, variant: string, events: number, m: Measured<unknown>, baseline?: Measured<unknown>): Row {
  const r: Row = { benchmark, variant, events, bestSeconds: m.bestSeconds, medianSeconds: m.medianSeconds, eventsPerSecond: events / m.medianSeconds };
  if (baseline !== undefined) r.vsBaseline = roundsRatio(m, baseline);
  rows.push(r);
  log(`${benchmark} / ${variant}: ${fmt(r.eventsPerSecond)} events/s (runs ${m.runsSeconds.map((s) => s.toFixed(2)).join(', ')} s)`);
  return r;
}

function target(name: string, value: number, goal: string, met: boolean): void {
  targets.push({ name, value, goal, met });
}

/** Rivulet, plain RxJS and the loop on one input; checks they agree, then sets the ratios. */
async function threeWay<R>(
  benchmark: string,
  events: number,
  variants: { rivulet: () => Promise<R> | R; plain: () => Promise<R> | R; loop: () => Promise<R> | R },
  same: (r: R) => unknown,
): Promise<{ rivulet: Row; plain: Row; loop: Row }> {
  // rivulet and the loop side by side in every round, plain RxJS first or last.
  const [mr, ml, mp] = await measureRounds([variants.rivulet, variants.loop, variants.plain], RUNS);
  assertSame(benchmark, same(mr.result), same(mp.result), 'plain RxJS');
  assertSame(benchmark, same(mr.result), same(ml.result), 'hand-written loop');
  const r = row(benchmark, 'rivulet', events, mr, ml);
  const p = row(benchmark, 'plain RxJS', events, mp, ml);
  const l = row(benchmark, 'hand-written loop', events, ml, ml);
  return { rivulet: r, plain: p, loop: l };
}

async function logCounts(): Promise<void> {
  log('log-counts: preparing inputs');
  const input = logInputs();
  const one = logOneFile(input);
  const summary = (reports: Parameters<typeof logs.summarize>[0]) => logs.summarize(reports);
  await threeWay(`log-counts, in memory (${input.days} days)`, input.lines, {
    rivulet: () => logs.rivuletMemory(input.memory),
    plain: () => logs.plainMemory(input.memory),
    loop: () => logs.loopMemory(input.memory),
  }, summary);
  const files = await threeWay(`log-counts, from files (${input.days} days)`, input.lines, {
    rivulet: () => logs.rivuletFiles(input.files),
    plain: () => logs.plainFiles(input.files),
    loop: () => logs.loopFiles(input.files),
  }, summary);
  const single = await threeWay(`log-counts, one file of ${one.days} days`, one.lines, {
    rivulet: () => logs.rivuletFiles([one.file]),
    plain: () => logs.plainFiles([one.file]),
    loop: () => logs.loopFiles([one.file]),
  }, summary);
  const day = await threeWay(`log-counts --window day (${input.days} days)`, input.lines, {
    rivulet: () => logs.rivuletDayWindow(input.files),
    plain: () => logs.plainDayWindow(input.files),
    loop: () => logs.loopDayWindow(input.files),
  }, summary);
  const cli = await commandAgainstScript(`log-counts CLI, from files (${input.days} days)`, input.lines, ['log-counts', ...input.files], input.files);
  const cliDay = await commandAgainstScript(`log-counts CLI --window day (${input.days} days)`, input.lines, ['log-counts', '--window', 'day', ...input.files], ['--window', 'day', ...input.files]);
  for (const [name, r] of [['files', files], ['one file, day changes', single], ['--window day', day], ['CLI, files', cli], ['CLI --window day', cliDay]] as const) {
    target(`log-counts ${name}: rivulet / loop`, r.rivulet.vsBaseline!, '>= 1.0', r.rivulet.vsBaseline! >= 1);
  }
}

/**
 * `rivulet log-counts ...` against the hand-written loop run as a script of its own
 * (logCountsLoop.js), each a new process printing a report per line: what a user waits for,
 * start-up included. Their reports must agree, counts in any order.
 */
async function commandAgainstScript(benchmark: string, events: number, command: string[], scriptArgs: string[]): Promise<{ rivulet: Row; loop: Row }> {
  const [mr, ml] = await measureRounds([() => nodeOutput([join(__dirname, 'rivuletCli.js'), ...command]), () => nodeOutput([join(__dirname, 'logCountsLoop.js'), ...scriptArgs])], RUNS);
  const reports = (stdout: string) =>
    stdout.trimEnd().split('\n').map((line) => {
      const { counts, ...rest } = JSON.parse(line) as { counts: Record<string, number> };
      return { ...rest, counts: Object.entries(counts).sort() };
    });
  assertSame(benchmark, reports(mr.result), reports(ml.result), 'hand-written loop');
  const r = row(benchmark, 'rivulet', events, mr, ml);
  const l = row(benchmark, 'hand-written loop', events, ml, ml);
  return { rivulet: r, loop: l };
}

function nodeOutput(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => (error ? reject(new Error(`${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)));
  });
}

/** Verifies the three variants on the full emission digest once, then times them with a light consumer. */
async function starLeaders(): Promise<string[]> {
  log('star-leaders: preparing inputs');
  const input = eventInputs(1, true);
  const archive = archiveInputs();
  const days = 31;
  const same = (r: stars.LeadersResult) => r;
  const full = () => new stars.LeadersConsumer(true);
  const memory = await threeWay(`star-leaders, in memory (${days} days, ${input.repos} repos)`, input.events, {
    rivulet: () => stars.rivuletMemory(input.memory, full()),
    plain: () => stars.plainMemory(input.memory, full()),
    loop: () => stars.loopMemory(input.memory, full()),
  }, same);
  target('star-leaders memory: rivulet / loop', memory.rivulet.vsBaseline!, '>= 0.9', memory.rivulet.vsBaseline! >= 0.9);
  const mb = (archive.bytes / 1e6).toFixed(0);
  const files = await threeWay(`star-leaders, from archive files (${mb} MB)`, archive.events, {
    rivulet: () => stars.rivuletFiles(archive.files, full()),
    plain: () => stars.plainFiles(archive.files, full()),
    loop: () => stars.loopFiles(archive.files, full()),
  }, same);
  target('star-leaders files: rivulet / loop', files.rivulet.vsBaseline!, '>= 2.0', files.rivulet.vsBaseline! >= 2);

  // Scaling: the same events over 1x, 4x and 16x distinct repositories, one input in memory at a
  // time (holding all three would slow every run), so the ratio to 1x is of the median runs.
  let base: Row | undefined;
  for (const copies of [1, 4, 16]) {
    const scaled = copies === 1 ? input : eventInputs(copies, false);
    const light = () => new stars.LeadersConsumer(false);
    const name = `star-leaders scaling ${copies}x (${scaled.repos} repos)`;
    const [mr, ml] = await measureRounds<stars.LeadersResult>([() => stars.rivuletMemory(scaled.memory, light()), () => stars.loopMemory(scaled.memory, light())], RUNS);
    assertSame(name, mr.result, ml.result, 'hand-written loop');
    const r = row(name, 'rivulet', scaled.events, mr, ml);
    row(name, 'hand-written loop', scaled.events, ml, ml);
    base ??= r;
    const kept = r.eventsPerSecond / base.eventsPerSecond;
    r.note = `${kept.toFixed(2)} of 1x`;
    if (copies > 1) target(`star-leaders ${copies}x repos: throughput / 1x`, kept, '>= 0.9', kept >= 0.9);
  }
  return input.files;
}

async function tcp(): Promise<Record<string, LoadReport>> {
  const reports: Record<string, LoadReport> = {};
  const best = async (relay: typeof rivuletRelay, frames: number, rate: number): Promise<LoadReport> => {
    await tcpRun(relay, Math.min(frames, 200_000), rate === 0 ? 0 : rate); // warm-up
    let chosen: LoadReport | undefined;
    for (let i = 0; i < Math.max(1, RUNS - 1); i++) {
      const r = await tcpRun(relay, frames, rate);
      // Flat out: the fastest run; at a fixed load: the run with the lowest p99.
      if (chosen === undefined || (rate === 0 ? r.framesPerSecond > chosen.framesPerSecond : r.p99Ms < chosen.p99Ms)) chosen = r;
    }
    return chosen!;
  };
  for (const [variant, relay] of [['rivulet', rivuletRelay], ['raw net loop', rawRelay]] as const) {
    reports[`${variant}, flat out`] = await best(relay, TCP_FRAMES, 0);
    reports[`${variant}, ${TCP_RATE}/s`] = await best(relay, TCP_RATE * TCP_RATE_SECONDS, TCP_RATE);
    log(`tcp / ${variant}: ${fmt(reports[`${variant}, flat out`].framesPerSecond)} frames/s; at ${TCP_RATE}/s p50 ${reports[`${variant}, ${TCP_RATE}/s`].p50Ms.toFixed(2)} ms p99 ${reports[`${variant}, ${TCP_RATE}/s`].p99Ms.toFixed(2)} ms`);
  }
  const r = reports['rivulet, flat out'];
  const raw = reports['raw net loop, flat out'];
  for (const [variant, report] of [['rivulet', r], ['raw net loop', raw]] as const) {
    rows.push({
      benchmark: 'tcp 50-byte frames, flat out',
      variant,
      events: report.received,
      bestSeconds: report.seconds,
      medianSeconds: report.seconds,
      eventsPerSecond: report.framesPerSecond,
      vsBaseline: report.framesPerSecond / raw.framesPerSecond,
    });
  }
  return reports;
}

function memory(files: string[]): MemoryReport {
  log('memory: 30-day replay under --expose-gc');
  const out = execFileSync(process.execPath, ['--expose-gc', join(__dirname, 'memory.js'), ...files], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const report = JSON.parse(out.trim().split('\n').pop()!) as MemoryReport;
  target('memory: max heap after day 1 / day 1', report.ratio, '<= 1.20', report.ratio <= 1.2);
  log(`memory: day 1 ${report.firstDayMb.toFixed(1)} MB, later max ${report.maxLaterMb.toFixed(1)} MB`);
  return report;
}

/** Full-size TCP and WebSocket floods (about 70 s): the servers' memory and limits under hostile clients. */
async function floods(): Promise<{ tcp: unknown[]; ws: unknown[]; figures: FloodFigure[] }> {
  log('floods: log-counts --listen against 400 half-sent frames and 1,024 idle connections');
  const tcpResult = await tcpFloods(log);
  log('floods: the star-leaders dashboard feed against 200 clients that never read and 1,000 from one address');
  const wsResult = await wsFloods(undefined, log);
  return { tcp: tcpResult.reports, ws: wsResult.reports, figures: [...tcpResult.figures, ...wsResult.figures] };
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : n.toFixed(2);
}

function table(tcpReports: Record<string, LoadReport>, mem: MemoryReport | undefined, floodFigures: FloodFigure[]): string {
  const lines: string[] = [];
  const header = ['benchmark', 'variant', 'events', 'best s', 'median s', 'events/s (median)', 'vs loop', ''];
  const body = rows.map((r) => [
    r.benchmark,
    r.variant,
    fmt(r.events),
    r.bestSeconds.toFixed(2),
    r.medianSeconds.toFixed(2),
    fmt(r.eventsPerSecond),
    r.vsBaseline === undefined ? '' : r.vsBaseline.toFixed(2),
    r.note ?? '',
  ]);
  if (rows.length > 0) lines.push(...markdown(header, body));
  if (Object.keys(tcpReports).length > 0) lines.push(
    '',
    ...markdown(
      ['tcp, 50-byte frames', 'frames', 'frames/s', 'p50 ms', 'p99 ms'],
      Object.entries(tcpReports).map(([name, r]) => [name, fmt(r.received), fmt(r.framesPerSecond), r.p50Ms.toFixed(2), r.p99Ms.toFixed(2)]),
    ),
  );
  if (mem !== undefined) lines.push(
    '',
    `Memory, star-leaders 30-day replay: heap after GC ${mem.firstDayMb.toFixed(1)} MB after day 1, ` +
      `at most ${mem.maxLaterMb.toFixed(1)} MB after later days (${mem.ratio.toFixed(2)}x); by day: ${mem.heapMbByDay.map((m) => m.toFixed(0)).join(' ')} MB`,
  );
  if (floodFigures.length > 0) lines.push(
    '',
    ...markdown(
      ['flood', 'figure', 'limit', 'met'],
      floodFigures.map((f, i) => [
        i > 0 && floodFigures[i - 1].flood === f.flood ? '' : f.flood,
        f.figure,
        f.limit,
        f.met === undefined ? '' : f.met ? 'PASS' : 'FAIL',
      ]),
    ),
  );
  if (targets.length > 0) lines.push('', ...markdown(['target', 'value', 'goal', 'met'], targets.map((t) => [t.name, t.value.toFixed(2), t.goal, t.met ? 'PASS' : 'FAIL'])));
  return lines.join('\n');
}

function markdown(header: string[], body: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 2 && /^[\d.]/.test(c) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)];
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    date: new Date().toISOString(),
  };
}

/** Runs a bench script of its own in a child process; its output, under a title. */
function script(title: string, file: string): string {
  log(`${title}: ${file}`);
  const out = execFileSync(process.execPath, ['--expose-gc', join(__dirname, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * 1024 * 1024 });
  process.stdout.write(out);
  return `${title}:\n${out.trimEnd()}`;
}

/** N workers on Redis, where redis-server is installed. */
function workers(): string {
  try {
    execFileSync(process.env.REDIS_SERVER ?? 'redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    log('workers: skipped, no redis-server on PATH (set REDIS_SERVER to point at one)');
    return '';
  }
  return script('N workers on Redis', 'distributed.js');
}

async function main(): Promise<void> {
  const host = machine();
  log(`inputs cached in ${CACHE_DIR}; ${RUNS} timed runs per variant after a warm-up`);
  const named = process.argv.length > 2 ? process.argv.slice(2) : (process.env.BENCH_ONLY ?? PARTS.join(',')).split(',');
  const unknown = named.filter((part) => !PARTS.includes(part));
  if (unknown.length > 0) throw new Error(`unknown part ${unknown.join(', ')}; the parts are ${PARTS.join(', ')}`);
  const only = new Set(named);
  if (only.has('logs')) await logCounts();
  const files = only.has('stars') || only.has('memory') ? await starLeaders() : [];
  const mem = only.has('memory') ? memory(files) : undefined;
  const tcpReports = only.has('tcp') ? await tcp() : {};
  const flooded = only.has('floods') ? await floods() : undefined;
  const scripts = [only.has('checkpoints') ? script('checkpoint overhead', 'checkpoints.js') : '', only.has('workers') ? workers() : ''].filter((t) => t !== '');
  const text = [table(tcpReports, mem, flooded?.figures ?? []), ...scripts].join('\n\n');
  const totalSeconds = (Date.now() - started) / 1000;
  process.stdout.write(`\nrivulet benchmarks on ${host.cpu} (${host.cores} cores, ${host.memoryGb} GB), node ${host.node}, ${host.date}\n\n${text}\n\nTotal ${totalSeconds.toFixed(0)} s.\n`);
  const results = { machine: host, runsPerVariant: RUNS, totalSeconds, rows, tcp: tcpReports, memory: mem, targets, table: text };
  // A partial run prints its table but leaves the last full run's figures in place.
  if (flooded !== undefined) writeFileSync(join(packageRoot(), 'bench', 'floods-results.json'), `${JSON.stringify({ machine: host, ...flooded }, null, 2)}\n`);
  if (PARTS.every((part) => only.has(part))) writeFileSync(join(packageRoot(), 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  if (targets.some((t) => !t.met)) process.stderr.write(`targets not met: ${targets.filter((t) => !t.met).map((t) => t.name).join('; ')}\n`);
  const broken = flooded?.figures.filter((f) => f.met === false) ?? [];
  if (broken.length > 0) process.stderr.write(`flood limits not met: ${broken.map((f) => `${f.flood}: ${f.figure}`).join('; ')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
