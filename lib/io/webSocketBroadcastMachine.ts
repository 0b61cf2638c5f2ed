/**
 * The life of one `webSocketBroadcast` subscription as a state machine: the server's phase, the
 * state of each client, one transition function from (state, event) to (next state, effects),
 * and no I/O. The shell in webSocketServer.ts owns the endpoint, the client sockets and the timer
 * (on the injected scheduler), turns what they do into events and performs the effects.
 *
 * The server:
 * ```text
 * phase       event            next        effects
 * serving     value            serving     deliver to every client (remembered for replayLatest)
 * serving     source done      draining    stop accepting, close every client whose queue is empty
 *                                           with 1000, cut-off timer      (closeOnComplete: true)
 * serving     source done      lingering   -                             (closeOnComplete: false)
 * draining    last client gone completed   complete
 * draining    cut-off timer    draining    terminate every client
 * serving, lingering, draining
 *             fail             failed      close every client with 1011, stop accepting, error
 *             unsubscribe      stopped     close every client with 1001, stop accepting
 * ```
 * A client that connects gets the snapshot (or the last `replayLatest` values) first; while
 * draining it is closed once it has them; after the end it is closed at once.
 *
 * A client (per connection):
 * ```text
 * phase              event                      next                effects
 * live               message, socket has room   live                send
 * live               message, socket is full    backlogged          queue it
 * backlogged         message                    backlogged          queue it; past maxBufferedBytes drop
 *                                               | closing           the oldest and count, or (disconnect)
 *                                                                   report and close with 1013
 * backlogged         sent (the socket took one) live | backlogged   send from the queue while there is room
 * live, backlogged   leaving (found closing)    closing             drop what waits: the client is going
 * live, backlogged   evict (to make room)       closing             count, report, close with 1013
 * any                closed                     (gone)              -
 * closing            anything else              closing             -   (nothing more is sent)
 * ```
 * "Room" is counted here, not read from the socket: the bytes of messages handed to `ws.send()`
 * whose callback has not run yet (what `bufferedAmount` counts), below `maxBufferedBytes`.
 *
 * All clients together: after a value or a new client's snapshot, if the bytes waiting for
 * clients not closing (in their sockets and queues) pass `maxTotalBufferedBytes`, backlogged
 * clients are closed with 1013 (counted and reported as slow), the most bytes waiting first,
 * until the total is back under it. Live clients are never closed for it: their sockets have
 * room, so what they hold is on its way out (a large value sent to many fast clients at once).
 * Which client makes room for a newcomer at a connection limit is the endpoint's choice; this
 * machine tells it how slow each client is (`backlogOf`) and closes the one chosen ('evict').
 */
import { RivuletError } from '../core/errors';
import { NO_EFFECTS } from './machineRunner';

export interface BroadcastConfig {
  readonly where: string;
  readonly policy: 'drop-oldest' | 'disconnect';
  readonly maxBufferedBytes: number;
  readonly replayLatest: number;
  readonly closeOnComplete: boolean;
  readonly closeTimeoutMs: number;
  /** Bound on the bytes waiting for all clients together; Infinity for none. */
  readonly maxTotalBufferedBytes: number;
}

export type ClientPhase = 'live' | 'backlogged' | 'closing';

/** One client's messages: in its socket, and waiting behind them. Mutated by the machine only. */
export interface ClientState {
  readonly peer: string;
  phase: ClientPhase;
  /** Bytes handed to the socket whose send callback has not run yet. */
  inSocket: number;
  readonly queue: { text: string; bytes: number }[];
  queuedBytes: number;
}

export type BroadcastPhase = 'serving' | 'lingering' | 'draining' | 'completed' | 'failed' | 'stopped';

export interface BroadcastState<K> {
  readonly phase: BroadcastPhase;
  readonly clients: Map<K, ClientState>;
  /** The last `replayLatest` messages, for clients that connect later. */
  readonly recent: string[];
}

