/**
 * Scale-out benchmark: star-leaders on N = 1, 2, 3 worker processes over one local redis-server,
 * against the same partitioned pipeline in one process, on the same routed input (the 31-day
 * star-leaders bench input, its three event types). Also the takeover time after kill -9 of a
 * worker, and Redis's share of the CPU.
 *
 *   npx tsc -p tsconfig.bench.json && node --expose-gc dist-bench/bench/distributed.js
 *
 * Method: each timed run gets an application of its own. The settings are written, N workers
 * (child processes of the `rivulet worker star-leaders` command) start and take their shares, and
 * are frozen (SIGSTOP) while the input is routed, so routing takes no CPU from them and their
 * start-up is not timed; they are woken (SIGCONT) and the clock runs until every partition has
 * committed its last entry. Leases are long there, so the freeze costs no takeover. The takeover
 * run uses the default 2 s lease: two workers, one killed with SIGKILL mid-run, the time until the
 * survivor has gained all of its partitions. Median of BENCH_RUNS (default 3) runs.
 * Needs redis-server on PATH (REDIS_SERVER to override) and ../shared/data.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, Observable } from 'rxjs';
import { closeRedis, connectRedis, FlowGate, partitionBy, publishSettings, RedisClient, route } from '../index';
import { main } from '../demos/cli';
import { starLeadersApp } from '../demos/starLeaders/distributed';
import { INTERESTING_TYPES, starLeadersPartitioning } from '../demos/starLeaders/starLeaders';
import type { GitHubEvent } from '../demos/starLeaders/githubEvents';
import { packageRoot } from '../demos/packageRoot';
import { collectGarbage } from './harness';
import { eventInputs } from './inputs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** BENCH_PART=scaling or takeover runs only that part. */
const PART = process.env.BENCH_PART;
const PARTITIONS = 10;
const PARAMS = { partitions: PARTITIONS, windowHours: 24, top: 10, allowedLatenessMs: 0, maxFutureMs: 3_600_000 };
const TAKEOVER_LEASE_MS = 2000;
const CLK_TCK = 100; // Linux's USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

// This file is also the worker's entry point: `node distributed.js worker star-leaders ...`.
if (process.argv[2] === 'worker') {
  void main(process.argv).catch((error: unknown) => {
    process.stderr.write(`rivulet: ${(error as Error).message}\n`);
    process.exitCode = 1;
  });
} else {
  void bench().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}

interface Worker {
  child: ChildProcess;
  stderr: string;
  exited: Promise<unknown>;
  /** When each line of stderr arrived (ms, this process's clock). */
  lines: Array<{ at: number; text: string }>;
}

function startWorker(url: string, app: string, leaseMs: number): Worker {
  const child = spawn(process.execPath, [__filename, 'worker', 'star-leaders', '--redis', url, '--app', app, '--lease-ms', String(leaseMs)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const worker: Worker = { child, stderr: '', exited: once(child, 'close'), lines: [] };
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    worker.stderr += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    const at = performance.now();
    for (const text of parts) worker.lines.push({ at, text });
  });
  return worker;
}

