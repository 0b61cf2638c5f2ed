import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subscription } from 'rxjs';
import { RivuletError, tcpListen } from 'rivulet';
import { runCli, stopCliRuns } from '../../support/cli';
import { WALLAROO_DAYS as DAYS } from '../../support/data';
import { listenTcp, type TestTcpServer } from '../../support/net';

// send-logs has no acknowledgements to wait for: what it can know is how its connection ended.
// Each listener below ends it in one of the ways that lose data, and send-logs must say so.

const servers: TestTcpServer[] = [];
const subscriptions: Subscription[] = [];
const tempDirs: string[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  await stopCliRuns();
  sockets.splice(0).forEach((s) => s.destroy());
  servers.splice(0).forEach((s) => s.destroy());
  subscriptions.splice(0).forEach((s) => s.unsubscribe());
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function listener(onConnection: (socket: Socket) => void): Promise<number> {
  const server = await listenTcp((socket) => {
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  servers.push(server);
  return server.port;
}

/** A log file of a few MiB (day_2 repeated): sending it takes many writes. */
function bigLog(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-send-logs-'));
  tempDirs.push(dir);
  const file = join(dir, 'big.log');
  writeFileSync(file, readFileSync(DAYS[1], 'utf8').repeat(40));
  return file;
}

describe('rivulet send-logs reports what it could not deliver', () => {
  it('fails naming the file and the files not sent when the connection is refused', async () => {
    const port = await listener(() => undefined);
    servers[0].destroy();
    await servers[0].closed();
    await expect(runCli(['send-logs', `127.0.0.1:${port}`, DAYS[0], DAYS[1], DAYS[2]]).done).rejects.toThrow(
      `send-logs: ${DAYS[0]}: not delivered to 127.0.0.1:${port}: connection refused; not sent: ${DAYS[1]}, ${DAYS[2]}`,
    );
  });

  it('fails when the listener resets the connection after reading part of the file', async () => {
    const port = await listener((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const file = bigLog();
    await expect(runCli(['send-logs', `127.0.0.1:${port}`, file]).done).rejects.toThrow(
      `send-logs: ${file}: not delivered to 127.0.0.1:${port}: the listener reset the connection: what it had not read yet is lost`,
    );
  });

  it('fails when the listener closes its side before everything was sent', async () => {
    const port = await listener((socket) => {
      socket.resume();
      socket.end();
    });
    const file = bigLog();
    await expect(runCli(['send-logs', `127.0.0.1:${port}`, file, DAYS[0]]).done).rejects.toThrow(
      new RegExp(`^send-logs: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not delivered to 127\\.0\\.0\\.1:${port}: the listener closed the connection before everything was sent; not sent: .*day_1\\.log$`),
    );
  });

  it('fails, instead of exiting 0, when a listener at its connection limit refuses it', async () => {
    // The attack of the issue at small size: every slot held by an active connection.
    let port = 0;
    const refusals: RivuletError[] = [];
    const frames: string[] = [];
    let firstFrame: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (firstFrame = resolve));
    await new Promise<void>((resolve, reject) => {
      subscriptions.push(
        tcpListen({
          port: 0,
          maxConnections: 1,
          onListening: (a) => {
            port = a.port;
            resolve();
          },
          onConnectionError: (error) => refusals.push(error),
        }).subscribe({ next: (f) => (frames.push(f), firstFrame()), error: reject }),
      );
    });
    const holder = await runHolder(port);
    await held;
    await expect(runCli(['send-logs', `127.0.0.1:${port}`, DAYS[5]]).done).rejects.toThrow(
      `send-logs: ${DAYS[5]}: not delivered to 127.0.0.1:${port}: `,
    );
    expect(refusals.map((e) => e.message)).toEqual([expect.stringMatching(/maxConnections 1 reached$/)]);
    expect(frames).toEqual(['holding']);
  });
});

/** A connection that has just sent a frame, so the listener does not count it as idle. */
async function runHolder(port: number): Promise<Socket> {
  const socket = new Socket();
  sockets.push(socket);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.connect(port, '127.0.0.1', resolve));
  const payload = Buffer.from('holding');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  socket.write(Buffer.concat([header, payload]));
  return socket;
}
