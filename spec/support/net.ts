import { once } from 'node:events';
import { createConnection, createServer, Server, Socket } from 'node:net';

/** A TCP server for a test, on 127.0.0.1 port 0, that knows its connections. */
export interface TestTcpServer {
  readonly server: Server;
  readonly port: number;
  /** Stops accepting and resolves once every connection has ended on its own. */
  closed(): Promise<void>;
  /** Destroys every connection and closes the server; safe to call again, for finally blocks. */
  destroy(): void;
}

export async function listenTcp(onConnection: (socket: Socket) => void): Promise<TestTcpServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  let closing: Promise<void> | undefined;
  const closed = () => (closing ??= new Promise<void>((resolve) => server.close(() => resolve())));
  const destroy = () => {
    for (const socket of sockets) socket.destroy();
    void closed();
  };
  return { server, port, closed, destroy };
}

/**
 * Shows by an event, not by waiting, that bytes queued at a socket of this process have not been
 * read. On loopback a write is queued at the receiver before it returns; a byte written after it
 * on the probe's own connection is read in a poll of this process that began later, and that
 * poll found every socket with bytes waiting readable: by the check phase that follows it, a
 * reader that had not stopped has read them, and emitted what they decode to (unless decoding
 * waits for a thread or a timer, as compressed WebSocket messages do).
 */
export interface SocketPollProbe {
  /**
   * Resolves at the end of a poll of this process's sockets that began after the call. Write
   * what must stay unread first, and wait for that write's callback.
   */
  pollPassed(): Promise<void>;
  /** Destroys the probe's sockets and closes its server; safe to call again, for finally blocks. */
  destroy(): void;
}

export async function socketPollProbe(): Promise<SocketPollProbe> {
  let accepted!: (socket: Socket) => void;
  const far = new Promise<Socket>((resolve) => (accepted = resolve));
  const server = await listenTcp((socket) => accepted(socket));
  const near = createConnection({ host: '127.0.0.1', port: server.port });
  // Without it, Nagle's algorithm could hold a marker until the previous one is acknowledged.
  near.setNoDelay(true);
  const [reader] = await Promise.all([far, once(near, 'connect')]);
  return {
    async pollPassed() {
      const read = once(reader, 'data');
      near.write('.');
      await read;
      await new Promise((resolve) => setImmediate(resolve));
    },
    destroy() {
      near.destroy();
      server.destroy();
    },
  };
}

/**
 * Polls a state that no event announces to the test, such as a server's count of its clients
 * after a close that only the server's side of the socket sees; prefer an event where there is one.
 */
export async function pollUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
