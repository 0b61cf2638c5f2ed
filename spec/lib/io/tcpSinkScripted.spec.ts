import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { Subject, Subscription, VirtualTimeScheduler } from 'rxjs';
import { FlowGate, RivuletError, TcpSinkOptions, newlineDelimited, tcpSink } from 'rivulet';

/**
 * tcpSink's shell driven through every state on virtual time, with a scripted socket: a real
 * Duplex (so `write`, `end`, `destroy` and their callbacks behave as Node's streams do) whose
 * kernel side is played by the test. The adapter on real sockets is tested in tcpSink.spec.ts.
 */
class ScriptedSocket extends Duplex {
  /** What the kernel accepted, write by write. */
  readonly accepted: string[] = [];
  /** When set, our FIN waits for `sendFin()`, so the sink can be caught in its ending state. */
  holdFin = false;
  finSent = false;
  private pending?: { chunk: Buffer; callback: (error?: Error | null) => void };
  private fin?: (error?: Error | null) => void;

  private readonly closeEmitted = new Promise<void>((resolve) => this.once('close', () => resolve()));

  constructor() {
    super({ allowHalfOpen: false });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.pending = { chunk, callback };
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.holdFin) this.fin = callback;
    else this.sendFin(callback);
  }

  /** The write handed to the socket and not yet taken by the kernel. */
  get inFlight(): string | undefined {
    return this.pending?.chunk.toString();
  }

  connect(): void {
    this.emit('connect');
  }

  /** The kernel takes the write in flight. */
  accept(): void {
    const { chunk, callback } = this.pending!;
    this.pending = undefined;
    this.accepted.push(chunk.toString());
    callback();
  }

  sendFin(callback = this.fin!): void {
    this.finSent = true;
    callback();
  }

  /** The peer closes its side cleanly. */
  peerCloses(): void {
    this.push(null);
  }

  fail(code: string): void {
    this.destroy(Object.assign(new Error(`${code} (scripted)`), { code }));
  }

  /** Resolves on 'close' (an 'error' before it is expected: the sink reads `errored`). */
  /** Resolves once 'close' has been emitted (`closed` turns true a tick earlier). */
  whenClosed(): Promise<void> {
    return this.closeEmitted;
  }
}

const subscriptions: Subscription[] = [];
afterEach(() => subscriptions.splice(0).forEach((s) => s.unsubscribe()));

/** A sink on virtual time whose every connection is a ScriptedSocket. */
function scripted(options: Partial<TcpSinkOptions> = {}) {
  const scheduler = new VirtualTimeScheduler();
  const sockets: ScriptedSocket[] = [];
  const reports: string[] = [];
  const connects: number[] = [];
  const source = new Subject<string>();
  const outcome: { completedAt?: number; error?: RivuletError } = {};
  subscriptions.push(
    source
      .pipe(
        tcpSink({
          port: 7002, framing: newlineDelimited(), scheduler, initialDelayMs: 100, maxDelayMs: 400, connectTimeoutMs: 1000, closeTimeoutMs: 2000,
          createConnection: () => {
            const socket = new ScriptedSocket();
            sockets.push(socket);
            return socket as unknown as net.Socket;
          },
          onConnect: () => connects.push(scheduler.now()),
          onConnectionError: (error) => reports.push(`${scheduler.now()}: ${error.message.replace('tcpSink 127.0.0.1:7002: ', '')}`),
          ...options,
        }),
      )
      .subscribe({ complete: () => (outcome.completedAt = scheduler.now()), error: (error: RivuletError) => (outcome.error = error) }),
  );
  /** Moves virtual time forward by `ms`, running the timers due. */
  const advance = (ms: number): void => {
    const target = scheduler.frame + ms;
    scheduler.maxFrames = target;
    scheduler.flush();
    scheduler.frame = target;
  };
  const last = () => sockets[sockets.length - 1];
  return { scheduler, sockets, last, reports, connects, source, outcome, advance };
}

