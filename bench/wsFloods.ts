/**
 * WebSocket floods against the star-leaders dashboard feed, at full size, with the server's
 * memory. Not part of `npm test` (a thousand connections, hundreds of MiB): `npm run bench` runs
 * the default scenarios in its floods section (`node dist-bench/bench/run.js floods` alone), or
 * by hand, any of them:
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/wsFloods.js [SCENARIO...]
 *   WSFLOODS_BUILD=/path/to/other/dist-bench node dist-bench/bench/wsFloods.js   # another build, for comparison
 *
 * Each scenario starts a fresh server in a child process: the dashboard page with its feed, wired
 * as `star-leaders --dashboard` wires it (webSocketBroadcast on the page's server at /feed,
 * same-host Origins, default limits), fed leaders messages of about 2 KiB: 2,000 a second (a
 * fast replay) for the clients that never read, 20 a second (a live stream) for the lock-outs,
 * where what counts is the slots, not the bytes. This process floods it, then has a real page (a
 * WebSocket client with the page's Origin, retrying every second as a reconnecting page would)
 * connect from 127.0.0.1 and from another address, and reports how long each took to get the
 * feed. Memory is the server's resident set (VmRSS), sampled every 50 ms; the kernel's send
 * queues of its connections (/proc/net/tcp) are shown beside it, since what a client does not
 * read also fills them, outside the server's own limits.
 *
 * - never-read (default): 200 clients that complete the handshake and never read, all from 127.0.0.1.
 * - never-read-spread (default): the same 200, each from its own loopback address.
 * - lockout-stalled (default): 1,000 clients from 127.0.0.1 that complete the handshake and never read.
 * - lockout-readers: 1,000 clients from 127.0.0.1 that read everything and answer pings; the
 *   16 admitted keep their slots (they are healthy), so a page from that address waits 30 s in vain.
 * - lockout-spread: 1,000 stalled clients, 10 from each of 100 loopback addresses; their kernel
 *   send queues take about 1.5 GiB at the peak, too much for the default run on a shared machine.
 */
import { ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { FloodFigure, MiB, kernelMaxSendMiB, round1, rssMiB, socketQueues } from './procStats';

const BUILD = process.env.WSFLOODS_BUILD ?? join(__dirname, '..');
const FLOOD_SECONDS = 15;
const PAGE_PATIENCE_S = 30;

// ---- the server, in a child process ----

type Stats = Record<string, number>;
type ToServer = { type: 'stats' };
type FromServer = { type: 'ready'; port: number } | { type: 'stats'; stats: Stats; produced: number };

/** A leaders message of about 2 KiB, as the dashboard feed carries it. */
function leadersMessage(partition: number, seq: number): unknown {
  return {
    type: 'leaders',
    partition,
    eventTime: 1_420_070_400_000 + seq * 10,
    leaders: Array.from({ length: 10 }, (_, i) => ({
      repo: `owner${partition}-${i}/repository-${i}`,
      stars: 1000 - i * 7 + (seq % 50),
      recent: [
        { kind: 'fork', text: `Forked by someone-${seq % 997}`, url: `https://github.com/someone-${seq % 997}/repository-${i}` },
        { kind: 'pull_request', text: `Pull request #${seq % 5000}: Fix the thing that broke when the other thing changed`, url: null },
      ],
    })),
  };
}

async function serve(build: string, messagesPerSecond: number): Promise<void> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const lib = require(join(build, 'index.js')) as typeof import('../index');
  const { serveDashboard } = require(join(build, 'demos', 'starLeaders', 'dashboardServer.js')) as typeof import('../demos/starLeaders/dashboardServer');
  const { Subject } = require('rxjs') as typeof import('rxjs');
  const dashboard = await serveDashboard({ host: '127.0.0.1', port: 0 });
  const latest = new Map<number, unknown>();
  const messages = new Subject<unknown>();
  // As star-leaders --dashboard: same-host Origins, kept serving, a snapshot for newcomers.
  const feed = lib.webSocketBroadcast<unknown>({
    server: dashboard.server,
    path: '/feed',
    allowedOrigins: 'same-host',
    allowedHosts: (dashboard as { allowedHosts?: readonly string[] }).allowedHosts,
    closeOnComplete: false,
    snapshot: () => [...latest.values()],
    onClientError: () => undefined,
  } as Parameters<typeof lib.webSocketBroadcast>[0]);
  messages.pipe(feed).subscribe({ error: (e: unknown) => process.stderr.write(`feed failed: ${String(e)}\n`) });
  let sent = 0;
  const tickMs = Math.max(5, 1000 / messagesPerSecond);
  const perTick = Math.max(1, Math.round((messagesPerSecond * tickMs) / 1000));
  setInterval(() => {
    for (let i = 0; i < perTick; i++) {
      const message = leadersMessage(sent % 10, sent);
      latest.set(sent % 10, message);
      messages.next(message);
      sent++;
    }
  }, 5);
  process.on('message', (message: ToServer) => {
    if (message.type === 'stats') process.send!({ type: 'stats', stats: { ...(feed.stats as unknown as Stats) }, produced: sent } satisfies FromServer);
  });
  process.send!({ type: 'ready', port: (dashboard.server.address() as net.AddressInfo).port } satisfies FromServer);
}

