import { Observable, OperatorFunction } from 'rxjs';
import { WebSocket } from 'ws';
import { callbackFailed, invalidOption, requireInteger, RivuletError } from '../core/errors';
import { FlowGate } from '../core/flowGate';
import { checkEndpointOptions, closeClient, openEndpoint, WebSocketEndpointOptions } from './webSocketEndpoint';

export type { WebSocketEndpointOptions } from './webSocketEndpoint';

/** What a broadcast does with a client that reads slower than the stream produces. */
export interface SlowClientPolicy {
  /**
   * 'drop-oldest': discard the client's oldest undelivered messages and count them (a dashboard
   * only needs the latest state). 'disconnect': close it with 1013 (try again later) and report
   * ERR_SLOW_CONSUMER.
   */
  policy: 'drop-oldest' | 'disconnect';
  /**
   * Bytes a client may have waiting: in the socket (`bufferedAmount`) before further messages
   * queue, then in its queue before the policy applies; 1 MiB by default.
   */
  maxBufferedBytes?: number;
}

export interface WebSocketBroadcastOptions<T> extends WebSocketEndpointOptions {
  /** Turns a value into the text sent; `JSON.stringify` by default. */
  serialize?: (value: T) => string;
  /** Default: drop the oldest messages of a client past 1 MiB waiting. */
  slowClient?: SlowClientPolicy;
  /** A newly connected client first receives the last `replayLatest` values; 0 by default. */
  replayLatest?: number;
  /**
   * Called when a client connects; the values it returns are sent to that client first, instead
   * of `replayLatest`. For state that is not simply the last N values, such as the latest
   * leaderboard of every partition.
   */
  snapshot?: () => readonly T[];
  /**
   * true (the default): once the source completes and every client got everything, close the
   * clients with 1000 and stop listening, then complete. false: keep serving (replays included)
   * until unsubscribe, as a dashboard showing the end of a finished replay does.
   */
  closeOnComplete?: boolean;
  /** How long closing clients may take before they are cut off; 5000 ms by default. */
  closeTimeoutMs?: number;
}

/** Counters of one broadcast subscription, live, for a dashboard to show. */
export interface BroadcastStats {
  clients: number;
  /** Messages handed to client sockets. */
  messagesSent: number;
  /** Messages dropped for slow clients under 'drop-oldest'. */
  messagesDropped: number;
  /** Clients closed under 'disconnect'. */
  slowClientsDisconnected: number;
  /** Handshakes refused (origin, capacity). */
  clientsRefused: number;
}

/** A broadcast sink, with the counters of its latest subscription. */
export type BroadcastSink<T> = OperatorFunction<T, never> & { readonly stats: Readonly<BroadcastStats> };

interface Client {
  ws: WebSocket;
  peer: string;
  queue: string[];
  queueBytes: number[];
  queuedBytes: number;
}

/**
 * A sink that serves a WebSocket endpoint and sends every value to every connected client.
 *
 * Like `tap((v) => clients.forEach((c) => c.send(JSON.stringify(v))))`, but a client can never
 * stall the pipeline or grow memory: each client has at most `maxBufferedBytes` in its socket and
 * as much again in its own queue, past which `slowClient.policy` drops its oldest messages or
 * disconnects it. A client that connects mid-stream first receives the `snapshot()` (or the last
 * `replayLatest` values), then follows live. `stats` counts clients and drops.
 *
 * ```text
 * source:                  a b c |
 * client 1 (from start):   a b c (close 1000)
 * client 2 (after b):      b c (close 1000)      replayLatest: 1
 * result:                  ------ (clients closed) |
 * ```
 *
 * Listens on subscription, on its own server (127.0.0.1 by default) or on the caller's
 * `server`. Completion: see `closeOnComplete`. Error: a source error or a throwing `serialize`
 * closes every client with 1011 and stops the server, then errors; a port that cannot be bound
 * errors with ERR_CONNECTION. Unsubscribe closes every client with 1001 and stops listening.
 * Problems of one client (refused origin, oversized message, slow consumer) end that client only
 * and are reported to `onClientError`.
 *
 * @example
 * ```ts
 * const feed = webSocketBroadcast<Leaders>({ port: 8081, allowedOrigins: ['http://127.0.0.1:8080'], replayLatest: 10 });
 * leaders$.pipe(feed).subscribe();
 * // a page running new WebSocket('ws://127.0.0.1:8081') receives {"partition":3,"leaders":[...]} ...
 * // feed.stats -> { clients: 1, messagesSent: 120, messagesDropped: 0, ... }
 * ```
 */
