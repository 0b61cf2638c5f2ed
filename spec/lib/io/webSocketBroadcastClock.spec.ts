import { AddressInfo, Socket } from 'node:net';
import { Subject, Subscription, VirtualTimeScheduler } from 'rxjs';
import { BroadcastSink, RivuletError, webSocketBroadcast, WebSocketBroadcastOptions } from 'rivulet';
import { pollUntil } from '../../support/net';
import { stalledWebSocketClient } from './tcpTestKit';

/**
 * webSocketBroadcast's timers on an injected virtual clock, over real sockets on 127.0.0.1. The
 * delays are far longer than a test may take, so each test can only pass if the sink's clock is
 * the scheduler it was given.
 */
const LONG = 600_000;

const sockets: Socket[] = [];
const subscriptions: Subscription[] = [];
afterEach(() => {
  subscriptions.splice(0).forEach((s) => s.unsubscribe());
  sockets.splice(0).forEach((s) => s.destroy());
});

async function serve(options: WebSocketBroadcastOptions<string>) {
  const scheduler = new VirtualTimeScheduler();
  const source = new Subject<string>();
  const outcome: { completed: boolean; error?: RivuletError } = { completed: false };
  let sink!: BroadcastSink<string>;
  let completion!: () => void;
  const completed = new Promise<void>((resolve) => (completion = resolve));
  const port = await new Promise<number>((resolve) => {
    // No heartbeat: flush() runs every timer due, and pings are due for as long as a client stays.
    sink = webSocketBroadcast<string>({ serialize: (s) => s, scheduler, heartbeatMs: 0, onListening: (a: AddressInfo) => resolve(a.port), ...options });
    subscriptions.push(
      source.pipe(sink).subscribe({
        complete: () => {
          outcome.completed = true;
          completion();
        },
        error: (e: RivuletError) => (outcome.error = e),
      }),
    );
  });
  return { scheduler, source, sink, port, outcome, completed };
}

describe('webSocketBroadcast on an injected clock', () => {
  it('after completion, a client that never answers the close is cut off at closeTimeoutMs of scheduler time', async () => {
    const served = await serve({ closeTimeoutMs: LONG });
    sockets.push(await stalledWebSocketClient(served.port));
    expect(served.sink.stats.clients).toBe(1); // counted before the handshake's answer is sent
    served.source.next('last');
    served.source.complete();
    expect(served.outcome.completed).toBe(false);
    served.scheduler.flush();
    expect(served.scheduler.now()).toBe(LONG);
    await served.completed;
    expect(served.sink.stats).toMatchObject({ clients: 0, messagesSent: 1 });
  });

  it('on unsubscribe, a client that never answers the 1001 is terminated after a grace of scheduler time', async () => {
    const served = await serve({});
    sockets.push(await stalledWebSocketClient(served.port));
    expect(served.sink.stats.clients).toBe(1); // counted before the handshake's answer is sent
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    expect(served.sink.stats.clients).toBe(1);
    served.scheduler.flush();
    expect(served.scheduler.now()).toBe(1000);
    await pollUntil(() => served.sink.stats.clients === 0, "the server's side of the cut-off");
  });

  it("under 'disconnect', a slow client that never answers the 1013 is terminated after a grace of scheduler time", async () => {
    const reported: string[] = [];
    const served = await serve({ slowClient: { policy: 'disconnect', maxBufferedBytes: 64 * 1024 }, onClientError: (e) => reported.push(e.code) });
    sockets.push(await stalledWebSocketClient(served.port));
    expect(served.sink.stats.clients).toBe(1); // counted before the handshake's answer is sent
    // A stalled reader fills the kernel's buffers, then its socket, then its queue.
    for (let i = 0; served.sink.stats.slowClientsDisconnected === 0; i++) {
      served.source.next(`${i}:`.padEnd(64 * 1024, 'x'));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(reported).toEqual(['ERR_SLOW_CONSUMER']);
    expect(served.sink.stats.clients).toBe(1);
    served.scheduler.flush();
    await pollUntil(() => served.sink.stats.clients === 0, "the server's side of the cut-off");
    expect(served.outcome).toEqual({ completed: false });
  });
});
