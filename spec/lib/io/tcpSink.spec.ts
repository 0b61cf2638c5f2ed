import { once } from 'node:events';
import * as net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Observable, Subject, Subscription, VirtualTimeScheduler, from, tap, throwError } from 'rxjs';
import { FlowGate, RivuletError, TcpSinkOptions, newlineDelimited, tcpListen, tcpSink } from 'rivulet';
import { socketPollProbe } from '../../support/net';
import { Collector, FrameReader, closeAll, closed, connectTo, frame, frameListener, freePort, track } from './tcpTestKit';

const subscriptions: Subscription[] = [];
afterEach(() => {
  subscriptions.splice(0).forEach((s) => s.unsubscribe());
  closeAll();
});

/** Runs `source` into a sink; resolves on completion (undefined) or with the error. */
function run(source: Observable<string | Uint8Array>, options: TcpSinkOptions): Promise<RivuletError | undefined> {
  return new Promise((resolve) => {
    subscriptions.push(source.pipe(tcpSink(options)).subscribe({ error: resolve, complete: () => resolve(undefined) }));
  });
}

const payloads = (prefix: string, count: number, size = 0) =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(8, '0')}`.padEnd(size, '.'));

describe('tcpSink', () => {
  it('writes every value as a length-prefixed frame, in order, and completes once the peer has closed', async () => {
    const { port, reader, sockets } = await frameListener();
    const values = ['{"200":143}', 'é😀', '', ...payloads('v', 2000)];
    expect(await run(from(values), { port })).toBeUndefined();
    expect(reader.frames).toEqual(values);
    await closed(sockets[0]);
  });

  it('writes newline-delimited frames, and errors naming the sink for a value the framing refuses', async () => {
    const received: Buffer[] = [];
    const server = net.createServer((socket) => {
      track(socket);
      socket.on('data', (chunk: Buffer) => received.push(chunk));
    });
    track(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    expect(await run(from(['a', Buffer.from('b')]), { port, framing: newlineDelimited() })).toBeUndefined();
    expect(Buffer.concat(received).toString()).toBe('a\nb\n');
    const error = await run(from(['ok', 'two\nlines']), { port, framing: newlineDelimited() });
    expect(error).toMatchObject({ code: 'ERR_INVALID_VALUE', message: expect.stringMatching(new RegExp(`^tcpSink 127\\.0\\.0\\.1:${port}: `)) });
    const tooLarge = await run(from(['x'.repeat(20)]), { port, framing: newlineDelimited({ maxFrameBytes: 10 }) });
    expect(tooLarge).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' });
    expect(await run(from([42 as unknown as string]), { port })).toMatchObject({ code: 'ERR_INVALID_VALUE' });
  });

  it('waits for a peer that is not there yet, retrying with backoff, and loses nothing', async () => {
    const port = await freePort();
    const failures = new Collector<RivuletError>();
    const done = run(from(payloads('early', 500)), { port, initialDelayMs: 10, maxDelayMs: 40, onConnectionError: failures.add });
    const [first] = await failures.until(2);
    expect(first).toMatchObject({ code: 'ERR_CONNECTION', message: expect.stringContaining(`tcpSink 127.0.0.1:${port}: cannot connect (ECONNREFUSED); retrying in 10 ms`) });
    expect(failures.values[1].message).toContain('retrying in 20 ms');
    const { reader } = await frameListener(port);
    expect(await done).toBeUndefined();
    expect(reader.frames).toEqual(payloads('early', 500));
  });

  it('buffers while the peer is away and writes the buffer in order when it comes back', async () => {
    const first = await frameListener();
    const port = first.port;
    const source = new Subject<string>();
    const failures = new Collector<RivuletError>();
    const connects = new Collector<string>();
    const done = run(source, { port, initialDelayMs: 10, maxDelayMs: 20, onConnectionError: failures.add, onConnect: connects.add });
    await connects.until(1);
    payloads('before', 300).forEach((v) => source.next(v));
    await first.reader.until(300);
    // The peer goes away; once the sink has noticed, what follows must wait in the buffer.
    first.server.close();
    first.sockets.forEach((s) => s.destroy());
    const [lost] = await failures.until(1);
    expect(lost.message).toMatch(/connection lost \(closed by peer\)/);
    payloads('while away', 300).forEach((v) => source.next(v));
    const second = await frameListener(port);
    await second.reader.until(300);
    source.next('after');
    source.complete();
    expect(await done).toBeUndefined();
    expect(connects.values).toEqual([`127.0.0.1:${port}`, `127.0.0.1:${port}`]);
    expect(first.reader.frames).toEqual(payloads('before', 300));
    expect(second.reader.frames).toEqual([...payloads('while away', 300), 'after']);
  });

  it('reports, when the listener crashes, what its kernel had accepted and so may never have been read', async () => {
    // A crashed listener's kernel resets the connection; what it had taken is gone with it, and
    // the sink, without acknowledgements, cannot tell what of it was read.
    const listener = await frameListener();
    const source = new Subject<string>();
    const failures = new Collector<RivuletError>();
    const connects = new Collector<string>();
    run(source, { port: listener.port, initialDelayMs: 10, onConnectionError: failures.add, onConnect: connects.add });
    await connects.until(1);
    const values = payloads('window ', 812);
    values.forEach((v) => source.next(v));
    await listener.reader.until(812);
    listener.sockets[0].resetAndDestroy();
    const [lost] = await failures.until(1);
    const bytes = values.reduce((sum, v) => sum + frame(v).length, 0);
    expect(lost.message).toBe(
      `tcpSink 127.0.0.1:${listener.port}: connection lost (ECONNRESET); ${bytes.toLocaleString('en-US')} bytes (812 frames) written to the kernel may not have reached the listener; retrying in 10 ms with 0 bytes buffered`,
    );
    // Nothing is resent: it was all accepted once.
    await connects.until(2);
    source.next('next');
    await listener.reader.until(813);
    expect(listener.reader.frames.slice(812)).toEqual(['next']);
  });

  it('pauses the gate when its buffer passes the high-water mark and resumes it once drained', async () => {
    const port = await freePort();
    const gate = new FlowGate();
    const changes: boolean[] = [];
    gate.onChange((paused) => changes.push(paused));
    const source = new Subject<string>();
    const done = run(source, {
      port, gate, maxBufferedBytes: 40_000, highWaterMarkBytes: 20_000, lowWaterMarkBytes: 5_000,
      initialDelayMs: 10, maxDelayMs: 20, onConnectionError: () => undefined,
    });
    const sent: string[] = [];
    for (const value of payloads('p', 100, 996)) {
      if (gate.paused) break;
      source.next(value);
      sent.push(value);
    }
    // 1000-byte frames: the 20th reaches the high-water mark.
    expect(sent.length).toBe(20);
    expect(changes).toEqual([true]);
    const { reader } = await frameListener(port);
    await reader.until(20);
    await new Promise<void>((resolve) => (gate.paused ? gate.onChange(() => resolve()) : resolve()));
    expect(changes).toEqual([true, false]);
    source.complete();
    expect(await done).toBeUndefined();
    expect(reader.frames).toEqual(sent);
  });

  it('errors with ERR_BUFFER_FULL rather than drop when the buffer fills and nothing can be paused', async () => {
    const port = await freePort();
    const error = await run(from(payloads('f', 100, 996)), { port, maxBufferedBytes: 10_000, onConnectionError: () => undefined });
    expect(error).toMatchObject({ code: 'ERR_BUFFER_FULL' });
    expect(error?.message).toBe(
      `tcpSink 127.0.0.1:${port}: buffer full (maxBufferedBytes 10000): the peer is unreachable and give the sink and its source a shared FlowGate`,
    );
  });

  it('errors with ERR_CONNECTION naming host:port after maxAttempts consecutive failures', async () => {
    const port = await freePort();
    const failures = new Collector<RivuletError>();
    const error = await run(from(['x']), { port, maxAttempts: 3, initialDelayMs: 1, onConnectionError: failures.add });
    expect(error).toMatchObject({ code: 'ERR_CONNECTION' });
    expect(error?.message).toBe(`tcpSink 127.0.0.1:${port}: cannot connect (ECONNREFUSED); discarding 5 bytes (1 frame) not confirmed written; gave up after 3 consecutive failed attempts (maxAttempts)`);
    expect(failures.values).toHaveLength(2);
  });

  it('passes the source error on, and destroys the socket', async () => {
    const { port, sockets } = await frameListener();
    const boom = new RivuletError('ERR_INVALID_VALUE', 'bad input');
    const connected = new Collector<string>();
    const source = new Subject<string>();
    const done = run(source, { port, onConnect: connected.add });
    await connected.until(1);
    source.error(boom);
    expect(await done).toBe(boom);
    await closed(sockets[0]);
    expect(await run(throwError(() => boom), { port })).toBe(boom);
  });

  it('on unsubscribe destroys the socket, cancels the retry timer and resumes the gate', async () => {
    const { port, sockets } = await frameListener();
    const connected = new Collector<string>();
    const gate = new FlowGate();
    const source = new Subject<string>();
    const subscription = source.pipe(tcpSink({ port, gate, highWaterMarkBytes: 10, lowWaterMarkBytes: 0, onConnect: connected.add })).subscribe();
    await connected.until(1);
    source.next('x'.repeat(100));
    expect(gate.paused).toBe(true);
    subscription.unsubscribe();
    expect(gate.paused).toBe(false);
    await closed(sockets[0]);

    // Retry timers on a virtual scheduler: flushing it runs a pending retry unless it was cancelled.
    const deadPort = await freePort();
    const attempts = async (unsubscribeFirst: boolean): Promise<number> => {
      const scheduler = new VirtualTimeScheduler();
      let made = 0;
      const failed = new Collector<RivuletError>();
      const sub = new Subject<string>()
        .pipe(tcpSink({
          port: deadPort, scheduler, onConnectionError: failed.add,
          createConnection: (options) => (made++, net.createConnection(options)),
        }))
        .subscribe();
      await failed.until(1);
      if (unsubscribeFirst) sub.unsubscribe();
      scheduler.flush();
      sub.unsubscribe();
      return made;
    };
    expect(await attempts(false)).toBe(2);
    expect(await attempts(true)).toBe(1);
  });

  it('rejects bad options at creation', () => {
    expect(() => tcpSink({ port: 0 })).toThrow(/port must be an integer from 1/);
    expect(() => tcpSink({ port: 1, maxBufferedBytes: 100, highWaterMarkBytes: 200 })).toThrow(/lowWaterMarkBytes <= highWaterMarkBytes <= maxBufferedBytes/);
    expect(() => tcpSink({ port: 1, maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => tcpSink({ port: 1, initialDelayMs: -1 })).toThrow(/initialDelayMs/);
  });
});

describe('backpressure from tcpSink through tcpListen to the sender', () => {
  it('stalls a 50 MB sender while the final peer does not read, in bounded memory, then delivers every frame once, in order', async () => {
    const frameCount = 50_000;
    const payloadBytes = 1000;
    // The final peer accepts the connection but does not read until told to.
    const peerSocket = new Collector<net.Socket>();
    const peer = net.createServer((socket) => {
      track(socket);
      socket.pause();
      peerSocket.add(socket);
    });
    track(peer);
    peer.listen(0, '127.0.0.1');
    await once(peer, 'listening');
    const peerPort = (peer.address() as net.AddressInfo).port;

    const gate = new FlowGate();
    const listening = new Collector<number>();
    let pipelineError: unknown;
    let framesRead = 0;
    subscriptions.push(
      tcpListen({ port: 0, raw: true, gate, onListening: (a) => listening.add(a.port) })
        .pipe(tap(() => framesRead++))
        .pipe(tcpSink({ port: peerPort, gate }))
        .subscribe({ error: (e) => (pipelineError = e) }),
    );
    const [sourcePort] = await listening.until(1);
    await peerSocket.until(1);

    // Garbage (frames already passed on) would blur the figures: measure what is retained.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const memory = () => {
      gc();
      const m = process.memoryUsage();
      return { rss: m.rss, heap: m.heapUsed + m.arrayBuffers };
    };
    const before = memory();

    // The sender writes frames (an 8-digit sequence number, then filler) while its socket accepts them.
    const sender = await connectTo(sourcePort);
    let next = 0;
    let sentBytes = 0;
    const fill = () => {
      while (next < frameCount) {
        const batch = Buffer.alloc(64 * (4 + payloadBytes), 46);
        let n = 0;
        for (; n < 64 && next < frameCount; n++, next++) {
          batch.writeUInt32BE(payloadBytes, n * (4 + payloadBytes));
          batch.write(String(next).padStart(8, '0'), n * (4 + payloadBytes) + 4, 'latin1');
        }
        const bytes = batch.subarray(0, n * (4 + payloadBytes));
        sentBytes += bytes.length;
        if (!sender.write(bytes)) return false;
      }
      sender.end();
      return true;
    };
    // Write until the sender's socket is full and stays so because the pipeline has stopped
    // reading: with the gate paused, a whole poll of this process passes in which the sender's
    // socket does not drain and the source emits no frame, although bytes wait at the source's
    // socket (the sender is ahead of it). A source that kept reading would have emitted a frame.
    let drains = 0;
    sender.on('drain', () => drains++);
    const probe = await socketPollProbe();
    try {
      for (let stalled = false; !stalled; ) {
        expect(fill()).toBe(false);
        for (;;) {
          const seen = { drains, framesRead };
          await probe.pollPassed();
          expect(pipelineError).toBeUndefined();
          if (drains > seen.drains) break; // room again: write on
          stalled = gate.paused && framesRead === seen.framesRead;
          if (stalled) break;
        }
      }
    } finally {
      probe.destroy();
    }
    const atStall = memory();
    expect(pipelineError).toBeUndefined(); // e.g. not ERR_BUFFER_FULL: the source did pause
    expect(sender.writableLength).toBeGreaterThan(0);
    expect(sentBytes).toBeLessThan(frameCount * (4 + payloadBytes) * 0.8);
    // What is in flight sits in kernel buffers, the sink's bounded buffer and one chunk per socket.
    expect(atStall.heap - before.heap).toBeLessThan(24 * 1_048_576);
    expect(atStall.rss - before.rss).toBeLessThan(64 * 1_048_576);

    // The peer starts reading: the sender drains, and every frame arrives exactly once, in order.
    const reader = new FrameReader();
    const [socket] = peerSocket.values;
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.resume();
    sender.on('drain', fill);
    await reader.until(frameCount);
    expect(reader.frames.length).toBe(frameCount);
    const outOfOrder = reader.frames.findIndex((f, i) => f.length !== payloadBytes || f.slice(0, 8) !== String(i).padStart(8, '0'));
    expect(outOfOrder).toBe(-1);
    expect(pipelineError).toBeUndefined();
  });
});