// ---- this side ----

interface Server {
  child: ChildProcess;
  port: number;
  rssMiB(): number;
  stats(): Promise<{ stats: Stats; produced: number }>;
  stop(): Promise<void>;
}

async function startServer(messagesPerSecond: number): Promise<Server> {
  const child = fork(__filename, ['serve', BUILD, String(messagesPerSecond)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ready] = (await once(child, 'message')) as [FromServer];
  if (ready.type !== 'ready') throw new Error('the server did not start');
  return {
    child,
    port: ready.port,
    rssMiB: () => rssMiB(child.pid!),
    stats: async () => {
      child.send({ type: 'stats' } satisfies ToServer);
      for (;;) {
        const [reply] = (await once(child, 'message')) as [FromServer];
        if (reply.type === 'stats') return reply;
      }
    },
    stop: async () => {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

interface Flood {
  admitted: number;
  refused: number;
  closeAll(): void;
}

/**
 * Opens `count` WebSocket connections to the feed from `addresses` in turn, 64 at a time.
 * `reads`: a `ws` client that reads everything (and so answers pings); otherwise a raw socket
 * that completes the handshake and then never reads.
 */
async function flood(port: number, count: number, addresses: string[], reads: boolean): Promise<Flood> {
  const closers: Array<() => void> = [];
  let admitted = 0;
  let refused = 0;
  const openStalled = (localAddress: string) =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress });
      closers.push(() => socket.destroy());
      socket.on('error', () => resolve());
      socket.once('connect', () =>
        socket.write(
          `GET /feed HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        ),
      );
      socket.once('data', (chunk: Buffer) => {
        if (chunk.toString('latin1').startsWith('HTTP/1.1 101')) admitted++;
        else refused++;
        socket.pause();
        resolve();
      });
      socket.once('close', () => resolve());
    });
  const openReader = (localAddress: string) =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/feed`, { localAddress });
      closers.push(() => ws.terminate());
      ws.on('message', () => undefined);
      ws.once('open', () => {
        admitted++;
        resolve();
      });
      ws.once('unexpected-response', (_req, res) => {
        refused++;
        res.resume();
        ws.on('error', () => undefined);
        ws.terminate();
        resolve();
      });
      ws.on('error', () => resolve());
    });
  for (let i = 0; i < count; i += 64) {
    const batch = Array.from({ length: Math.min(64, count - i) }, (_, j) => addresses[(i + j) % addresses.length]);
    await Promise.all(batch.map((address) => (reads ? openReader(address) : openStalled(address))));
  }
  return { admitted, refused, closeAll: () => closers.forEach((close) => close()) };
}

/**
 * A real page: connects with the page's Origin and waits for the feed's snapshot, retrying every
 * second (a refused or closed attempt) for up to `patienceS`. Seconds until it had the feed, or
 * undefined if it never got it.
 */
async function page(port: number, localAddress: string, patienceS: number): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < patienceS * 1000) {
    const got = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/feed`, { localAddress, origin: `http://127.0.0.1:${port}` });
      ws.once('message', () => {
        ws.close();
        resolve(true);
      });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        ws.on('error', () => undefined);
        ws.terminate();
        resolve(false);
      });
      ws.once('close', () => resolve(false));
      ws.on('error', () => resolve(false));
    });
    if (got) return (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return undefined;
}

interface Scenario {
  clients: number;
  addresses: string[];
  reads: boolean;
  messagesPerSecond: number;
}

const loopback = (first: number, count: number): string[] => Array.from({ length: count }, (_, i) => `127.0.${first + Math.floor(i / 250)}.${(i % 250) + 1}`);

