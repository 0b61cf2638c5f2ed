import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, stopCliRuns } from '../../support/cli';
import { listenTcp, type TestTcpServer } from '../../support/net';

const servers: TestTcpServer[] = [];
const tempDirs: string[] = [];

afterEach(async () => {
  await stopCliRuns();
  servers.splice(0).forEach((s) => s.destroy());
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * 800 events of about 20 KiB, one event-second apart (1 ms apart at speed 1,000): 16 MiB,
 * more than the sink's 8 MiB buffer plus what the kernel holds for a peer that does not read. The
 * file is read faster than the events fall due, so they wait in the pacer's queue (few enough not
 * to fill it): only the sink's hold on the pacer can keep them out of the sink's buffer.
 */
function bulkyEvents(): { file: string; lines: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-stream-archive-stall-'));
  tempDirs.push(dir);
  const t0 = Date.UTC(2015, 0, 1);
  const padding = 'x'.repeat(20_000);
  const lines = Array.from({ length: 800 }, (_, i) =>
    JSON.stringify({ id: String(i), type: 'WatchEvent', repo: { name: 'owner/repo' }, payload: { padding }, created_at: new Date(t0 + i * 1_000).toISOString() }),
  );
  const file = join(dir, 'events.json');
  writeFileSync(file, lines.join('\n') + '\n');
  return { file, lines };
}

describe('rivulet stream-archive towards a listener that stops reading', () => {
  it('holds its events instead of overflowing the sink, and sends them all once the listener reads again', async () => {
    const events = bulkyEvents();
    const received: string[] = [];
    let socket: Socket | undefined;
    let stoppedOnce = false;
    let onStopped: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (onStopped = resolve));
    const server = await listenTcp((s) => {
      socket = s;
      s.on('error', () => undefined);
      let rest = '';
      s.setEncoding('utf8');
      s.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        received.push(...parts);
        // Reads the first events, then stops: the pacer has queued the whole file by then.
        if (received.length >= 50 && !stoppedOnce) {
          stoppedOnce = true;
          s.pause();
          onStopped();
        }
      });
    });
    servers.push(server);
    const address = `127.0.0.1:${server.port}`;
    const run = runCli(['stream-archive', address, events.file, '--speed', '1000', '--keepalive', '0s']);
    await stopped;
    const ended = new Promise<void>((resolve) => socket!.once('end', resolve));
    // Before, the pacer kept pouring its queue into the sink and the command failed with
    // ERR_BUFFER_FULL, which rejects this wait.
    await run.stderrLine(new RegExp(`stream-archive: ${address} has not been reading for a second; events wait until it does`));
    socket!.resume();
    await run.done;
    await ended;
    expect(received.length).toBe(events.lines.length);
    expect(received).toEqual(events.lines);
  });
});