export type BroadcastEvent<K> =
  | { readonly type: 'value'; readonly text: string; readonly bytes: number }
  | { readonly type: 'sourceComplete' }
  /** The source errored, `serialize` or `snapshot` threw, or the endpoint cannot serve. */
  | { readonly type: 'fail'; readonly error: unknown }
  | { readonly type: 'unsubscribe' }
  /** A client completed its handshake; `initial`: its snapshot, serialized (else the replay). */
  | { readonly type: 'connect'; readonly client: K; readonly peer: string; readonly initial?: readonly string[] }
  /** The socket of `client` took a message of `bytes` (its send callback ran). */
  | { readonly type: 'sent'; readonly client: K; readonly bytes: number }
  /** The socket of `client` was found closing from the client's side: send it nothing more. */
  | { readonly type: 'leaving'; readonly client: K }
  | { readonly type: 'closed'; readonly client: K }
  /** The endpoint chose `client` to make room for a newcomer; `error` says why. */
  | { readonly type: 'evict'; readonly client: K; readonly error: RivuletError }
  /** The cut-off after completion. */
  | { readonly type: 'timer' };

export type BroadcastCounter = 'clients' | 'messagesDropped' | 'slowClientsDisconnected' | 'clientsEvicted';

export type BroadcastEffect<K> =
  | { readonly type: 'send'; readonly client: K; readonly text: string; readonly bytes: number }
  | { readonly type: 'close'; readonly client: K; readonly code: number; readonly reason: string; readonly graceMs: number }
  | { readonly type: 'terminate'; readonly client: K }
  | { readonly type: 'report'; readonly error: RivuletError }
  | { readonly type: 'count'; readonly counter: BroadcastCounter; readonly by: number }
  | { readonly type: 'stopAccepting' }
  | { readonly type: 'setTimer'; readonly delayMs: number }
  | { readonly type: 'clearTimer' }
  | { readonly type: 'complete' }
  | { readonly type: 'error'; readonly error: unknown };

type Step<K> = readonly [BroadcastState<K>, readonly BroadcastEffect<K>[]];

export function initialBroadcastState<K>(): BroadcastState<K> {
  return { phase: 'serving', clients: new Map(), recent: [] };
}

/** Bytes waiting for a client behind its full socket (in it and in its queue); 0 while it keeps up. */
export function backlogOf(client: ClientState | undefined): number {
  return client?.phase === 'backlogged' ? client.inSocket + client.queuedBytes : 0;
}

const isOver = (phase: BroadcastPhase): boolean => phase === 'completed' || phase === 'failed' || phase === 'stopped';

/** How a client that shows up after the end is sent away. */
const farewell: Record<'completed' | 'failed' | 'stopped', [number, string]> = {
  completed: [1000, 'end of stream'],
  failed: [1011, 'stream failed'],
  stopped: [1001, 'going away'],
};