const SCENARIOS = new Map<string, Scenario>([
  ['never-read', { clients: 200, addresses: ['127.0.0.1'], reads: false, messagesPerSecond: 2000 }],
  ['never-read-spread', { clients: 200, addresses: loopback(1, 200), reads: false, messagesPerSecond: 2000 }],
  ['lockout-stalled', { clients: 1000, addresses: ['127.0.0.1'], reads: false, messagesPerSecond: 20 }],
  ['lockout-readers', { clients: 1000, addresses: ['127.0.0.1'], reads: true, messagesPerSecond: 20 }],
  ['lockout-spread', { clients: 1000, addresses: loopback(1, 100), reads: false, messagesPerSecond: 20 }],
]);

/** What `npm run bench` runs: together about a minute, and kind to a machine others share. */
export const DEFAULT_SCENARIOS = ['never-read', 'never-read-spread', 'lockout-stalled'];

/** webSocketBroadcast's defaults, which the dashboard keeps. */
const MAX_CLIENTS = 1000;
const MAX_PER_ADDRESS = 16;
const MAX_TOTAL_BUFFERED_MIB = 64;
/** Per client: `maxBufferedBytes` (1 MiB) in its socket and as much again in its queue. */
const MAX_CLIENT_BUFFERED_MIB = 2;

export interface WsFloodReport {
  scenario: string;
  messagesPerSecond: number;
  attackers: { opened: number; admitted: number; refused: number; addresses: number; read: boolean };
  /** The server's established connections once the flood had run, before the pages came. */
  openAfterFlood: number;
  rssMiB: { base: number; peak: number; end: number };
  kernelSendQueuesMiB: { peak: number; fullestConnection: number; end: number; connectionsAtEnd: number; perConnectionLimit: number };
  /** Seconds until a real page had the feed, or undefined if it never had it in PAGE_PATIENCE_S. */
  pageSeconds: { from127_0_0_1: number | undefined; fromOtherAddress: number | undefined };
  feed: Stats & { produced: number };
}

async function run(name: string, scenario: Scenario): Promise<WsFloodReport> {
  const server = await startServer(scenario.messagesPerSecond);
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000)); // the feed running, no clients yet
    const baseMiB = server.rssMiB();
    let peakMiB = baseMiB;
    let peakKernelMiB = 0;
    let fullestMiB = 0;
    let samples = 0;
    const sampler = setInterval(() => {
      peakMiB = Math.max(peakMiB, server.rssMiB());
      if (samples++ % 5 !== 0) return;
      const queues = socketQueues(server.port);
      peakKernelMiB = Math.max(peakKernelMiB, queues.sendMiB);
      fullestMiB = Math.max(fullestMiB, queues.maxSendMiB);
    }, 50);
    const attack = await flood(server.port, scenario.clients, scenario.addresses, scenario.reads);
    await new Promise((resolve) => setTimeout(resolve, FLOOD_SECONDS * 1000));
    const openAfterFlood = socketQueues(server.port).established;
    const [fromSame, fromOther] = await Promise.all([page(server.port, '127.0.0.1', PAGE_PATIENCE_S), page(server.port, '127.0.200.1', PAGE_PATIENCE_S)]);
    clearInterval(sampler);
    const endMiB = server.rssMiB();
    const end = socketQueues(server.port);
    const { stats, produced } = await server.stats();
    attack.closeAll();
    return {
      scenario: name,
      messagesPerSecond: scenario.messagesPerSecond,
      attackers: { opened: scenario.clients, admitted: attack.admitted, refused: attack.refused, addresses: scenario.addresses.length, read: scenario.reads },
      openAfterFlood,
      rssMiB: { base: round1(baseMiB), peak: round1(peakMiB), end: round1(endMiB) },
      kernelSendQueuesMiB: {
        peak: round1(peakKernelMiB),
        fullestConnection: round1(fullestMiB),
        end: round1(end.sendMiB),
        connectionsAtEnd: end.established,
        perConnectionLimit: round1(kernelMaxSendMiB()),
      },
      pageSeconds: { from127_0_0_1: fromSame, fromOtherAddress: fromOther },
      feed: { produced, ...stats },
    };
  } finally {
    await server.stop();
  }
}

