import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { asyncScheduler, SchedulerLike, Subscription } from 'rxjs';
import type { WebSocket } from 'ws';
import { wsModule } from './wsModule';
import { callbackFailed, invalidOption, requireInteger, RivuletError } from '../core/errors';
import { allowedHostNames, hostCheck, HostCheck } from './hostCheck';

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
  /**
   * More names the server may be asked for by, in the `Host` header (the port aside): for an
   * endpoint reached through a DNS name or a proxy. Always allowed: the address it is bound to;
   * for a loopback bind also `localhost`, `127.0.0.1` and `[::1]`; for a wildcard bind (0.0.0.0,
   * ::) those and the machine's interface addresses. Any other `Host`, or none, is refused with
   * 421 during the handshake and reported as ERR_HOST_NOT_ALLOWED: after DNS rebinding, a page
   * of another site arrives under its own name with a matching `Origin`, which the same-host
   * Origin check alone would let through.
   */
  allowedHosts?: readonly string[];
  /**
   * Clients at most; 1000 by default. A newcomer beyond it is refused with 503, unless a client
   * can be closed to make room (see `maxClientsPerAddress`).
   */
  maxClients?: number;
  /**
   * Clients from one IP address at most, so that one host cannot take every slot; 16 by default.
   * At this limit or at `maxClients`, the worst client (of that address, or of all) is closed
   * with 1013 to make room, if there is one that is unresponsive (left a ping unanswered for a
   * heartbeat), slow (has messages waiting behind a full socket) or, for `webSocketListen`, idle;
   * else the newcomer is refused with 503. Each is reported to `onClientError`, naming the peer.
   */
  maxClientsPerAddress?: number;
  /**
   * Every client is pinged this often; one that has not answered by the next ping is
   * unresponsive (it does not read, or it is gone without a word), the first to make room at a
   * limit. Browsers and `ws` answer pings by themselves. 10 000 ms by default; 0: no pings.
   */
  heartbeatMs?: number;
  /**
   * The clock of every timer: pings, the grace a closing client gets before it is terminated,
   * and the idle time of eviction. Default `asyncScheduler` (real time).
   */
  scheduler?: SchedulerLike;
  /**
   * Told about every problem that ends or refuses one client only: a refused Origin or Host, a
   * full server, an oversized message, a slow client, a client closed to make room.
   */
  onClientError?: (error: RivuletError) => void;
}

export interface EndpointHandlers {
  /** A client completed its handshake. */
  connection: (ws: WebSocket, peer: string) => void;
  /** A handshake was refused (host, origin, capacity); the reason was already reported. */
  refused: (error: RivuletError) => void;
  /** The endpoint cannot serve at all (the port is taken): fatal for the stream. */
  fatal: (error: RivuletError) => void;
  /** Bytes `ws` has waiting behind a full socket, 0 while it keeps up: how slow it is. */
  backlog?: (ws: WebSocket) => number;
  /**
   * `ws` is to be closed to make room for a newcomer; `error` says why, naming both peers. Its
   * slot is free already; the owner closes it (with 1013) and reports.
   */
  evict: (ws: WebSocket, error: RivuletError) => void;
}

/** What differs between the endpoint's owners. */
export interface EndpointSettings {
  readonly defaultMaxPayloadBytes: number;
  /** For a source: a client that has sent no message for this long is idle, and may make room. */
  readonly idleAfterMs?: number;
  /**
   * While true, clients are not read (a source's gate is paused): neither their silence nor
   * their unanswered pings count against them, since we would not see their answers.
   */
  readonly paused?: () => boolean;
}

export interface Endpoint {
  /** Stops accepting, detaches from or closes the server; clients are the caller's business. */
  close(): void;
  /** Tells `onClientError` about a problem of one client; if that callback throws, it is fatal. */
  report(error: RivuletError): void;
  /** `ws` sent a message (or we start reading it again after a pause): it is not idle. */
  active(ws: WebSocket): void;
}