describe('tcpSink on a scripted socket, on virtual time', () => {
  it('connecting: refused attempts back off 100, 200, 400, 400 ms, then everything buffered is delivered in order', async () => {
    const sink = scripted();
    sink.source.next('a');
    for (const delay of [100, 200, 400, 400]) {
      const attempts = sink.sockets.length;
      sink.last().fail('ECONNREFUSED');
      await sink.last().whenClosed();
      sink.advance(delay - 1);
      expect(sink.sockets).toHaveLength(attempts);
      sink.advance(1);
      expect(sink.sockets).toHaveLength(attempts + 1);
      sink.source.next(`b${sink.scheduler.now()}`);
    }
    expect(sink.reports).toEqual([
      '0: cannot connect (ECONNREFUSED); retrying in 100 ms with 2 bytes buffered',
      '100: cannot connect (ECONNREFUSED); retrying in 200 ms with 7 bytes buffered',
      '300: cannot connect (ECONNREFUSED); retrying in 400 ms with 12 bytes buffered',
      '700: cannot connect (ECONNREFUSED); retrying in 400 ms with 17 bytes buffered',
    ]);
    const socket = sink.last();
    socket.connect();
    expect(sink.connects).toEqual([1100]);
    expect(socket.inFlight).toBe('a\nb100\nb300\nb700\nb1100\n');
    socket.accept();
    sink.source.complete();
    expect(socket.writableEnded).toBe(true);
    socket.peerCloses();
    await socket.whenClosed();
    expect(sink.outcome).toEqual({ completedAt: 1100 });
    expect(socket.accepted).toEqual(['a\nb100\nb300\nb700\nb1100\n']);
  });

  it('connecting: an attempt that does not connect within connectTimeoutMs is destroyed and retried', async () => {
    const sink = scripted();
    sink.advance(999);
    expect(sink.sockets[0].destroyed).toBe(false);
    sink.advance(1);
    expect(sink.sockets[0].destroyed).toBe(true);
    await sink.sockets[0].whenClosed();
    expect(sink.reports).toEqual(['1000: cannot connect (not connected after 1000 ms (connectTimeoutMs)); retrying in 100 ms with 0 bytes buffered']);
    sink.advance(100);
    expect(sink.sockets).toHaveLength(2);
  });

  it('gives up with ERR_CONNECTION after maxAttempts consecutive failures', async () => {
    const sink = scripted({ maxAttempts: 3 });
    for (let attempt = 0; attempt < 3; attempt++) {
      sink.last().fail('ECONNREFUSED');
      await sink.last().whenClosed();
      sink.advance(1000);
    }
    expect(sink.outcome.error).toMatchObject({ code: 'ERR_CONNECTION', message: 'tcpSink 127.0.0.1:7002: cannot connect (ECONNREFUSED); gave up after 3 consecutive failed attempts (maxAttempts)' });
    expect(sink.reports).toHaveLength(2);
    expect(sink.sockets).toHaveLength(3);
  });

  it('ready -> writing: a burst goes out as one write after the first frame; nothing more until the kernel takes it', () => {
    const sink = scripted();
    const socket = sink.last();
    socket.connect();
    ['a', 'b', 'c'].forEach((v) => sink.source.next(v));
    expect(socket.inFlight).toBe('a\n');
    socket.accept();
    expect(socket.inFlight).toBe('b\nc\n');
    socket.accept();
    expect(socket.inFlight).toBeUndefined();
    expect(socket.accepted).toEqual(['a\n', 'b\nc\n']);
  });

  it('ready: a connection lost with nothing in flight reconnects and resends nothing', async () => {
    const sink = scripted();
    const first = sink.last();
    first.connect();
    sink.source.next('a');
    first.accept();
    first.fail('ECONNRESET');
    await first.whenClosed();
    // The listener acknowledges nothing: what its kernel accepted is reported, as it may be lost.
    expect(sink.reports).toEqual(['0: connection lost (ECONNRESET); 2 bytes (1 frame) written to the kernel may not have reached the listener; retrying in 100 ms with 0 bytes buffered']);
    sink.advance(100);
    const second = sink.last();
    second.connect();
    expect(second.inFlight).toBeUndefined();
    sink.source.next('b');
    expect(second.inFlight).toBe('b\n');
    // What the first peer's kernel accepted is gone with it: the sink cannot know, and does not resend.
    expect([first.accepted, second.accepted]).toEqual([['a\n'], []]);
  });

  it('writing: a batch cut off in flight is written again, whole and first, on the next connection', async () => {
    const sink = scripted();
    const first = sink.last();
    first.connect();
    sink.source.next('a');
    sink.source.next('b');
    expect(first.inFlight).toBe('a\n');
    first.fail('ECONNRESET');
    await first.whenClosed();
    expect(sink.reports).toEqual(['0: connection lost (ECONNRESET); 2 bytes (1 frame) cut off in flight will be written again first; retrying in 100 ms with 4 bytes buffered']);
    sink.source.next('c');
    sink.advance(100);
    const second = sink.last();
    second.connect();
    expect(second.inFlight).toBe('a\nb\nc\n');
  });

  it('blocked: a write the socket could not take pauses the gate; cut off, it is resent; drained, the gate resumes', async () => {
    const gate = new FlowGate();
    const changes: boolean[] = [];
    gate.onChange((paused) => changes.push(paused));
    const sink = scripted({ gate });
    const big = 'x'.repeat(20_000); // over the socket's 16 KiB high-water mark: write() returns false
    const first = sink.last();
    first.connect();
    sink.source.next(big);
    expect(changes).toEqual([true]);
    first.fail('EPIPE');
    await first.whenClosed();
    // The socket is gone, and 20 001 bytes are well below the buffer's low-water mark.
    expect(changes).toEqual([true, false]);
    sink.advance(100);
    const second = sink.last();
    second.connect();
    expect(second.inFlight).toBe(`${big}\n`);
    expect(changes).toEqual([true, false, true]);
    second.accept();
    expect(changes).toEqual([true, false, true, false]);
  });

  it('ending: a connection that dies while our FIN is pending completes the sink (every batch had been confirmed), reporting what may be lost', async () => {
    const sink = scripted();
    const socket = sink.last();
    socket.holdFin = true;
    socket.connect();
    sink.source.next('a');
    sink.source.complete();
    expect(socket.writableEnded).toBe(false); // the FIN waits for the batch in flight
    socket.accept();
    expect(socket.writableEnded).toBe(true);
    socket.fail('ECONNRESET');
    await socket.whenClosed();
    expect(sink.outcome).toEqual({ completedAt: 0 });
    expect(sink.sockets).toHaveLength(1);
    expect(sink.reports).toEqual(['0: connection lost after the last frame (ECONNRESET); 2 bytes (1 frame) written to the kernel may not have reached the listener']);
  });

  it('closing: completes when the peer closes after our FIN, or when it is lost', async () => {
    for (const end of ['peerCloses', 'lost'] as const) {
      const sink = scripted();
      const socket = sink.last();
      socket.connect();
      sink.source.complete();
      await new Promise((resolve) => socket.once('finish', resolve));
      expect(socket.finSent).toBe(true);
      sink.advance(500);
      if (end === 'peerCloses') socket.peerCloses();
      else socket.fail('ECONNRESET');
      await socket.whenClosed();
      expect(sink.outcome).toEqual({ completedAt: 500 });
    }
  });

  it('closing: a peer that never closes is cut off after closeTimeoutMs, then the sink completes', async () => {
    const sink = scripted();
    const socket = sink.last();
    socket.connect();
    sink.source.complete();
    await new Promise((resolve) => socket.once('finish', resolve));
    sink.advance(1999);
    expect(socket.destroyed).toBe(false);
    sink.advance(1);
    expect(socket.destroyed).toBe(true);
    await socket.whenClosed();
    expect(sink.outcome).toEqual({ completedAt: 2000 });
  });

  it('backingOff: unsubscribing cancels the retry; connecting: it destroys the attempt and its timer', async () => {
    const away = scripted();
    away.last().fail('ECONNREFUSED');
    await away.last().whenClosed();
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    away.advance(10_000);
    expect(away.sockets).toHaveLength(1);

    const connecting = scripted();
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    expect(connecting.sockets[0].destroyed).toBe(true);
    connecting.advance(10_000);
    expect(connecting.sockets).toHaveLength(1);
    expect(connecting.reports).toEqual([]);
  });

  it('an onConnect that throws errors with ERR_CALLBACK_FAILED before anything is written', () => {
    const sink = scripted({
      onConnect: () => {
        throw new Error('no');
      },
    });
    sink.source.next('a');
    const socket = sink.last();
    socket.connect();
    expect(sink.outcome.error).toMatchObject({ code: 'ERR_CALLBACK_FAILED', message: 'tcpSink: onConnect threw: no' });
    expect(socket.inFlight).toBeUndefined();
    expect(socket.destroyed).toBe(true);
  });

  it('an onConnectionError that throws errors with ERR_CALLBACK_FAILED and schedules no retry', async () => {
    const sink = scripted({
      onConnectionError: () => {
        throw new Error('no');
      },
    });
    sink.last().fail('ECONNREFUSED');
    await sink.last().whenClosed();
    expect(sink.outcome.error).toMatchObject({ code: 'ERR_CALLBACK_FAILED', message: 'tcpSink: onConnectionError threw: no' });
    sink.advance(10_000);
    expect(sink.sockets).toHaveLength(1);

    // Rethrowing the error it was given is a failed callback too, not a connection error.
    const rethrowing = scripted({
      onConnectionError: (error) => {
        throw error;
      },
    });
    rethrowing.last().fail('ECONNREFUSED');
    await rethrowing.last().whenClosed();
    expect(rethrowing.outcome.error).toMatchObject({
      code: 'ERR_CALLBACK_FAILED',
      message: 'tcpSink: onConnectionError threw: tcpSink 127.0.0.1:7002: cannot connect (ECONNREFUSED); retrying in 100 ms with 0 bytes buffered',
    });
  });
});
