import { once } from 'node:events';
import { AddressInfo } from 'node:net';
import { lastValueFrom, take, toArray } from 'rxjs';
import { WebSocket, WebSocketServer } from 'ws';
import { FlowGate, RivuletError, webSocketConnect, WebSocketConnectOptions } from 'rivulet';
import { socketPollProbe } from '../../support/net';
import { Collector } from './tcpTestKit';

/** A plain `ws` server as the peer, bound to 127.0.0.1 on a free port. */
async function peer(onConnection: (ws: WebSocket) => void): Promise<{ url: string; server: WebSocketServer }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', onConnection);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/feed`, server };
}

const closeServer = (server: WebSocketServer) => new Promise((resolve) => server.close(resolve));

/** A socket factory that keeps what it made, so a test can watch the client's own socket. */
function recordingFactory(made: WebSocket[]): WebSocketConnectOptions['createWebSocket'] {
  return (url, protocols, options) => {
    const ws = new WebSocket(url, protocols, options);
    made.push(ws);
    return ws;
  };
}

describe('webSocketConnect', () => {
  it('emits text messages and completes when the server closes with 1000', async () => {
    const { url, server } = await peer((ws) => {
      ws.send('one');
      ws.send('{"two":2}');
      ws.close(1000, 'done');
    });
    expect(await lastValueFrom(webSocketConnect(url).pipe(toArray()))).toEqual(['one', '{"two":2}']);
    await closeServer(server);
  });

  it('errors with ERR_CONNECTION naming the URL when the server closes with another code', async () => {
    const { url, server } = await peer((ws) => {
      ws.send('before');
      ws.close(1011, 'internal error');
    });
    const received: string[] = [];
    const error = await new Promise<RivuletError>((resolve) => webSocketConnect(url).subscribe({ next: (t) => received.push(t), error: resolve }));
    expect(received).toEqual(['before']);
    expect(error.code).toBe('ERR_CONNECTION');
    expect(error.message).toBe(`webSocketConnect: ${url}: closed with code 1011 (internal error)`);
    await closeServer(server);
  });

  it('errors when the connection drops without a close frame', async () => {
    const { url, server } = await peer((ws) => ws.terminate());
    const error = (await lastValueFrom(webSocketConnect(url)).catch((e: unknown) => e)) as RivuletError;
    expect(error.code).toBe('ERR_CONNECTION');
    expect(error.message).toContain('1006');
    await closeServer(server);
  });

  it('errors with ERR_CONNECTION when nothing listens', async () => {
    const { url, server } = await peer(() => undefined);
    await closeServer(server);
    const error = (await lastValueFrom(webSocketConnect(url)).catch((e: unknown) => e)) as RivuletError;
    expect(error.code).toBe('ERR_CONNECTION');
    expect(error.message).toContain(url);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('errors when a message is larger than maxPayloadBytes', async () => {
    const { url, server } = await peer((ws) => ws.send('x'.repeat(33)));
    const error = (await lastValueFrom(webSocketConnect(url, { maxPayloadBytes: 32 })).catch((e: unknown) => e)) as RivuletError;
    expect(error.code).toBe('ERR_CONNECTION');
    expect(error.message).toMatch(/Max payload size exceeded/);
    await closeServer(server);
  });

  it('closes the socket with 1000 on unsubscribe', async () => {
    let serverSaw!: (code: number) => void;
    const closeCode = new Promise<number>((resolve) => (serverSaw = resolve));
    const { url, server } = await peer((ws) => {
      // More than the client takes: it unsubscribes with a message still to come.
      ['one', 'two', 'three'].forEach((text) => ws.send(text));
      ws.on('close', (code) => serverSaw(code));
    });
    expect(await lastValueFrom(webSocketConnect(url).pipe(take(2)))).toBe('two');
    expect(await closeCode).toBe(1000);
    await closeServer(server);
  });

  it('abandons a handshake in progress on unsubscribe, without an error', async () => {
    const { url, server } = await peer(() => undefined);
    try {
      const made: WebSocket[] = [];
      let errored = false;
      const subscription = webSocketConnect(url, { createWebSocket: recordingFactory(made) }).subscribe({ error: () => (errored = true) });
      expect(made[0].readyState).toBe(WebSocket.CONNECTING);
      subscription.unsubscribe();
      // An aborted handshake makes the socket emit 'error', then 'close': once it has closed, an
      // error left unheard would have been thrown already.
      await new Promise((resolve) => made[0].on('close', resolve));
      expect(errored).toBe(false);
    } finally {
      await closeServer(server);
    }
  });

  it('makes its socket with the injected factory, passing origin and limits', async () => {
    const { url, server } = await peer((ws) => ws.close(1000));
    const made: Array<{ url: string; origin?: string; maxPayload?: number }> = [];
    await lastValueFrom(
      webSocketConnect(url, {
        origin: 'http://127.0.0.1:8080',
        createWebSocket: (u, protocols, options) => {
          made.push({ url: u, origin: options.origin, maxPayload: options.maxPayload });
          return new WebSocket(u, protocols, options);
        },
      }),
      { defaultValue: undefined },
    );
    expect(made).toEqual([{ url, origin: 'http://127.0.0.1:8080', maxPayload: 1 << 20 }]);
    await closeServer(server);
  });

  it('stops reading while the gate is paused', async () => {
    const serverSide = new Collector<WebSocket>();
    const { url, server } = await peer(serverSide.add);
    const probe = await socketPollProbe();
    const gate = new FlowGate();
    const holder = {};
    const received = new Collector<string>();
    const made: WebSocket[] = [];
    const subscription = webSocketConnect(url, { gate, createWebSocket: recordingFactory(made) }).subscribe(received.add);
    try {
      const [[ws]] = await Promise.all([serverSide.until(1), once(made[0], 'open')]);
      gate.pause(holder);
      await new Promise((resolve) => ws.send('held', resolve));
      // 'held' waits at the client's socket; a client that kept reading would have emitted it by now.
      await probe.pollPassed();
      expect(received.values).toEqual([]);
      gate.resume(holder);
      expect(await received.until(1)).toEqual(['held']);
    } finally {
      subscription.unsubscribe();
      probe.destroy();
      await closeServer(server);
    }
  });

  it('rejects a URL that is not ws:// or wss://', () => {
    expect(() => webSocketConnect('http://127.0.0.1')).toThrow('webSocketConnect: url must start with ws:// or wss://');
  });
});
