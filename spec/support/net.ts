import { once } from 'node:events';
import { createServer, Server, Socket } from 'node:net';

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
