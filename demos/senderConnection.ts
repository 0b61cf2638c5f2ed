import * as net from 'node:net';

/**
 * What a sender of files (`send-logs`, `stream-archive`) can learn about its delivery. The wire
 * protocol has no acknowledgements, so the only signs of loss are the connection's own: it was
 * refused; the listener reset it (it closed with our bytes unread, or refused us for a limit);
 * or the listener closed its side before we had sent everything. Given to `tcpSink` as its
 * `createConnection`, this watches every socket the sink opens; `problem` is the first sign.
 *
 * A listener that reads everything closes after our FIN, without a reset: no problem then.
 */
export interface WatchedConnection {
  readonly createConnection: (options: net.NetConnectOpts) => net.Socket;
  /** Why what was sent may not all have been read, if there is a sign of it. */
  readonly problem: string | undefined;
}

export function watchConnection(): WatchedConnection {
  let problem: string | undefined;
  const createConnection = (options: net.NetConnectOpts): net.Socket => {
    const socket = net.createConnection(options);
    let finished = false;
    socket.once('finish', () => (finished = true));
    socket.once('end', () => {
      if (!finished) problem ??= 'the listener closed the connection before everything was sent';
    });
    socket.on('error', (error: NodeJS.ErrnoException) => (problem ??= reasonOf(error)));
    return socket;
  };
  return {
    createConnection,
    get problem() {
      return problem;
    },
  };
}

function reasonOf(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'the listener reset the connection: what it had not read yet is lost';
    case 'EPIPE':
      return 'the listener closed the connection before everything was sent';
    default:
      return error.message;
  }
}
