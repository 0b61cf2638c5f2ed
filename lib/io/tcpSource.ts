import * as net from 'node:net';
import { Observable, SchedulerLike, Subscriber, Subscription, asyncScheduler } from 'rxjs';
import { RivuletError, callbackFailed, invalidOption, requireInteger } from '../core/errors';
import { FlowGate } from '../core/flowGate';
import { FrameDecoder, Framing, lengthPrefixed } from './framing';
import { SocketAddress, formatSocketAddress } from './socketAddress';

/** A frame together with the connection it came from (`tagPeer: true`). */
export interface PeerFrame<T> {
  /** The sending peer as `ip:port` (`[ip]:port` for IPv6). */
  peer: string;
  /** The frame's number on its connection, from 1: with `peer`, where a bad record came from. */
  frame: number;
  data: T;
}

/** The default `idleTimeoutMs` of TCP sources: 30 s without a complete frame closes a connection. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** The default `maxPartialBytes` of `tcpListen`: 16 MiB of unfinished frames over all connections. */
export const DEFAULT_MAX_PARTIAL_BYTES = 16 * 1_048_576;

interface TcpSourceOptions {
  /** Host to bind or connect to. Default '127.0.0.1'. */
  host?: string;
  /** Port to bind (0 picks a free one) or connect to. */
  port: number;
  /** How the byte stream is cut into frames. Default `lengthPrefixed()` (Wallaroo's). */
  framing?: Framing;
  /** Emit payloads as Buffers instead of UTF-8 strings (no UTF-8 check then). */
  raw?: boolean;
  /** While this gate is paused, sockets stop reading and TCP flow control slows the sender. */
  gate?: FlowGate;
  /**
   * Close a connection that completes no frame for this long: a peer that sends nothing, or a
   * byte now and then without ever finishing a frame, cannot hold a connection for ever. Time
   * while `gate` is paused does not count (we stopped reading, not the peer). Default 30 000;
   * 0 = never.
   */
  idleTimeoutMs?: number;
  /** The clock of the idle timeout (and of `tcpListen`'s eviction). Default `asyncScheduler` (real time). */
  scheduler?: SchedulerLike;
}

export interface TcpListenOptions extends TcpSourceOptions {
  /** Emit `{ peer, data }` instead of bare payloads. */
  tagPeer?: boolean;
  /** Called once the server listens, with the bound address (how a caller of port 0 learns it). */
  onListening?: (address: SocketAddress) => void;
  /**
   * Called when one connection fails (bad frame, socket error, idle timeout, a limit below); that
   * connection is closed, the others go on. Without it, one line naming the peer and the reason
   * goes to stderr.
   */
  onConnectionError?: (error: RivuletError, peer: string) => void;
  /** Open connections at most. Default 1024. See `evictIdleAfterMs` for what happens at the limit. */
  maxConnections?: number;
  /** Open connections from one IP address at most, so one host cannot take every slot. Default 64. */
  maxConnectionsPerAddress?: number;
  /**
   * Bytes of unfinished frames held over all connections at most (each connection is also bound
   * by the framing's `maxFrameBytes`). A connection whose data would pass it is closed with
   * ERR_BUFFER_FULL, after idle holders have been closed to make room. At least the framing's
   * `maxFrameBytes` + 4, so that one whole frame always fits. Default 16 MiB.
   */
  maxPartialBytes?: number;
  /**
   * At a limit (`maxConnections`, `maxConnectionsPerAddress`, `maxPartialBytes`), the
   * connection that has gone longest without a complete frame is closed to make room, if that
   * is at least this long; otherwise the newcomer is refused (reset, so its sender knows) or the
   * connection passing `maxPartialBytes` is closed. Never while `gate` is paused. Default 1 000.
   */
  evictIdleAfterMs?: number;
  /** Makes the server; defaults to `net.createServer`. */
  createServer?: (options: net.ServerOpts) => net.Server;
}