export function webSocketBroadcast<T>(options: WebSocketBroadcastOptions<T> = {}): BroadcastSink<T> {
  const where = 'webSocketBroadcast';
  checkEndpointOptions(where, options);
  const { serialize = JSON.stringify as (value: T) => string, snapshot, replayLatest = 0, closeOnComplete = true, closeTimeoutMs = 5000 } = options;
  const policy = options.slowClient?.policy ?? 'drop-oldest';
  const maxBufferedBytes = options.slowClient?.maxBufferedBytes ?? 1 << 20;
  if (policy !== 'drop-oldest' && policy !== 'disconnect') throw invalidOption(where, `slowClient.policy must be 'drop-oldest' or 'disconnect', got ${String(policy)}`);
  requireInteger(where, 'slowClient.maxBufferedBytes', maxBufferedBytes);
  requireInteger(where, 'replayLatest', replayLatest, true);
  requireInteger(where, 'closeTimeoutMs', closeTimeoutMs, true);
  if (snapshot !== undefined && typeof snapshot !== 'function') throw invalidOption(where, 'snapshot must be a function');

  const stats: BroadcastStats = { clients: 0, messagesSent: 0, messagesDropped: 0, slowClientsDisconnected: 0, clientsRefused: 0 };

  const sink = (source: Observable<T>) =>
    new Observable<never>((subscriber) => {
      Object.assign(stats, { clients: 0, messagesSent: 0, messagesDropped: 0, slowClientsDisconnected: 0, clientsRefused: 0 });
      const clients = new Set<Client>();
      const recent: string[] = [];
      let completing = false;
      let finished = false;
      let cutOff: ReturnType<typeof setTimeout> | undefined;

      const pump = (client: Client) => {
        const { ws, queue, queueBytes } = client;
        while (queue.length > 0 && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < maxBufferedBytes) {
          client.queuedBytes -= queueBytes.shift()!;
          send(client, queue.shift()!);
        }
        if (completing && queue.length === 0) closeClient(ws, 1000, 'end of stream', closeTimeoutMs);
      };
      // The send callback runs once the socket has taken the bytes: room for more.
      const send = (client: Client, text: string) => {
        stats.messagesSent++;
        client.ws.send(text, () => pump(client));
      };
      const deliver = (client: Client, text: string, bytes: number) => {
        if (client.ws.readyState !== WebSocket.OPEN) return;
        if (client.queue.length === 0 && client.ws.bufferedAmount < maxBufferedBytes) return send(client, text);
        client.queue.push(text);
        client.queueBytes.push(bytes);
        client.queuedBytes += bytes;
        if (client.queuedBytes <= maxBufferedBytes) return;
        if (policy === 'disconnect') {
          stats.slowClientsDisconnected++;
          client.queue.length = client.queueBytes.length = client.queuedBytes = 0;
          endpoint.report(new RivuletError('ERR_SLOW_CONSUMER', `${where}: disconnected ${client.peer}: more than ${maxBufferedBytes} bytes waiting`));
          closeClient(client.ws, 1013, 'slow consumer', 1000);
          return;
        }
        // Keep at least the newest message, even if it alone is over the bound.
        while (client.queuedBytes > maxBufferedBytes && client.queue.length > 1) {
          client.queue.shift();
          client.queuedBytes -= client.queueBytes.shift()!;
          stats.messagesDropped++;
        }
      };

      const endpoint = openEndpoint(where, options, 64 * 1024, {
        connection: (ws, peer) => {
          const client: Client = { ws, peer, queue: [], queueBytes: [], queuedBytes: 0 };
          clients.add(client);
          stats.clients = clients.size;
          ws.on('error', (err: Error & { code?: string }) => {
            const code = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'ERR_FRAME_TOO_LARGE' : 'ERR_CONNECTION';
            endpoint.report(new RivuletError(code, `${where}: client ${peer}: ${err.message}`, { cause: err }));
          });
          ws.on('close', () => {
            clients.delete(client);
            stats.clients = clients.size;
            if (completing) maybeFinish();
          });
          let initial: readonly string[] = recent;
          if (snapshot) {
            try {
              initial = snapshot().map(serialize);
            } catch (err) {
              return fail(callbackFailed(where, 'snapshot', err));
            }
          }
          for (const text of initial) deliver(client, text, Buffer.byteLength(text));
          if (completing) pump(client);
        },
        refused: () => stats.clientsRefused++,
        fatal: (error) => fail(error),
      });

      const closeAll = (code: number, reason: string) => {
        for (const client of clients) closeClient(client.ws, code, reason, 1000);
        endpoint.close();
      };
      const fail = (error: unknown) => {
        closeAll(1011, 'stream failed');
        subscriber.error(error);
      };
      const maybeFinish = () => {
        if (finished || clients.size > 0) return;
        finished = true;
        clearTimeout(cutOff);
        endpoint.close();
        subscriber.complete();
      };

      const subscription = source.subscribe({
        next: (value) => {
          let text: string;
          try {
            text = serialize(value);
          } catch (err) {
            return fail(callbackFailed(where, 'serialize', err));
          }
          if (replayLatest > 0) {
            recent.push(text);
            if (recent.length > replayLatest) recent.shift();
          }
          const bytes = Buffer.byteLength(text);
          for (const client of clients) deliver(client, text, bytes);
        },
        error: (err) => fail(err),
        complete: () => {
          if (!closeOnComplete) return;
          completing = true;
          // New connections are refused from now on; existing clients get the rest, then 1000.
          endpoint.close();
          for (const client of clients) pump(client);
          // A client that does not read its last messages must not hold the completion forever.
          cutOff = setTimeout(() => clients.forEach((client) => client.ws.terminate()), closeTimeoutMs);
          maybeFinish();
        },
      });

      return () => {
        subscription.unsubscribe();
        clearTimeout(cutOff);
        if (!finished) closeAll(1001, 'going away');
      };
    });
  return Object.assign(sink, { stats: stats as Readonly<BroadcastStats> });
}

