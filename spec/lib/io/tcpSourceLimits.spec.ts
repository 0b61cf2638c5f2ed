import { once } from 'node:events';
import * as net from 'node:net';
import { Subscription, VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { FlowGate, RivuletError, TcpListenOptions, lengthPrefixed, tcpConnect, tcpListen } from 'rivulet';
import { Collector, closeAll, closed, frame, track } from './tcpTestKit';

// The limits of tcpListen and tcpConnect on real sockets, with time on a virtual clock: idle
// time passes when a test says so, never by waiting. Every step waits for an event (a frame, an
// accept, bytes read by the server, a reset, a close).

const subscriptions: Subscription[] = [];
afterEach(() => {
  subscriptions.splice(0).forEach((s) => s.unsubscribe());
  closeAll();
});

/** A clock that moves only when told. Idle timers run, synchronously, inside `advance`. */
function virtualClock(): { scheduler: VirtualTimeScheduler; advance(ms: number): void } {
  const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
  return {
    scheduler,
    advance(ms) {
      const to = scheduler.now() + ms;
      scheduler.maxFrames = to;
      scheduler.flush();
      scheduler.frame = to;
    },
  };
}

/**
 * What the server side of each connection has seen. Its listeners run before tcpListen's for the
 * same event, so a test awaiting them resumes after tcpListen has handled it too.
 */
class ServerSide {
  readonly accepted = new Collector<net.Socket>();
  private readonly bytes = new Map<number, Collector<number>>();

  readonly createServer = (options: net.ServerOpts): net.Server => {
    const server = net.createServer(options);
    server.on('connection', (socket) => {
      const seen = this.seenFrom(socket.remotePort ?? -1);
      socket.on('data', (chunk: Buffer) => seen.add(chunk.length));
      this.accepted.add(socket);
    });
    return server;
  };

  /** Resolves once the server has read `count` bytes from `client`. */
  received(client: net.Socket, count: number): Promise<void> {
    const seen = this.seenFrom(client.localPort ?? -2);
    return seen.when(() => seen.values.reduce((a, b) => a + b, 0) >= count);
  }

  private seenFrom(port: number): Collector<number> {
    let seen = this.bytes.get(port);
    if (seen === undefined) this.bytes.set(port, (seen = new Collector<number>()));
    return seen;
  }
}

interface Listening {
  port: number;
  frames: Collector<unknown>;
  errors: Collector<{ error: RivuletError; peer: string }>;
  server: ServerSide;
}

async function listen(options: Partial<TcpListenOptions>): Promise<Listening> {
  const frames = new Collector<unknown>();
  const errors = new Collector<{ error: RivuletError; peer: string }>();
  const server = new ServerSide();
  const port = await new Promise<number>((resolve, reject) => {
    subscriptions.push(
      tcpListen({
        port: 0,
        createServer: server.createServer,
        onListening: (address) => resolve(address.port),
        onConnectionError: (error, peer) => errors.add({ error, peer }),
        ...options,
      }).subscribe({ next: frames.add, error: reject }),
    );
  });
  return { port, frames, errors, server };
}

/** A client connection, accepted by the server (or refused: then the promise rejects). */
async function connect(listening: Listening, localAddress = '127.0.0.1'): Promise<net.Socket> {
  const accepted = listening.server.accepted.values.length;
  const socket = net.connect({ host: '127.0.0.1', port: listening.port, localAddress });
  track(socket);
  await once(socket, 'connect');
  await listening.server.accepted.until(accepted + 1);
  return socket;
}

/** A connection the server refuses: resolves with the client's error once the reset arrives. */
async function refused(listening: Listening, localAddress = '127.0.0.1'): Promise<NodeJS.ErrnoException> {
  const socket = net.connect({ host: '127.0.0.1', port: listening.port, localAddress });
  track(socket);
  const [error] = (await once(socket, 'error')) as NodeJS.ErrnoException[];
  return error;
}

const peerOf = (socket: net.Socket) => `${socket.localAddress}:${socket.localPort}`;

/** The first `bytes` of a length-prefixed frame of `size` payload bytes. */
function partialFrame(size: number, bytes: number): Buffer {
  return frame(Buffer.alloc(size, 120)).subarray(0, bytes);
}

describe('tcpListen idle timeout', () => {
  it('closes, by default after 30 s, a connection that completes no frame, even one that keeps sending bytes', async () => {
    const clock = virtualClock();
    const listening = await listen({ scheduler: clock.scheduler });
    const { frames, errors, server } = listening;
    const slow = await connect(listening);
    const busy = await connect(listening);
    slow.write(Buffer.concat([frame('hello'), partialFrame(100, 10)]));
    await frames.until(1);
    await server.received(slow, 9 + 10);
    clock.advance(20_000);
    slow.write(partialFrame(100, 20).subarray(10)); // more bytes, still no whole frame
    busy.write(frame('busy'));
    await frames.until(2);
    await server.received(slow, 9 + 20);
    clock.advance(9_999);
    expect(errors.values).toEqual([]);
    clock.advance(1);
    expect(errors.values).toEqual([{ peer: peerOf(slow), error: expect.objectContaining({ code: 'ERR_CONNECTION' }) }]);
    expect(errors.values[0].error.message).toBe(`connection from ${peerOf(slow)} completed no frame in 30000 ms (idleTimeoutMs): closed`);
    await closed(slow);
    // busy completed a frame 10 s after slow's last: it has 20 s left.
    clock.advance(19_999);
    expect(errors.values).toHaveLength(1);
    busy.write(frame('still busy'));
    expect(await frames.until(3)).toEqual(['hello', 'busy', 'still busy']);
  });

  it('does not count the time the gate holds the connections paused', async () => {
    const clock = virtualClock();
    const gate = new FlowGate();
    const holder = {};
    const listening = await listen({ scheduler: clock.scheduler, gate, idleTimeoutMs: 1000 });
    const client = await connect(listening);
    client.write(frame('one'));
    await listening.frames.until(1);
    gate.pause(holder);
    clock.advance(60_000);
    expect(listening.errors.values).toEqual([]);
    gate.resume(holder);
    clock.advance(999);
    expect(listening.errors.values).toEqual([]);
    clock.advance(1);
    expect(listening.errors.values.map((e) => e.peer)).toEqual([peerOf(client)]);
    await closed(client);
  });

  it('keeps idle connections open for ever with idleTimeoutMs 0', async () => {
    const clock = virtualClock();
    const listening = await listen({ scheduler: clock.scheduler, idleTimeoutMs: 0 });
    const client = await connect(listening);
    clock.advance(10 * 86_400_000);
    client.write(frame('after ten days'));
    expect(await listening.frames.until(1)).toEqual(['after ten days']);
    expect(listening.errors.values).toEqual([]);
  });
});

describe('tcpListen connection limits', () => {
  it('lets a sender in past idle connections holding every slot, closing the most idle one', async () => {
    // The attack at small size: maxConnections idle connections used to refuse every sender.
    const clock = virtualClock();
    const listening = await listen({ scheduler: clock.scheduler, maxConnections: 3 });
    const idle = [await connect(listening), await connect(listening), await connect(listening)];
    clock.advance(1000);
    const sender = await connect(listening);
    sender.write(frame('a real line'));
    expect(await listening.frames.until(1)).toEqual(['a real line']);
    const [{ error, peer }] = listening.errors.values;
    expect(peer).toBe(peerOf(idle[0]));
    expect(error.message).toBe(
      `connection from ${peerOf(idle[0])} closed to make room (maxConnections 3 reached): it had completed no frame for 1000 ms, the longest of all`,
    );
    await closed(idle[0]);
    expect(idle[1].destroyed || idle[2].destroyed).toBe(false);
  });

  it('refuses a newcomer with a reset while every connection is active, and lets it in once one has been idle for evictIdleAfterMs', async () => {
    const clock = virtualClock();
    const listening = await listen({ scheduler: clock.scheduler, maxConnections: 2, evictIdleAfterMs: 5000 });
    const [a, b] = [await connect(listening), await connect(listening)];
    clock.advance(4000);
    b.write(frame('b'));
    await listening.frames.until(1);
    clock.advance(999); // a idle 4999 ms, b 999 ms
    expect((await refused(listening)).code).toBe('ECONNRESET');
    await listening.errors.until(1);
    expect(listening.errors.values[0].error.message).toMatch(/^refused a connection from 127\.0\.0\.1:\d+: maxConnections 2 reached$/);
    clock.advance(1);
    const c = await connect(listening);
    c.write(frame('c'));
    expect(await listening.frames.until(2)).toEqual(['b', 'c']);
    expect(listening.errors.values.map((e) => e.peer)).toEqual([expect.any(String), peerOf(a)]);
    await closed(a);
  });

  it('caps the connections of one address, evicting that address\'s own idle ones, so other hosts still get in', async () => {
    const clock = virtualClock();
    const listening = await listen({ scheduler: clock.scheduler, maxConnectionsPerAddress: 2, maxConnections: 10 });
    const other = await connect(listening, '127.0.0.2'); // the most idle of all, but of another address
    const [first, second] = [await connect(listening), await connect(listening)];
    first.write(frame('first'));
    second.write(frame('second'));
    await listening.frames.until(2);
    expect((await refused(listening)).code).toBe('ECONNRESET');
    await listening.errors.until(1);
    expect(listening.errors.values[0].error.message).toMatch(/^refused a connection from 127\.0\.0\.1:\d+: maxConnectionsPerAddress 2 reached for 127\.0\.0\.1$/);
    const more = await connect(listening, '127.0.0.3');
    more.write(frame('another host'));
    await listening.frames.until(3);
    clock.advance(1000);
    const third = await connect(listening);
    third.write(frame('third'));
    await listening.frames.until(4);
    expect(listening.errors.values.map((e) => e.peer)).toEqual([expect.stringMatching(/^127\.0\.0\.1:/), peerOf(first)]);
    expect(listening.errors.values[1].error.message).toContain('(maxConnectionsPerAddress 2 reached for 127.0.0.1)');
    await closed(first);
    other.write(frame('other'));
    expect(await listening.frames.until(5)).toEqual(['first', 'second', 'another host', 'third', 'other']);
  });
});

describe('tcpListen maxPartialBytes', () => {
  const framing = lengthPrefixed({ maxFrameBytes: 8000 });

  it('closes the connection whose unfinished frame would pass the cap over all connections; the others go on', async () => {
    const clock = virtualClock();
    const listening = await listen({ scheduler: clock.scheduler, framing, maxPartialBytes: 10_000, raw: true });
    const { frames, errors, server } = listening;
    const holder = await connect(listening);
    const passer = await connect(listening);
    holder.write(partialFrame(8000, 5004));
    await server.received(holder, 5004);
    passer.write(partialFrame(8000, 5004));
    await errors.until(1);
    expect(errors.values[0].peer).toBe(peerOf(passer));
    expect(errors.values[0].error).toMatchObject({ code: 'ERR_BUFFER_FULL' });
    expect(errors.values[0].error.message).toBe(
      `connection from ${peerOf(passer)} closed: its unfinished frame (5004 bytes so far) would take the unfinished frames of all connections to 10008 bytes, above maxPartialBytes 10000`,
    );
    await closed(passer);
    // What the closed connection held is free again: the holder finishes, a newcomer sends a whole frame.
    holder.write(frame(Buffer.alloc(8000, 120)).subarray(5004));
    const newcomer = await connect(listening);
    const whole = frame(Buffer.alloc(8000, 121));
    newcomer.write(whole.subarray(0, 4000));
    await server.received(newcomer, 4000);
    newcomer.write(whole.subarray(4000));
    const got = (await frames.until(2)) as Buffer[];
    expect(got.map((b) => [b.length, b[0]]).sort()).toEqual([[8000, 120], [8000, 121]]);
    expect(errors.values).toHaveLength(1);
  });

  it('first closes idle holders, the most idle first and only as many as needed', async () => {
    const clock = virtualClock();
    const listening = await listen({ scheduler: clock.scheduler, framing, maxPartialBytes: 10_000, raw: true });
    const { frames, errors, server } = listening;
    const [oldest, older] = [await connect(listening), await connect(listening)];
    oldest.write(partialFrame(8000, 3000));
    await server.received(oldest, 3000);
    older.write(partialFrame(8000, 3000));
    await server.received(older, 3000);
    clock.advance(1000);
    const sender = await connect(listening);
    sender.write(partialFrame(8000, 5004));
    await errors.until(1);
    expect(errors.values.map((e) => e.peer)).toEqual([peerOf(oldest)]);
    expect(errors.values[0].error.message).toContain('closed to make room (maxPartialBytes 10000)');
    sender.write(frame(Buffer.alloc(8000, 122)).subarray(5004));
    expect(((await frames.until(1)) as Buffer[]).map((b) => b.length)).toEqual([8000]);
    await closed(oldest);
    expect(older.destroyed).toBe(false);
  });
});

describe('tcpListen limit options', () => {
  it('rejects bad limits at creation', () => {
    expect(() => tcpListen({ port: 0, maxConnectionsPerAddress: 0 })).toThrow(/maxConnectionsPerAddress must be an integer >= 1/);
    expect(() => tcpListen({ port: 0, evictIdleAfterMs: -1 })).toThrow(/evictIdleAfterMs must be an integer >= 0/);
    expect(() => tcpListen({ port: 0, maxPartialBytes: 1_048_576 })).toThrow(/maxPartialBytes 1048576 leaves no room for one whole frame: at least the framing's maxFrameBytes \+ 4 \(1048580\)/);
    expect(() => tcpListen({ port: 0, framing: lengthPrefixed({ maxFrameBytes: 100 }), maxPartialBytes: 104 })).not.toThrow();
  });
});

describe('tcpConnect idle timeout', () => {
  async function server(serve: (socket: net.Socket) => void): Promise<{ port: number; accepted: Collector<net.Socket> }> {
    const accepted = new Collector<net.Socket>();
    const srv = net.createServer((socket) => {
      track(socket);
      serve(socket);
      accepted.add(socket);
    });
    srv.listen(0, '127.0.0.1');
    track(srv);
    await once(srv, 'listening');
    return { port: (srv.address() as net.AddressInfo).port, accepted };
  }

  it('errors when the server completes no frame for 30 s by default', async () => {
    const clock = virtualClock();
    const { port } = await server((socket) => socket.write(Buffer.concat([frame('hi'), partialFrame(10, 6)])));
    const values = new Collector<unknown>();
    const failure = new Promise<RivuletError>((resolve) => {
      subscriptions.push(tcpConnect({ port, scheduler: clock.scheduler }).subscribe({ next: values.add, error: resolve }));
    });
    await values.until(1);
    clock.advance(30_000);
    expect(await failure).toMatchObject({ code: 'ERR_CONNECTION', message: `tcpConnect 127.0.0.1:${port}: the server completed no frame in 30000 ms (idleTimeoutMs)` });
  });

  it('waits for ever with idleTimeoutMs 0', async () => {
    const clock = virtualClock();
    const { port, accepted } = await server(() => undefined);
    const values = new Collector<unknown>();
    const outcome = new Promise<string>((resolve) => {
      subscriptions.push(
        tcpConnect({ port, scheduler: clock.scheduler, idleTimeoutMs: 0 }).subscribe({ next: values.add, error: () => resolve('error'), complete: () => resolve('complete') }),
      );
    });
    const [socket] = await accepted.until(1);
    clock.advance(10 * 86_400_000);
    socket.end(frame('late'));
    expect(await outcome).toBe('complete');
    expect(values.values).toEqual(['late']);
  });
});