export interface TcpConnectOptions extends TcpSourceOptions {
  /** Give up if the connection is not established within this time. Default 10 000. */
  connectTimeoutMs?: number;
  /** Opens the socket; defaults to `net.createConnection`. */
  createConnection?: (options: net.NetConnectOpts) => net.Socket;
}

/** Anything `tcpListen` may emit, depending on `raw` and `tagPeer`. */
export type TcpListenValue = string | Buffer | PeerFrame<string> | PeerFrame<Buffer>;

function checkCommon(where: string, options: TcpSourceOptions): { idleTimeoutMs: number; scheduler: SchedulerLike } {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
    throw invalidOption(where, `port must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  requireInteger(where, 'idleTimeoutMs', idleTimeoutMs, true);
  return { idleTimeoutMs, scheduler: options.scheduler ?? asyncScheduler };
}

/** Makes the decoder that emits each frame of one connection, as text or raw, tagged or not. */
function frameDecoder(framing: Framing, raw: boolean, peer: string, emit: (value: unknown) => void, tag: boolean): FrameDecoder {
  let frame = 0;
  const out = tag ? (data: unknown) => emit({ peer, frame: ++frame, data }) : emit;
  return raw ? framing.decoder(out, { peer }) : framing.textDecoder(out, { peer });
}

function asRivuletError(error: unknown, wrap: (reason: string) => string): RivuletError {
  if (error instanceof RivuletError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new RivuletError('ERR_CONNECTION', wrap(reason), { cause: error });
}

/** One accepted connection of `tcpListen`, with what the limits need to know about it. */
interface Connection {
  readonly socket: net.Socket;
  readonly peer: string;
  /** The peer's IP address, the key of `maxConnectionsPerAddress`. */
  readonly address: string;
  readonly decoder: FrameDecoder;
  /** Accept order, to break ties between connections equally idle. */
  readonly seq: number;
  /** When it was accepted or last completed a frame (or the gate last resumed), on the scheduler. */
  lastActive: number;
  /** Its decoder's pendingBytes as last counted in the total. */
  held: number;
  /** Closed by us (a failure or a limit) or gone: no longer counted anywhere. */
  done: boolean;
  timer: Subscription | undefined;
}

/**
 * Emits the frames of every connection made to a TCP server, as Wallaroo's TCP source does.
 *
 * Like a socket server whose `'data'` events go through a framing decoder and are merged into
 * one observable, but lazy (the server listens on subscribe and closes on unsubscribe), with
 * limits, and with backpressure through a {@link FlowGate}. Frames of one connection keep their
 * order; frames of different connections interleave as they arrive.
 *
 * ```text
 * connection 1:  --a----b-------|
 * connection 2:  ------x---y--#        (# = bad frame: that connection is closed and reported)
 * tcpListen:     --a---x-b-y-------   (never completes by itself)
 * ```
 *
 * A failing connection (frame above `maxFrameBytes`, frame truncated by a disconnect, invalid
 * UTF-8, socket error, idle timeout) is destroyed and reported through `onConnectionError`
 * (stderr by default); the frames it sent before the failure are emitted; the server and the
 * other connections go on. The observable errors (ERR_CONNECTION) only if the server itself
 * fails, e.g. the port is in use, or ERR_CALLBACK_FAILED if a callback throws. It never
 * completes: a server has no natural end. Unsubscribing closes the server and destroys every
 * connection. While `gate` is paused every socket is paused (a chunk already read is still
 * delivered in full), so the kernel buffers fill and TCP slows the senders down.
 *
 * Limits, so that peers who connect and then do nothing useful cannot lock out real senders or
 * exhaust memory: a connection that completes no frame for `idleTimeoutMs` (30 s) is closed; at
 * most `maxConnections` (1024) connections, `maxConnectionsPerAddress` (64) from one address,
 * and `maxPartialBytes` (16 MiB) of unfinished frames over all of them. At a limit the most idle
 * connection makes room if it has been idle for `evictIdleAfterMs` (1 s); otherwise a newcomer
 * is refused with a reset (its sender sees ECONNRESET, not a silent close) and a connection that
 * would pass `maxPartialBytes` is closed (ERR_BUFFER_FULL). Each is reported, naming the peer.
 *
 * ```ts
 * tcpListen({ port: 8002, onListening: (a) => console.log('listening on', a.port) })
 *   .subscribe((line) => console.log(line));
 * // a sender writes the frames 'GET /' and 'END_OF_DAY'; output:
 * // listening on 8002
 * // GET /
 * // END_OF_DAY
 * ```
 */
export function tcpListen(options: TcpListenOptions & { raw?: false; tagPeer?: false }): Observable<string>;
export function tcpListen(options: TcpListenOptions & { raw: true; tagPeer?: false }): Observable<Buffer>;
export function tcpListen(options: TcpListenOptions & { raw?: false; tagPeer: true }): Observable<PeerFrame<string>>;
export function tcpListen(options: TcpListenOptions & { raw: true; tagPeer: true }): Observable<PeerFrame<Buffer>>;
export function tcpListen(options: TcpListenOptions): Observable<TcpListenValue>;
export function tcpListen(options: TcpListenOptions): Observable<TcpListenValue> {
  const where0 = 'tcpListen';
  const { idleTimeoutMs, scheduler } = checkCommon(where0, options);
  const { host = '127.0.0.1', port, raw = false, tagPeer = false, gate, onListening, onConnectionError } = options;
  const framing = options.framing ?? lengthPrefixed();
  const maxConnections = options.maxConnections ?? 1024;
  requireInteger(where0, 'maxConnections', maxConnections);
  const maxPerAddress = options.maxConnectionsPerAddress ?? 64;
  requireInteger(where0, 'maxConnectionsPerAddress', maxPerAddress);
  const maxPartialBytes = options.maxPartialBytes ?? Math.max(DEFAULT_MAX_PARTIAL_BYTES, framing.maxFrameBytes + 4);
  requireInteger(where0, 'maxPartialBytes', maxPartialBytes);
  if (maxPartialBytes < framing.maxFrameBytes + 4) {
    throw invalidOption(where0, `maxPartialBytes ${maxPartialBytes} leaves no room for one whole frame: at least the framing's maxFrameBytes + 4 (${framing.maxFrameBytes + 4})`);
  }
  const evictIdleAfterMs = options.evictIdleAfterMs ?? 1000;
  requireInteger(where0, 'evictIdleAfterMs', evictIdleAfterMs, true);
  const createServer = options.createServer ?? net.createServer;

  return new Observable<TcpListenValue>((subscriber) => {
    let where = `tcpListen ${formatSocketAddress(host, port)}`;
    const connections = new Set<Connection>();
    const byAddress = new Map<string, Set<Connection>>();
    let partialBytes = 0;
    let accepted = 0;
    let paused = gate?.paused ?? false;
    let closed = false;

    const fail = (error: RivuletError): void => {
      if (closed) return;
      subscriber.error(error);
    };
    const report = (error: RivuletError, peer: string): void => {
      if (closed) return;
      if (!onConnectionError) {
        process.stderr.write(`rivulet: ${where}: ${error.message}\n`);
        return;
      }
      try {
        onConnectionError(error, peer);
      } catch (cause) {
        fail(callbackFailed(where0, 'onConnectionError', cause));
      }
    };

    /** Stops counting a connection against the limits (it failed, was closed, or went away). */
    const release = (connection: Connection): void => {
      if (connection.done) return;
      connection.done = true;
      connections.delete(connection);
      const sameAddress = byAddress.get(connection.address);
      sameAddress?.delete(connection);
      if (sameAddress?.size === 0) byAddress.delete(connection.address);
      partialBytes -= connection.held;
      connection.held = 0;
      connection.timer?.unsubscribe();
    };
    const drop = (connection: Connection, error: RivuletError): void => {
      if (connection.done) return;
      release(connection);
      connection.socket.destroy();
      report(error, connection.peer);
    };

    /** The connection of `among` idle longest, if it has been idle for `evictIdleAfterMs`. */
    const mostIdle = (among: Iterable<Connection>, eligible: (c: Connection) => boolean = () => true): Connection | undefined => {
      if (paused) return undefined;
      const now = scheduler.now();
      let found: Connection | undefined;
      for (const c of among) {
        if (now - c.lastActive < evictIdleAfterMs || !eligible(c)) continue;
        if (found === undefined || c.lastActive < found.lastActive || (c.lastActive === found.lastActive && c.seq < found.seq)) found = c;
      }
      return found;
    };
    const evict = (victim: Connection, limit: string): void => {
      const idleFor = scheduler.now() - victim.lastActive;
      drop(victim, new RivuletError('ERR_CONNECTION', `connection from ${victim.peer} closed to make room (${limit}): it had completed no frame for ${idleFor} ms, the longest of all`));
    };

    /** Makes room for a new connection from `address`, or says why there is none. */
    const admit = (address: string, peer: string): RivuletError | undefined => {
      const sameAddress = byAddress.get(address);
      if (sameAddress !== undefined && sameAddress.size >= maxPerAddress) {
        const victim = mostIdle(sameAddress);
        const limit = `maxConnectionsPerAddress ${maxPerAddress} reached for ${address}`;
        if (victim === undefined) return new RivuletError('ERR_CONNECTION', `refused a connection from ${peer}: ${limit}`);
        evict(victim, limit);
      }
      if (connections.size >= maxConnections) {
        const victim = mostIdle(connections);
        const limit = `maxConnections ${maxConnections} reached`;
        if (victim === undefined) return new RivuletError('ERR_CONNECTION', `refused a connection from ${peer}: ${limit}`);
        evict(victim, limit);
      }
      return undefined;
    };

    /** Counts what `connection` now holds of an unfinished frame against `maxPartialBytes`. */
    const account = (connection: Connection): void => {
      if (connection.done) return;
      const held = connection.decoder.pendingBytes;
      partialBytes += held - connection.held;
      connection.held = held;
      if (partialBytes <= maxPartialBytes) return;
      const limit = `maxPartialBytes ${maxPartialBytes}`;
      for (;;) {
        const victim = mostIdle(connections, (c) => c !== connection && c.held > 0);
        if (victim === undefined) break;
        evict(victim, limit);
        if (partialBytes <= maxPartialBytes) return;
      }
      drop(connection, new RivuletError(
        'ERR_BUFFER_FULL',
        `connection from ${connection.peer} closed: its unfinished frame (${held} bytes so far) would take the unfinished frames of all connections to ${partialBytes} bytes, above ${limit}`,
      ));
    };

    const watchIdle = (connection: Connection, delayMs: number): void => {
      connection.timer = scheduler.schedule(() => {
        if (connection.done || closed) return;
        const idleFor = paused ? 0 : scheduler.now() - connection.lastActive;
        if (idleFor < idleTimeoutMs) return watchIdle(connection, idleTimeoutMs - idleFor);
        drop(connection, new RivuletError('ERR_CONNECTION', `connection from ${connection.peer} completed no frame in ${idleTimeoutMs} ms (idleTimeoutMs): closed`));
      }, delayMs);
    };

    const server = createServer({ allowHalfOpen: false });
    server.on('connection', (socket) => {
      socket.on('error', () => undefined); // reported from the listeners below, or of no interest once refused
      if (closed || socket.remoteAddress === undefined) {
        socket.destroy();
        return;
      }
      const address = socket.remoteAddress;
      const peer = formatSocketAddress(address, socket.remotePort);
      const refusal = admit(address, peer);
      if (refusal !== undefined) {
        // A reset, not a FIN: the sender's next read or write fails, so it cannot take the
        // refusal for a listener that read everything and closed.
        socket.resetAndDestroy();
        report(refusal, peer);
        return;
      }
      const emit = (value: unknown): void => subscriber.next(value as TcpListenValue);
      const connection: Connection = {
        socket,
        peer,
        address,
        decoder: frameDecoder(framing, raw, peer, emit, tagPeer),
        seq: accepted++,
        lastActive: scheduler.now(),
        held: 0,
        done: false,
        timer: undefined,
      };
      connections.add(connection);
      const sameAddress = byAddress.get(address);
      if (sameAddress === undefined) byAddress.set(address, new Set([connection]));
      else sameAddress.add(connection);

      const { decoder } = connection;
      const connectionError = (reason: string) => `connection from ${peer} failed: ${reason}`;
      socket.on('data', (chunk: Buffer) => {
        if (connection.done) return;
        const before = decoder.frames;
        try {
          decoder.push(chunk);
        } catch (error) {
          drop(connection, asRivuletError(error, connectionError));
          return;
        }
        if (closed) return;
        if (decoder.frames !== before) connection.lastActive = scheduler.now();
        account(connection);
      });
      socket.on('end', () => {
        if (connection.done) return;
        try {
          decoder.end();
        } catch (error) {
          drop(connection, asRivuletError(error, connectionError));
        }
      });
      socket.on('error', (error) => drop(connection, asRivuletError(error, connectionError)));
      socket.on('close', () => release(connection));
      if (idleTimeoutMs > 0) watchIdle(connection, idleTimeoutMs);
      follow(socket, paused);
    });
    server.on('error', (error) => {
      fail(new RivuletError('ERR_CONNECTION', `${where}: server failed: ${error.message}`, { cause: error }));
    });
    server.listen({ host, port }, () => {
      const address = server.address() as net.AddressInfo;
      where = `tcpListen ${formatSocketAddress(address.address, address.port)}`;
      if (!onListening) return;
      try {
        onListening({ host: address.address, port: address.port });
      } catch (cause) {
        fail(callbackFailed(where0, 'onListening', cause));
      }
    });
    const stopFollowing = gate?.onChange((nowPaused) => {
      paused = nowPaused;
      // Time spent paused is ours, not the peers': every connection starts its idle time afresh.
      if (!nowPaused) {
        const now = scheduler.now();
        for (const connection of connections) connection.lastActive = now;
      }
      for (const connection of connections) follow(connection.socket, nowPaused);
    });

    return () => {
      closed = true;
      stopFollowing?.();
      server.close();
      for (const connection of [...connections]) {
        release(connection);
        connection.socket.destroy();
      }
    };
  });
}

