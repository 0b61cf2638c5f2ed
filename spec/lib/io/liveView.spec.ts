import * as fs from 'node:fs';
import * as http from 'node:http';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { firstValueFrom, NEVER, Observable, Subject, Subscription, throwError } from 'rxjs';
import { WebSocket } from 'ws';
import { LiveView, LiveViewOptions, LiveViewSource, RivuletError, serveLiveView } from 'rivulet';

const ROOT = path.resolve(__dirname, '..', '..', '..');

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

interface Page {
  ws: WebSocket;
  messages: unknown[];
  closed: Promise<number>;
  /** Resolves once `count` messages have arrived. */
  received(count: number): Promise<unknown[]>;
}

/** A WebSocket client that behaves as the view's own page: its Origin is the view's. */
function openFeed(view: LiveView, feedPath: string, headers: Record<string, string> = {}): Promise<Page> {
  const { origin, host } = new URL(view.url);
  const ws = new WebSocket(`ws://${host}${feedPath}`, { headers: { origin, ...headers } });
  const messages: unknown[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    messages.push(JSON.parse(data.toString()));
    for (const waiter of waiters.splice(0)) waiter();
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const received = (count: number) =>
    new Promise<unknown[]>((resolve) => {
      const check = () => (messages.length >= count ? resolve(messages.slice(0, count)) : waiters.push(check));
      check();
    });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, closed, received }));
    ws.once('error', reject);
  });
}

/** The status of a refused WebSocket handshake. */
function refusedWith(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error(`${url} was accepted`));
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', () => undefined);
  });
}

