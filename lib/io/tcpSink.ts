import * as net from 'node:net';
import { Observable, SchedulerLike, Subscription, asyncScheduler } from 'rxjs';
import { RivuletError, invalidOption, requireInteger } from '../core/errors';
import { FlowGate } from '../core/flowGate';
import { guarded, operate } from '../core/operate';
import { Framing, lengthPrefixed } from './framing';
import { runMachine } from './machineRunner';
import { formatSocketAddress } from './socketAddress';
import { TcpSinkConfig, TcpSinkEffect, TcpSinkEvent, initialTcpSinkState, tcpSinkTransition } from './tcpSinkMachine';

export interface TcpSinkOptions {
  /** Host of the listener to deliver to. Default '127.0.0.1'. */
  host?: string;
  port: number;
  /** How each value is framed on the wire. Default `lengthPrefixed()` (Wallaroo's). */
  framing?: Framing;
  /** Paused while the socket or the buffer is full, so a source sharing it stops reading. */
  gate?: FlowGate;
  /** Bound on the frames held while the peer is slow or away. Default 8 MiB. */
  maxBufferedBytes?: number;
  /** Buffer size at which the gate is paused. Default half of `maxBufferedBytes`. */
  highWaterMarkBytes?: number;
  /** Buffer size at which the gate is resumed. Default half of `highWaterMarkBytes`. */
  lowWaterMarkBytes?: number;
  /** First reconnection delay; doubles on each failed attempt. Default 100. */
  initialDelayMs?: number;
  /** Longest reconnection delay. Default 5 000. */
  maxDelayMs?: number;
  /** Error (ERR_CONNECTION) after this many consecutive failed attempts. Default: retry forever. */
  maxAttempts?: number;
  /** An attempt that has not connected after this long has failed. Default 10 000. */
  connectTimeoutMs?: number;
  /** After the last frame and our FIN, how long to wait for the peer to close. Default 2 000. */
  closeTimeoutMs?: number;
  /** Called on every successful connection, with the peer's `host:port`. */
  onConnect?: (peer: string) => void;
  /**
   * Called when a connection is lost or an attempt fails (retries follow), and when the
   * connection is lost after the last frame (the sink then completes). The message says what
   * may be lost: e.g. `connection lost (ECONNRESET); 65,536 bytes (812 frames) written to the
   * kernel may not have reached the listener; 4,120 bytes (51 frames) cut off in flight will be
   * written again first; retrying in 100 ms with 4,120 bytes buffered`. Default: a line on stderr.
   */
  onConnectionError?: (error: RivuletError) => void;
  /** Opens the socket; defaults to `net.createConnection`. */
  createConnection?: (options: net.NetConnectOpts) => net.Socket;
  /** The clock of every timer: connect timeout, reconnection delay, close. Default `asyncScheduler` (real time). */
  scheduler?: SchedulerLike;
}