/** Pauses or resumes a socket after the gate. */
function follow(socket: net.Socket, paused: boolean): void {
  if (paused) socket.pause();
  else socket.resume();
}

/**
 * Connects to a TCP server and emits the frames it sends: the client side of {@link tcpListen}.
 *
 * Like `net.connect` with a framing decoder on `'data'`, but lazy (connects on subscribe,
 * destroys the socket on unsubscribe) and honest about how the connection ended.
 *
 * ```text
 * server sends:  --a--b--(FIN)         --a--(RST)            --a--b(half a frame, FIN)
 * tcpConnect:    --a--b--|             --a--#                --a--b#
 * ```
 *
 * The server closing cleanly, at a frame boundary, completes (newline framing: a last line
 * without `\n` is emitted first). A refused or timed-out connection, a reset, or any socket error
 * errors with ERR_CONNECTION naming `host:port`; a close in the middle of a frame errors with
 * ERR_FRAME_TRUNCATED; a bad frame errors with ERR_FRAME_TOO_LARGE or ERR_INVALID_UTF8; a server
 * that completes no frame for `idleTimeoutMs` (30 s by default; 0 for a server that is quiet
 * for long by design) errors with ERR_CONNECTION. While `gate` is paused the socket is paused.
 *
 * ```ts
 * tcpConnect({ port: 7002, framing: newlineDelimited() }).subscribe({
 *   next: (line) => console.log(line),
 *   complete: () => console.log('server closed'),
 * });
 * // a server on 7002 sends "hello\n" and closes; output:
 * // hello
 * // server closed
 * ```
 */
