import { asyncScheduler, Observable, OperatorFunction, Subscription } from 'rxjs';
import type { WebSocket } from 'ws';
import { invalidOption, requireInteger, RivuletError } from '../core/errors';
import { FlowGate } from '../core/flowGate';
import { guarded, operate } from '../core/operate';
import { runMachine } from './machineRunner';
import { backlogOf, BroadcastEffect, BroadcastEvent, broadcastTransition, initialBroadcastState } from './webSocketBroadcastMachine';
import { checkEndpointOptions, closeClient, cutOff as cutOffClient, openEndpoint, WebSocketEndpointOptions } from './webSocketEndpoint';

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
   * Bytes a client may have waiting: in the socket (handed to it and not yet written out, what
   * `bufferedAmount` counts) before further messages queue, then in its queue before the policy
   * applies; 1 MiB by default.
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
  /**
   * Bound on the bytes waiting for all clients together (in their sockets and queues), so that
   * many slow clients cannot take the memory each may have: past it, the clients that are
   * behind (messages waiting behind a full socket) are closed with 1013, the most bytes waiting
   * first, each reported as ERR_SLOW_CONSUMER and counted in `slowClientsDisconnected`. 64 MiB
   * by default; Infinity for no bound. `scheduler` (see the endpoint options) is also the clock
   * of the cut-off after completion.
   */
  maxTotalBufferedBytes?: number;
}

/** Counters of one broadcast subscription, live, for a dashboard to show. */
export interface BroadcastStats {
  clients: number;
  /** Messages handed to client sockets. */
  messagesSent: number;
  /** Messages dropped for slow clients under 'drop-oldest'. */
  messagesDropped: number;
  /** Clients closed for being slow: under 'disconnect', or the slowest past `maxTotalBufferedBytes`. */
  slowClientsDisconnected: number;
  /** Handshakes refused (Host, Origin, capacity). */
  clientsRefused: number;
  /** Of those, for their `Origin`. */
  refusedOrigins: number;
  /** Of those, for their `Host` (see `allowedHosts`). */
  refusedHosts: number;
  /** Clients closed with 1009 for a message over `maxPayloadBytes`. */
  oversizedMessages: number;
  /** Clients closed (unresponsive, slow) to make room for a newcomer at a connection limit. */
  clientsEvicted: number;
}

const noStats = (): BroadcastStats => ({
  clients: 0, messagesSent: 0, messagesDropped: 0, slowClientsDisconnected: 0, clientsRefused: 0, refusedOrigins: 0, refusedHosts: 0, oversizedMessages: 0, clientsEvicted: 0,
});