/** Validates endpoint options; throws ERR_INVALID_OPTION naming `where`. */
export function checkEndpointOptions(where: string, options: WebSocketEndpointOptions): void {
  const { port = 0, server, allowedOrigins, maxPayloadBytes, maxClients, maxClientsPerAddress, heartbeatMs, path } = options;
  if (!server && (!Number.isInteger(port) || port < 0 || port > 65535)) throw invalidOption(where, `port must be an integer 0..65535, got ${String(port)}`);
  const originList = Array.isArray(allowedOrigins) && allowedOrigins.every((o) => typeof o === 'string');
  if (allowedOrigins !== undefined && allowedOrigins !== 'same-host' && allowedOrigins !== '*' && !originList) {
    throw invalidOption(where, "allowedOrigins must be 'same-host', '*' or an array of origin strings");
  }
  if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) throw invalidOption(where, `path must start with '/', got ${String(path)}`);
  if (maxPayloadBytes !== undefined) requireInteger(where, 'maxPayloadBytes', maxPayloadBytes);
  if (maxClients !== undefined) requireInteger(where, 'maxClients', maxClients);
  if (maxClientsPerAddress !== undefined) requireInteger(where, 'maxClientsPerAddress', maxClientsPerAddress);
  if (heartbeatMs !== undefined) requireInteger(where, 'heartbeatMs', heartbeatMs, true);
  allowedHostNames(where, options.allowedHosts);
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

/** One connected client, with what the limits need to know about it. */
interface Client {
  readonly ws: WebSocket;
  readonly peer: string;
  /** The peer's IP address, the key of `maxClientsPerAddress`. */
  readonly address: string;
  /** Connection order, to break ties. */
  readonly seq: number;
  /** When it connected or last sent a message, on the scheduler. */
  lastActive: number;
  /** When the oldest ping it has not answered was sent. */
  pingedAt: number | undefined;
  /** It let a whole heartbeat pass without answering a ping. */
  unresponsive: boolean;
}

/**
 * Accepts WebSocket connections, on a server of its own or on the caller's, applying the path,
 * Host, Origin and capacity checks before the handshake so a refused client costs nothing.
 */
