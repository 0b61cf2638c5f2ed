import * as net from 'node:net';
import { Observable, Subscriber } from 'rxjs';
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
}

export interface TcpListenOptions extends TcpSourceOptions {
  /** Emit `{ peer, data }` instead of bare payloads. */
  tagPeer?: boolean;
  /** Called once the server listens, with the bound address (how a caller of port 0 learns it). */
  onListening?: (address: SocketAddress) => void;
  /**
   * Called when one connection fails (bad frame, socket error, idle timeout, refused over
   * `maxConnections`); that connection is closed, the others go on. Without it, one line naming
   * the peer and the reason goes to stderr.
   */
  onConnectionError?: (error: RivuletError, peer: string) => void;
  /** Close a connection that sends nothing for this long (not counted while the gate is paused). 0 (default) = never. */
  idleTimeoutMs?: number;
  /** Connections above this many are closed at once and reported. Default 1024. */
  maxConnections?: number;
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

function checkCommon(where: string, options: TcpSourceOptions): void {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
    throw invalidOption(where, `port must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
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
  checkCommon(where0, options);
  const { host = '127.0.0.1', port, raw = false, tagPeer = false, gate, onListening, onConnectionError } = options;
  const framing = options.framing ?? lengthPrefixed();
  const idleTimeoutMs = options.idleTimeoutMs ?? 0;
  requireInteger(where0, 'idleTimeoutMs', idleTimeoutMs, true);
  const maxConnections = options.maxConnections ?? 1024;
  requireInteger(where0, 'maxConnections', maxConnections);
  const createServer = options.createServer ?? net.createServer;

  return new Observable<TcpListenValue>((subscriber) => {
    let where = `tcpListen ${formatSocketAddress(host, port)}`;
    const sockets = new Set<net.Socket>();
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

    const server = createServer({ allowHalfOpen: false });
    server.maxConnections = maxConnections;
    server.on('connection', (socket) => {
      const peer = formatSocketAddress(socket.remoteAddress, socket.remotePort);
      sockets.add(socket);
      let failed = false;
      const drop = (error: RivuletError): void => {
        if (failed) return;
        failed = true;
        socket.destroy();
        report(error, peer);
      };
      const emit = (value: unknown): void => subscriber.next(value as TcpListenValue);
      const decoder = frameDecoder(framing, raw, peer, emit, tagPeer);
      const connectionError = (reason: string) => `connection from ${peer} failed: ${reason}`;
      socket.on('data', (chunk: Buffer) => {
        if (failed) return;
        try {
          decoder.push(chunk);
        } catch (error) {
          drop(asRivuletError(error, connectionError));
        }
      });
      socket.on('end', () => {
        try {
          decoder.end();
        } catch (error) {
          drop(asRivuletError(error, connectionError));
        }
      });
      socket.on('error', (error) => drop(asRivuletError(error, connectionError)));
      socket.on('timeout', () =>
        drop(new RivuletError('ERR_CONNECTION', `connection from ${peer} sent nothing for ${idleTimeoutMs} ms (idleTimeoutMs): closed`)),
      );
      socket.on('close', () => sockets.delete(socket));
      follow(socket, gate?.paused ?? false, idleTimeoutMs);
    });
    server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
      const peer = formatSocketAddress(data?.remoteAddress, data?.remotePort);
      report(new RivuletError('ERR_CONNECTION', `refused a connection from ${peer}: maxConnections ${maxConnections} reached`), peer);
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
    const stopFollowing = gate?.onChange((paused) => {
      for (const socket of sockets) follow(socket, paused, idleTimeoutMs);
    });

    return () => {
      closed = true;
      stopFollowing?.();
      server.close();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    };
  });
}

/**
 * Pauses or resumes a socket after the gate. The idle timer is off while paused: a socket we
 * stopped reading from is not idle by the peer's fault.
 */
function follow(socket: net.Socket, paused: boolean, idleTimeoutMs: number): void {
  if (paused) {
    socket.pause();
    if (idleTimeoutMs > 0) socket.setTimeout(0);
  } else {
    socket.resume();
    if (idleTimeoutMs > 0) socket.setTimeout(idleTimeoutMs);
  }
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
 * ERR_FRAME_TRUNCATED; a bad frame errors with ERR_FRAME_TOO_LARGE or ERR_INVALID_UTF8. While
 * `gate` is paused the socket is paused.
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
  checkCommon(where0, options);
  const { host = '127.0.0.1', port, raw = false, gate } = options;
  const framing = options.framing ?? lengthPrefixed();
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  requireInteger(where0, 'connectTimeoutMs', connectTimeoutMs);
  const createConnection = options.createConnection ?? net.createConnection;
  const where = `tcpConnect ${formatSocketAddress(host, port)}`;

  return new Observable<string | Buffer>((subscriber: Subscriber<string | Buffer>) => {
    let done = false;
    const finish = (error?: RivuletError): void => {
      if (done) return;
      done = true;
      socket.destroy();
      if (error) subscriber.error(error);
      else subscriber.complete();
    };
    const socket = createConnection({ host, port, allowHalfOpen: false });
    const decoder = frameDecoder(framing, raw, formatSocketAddress(host, port), (value) => subscriber.next(value as string | Buffer), false);
    const connectionError = (reason: string) => `${where}: ${reason}`;

    socket.setTimeout(connectTimeoutMs);
    socket.on('timeout', () => finish(new RivuletError('ERR_CONNECTION', `${where}: not connected after ${connectTimeoutMs} ms (connectTimeoutMs)`)));
    socket.on('connect', () => socket.setTimeout(0));
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      try {
        decoder.push(chunk);
      } catch (error) {
        finish(asRivuletError(error, connectionError));
      }
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

    const stopFollowing = gate?.onChange((paused) => follow(socket, paused, 0));
    if (gate?.paused) socket.pause();

    return () => {
      stopFollowing?.();
      done = true;
      socket.destroy();
    };
  });
}