/** Partitions a worker holds, from its log lines. */
function holding(worker: Worker): Set<string> {
  const held = new Set<string>();
  for (const { text } of worker.lines) {
    const gained = /gained partition (\d+)/.exec(text);
    const lost = /lost partition (\d+)/.exec(text);
    if (gained) held.add(gained[1]);
    if (lost) held.delete(lost[1]);
  }
  return held;
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** User + system CPU seconds a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

async function startRedisServer(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = server.address() as { port: number };
      server.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-bench-redis-'));
  // As SCALE-OUT.md recommends for distributed runs: append-only, fsync every second, no eviction.
  const child = spawn(process.env.REDIS_SERVER ?? 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec',
    '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--logfile', '',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      if (log.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', () => reject(new Error(`redis-server exited: ${log}`)));
  });
  child.stdout!.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface RunFigures {
  seconds: number;
  entries: number;
  redisCpu: number;
  workersCpu: number;
  outputs: number;
}

let appCount = 0;

/** The events as a source that stops while the router's gate is paused, as file sources do. */
function gated<T>(values: readonly T[], gate: FlowGate): Observable<T> {
  return new Observable<T>((subscriber) => {
    let i = 0;
    const pump = (): void => {
      while (i < values.length && !gate.paused && !subscriber.closed) subscriber.next(values[i++]);
      if (i === values.length) subscriber.complete();
    };
    const off = gate.onChange((paused) => paused || setImmediate(pump));
    pump();
    return off;
  });
}

/** One timed distributed run with `n` workers (see the method above). */
async function distributedRun(client: RedisClient, url: string, redisPid: number, events: readonly GitHubEvent[], n: number): Promise<RunFigures> {
  const app = starLeadersApp(PARAMS, `bench-${process.pid}-${++appCount}`);
  await publishSettings(client, app);
  const workers = Array.from({ length: n }, () => startWorker(url, app.name, 600_000));
  try {
    const share = Math.ceil(PARTITIONS / n);
    await until(`${n} workers holding their shares`, () => workers.reduce((sum, w) => sum + holding(w).size, 0) === PARTITIONS && workers.every((w) => holding(w).size <= share));
    for (const w of workers) w.child.kill('SIGSTOP');
    await route(client, app, { source: (gate) => gated(events, gate), inputId: 'bench', maxBacklog: Number.MAX_SAFE_INTEGER });
    const entries = (await Promise.all(app.partitionKeys.map((k) => client.xlen(k.input)))).reduce((a, b) => a + b, 0);
    const lastIds = await Promise.all(app.partitionKeys.map(async (k) => (await client.xrevrange(k.input, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'));
    const cpuBefore = { redis: cpuSeconds(redisPid), workers: workers.map((w) => cpuSeconds(w.child.pid!)) };
    const start = performance.now();
    for (const w of workers) w.child.kill('SIGCONT');
    await until('every partition consumed', async () => {
      const offsets = await Promise.all(app.partitionKeys.map((k) => client.get(k.offset)));
      return offsets.every((o, i) => o !== null && o.split(' ')[0] === lastIds[i]);
    });
    const seconds = (performance.now() - start) / 1000;
    const redisCpu = cpuSeconds(redisPid) - cpuBefore.redis;
    const workersCpu = workers.reduce((sum, w, i) => sum + cpuSeconds(w.child.pid!) - cpuBefore.workers[i], 0);
    const outputs = (await Promise.all(app.partitionKeys.map((k) => client.xlen(k.output)))).reduce((a, b) => a + b, 0);
    return { seconds, entries, redisCpu, workersCpu, outputs };
  } finally {
    for (const w of workers) w.child.kill('SIGCONT');
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await Promise.all(app.partitionKeys.flatMap((k) => Object.values(k).map((key) => client.unlink(key))));
  }
}

/** Kill -9 of one of two workers mid-run: seconds until the survivor holds all its partitions. */
async function takeoverRun(client: RedisClient, url: string, events: readonly GitHubEvent[]): Promise<{ first: number; all: number; partitions: number }> {
  const app = starLeadersApp(PARAMS, `bench-${process.pid}-${++appCount}`);
  await route(client, app, { source: (gate) => gated(events, gate), inputId: 'bench', maxBacklog: Number.MAX_SAFE_INTEGER });
  const total = (await Promise.all(app.partitionKeys.map((k) => client.xlen(k.input)))).reduce((a, b) => a + b, 0);
  const [victim, survivor] = [startWorker(url, app.name, TAKEOVER_LEASE_MS), startWorker(url, app.name, TAKEOVER_LEASE_MS)];
  try {
    await until('both workers holding five partitions and a fifth of the input consumed', async () => {
      if (holding(victim).size !== 5 || holding(survivor).size !== 5) return false;
      const left = (await Promise.all(app.partitionKeys.map((k) => client.xlen(k.input)))).reduce((a, b) => a + b, 0);
      return left < total * 0.8;
    });
    const lost = holding(victim);
    const killedAt = performance.now();
    victim.child.kill('SIGKILL');
    const gains = () => survivor.lines.filter((l) => l.at >= killedAt && [...lost].some((p) => l.text.includes(`gained partition ${p} `)));
    await until('the survivor gaining every partition of the killed worker', () => new Set(gains().map((l) => /gained partition (\d+)/.exec(l.text)![1])).size === lost.size);
    const times = gains().map((l) => (l.at - killedAt) / 1000);
    return { first: Math.min(...times), all: Math.max(...times), partitions: lost.size };
  } finally {
    for (const w of [victim, survivor]) w.child.kill('SIGTERM');
    await Promise.all([victim.exited, survivor.exited]);
    await Promise.all(app.partitionKeys.flatMap((k) => Object.values(k).map((key) => client.unlink(key))));
  }
}

/** The same partitioned pipeline in this process, on the same events. */
async function singleProcessRun(events: readonly GitHubEvent[]): Promise<{ seconds: number; outputs: number }> {
  collectGarbage();
  let outputs = 0;
  const start = performance.now();
  await new Promise<void>((resolve, reject) =>
    from(events)
      .pipe(partitionBy(starLeadersPartitioning(PARAMS)))
      .subscribe({ next: () => outputs++, error: reject, complete: resolve }),
  );
  return { seconds: (performance.now() - start) / 1000, outputs };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];

async function bench(): Promise<void> {
  const all = eventInputs(1, false).memory;
  // The in-memory bench events keep the pool's raw records; an event travels through Redis as its
  // raw record, so that record gets the simulated repo and time, as in the bench's files.
  const events = all
    .filter((e) => INTERESTING_TYPES.has(e.type))
    .slice(0, Number(process.env.BENCH_EVENTS ?? Infinity))
    .map((e): GitHubEvent => ({ ...e, raw: { ...e.raw, repo: { name: e.repo }, created_at: new Date(e.createdAtMs).toISOString().replace('.000Z', 'Z') } }));
  process.stderr.write(`input: ${events.length} star-leaders events (of ${all.length}) over ${PARTITIONS} partitions\n`);

  const single: Array<{ seconds: number; outputs: number }> = [];
  const expected = (await singleProcessRun(events)).outputs; // also the warm-up

  const redis = await startRedisServer();
  const client = connectRedis({ url: redis.url });
  const byN = new Map<number, RunFigures[]>();
  const takeover: Array<{ first: number; all: number; partitions: number }> = [];
  try {
    for (let round = 0; round < (PART === 'takeover' ? 0 : RUNS); round++) {
      // Rounds of one process, 1, 2 and 3 workers, so that load on a shared machine weighs on
      // each alike.
      const one = await singleProcessRun(events);
      single.push(one);
      process.stderr.write(`one process, run ${round + 1}: ${one.seconds.toFixed(2)} s\n`);
      for (const n of [1, 2, 3]) {
        const run = await distributedRun(client, redis.url, redis.pid, events, n);
        if (run.outputs !== expected) throw new Error(`${n} workers emitted ${run.outputs} outputs, one process ${expected}`);
        byN.set(n, [...(byN.get(n) ?? []), run]);
        process.stderr.write(`${n} worker(s), run ${round + 1}: ${run.seconds.toFixed(2)} s, Redis CPU ${run.redisCpu.toFixed(2)} s, workers CPU ${run.workersCpu.toFixed(2)} s\n`);
      }
    }
    for (let i = 0; i < (PART === 'scaling' ? 0 : RUNS); i++) {
      const t = await takeoverRun(client, redis.url, events);
      takeover.push(t);
      process.stderr.write(`takeover run ${i + 1}: first partition after ${t.first.toFixed(2)} s, all ${t.partitions} after ${t.all.toFixed(2)} s\n`);
    }
  } finally {
    await closeRedis(client);
    await redis.stop();
  }

  const rows = [...byN].map(([n, runs]) => {
    const seconds = median(runs.map((r) => r.seconds));
    const entries = runs[0].entries;
    const cpu = runs.map((r) => r.redisCpu / (r.redisCpu + r.workersCpu));
    return { workers: n, seconds, entriesPerSecond: entries / seconds, eventsPerSecond: events.length / seconds, redisCpuShare: median(cpu), redisCpuOfWall: median(runs.map((r) => r.redisCpu / r.seconds)), runsSeconds: runs.map((r) => r.seconds) };
  });
  const singleRate = single.length === 0 ? NaN : events.length / median(single.map((r) => r.seconds));
  const pad = (text: string, width: number) => text.padStart(width);
  const targets: Array<[string, number, string, boolean]> = [];
  const n1 = rows.find((r) => r.workers === 1);
  if (n1 !== undefined) {
    const table = [
      '| variant                | events/s | vs one process | vs N=1 | Redis CPU share | Redis CPU / wall |',
      '|------------------------|----------|----------------|--------|-----------------|------------------|',
      `| one process            | ${pad(Math.round(singleRate).toLocaleString('en'), 8)} | ${pad('1.00', 14)} |        |                 |                  |`,
      ...rows.map((r) => `| ${`${r.workers} worker${r.workers > 1 ? 's' : ''}`.padEnd(22)} | ${pad(Math.round(r.eventsPerSecond).toLocaleString('en'), 8)} | ${pad((r.eventsPerSecond / singleRate).toFixed(2), 14)} | ${pad((r.eventsPerSecond / n1.eventsPerSecond).toFixed(2), 6)} | ${pad(`${(r.redisCpuShare * 100).toFixed(0)}%`, 15)} | ${pad(`${(r.redisCpuOfWall * 100).toFixed(0)}%`, 16)} |`),
    ];
    process.stdout.write(`${table.join('\n')}\n\n`);
    const ratio = (n: number) => rows.find((r) => r.workers === n)!.eventsPerSecond / n1.eventsPerSecond;
    targets.push(['N=1 / one process', n1.eventsPerSecond / singleRate, '>= 0.15', n1.eventsPerSecond / singleRate >= 0.15]);
    targets.push(['N=2 / N=1', ratio(2), '>= 1.25', ratio(2) >= 1.25]);
    targets.push(['N=3 / N=1', ratio(3), '>= 1.4', ratio(3) >= 1.4]);
  }
  if (takeover.length > 0) {
    const all = median(takeover.map((t) => t.all));
    const goal = TAKEOVER_LEASE_MS / 1000 + 0.5;
    targets.push([`takeover after kill -9 (lease ${TAKEOVER_LEASE_MS / 1000} s), s`, all, `<= ${goal.toFixed(1)}`, all <= goal]);
  }
  process.stdout.write(`| target | value | goal | met |\n|---|---|---|---|\n${targets.map(([name, value, goal, met]) => `| ${name} | ${value.toFixed(2)} | ${goal} | ${met ? 'PASS' : 'FAIL'} |`).join('\n')}\n`);
  const results = { machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadAverage: loadavg() }, events: events.length, runs: RUNS, singleProcessSeconds: single.map((r) => r.seconds), distributed: rows, takeover, targets };
  writeFileSync(join(packageRoot(), 'bench', 'distributed-results.json'), `${JSON.stringify(results, null, 2)}\n`);
}