export function openEndpoint(where: string, options: WebSocketEndpointOptions, settings: EndpointSettings, handlers: EndpointHandlers): Endpoint {
  const { host = '127.0.0.1', port = 0, path, allowedOrigins = 'same-host', requireOrigin = false, maxClients = 1000, onClientError } = options;
  const { maxClientsPerAddress = 16, heartbeatMs = 10_000, scheduler = asyncScheduler } = options;
  const wss = new (wsModule().WebSocketServer)({ noServer: true, maxPayload: options.maxPayloadBytes ?? settings.defaultMaxPayloadBytes });
  const server = options.server ?? createServer((_req, res) => res.writeHead(426, { 'Content-Type': 'text/plain' }).end('WebSocket only\n'));
  const owned = !options.server;
  const extraHosts = allowedHostNames(where, options.allowedHosts);
  // Known once the server listens; until then no name is allowed (and no upgrade can come).
  let hosts: HostCheck | undefined;
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

  const clients = new Map<WebSocket, Client>();
  const byAddress = new Map<string, Set<Client>>();
  let connected = 0;
  let heartbeat: Subscription | undefined;
  let closed = false;

  const release = (client: Client): void => {
    if (!clients.delete(client.ws)) return;
    const sameAddress = byAddress.get(client.address);
    sameAddress?.delete(client);
    if (sameAddress?.size === 0) byAddress.delete(client.address);
  };

  /** Pings every client; one that has not answered the previous ping is unresponsive. */
  const beat = (): void => {
    heartbeat = undefined;
    if (closed || clients.size === 0) return;
    const now = scheduler.now();
    const paused = settings.paused?.() ?? false;
    for (const client of clients.values()) {
      if (paused) {
        // Its answer may be waiting unread: ask again once we read.
        client.pingedAt = undefined;
        client.unresponsive = false;
      } else if (client.pingedAt !== undefined) {
        client.unresponsive = true;
      } else if (client.ws.readyState === client.ws.OPEN) {
        client.pingedAt = now;
        client.ws.ping();
      }
    }
    heartbeat = scheduler.schedule(beat, heartbeatMs);
  };

  /** Why `client` may make room, if it may: unresponsive, slow or idle. */
  const standing = (client: Client, now: number) => {
    const backlog = handlers.backlog?.(client.ws) ?? 0;
    const { idleAfterMs, paused } = settings;
    const idleMs = idleAfterMs !== undefined && !(paused?.() ?? false) ? now - client.lastActive : 0;
    const idle = idleAfterMs !== undefined && idleMs >= idleAfterMs;
    return { client, backlog, idleMs, eligible: client.unresponsive || backlog > 0 || idle };
  };
  type Standing = ReturnType<typeof standing>;
  /** Unresponsive first (the longest unanswered), then the most bytes waiting, then the longest idle. */
  const worse = (a: Standing, b: Standing): boolean => {
    if (a.client.unresponsive !== b.client.unresponsive) return a.client.unresponsive;
    if (a.client.unresponsive && a.client.pingedAt !== b.client.pingedAt) return a.client.pingedAt! < b.client.pingedAt!;
    if (a.backlog !== b.backlog) return a.backlog > b.backlog;
    if (a.idleMs !== b.idleMs) return a.idleMs > b.idleMs;
    return a.client.seq < b.client.seq;
  };
  const worst = (among: Iterable<Client>): Standing | undefined => {
    const now = scheduler.now();
    let found: Standing | undefined;
    for (const client of among) {
      const s = standing(client, now);
      if (s.eligible && (found === undefined || worse(s, found))) found = s;
    }
    return found;
  };
  const evict = (victim: Standing, limit: string, newcomer: string): void => {
    const { client, backlog, idleMs } = victim;
    const why = client.unresponsive
      ? `it left a ping unanswered for ${scheduler.now() - client.pingedAt!} ms`
      : backlog > 0
        ? `it had ${backlog} bytes waiting behind a full socket`
        : `it had sent nothing for ${idleMs} ms`;
    release(client);
    handlers.evict(client.ws, new RivuletError('ERR_CONNECTION', `${where}: closed ${client.peer} to make room for ${newcomer} (${limit}): ${why}`));
  };

  /** Makes room for a newcomer from `address`, or says why there is none. */
  const admit = (address: string, peer: string): RivuletError | undefined => {
    const sameAddress = byAddress.get(address);
    if (sameAddress !== undefined && sameAddress.size >= maxClientsPerAddress) {
      const limit = `maxClientsPerAddress ${maxClientsPerAddress} reached for ${address}`;
      const victim = worst(sameAddress);
      if (victim === undefined) return new RivuletError('ERR_CONNECTION', `${where}: refused ${peer}: ${limit}, and none of them is unresponsive, slow or idle`);
      evict(victim, limit, peer);
    }
    if (clients.size >= maxClients) {
      const limit = `maxClients ${maxClients} reached`;
      const victim = worst(clients.values());
      if (victim === undefined) return new RivuletError('ERR_CONNECTION', `${where}: refused ${peer}: ${limit}, and none of them is unresponsive, slow or idle`);
      evict(victim, limit, peer);
    }
    return undefined;
  };

  const register = (ws: WebSocket, peer: string, address: string): void => {
    const client: Client = { ws, peer, address, seq: connected++, lastActive: scheduler.now(), pingedAt: undefined, unresponsive: false };
    clients.set(ws, client);
    const sameAddress = byAddress.get(address);
    if (sameAddress === undefined) byAddress.set(address, new Set([client]));
    else sameAddress.add(client);
    ws.on('pong', () => {
      client.pingedAt = undefined;
      client.unresponsive = false;
    });
    ws.on('close', () => release(client));
    if (heartbeatMs > 0 && heartbeat === undefined) heartbeat = scheduler.schedule(beat, heartbeatMs);
  };

  const refuseWith = (socket: Duplex, status: number, text: string, error: RivuletError): void => {
    refuse(socket, status, text);
    report(error);
    handlers.refused(error);
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (path !== undefined && pathname !== path) {
      if (owned || server.listenerCount('upgrade') === 1) refuse(socket, 400, 'Bad Request');
      return;
    }
    const peer = peerOf(socket);
    const requestHost = req.headers.host;
    if (hosts === undefined || !hosts.allows(requestHost)) {
      const shown = requestHost === undefined ? '(none)' : JSON.stringify(requestHost.slice(0, 100));
      return refuseWith(socket, 421, 'Misdirected Request', new RivuletError('ERR_HOST_NOT_ALLOWED', `${where}: refused ${peer}: Host ${shown} is not a name of this server (see allowedHosts)`));
    }
    const origin = req.headers.origin;
    const originOk = origin === undefined ? !requireOrigin : originAllowed(origin, requestHost);
    if (!originOk) {
      return refuseWith(socket, 403, 'Forbidden', new RivuletError('ERR_ORIGIN_NOT_ALLOWED', `${where}: refused ${peer}: origin ${origin ?? '(none)'} is not allowed`));
    }
    const address = (socket as Socket).remoteAddress ?? 'unknown';
    const refusal = admit(address, peer);
    if (refusal !== undefined) return refuseWith(socket, 503, 'Service Unavailable', refusal);
    socket.on('error', () => undefined); // a reset during the handshake concerns this client only
    wss.handleUpgrade(req, socket, head, (ws) => {
      socketOf.set(ws, socket);
      register(ws, peer, address);
      handlers.connection(ws, peer);
    });
  };

  const announce = () => {
    const address = server.address();
    if (!address || typeof address !== 'object') return;
    hosts = hostCheck(address.address, extraHosts);
    options.onListening?.(address);
  };
  const onServerError = (err: Error) => {
    handlers.fatal(new RivuletError('ERR_CONNECTION', `${where}: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
  };

  server.on('upgrade', onUpgrade);
  if (owned) {
    server.on('error', onServerError);
    server.listen(port, host, announce);
  } else if (server.listening) {
    const address = server.address();
    if (address && typeof address === 'object') hosts = hostCheck(address.address, extraHosts);
    queueMicrotask(announce);
  } else {
    server.once('listening', announce);
  }

  return {
    report,
    active(ws) {
      const client = clients.get(ws);
      if (client === undefined) return;
      client.lastActive = scheduler.now();
      // A message shows it is there, even if it does not read.
      client.pingedAt = undefined;
      client.unresponsive = false;
    },
    close() {
      if (closed) return;
      closed = true;
      heartbeat?.unsubscribe();
      heartbeat = undefined;
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

/** The socket under each client, to reset it when the client is cut off. */
const socketOf = new WeakMap<WebSocket, Duplex>();

/**
 * Ends a client at once, with a reset rather than a FIN: a client cut off is one that does not
 * read, and after a FIN the kernel would hold what it has not read (megabytes) for minutes,
 * trying to deliver it; a reset drops it.
 */
export function cutOff(ws: WebSocket): void {
  const socket = socketOf.get(ws);
  if (socket instanceof Socket && !socket.destroyed) socket.resetAndDestroy();
  ws.terminate();
}

/** Closes a client politely, and cuts it off if it does not answer within `graceMs` of `scheduler` time. */
export function closeClient(ws: WebSocket, code: number, reason: string, graceMs: number, scheduler: SchedulerLike): void {
  if (ws.readyState === ws.CLOSING || ws.readyState === ws.CLOSED) return;
  ws.close(code, reason);
  const timer = scheduler.schedule(() => cutOff(ws), graceMs);
  ws.once('close', () => timer.unsubscribe());
}