/**
 * Writes every value as a frame to a TCP listener, reconnecting when it goes away: Wallaroo's
 * TCP sink (which connects to, e.g., `nc -l 7002`).
 *
 * Like `source.subscribe(v => socket.write(encode(v)))`, but lazy, framed, bounded, and with
 * backpressure: it connects on subscribe; if the peer is not there yet or goes away, it retries
 * with exponential backoff (`initialDelayMs` doubling up to `maxDelayMs`) while holding frames in
 * a buffer of at most `maxBufferedBytes`, written in order once connected again. When the socket
 * cannot take more (`write()` returned false) or the bytes it holds (buffered, or written and not
 * yet confirmed) pass `highWaterMarkBytes`, it pauses `gate` until the socket drains and they are
 * below `lowWaterMarkBytes`.
 *
 * ```text
 * source:  --a--b--c-----d--|
 * peer:    ==up==|  (away)  |==up======            (frames: a b c d, then FIN)
 * result:  ----------------------------|          (completes once all is written and closed)
 * ```
 *
 * Completes when the source has completed, every frame has been handed to the kernel, and the
 * connection has closed: normally the peer closes after our FIN (or is cut off after
 * `closeTimeoutMs`).
 * Errors with ERR_BUFFER_FULL if the buffer would pass `maxBufferedBytes` (the source ignored or
 * lacks the gate: nothing is ever dropped silently), ERR_CONNECTION after `maxAttempts`
 * consecutive failed attempts, ERR_FRAME_TOO_LARGE / ERR_INVALID_VALUE for a value the framing
 * cannot encode, and with the source's error (frames not yet written are then discarded).
 * Unsubscribing destroys the socket, cancels timers and resumes the gate.
 *
 * The sink is a state machine (tcpSinkMachine.ts: idle, connecting, ready, writing, blocked,
 * ending, closing, backing-off, closed, failed) driven by socket events, source notifications and
 * timers, every timer on `scheduler`; this function is the shell that owns the socket.
 *
 * Delivery guarantee (each case walked, state by state, in tcpSinkMachine.spec.ts):
 * - Frames are written in source order, in batches of about 64 KiB (a larger frame goes alone),
 *   one batch at a time: while one is in flight (handed to `write()`, its callback not yet
 *   run), later frames wait and go out together in the next.
 * - At least once for a batch cut off: if its connection closes before the kernel has taken all
 *   of it, the whole batch is written again first on the next connection, so the peer may
 *   receive some of its frames twice. Plain TCP has no acknowledgements: a peer that needs
 *   exactly once must deduplicate (or acknowledge, over a protocol of its own).
 * - At most once for what the kernel accepted: a batch whose write completed is never written
 *   again. If the listener (or its machine) crashes before its application has read it, what
 *   its kernel accepted is lost, and this sink cannot know which part. So when a connection is
 *   lost, `onConnectionError` is told how many bytes and frames the kernel had accepted on it
 *   (they may not have reached the listener) and how many were cut off in flight (written again
 *   first, so they may arrive twice); the same after the last frame, unless the listener closed
 *   in answer to our FIN.
 * - Frames still in the buffer survive any number of reconnections and are written in order;
 *   they are discarded only when the sink errors or is unsubscribed.
 * - Completion means every batch was accepted by the kernel of a connection, not that the peer
 *   has read it. Our FIN is queued only then, so a connection that dies after that, the FIN
 *   sent or not, completes the sink: nothing is left to resend.
 *
 * ```ts
 * from(['{"200":143}', '{"200":477}']).pipe(tcpSink({ port: 7002 })).subscribe({
 *   complete: () => console.log('delivered'),
 * });
 * // `nc -l 7002` receives two 4-byte-length-prefixed JSON frames; then 'delivered' is logged
 * ```
 */
