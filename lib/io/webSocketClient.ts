import { Observable } from 'rxjs';
import type { ClientOptions, WebSocket } from 'ws';
import { wsModule } from './wsModule';
import { invalidOption, requireInteger, RivuletError } from '../core/errors';
import { FlowGate } from '../core/flowGate';

export interface WebSocketConnectOptions {
  /** Subprotocols to ask for. */
  protocols?: string | string[];
  /** The `Origin` header to send (servers with an allow-list check it). */
  origin?: string;
  /** Extra handshake headers. */
  headers?: Record<string, string>;
  /** Largest message accepted from the server; a bigger one is an error. 1 MiB by default. */
  maxPayloadBytes?: number;
  /** How long the opening handshake may take; 10 000 ms by default. */
  handshakeTimeoutMs?: number;
  /** While paused, messages are not read (TCP flow control then slows the server). */
  gate?: FlowGate;
  /** Makes the socket; `new WebSocket(url, protocols, options)` from `ws` by default. */
  createWebSocket?: (url: string, protocols: string | string[] | undefined, options: ClientOptions) => WebSocket;
}

/**
 * A source that connects to a WebSocket server and emits its text messages.
 *
 * Like rxjs's `webSocket` subject, but for Node, receive-only, and honest about endings: a close
 * with code 1000 (normal closure) completes; any other close, a refused or failed handshake, a
 * message over `maxPayloadBytes`, or a binary message errors with ERR_CONNECTION naming the URL
 * (ERR_INVALID_VALUE for a binary message, which also closes the socket with 1003). No
 * reconnection: add rxjs's `retry({ delay })` for that.
 *
 * ```text
 * server sends a, b, closes 1000:   --a--b--|
 * server closes 1006 after a:       --a--#      ERR_CONNECTION
 * ```
 *
 * Connects on subscription; unsubscribe closes the socket with 1000 (or abandons a handshake in
 * progress).
 *
 * @example
 * ```ts
 * webSocketConnect('ws://127.0.0.1:8081/feed').subscribe((text) => console.log(JSON.parse(text)));
 * // { partition: 3, leaders: [ ... ] }
 * ```
 */
export function webSocketConnect(url: string, options: WebSocketConnectOptions = {}): Observable<string> {
  const where = 'webSocketConnect';
  if (typeof url !== 'string' || !/^wss?:\/\//.test(url)) throw invalidOption(where, `url must start with ws:// or wss://, got ${String(url)}`);
  const { protocols, origin, headers, maxPayloadBytes = 1 << 20, handshakeTimeoutMs = 10_000, gate } = options;
  requireInteger(where, 'maxPayloadBytes', maxPayloadBytes);
  requireInteger(where, 'handshakeTimeoutMs', handshakeTimeoutMs);
  const create = options.createWebSocket ?? ((u, p, o) => new (wsModule().WebSocket)(u, p, o));

  return new Observable<string>((subscriber) => {
    const ws = create(url, protocols, { origin, headers, maxPayload: maxPayloadBytes, handshakeTimeout: handshakeTimeoutMs });
    const fail = (code: 'ERR_CONNECTION' | 'ERR_INVALID_VALUE', message: string, cause?: unknown) =>
      subscriber.error(new RivuletError(code, `${where}: ${url}: ${message}`, { cause }));

    ws.on('message', (data, isBinary) => {
      if (!isBinary) return subscriber.next(data.toString());
      ws.close(1003, 'text only');
      fail('ERR_INVALID_VALUE', 'the server sent a binary message; text only');
    });
    ws.on('error', (err) => fail('ERR_CONNECTION', err.message, err));
    ws.on('close', (code, reason) => {
      if (code === 1000) subscriber.complete();
      else fail('ERR_CONNECTION', `closed with code ${code}${reason.length > 0 ? ` (${reason.toString()})` : ''}`);
    });
    // ws ignores pause() while connecting, so the gate is applied once open.
    ws.on('open', () => {
      if (gate?.paused) ws.pause();
    });
    const stopGate = gate?.onChange((paused) => (paused ? ws.pause() : ws.resume()));

    return () => {
      stopGate?.();
      ws.removeAllListeners();
      // Aborting a handshake makes ws emit an error nobody needs to hear about.
      ws.on('error', () => undefined);
      if (ws.readyState === ws.CONNECTING) ws.terminate();
      else if (ws.readyState === ws.OPEN) ws.close(1000, 'unsubscribed');
    };
  });
}