describe('serveLiveView', () => {
  let dir: string;
  const running = new Set<Subscription>();
  const views: LiveView[] = [];

  /** Subscribes the view and resolves once it listens; it is unsubscribed after the test. */
  function start(source: LiveViewSource): Promise<LiveView> {
    return new Promise((resolve, reject) => {
      const subscription = source.subscribe({
        next: (view) => {
          views.push(view);
          resolve(view);
        },
        error: reject,
      });
      running.add(subscription);
    });
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rivulet-live-view-'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>view</title><script src="/app.js"></script>');
    fs.writeFileSync(path.join(dir, 'app.js'), 'console.log("app");');
    fs.mkdirSync(path.join(dir, 'img'));
    fs.writeFileSync(path.join(dir, 'img', 'dot.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    fs.writeFileSync(path.join(dir, 'my notes (1).txt'), 'notes');
    fs.writeFileSync(path.join(dir, '.env'), 'SECRET=1');
    fs.mkdirSync(path.join(dir, '.git'));
    fs.writeFileSync(path.join(dir, '.git', 'config'), '[core]');
  });

  afterEach(async () => {
    for (const subscription of running) subscription.unsubscribe();
    running.clear();
    await Promise.all(views.splice(0).map((view) => view.closed));
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('the page', () => {
    let view: LiveView;
    beforeEach(async () => {
      view = await start(serveLiveView({ page: { dir } }));
    });

    it('listens on 127.0.0.1 by default', () => {
      expect(view.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    });

    it.each([
      ['/', 'text/html; charset=utf-8', 'index.html'],
      ['/app.js', 'text/javascript; charset=utf-8', 'app.js'],
      ['/img/dot.svg', 'image/svg+xml', 'img/dot.svg'],
      ['/my%20notes%20(1).txt', 'text/plain; charset=utf-8', 'my notes (1).txt'],
    ])('serves %s from the folder as %s', async (urlPath, contentType, file) => {
      const response = await request(view.url, 'GET', urlPath);
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe(contentType);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.body.equals(fs.readFileSync(path.join(dir, file)))).toBe(true);
    });

    it('serves the browser bundles rivulet ships, byte for byte', async () => {
      for (const [urlPath, file] of [
        ['/vendor/rxjs.umd.min.js', 'node_modules/rxjs/dist/bundles/rxjs.umd.min.js'],
        ['/vendor/chart.umd.min.js', 'node_modules/chart.js/dist/chart.umd.min.js'],
        ['/vendor/rivuletFeed.js', 'lib/browser/rivuletFeed.js'],
      ]) {
        const response = await request(view.url, 'GET', urlPath);
        expect(response.headers['content-type']).toBe('text/javascript; charset=utf-8');
        expect(response.body.equals(fs.readFileSync(path.join(ROOT, file)))).toBe(true);
      }
    });

    it('sends a strict Content-Security-Policy with HTML, naming only its own host for the feeds', async () => {
      const host = new URL(view.url).host;
      const csp = String((await request(view.url, 'GET', '/?x=1')).headers['content-security-policy']);
      expect(csp.split('; ')).toEqual([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        `connect-src 'self' ws://${host} wss://${host}`,
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ]);
    });

    it.each(['/.env', '/.git/config', '/index.html', '/../package.json', '/%2e%2e/package.json', '/img/../app.js', '//app.js', '/img/', '/vendor/', '/nope', '/%E0%A4%A'])(
      '404 for %s',
      async (urlPath) => {
        const response = await request(view.url, 'GET', urlPath);
        expect(response.status).toBe(404);
        expect(response.body.toString('utf8')).toBe('not found\n');
      },
    );

    it.each(['POST', 'PUT', 'DELETE', 'OPTIONS'])('405 for %s, allowing GET and HEAD', async (method) => {
      const response = await request(view.url, method, '/');
      expect(response.status).toBe(405);
      expect(response.headers.allow).toBe('GET, HEAD');
    });

    it('answers HEAD with the headers and no body', async () => {
      const response = await request(view.url, 'HEAD', '/app.js');
      expect(response.status).toBe(200);
      expect(Number(response.headers['content-length'])).toBe(fs.statSync(path.join(dir, 'app.js')).size);
      expect(response.body.length).toBe(0);
    });

    it.each(['evil.example', 'evil.example@127.0.0.1:80', 'localhost.evil.example'])('refuses Host "%s" with 421, on any path', async (host) => {
      for (const urlPath of ['/', '/app.js', '/nope']) {
        const response = await request(view.url, 'GET', urlPath, { host });
        expect(response.status).toBe(421);
        expect(response.body.toString('utf8')).toBe('misdirected request: this server does not answer to that Host\n');
      }
    });

    it('answers to the loopback names', async () => {
      const port = new URL(view.url).port;
      expect(view.allowedHosts).toEqual(['127.0.0.1', 'localhost', '[::1]']);
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) expect((await request(view.url, 'GET', '/', { host })).status).toBe(200);
    });
  });

  it('takes files by URL path, as file names or contents, over the folder', async () => {
    const view = await start(
      serveLiveView({
        page: {
          dir,
          files: { '/app.js': { body: 'console.log("given");' }, '/data/points.json': { body: '[1,2]' }, '/about': { body: 'about', contentType: 'text/plain; charset=utf-8' }, '/copy.js': path.join(dir, 'app.js') },
        },
      }),
    );
    expect((await request(view.url, 'GET', '/app.js')).body.toString('utf8')).toBe('console.log("given");');
    const points = await request(view.url, 'GET', '/data/points.json');
    expect([points.headers['content-type'], points.body.toString('utf8')]).toEqual(['application/json', '[1,2]']);
    expect((await request(view.url, 'GET', '/about')).headers['content-type']).toBe('text/plain; charset=utf-8');
    expect((await request(view.url, 'GET', '/copy.js')).body.toString('utf8')).toBe('console.log("app");');
    expect((await request(view.url, 'GET', '/img/dot.svg')).status).toBe(200);
  });

  describe('feeds', () => {
    it('send a page the snapshot when it connects, then every value', async () => {
      const values = new Subject<{ n: number }>();
      const seen: Array<{ n: number }> = [];
      values.subscribe((v) => seen.push(v));
      const view = await start(serveLiveView({ page: { dir }, feeds: { '/feed': { source: values, snapshot: () => [{ n: seen.length }] } } }));
      const early = await openFeed(view, '/feed');
      expect(await early.received(1)).toEqual([{ n: 0 }]);
      values.next({ n: 1 });
      values.next({ n: 2 });
      expect(await early.received(3)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);

      const late = await openFeed(view, '/feed');
      values.next({ n: 3 });
      expect(await late.received(2)).toEqual([{ n: 2 }, { n: 3 }]);
      expect(await early.received(4)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
    });

    it('replay the last values to a page that reloads, and keep serving after the source completes', async () => {
      const values = new Subject<number>();
      const view = await start(serveLiveView({ page: { dir }, feeds: { '/feed': { source: values, replayLatest: 2 } } }));
      const first = await openFeed(view, '/feed');
      [1, 2, 3].forEach((n) => values.next(n));
      values.complete();
      expect(await first.received(3)).toEqual([1, 2, 3]);
      first.ws.close();
      await first.closed;

      const reloaded = await openFeed(view, '/feed');
      expect(await reloaded.received(2)).toEqual([2, 3]);
      expect((await request(view.url, 'GET', '/')).status).toBe(200);
    });

    it('are kept apart by path, and count their pages', async () => {
      const a = new Subject<string>();
      const b = new Subject<string>();
      const source = serveLiveView({ page: { dir }, feeds: { '/a': { source: a }, '/feeds/b': { source: b } } });
      const view = await start(source);
      const pageA = await openFeed(view, '/a');
      const pageB = await openFeed(view, '/feeds/b');
      const pageB2 = await openFeed(view, '/feeds/b');
      a.next('for a');
      b.next('for b');
      expect(await pageA.received(1)).toEqual(['for a']);
      expect(await pageB.received(1)).toEqual(['for b']);
      expect(await pageB2.received(1)).toEqual(['for b']);
      expect(source.stats.get('/a')?.clients).toBe(1);
      expect(source.stats.get('/feeds/b')?.clients).toBe(2);
      expect(source.stats.get('/feeds/b')?.messagesSent).toBe(2);
    });

    it('refuse another Host (421), another Origin (403), and paths that are no feed (400)', async () => {
      const view = await start(serveLiveView({ page: { dir }, feeds: { '/feed': { source: NEVER } } }));
      const { host, origin } = new URL(view.url);
      expect(await refusedWith(`ws://${host}/feed`, { origin, host: 'evil.example' })).toBe(421);
      expect(await refusedWith(`ws://${host}/feed`, { origin: 'http://evil.example' })).toBe(403);
      expect(await refusedWith(`ws://${host}/other`, { origin })).toBe(400);
      // The page under another of its names may connect.
      const port = new URL(view.url).port;
      const page = await openFeed(view, '/feed', { host: `localhost:${port}`, origin: `http://localhost:${port}` });
      page.ws.close();
      await page.closed;
    });

    it('close their pages with 1001 when the view is unsubscribed, and the server stops', async () => {
      const source = serveLiveView({ page: { dir }, feeds: { '/feed': { source: NEVER } } });
      const view = await start(source);
      const page = await openFeed(view, '/feed');
      for (const subscription of running) subscription.unsubscribe();
      expect(await page.closed).toBe(1001);
      await view.closed;
      expect(view.server.listening).toBe(false);
    });
  });

  it('fails, closing the server, when a feed fails', async () => {
    const failure = new RivuletError('ERR_INVALID_VALUE', 'bad value');
    const broken = new Subject<number>();
    let view: LiveView | undefined;
    const outcome = new Promise<unknown>((resolve) => {
      running.add(serveLiveView({ page: { dir }, feeds: { '/feed': { source: broken } } }).subscribe({ next: (v) => { view = v; broken.error(failure); }, error: resolve }));
    });
    expect(await outcome).toBe(failure);
    await view?.closed;
    expect(view?.server.listening).toBe(false);
  });

  it('fails with ERR_CONNECTION when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as { port: number };
      await expect(firstValueFrom(serveLiveView({ page: { dir }, port }))).rejects.toMatchObject({ code: 'ERR_CONNECTION', message: expect.stringMatching(/^serveLiveView: cannot listen on 127\.0\.0\.1:\d+: /) });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it.each<[string, () => LiveViewOptions]>([
    ['no page', () => ({}) as LiveViewOptions],
    ['a page without index.html', () => ({ page: { files: { '/app.js': { body: '' } } } })],
    ['a folder that is not there', () => ({ page: { dir: path.join(dir, 'missing') } })],
    ['a file URL that is not a path', () => ({ page: { dir, files: { 'app.js': { body: '' } } } })],
    ['a file URL with dot segments', () => ({ page: { dir, files: { '/x/../y.js': { body: '' } } } })],
    ['a page file over a bundle', () => ({ page: { dir, files: { '/vendor/rxjs.umd.min.js': { body: '' } } } })],
    ['a feed path that is not a path', () => ({ page: { dir }, feeds: { feed: { source: NEVER } } })],
    ['a feed path with markup', () => ({ page: { dir }, feeds: { '/"><script>': { source: NEVER } } })],
    ['a feed over a page file', () => ({ page: { dir }, feeds: { '/app.js': { source: NEVER } } })],
    ['a feed without a source', () => ({ page: { dir }, feeds: { '/feed': { source: [1, 2] as unknown as Observable<number> } } })],
    ['a bad port', () => ({ page: { dir }, port: 70000 })],
    ['a bad allowedHosts', () => ({ page: { dir }, allowedHosts: ['evil.example/x'] })],
    ['a bad allowedOrigins', () => ({ page: { dir }, allowedOrigins: '*' as 'same-host' })],
  ])('throws ERR_INVALID_OPTION at creation for %s', (_, options) => {
    expect(() => serveLiveView(options())).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/^serveLiveView: /) }));
  });

  it('throws ERR_FILE at creation for a page file that cannot be read', () => {
    expect(() => serveLiveView({ page: { dir, files: { '/x.js': path.join(dir, 'missing.js') } } })).toThrow(expect.objectContaining({ code: 'ERR_FILE' }));
  });

  it('fails when a feed\'s source fails as it is subscribed', async () => {
    await expect(firstValueFrom(serveLiveView({ page: { dir }, feeds: { '/feed': { source: throwError(() => new Error('at once')) } } }))).rejects.toThrow('at once');
  });
});
