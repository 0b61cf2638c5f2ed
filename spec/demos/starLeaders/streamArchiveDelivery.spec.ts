import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, stopCliRuns } from '../../support/cli';
import { GH_ARCHIVE_HOURS, PINOT_EVENTS_SAMPLE } from '../../support/data';
import { listenTcp, type TestTcpServer } from '../../support/net';

const servers: TestTcpServer[] = [];
const tempDirs: string[] = [];

afterEach(async () => {
  await stopCliRuns();
  servers.splice(0).forEach((s) => s.destroy());
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A listener that collects the lines it is sent; `onConnection` may misbehave instead. */
async function lineListener(onConnection?: (socket: Socket) => void): Promise<{ port: number; lines: string[] }> {
  const lines: string[] = [];
  const server = await listenTcp((socket) => {
    socket.on('error', () => undefined);
    if (onConnection) return onConnection(socket);
    let rest = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts);
    });
  });
  servers.push(server);
  return { port: server.port, lines };
}

/** Events `gapMs` apart in event time, one per line. */
function eventsFile(count: number, gapMs: number): { file: string; lines: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-stream-archive-'));
  tempDirs.push(dir);
  const t0 = Date.UTC(2015, 0, 1);
  const lines = Array.from({ length: count }, (_, i) =>
    JSON.stringify({ id: String(i), type: 'WatchEvent', repo: { name: 'owner/repo' }, created_at: new Date(t0 + i * gapMs).toISOString() }),
  );
  const file = join(dir, 'events.json');
  writeFileSync(file, lines.join('\n') + '\n');
  return { file, lines };
}

describe('rivulet stream-archive reports what it could not deliver', () => {
  it('fails at once, naming the file and the files not sent, when the connection is refused', async () => {
    const { port } = await lineListener();
    servers[0].destroy();
    await servers[0].closed();
    await expect(runCli(['stream-archive', `127.0.0.1:${port}`, ...GH_ARCHIVE_HOURS, '--speed', '100000']).done).rejects.toThrow(
      `stream-archive: ${GH_ARCHIVE_HOURS[0]}: not delivered to 127.0.0.1:${port}: connection refused; not sent: ${GH_ARCHIVE_HOURS[1]}`,
    );
  });

  it('fails naming the file when the listener resets the connection', async () => {
    const { port } = await lineListener((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await expect(runCli(['stream-archive', `127.0.0.1:${port}`, PINOT_EVENTS_SAMPLE, '--speed', '100000']).done).rejects.toThrow(
      `stream-archive: ${PINOT_EVENTS_SAMPLE}: not delivered to 127.0.0.1:${port}: the listener reset the connection: what it had not read yet is lost`,
    );
  });
});

describe('rivulet stream-archive --keepalive', () => {
  it('fills a gap in event time with empty lines, and ends with the last event', async () => {
    const { port, lines } = await lineListener();
    const events = eventsFile(3, 300);
    await runCli(['stream-archive', `127.0.0.1:${port}`, events.file, '--speed', '1', '--keepalive', '20ms']).done;
    await servers[0].closed();
    expect(lines.filter((l) => l !== '')).toEqual(events.lines);
    // Between each two events (300 ms apart at speed 1) at least one empty line went out.
    const at = events.lines.map((l) => lines.indexOf(l));
    expect(lines.slice(at[0] + 1, at[1])).toContain('');
    expect(lines.slice(at[1] + 1, at[2])).toContain('');
    expect(lines[lines.length - 1]).toBe(events.lines[2]);
  });

  it('sends only the events with --keepalive 0s', async () => {
    const { port, lines } = await lineListener();
    const events = eventsFile(2, 100);
    await runCli(['stream-archive', `127.0.0.1:${port}`, events.file, '--speed', '1', '--keepalive', '0s']).done;
    await servers[0].closed();
    expect(lines).toEqual(events.lines);
  });
});