/** A broadcast sink, with the counters of its latest subscription. */
export type BroadcastSink<T> = OperatorFunction<T, never> & { readonly stats: Readonly<BroadcastStats> };

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
 * Problems of one client (refused Host or Origin, a full server, an oversized message, a slow
 * consumer, a client closed to make room) end that client only, are reported to
 * `onClientError` naming the peer, and are counted in `stats`.
 *
 * Limits, on by default, so that clients cannot take the process's memory or lock out a real
 * page: each client has at most `maxBufferedBytes` in its socket and as much in its queue; all
 * together `maxTotalBufferedBytes` (64 MiB), past which the slowest are disconnected; at most
 * `maxClients` (1000) clients, `maxClientsPerAddress` (16) from one address, and at either
 * limit an unresponsive or slow client makes room for a newcomer (see the endpoint options).
 *
 * The server's phases (serving, draining, lingering, completed, failed, stopped) and each
 * client's (live, backlogged, closing) are a state machine in webSocketBroadcastMachine.ts; this
 * function is the shell that owns the endpoint and the sockets, and runs every timer on
 * `scheduler`. Path, Host, Origin, capacity and payload checks happen in the handshake and in
 * `ws`, before a client has any state.
 *
 * Delivery guarantee (walked in webSocketBroadcastMachine.spec.ts): at most once, per client,
 * in order. A client receives every value emitted while it is connected, in source order, after
 * its snapshot or replay, as long as it keeps up; nothing is ever sent to a client twice and
 * nothing is resent. What is lost, and where it is counted:
 * - a slow client's oldest waiting messages under 'drop-oldest' (`stats.messagesDropped`; the
 *   newest is always kept, so it ends on the latest state), or all it had waiting under
 *   'disconnect' or past `maxTotalBufferedBytes` (`stats.slowClientsDisconnected`), or when it
 *   is closed to make room (`stats.clientsEvicted`);
 * - what a client had waiting, in its socket or its queue, when it disconnects or is cut off
 *   (after `closeTimeoutMs` once the source completed, or by unsubscribe or an error); a client
 *   that comes back gets the snapshot (or the last `replayLatest` values), not what it missed;
 * - what its socket had written out when its machine crashed: like TCP, WebSocket has no
 *   acknowledgement of what the page has read.
 * With `closeOnComplete`, the completion waits until every client has been sent all it had
 * waiting and has closed, or until `closeTimeoutMs`.
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
  const { serialize = JSON.stringify as (value: T) => string, snapshot, replayLatest = 0, closeOnComplete = true, closeTimeoutMs = 5000, scheduler = asyncScheduler } = options;
  const maxTotalBufferedBytes = options.maxTotalBufferedBytes ?? 64 * 1_048_576;
  const policy = options.slowClient?.policy ?? 'drop-oldest';
  const maxBufferedBytes = options.slowClient?.maxBufferedBytes ?? 1 << 20;
  if (policy !== 'drop-oldest' && policy !== 'disconnect') throw invalidOption(where, `slowClient.policy must be 'drop-oldest' or 'disconnect', got ${String(policy)}`);
  requireInteger(where, 'slowClient.maxBufferedBytes', maxBufferedBytes);
  requireInteger(where, 'replayLatest', replayLatest, true);
  requireInteger(where, 'closeTimeoutMs', closeTimeoutMs, true);
  if (maxTotalBufferedBytes !== Infinity) requireInteger(where, 'maxTotalBufferedBytes', maxTotalBufferedBytes);
  if (snapshot !== undefined && typeof snapshot !== 'function') throw invalidOption(where, 'snapshot must be a function');

  const stats = noStats();

  const transition = broadcastTransition<WebSocket>({ where, policy, maxBufferedBytes, replayLatest, closeOnComplete, closeTimeoutMs, maxTotalBufferedBytes });
  const serializeValue = guarded(where, 'serialize', serialize, 'wrap');
  // What snapshot's values fail to serialize with is a failure of the snapshot, as it always was.
  const snapshotTexts = snapshot && guarded(where, 'snapshot', () => snapshot().map(serialize), 'wrap');

  const sink = (source: Observable<T>) =>
    new Observable<never>((subscriber) => {
      Object.assign(stats, noStats());
      // The shell: the machine decides, this performs on the endpoint, the sockets and the clock.
      let cutOff: Subscription | undefined;
      const perform = (effect: BroadcastEffect<WebSocket>): void => {
        switch (effect.type) {
          case 'send': {
            const { client: ws, bytes } = effect;
            // Closing from its side: its 'close' follows, and until then it must not count as slow.
            if (ws.readyState !== ws.OPEN) return machine.dispatch({ type: 'leaving', client: ws });
            stats.messagesSent++;
            // The callback runs once the socket has taken the bytes: room for more.
            ws.send(effect.text, () => machine.dispatch({ type: 'sent', client: ws, bytes }));
            return;
          }
          case 'close':
            return closeClient(effect.client, effect.code, effect.reason, effect.graceMs, scheduler);
          case 'terminate':
            return cutOffClient(effect.client);
          case 'report':
            return endpoint.report(effect.error);
          case 'count':
            stats[effect.counter] += effect.by;
            return;
          case 'stopAccepting':
            return endpoint.close();
          case 'setTimer':
            cutOff = scheduler.schedule(() => machine.dispatch({ type: 'timer' }), effect.delayMs);
            return;
          case 'clearTimer':
            cutOff?.unsubscribe();
            return;
          case 'complete':
            return subscriber.complete();
          case 'error':
            return subscriber.error(effect.error);
        }
      };
      const machine = runMachine(initialBroadcastState<WebSocket>(), transition, perform, (error): BroadcastEvent<WebSocket> => ({ type: 'fail', error }));

      const endpoint = openEndpoint(where, options, { defaultMaxPayloadBytes: 64 * 1024 }, {
        connection: (ws, peer) => {
          ws.on('error', (err: Error & { code?: string }) => {
            const tooLarge = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
            if (tooLarge) stats.oversizedMessages++;
            endpoint.report(new RivuletError(tooLarge ? 'ERR_FRAME_TOO_LARGE' : 'ERR_CONNECTION', `${where}: client ${peer}: ${err.message}`, { cause: err }));
          });
          ws.on('close', () => machine.dispatch({ type: 'closed', client: ws }));
          let initial: string[] | undefined;
          try {
            initial = snapshotTexts?.();
          } catch (error) {
            machine.dispatch({ type: 'fail', error });
          }
          machine.dispatch({ type: 'connect', client: ws, peer, initial });
        },
        refused: (error) => {
          stats.clientsRefused++;
          if (error.code === 'ERR_ORIGIN_NOT_ALLOWED') stats.refusedOrigins++;
          if (error.code === 'ERR_HOST_NOT_ALLOWED') stats.refusedHosts++;
        },
        fatal: (error) => machine.dispatch({ type: 'fail', error }),
        backlog: (ws) => backlogOf(machine.state.clients.get(ws)),
        evict: (ws, error) => machine.dispatch({ type: 'evict', client: ws, error }),
      });

      operate(source, subscriber, {
        next: (value) => {
          let text: string;
          try {
            text = serializeValue(value);
          } catch (error) {
            machine.dispatch({ type: 'fail', error });
            return;
          }
          machine.dispatch({ type: 'value', text, bytes: Buffer.byteLength(text) });
        },
        error: (error) => machine.dispatch({ type: 'fail', error }),
        complete: () => machine.dispatch({ type: 'sourceComplete' }),
      });
      return () => machine.dispatch({ type: 'unsubscribe' });
    });
  return Object.assign(sink, { stats: stats as Readonly<BroadcastStats> });
}