export function tcpConnect(options: TcpConnectOptions & { raw?: false }): Observable<string>;
export function tcpConnect(options: TcpConnectOptions & { raw: true }): Observable<Buffer>;
export function tcpConnect(options: TcpConnectOptions): Observable<string | Buffer>;
export function tcpConnect(options: TcpConnectOptions): Observable<string | Buffer> {
  const where0 = 'tcpConnect';
  const { idleTimeoutMs, scheduler } = checkCommon(where0, options);
  const { host = '127.0.0.1', port, raw = false, gate } = options;
  const framing = options.framing ?? lengthPrefixed();
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  requireInteger(where0, 'connectTimeoutMs', connectTimeoutMs);
  const createConnection = options.createConnection ?? net.createConnection;
  const where = `tcpConnect ${formatSocketAddress(host, port)}`;

  return new Observable<string | Buffer>((subscriber: Subscriber<string | Buffer>) => {
    let done = false;
    let paused = gate?.paused ?? false;
    let lastActive = 0;
    let idleTimer: Subscription | undefined;
    const finish = (error?: RivuletError): void => {
      if (done) return;
      done = true;
      idleTimer?.unsubscribe();
      socket.destroy();
      if (error) subscriber.error(error);
      else subscriber.complete();
    };
    const watchIdle = (delayMs: number): void => {
      idleTimer = scheduler.schedule(() => {
        if (done) return;
        const idleFor = paused ? 0 : scheduler.now() - lastActive;
        if (idleFor < idleTimeoutMs) return watchIdle(idleTimeoutMs - idleFor);
        finish(new RivuletError('ERR_CONNECTION', `${where}: the server completed no frame in ${idleTimeoutMs} ms (idleTimeoutMs)`));
      }, delayMs);
    };
    const socket = createConnection({ host, port, allowHalfOpen: false });
    const decoder = frameDecoder(framing, raw, formatSocketAddress(host, port), (value) => subscriber.next(value as string | Buffer), false);
    const connectionError = (reason: string) => `${where}: ${reason}`;

    socket.setTimeout(connectTimeoutMs);
    socket.on('timeout', () => finish(new RivuletError('ERR_CONNECTION', `${where}: not connected after ${connectTimeoutMs} ms (connectTimeoutMs)`)));
    socket.on('connect', () => {
      socket.setTimeout(0);
      lastActive = scheduler.now();
      if (idleTimeoutMs > 0) watchIdle(idleTimeoutMs);
    });
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      const before = decoder.frames;
      try {
        decoder.push(chunk);
      } catch (error) {
        finish(asRivuletError(error, connectionError));
        return;
      }
      if (decoder.frames !== before) lastActive = scheduler.now();
    });
    socket.on('end', () => {
      try {
        decoder.end();
        finish();
      } catch (error) {
        finish(asRivuletError(error, connectionError));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'ECONNREFUSED' ? 'connection refused' : error.code === 'ECONNRESET' ? 'connection reset by peer' : error.message;
      finish(new RivuletError('ERR_CONNECTION', `${where}: ${reason}`, { cause: error }));
    });
    socket.on('close', () => finish(new RivuletError('ERR_CONNECTION', `${where}: socket closed without a clean end`)));

    const stopFollowing = gate?.onChange((nowPaused) => {
      paused = nowPaused;
      if (!nowPaused) lastActive = scheduler.now();
      follow(socket, nowPaused);
    });
    if (paused) socket.pause();

    return () => {
      stopFollowing?.();
      done = true;
      idleTimer?.unsubscribe();
      socket.destroy();
    };
  });
}
