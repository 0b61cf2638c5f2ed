/**
 * Connection floods against `rivulet log-counts --listen`, at full size, with the listener's
 * memory. Not part of `npm test` (hundreds of connections, hundreds of MiB): `npm run bench`
 * runs them in its floods section (`node dist-bench/bench/run.js floods` alone), or by hand:
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/floods.js
 *   FLOODS_CLI=/path/to/other/build/demos/cli.js node dist-bench/bench/floods.js   # another build, for comparison
 *
 * Each scenario starts a fresh listener in a child process with its default limits, floods it
 * from this one, then has a real sender (`rivulet send-logs`, a child too) send one day and
 * checks that the listener counted it. Memory is the listener's resident set (VmRSS), sampled
 * every 50 ms; the kernel's receive queues of its connections show what it left unread.
 *
 * - partial frames: 400 connections, 25 from each of 16 loopback addresses (so that no
 *   per-address limit is what stops them), each send 1 MiB - 1 byte of a 1 MiB frame, then nothing.
 * - idle slots: 1,024 connections that send nothing, 64 from each of 16 loopback addresses.
 * - one address: 1,024 connections that send nothing, all from 127.0.0.1.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../demos/packageRoot';
import { DEFAULT_MAX_PARTIAL_BYTES } from '../lib/io/tcpSource';
import { FloodFigure, MiB, round1, rssMiB, socketQueues } from './procStats';

const CLI = process.env.FLOODS_CLI ?? join(__dirname, '..', 'demos', 'cli.js');
const DAY = join(packageRoot(), 'demos', 'data', 'logs', 'day_1.log');
/** tcpListen's defaults, which log-counts --listen keeps. */
const MAX_CONNECTIONS = 1024;
const MAX_PER_ADDRESS = 64;
const LOOPBACKS = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);

interface Listener {
  child: ChildProcess;
  port: number;
  /** Day reports printed so far. */
  reports: string[];
  stderrLines: string[];
  rssMiB(): number;
  stop(): Promise<void>;
}