export interface WebSocketListenOptions extends WebSocketEndpointOptions {
  /** While paused, no client's messages are read (TCP flow control then slows the clients). */
  gate?: FlowGate;
  /**
   * A client that has sent no message for this long is idle: at a connection limit it may be
   * closed to make room for a newcomer (time while `gate` is paused does not count). 1000 ms by
   * default.
   */
  evictIdleAfterMs?: number;
}

/**
 * A source that serves a WebSocket endpoint and emits the text messages of every client.
 *
 * Like `fromEvent(ws, 'message')` merged over all clients, with the server's life tied to the
 * subscription. Messages over `maxPayloadBytes` (1 MiB by default) close that client with 1009;
 * a binary message closes it with 1003 (text only); a client's error or close ends that client
 * only, reported to `onClientError`. With `gate`, every client is paused while the gate is.
 * Connection limits as for `webSocketBroadcast` (`maxClients`, `maxClientsPerAddress`), where
 * an idle client (no message for `evictIdleAfterMs`) may also make room.
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
  const { gate, evictIdleAfterMs = 1000, scheduler = asyncScheduler } = options;
  requireInteger(where, 'evictIdleAfterMs', evictIdleAfterMs, true);
  return new Observable<string>((subscriber) => {
    const clients = new Set<WebSocket>();
    const settings = { defaultMaxPayloadBytes: 1 << 20, idleAfterMs: evictIdleAfterMs, paused: () => gate?.paused ?? false };
    const endpoint = openEndpoint(where, options, settings, {
      connection: (ws, peer) => {
        clients.add(ws);
        if (gate?.paused) ws.pause();
        ws.on('message', (data, isBinary) => {
          endpoint.active(ws);
          if (!isBinary) return subscriber.next(data.toString());
          endpoint.report(new RivuletError('ERR_INVALID_VALUE', `${where}: client ${peer} sent a binary message; text only`));
          closeClient(ws, 1003, 'text only', 1000, scheduler);
        });
        ws.on('error', (err: Error & { code?: string }) => {
          const code = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'ERR_FRAME_TOO_LARGE' : err.code === 'WS_ERR_INVALID_UTF8' ? 'ERR_INVALID_UTF8' : 'ERR_CONNECTION';
          endpoint.report(new RivuletError(code, `${where}: client ${peer}: ${err.message}`, { cause: err }));
        });
        ws.on('close', () => clients.delete(ws));
      },
      refused: () => undefined,
      fatal: (error) => subscriber.error(error),
      evict: (ws, error) => {
        closeClient(ws, 1013, 'making room', 1000, scheduler);
        endpoint.report(error);
      },
    });
    const stopGate = gate?.onChange((paused) => {
      for (const ws of clients) {
        if (paused) ws.pause();
        else {
          ws.resume();
          endpoint.active(ws); // the time it was not read is ours, not its
        }
      }
    });
    return () => {
      stopGate?.();
      for (const ws of clients) closeClient(ws, 1001, 'going away', 1000, scheduler);
      endpoint.close();
    };
  });
}
