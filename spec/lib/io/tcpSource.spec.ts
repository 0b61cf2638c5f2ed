import { once } from 'node:events';
import * as net from 'node:net';
import { Subscription, tap } from 'rxjs';
import { FlowGate, PeerFrame, RivuletError, TcpListenOptions, newlineDelimited, tcpConnect, tcpListen } from 'rivulet';
import { Collector, closeAll, closed, connectTo, frame, frameListener, freePort, track } from './tcpTestKit';

interface Listening<T> {
  port: number;
  frames: Collector<T>;
  errors: Collector<{ error: RivuletError; peer: string }>;
  subscription: Subscription;
  failure: Promise<unknown>;
}

const subscriptions: Subscription[] = [];
afterEach(() => {
  subscriptions.splice(0).forEach((s) => s.unsubscribe());
  closeAll();
});

/** Subscribes to tcpListen on a free port and resolves once it listens. */
async function listen(options: Partial<TcpListenOptions>): Promise<Listening<unknown>> {
  const frames = new Collector<unknown>();
  const errors = new Collector<{ error: RivuletError; peer: string }>();
  let reject: (e: unknown) => void = () => undefined;
  const failure = new Promise((_, r) => (reject = r));
  failure.catch(() => undefined);
  const port = await new Promise<number>((resolve, rejectListen) => {
    const subscription = tcpListen({
      port: 0,
      onListening: (address) => resolve(address.port),
      onConnectionError: (error, peer) => errors.add({ error, peer }),
      ...options,
    }).subscribe({
      next: frames.add,
      error: (e) => {
        reject(e);
        rejectListen(e);
      },
    });
    subscriptions.push(subscription);
  });
  return { port, frames, errors, subscription: subscriptions[subscriptions.length - 1], failure };
}

const peerOf = (socket: net.Socket) => `127.0.0.1:${socket.localPort}`;

