import { createServer, get, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Observable, Subject, Subscription } from 'rxjs';
import { WebSocket } from 'ws';
import { BroadcastSink, FlowGate, RivuletError, webSocketBroadcast, WebSocketBroadcastOptions, webSocketListen } from 'rivulet';
import { pollUntil, socketPollProbe } from '../../support/net';
import { Collector, stalledWebSocketClient } from './tcpTestKit';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

interface Running {
  port: number;
  done: Promise<void>;
  subscription: Subscription;
}

/** Subscribes a sink or source that listens, resolving once it accepts connections. */
function start(make: (onListening: (a: AddressInfo) => void) => Observable<unknown>): Promise<Running> {
  return new Promise((resolve, reject) => {
    let subscription!: Subscription;
    let settle!: { resolve: () => void; reject: (e: unknown) => void };
    const done = new Promise<void>((res, rej) => (settle = { resolve: res, reject: rej }));
    done.catch(() => undefined);
    subscription = make((address) => resolve({ port: address.port, done, subscription })).subscribe({
      error: (err) => {
        settle.reject(err);
        reject(err);
      },
      complete: () => settle.resolve(),
    });
  });
}

function startBroadcast<T>(source: Observable<T>, options: WebSocketBroadcastOptions<T>, sink?: BroadcastSink<T>) {
  return start((onListening) => source.pipe(sink ?? webSocketBroadcast({ ...options, onListening })));
}

interface TestClient {
  ws: WebSocket;
  messages: string[];
  /** Resolves once `count` messages have arrived. */
  until(count: number): Promise<string[]>;
  closed: Promise<{ code: number; reason: string }>;
}

function client(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<TestClient> {
  const ws = new WebSocket(url, options);
  const received = new Collector<string>();
  ws.on('message', (data) => received.add(data.toString()));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages: received.values, until: (count) => received.until(count), closed }));
    ws.once('error', reject);
  });
}

