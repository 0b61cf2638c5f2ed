import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { Observable, Subject, tap } from 'rxjs';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { DomElement, launchBrowser, LeaderRow, openDashboard, PageIncidents, readLeaders, waitForLeaders } from '../../support/browser';
import { WebSocket, WebSocketServer } from 'ws';
import { RivuletError, webSocketBroadcast } from 'rivulet';
import { Dashboard, DashboardLeadersMessage, DashboardMessage, DashboardState, DashboardStatsMessage, serveDashboard } from 'rivulet/demos';

// The callbacks given to page.evaluate run in the browser; the DOM they touch is declared here.
declare const document: DomElement & { getElementById(id: string): DomElement | null };
declare const window: { Chart: { getChart(canvas: unknown): any }; marker?: string };

/** The chart's datasets, read from chart.js itself. */
function readChart(page: Page): Promise<Array<{ label: string; points: Array<[number, number]> }>> {
  return page.evaluate(() => {
    const chart = window.Chart.getChart(document.getElementById('chart'));
    return (chart.data.datasets as Array<{ label: string; data: Array<{ x: number; y: number }> }>).map((dataset) => ({
      label: dataset.label,
      points: dataset.data.map((point): [number, number] => [point.x, point.y]),
    }));
  });
}

/**
 * Feeds the page through the library's WebSocket sink, attached to the dashboard's own server:
 * every message goes to every connected page as JSON text, and a page that connects later first
 * gets the dashboard's snapshot (the chart's history, the latest list of each partition, the
 * latest stats), as the CLI's feed gives it. Returns a function that detaches the feed (the pages
 * see the socket close).
 */
function attachFeed(dashboard: Dashboard, messages: Observable<DashboardMessage>, feedPath = '/feed'): () => void {
  const state = new DashboardState();
  const origin = new URL(dashboard.url).origin;
  const subscription = messages
    .pipe(
      tap((message) => state.record(message)),
      webSocketBroadcast<DashboardMessage>({ server: dashboard.server, path: feedPath, allowedOrigins: [origin], snapshot: () => state.snapshot() }),
    )
    .subscribe({ error: (err: unknown) => console.error('dashboard feed failed', err) });
  return () => subscription.unsubscribe();
}

/** The x axis's tick labels as chart.js drew them (a label in two lines is joined with a comma). */
function readTicks(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const chart = window.Chart.getChart(document.getElementById('chart'));
    return (chart.scales.x.ticks as Array<{ label: string | string[] }>).map((tick) => String(tick.label));
  });
}

/** Waits until the table shows `repo` with `stars` stars. */
function waitForStars(page: Page, repo: string, stars: string): Promise<unknown> {
  return page.waitForFunction(
    ([r, n]) => document.querySelector(`#leaders tbody tr[data-repo="${r}"] td.stars`)?.textContent === n,
    [repo, stars] as const,
    { timeout: 15_000 },
  );
}

function leaders(partition: number, eventTime: number, list: ReadonlyArray<readonly [string, number]>): DashboardLeadersMessage {
  return { type: 'leaders', partition, eventTime, leaders: list.map(([repo, stars]) => ({ repo, stars, recent: [] })) };
}

// ---- the page in a real browser ----

const T0 = Date.UTC(2015, 0, 1, 15, 0, 0);
const HOUR = 3_600_000;