/** Each scenario's figures beside the limits they are held to. */
function figuresOf(r: WsFloodReport): FloodFigure[] {
  const { attackers: a, feed } = r;
  const flood = `ws ${r.scenario}: ${a.opened} clients that ${a.read ? 'read' : 'never read'}, from ${a.addresses} address${a.addresses === 1 ? '' : 'es'}`;
  const mayAdmit = Math.min(MAX_PER_ADDRESS * a.addresses, MAX_CLIENTS);
  const page = (s: number | undefined) => (s === undefined ? `not in ${PAGE_PATIENCE_S} s` : `in after ${s.toFixed(1)} s`);
  const k = r.kernelSendQueuesMiB;
  // Admitted clients that never read could hold more than the total allows only if some are closed.
  const overTotal = !a.read && a.admitted * MAX_CLIENT_BUFFERED_MIB > MAX_TOTAL_BUFFERED_MIB;
  return [
    {
      flood,
      figure: `admitted ${a.admitted}, refused ${a.refused}; ${r.openAfterFlood} open after ${FLOOD_SECONDS} s`,
      limit: `maxClients ${MAX_CLIENTS}, ${MAX_PER_ADDRESS} per address: ${mayAdmit} at most at once`,
      met: r.openAfterFlood <= mayAdmit,
    },
    {
      flood,
      figure: `server RSS peak ${r.rssMiB.peak} MiB, ${r.rssMiB.end} MiB at the end, vs ${r.rssMiB.base} MiB before the flood`,
      limit: `maxTotalBufferedBytes ${MAX_TOTAL_BUFFERED_MIB} MiB waiting over all clients`,
    },
    {
      flood,
      figure: `kernel send queues peak ${k.peak} MiB (fullest connection ${k.fullestConnection} MiB), ${k.end} MiB at the end on ${k.connectionsAtEnd} connections`,
      limit: `the kernel's own: ${k.perConnectionLimit} MiB a connection (tcp_wmem)`,
    },
    {
      flood,
      figure: `slow clients closed ${feed.slowClientsDisconnected}, made room ${feed.clientsEvicted}, messages dropped ${feed.messagesDropped} of ${feed.messagesSent + feed.messagesDropped}`,
      limit: `a client's oldest dropped past 1 MiB in its socket + 1 MiB queued; the furthest behind closed past ${MAX_TOTAL_BUFFERED_MIB} MiB in all`,
      met: overTotal ? feed.slowClientsDisconnected > 0 : undefined,
    },
    {
      flood,
      figure: `a real page from 127.0.0.1 ${page(r.pageSeconds.from127_0_0_1)}, from another address ${page(r.pageSeconds.fromOtherAddress)}`,
      // Healthy readers keep their slots: a page from their address is refused by design.
      limit: a.read ? `from another address within ${PAGE_PATIENCE_S} s (the readers are healthy)` : `both within ${PAGE_PATIENCE_S} s`,
      met: r.pageSeconds.fromOtherAddress !== undefined && (a.read || r.pageSeconds.from127_0_0_1 !== undefined),
    },
  ];
}

export interface WsFloods {
  reports: WsFloodReport[];
  figures: FloodFigure[];
}

/** The named scenarios in turn, each against a fresh server. */
export async function wsFloods(names: readonly string[] = DEFAULT_SCENARIOS, log: (message: string) => void = () => undefined): Promise<WsFloods> {
  const reports: WsFloodReport[] = [];
  for (const name of names) {
    const scenario = SCENARIOS.get(name);
    if (scenario === undefined) throw new Error(`unknown scenario ${name}; known: ${[...SCENARIOS.keys()].join(', ')}`);
    const r = await run(name, scenario);
    reports.push(r);
    log(`ws flood, ${name}: ${r.attackers.admitted} of ${r.attackers.opened} admitted; RSS ${r.rssMiB.base} -> peak ${r.rssMiB.peak} MiB; kernel send queues peak ${r.kernelSendQueuesMiB.peak} MiB`);
  }
  return { reports, figures: reports.flatMap(figuresOf) };
}

if (require.main === module) {
  const [mode, ...rest] = process.argv.slice(2);
  const done =
    mode === 'serve'
      ? serve(rest[0], Number(rest[1]))
      : wsFloods(process.argv.length > 2 ? process.argv.slice(2) : [...SCENARIOS.keys()], (m) => console.error(m)).then(({ reports, figures }) => {
          for (const r of reports) console.log(JSON.stringify({ build: BUILD, ...r }));
          for (const f of figures) console.log(`${f.flood}: ${f.figure} [${f.limit}]${f.met === undefined ? '' : f.met ? ' PASS' : ' FAIL'}`);
        });
  done.catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