/** Emits `count` values of `bytes` characters, one per macrotask, as a live feed would. */
async function feed(subject: Subject<string>, count: number, bytes: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    subject.next(`${i}:`.padEnd(bytes, 'x'));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('webSocketBroadcast', () => {
  it('sends every value as JSON to every client, then closes them with 1000 and stops listening', async () => {
    const source = new Subject<{ n: number; name: string }>();
    const server = await startBroadcast(source, {});
    const url = `ws://127.0.0.1:${server.port}`;
    const clients = await Promise.all([client(url), client(url), client(url)]);
    const values = [
      { n: 1, name: '__proto__' },
      { n: 2, name: 'b' },
      { n: 3, name: 'ü' },
    ];
    values.forEach((v) => source.next(v));
    source.complete();
    await server.done;
    for (const c of clients) {
      expect((await c.closed).code).toBe(1000);
      expect(c.messages.map((m) => JSON.parse(m))).toEqual(values);
    }
    await expect(client(url)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('uses a custom serializer and counts clients and messages in stats', async () => {
    const source = new Subject<number>();
    const sink = webSocketBroadcast<number>({ serialize: (n) => `n=${n}`, onListening: (a) => port.resolve(a.port) });
    const port = deferred<number>();
    const subscription = source.pipe(sink).subscribe();
    const url = `ws://127.0.0.1:${await port.promise}`;
    const [a, b] = await Promise.all([client(url), client(url)]);
    expect(sink.stats.clients).toBe(2); // counted before the handshake's answer is written
    source.next(1);
    source.next(2);
    await Promise.all([a.until(2), b.until(2)]);
    expect(a.messages).toEqual(['n=1', 'n=2']);
    expect(sink.stats).toMatchObject({ clients: 2, messagesSent: 4, messagesDropped: 0 });
    a.ws.close();
    await pollUntil(() => sink.stats.clients === 1, "the server's side of the close");
    subscription.unsubscribe();
    expect((await b.closed).code).toBe(1001);
  });

  it('refuses a disallowed origin with 403 during the handshake while an allowed one works', async () => {
    const source = new Subject<string>();
    const reported: RivuletError[] = [];
    const sink = webSocketBroadcast<string>({
      allowedOrigins: ['http://127.0.0.1:8080'],
      onClientError: (e) => reported.push(e),
      onListening: (a) => port.resolve(a.port),
    });
    const port = deferred<number>();
    const subscription = source.pipe(sink).subscribe();
    const url = `ws://127.0.0.1:${await port.promise}`;

    const refused = new WebSocket(url, { origin: 'http://evil.example' });
    const status = await new Promise<number>((resolve) => refused.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    refused.on('error', () => undefined);
    refused.terminate();
    expect(status).toBe(403);
    expect(reported.map((e) => e.code)).toEqual(['ERR_ORIGIN_NOT_ALLOWED']);
    expect(reported[0].message).toContain('http://evil.example');

    const allowed = await client(url, { origin: 'http://127.0.0.1:8080' });
    const noOrigin = await client(url); // not a browser: allowed unless requireOrigin
    source.next('hello');
    await Promise.all([allowed.until(1), noOrigin.until(1)]);
    expect(sink.stats.clientsRefused).toBe(1);
    subscription.unsubscribe();
  });

  it('refuses a client without Origin when requireOrigin is set', async () => {
    const server = await startBroadcast(new Subject<string>(), { requireOrigin: true });
    await expect(client(`ws://127.0.0.1:${server.port}`)).rejects.toThrow(/403/);
    await client(`ws://127.0.0.1:${server.port}`, { origin: `http://127.0.0.1:${server.port}` });
    server.subscription.unsubscribe();
  });

  it('admits by default only pages served from the host the client asked for', async () => {
    const reported: RivuletError[] = [];
    const server = await startBroadcast(new Subject<string>(), { onClientError: (e) => reported.push(e) });
    const url = `ws://127.0.0.1:${server.port}`;
    await client(url, { origin: `http://127.0.0.1:${server.port}` });
    await client(`ws://localhost:${server.port}`, { origin: `http://localhost:${server.port}` });
    await client(url); // no Origin: not a browser
    await expect(client(url, { origin: 'https://evil.example' })).rejects.toThrow(/403/);
    await expect(client(url, { origin: `http://127.0.0.1:${server.port + 1}` })).rejects.toThrow(/403/);
    expect(reported.map((e) => e.code)).toEqual(['ERR_ORIGIN_NOT_ALLOWED', 'ERR_ORIGIN_NOT_ALLOWED']);
    server.subscription.unsubscribe();
  });

  it("admits any page with allowedOrigins '*'", async () => {
    const server = await startBroadcast(new Subject<string>(), { allowedOrigins: '*' });
    await client(`ws://127.0.0.1:${server.port}`, { origin: 'https://elsewhere.example' });
    server.subscription.unsubscribe();
  });

  it('fails the stream with ERR_CALLBACK_FAILED when onClientError throws, instead of crashing', async () => {
    const source = new Subject<string>();
    const server = await startBroadcast(source, {
      allowedOrigins: ['http://ok.example'],
      onClientError: () => {
        throw new Error('boom');
      },
    });
    await expect(client(`ws://127.0.0.1:${server.port}`, { origin: 'https://evil.example' })).rejects.toThrow(/403/);
    await expect(server.done).rejects.toMatchObject({ code: 'ERR_CALLBACK_FAILED', message: expect.stringContaining('onClientError') });
  });

  it('closes a client sending more than maxPayloadBytes with 1009 and keeps serving the others', async () => {
    const source = new Subject<string>();
    const reported: RivuletError[] = [];
    const server = await startBroadcast(source, { maxPayloadBytes: 100, onClientError: (e) => reported.push(e) });
    const url = `ws://127.0.0.1:${server.port}`;
    const [rude, polite] = await Promise.all([client(url), client(url)]);
    rude.ws.on('error', () => undefined);
    rude.ws.send('x'.repeat(101));
    expect((await rude.closed).code).toBe(1009);
    source.next('still here');
    await polite.until(1);
    expect(reported.map((e) => e.code)).toEqual(['ERR_FRAME_TOO_LARGE']);
    server.subscription.unsubscribe();
  });

  it("drops a stalled client's oldest messages and counts them, while a fast client gets everything", async () => {
    const source = new Subject<string>();
    const sink = webSocketBroadcast<string>({
      serialize: (s) => s,
      slowClient: { policy: 'drop-oldest', maxBufferedBytes: 256 * 1024 },
      closeTimeoutMs: 100,
      onListening: (a) => port.resolve(a.port),
    });
    const port = deferred<number>();
    const completed = new Promise<void>((resolve) => source.pipe(sink).subscribe({ complete: resolve }));
    const url = `ws://127.0.0.1:${await port.promise}`;
    const stalled = await stalledWebSocketClient(await port.promise);
    const fast = await client(url);
    expect(sink.stats.clients).toBe(2);

    // 400 x 64 KiB = 25 MiB: far more than the kernel buffers of a loopback connection.
    await feed(source, 400, 64 * 1024);
    expect(sink.stats.messagesDropped).toBeGreaterThan(100);
    source.complete();
    await completed;
    expect(fast.messages).toHaveLength(400);
    expect(fast.messages.map((m) => Number(m.split(':')[0]))).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect((await fast.closed).code).toBe(1000);
    stalled.destroy();
  });

  it('disconnects a stalled client under the disconnect policy, while a fast client gets everything', async () => {
    const source = new Subject<string>();
    const reported = new Collector<RivuletError>();
    const sink = webSocketBroadcast<string>({
      serialize: (s) => s,
      slowClient: { policy: 'disconnect', maxBufferedBytes: 256 * 1024 },
      onClientError: reported.add,
      onListening: (a) => port.resolve(a.port),
    });
    const port = deferred<number>();
    const subscription = source.pipe(sink).subscribe();
    const stalled = await stalledWebSocketClient(await port.promise);
    const stalledClosed = new Promise<void>((resolve) => stalled.on('close', () => resolve()));
    const fast = await client(`ws://127.0.0.1:${await port.promise}`);
    expect(sink.stats.clients).toBe(2);

    await feed(source, 400, 64 * 1024);
    await reported.until(1);
    expect(reported.values.map((e) => e.code)).toEqual(['ERR_SLOW_CONSUMER']);
    expect(sink.stats.slowClientsDisconnected).toBe(1);
    stalled.resume(); // read what is left, up to the end of the connection
    await stalledClosed;
    await fast.until(400);
    await pollUntil(() => sink.stats.clients === 1, "the server's side of the stalled client's close");
    expect(sink.stats.messagesDropped).toBe(0);
    subscription.unsubscribe();
  });

  it('sends the last replayLatest values to a client that connects mid-stream, then live values', async () => {
    const source = new Subject<string>();
    const server = await startBroadcast(source, { replayLatest: 2 });
    const url = `ws://127.0.0.1:${server.port}`;
    const early = await client(url);
    ['a', 'b', 'c'].forEach((v) => source.next(v));
    const late = await client(url);
    await late.until(2);
    source.next('d');
    await Promise.all([late.until(3), early.until(4)]);
    expect(late.messages.map((m) => JSON.parse(m))).toEqual(['b', 'c', 'd']);
    expect(early.messages.map((m) => JSON.parse(m))).toEqual(['a', 'b', 'c', 'd']);
    server.subscription.unsubscribe();
  });

  it('sends the snapshot to a new client, and keeps serving after completion when closeOnComplete is false', async () => {
    // The latest leaderboard of every partition: what a dashboard page needs on arrival.
    const latest = new Map<number, { partition: number; leaders: string[] }>();
    const source = new Subject<{ partition: number; leaders: string[] }>();
    const tracked = new Observable<{ partition: number; leaders: string[] }>((subscriber) =>
      source.subscribe({
        next: (v) => {
          latest.set(v.partition, v);
          subscriber.next(v);
        },
        complete: () => subscriber.complete(),
      }),
    );
    const server = await startBroadcast(tracked, { snapshot: () => [...latest.values()], closeOnComplete: false });
    const url = `ws://127.0.0.1:${server.port}`;
    source.next({ partition: 0, leaders: ['x'] });
    source.next({ partition: 1, leaders: ['y'] });
    source.next({ partition: 0, leaders: ['z', 'x'] });
    source.complete();
    let completed = false;
    server.done.then(() => (completed = true));
    const late = await client(url);
    await late.until(2);
    expect(late.messages.map((m) => JSON.parse(m))).toEqual([
      { partition: 0, leaders: ['z', 'x'] },
      { partition: 1, leaders: ['y'] },
    ]);
    // A sink that completed, after the source or after serving the late client, would close the
    // clients that come after: one that connects now is served its snapshot like the first.
    const later = await client(url);
    await Promise.race([later.until(2), later.closed]);
    expect(later.messages).toEqual(late.messages);
    expect(completed).toBe(false);
    server.subscription.unsubscribe();
    expect((await late.closed).code).toBe(1001);
    expect((await later.closed).code).toBe(1001);
  });

  it("attaches to the caller's http.Server on a path, and leaves the server running on unsubscribe", async () => {
    const http: Server = createServer((_req, res) => res.end('<html>dashboard</html>'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as AddressInfo).port;
    const source = new Subject<string>();
    const listening = deferred<AddressInfo>();
    const subscription = source.pipe(webSocketBroadcast<string>({ server: http, path: '/feed', onListening: listening.resolve })).subscribe();
    expect((await listening.promise).port).toBe(port);

    const page = await new Promise<string>((resolve) => get(`http://127.0.0.1:${port}/`, (res) => res.on('data', (d) => resolve(d.toString()))));
    expect(page).toContain('dashboard');
    const feedClient = await client(`ws://127.0.0.1:${port}/feed`);
    await expect(client(`ws://127.0.0.1:${port}/other`)).rejects.toThrow(/400/);
    source.next('on one port');
    await feedClient.until(1);

    subscription.unsubscribe();
    expect((await feedClient.closed).code).toBe(1001);
    expect(http.listening).toBe(true);
    // Upgrades are the server's own business again (this one answers them with its page).
    await expect(client(`ws://127.0.0.1:${port}/feed`)).rejects.toThrow(/Unexpected server response: 200/);
    await new Promise((resolve) => http.close(resolve));
  });

  it('closes clients with 1011 and errors when the source errors; errors with ERR_CONNECTION on a taken port', async () => {
    const source = new Subject<string>();
    const server = await startBroadcast(source, {});
    const c = await client(`ws://127.0.0.1:${server.port}`);
    source.error(new Error('upstream failed'));
    await expect(server.done).rejects.toThrow('upstream failed');
    expect((await c.closed).code).toBe(1011);

    const blocker = await startBroadcast(new Subject<string>(), {});
    const error = (await start((onListening) => new Subject<string>().pipe(webSocketBroadcast({ port: blocker.port, onListening }))).catch((e: unknown) => e)) as RivuletError;
    expect(error.code).toBe('ERR_CONNECTION');
    expect(error.message).toContain(`127.0.0.1:${blocker.port}`);
    blocker.subscription.unsubscribe();
  });

  it('rejects bad options at creation', () => {
    expect(() => webSocketBroadcast({ port: -1 })).toThrow('webSocketBroadcast: port must be an integer 0..65535');
    expect(() => webSocketBroadcast({ slowClient: { policy: 'ignore' as never } })).toThrow('slowClient.policy');
    expect(() => webSocketBroadcast({ replayLatest: 1.5 })).toThrow('replayLatest');
    expect(() => webSocketBroadcast({ path: 'feed' })).toThrow("path must start with '/'");
    expect(() => webSocketBroadcast({ allowedOrigins: 'http://x' as never })).toThrow('allowedOrigins');
  });
});

describe('webSocketListen', () => {
  it('emits the text messages of every client; one client leaving does not end the stream', async () => {
    const received = new Collector<string>();
    const listening = deferred<AddressInfo>();
    const subscription = webSocketListen({ onListening: listening.resolve }).subscribe(received.add);
    const url = `ws://127.0.0.1:${(await listening.promise).port}`;
    const [a, b] = await Promise.all([client(url), client(url)]);
    a.ws.send('from a');
    await received.until(1);
    b.ws.send('from b');
    await received.until(2);
    a.ws.close(1000);
    await a.closed;
    b.ws.send('b again');
    expect(await received.until(3)).toEqual(['from a', 'from b', 'b again']);
    subscription.unsubscribe();
    expect((await b.closed).code).toBe(1001);
    await expect(client(url)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('closes only the client that exceeds maxPayloadBytes or sends binary', async () => {
    const received = new Collector<string>();
    const reported: string[] = [];
    const listening = deferred<AddressInfo>();
    const subscription = webSocketListen({ maxPayloadBytes: 64, onListening: listening.resolve, onClientError: (e) => reported.push(e.code) }).subscribe(received.add);
    const url = `ws://127.0.0.1:${(await listening.promise).port}`;
    const [big, binary, fine] = await Promise.all([client(url), client(url), client(url)]);
    big.ws.on('error', () => undefined);
    big.ws.send('x'.repeat(65));
    binary.ws.send(Buffer.from([1, 2, 3]));
    expect((await big.closed).code).toBe(1009);
    expect((await binary.closed).code).toBe(1003);
    fine.ws.send('y'.repeat(64));
    expect(await received.until(1)).toEqual(['y'.repeat(64)]);
    expect(reported.sort()).toEqual(['ERR_FRAME_TOO_LARGE', 'ERR_INVALID_VALUE']);
    subscription.unsubscribe();
  });

  it('stops reading clients while the gate is paused', async () => {
    const gate = new FlowGate();
    const holder = {};
    const received = new Collector<string>();
    const listening = deferred<AddressInfo>();
    const subscription = webSocketListen({ gate, onListening: listening.resolve }).subscribe(received.add);
    const probe = await socketPollProbe();
    try {
      const c = await client(`ws://127.0.0.1:${(await listening.promise).port}`);
      c.ws.send('1');
      await received.until(1);
      gate.pause(holder);
      await new Promise((resolve) => c.ws.send('2', resolve));
      // '2' waits at the server's socket; a server that kept reading would have emitted it by now.
      await probe.pollPassed();
      expect(received.values).toEqual(['1']);
      gate.resume(holder);
      expect(await received.until(2)).toEqual(['1', '2']);
    } finally {
      subscription.unsubscribe();
      probe.destroy();
    }
  });
});