/** `rivulet ARGS...` in a child process, from the build in CLI. */
function rivulet(args: string[]): ChildProcess {
  const main = `require(${JSON.stringify(CLI)}).main(['node', 'rivulet', ...process.argv.slice(1)]).catch((e) => { process.stderr.write('rivulet: ' + e.message + '\\n'); process.exitCode = 1; })`;
  return spawn(process.execPath, ['-e', main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function startListener(): Promise<Listener> {
  const child = rivulet(['log-counts', '--listen', '127.0.0.1:0']);
  const reports: string[] = [];
  const stderrLines: string[] = [];
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    const lines = out.split('\n');
    out = lines.pop() ?? '';
    reports.push(...lines.filter((l) => l !== ''));
  });
  const port = await new Promise<number>((resolve, reject) => {
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      const lines = err.split('\n');
      err = lines.pop() ?? '';
      for (const line of lines) {
        stderrLines.push(line);
        const m = /listening on [^:]+:(\d+)/.exec(line);
        if (m) resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`log-counts exited with ${code}`)));
  });
  return {
    child,
    port,
    reports,
    stderrLines,
    rssMiB: () => rssMiB(child.pid!),
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/**
 * What the listener said about the connections it closed, by reason. A listener that logs a few
 * faults of a kind a second and counts the rest says those by code only: an ERR_BUFFER_FULL is
 * one past maxPartialBytes, an ERR_CONNECTION a refusal, a room made or an idle close (`unlogged`).
 */
function closesByReason(lines: readonly string[]): Record<string, number> {
  const counts = { refused: 0, bufferFull: 0, madeRoom: 0, idle: 0, unlogged: 0, other: 0 };
  for (const line of lines) {
    if (/listening on/.test(line)) continue;
    const more = /(\d+) more (ERR_\w+) not logged/.exec(line);
    if (more !== null) counts[more[2] === 'ERR_BUFFER_FULL' ? 'bufferFull' : 'unlogged'] += Number(more[1]);
    else if (/refused a connection/.test(line)) counts.refused++;
    else if (/above maxPartialBytes/.test(line)) counts.bufferFull++;
    else if (/closed to make room/.test(line)) counts.madeRoom++;
    else if (/completed no frame/.test(line)) counts.idle++;
    else counts.other++;
  }
  return counts;
}

/** Peak RSS while `work` runs, sampled every 50 ms. */
async function peakDuring<T>(listener: Listener, work: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  let peak = listener.rssMiB();
  const timer = setInterval(() => (peak = Math.max(peak, listener.rssMiB())), 50);
  try {
    const result = await work();
    return { result, peakMiB: Math.max(peak, listener.rssMiB()) };
  } finally {
    clearInterval(timer);
  }
}

interface Flood {
  /** Connections the listener refused or closed (a reset or FIN seen here) before `destroy`. */
  closedByListener(): number;
  destroy(): void;
}

/** Opens `count` connections from `addresses` in turn, 64 at a time; each runs `onOpen` once connected. */
async function flood(port: number, count: number, addresses: string[], onOpen: (socket: net.Socket) => void): Promise<Flood> {
  const sockets: net.Socket[] = [];
  let closedByListener = 0;
  let destroying = false;
  const open = (i: number) =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: addresses[i % addresses.length] });
      sockets.push(socket);
      socket.on('error', () => undefined);
      socket.once('connect', () => {
        onOpen(socket);
        resolve();
      });
      socket.once('close', () => {
        if (!destroying) closedByListener++;
        resolve();
      });
    });
  for (let i = 0; i < count; i += 64) await Promise.all(Array.from({ length: Math.min(64, count - i) }, (_, k) => open(i + k)));
  return {
    closedByListener: () => closedByListener,
    destroy: () => {
      destroying = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the listener has read everything its connections' kernel queues hold (or `limitMs` passed). */
async function readDry(port: number, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (socketQueues(port).receiveMiB > 0 && Date.now() < deadline) await sleep(50);
}

interface SenderResult {
  exitCode: number | string | null;
  counted: boolean;
  stderr: string;
}

/** Runs `rivulet send-logs` for one day; resolves with its exit code and whether the listener printed a report for it. */
async function realSender(listener: Listener): Promise<SenderResult> {
  const before = listener.reports.length;
  const sender = rivulet(['send-logs', `127.0.0.1:${listener.port}`, DAY]);
  let stderr = '';
  sender.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  // A sender that reconnects for ever to a listener that drops it would never exit.
  const timeout = setTimeout(() => sender.kill('SIGKILL'), 20_000);
  const [code, signal] = (await once(sender, 'exit')) as [number | null, string | null];
  clearTimeout(timeout);
  const exitCode = signal === 'SIGKILL' ? 'killed after 20 s' : code;
  // The report follows the END_OF_DAY frame at once when it was read; give it a few seconds.
  const deadline = Date.now() + 3000;
  while (listener.reports.length === before && Date.now() < deadline) await sleep(50);
  return { exitCode, counted: listener.reports.length > before, stderr: stderr.trim().slice(0, 200) };
}

export interface TcpFloodReport {
  scenario: string;
  connections: number;
  addresses: number;
  rssMiB: { idle: number; peak: number; afterFlood: number };
  /** Connections still open once the flood was in (the listener's side, established). */
  openAfterFlood: number;
  closedByListener: number;
  closes: Record<string, number>;
  /** What the listener left unread in the kernel once the flood was in. */
  kernelUnreadMiB: number;
  /** Partial frames only: what the open connections had sent and the listener had read. */
  heldMiB?: number;
  sentMiB?: number;
  sender: SenderResult;
}

async function partialFrames(): Promise<TcpFloodReport> {
  const count = 400;
  const listener = await startListener();
  try {
    await sleep(300);
    const idleMiB = listener.rssMiB();
    const frame = Buffer.alloc(4 + MiB - 1, 120);
    frame.writeUInt32BE(MiB, 0);
    const { result: f, peakMiB } = await peakDuring(listener, async () => {
      const opened = await flood(listener.port, count, LOOPBACKS, (socket) => socket.write(frame));
      await readDry(listener.port, 5000);
      return opened;
    });
    const queues = socketQueues(listener.port);
    const afterFloodMiB = listener.rssMiB();
    const sender = await realSender(listener);
    f.destroy();
    return {
      scenario: 'partial frames',
      connections: count,
      addresses: LOOPBACKS.length,
      rssMiB: { idle: round1(idleMiB), peak: round1(peakMiB), afterFlood: round1(afterFloodMiB) },
      openAfterFlood: queues.established,
      closedByListener: f.closedByListener(),
      closes: closesByReason(listener.stderrLines),
      kernelUnreadMiB: round1(queues.receiveMiB),
      heldMiB: round1((queues.established * frame.length) / MiB - queues.receiveMiB),
      sentMiB: round1((count * frame.length) / MiB),
      sender,
    };
  } finally {
    await listener.stop();
  }
}

async function idleSlots(scenario: string, addresses: string[]): Promise<TcpFloodReport> {
  const count = MAX_CONNECTIONS;
  const listener = await startListener();
  try {
    await sleep(300);
    const idleMiB = listener.rssMiB();
    const { result: f, peakMiB } = await peakDuring(listener, async () => {
      const opened = await flood(listener.port, count, addresses, () => undefined);
      await sleep(1500); // idle past evictIdleAfterMs (1 s), so that the sender may take a slot
      return opened;
    });
    const queues = socketQueues(listener.port);
    const afterFloodMiB = listener.rssMiB();
    const sender = await realSender(listener);
    f.destroy();
    return {
      scenario,
      connections: count,
      addresses: addresses.length,
      rssMiB: { idle: round1(idleMiB), peak: round1(peakMiB), afterFlood: round1(afterFloodMiB) },
      openAfterFlood: queues.established,
      closedByListener: f.closedByListener(),
      closes: closesByReason(listener.stderrLines),
      kernelUnreadMiB: round1(queues.receiveMiB),
      sender,
    };
  } finally {
    await listener.stop();
  }
}

/** Each scenario's figures beside the limits they are held to. */
function figuresOf(r: TcpFloodReport): FloodFigure[] {
  const flood = `tcp ${r.scenario}: ${r.connections} connections from ${r.addresses} address${r.addresses === 1 ? '' : 'es'}`;
  const rss = {
    flood,
    figure: `listener RSS peak ${r.rssMiB.peak} MiB, ${r.rssMiB.afterFlood} MiB after the flood, vs ${r.rssMiB.idle} MiB idle`,
    limit: r.sentMiB !== undefined ? `the flood sent ${r.sentMiB} MiB` : 'idle connections hold no data',
  };
  const sender: FloodFigure = {
    flood,
    figure: `a real sender's day ${r.sender.counted ? 'counted' : 'NOT counted'} (send-logs exit ${String(r.sender.exitCode)})`,
    limit: 'counted',
    met: r.sender.counted && r.sender.exitCode === 0,
  };
  const c = r.closes;
  const unlogged = c.unlogged > 0 ? `, ${c.unlogged} more refused, to make room or idle` : '';
  const closes = `closed by the listener: ${r.closedByListener} of ${r.connections}; its log: ${c.refused} refused, ${c.bufferFull} past maxPartialBytes, ${c.madeRoom} to make room, ${c.idle} idle${unlogged}`;
  if (r.scenario === 'partial frames') {
    const capMiB = DEFAULT_MAX_PARTIAL_BYTES / MiB;
    return [
      {
        flood,
        figure: `unfinished frames held: ${r.heldMiB} MiB on ${r.openAfterFlood} open connections (${r.kernelUnreadMiB} MiB unread in the kernel)`,
        limit: `maxPartialBytes ${capMiB} MiB`,
        met: r.heldMiB! <= capMiB,
      },
      rss,
      { flood, figure: closes, limit: 'the oldest holders make room (evictIdleAfterMs 1 s)' },
      sender,
    ];
  }
  const perAddress = Math.min(MAX_PER_ADDRESS * r.addresses, MAX_CONNECTIONS);
  return [
    {
      flood,
      figure: `open after the flood: ${r.openAfterFlood}; ${closes}`,
      limit: `maxConnections ${MAX_CONNECTIONS}, ${MAX_PER_ADDRESS} per address: ${perAddress} at most`,
      met: r.openAfterFlood <= perAddress,
    },
    rss,
    sender,
  ];
}

export interface TcpFloods {
  reports: TcpFloodReport[];
  figures: FloodFigure[];
}

/** Every scenario in turn, each against a fresh listener. */
export async function tcpFloods(log: (message: string) => void = () => undefined): Promise<TcpFloods> {
  const reports: TcpFloodReport[] = [];
  for (const run of [
    () => partialFrames(),
    () => idleSlots('idle slots', LOOPBACKS),
    () => idleSlots('one address', ['127.0.0.1']),
  ]) {
    const report = await run();
    reports.push(report);
    log(`tcp flood, ${report.scenario}: RSS ${report.rssMiB.idle} -> peak ${report.rssMiB.peak} MiB, ${report.openAfterFlood} open, sender ${report.sender.counted ? 'counted' : 'not counted'}`);
  }
  return { reports, figures: reports.flatMap(figuresOf) };
}

if (require.main === module) {
  process.stderr.write(`floods against ${CLI}\n`);
  tcpFloods((m) => process.stderr.write(`${m}\n`))
    .then(({ reports, figures }) => {
      for (const r of reports) process.stdout.write(`${JSON.stringify(r)}\n`);
      for (const f of figures) process.stdout.write(`${f.flood}: ${f.figure} [${f.limit}]${f.met === undefined ? '' : f.met ? ' PASS' : ' FAIL'}\n`);
    })
    .catch((error: unknown) => {
      process.stderr.write(`floods: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = 1;
    });
}
