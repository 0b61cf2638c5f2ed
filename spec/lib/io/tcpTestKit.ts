import { once } from 'node:events';
import * as net from 'node:net';
import { VirtualAction, VirtualTimeScheduler } from 'rxjs';

/** Wallaroo's frame written by hand (independent of the library's encoder). */
export function frame(payload: string | Buffer, headerBytes = 4): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.alloc(headerBytes);
  header.writeUIntBE(body.length, 0, headerBytes);
  return Buffer.concat([header, body]);
}

/** Splits a byte stream of 4-byte-prefixed frames, independently of the library's decoder. */
export class FrameReader {
  frames: string[] = [];
  private rest: Buffer = Buffer.alloc(0);
  private waiters: { count: number; resolve: () => void }[] = [];

  push(chunk: Buffer): void {
    this.rest = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
    let offset = 0;
    while (this.rest.length - offset >= 4) {
      const size = this.rest.readUInt32BE(offset);
      if (this.rest.length - offset - 4 < size) break;
      this.frames.push(this.rest.toString('utf8', offset + 4, offset + 4 + size));
      offset += 4 + size;
    }
    this.rest = this.rest.subarray(offset);
    this.waiters = this.waiters.filter((w) => (this.frames.length >= w.count ? (w.resolve(), false) : true));
  }

  /** Resolves once `count` frames have been read. */
  until(count: number): Promise<void> {
    if (this.frames.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}

/** Collects values and resolves `until(n)` promises as they arrive. */
export class Collector<T> {
  values: T[] = [];
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  readonly add = (value: T): void => {
    this.values.push(value);
    this.waiters = this.waiters.filter((w) => (w.test() ? (w.resolve(), false) : true));
  };

  until(count: number): Promise<T[]> {
    return this.when(() => this.values.length >= count).then(() => this.values);
  }

  when(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
}

/** Sockets and servers a test opened; `closeAll()` (run it in afterEach) releases them even after a failure. */
const opened: Array<() => void> = [];

export function closeAll(): void {
  opened.splice(0).forEach((release) => release());
}

export function track(thing: net.Socket | net.Server): void {
  opened.push(() => {
    if (thing instanceof net.Server) {
      thing.close();
    } else {
      thing.destroy();
    }
  });
}

export async function connectTo(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  track(socket);
  await once(socket, 'connect');
  return socket;
}

/** A port that was free a moment ago (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** A plain listener that records the frames each connection sends, with its sockets at hand. */
export async function frameListener(port = 0): Promise<{ server: net.Server; port: number; reader: FrameReader; sockets: net.Socket[] }> {
  const reader = new FrameReader();
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    track(socket);
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => undefined);
  });
  server.listen(port, '127.0.0.1');
  track(server);
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port, reader, sockets };
}

/** Resolves on the socket's 'close' (or at once if it is already closed). */
export function closed(socket: net.Socket): Promise<unknown> {
  return socket.closed ? Promise.resolve() : once(socket, 'close');
}

/**
 * Drives a pure transition function by hand, from `initial` along `path`: `send` feeds further
 * events and returns the effects they produced, each written by `show` as a short string, so a
 * test reads like the machine's transition table.
 */
export function driveMachine<S, E, F>(transition: (state: S, event: E) => readonly [S, readonly F[]], initial: S, show: (effect: F) => string, path: E[]) {
  let state = initial;
  const send = (...events: E[]): string[] => {
    const effects: string[] = [];
    for (const event of events) {
      const [next, produced] = transition(state, event);
      state = next;
      effects.push(...produced.map(show));
    }
    return effects;
  };
  send(...path);
  return {
    send,
    get state(): S {
      return state;
    },
  };
}

/** A clock that moves only when told: the timers due run, synchronously, inside `advance`. */
export function virtualClock(): { scheduler: VirtualTimeScheduler; advance(ms: number): void } {
  const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
  return {
    scheduler,
    advance(ms) {
      const to = scheduler.now() + ms;
      scheduler.maxFrames = to;
      scheduler.flush();
      scheduler.frame = to;
    },
  };
}

/**
 * Completes a WebSocket handshake over a raw socket, then stops reading: the slowest client, one
 * that never answers a ping or a close. `localAddress`: another loopback address to come from.
 */
export function stalledWebSocketClient(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    socket.once('data', (chunk) => {
      if (!chunk.toString().startsWith('HTTP/1.1 101')) return reject(new Error(`handshake failed: ${chunk.toString()}`));
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
  });
}
