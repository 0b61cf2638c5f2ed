import { once } from 'node:events';
import * as net from 'node:net';
import { WebSocket } from 'ws';
import { runCli, stopCliRuns } from '../../support/cli';

// star-leaders --dashboard and --ws-out under hostile clients: each fault reaches stderr, at
// most one line per kind per second, and the dashboard's stats count the feed's.

afterEach(() => stopCliRuns());

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** The HTTP status of a refused handshake. */
function refusal(url: string, options: ConstructorParameters<typeof WebSocket>[2]): Promise<number> {
  const ws = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      ws.on('error', () => undefined);
      ws.terminate();
      resolve(res.statusCode ?? 0);
    });
    ws.on('open', () => reject(new Error('the handshake was accepted')));
    ws.on('error', reject);
  });
}

function open(url: string, origin?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { origin });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('star-leaders: faults of WebSocket clients are logged and counted', () => {
  it('logs refused Hosts and Origins and oversized messages, rate-limited per kind, and counts the feed\'s in the stats', async () => {
    const wsOutPort = await freePort();
    const app = runCli(['star-leaders', '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0', '--ws-out', `127.0.0.1:${wsOutPort}`]);
    const [, dashboardUrl] = await app.stderrLine(/dashboard at (\S+)/);
    const { host } = new URL(dashboardUrl);
    const feedUrl = `ws://${host}/feed`;
    const wsOutUrl = `ws://127.0.0.1:${wsOutPort}`;
    await app.stderrLine(/listening on/);

    // Five rebound pages: their name, resolved to this machine, and an Origin to match.
    const port = new URL(dashboardUrl).port;
    for (let i = 0; i < 5; i++) {
      expect(await refusal(feedUrl, { headers: { host: `evil.example:${port}` }, origin: `http://evil.example:${port}` })).toBe(421);
    }
    expect(await refusal(wsOutUrl, { origin: 'http://evil.example' })).toBe(403);
    // Messages over the limit (64 KiB by default), to each endpoint.
    for (const [url, origin] of [[wsOutUrl, undefined], [feedUrl, `http://${host}`]]) {
      const rude = await open(url!, origin);
      rude.on('error', () => undefined);
      rude.send('x'.repeat(64 * 1024 + 1));
      expect(await new Promise((resolve) => rude.on('close', resolve))).toBe(1009);
    }
    await app.stderrLine(/dashboard feed: webSocketBroadcast: client .*: Max payload size exceeded/);

    // The page's own view: the stats count the feed's refusals.
    const page = await open(feedUrl, `http://${host}`);
    const counted = await new Promise<Record<string, unknown>>((resolve) =>
      page.on('message', (data) => {
        const message = JSON.parse(data.toString()) as Record<string, unknown>;
        if (message.type === 'stats' && message.refusedHosts === 5) resolve(message);
      }),
    );
    expect(counted).toMatchObject({ refusedOrigins: 0, refusedHosts: 5, oversizedMessages: 1, slowClientsDropped: 0, messagesDropped: 0 });
    page.close();

    app.stop();
    const { stderr } = await app.done;
    const hostLines = stderr.split('\n').filter((line) => line.includes('ERR_HOST_NOT_ALLOWED') || line.includes('is not a name of this server'));
    // One line per second at most: the rest are counted, on the next line of the kind or at the end.
    expect(hostLines[0]).toMatch(new RegExp(`^star-leaders: dashboard feed: webSocketBroadcast: refused 127\\.0\\.0\\.1:\\d+: Host "evil\\.example:${port}" is not a name of this server \\(see allowedHosts\\)`));
    const logged = hostLines.filter((line) => line.includes('is not a name')).length;
    const left = hostLines.map((line) => Number(/(\d+) more ERR_HOST_NOT_ALLOWED not logged/.exec(line)?.[1] ?? 0)).reduce((a, b) => a + b, 0);
    expect(logged).toBeLessThan(5);
    expect(logged + left).toBe(5);
    expect(stderr).toMatch(/^star-leaders: --ws-out: webSocketBroadcast: refused 127\.0\.0\.1:\d+: origin http:\/\/evil\.example is not allowed$/m);
    expect(stderr).toMatch(/^star-leaders: --ws-out: webSocketBroadcast: client 127\.0\.0\.1:\d+: Max payload size exceeded$/m);
    expect(stderr).toMatch(/^star-leaders: dashboard feed: webSocketBroadcast: client 127\.0\.0\.1:\d+: Max payload size exceeded$/m);
  });
});