export function tcpSink(options: TcpSinkOptions): (source: Observable<string | Uint8Array>) => Observable<never> {
  const where0 = 'tcpSink';
  const { host = '127.0.0.1', port, gate, onConnect, onConnectionError } = options;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw invalidOption(where0, `port must be an integer from 1 to 65535, got ${String(port)}`);
  }
  const framing = options.framing ?? lengthPrefixed();
  const maxBufferedBytes = options.maxBufferedBytes ?? 8 * 1_048_576;
  const highWaterMarkBytes = options.highWaterMarkBytes ?? Math.floor(maxBufferedBytes / 2);
  const lowWaterMarkBytes = options.lowWaterMarkBytes ?? Math.floor(highWaterMarkBytes / 2);
  const initialDelayMs = options.initialDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  const maxAttempts = options.maxAttempts ?? Infinity;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 2_000;
  requireInteger(where0, 'maxBufferedBytes', maxBufferedBytes);
  requireInteger(where0, 'highWaterMarkBytes', highWaterMarkBytes, true);
  requireInteger(where0, 'lowWaterMarkBytes', lowWaterMarkBytes, true);
  if (!(lowWaterMarkBytes <= highWaterMarkBytes && highWaterMarkBytes <= maxBufferedBytes)) {
    throw invalidOption(where0, `need lowWaterMarkBytes <= highWaterMarkBytes <= maxBufferedBytes, got ${lowWaterMarkBytes}, ${highWaterMarkBytes}, ${maxBufferedBytes}`);
  }
  requireInteger(where0, 'initialDelayMs', initialDelayMs, true);
  requireInteger(where0, 'maxDelayMs', maxDelayMs, true);
  if (maxAttempts !== Infinity) requireInteger(where0, 'maxAttempts', maxAttempts);
  requireInteger(where0, 'connectTimeoutMs', connectTimeoutMs);
  requireInteger(where0, 'closeTimeoutMs', closeTimeoutMs, true);
  const createConnection = options.createConnection ?? net.createConnection;
  const scheduler = options.scheduler ?? asyncScheduler;
  const peer = formatSocketAddress(host, port);
  const where = `tcpSink ${peer}`;

  const config: TcpSinkConfig = {
    where, maxBufferedBytes, highWaterMarkBytes, lowWaterMarkBytes, initialDelayMs, maxDelayMs, maxAttempts, connectTimeoutMs, closeTimeoutMs, hasGate: gate !== undefined,
  };
  const transition = tcpSinkTransition(config);
  // 'wrap': an onConnectionError that rethrows the error it was given is still a failed callback.
  const announce = onConnect && guarded(where0, 'onConnect', onConnect, 'wrap');
  const report = onConnectionError ? guarded(where0, 'onConnectionError', onConnectionError, 'wrap') : (error: RivuletError) => process.stderr.write(`rivulet: ${error.message}\n`);

  return (source) =>
    new Observable<never>((subscriber) => {
      // The shell: the machine decides, this performs. The socket is the one last opened;
      // events of an older socket are dropped (its frames were put back when it closed).
      const holder = {};
      let socket: net.Socket | undefined;
      let timer: Subscription | undefined;
      const ifCurrent = (of: net.Socket, event: TcpSinkEvent) => () => {
        if (of === socket) machine.dispatch(event);
      };
      const open = (): void => {
        const s = createConnection({ host, port, allowHalfOpen: false });
        socket = s;
        s.on('connect', () => {
          s.resume(); // anything the peer sends is discarded, and its FIN is seen
          ifCurrent(s, { type: 'connect' })();
        });
        s.on('drain', ifCurrent(s, { type: 'drain' }));
        s.on('error', () => undefined); // the reason is read from `errored` when it closes
        s.on('close', () => ifCurrent(s, { type: 'close', error: s.errored ?? undefined })());
      };
      const perform = (effect: TcpSinkEffect): void => {
        switch (effect.type) {
          case 'connect':
            return open();
          case 'write': {
            const s = socket!;
            const written = ifCurrent(s, { type: 'written' });
            if (!s.write(effect.batch, (error) => error || written())) machine.dispatch({ type: 'full' });
            return;
          }
          case 'end': {
            const finished = ifCurrent(socket!, { type: 'finished' });
            // Called with an error if the socket dies first: then its 'close' tells the machine.
            socket!.end((error?: Error) => error || finished());
            return;
          }
          case 'destroy':
            socket?.destroy(effect.error);
            return;
          case 'setTimer': {
            timer?.unsubscribe();
            const event: TcpSinkEvent = { type: 'timer', timer: effect.timer };
            timer = scheduler.schedule(() => machine.dispatch(event), effect.delayMs);
            return;
          }
          case 'clearTimer':
            timer?.unsubscribe();
            timer = undefined;
            return;
          case 'pauseGate':
            return gate?.pause(holder);
          case 'resumeGate':
            return gate?.resume(holder);
          case 'announce':
            return announce?.(peer);
          case 'report':
            return void report(effect.error);
          case 'complete':
            return subscriber.complete();
          case 'error':
            return subscriber.error(effect.error);
        }
      };
      const machine = runMachine(initialTcpSinkState(), transition, perform, (error): TcpSinkEvent => ({ type: 'fail', error }));

      machine.dispatch({ type: 'start' });
      operate(source, subscriber, {
        next: (value) => {
          let frame: Buffer;
          try {
            frame = framing.encode(value);
          } catch (error) {
            const cause = error as RivuletError;
            machine.dispatch({ type: 'fail', error: new RivuletError(cause.code ?? 'ERR_INVALID_VALUE', `${where}: ${cause.message}`, { cause }) });
            return;
          }
          machine.dispatch({ type: 'frame', frame });
        },
        error: (error) => machine.dispatch({ type: 'fail', error }),
        complete: () => machine.dispatch({ type: 'sourceComplete' }),
      });
      return () => machine.dispatch({ type: 'unsubscribe' });
    });
}
