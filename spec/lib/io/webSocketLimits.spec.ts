import * as net from 'node:net';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Subject, Subscription } from 'rxjs';
import { WebSocket } from 'ws';
import { BroadcastSink, FlowGate, RivuletError, webSocketBroadcast, WebSocketBroadcastOptions, webSocketListen, WebSocketListenOptions } from 'rivulet';
import { pollUntil } from '../../support/net';
import { Collector, stalledWebSocketClient, virtualClock } from './tcpTestKit';

// The WebSocket endpoints under hostile clients, on real sockets on 127.0.0.1 at a small size:
// a spoofed Host (DNS rebinding), one address taking every slot, clients that never read, the
// bytes waiting for all clients together. Time, where it matters, is a virtual clock that moves
// when a test says so; every step waits for an event (a handshake, a close, a counter).

const subscriptions: Subscription[] = [];
const sockets: Array<net.Socket | WebSocket> = [];
afterEach(() => {
  subscriptions.splice(0).forEach((s) => s.unsubscribe());
  sockets.splice(0).forEach((s) => (s instanceof WebSocket ? s.terminate() : s.destroy()));
});

interface Served {
  port: number;
  source: Subject<string>;
  sink: BroadcastSink<string>;
  reports: Collector<RivuletError>;
}

function serve(options: WebSocketBroadcastOptions<string> = {}): Promise<Served> {
  const source = new Subject<string>();
  const reports = new Collector<RivuletError>();
  return new Promise((resolve) => {
    const sink: BroadcastSink<string> = webSocketBroadcast<string>({
      serialize: (s) => s,
      onClientError: reports.add,
      onListening: (a: AddressInfo) => resolve({ port: a.port, source, sink, reports }),
      ...options,
    });
    subscriptions.push(source.pipe(sink).subscribe());
  });
}

interface Client {
  ws: WebSocket;
  messages: string[];
  /** Resolves once `test` holds, checked as each message arrives. */
  when(test: (messages: string[]) => boolean): Promise<void>;
  closed: Promise<number>;
}

/** A client that reads everything (and answers pings, as `ws` does by itself). */
function client(port: number, options: { localAddress?: string; host?: string; origin?: string; path?: string } = {}): Promise<Client> {
  const headers = options.host === undefined ? undefined : { host: options.host };
  const ws = new WebSocket(`ws://127.0.0.1:${port}${options.path ?? '/'}`, { localAddress: options.localAddress, origin: options.origin, headers });
  sockets.push(ws);
  const received = new Collector<string>();
  ws.on('message', (data) => received.add(data.toString()));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const when = (test: (messages: string[]) => boolean) => received.when(() => test(received.values));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages: received.values, when, closed }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** A stalled client, cleaned up after the test. */
async function stalled(port: number, localAddress?: string): Promise<net.Socket> {
  const socket = await stalledWebSocketClient(port, localAddress);
  sockets.push(socket);
  return socket;
}

const big = (i: number, bytes: number): string => `${i}:`.padEnd(bytes, 'x');