describe('dashboard page', () => {
  let browser: Browser;
  let dashboard: Dashboard;
  let feed: Subject<DashboardMessage>;
  // Set up by beforeEach; when a hook before it failed, afterEach finds nothing to tear down.
  let detach: (() => void) | undefined;
  let serving: Dashboard | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    dashboard = serving = await serveDashboard();
    feed = new Subject<DashboardMessage>();
    detach = attachFeed(dashboard, feed);
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
    detach?.();
    detach = undefined;
    const closing = serving;
    serving = undefined;
    await closing?.close();
  });

  async function open(): Promise<{ page: Page; incidents: PageIncidents }> {
    const opened = await openDashboard(browser, dashboard.url);
    context = opened.context;
    return opened;
  }

  it('merges the partitions into the global top 10, ties by repo name in code unit order, and updates in place', async () => {
    const { page, incidents } = await open();
    feed.next(leaders(0, T0, [['alpha/a', 30], ['Zorg/tie', 12], ['gamma/c', 7], ['delta/d', 3]]));
    feed.next(leaders(1, T0 + 1000, [['epsilon/e', 25], ['apple/tie', 12], ['eta/g', 9], ['theta/h', 2]]));
    feed.next(leaders(2, T0 + 2000, [['iota/i', 40], ['kappa/tie', 12], ['lambda/k', 5], ['mu/l', 4], ['nu/m', 1]]));

    // 'Z' (U+005A) sorts before 'a' in code units, though not in a locale-aware order.
    const first = ['iota/i', 'alpha/a', 'epsilon/e', 'Zorg/tie', 'apple/tie', 'kappa/tie', 'eta/g', 'gamma/c', 'lambda/k', 'mu/l'];
    await waitForLeaders(page, first);
    const rows = await readLeaders(page);
    expect(rows.map((row) => row.rank)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(rows.map((row) => row.stars)).toEqual(['40', '30', '25', '12', '12', '12', '9', '7', '5', '4']);
    expect(rows[0]).toMatchObject({ name: 'iota/i', href: 'https://github.com/iota/i', recent: [] });

    let chart = await readChart(page);
    expect(chart.map((dataset) => dataset.label)).toEqual(first);
    // Each line runs on to the latest event time seen (T0 + 2s, from partition 2).
    expect(chart.find((dataset) => dataset.label === 'epsilon/e')?.points).toEqual([[T0 + 1000, 25], [T0 + 2000, 25]]);
    expect(chart.find((dataset) => dataset.label === 'iota/i')?.points).toEqual([[T0 + 2000, 40]]);

    await page.evaluate(() => (window.marker = 'same document'));
    // epsilon/e moves to the top, theta/h enters, mu/l drops out.
    feed.next(leaders(1, T0 + HOUR, [['epsilon/e', 45], ['theta/h', 20], ['apple/tie', 12], ['eta/g', 9]]));
    const second = ['epsilon/e', 'iota/i', 'alpha/a', 'theta/h', 'Zorg/tie', 'apple/tie', 'kappa/tie', 'eta/g', 'gamma/c', 'lambda/k'];
    await waitForLeaders(page, second);
    expect(await page.evaluate(() => window.marker)).toBe('same document');
    expect((await readLeaders(page)).map((row) => row.stars)).toEqual(['45', '40', '30', '20', '12', '12', '12', '9', '7', '5']);

    chart = await readChart(page);
    expect(chart.map((dataset) => dataset.label)).toEqual(second);
    expect(chart.find((dataset) => dataset.label === 'epsilon/e')?.points).toEqual([[T0 + 1000, 25], [T0 + HOUR, 45]]);
    // theta/h led briefly before partition 2 reported; its line resumes where it left off.
    expect(chart.find((dataset) => dataset.label === 'theta/h')?.points).toEqual([[T0 + 1000, 2], [T0 + HOUR, 20]]);
    expect(chart.find((dataset) => dataset.label === 'apple/tie')?.points).toEqual([[T0 + 1000, 12], [T0 + HOUR, 12]]);

    // An empty list is valid: that partition's leaders leave the table.
    feed.next(leaders(2, T0 + HOUR + 1000, []));
    await waitForLeaders(page, ['epsilon/e', 'alpha/a', 'theta/h', 'Zorg/tie', 'apple/tie', 'eta/g', 'gamma/c', 'delta/d']);

    expect(incidents).toEqual({ dialogs: [], consoleErrors: [], pageErrors: [] });
  });

  it('keeps each line to a bounded number of points', async () => {
    const { page } = await open();
    for (let i = 1; i <= 600; i++) feed.next(leaders(0, T0 + i * 1000, [['busy/repo', i]]));
    await page.waitForFunction(() => document.querySelector('#leaders tbody tr td.stars')?.textContent === '600', undefined, { timeout: 15_000 });
    const [line] = await readChart(page);
    // 500 points per line at most: the newest, from the 101st change on.
    expect(line.points.length).toBe(500);
    expect(line.points[0]).toEqual([T0 + 101_000, 101]);
    expect(line.points[499]).toEqual([T0 + 600_000, 600]);
  });

  it("gives a page that opens late, or reloads, the chart's history: the same lines as a page that watched", async () => {
    const { page: watching, incidents } = await open();
    feed.next(leaders(0, T0, [['alpha/a', 3], ['beta/b', 1]]));
    feed.next(leaders(1, T0 + 60_000, [['gamma/c', 2]]));
    feed.next(leaders(0, T0 + 120_000, [['alpha/a', 4], ['beta/b', 2]]));
    feed.next(leaders(1, T0 + 180_000, [['gamma/c', 5]]));
    feed.next(leaders(0, T0 + HOUR, [['alpha/a', 6], ['beta/b', 2]]));
    await waitForStars(watching, 'alpha/a', '6');
    const watched = await readChart(watching);
    expect(watched.find((d) => d.label === 'alpha/a')?.points).toEqual([[T0, 3], [T0 + 120_000, 4], [T0 + HOUR, 6]]);
    expect(watched.find((d) => d.label === 'gamma/c')?.points).toEqual([[T0 + 60_000, 2], [T0 + 180_000, 5], [T0 + HOUR, 5]]);

    const late = await openDashboard(browser, dashboard.url);
    try {
      await waitForStars(late.page, 'alpha/a', '6');
      expect(await readChart(late.page)).toEqual(watched);
      expect(await readLeaders(late.page)).toEqual(await readLeaders(watching));
      expect(late.incidents).toEqual({ dialogs: [], consoleErrors: [], pageErrors: [] });
    } finally {
      await late.context.close();
    }

    await watching.reload();
    await watching.waitForSelector('#connection[data-state="live"]', { timeout: 15_000 });
    await waitForStars(watching, 'alpha/a', '6');
    expect(await readChart(watching)).toEqual(watched);
    // Lines drawn from the history go on with the lists that follow.
    feed.next(leaders(1, T0 + 2 * HOUR, [['gamma/c', 7]]));
    await waitForStars(watching, 'gamma/c', '7');
    expect((await readChart(watching)).find((d) => d.label === 'gamma/c')?.points).toEqual([[T0 + 60_000, 2], [T0 + 180_000, 5], [T0 + 2 * HOUR, 7]]);
    expect(incidents.pageErrors).toEqual([]);
  });

  it('gives a late page each line bounded as a watching page keeps it', async () => {
    for (let i = 1; i <= 600; i++) feed.next(leaders(0, T0 + i * 1000, [['busy/repo', i]]));
    const { page } = await open();
    await waitForStars(page, 'busy/repo', '600');
    const [line] = await readChart(page);
    expect(line.points.length).toBe(500);
    expect(line.points[0]).toEqual([T0 + 101_000, 101]);
    expect(line.points[499]).toEqual([T0 + 600_000, 600]);
  });

  it('draws no time axis before the first list (no 1970), and UTC times after', async () => {
    const { page } = await open();
    feed.next({ type: 'stats', eventsPerSecond: 0, events: 0, watermark: null, late: 0, clients: 1, partitions: 10 });
    await page.waitForFunction(() => document.getElementById('stat-clients')?.textContent === '1', undefined, { timeout: 15_000 });
    const before = await readTicks(page);
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((label) => label === '')).toBe(true);

    feed.next(leaders(0, T0, [['alpha/a', 1]]));
    await waitForStars(page, 'alpha/a', '1');
    const after = await readTicks(page);
    expect(after.filter((label) => label !== '').length).toBeGreaterThan(0);
    for (const label of after) expect(label).toMatch(/^(|1[45]:[0-5]\d(,2015-01-01)?)$/);
  });

  it('shows the stats', async () => {
    const { page } = await open();
    const stats: DashboardStatsMessage = { type: 'stats', eventsPerSecond: 1234.56, events: 4567, watermark: T0, late: 3, clients: 2, partitions: 10 };
    feed.next(stats);
    await page.waitForFunction(() => document.getElementById('stat-clients')?.textContent === '2', undefined, { timeout: 15_000 });
    const shown = await page.evaluate(() =>
      ['stat-events-per-second', 'stat-events', 'stat-watermark', 'stat-late', 'stat-clients', 'stat-partitions'].map((id) => document.getElementById(id)?.textContent),
    );
    expect(shown).toEqual(['1,234.6', '4,567', '2015-01-01T15:00:00Z', '3', '2', '10']);

    feed.next({ ...stats, watermark: null, late: 4 });
    await page.waitForFunction(() => document.getElementById('stat-late')?.textContent === '4', undefined, { timeout: 15_000 });
    expect(await page.textContent('#stat-watermark')).toBe('–');
  });

  it("shows the feed's fault counters after the other stats, as – until a stats message has them", async () => {
    const { page } = await open();
    const ids = ['stat-refused-origins', 'stat-refused-hosts', 'stat-oversized', 'stat-slow-clients', 'stat-messages-dropped'];
    const read = () => page.evaluate((list) => list.map((id) => document.getElementById(id)?.textContent), ids);
    const labels = () => page.evaluate(() => Array.from(document.querySelectorAll('.stats dt')).map((dt) => dt.textContent));
    const base: DashboardStatsMessage = { type: 'stats', eventsPerSecond: 0, events: 1, watermark: null, late: 0, clients: 1, partitions: 10 };
    feed.next(base);
    await page.waitForFunction(() => document.getElementById('stat-events')?.textContent === '1', undefined, { timeout: 15_000 });
    expect(await read()).toEqual(['–', '–', '–', '–', '–']);
    expect((await labels()).slice(-6)).toEqual(['partitions', 'refused origins', 'refused hosts', 'oversized messages', 'slow clients dropped', 'messages dropped']);
    feed.next({ ...base, events: 2, refusedOrigins: 3, refusedHosts: 1200, oversizedMessages: 2, slowClientsDropped: 5, messagesDropped: 40_000 });
    await page.waitForFunction(() => document.getElementById('stat-events')?.textContent === '2', undefined, { timeout: 15_000 });
    expect(await read()).toEqual(['3', '1,200', '2', '5', '40,000']);
    // Each counter is shown once, however many messages come.
    expect(await page.evaluate(() => document.querySelectorAll('.stats dd').length)).toBe(11);
  });

  it('renders text from events as text and links only to https://github.com/', async () => {
    const { page, incidents } = await open();
    const hostile: DashboardLeadersMessage = {
      type: 'leaders',
      partition: 0,
      eventTime: T0,
      leaders: [
        {
          repo: '<b>x</b>/y',
          stars: 9,
          recent: [
            { kind: 'pull_request', text: 'Pull request #7: <img src=x onerror=alert(1)>', url: 'https://github.com/o/r/pull/7' },
            { kind: 'fork', text: 'Forked by <script>alert(2)</script>', url: 'javascript:alert(3)' },
            { kind: 'fork', text: 'Forked by mallory', url: 'https://github.com.evil.example/mallory' },
          ],
        },
        { repo: '__proto__/constructor', stars: 5, recent: [{ kind: 'fork', text: 'Forked by eve', url: 'http://github.com/eve' }] },
      ],
    };
    feed.next(hostile);
    await waitForLeaders(page, ['<b>x</b>/y', '__proto__/constructor']);

    const rows = await readLeaders(page);
    expect(rows[0]).toEqual({
      rank: '1',
      repo: '<b>x</b>/y',
      name: '<b>x</b>/y',
      href: 'https://github.com/%3Cb%3Ex%3C/b%3E/y',
      stars: '9',
      recent: [
        { kind: 'pull_request', text: 'Pull request #7: <img src=x onerror=alert(1)>', href: 'https://github.com/o/r/pull/7' },
        { kind: 'fork', text: 'Forked by <script>alert(2)</script>', href: null },
        { kind: 'fork', text: 'Forked by mallory', href: null },
      ],
    });
    expect(rows[1]).toMatchObject({ name: '__proto__/constructor', href: 'https://github.com/__proto__/constructor', recent: [{ text: 'Forked by eve', href: null }] });

    expect(await page.$$eval('#leaders img, #leaders b, #leaders script', (found: DomElement[]) => found.length)).toBe(0);
    const hrefs = await page.$$eval('a[href]', (links: DomElement[]) => links.map((a) => a.href ?? ''));
    expect(hrefs.length).toBe(3);
    for (const href of hrefs) expect(href.startsWith('https://github.com/')).toBe(true);
    expect(incidents).toEqual({ dialogs: [], consoleErrors: [], pageErrors: [] });
  });

  it('ignores malformed messages and keeps drawing', async () => {
    const { page, incidents } = await open();
    feed.next({ type: 'leaders', partition: -1, eventTime: T0, leaders: [{ repo: 'bad/partition', stars: 1, recent: [] }] } as DashboardLeadersMessage);
    feed.next({ type: 'leaders', partition: 0, eventTime: T0, leaders: [{ repo: 'ok/one', stars: 2, recent: [] }, { repo: 42, stars: 'x' }] } as unknown as DashboardLeadersMessage);
    await waitForLeaders(page, ['ok/one']);
    expect(incidents.pageErrors).toEqual([]);
  });

  it('shows the connection going down, reconnects, and takes the state the new feed sends', async () => {
    const { page, incidents } = await open();
    expect(await page.textContent('#connection')).toBe('live');
    feed.next(leaders(0, T0, [['before/restart', 3]]));
    await waitForLeaders(page, ['before/restart']);

    detach?.();
    await page.waitForSelector('#connection[data-state="disconnected"]', { timeout: 15_000 });
    expect(await page.textContent('#connection')).toMatch(/^disconnected · reconnecting in \d+ s$/);
    // The last known leaders stay on screen meanwhile.
    expect((await readLeaders(page)).map((row) => row.repo)).toEqual(['before/restart']);

    feed = new Subject<DashboardMessage>();
    detach = attachFeed(dashboard, feed);
    feed.next(leaders(0, T0 + HOUR, [['after/restart', 4]]));
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 15_000 });
    await waitForLeaders(page, ['after/restart']);
    expect(incidents.pageErrors).toEqual([]);
  });
});

