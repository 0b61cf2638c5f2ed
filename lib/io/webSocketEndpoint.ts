import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { SchedulerLike } from 'rxjs';
import { WebSocket, WebSocketServer } from 'ws';
import { callbackFailed, invalidOption, requireInteger, RivuletError } from '../core/errors';

/** Where and to whom a WebSocket server listens; shared by `webSocketBroadcast` and `webSocketListen`. */
export interface WebSocketEndpointOptions {
  /** Interface to bind when the server is ours; '127.0.0.1' by default. Ignored with `server`. */
  host?: string;
  /** Port to listen on when the server is ours; 0 (any free port) by default. Ignored with `server`. */
  port?: number;
  /**
   * An `http.Server` the caller owns (for example the one serving a dashboard page). The endpoint
   * handles its upgrade requests for `path` and never closes the server. Upgrade requests for
   * other paths are left to the server's other 'upgrade' listeners, or refused with 400 if the
   * endpoint is the only one.
   */
  server?: Server;
  /** The request path to accept, such as '/feed'; any path when absent. */
  path?: string;
  /** Told the bound address once the endpoint accepts connections. */
  onListening?: (address: AddressInfo) => void;
  /**
   * Which browser pages may connect, by their `Origin` header:
   * - `'same-host'` (the default): only pages served from the host and port the client asked
   *   for (the Origin's host equals the request's `Host`), such as a dashboard on the same server;
   * - exact values such as `['http://127.0.0.1:8080']`;
   * - `'*'`: any page (any web site the user opens could then connect and read or inject data).
   * A client with another origin is refused with 403 during the handshake and reported as
   * ERR_ORIGIN_NOT_ALLOWED.
   */
  allowedOrigins?: readonly string[] | 'same-host' | '*';
  /**
   * A request without an `Origin` header comes from a non-browser client (browsers always send
   * one); it is allowed unless this is true.
   */
  requireOrigin?: boolean;
  /** Largest message accepted from a client; a bigger one closes that client with 1009. */
  maxPayloadBytes?: number;
  /** Connections beyond this are refused with 503; 1000 by default. */
  maxClients?: number;
  /** Told about every problem that ends one client only (refused origin, oversized message, ...). */
  onClientError?: (error: RivuletError) => void;
}

export interface EndpointHandlers {
  /** A client completed its handshake. */
  connection: (ws: WebSocket, peer: string) => void;
  /** A handshake was refused (origin, capacity); the reason was already reported. */
  refused: (error: RivuletError) => void;
  /** The endpoint cannot serve at all (the port is taken): fatal for the stream. */
  fatal: (error: RivuletError) => void;
}

export interface Endpoint {
  /** Stops accepting, detaches from or closes the server; clients are the caller's business. */
  close(): void;
  /** Tells `onClientError` about a problem of one client; if that callback throws, it is fatal. */
  report(error: RivuletError): void;
}

/** Validates endpoint options; throws ERR_INVALID_OPTION naming `where`. */
export function checkEndpointOptions(where: string, options: WebSocketEndpointOptions): void {
  const { port = 0, server, allowedOrigins, maxPayloadBytes, maxClients, path } = options;
  if (!server && (!Number.isInteger(port) || port < 0 || port > 65535)) throw invalidOption(where, `port must be an integer 0..65535, got ${String(port)}`);
  const originList = Array.isArray(allowedOrigins) && allowedOrigins.every((o) => typeof o === 'string');
  if (allowedOrigins !== undefined && allowedOrigins !== 'same-host' && allowedOrigins !== '*' && !originList) {
    throw invalidOption(where, "allowedOrigins must be 'same-host', '*' or an array of origin strings");
  }
  if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) throw invalidOption(where, `path must start with '/', got ${String(path)}`);
  if (maxPayloadBytes !== undefined) requireInteger(where, 'maxPayloadBytes', maxPayloadBytes);
  if (maxClients !== undefined) requireInteger(where, 'maxClients', maxClients);
}

