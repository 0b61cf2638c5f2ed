/**
 * TCP: 50-byte length-prefixed frames over loopback through `tcpListen -> map -> tcpSink`,
 * against a raw `net` server that parses the same frames and writes them on in a hand-written
 * loop. The load generator (tcpLoad) runs in a child process: it sends the frames and receives
 * them back on its own server.
 */
import { fork } from 'node:child_process';
import * as net from 'node:net';
import { join } from 'node:path';
import { map } from 'rxjs';
import { FlowGate } from '../lib/core/flowGate';
import { tcpListen } from '../lib/io/tcpSource';
import { tcpSink } from '../lib/io/tcpSink';
import type { LoadReport, LoadRequest } from './tcpLoad';

/** A pipeline under test: listens on a port of its own, forwards to `receiverPort`. */
type Relay = (receiverPort: number) => Promise<{ port: number; close: () => void }>;

export const rivuletRelay: Relay = (receiverPort) =>
  new Promise((resolve, reject) => {
    const gate = new FlowGate();
    let listening: ((port: number) => void) | undefined = (port) => resolve({ port, close: () => subscription.unsubscribe() });
    const subscription = tcpListen({ port: 0, raw: true, gate, onListening: (a) => listening?.(a.port) })
      .pipe(
        map((frame: Buffer) => frame),
        tcpSink({ port: receiverPort, gate, onConnectionError: () => {} }), // the receiver closes when it has every frame
      )
      .subscribe({ error: (err) => reject(err) });
    if (subscription.closed) listening = undefined;
  });

/** What a user writes without rivulet: parse the frames of each chunk, write them on in one go. */
export const rawRelay: Relay = (receiverPort) =>
  new Promise((resolve) => {
    const out = net.createConnection({ host: '127.0.0.1', port: receiverPort });
    out.on('error', () => {});
    const server = net.createServer((socket) => {
      let pending: Buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        const frames: Buffer[] = [];
        let bytes = 0;
        let at = 0;
        while (buf.length - at >= 4) {
          const size = buf.readUInt32BE(at);
          if (buf.length - at < 4 + size) break;
          const payload = buf.subarray(at + 4, at + 4 + size); // the `map` step: the payload as is
          const frame = Buffer.allocUnsafe(4 + payload.length);
          frame.writeUInt32BE(payload.length, 0);
          payload.copy(frame, 4);
          frames.push(frame);
          bytes += frame.length;
          at += 4 + size;
        }
        pending = buf.subarray(at);
        if (frames.length > 0 && !out.write(Buffer.concat(frames, bytes))) {
          socket.pause();
          out.once('drain', () => socket.resume());
        }
      });
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => {
          server.close();
          out.destroy();
        },
      }),
    );
  });

/** One run: a fresh load generator, `frames` frames at `rate` per second (0: flat out). */
export function tcpRun(relay: Relay, frames: number, rate: number): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'tcpLoad.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let close: (() => void) | undefined;
    const timer = setTimeout(() => {
      child.kill();
      close?.();
      reject(new Error(`tcp benchmark: no report after 60 s (${frames} frames at ${rate}/s)`));
    }, 60_000);
    child.on('message', async (message: { receiverPort?: number } & Partial<LoadReport>) => {
      if (message.receiverPort !== undefined) {
        try {
          const started = await relay(message.receiverPort);
          close = started.close;
          child.send({ pipelinePort: started.port, frames, rate } satisfies LoadRequest);
        } catch (err) {
          child.kill();
          reject(err);
        }
        return;
      }
      clearTimeout(timer);
      close?.();
      resolve(message as LoadReport);
    });
    child.on('exit', (code) => {
      if (code !== 0) {
        clearTimeout(timer);
        close?.();
        reject(new Error(`tcp load generator exited with ${code}`));
      }
    });
  });
}