// ---- the server ----

function request(url: string, method: string, rawPath: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    // `path` goes out as written: no normalisation of dot segments or percent escapes.
    const req = http.request({ hostname, port, method, path: rawPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serveDashboard', () => {
  let dashboard: Dashboard;
  const root = path.resolve(__dirname, '..', '..', '..');

  beforeAll(async () => {
    dashboard = await serveDashboard({ feedPath: '/live/feed' });
  });

  afterAll(() => dashboard?.close());

  it('listens on 127.0.0.1 by default', () => {
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it.each([
    ['/', 'text/html; charset=utf-8'],
    ['/dashboard.js', 'text/javascript; charset=utf-8'],
    ['/dashboard.css', 'text/css; charset=utf-8'],
    ['/vendor/rxjs.umd.min.js', 'text/javascript; charset=utf-8'],
    ['/vendor/chart.umd.min.js', 'text/javascript; charset=utf-8'],
  ])('serves %s as %s with nosniff', async (urlPath, contentType) => {
    const response = await request(dashboard.url, 'GET', urlPath);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe(contentType);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.body.length).toBeGreaterThan(100);
  });

  it('serves the installed vendor bundles byte for byte', async () => {
    const rxjsBundle = await request(dashboard.url, 'GET', '/vendor/rxjs.umd.min.js');
    expect(rxjsBundle.body.equals(fs.readFileSync(path.join(root, 'node_modules/rxjs/dist/bundles/rxjs.umd.min.js')))).toBe(true);
    const chartBundle = await request(dashboard.url, 'GET', '/vendor/chart.umd.min.js');
    expect(chartBundle.body.equals(fs.readFileSync(path.join(root, 'node_modules/chart.js/dist/chart.umd.min.js')))).toBe(true);
  });

  it('sends a strict Content-Security-Policy with the page, naming only its own host for the feed', async () => {
    const response = await request(dashboard.url, 'GET', '/?x=1');
    const host = new URL(dashboard.url).host;
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host};`);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);

    // A forged Host is refused before any page is written, so it never reaches the CSP either.
    const forged = await request(dashboard.url, 'GET', '/', { host: "evil.example; script-src 'unsafe-inline'" });
    expect(forged.status).toBe(421);
    expect(String(forged.headers['content-security-policy'])).toBe("default-src 'none'");
  });

  it('tells the page where the feed is', async () => {
    const page = (await request(dashboard.url, 'GET', '/')).body.toString('utf8');
    expect(page).toContain('<meta name="rivulet-feed" content="/live/feed">');
  });

  it.each(['/../package.json', '/%2e%2e/package.json', '/%2E%2E/%2E%2E/package.json', '/vendor/../package.json', '/dashboard.js/../../package.json', '/index.html', '/vendor/', '//dashboard.js', '/live/feed', '/nope'])(
    '404 for %s',
    async (urlPath) => {
      const response = await request(dashboard.url, 'GET', urlPath);
      expect(response.status).toBe(404);
      expect(response.body.toString('utf8')).toBe('not found\n');
    },
  );

  it.each(['POST', 'PUT', 'DELETE', 'OPTIONS'])('405 for %s, allowing GET and HEAD', async (method) => {
    const response = await request(dashboard.url, method, '/');
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('GET, HEAD');
  });

  it('answers HEAD with the headers and no body', async () => {
    const response = await request(dashboard.url, 'HEAD', '/dashboard.css');
    expect(response.status).toBe(200);
    expect(Number(response.headers['content-length'])).toBe(fs.statSync(path.join(root, 'demos/starLeaders/dashboard/dashboard.css')).size);
    expect(response.body.length).toBe(0);
  });

  it.each([{ feedPath: 'feed' }, { feedPath: '/"><script>alert(1)</script>' }, { port: -1 }, { port: 1.5 }, { host: '' }])('rejects %p at creation', (options) => {
    expect(() => serveDashboard(options)).toThrow(RivuletError);
    expect(() => serveDashboard(options)).toThrow(/serveDashboard: /);
  });

  it('close() ends open connections', async () => {
    const other = await serveDashboard();
    const wss = new WebSocketServer({ server: other.server, path: '/feed' });
    const client = new WebSocket(other.url.replace('http:', 'ws:') + 'feed');
    let closing: Promise<void> | undefined;
    try {
      await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
      const closed = new Promise((resolve) => client.once('close', resolve));
      await (closing = other.close());
      await closed;
    } finally {
      client.terminate();
      wss.close();
      await (closing ?? other.close());
    }
  });
});

describe('serveDashboard Host check (DNS rebinding)', () => {
  let dashboard: Dashboard;
  let port: string;

  beforeAll(async () => {
    dashboard = await serveDashboard({ allowedHosts: ['Dash.Example.', '10.1.2.3'] });
    port = new URL(dashboard.url).port;
  });

  afterAll(() => dashboard?.close());

  it.each(['evil.example', 'evil.example:PORT', 'dash.example.evil.example:PORT', 'evil.example@127.0.0.1:PORT', '127.0.0.1.evil.example', 'localhost.evil.example', '10.1.2.4'])(
    'refuses Host "%s" with 421 on every path and method, and serves nothing of the page',
    async (host) => {
      const headers = { host: host.replace('PORT', port) };
      for (const [method, urlPath] of [['GET', '/'], ['HEAD', '/'], ['GET', '/dashboard.js'], ['GET', '/nope'], ['POST', '/']]) {
        const response = await request(dashboard.url, method, urlPath, headers);
        expect(response.status).toBe(421);
        expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
        if (method !== 'HEAD') expect(response.body.toString('utf8')).toBe('misdirected request: this server does not answer to that Host\n');
      }
    },
  );

  it.each(['127.0.0.1', '127.0.0.1:PORT', 'localhost:PORT', 'LOCALHOST.:PORT', '[::1]:PORT', '[0:0:0:0:0:0:0:1]', 'dash.example:PORT', 'DASH.EXAMPLE:80', '10.1.2.3:PORT'])(
    'serves the page to Host "%s"',
    async (host) => {
      const response = await request(dashboard.url, 'GET', '/', { host: host.replace('PORT', port) });
      expect(response.status).toBe(200);
      expect(response.body.toString('utf8')).toContain('<meta name="rivulet-feed"');
    },
  );

  it.each([['no Host (HTTP/1.0)', 'GET / HTTP/1.0\r\n\r\n'], ['an empty Host', 'GET / HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n']])('refuses a request with %s', async (_, raw) => {
    const socket = net.connect({ host: '127.0.0.1', port: Number(port) });
    try {
      let response = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (response += chunk));
      socket.write(raw);
      await new Promise((resolve) => socket.once('end', resolve));
      expect(response).toMatch(/^HTTP\/1\.1 421 /);
      expect(response).not.toContain('rivulet-feed');
    } finally {
      socket.destroy();
    }
  });

  it('lists the names it answers to, for the feed\'s own check', () => {
    expect(dashboard.allowedHosts).toEqual(['dash.example', '10.1.2.3', '127.0.0.1', 'localhost', '[::1]']);
  });

  it('answers a non-loopback bind only under its own address and the names given', async () => {
    // 127.0.0.2 is a loopback address too; an address of another kind is not available to a test.
    const other = await serveDashboard({ host: '127.0.0.2' });
    try {
      expect(other.allowedHosts).toEqual(['127.0.0.2', 'localhost', '127.0.0.1', '[::1]']);
      expect((await request(other.url, 'GET', '/', { host: 'evil.example' })).status).toBe(421);
      expect((await request(other.url, 'GET', '/', { host: new URL(other.url).host })).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it.each([['evil.example/x'], ['a b'], [''], ['host:80'], ['beef:80'], [42]])('rejects allowedHosts %p at creation', (name) => {
    expect(() => serveDashboard({ allowedHosts: [name as string] })).toThrow(/serveDashboard: allowedHosts: .* is not a host name/);
  });
});