describe('tcpListen', () => {
  it('merges the frames of concurrent connections, keeping each connection in order, tagged by peer', async () => {
    const { port, frames } = await listen({ tagPeer: true });
    const clients = await Promise.all([connectTo(port), connectTo(port), connectTo(port)]);
    const perClient = 200;
    for (let i = 0; i < perClient; i++) {
      // Interleave the writes and split frames across writes.
      clients.forEach((client, c) => {
        const bytes = frame(`c${c}-${i}`);
        client.write(bytes.subarray(0, 3));
        client.write(bytes.subarray(3));
      });
    }
    const got = (await frames.until(3 * perClient)) as PeerFrame<string>[];
    clients.forEach((client, c) => {
      const mine = got.filter((f) => f.peer === peerOf(client)).map((f) => f.data);
      expect(mine).toEqual(Array.from({ length: perClient }, (_, i) => `c${c}-${i}`));
    });
    clients.forEach((c) => c.destroy());
  });

  it('emits raw Buffers when asked, and newline-delimited text with that framing', async () => {
    const raw = await listen({ raw: true });
    const a = await connectTo(raw.port);
    a.write(Buffer.concat([frame(Buffer.from([0xff, 0x00])), frame('x')]));
    expect(await raw.frames.until(2)).toEqual([Buffer.from([0xff, 0x00]), Buffer.from('x')]);
    const lines = await listen({ framing: newlineDelimited() });
    const b = await connectTo(lines.port);
    b.end('one\r\ntwo\nthree');
    expect(await lines.frames.until(3)).toEqual(['one', 'two', 'three']);
    a.destroy();
  });

  it.each([
    ['an oversized frame', 'ERR_FRAME_TOO_LARGE', (s: net.Socket) => s.write(Buffer.from([0, 0x10, 0, 1]))],
    ['a frame truncated by a disconnect', 'ERR_FRAME_TRUNCATED', (s: net.Socket) => s.end(frame('truncated').subarray(0, 8))],
    ['invalid UTF-8', 'ERR_INVALID_UTF8', (s: net.Socket) => s.write(frame(Buffer.from([0xc3, 0x28])))],
    ['a socket reset', 'ERR_CONNECTION', (s: net.Socket) => s.resetAndDestroy()],
  ])('ends only the connection that sent %s, naming the peer, after emitting its earlier frames', async (_, code, misbehave) => {
    const { port, frames, errors } = await listen({});
    const bad = await connectTo(port);
    const good = await connectTo(port);
    bad.write(frame('before'));
    good.write(frame('good 1'));
    await frames.until(2);
    const badPeer = peerOf(bad);
    misbehave(bad);
    const [{ error, peer }] = await errors.until(1);
    expect(error.code).toBe(code);
    expect(peer).toBe(badPeer);
    if (code !== 'ERR_CONNECTION') expect(error.message).toContain(`from ${badPeer}`);
    else expect(error.message).toContain(`connection from ${badPeer} failed`);
    await closed(bad);
    good.write(frame('good 2'));
    expect(await frames.until(3)).toEqual(['before', 'good 1', 'good 2']);
    good.destroy();
  });

  it('delivers a flood of 200k 1-byte frames written in a few writes, all in order', async () => {
    const { port, frames } = await listen({ raw: true });
    const count = 200_000;
    const wire = Buffer.alloc(count * 5);
    for (let i = 0; i < count; i++) {
      wire.writeUInt32BE(1, i * 5);
      wire[i * 5 + 4] = i % 251;
    }
    const client = await connectTo(port);
    for (let offset = 0; offset < wire.length; offset += 250_000) client.write(wire.subarray(offset, offset + 250_000));
    const got = (await frames.until(count)) as Buffer[];
    expect(got.length).toBe(count);
    expect(got.every((b, i) => b.length === 1 && b[0] === i % 251)).toBe(true);
    client.destroy();
  });

  it('lets an idle client block no one, and closes it after idleTimeoutMs', async () => {
    const { port, frames, errors } = await listen({ idleTimeoutMs: 150 });
    const idle = await connectTo(port);
    const busy = await connectTo(port);
    busy.write(frame('busy'));
    expect(await frames.until(1)).toEqual(['busy']);
    const [{ error, peer }] = await errors.until(1);
    expect(peer).toBe(peerOf(idle));
    expect(error).toMatchObject({ code: 'ERR_CONNECTION' });
    expect(error.message).toMatch(/completed no frame in 150 ms \(idleTimeoutMs\)/);
    await closed(idle);
    busy.destroy();
  });

  it('refuses connections above maxConnections with a reset, and reports them', async () => {
    const { port, frames, errors } = await listen({ maxConnections: 1 });
    const first = await connectTo(port);
    first.write(frame('first'));
    await frames.until(1);
    const second = net.connect({ host: '127.0.0.1', port });
    track(second);
    const [reset] = (await once(second, 'error')) as NodeJS.ErrnoException[];
    expect(reset.code).toBe('ECONNRESET');
    const [{ error, peer }] = await errors.until(1);
    // The refused socket is gone before it could learn its own port: the peer is another one than the first.
    expect(peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(peer).not.toBe(peerOf(first));
    expect(error.message).toMatch(/^refused a connection from 127\.0\.0\.1:\d+: maxConnections 1 reached$/);
    await closed(second);
    first.write(frame('still here'));
    expect(await frames.until(2)).toEqual(['first', 'still here']);
    first.destroy();
  });

  it('writes one line naming the peer to stderr when no onConnectionError is given', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((line) => (lines.push(String(line)), true));
    try {
      const { port } = await listen({ onConnectionError: undefined });
      const bad = await connectTo(port);
      const badPeer = peerOf(bad);
      bad.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
      await closed(bad);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^rivulet: tcpListen 127\\.0\\.0\\.1:${port}: .*from ${badPeer} declares 4294967295 bytes`));
    } finally {
      spy.mockRestore();
    }
  });

  it('closes the server and every connection on unsubscribe', async () => {
    const { port, subscription } = await listen({});
    const client = await connectTo(port);
    subscription.unsubscribe();
    await closed(client);
    const retry = net.connect({ host: '127.0.0.1', port });
    track(retry);
    const [error] = (await once(retry, 'error')) as NodeJS.ErrnoException[];
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('errors with ERR_CONNECTION when the port is taken, and with ERR_CALLBACK_FAILED when onListening throws', async () => {
    const { port } = await listen({});
    await expect(listen({ port })).rejects.toMatchObject({ code: 'ERR_CONNECTION', message: expect.stringMatching(/EADDRINUSE/) });
    await expect(
      new Promise((_, reject) =>
        subscriptions.push(
          tcpListen({ port: 0, onListening: () => { throw new Error('nope'); } }).subscribe({ error: reject }),
        ),
      ),
    ).rejects.toMatchObject({ code: 'ERR_CALLBACK_FAILED', message: 'tcpListen: onListening threw: nope' });
  });

  it('rejects bad options at creation', () => {
    expect(() => tcpListen({ port: 70_000 })).toThrow(/port must be an integer/);
    expect(() => tcpListen({ port: 0, maxConnections: 0 })).toThrow(/maxConnections/);
    expect(() => tcpListen({ port: 0, idleTimeoutMs: -1 })).toThrow(/idleTimeoutMs/);
  });

  it('stops reading while the gate is paused and goes on when it resumes', async () => {
    const gate = new FlowGate();
    const holder = {};
    const { port, frames } = await listen({ gate });
    const client = await connectTo(port);
    client.setNoDelay(true);
    client.write(frame('first'));
    await frames.until(1);
    gate.pause(holder);
    await new Promise((resolve) => client.write(frame('second'), resolve));
    // 'second' is in the listener's kernel queue: on loopback a write is queued at the receiver
    // before it returns. A frame written after it to another server comes back only through a
    // later poll of this process, and every socket readable by then is read in that same poll:
    // a listener that kept reading would have emitted 'second' before the check phase.
    const other = await frameListener();
    (await connectTo(other.port)).write(frame('later, elsewhere'));
    await other.reader.until(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames.values).toEqual(['first']);
    gate.resume(holder);
    expect(await frames.until(2)).toEqual(['first', 'second']);
    client.destroy();
  });
});

describe('tcpConnect', () => {
  /** A server that runs `serve` on its first connection. */
  async function server(serve: (socket: net.Socket) => void): Promise<{ port: number; server: net.Server }> {
    const srv = net.createServer((socket) => {
      track(socket);
      serve(socket);
    }).listen(0, '127.0.0.1');
    track(srv);
    await once(srv, 'listening');
    const port = (srv.address() as net.AddressInfo).port;
    return { port, server: srv };
  }

  function collect<T>(source: import('rxjs').Observable<T>): Promise<{ values: T[]; error?: RivuletError }> {
    return new Promise((resolve) => {
      const values: T[] = [];
      subscriptions.push(source.subscribe({ next: (v) => values.push(v), error: (error) => resolve({ values, error }), complete: () => resolve({ values }) }));
    });
  }

  it('emits the frames and completes when the server closes cleanly', async () => {
    const { port, server: srv } = await server((s) => s.end(Buffer.concat([frame('a'), frame('é'), frame('')])));
    expect(await collect(tcpConnect({ port }))).toEqual({ values: ['a', 'é', ''] });
    srv.close();
  });

  it('errors naming host:port when the server resets the connection', async () => {
    const accepted = new Collector<net.Socket>();
    const { port, server: srv } = await server((s) => {
      accepted.add(s);
      s.write(frame('a'));
    });
    // The reset follows the frame's arrival: a reset that overtakes unread bytes discards them.
    const { values, error } = await collect(tcpConnect({ port }).pipe(tap(() => accepted.values[0].resetAndDestroy())));
    expect(values).toEqual(['a']);
    expect(error).toMatchObject({ code: 'ERR_CONNECTION', message: `tcpConnect 127.0.0.1:${port}: connection reset by peer` });
    srv.close();
  });

  it('errors with ERR_FRAME_TRUNCATED when the server closes in the middle of a frame', async () => {
    const { port, server: srv } = await server((s) => s.end(Buffer.concat([frame('whole'), frame('half').subarray(0, 6)])));
    const { values, error } = await collect(tcpConnect({ port }));
    expect(values).toEqual(['whole']);
    expect(error).toMatchObject({ code: 'ERR_FRAME_TRUNCATED', message: expect.stringContaining(`from 127.0.0.1:${port}`) });
    srv.close();
  });

  it('errors when the connection is refused', async () => {
    const port = await freePort();
    expect(await collect(tcpConnect({ port, raw: true }))).toEqual({
      values: [],
      error: expect.objectContaining({ code: 'ERR_CONNECTION', message: `tcpConnect 127.0.0.1:${port}: connection refused` }),
    });
  });

  it('uses the injected socket factory and destroys its socket on unsubscribe', async () => {
    const accepted = new Collector<net.Socket>();
    const { port, server: srv } = await server(accepted.add);
    const made: net.Socket[] = [];
    const subscription = tcpConnect({
      port,
      framing: newlineDelimited(),
      createConnection: (options) => {
        const socket = net.createConnection(options);
        made.push(socket);
        return socket;
      },
    }).subscribe();
    const [serverSide] = await accepted.until(1);
    expect(made).toHaveLength(1);
    subscription.unsubscribe();
    await closed(serverSide);
    expect(made[0].destroyed).toBe(true);
    srv.close();
  });
});