describe('WebSocket endpoints: the Host check (DNS rebinding)', () => {
  it('refuses with 421 a Host that is not a name of the server, even with an Origin that matches it', async () => {
    const served = await serve();
    const { port } = served;
    // The rebinding attack: a page of evil.example, whose name now resolves to 127.0.0.1.
    await expect(client(port, { host: `evil.example:${port}`, origin: `http://evil.example:${port}` })).rejects.toThrow('refused with 421');
    await expect(client(port, { host: `evil.example@127.0.0.1:${port}` })).rejects.toThrow('refused with 421');
    await expect(client(port, { host: `127.0.0.1.evil.example:${port}` })).rejects.toThrow('refused with 421');
    expect(served.reports.values.map((e) => e.code)).toEqual(['ERR_HOST_NOT_ALLOWED', 'ERR_HOST_NOT_ALLOWED', 'ERR_HOST_NOT_ALLOWED']);
    expect(served.reports.values[0].message).toBe(`webSocketBroadcast: refused 127.0.0.1:${served.reports.values[0].message.match(/127\.0\.0\.1:(\d+)/)![1]}: Host "evil.example:${port}" is not a name of this server (see allowedHosts)`);
    expect(served.sink.stats).toMatchObject({ clients: 0, clientsRefused: 3, refusedHosts: 3, refusedOrigins: 0 });

    // The names of a loopback server, with and without the port, in any case.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST.:${port}`, `[::1]:${port}`, '127.0.0.1']) {
      const page = await client(port, { host, origin: `http://${host}` });
      page.ws.close();
      await page.closed;
    }
    expect(served.sink.stats.refusedHosts).toBe(3);
  });

  it('refuses a request without a Host header', async () => {
    const served = await serve();
    const socket = net.connect(served.port, '127.0.0.1');
    sockets.push(socket);
    let response = '';
    socket.on('data', (chunk) => (response += chunk.toString()));
    socket.write('GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await new Promise((resolve) => socket.once('close', resolve));
    expect(response).toMatch(/^HTTP\/1\.1 421 /);
    expect(served.reports.values[0].message).toContain('Host (none) is not a name of this server');
  });

  it('admits the names given in allowedHosts, with their Origin under the same-host rule', async () => {
    const served = await serve({ allowedHosts: ['Dash.Example.', '10.1.2.3'] });
    const { port } = served;
    await client(port, { host: `dash.example:${port}`, origin: `http://dash.example:${port}` });
    await client(port, { host: '10.1.2.3', origin: 'http://10.1.2.3' });
    await expect(client(port, { host: `dash.example.evil.example:${port}` })).rejects.toThrow('refused with 421');
    expect(served.sink.stats.clients).toBe(2); // counted before the handshake's answer is written
  });

  it("checks the Host on the caller's server as on its own", async () => {
    const http: Server = createServer((_req, res) => res.end('page'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = http.address() as AddressInfo;
      const reports = new Collector<RivuletError>();
      const listening = new Promise<void>((resolve) => {
        subscriptions.push(new Subject<string>().pipe(webSocketBroadcast({ server: http, path: '/feed', onClientError: reports.add, onListening: () => resolve() })).subscribe());
      });
      await listening;
      await expect(client(port, { path: '/feed', host: `evil.example:${port}`, origin: `http://evil.example:${port}` })).rejects.toThrow('refused with 421');
      await client(port, { path: '/feed', origin: `http://127.0.0.1:${port}` });
      expect(reports.values.map((e) => e.code)).toEqual(['ERR_HOST_NOT_ALLOWED']);
    } finally {
      subscriptions.splice(0).forEach((s) => s.unsubscribe());
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it('webSocketListen refuses a foreign Host too', async () => {
    const reports = new Collector<RivuletError>();
    const port = await new Promise<number>((resolve) => {
      subscriptions.push(webSocketListen({ onClientError: reports.add, onListening: (a) => resolve(a.port) }).subscribe());
    });
    await expect(client(port, { host: `evil.example:${port}`, origin: `http://evil.example:${port}` })).rejects.toThrow('refused with 421');
    expect(reports.values.map((e) => e.code)).toEqual(['ERR_HOST_NOT_ALLOWED']);
  });

  it.each([[['evil.example/x']], [['a b']], [['']], [['host:80']], [[42]], ['evil.example']])('rejects allowedHosts %p at creation', (allowedHosts) => {
    expect(() => webSocketBroadcast({ allowedHosts: allowedHosts as string[] })).toThrow(/webSocketBroadcast: allowedHosts/);
    expect(() => webSocketListen({ allowedHosts: allowedHosts as string[] })).toThrow(/webSocketListen: allowedHosts/);
  });
});

describe('WebSocket endpoints: one address cannot take every slot', () => {
  it('refuses clients past maxClientsPerAddress with 503, while a page from another address connects', async () => {
    // The lock-out at a small size: one address opens many clients that read and answer pings.
    const served = await serve({ maxClients: 6, maxClientsPerAddress: 3, heartbeatMs: 0 });
    const { port } = served;
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => client(port)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual(Array(5).fill('Error: refused with 503'));
    expect(served.reports.values).toHaveLength(5);
    expect(served.reports.values[0]).toMatchObject({
      code: 'ERR_CONNECTION',
      message: expect.stringMatching(/^webSocketBroadcast: refused 127\.0\.0\.1:\d+: maxClientsPerAddress 3 reached for 127\.0\.0\.1, and none of them is unresponsive, slow or idle$/),
    });

    const page = await client(port, { localAddress: '127.0.0.2' });
    served.source.next('to everyone');
    await page.when((m) => m.length === 1);
    expect(served.sink.stats).toMatchObject({ clients: 4, clientsRefused: 5, clientsEvicted: 0 });
  });

  it('closes an unresponsive client of the same address (a ping unanswered for a heartbeat) to let a real page in', async () => {
    const { scheduler, advance } = virtualClock();
    const served = await serve({ maxClientsPerAddress: 2, heartbeatMs: 1000, scheduler });
    const { port } = served;
    const first = await stalled(port);
    const firstReset = new Promise((resolve) => first.once('error', resolve));
    const second = await stalled(port);
    expect(served.sink.stats.clients).toBe(2);
    await expect(client(port)).rejects.toThrow('refused with 503'); // not yet known to be unresponsive
    advance(1000); // pinged
    advance(1000); // not answered

    const page = await client(port);
    const madeRoom = (victim: net.Socket) =>
      new RegExp(`^webSocketBroadcast: closed 127\\.0\\.0\\.1:${victim.localPort} to make room for 127\\.0\\.0\\.1:\\d+ \\(maxClientsPerAddress 2 reached for 127\\.0\\.0\\.1\\): it left a ping unanswered for \\d+ ms$`);
    expect(served.reports.values.map((e) => e.code)).toEqual(['ERR_CONNECTION', 'ERR_CONNECTION']);
    expect(served.reports.values[1].message).toMatch(madeRoom(first));
    expect(served.sink.stats).toMatchObject({ clientsEvicted: 1 });
    advance(1000); // it reads no close either: cut off after the grace. The page is pinged now.
    await pollUntil(() => served.sink.stats.clients === 2, "the server's side of the cut-off");
    // With a reset: the kernel drops what it never read instead of trying to deliver it.
    expect(await firstReset).toMatchObject({ code: 'ECONNRESET' });

    // The page has had no time to answer yet, but only a late answer counts against a client.
    await client(port);
    expect(served.reports.values[2].message).toMatch(madeRoom(second));
    served.source.next('still served');
    await page.when((m) => m.length === 1);
    expect(served.sink.stats).toMatchObject({ clientsEvicted: 2, clientsRefused: 1 });
  });

  it('at maxClients, a newcomer from another address takes the slot of the slowest client', async () => {
    const served = await serve({ maxClients: 3, maxClientsPerAddress: 3, heartbeatMs: 0, slowClient: { policy: 'drop-oldest', maxBufferedBytes: 64 * 1024 } });
    const { port } = served;
    await stalled(port);
    const readers = [await client(port), await client(port)];
    expect(served.sink.stats.clients).toBe(3);
    // The stalled client falls behind once the kernel buffers of its connection are full.
    for (let i = 0; served.sink.stats.messagesDropped === 0; i++) {
      served.source.next(big(i, 64 * 1024));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const page = await client(port, { localAddress: '127.0.0.2' });
    expect(served.sink.stats.clientsEvicted).toBe(1);
    expect(served.reports.values.map((e) => e.message)).toEqual([
      expect.stringMatching(/^webSocketBroadcast: closed 127\.0\.0\.1:\d+ to make room for 127\.0\.0\.2:\d+ \(maxClients 3 reached\): it had \d+ bytes waiting behind a full socket$/),
    ]);
    served.source.next('after');
    await Promise.all([page, ...readers].map((c) => c.when((m) => m.at(-1) === 'after')));
    expect(page.messages).toEqual(['after']);
  });

  it('webSocketListen: an idle client (no message for evictIdleAfterMs) makes room; never while the gate is paused', async () => {
    const { scheduler, advance } = virtualClock();
    const gate = new FlowGate();
    const holder = {};
    const received = new Collector<string>();
    const reports = new Collector<RivuletError>();
    const options: WebSocketListenOptions = { maxClientsPerAddress: 2, heartbeatMs: 0, evictIdleAfterMs: 1000, scheduler, gate, onClientError: reports.add };
    const port = await new Promise<number>((resolve) => {
      subscriptions.push(webSocketListen({ ...options, onListening: (a) => resolve(a.port) }).subscribe(received.add));
    });
    const talker = await client(port);
    const quiet = await client(port);
    advance(1500);
    talker.ws.send('hello');
    await received.until(1);

    const newcomer = await client(port);
    expect(await quiet.closed).toBe(1013);
    expect(reports.values.map((e) => e.message)).toEqual([
      expect.stringMatching(/^webSocketListen: closed 127\.0\.0\.1:\d+ to make room for 127\.0\.0\.1:\d+ \(maxClientsPerAddress 2 reached for 127\.0\.0\.1\): it had sent nothing for 1500 ms$/),
    ]);
    // Neither has been quiet for long enough now.
    await expect(client(port)).rejects.toThrow('refused with 503');
    // While we do not read, no one can be told apart by their silence.
    gate.pause(holder);
    advance(5000);
    await expect(client(port)).rejects.toThrow('refused with 503');
    gate.resume(holder);
    newcomer.ws.send('me too');
    await received.until(2);
    expect(received.values).toEqual(['hello', 'me too']);
    expect(reports.values.map((e) => e.message.replace(/:\d+/g, ':P'))).toEqual([
      expect.stringContaining('to make room'),
      'webSocketListen: refused 127.0.0.1:P: maxClientsPerAddress 2 reached for 127.0.0.1, and none of them is unresponsive, slow or idle',
      'webSocketListen: refused 127.0.0.1:P: maxClientsPerAddress 2 reached for 127.0.0.1, and none of them is unresponsive, slow or idle',
    ]);
  });

  it('stops pinging on unsubscribe: no timer is left on the clock', async () => {
    const { scheduler, advance } = virtualClock();
    const served = await serve({ heartbeatMs: 1000, scheduler });
    const reader = await client(served.port);
    advance(1000);
    expect(scheduler.actions.length).toBeGreaterThan(0);
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    expect(await reader.closed).toBe(1001);
    await pollUntil(() => served.sink.stats.clients === 0, "the server's side of the close");
    expect(scheduler.actions).toEqual([]);
  });

  it('rejects bad limits at creation', () => {
    expect(() => webSocketBroadcast({ maxClientsPerAddress: 0 })).toThrow('webSocketBroadcast: maxClientsPerAddress must be an integer >= 1');
    expect(() => webSocketBroadcast({ heartbeatMs: -1 })).toThrow('webSocketBroadcast: heartbeatMs must be an integer >= 0');
    expect(() => webSocketBroadcast({ maxTotalBufferedBytes: 0 })).toThrow('webSocketBroadcast: maxTotalBufferedBytes must be an integer >= 1');
    expect(() => webSocketListen({ evictIdleAfterMs: 1.5 })).toThrow('webSocketListen: evictIdleAfterMs must be an integer >= 0');
  });
});

describe('webSocketBroadcast: the bytes waiting for all clients together', () => {
  it('past maxTotalBufferedBytes, closes the clients that are behind with 1013 and reports them, while a fast client gets everything', async () => {
    const served = await serve({ maxTotalBufferedBytes: 256 * 1024, slowClient: { policy: 'drop-oldest', maxBufferedBytes: 128 * 1024 }, heartbeatMs: 0 });
    const { port } = served;
    // Clients that stop reading: alone, each would only have its oldest messages dropped.
    const slow = [await client(port), await client(port), await client(port)];
    const fast = await client(port);
    expect(served.sink.stats.clients).toBe(4);
    slow.forEach((c) => c.ws.pause());

    let sent = 0;
    while (served.sink.stats.slowClientsDisconnected < 3) {
      served.source.next(big(sent++, 64 * 1024));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(served.reports.values.map((e) => e.code)).toEqual(['ERR_SLOW_CONSUMER', 'ERR_SLOW_CONSUMER', 'ERR_SLOW_CONSUMER']);
    for (const report of served.reports.values) {
      expect(report.message).toMatch(/^webSocketBroadcast: disconnected 127\.0\.0\.1:\d+: \d+ bytes waiting, the most of any client, while all clients together had \d+ waiting, above maxTotalBufferedBytes 262144$/);
    }
    const peers = served.reports.values.map((e) => e.message.match(/disconnected (\S+):/)![1]);
    expect(new Set(peers).size).toBe(3);

    slow.forEach((c) => c.ws.resume()); // read the rest, down to the close
    expect(await Promise.all(slow.map((c) => c.closed))).toEqual([1013, 1013, 1013]);
    served.source.next('last');
    await fast.when((m) => m.length === sent + 1);
    expect(fast.messages.slice(0, sent).map((m) => Number(m.split(':')[0]))).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(served.sink.stats).toMatchObject({ clients: 1, slowClientsDisconnected: 3 });
  });
});