export interface WebSocketListenOptions extends WebSocketEndpointOptions {
  /** While paused, no client's messages are read (TCP flow control then slows the clients). */
  gate?: FlowGate;
}

/**
 * A source that serves a WebSocket endpoint and emits the text messages of every client.
 *
 * Like `fromEvent(ws, 'message')` merged over all clients, with the server's life tied to the
 * subscription. Messages over `maxPayloadBytes` (1 MiB by default) close that client with 1009;
 * a binary message closes it with 1003 (text only); a client's error or close ends that client
 * only, reported to `onClientError`. With `gate`, every client is paused while the gate is.
 *
 * ```text
 * client 1:  --a-----c--
 * client 2:  -----b-----
 * result:    --a--b--c--   (never completes by itself)
 * ```
 *
 * Listens on subscription (127.0.0.1 by default). Error: ERR_CONNECTION when the port cannot be
 * bound. Unsubscribe closes every client with 1001 and stops listening.
 *
 * @example
 * ```ts
 * webSocketListen({ port: 7001 }).subscribe((text) => console.log(text));
 * // a client sending "hello" prints: hello
 * ```
 */
export function webSocketListen(options: WebSocketListenOptions = {}): Observable<string> {
  const where = 'webSocketListen';
  checkEndpointOptions(where, options);
  const { gate } = options;
  return new Observable<string>((subscriber) => {
    const clients = new Set<WebSocket>();
    const endpoint = openEndpoint(where, options, 1 << 20, {
      connection: (ws, peer) => {
        clients.add(ws);
        if (gate?.paused) ws.pause();
        ws.on('message', (data, isBinary) => {
          if (!isBinary) return subscriber.next(data.toString());
          endpoint.report(new RivuletError('ERR_INVALID_VALUE', `${where}: client ${peer} sent a binary message; text only`));
          closeClient(ws, 1003, 'text only', 1000);
        });
        ws.on('error', (err: Error & { code?: string }) => {
          const code = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'ERR_FRAME_TOO_LARGE' : err.code === 'WS_ERR_INVALID_UTF8' ? 'ERR_INVALID_UTF8' : 'ERR_CONNECTION';
          endpoint.report(new RivuletError(code, `${where}: client ${peer}: ${err.message}`, { cause: err }));
        });
        ws.on('close', () => clients.delete(ws));
      },
      refused: () => undefined,
      fatal: (error) => subscriber.error(error),
    });
    const stopGate = gate?.onChange((paused) => {
      for (const ws of clients) {
        if (paused) ws.pause();
        else ws.resume();
      }
    });
    return () => {
      stopGate?.();
      for (const ws of clients) closeClient(ws, 1001, 'going away', 1000);
      endpoint.close();
    };
  });
}