export function peerOf(socket: Socket | Duplex): string {
  const s = socket as Socket;
  return s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : 'unknown peer';
}

function refuse(socket: Duplex, status: number, reason: string): void {
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`);
  }
  socket.destroy();
}

/**
 * Accepts WebSocket connections, on a server of its own or on the caller's, applying the path,
 * origin and capacity checks before the handshake so a refused client costs nothing.
 */
export function openEndpoint(where: string, options: WebSocketEndpointOptions, defaultMaxPayloadBytes: number, handlers: EndpointHandlers): Endpoint {
  const { host = '127.0.0.1', port = 0, path, allowedOrigins = 'same-host', requireOrigin = false, maxClients = 1000, onClientError } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes ?? defaultMaxPayloadBytes });
  const server = options.server ?? createServer((_req, res) => res.writeHead(426, { 'Content-Type': 'text/plain' }).end('WebSocket only\n'));
  const owned = !options.server;
  const allowed = typeof allowedOrigins === 'string' ? undefined : new Set(allowedOrigins);
  const originAllowed = (origin: string, requestHost: string | undefined): boolean => {
    if (allowedOrigins === '*') return true;
    if (allowed !== undefined) return allowed.has(origin);
    try {
      return requestHost !== undefined && new URL(origin).host === requestHost.toLowerCase();
    } catch {
      return false; // not a URL: no page of ours
    }
  };
  const report = (error: RivuletError): void => {
    try {
      onClientError?.(error);
    } catch (err) {
      handlers.fatal(callbackFailed(where, 'onClientError', err));
    }
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (path !== undefined && pathname !== path) {
      if (owned || server.listenerCount('upgrade') === 1) refuse(socket, 400, 'Bad Request');
      return;
    }
    const peer = peerOf(socket);
    const origin = req.headers.origin;
    const originOk = origin === undefined ? !requireOrigin : originAllowed(origin, req.headers.host);
    if (!originOk) {
      const error = new RivuletError('ERR_ORIGIN_NOT_ALLOWED', `${where}: refused ${peer}: origin ${origin ?? '(none)'} is not allowed`);
      refuse(socket, 403, 'Forbidden');
      report(error);
      handlers.refused(error);
      return;
    }
    if (wss.clients.size >= maxClients) {
      const error = new RivuletError('ERR_CONNECTION', `${where}: refused ${peer}: already ${maxClients} clients`);
      refuse(socket, 503, 'Service Unavailable');
      report(error);
      handlers.refused(error);
      return;
    }
    socket.on('error', () => undefined); // a reset during the handshake concerns this client only
    wss.handleUpgrade(req, socket, head, (ws) => handlers.connection(ws, peer));
  };

  const announce = () => {
    const address = server.address();
    if (address && typeof address === 'object') options.onListening?.(address);
  };
  const onServerError = (err: Error) => {
    handlers.fatal(new RivuletError('ERR_CONNECTION', `${where}: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
  };

  server.on('upgrade', onUpgrade);
  if (owned) {
    server.on('error', onServerError);
    server.listen(port, host, announce);
  } else if (server.listening) {
    queueMicrotask(announce);
  } else {
    server.once('listening', announce);
  }

  let closed = false;
  return {
    report,
    close() {
      if (closed) return;
      closed = true;
      server.off('upgrade', onUpgrade);
      server.off('listening', announce);
      wss.close();
      if (owned) {
        server.close();
        server.closeAllConnections();
      }
    },
  };
}

/** Closes a client politely, and for good if it does not answer within `graceMs` of `scheduler` time. */
export function closeClient(ws: WebSocket, code: number, reason: string, graceMs: number, scheduler: SchedulerLike): void {
  if (ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED) return;
  ws.close(code, reason);
  const timer = scheduler.schedule(() => ws.terminate(), graceMs);
  ws.once('close', () => timer.unsubscribe());
}