/** Builds the transition function for one broadcast's settings. */
export function broadcastTransition<K>(config: BroadcastConfig): (state: BroadcastState<K>, event: BroadcastEvent<K>) => Step<K> {
  const { where, policy, maxBufferedBytes, replayLatest, closeTimeoutMs, maxTotalBufferedBytes } = config;

  const send = (key: K, client: ClientState, text: string, bytes: number, effects: BroadcastEffect<K>[]): void => {
    client.inSocket += bytes;
    effects.push({ type: 'send', client: key, text, bytes });
  };

  /** What a client had waiting is dropped: it is going away. */
  const stopSending = (client: ClientState): void => {
    client.phase = 'closing';
    client.queue.length = 0;
    client.queuedBytes = 0;
  };

  const closeClient = (key: K, client: ClientState, code: number, reason: string, graceMs: number, effects: BroadcastEffect<K>[]): void => {
    stopSending(client);
    effects.push({ type: 'close', client: key, code, reason, graceMs });
  };

  const deliver = (key: K, client: ClientState, text: string, bytes: number, effects: BroadcastEffect<K>[]): void => {
    if (client.phase === 'closing') return;
    if (client.phase === 'live' && client.inSocket < maxBufferedBytes) return send(key, client, text, bytes, effects);
    client.phase = 'backlogged';
    client.queue.push({ text, bytes });
    client.queuedBytes += bytes;
    if (client.queuedBytes <= maxBufferedBytes) return;
    if (policy === 'disconnect') {
      effects.push(
        { type: 'count', counter: 'slowClientsDisconnected', by: 1 },
        { type: 'report', error: new RivuletError('ERR_SLOW_CONSUMER', `${where}: disconnected ${client.peer}: more than ${maxBufferedBytes} bytes waiting`) },
      );
      return closeClient(key, client, 1013, 'slow consumer', 1000, effects);
    }
    // Keep at least the newest message, even if it alone is over the bound.
    let dropped = 0;
    while (client.queuedBytes > maxBufferedBytes && client.queue.length > 1) {
      client.queuedBytes -= client.queue.shift()!.bytes;
      dropped++;
    }
    if (dropped > 0) effects.push({ type: 'count', counter: 'messagesDropped', by: dropped });
  };

  /** Closes backlogged clients, the most bytes waiting first, while all together wait more than the bound. */
  const limitTotal = (clients: Map<K, ClientState>, effects: BroadcastEffect<K>[]): void => {
    if (maxTotalBufferedBytes === Infinity) return;
    let total = 0;
    for (const client of clients.values()) if (client.phase !== 'closing') total += client.inSocket + client.queuedBytes;
    if (total <= maxTotalBufferedBytes) return;
    const slowest = [...clients].filter(([, client]) => client.phase === 'backlogged').sort(([, a], [, b]) => backlogOf(b) - backlogOf(a));
    for (const [key, client] of slowest) {
      if (total <= maxTotalBufferedBytes) return;
      const bytes = backlogOf(client);
      effects.push(
        { type: 'count', counter: 'slowClientsDisconnected', by: 1 },
        {
          type: 'report',
          error: new RivuletError(
            'ERR_SLOW_CONSUMER',
            `${where}: disconnected ${client.peer}: ${bytes} bytes waiting, the most of any client, while all clients together had ${total} waiting, above maxTotalBufferedBytes ${maxTotalBufferedBytes}`,
          ),
        },
      );
      closeClient(key, client, 1013, 'slow consumer', 1000, effects);
      total -= bytes;
    }
  };

  /** The socket has room again: send from the queue; while draining, close once it is empty. */
  const pump = (key: K, client: ClientState, draining: boolean, effects: BroadcastEffect<K>[]): void => {
    if (client.phase === 'closing') return;
    while (client.queue.length > 0 && client.inSocket < maxBufferedBytes) {
      const { text, bytes } = client.queue.shift()!;
      client.queuedBytes -= bytes;
      send(key, client, text, bytes, effects);
    }
    if (client.queue.length > 0) return;
    client.phase = 'live';
    if (draining) closeClient(key, client, 1000, 'end of stream', closeTimeoutMs, effects);
  };

  /** Ends the subscription: every client still open is closed with `code`. */
  const end = (state: BroadcastState<K>, phase: 'failed' | 'stopped', notify: BroadcastEffect<K>[]): Step<K> => {
    const effects: BroadcastEffect<K>[] = [];
    const [code, reason] = farewell[phase];
    for (const [key, client] of state.clients) if (client.phase !== 'closing') closeClient(key, client, code, reason, 1000, effects);
    effects.push({ type: 'stopAccepting' });
    if (state.phase === 'draining') effects.push({ type: 'clearTimer' });
    effects.push(...notify);
    return [{ ...state, phase }, effects];
  };

  const finishIfEmpty = (state: BroadcastState<K>, effects: BroadcastEffect<K>[]): Step<K> => {
    if (state.clients.size > 0) return [state, effects];
    return [{ ...state, phase: 'completed' }, [...effects, { type: 'clearTimer' }, { type: 'complete' }]];
  };

  return (state, event) => {
    const { phase, clients } = state;
    switch (event.type) {
      case 'closed': {
        // Followed in every phase, so that the count of clients stays true after the end too.
        if (!clients.delete(event.client)) return [state, NO_EFFECTS];
        const effects: BroadcastEffect<K>[] = [{ type: 'count', counter: 'clients', by: -1 }];
        return phase === 'draining' ? finishIfEmpty(state, effects) : [state, effects];
      }
      case 'connect': {
        if (isOver(phase)) {
          const [code, reason] = farewell[phase as keyof typeof farewell];
          return [state, [{ type: 'close', client: event.client, code, reason, graceMs: 1000 }]];
        }
        const client: ClientState = { peer: event.peer, phase: 'live', inSocket: 0, queue: [], queuedBytes: 0 };
        clients.set(event.client, client);
        const effects: BroadcastEffect<K>[] = [{ type: 'count', counter: 'clients', by: 1 }];
        for (const text of event.initial ?? state.recent) deliver(event.client, client, text, Buffer.byteLength(text), effects);
        if (phase === 'draining') pump(event.client, client, true, effects);
        limitTotal(clients, effects);
        return [state, effects];
      }
      default:
    }
    if (isOver(phase)) return [state, NO_EFFECTS];
    switch (event.type) {
      case 'fail':
        return end(state, 'failed', [{ type: 'error', error: event.error }]);
      case 'unsubscribe':
        return end(state, 'stopped', []);
      case 'value': {
        if (phase !== 'serving') return [state, NO_EFFECTS];
        if (replayLatest > 0) {
          state.recent.push(event.text);
          if (state.recent.length > replayLatest) state.recent.shift();
        }
        const effects: BroadcastEffect<K>[] = [];
        for (const [key, client] of clients) deliver(key, client, event.text, event.bytes, effects);
        limitTotal(clients, effects);
        return [state, effects];
      }
      case 'evict': {
        const client = clients.get(event.client);
        if (!client || client.phase === 'closing') return [state, NO_EFFECTS];
        const effects: BroadcastEffect<K>[] = [{ type: 'count', counter: 'clientsEvicted', by: 1 }, { type: 'report', error: event.error }];
        closeClient(event.client, client, 1013, 'making room', 1000, effects);
        return [state, effects];
      }
      case 'leaving': {
        const client = clients.get(event.client);
        if (client) stopSending(client);
        return [state, NO_EFFECTS];
      }
      case 'sent': {
        const client = clients.get(event.client);
        if (!client) return [state, NO_EFFECTS];
        client.inSocket -= event.bytes;
        const effects: BroadcastEffect<K>[] = [];
        pump(event.client, client, phase === 'draining', effects);
        return [state, effects];
      }
      case 'sourceComplete': {
        if (phase !== 'serving') return [state, NO_EFFECTS];
        if (!config.closeOnComplete) return [{ ...state, phase: 'lingering' }, NO_EFFECTS];
        // New connections are refused from now on; existing clients get the rest, then 1000.
        const effects: BroadcastEffect<K>[] = [{ type: 'stopAccepting' }];
        for (const [key, client] of clients) pump(key, client, true, effects);
        if (clients.size === 0) return [{ ...state, phase: 'completed' }, [...effects, { type: 'complete' }]];
        // A client that does not read its last messages must not hold the completion forever.
        effects.push({ type: 'setTimer', delayMs: closeTimeoutMs });
        return [{ ...state, phase: 'draining' }, effects];
      }
      case 'timer': {
        if (phase !== 'draining') return [state, NO_EFFECTS];
        return [state, [...clients.keys()].map((client) => ({ type: 'terminate', client }))];
      }
    }
  };
}
