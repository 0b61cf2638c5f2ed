import * as net from 'node:net';
import { Observable, SchedulerLike, Subscription, asyncScheduler } from 'rxjs';
import { RivuletError, callbackFailed, invalidOption, requireInteger } from '../core/errors';
import { FlowGate } from '../core/flowGate';
import { Framing, lengthPrefixed } from './framing';
import { formatSocketAddress } from './socketAddress';

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
  /** Called when a connection is lost or an attempt fails (retries follow). Default: a line on stderr. */
  onConnectionError?: (error: RivuletError) => void;
  /** Opens the socket; defaults to `net.createConnection`. */
  createConnection?: (options: net.NetConnectOpts) => net.Socket;
  /** Where reconnection and close timers run. Default `asyncScheduler` (real time). */
  scheduler?: SchedulerLike;
}

/** Small frames are written in batches of about this size: one syscall, not one per frame. */
const BATCH_BYTES = 65_536;

/** Frames handed to one socket, kept until the socket confirms it passed them to the kernel. */
interface Connection {
  socket: net.Socket;
  connected: boolean;
  /** Batches written but not yet confirmed, oldest first. */
  unconfirmed: { batch: Buffer; confirmed: boolean }[];
  lastError?: Error;
}

/**
 * Writes every value as a frame to a TCP listener, reconnecting when it goes away: Wallaroo's
 * TCP sink (which connects to, e.g., `nc -l 7002`).
 *
 * Like `source.subscribe(v => socket.write(encode(v)))`, but lazy, framed, bounded, and with
 * backpressure: it connects on subscribe; if the peer is not there yet or goes away, it retries
 * with exponential backoff (`initialDelayMs` doubling up to `maxDelayMs`) while holding frames in
 * a buffer of at most `maxBufferedBytes`, written in order once connected again. When the socket
 * cannot take more (`write()` returned false) or the buffer passes `highWaterMarkBytes`, it
 * pauses `gate` until the socket drains and the buffer is below `lowWaterMarkBytes`.
 *
 * ```text
 * source:  --a--b--c-----d--|
 * peer:    ==up==|  (away)  |==up======            (frames: a b c d, then FIN)
 * result:  ----------------------------|          (completes once all is written and closed)
 * ```
 *
 * Completes when the source has completed, every frame has been handed to the kernel, our side
 * of the connection is closed, and the peer has closed its side (or `closeTimeoutMs` passed).
 * Errors with ERR_BUFFER_FULL if the buffer would pass `maxBufferedBytes` (the source ignored or
 * lacks the gate: nothing is ever dropped silently), ERR_CONNECTION after `maxAttempts`
 * consecutive failed attempts, ERR_FRAME_TOO_LARGE / ERR_INVALID_VALUE for a value the framing
 * cannot encode, and with the source's error (frames not yet written are then discarded).
 * Unsubscribing destroys the socket, cancels timers and resumes the gate.
 *
 * Delivery guarantee: frames are written in batches of up to 64 KiB. A batch whose write had not
 * completed when its connection died is written again, whole, on the next connection: the peer
 * may then receive some of its frames twice (at least once for those). A batch the kernel had
 * accepted is lost if that connection then dies before the peer reads it: TCP alone cannot tell
 * (at most once for those). Frames still in the buffer are always delivered, in order; a peer
 * that needs exactly once must acknowledge or deduplicate.
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

  return (source) =>
    new Observable<never>((subscriber) => {
      const holder = {};
      let holding = false;
      let closed = false;
      let queue: Buffer[] = [];
      let head = 0;
      let queuedBytes = 0;
      let connection: Connection | undefined;
      let socketFull = false;
      let flushScheduled = false;
      let failedAttempts = 0;
      let sourceDone = false;
      let ending = false;
      let endFlushed = false;
      const timers = new Subscription();

      const stop = (error?: RivuletError): void => {
        if (closed) return;
        closed = true;
        if (error) subscriber.error(error);
        else subscriber.complete();
      };

      const updateGate = (): void => {
        if (!gate) return;
        if (!holding && (socketFull || queuedBytes >= highWaterMarkBytes)) {
          holding = true;
          gate.pause(holder);
        } else if (holding && !socketFull && queuedBytes <= lowWaterMarkBytes) {
          holding = false;
          gate.resume(holder);
        }
      };

      const report = (error: RivuletError): void => {
        if (!onConnectionError) {
          process.stderr.write(`rivulet: ${error.message}\n`);
          return;
        }
        try {
          onConnectionError(error);
        } catch (cause) {
          stop(callbackFailed(where0, 'onConnectionError', cause));
        }
      };

      const flush = (): void => {
        flushScheduled = false;
        const current = connection;
        if (closed || !current?.connected || ending) return;
        const { socket, unconfirmed } = current;
        while (!socketFull && head < queue.length) {
          const start = head;
          let bytes = 0;
          while (head < queue.length && (bytes === 0 || bytes + queue[head].length <= BATCH_BYTES)) bytes += queue[head++].length;
          const batch = head - start === 1 ? queue[start] : Buffer.concat(queue.slice(start, head), bytes);
          queuedBytes -= bytes;
          const entry = { batch, confirmed: false };
          unconfirmed.push(entry);
          const ok = socket.write(batch, (error) => {
            if (error) return;
            entry.confirmed = true;
            while (unconfirmed.length > 0 && unconfirmed[0].confirmed) unconfirmed.shift();
          });
          if (!ok) socketFull = true;
        }
        if (head === queue.length) {
          queue = [];
          head = 0;
        } else if (head > 1024 && head * 2 > queue.length) {
          queue = queue.slice(head);
          head = 0;
        }
        updateGate();
        if (sourceDone && queue.length === 0) finishWriting(current);
      };

      const scheduleFlush = (): void => {
        if (flushScheduled || socketFull || !connection?.connected) return;
        flushScheduled = true;
        // Values emitted in one burst (one chunk of a source) go out in one write.
        process.nextTick(flush);
      };

      const finishWriting = (current: Connection): void => {
        ending = true;
        current.socket.end(() => {
          endFlushed = true;
          // The peer normally closes once it has read our FIN; do not wait for ever if it does not.
          timers.add(scheduler.schedule(() => current.socket.destroy(), closeTimeoutMs));
        });
      };

      const connect = (): void => {
        const socket = createConnection({ host, port, allowHalfOpen: false });
        const current: Connection = { socket, connected: false, unconfirmed: [] };
        connection = current;
        socket.setTimeout(connectTimeoutMs);
        socket.on('timeout', () => socket.destroy(new Error(`not connected after ${connectTimeoutMs} ms (connectTimeoutMs)`)));
        socket.on('connect', () => {
          socket.setTimeout(0);
          socket.resume(); // anything the peer sends is discarded, and its FIN is seen
          current.connected = true;
          failedAttempts = 0;
          if (onConnect) {
            try {
              onConnect(peer);
            } catch (cause) {
              stop(callbackFailed(where0, 'onConnect', cause));
              return;
            }
          }
          flush();
        });
        socket.on('drain', () => {
          socketFull = false;
          flush();
          updateGate();
        });
        socket.on('error', (error) => {
          current.lastError = error;
        });
        socket.on('close', () => lost(current));
      };

      const lost = (current: Connection): void => {
        if (closed || connection !== current) return;
        connection = undefined;
        socketFull = false;
        if (endFlushed) {
          stop();
          return;
        }
        ending = false;
        const resend = current.unconfirmed.filter((entry) => !entry.confirmed).map((entry) => entry.batch);
        if (resend.length > 0) {
          queue = [...resend, ...queue.slice(head)];
          head = 0;
          for (const batch of resend) queuedBytes += batch.length;
          updateGate();
        }
        failedAttempts++;
        const reason = current.lastError ? (current.lastError as NodeJS.ErrnoException).code ?? current.lastError.message : 'closed by peer';
        const what = current.connected ? 'connection lost' : 'cannot connect';
        if (failedAttempts >= maxAttempts) {
          stop(new RivuletError('ERR_CONNECTION', `${where}: ${what} (${reason}); gave up after ${failedAttempts} consecutive failed attempts (maxAttempts)`, { cause: current.lastError }));
          return;
        }
        const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** (failedAttempts - 1));
        report(new RivuletError('ERR_CONNECTION', `${where}: ${what} (${reason}); retrying in ${delay} ms with ${queuedBytes} bytes buffered`, { cause: current.lastError }));
        if (closed) return;
        // A fired retry leaves the set, so an endless retry loop holds one timer, not all of them.
        let retry: Subscription | undefined;
        retry = scheduler.schedule(() => {
          if (retry !== undefined) timers.remove(retry);
          connect();
        }, delay);
        timers.add(retry);
      };

      connect();
      const sourceSubscription = source.subscribe({
        next: (value) => {
          if (closed) return;
          let frame: Buffer;
          try {
            frame = framing.encode(value);
          } catch (error) {
            const cause = error as RivuletError;
            stop(new RivuletError(cause.code ?? 'ERR_INVALID_VALUE', `${where}: ${cause.message}`, { cause }));
            return;
          }
          if (queuedBytes + frame.length > maxBufferedBytes) {
            const why = connection?.connected ? 'the peer is not reading fast enough' : 'the peer is unreachable';
            const advice = gate ? 'the source did not pause for the gate' : 'give the sink and its source a shared FlowGate';
            stop(new RivuletError('ERR_BUFFER_FULL', `${where}: buffer full (maxBufferedBytes ${maxBufferedBytes}): ${why} and ${advice}`));
            return;
          }
          queue.push(frame);
          queuedBytes += frame.length;
          updateGate();
          scheduleFlush();
        },
        error: (error) => stop(error),
        complete: () => {
          sourceDone = true;
          scheduleFlush();
        },
      });

      return () => {
        closed = true;
        sourceSubscription.unsubscribe();
        timers.unsubscribe();
        connection?.socket.destroy();
        connection = undefined;
        queue = [];
        if (holding) gate?.resume(holder);
      };
    });
}
