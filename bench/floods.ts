/**
 * Connection floods against `rivulet log-counts --listen`, at full size, with the listener's
 * memory. Not part of `npm test` (hundreds of connections, hundreds of MiB) nor of `npm run
 * bench` (no ratios): run it by hand.
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/floods.js
 *   FLOODS_CLI=/path/to/other/build/demos/cli.js node dist-bench/bench/floods.js   # another build, for comparison
 *
 * Each scenario starts a fresh listener in a child process, floods it from this one, then has a
 * real sender (`rivulet send-logs`, a child too) send one day and checks that the listener
 * counted it. Memory is the listener's resident set (VmRSS), sampled every 50 ms.
 *
 * - partial frames: 400 connections each send 1 MiB - 1 byte of a 1 MiB frame, then nothing.
 * - idle slots: 1,024 connections that send nothing, 64 from each of 16 loopback addresses.
 * - one address: 1,024 connections that send nothing, all from 127.0.0.1.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../demos/packageRoot';

const CLI = process.env.FLOODS_CLI ?? join(__dirname, '..', 'demos', 'cli.js');
const DAY = join(packageRoot(), 'demos', 'data', 'logs', 'day_1.log');
const MiB = 1_048_576;

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
    rssMiB: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
    },
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
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

/** Runs `rivulet send-logs` for one day; resolves with its exit code and whether the listener printed a report for it. */
async function realSender(listener: Listener): Promise<{ exitCode: number | string | null; counted: boolean; stderr: string }> {
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
  while (listener.reports.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return { exitCode, counted: listener.reports.length > before, stderr: stderr.trim() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function partialFrames(): Promise<Record<string, unknown>> {
  const listener = await startListener();
  try {
    await sleep(300);
    const idleMiB = listener.rssMiB();
    const frame = Buffer.alloc(4 + MiB - 1, 120);
    frame.writeUInt32BE(MiB, 0);
    const { result: f, peakMiB } = await peakDuring(listener, async () => {
      const opened = await flood(listener.port, 400, ['127.0.0.1'], (socket) => socket.write(frame));
      await sleep(3000); // let the listener read what the kernel holds for it
      return opened;
    });
    const sender = await realSender(listener);
    const heldMiB = listener.rssMiB();
    f.destroy();
    return {
      scenario: 'partial frames: 400 connections x (1 MiB - 1 byte)',
      idleMiB: round(idleMiB),
      peakMiB: round(peakMiB),
      afterFloodMiB: round(heldMiB),
      closedByListener: f.closedByListener(),
      listenerErrorLines: listener.stderrLines.filter((l) => !/listening on/.test(l)).length,
      senderExit: sender.exitCode,
      senderCounted: sender.counted,
    };
  } finally {
    await listener.stop();
  }
}

async function idleSlots(addresses: string[], label: string): Promise<Record<string, unknown>> {
  const listener = await startListener();
  try {
    await sleep(300);
    const idleMiB = listener.rssMiB();
    const { result: f, peakMiB } = await peakDuring(listener, async () => {
      const opened = await flood(listener.port, 1024, addresses, () => undefined);
      await sleep(1500); // idle long enough to count as idle
      return opened;
    });
    const sender = await realSender(listener);
    f.destroy();
    return {
      scenario: label,
      idleMiB: round(idleMiB),
      peakMiB: round(peakMiB),
      closedByListener: f.closedByListener(),
      senderExit: sender.exitCode,
      senderCounted: sender.counted,
      senderStderr: sender.stderr.slice(0, 200),
    };
  } finally {
    await listener.stop();
  }
}

const round = (n: number) => Math.round(n);

async function main(): Promise<void> {
  process.stderr.write(`floods against ${CLI}\n`);
  const loopbacks = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);
  const results = [
    await partialFrames(),
    await idleSlots(loopbacks, 'idle slots: 1,024 idle connections from 16 addresses'),
    await idleSlots(['127.0.0.1'], 'one address: 1,024 idle connections from 127.0.0.1'),
  ];
  for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`floods: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
