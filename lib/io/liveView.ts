import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import { Duplex } from 'node:stream';
import { finalize, merge, Observable, Subscription } from 'rxjs';
import { invalidOption, requireInteger, RivuletError } from '../core/errors';
import { allowedHostNames, hostCheck, HostCheck, hostNameOf } from './hostCheck';
import { BroadcastStats, SlowClientPolicy, webSocketBroadcast } from './webSocketServer';

/** A file of the page given by its contents instead of a path. */
export interface LiveViewAsset {
  readonly body: string | Uint8Array;
  /** By default, from the extension of its URL path (`text/html; charset=utf-8` for `/`). */
  readonly contentType?: string;
}

/** The files a live view serves: a folder, a list, or both (the list wins on a clash). */
export interface LiveViewPage {
  /**
   * A folder: `index.html` is served at `/`, every other file at its path below the folder
   * (`app.js` at `/app.js`, `img/logo.svg` at `/img/logo.svg`). Names starting with a dot and
   * symbolic links are left out. At most 1000 files and 64 MiB, read once when the view is created.
   */
  readonly dir?: string;
  /** URL path (such as `/` or `/app.js`) -> a file to read, or the contents themselves. */
  readonly files?: Readonly<Record<string, string | LiveViewAsset>>;
}

/** One feed: an observable whose values every page connected to its path receives. */
export interface LiveFeed<T> {
  readonly source: Observable<T>;
  /** Turns a value into the text sent; `JSON.stringify` by default. */
  readonly serialize?: (value: T) => string;
  /** A page that connects mid-stream first receives the last `replayLatest` values; 0 by default. */
  readonly replayLatest?: number;
  /**
   * Called when a page connects; the values it returns are sent to that page first, instead of
   * `replayLatest`: the current state when it is not simply the last N values (the latest value
   * of every key, a bounded history). Keep it small: it goes through the same per-page budget
   * (`slowClient.maxBufferedBytes`) as every other message.
   */
  readonly snapshot?: () => readonly T[];
  /** Default: drop the oldest messages of a page past 1 MiB waiting (see `webSocketBroadcast`). */
  readonly slowClient?: SlowClientPolicy;
  /**
   * false (the default): once `source` completes, pages keep the connection and new pages get
   * the snapshot, until the view is unsubscribed. true: the feed's pages are closed with 1000
   * once they have everything, and the path refuses new ones.
   */
  readonly closeOnComplete?: boolean;
  /** Pages on this feed at most; 1000 by default. */
  readonly maxClients?: number;
  /** Pages from one address at most; 16 by default. */
  readonly maxClientsPerAddress?: number;
  /** Bytes waiting for all of this feed's pages together; 64 MiB by default. */
  readonly maxTotalBufferedBytes?: number;
  /** Largest message a page may send; 64 KiB by default. */
  readonly maxPayloadBytes?: number;
  /** Pages are pinged this often to find the unresponsive ones; 10 000 ms by default, 0: never. */
  readonly heartbeatMs?: number;
}

export interface LiveViewOptions {
  /** Interface to bind; `127.0.0.1` by default. */
  readonly host?: string;
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  readonly page: LiveViewPage;
  /**
   * Feed path (such as `/feed`) -> the feed. The page opens
   * `new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/feed')`,
   * or `rivuletFeed(...)` from `/vendor/rivuletFeed.js`, which reconnects.
   */
  // A feed's values are only serialized, so any value type goes.
  readonly feeds?: Readonly<Record<string, LiveFeed<any>>>;
  /**
   * More names the view may be asked for by (the `Host` header, port aside), for a view reached
   * through a DNS name or a proxy. Always allowed: the bind address and `host` as given; for a
   * loopback or wildcard bind `localhost`, `127.0.0.1` and `[::1]`; for a wildcard bind the
   * machine's interface addresses. Any other `Host` is refused (421) on the page and the feeds,
   * so a site whose DNS name an attacker points at this machine cannot read the view.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * Which pages may open the feeds, by `Origin`: `'same-host'` (the default) for the view's own
   * page under whatever name it was opened, or a list of exact origins.
   */
  readonly allowedOrigins?: readonly string[] | 'same-host';
  /** HTTP connections at most, the feeds' included; 4096 by default. */
  readonly maxConnections?: number;
  /** Told about every problem that ends or refuses one page only (see `webSocketBroadcast`). */
  readonly onClientError?: (error: RivuletError) => void;
}

/** A live view that is listening. */
export interface LiveView {
  /** The page's address, e.g. `http://127.0.0.1:8080/`. */
  readonly url: string;
  /** The HTTP server; more WebSocket endpoints may be attached to it (`webSocketBroadcast({ server })`). */
  readonly server: http.Server;
  /** The host names the view answers to (lower case, IPv6 in brackets). */
  readonly allowedHosts: readonly string[];
  /** Resolves once the view has been unsubscribed and its server has closed. */
  readonly closed: Promise<void>;
}

/** A live view before and while it serves: subscribe to start it; `stats` counts each feed's pages. */
export type LiveViewSource = Observable<LiveView> & {
  /** Feed path -> the counters of its broadcast (clients, messages sent and dropped, refusals). */
  readonly stats: ReadonlyMap<string, Readonly<BroadcastStats>>;
};

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

const WHERE = 'serveLiveView';
/** A path fit for a WebSocket URL and an HTML attribute without escaping. */
const SAFE_PATH = /^\/[A-Za-z0-9._~\-/]*$/;
/** A Host header fit to echo into the CSP: a DNS name or IPv4, or a bracketed IPv6, and a port. */
const SAFE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const MAX_PAGE_FILES = 1000;
const MAX_PAGE_BYTES = 64 * 1_048_576;

const CONTENT_TYPES: ReadonlyMap<string, string> = new Map([
  ['.html', 'text/html; charset=utf-8'],
  ['.htm', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.mjs', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.json', 'application/json'],
  ['.map', 'application/json'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.jpg', 'image/jpeg'],
  ['.jpeg', 'image/jpeg'],
  ['.gif', 'image/gif'],
  ['.webp', 'image/webp'],
  ['.ico', 'image/x-icon'],
  ['.woff2', 'font/woff2'],
  ['.woff', 'font/woff'],
  ['.txt', 'text/plain; charset=utf-8'],
]);

/**
 * Serves a page and live feeds for it from one HTTP server: the page's files from a fixed list
 * read at creation, each feed a `webSocketBroadcast` of an observable at its path, with a
 * snapshot (or the last values) for pages that connect late or reload. Any observable, any page.
 *
 * Like `http.createServer` serving a folder plus `webSocketBroadcast({ server })` per feed, but
 * with what a page exposed to a browser needs, on by default:
 * - every HTML response carries a strict Content-Security-Policy: the page may run only its own
 *   scripts and styles and connect only to its own host (no inline scripts, no other sites);
 * - request paths are looked up in the list, never on disk, so there is nothing to traverse;
 *   other paths get 404, other methods than GET and HEAD 405;
 * - a `Host` that is not one of the view's names gets 421 on the page and its feeds (DNS
 *   rebinding), and a page of another origin cannot open a feed (`allowedOrigins`);
 * - limits: HTTP connections (`maxConnections`), header and request timeouts, and per feed the
 *   broadcast's (pages at most, per address, bytes waiting per page and in all).
 *
 * The page can load the browser bundles rivulet ships, served by every view:
 * `/vendor/rxjs.umd.min.js` (the global `rxjs`), `/vendor/rivuletFeed.js` (`rivuletFeed(url)`:
 * JSON messages, reconnecting with backoff) and `/vendor/chart.umd.min.js` (chart.js, `Chart`).
 *
 * ```text
 * GET /                         -> index.html       (CSP: script-src 'self'; connect-src 'self' ws://host)
 * GET /app.js                   -> the page's files
 * GET /vendor/rxjs.umd.min.js   -> rxjs, rivuletFeed.js, chart.js
 * WebSocket /feed               -> snapshot(), then every value of feeds['/feed'].source
 * GET /nope -> 404   POST / -> 405   Host: evil.example -> 421   WebSocket /other -> 400
 * ```
 *
 * Lazy: listens on subscription, then subscribes every feed's source and emits the `LiveView`
 * (its `url`) once. It does not complete by itself: a finished feed keeps serving its last state
 * (see `closeOnComplete`). Error: a port that cannot be bound (ERR_CONNECTION), a feed's source
 * or `snapshot` failing; the server is closed first. Unsubscribe: the feeds' pages are closed
 * with 1001 and the server stops; `closed` resolves once it has. Bad options throw at creation
 * (ERR_INVALID_OPTION), and so do page files that cannot be read (ERR_FILE).
 *
 * @example
 * ```ts
 * const memory = interval(1000).pipe(map(() => ({ at: Date.now(), heapMiB: process.memoryUsage().heapUsed / 2 ** 20 })));
 * serveLiveView({
 *   port: 8080,
 *   page: { dir: 'my-page' }, // index.html: <script src="/vendor/rxjs.umd.min.js">, rivuletFeed.js, its own script
 *   feeds: { '/memory': { source: memory, replayLatest: 300 } },
 * }).subscribe((view) => console.log(`open ${view.url}`));
 * // open http://127.0.0.1:8080/
 * ```
 */
export function serveLiveView(options: LiveViewOptions): LiveViewSource {
  if (options === null || typeof options !== 'object') throw invalidOption(WHERE, 'options must be an object with at least `page`');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const maxConnections = options.maxConnections ?? 4096;
  if (typeof host !== 'string' || host === '') throw invalidOption(WHERE, `host must be a non-empty string, got ${String(host)}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidOption(WHERE, `port must be an integer 0..65535, got ${String(port)}`);
  requireInteger(WHERE, 'maxConnections', maxConnections);
  const extraHosts = allowedHostNames(WHERE, options.allowedHosts);
  // The name the user bound to answers too, even when it is a DNS name for one of our addresses.
  const given = hostNameOf(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
  if (given !== undefined && !extraHosts.includes(given)) extraHosts.push(given);
  const { allowedOrigins = 'same-host', onClientError } = options;
  if (allowedOrigins !== 'same-host' && !(Array.isArray(allowedOrigins) && allowedOrigins.every((o) => typeof o === 'string'))) {
    throw invalidOption(WHERE, "allowedOrigins must be 'same-host' or an array of origin strings");
  }
  if (onClientError !== undefined && typeof onClientError !== 'function') throw invalidOption(WHERE, 'onClientError must be a function');

  const assets = loadPage(options.page);
  const feeds = checkFeeds(options.feeds ?? {}, assets);
  const stats = new Map<string, Readonly<BroadcastStats>>();

  const broadcasts = [...feeds].map(([feedPath, feed]) => {
    const { source, ...settings } = feed;
    const make = (server: http.Server, names: readonly string[]) =>
      webSocketBroadcast({ ...settings, closeOnComplete: feed.closeOnComplete ?? false, server, path: feedPath, allowedHosts: names, allowedOrigins, onClientError });
    return { feedPath, source, make };
  });

  const view = new Observable<LiveView>((subscriber) => {
    let hosts: HostCheck | undefined;
    const server = http.createServer((req, res) => {
      // Before anything else, even a 404: the answer must not tell a rebound page what is here.
      if (hosts === undefined || !hosts.allows(req.headers.host)) return misdirected(res);
      respond(assets, req, res);
    });
    server.maxConnections = maxConnections;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    const sockets = new Set<Socket>();
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    let resolveClosed: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
    const live = new Set<string>();
    let feedsRunning: Subscription | undefined;
    let stopped = false;

    // Feeds at unknown paths: refused here, unless someone else attached endpoints of their own.
    const onUpgrade = (req: http.IncomingMessage, socket: Duplex) => {
      const pathname = (req.url ?? '/').split('?', 1)[0];
      if (live.has(pathname)) return;
      if (server.listenerCount('upgrade') === 1 + live.size) refuseUpgrade(socket, 400, 'Bad Request');
    };

    const stop = () => {
      if (stopped) return;
      stopped = true;
      feedsRunning?.unsubscribe();
      server.off('upgrade', onUpgrade);
      if (!server.listening) return resolveClosed();
      server.close(() => resolveClosed());
      // Keep-alive and upgraded sockets would otherwise hold the server open indefinitely.
      for (const socket of sockets) socket.destroy();
    };

    server.once('error', (err) => {
      subscriber.error(new RivuletError('ERR_CONNECTION', `${WHERE}: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    });
    server.listen(port, host, () => {
      if (stopped) return;
      const address = server.address() as AddressInfo;
      const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      hosts = hostCheck(address.address, extraHosts);
      const names = hosts.names;
      for (const { feedPath } of broadcasts) live.add(feedPath);
      if (broadcasts.length > 0) server.on('upgrade', onUpgrade);
      feedsRunning = merge(
        ...broadcasts.map(({ feedPath, source, make }) => {
          const sink = make(server, names);
          stats.set(feedPath, sink.stats);
          // A feed that has closed its endpoint (closeOnComplete) leaves its path to the refusal.
          return source.pipe(sink, finalize(() => live.delete(feedPath)));
        }),
      ).subscribe({ error: (error) => subscriber.error(error) });
      subscriber.next({ url: `http://${urlHost}:${address.port}/`, server, allowedHosts: names, closed });
    });
    return stop;
  });
  return Object.assign(view, { stats: stats as ReadonlyMap<string, Readonly<BroadcastStats>> });
}

// ---- the page ----

/** The allow-list: decoded request path -> contents, read once. */
function loadPage(page: LiveViewPage | undefined): ReadonlyMap<string, Asset> {
  if (page === null || typeof page !== 'object') throw invalidOption(WHERE, 'page must be { dir } or { files } (or both)');
  const { dir, files } = page;
  if (dir === undefined && files === undefined) throw invalidOption(WHERE, 'page must be { dir } or { files } (or both)');
  const assets = new Map<string, Asset>();
  let bytes = 0;
  const add = (urlPath: string, body: Buffer, contentType: string | undefined) => {
    bytes += body.length;
    if (assets.size >= MAX_PAGE_FILES || bytes > MAX_PAGE_BYTES) {
      throw invalidOption(WHERE, `the page has more than ${MAX_PAGE_FILES} files or ${MAX_PAGE_BYTES / 1_048_576} MiB: give the folder of the page itself`);
    }
    assets.set(urlPath, { body, contentType: contentType ?? contentTypeOf(urlPath) });
  };

  if (dir !== undefined) {
    if (typeof dir !== 'string' || dir === '') throw invalidOption(WHERE, 'page.dir must be a path');
    let isFolder = false;
    try {
      isFolder = fs.statSync(dir).isDirectory();
    } catch {
      // reported below
    }
    if (!isFolder) throw invalidOption(WHERE, `page.dir: ${dir} is not a folder`);
    for (const relative of filesUnder(dir)) {
      const urlPath = relative === 'index.html' ? '/' : `/${relative}`;
      add(urlPath, readFile(path.join(dir, relative)), relative === 'index.html' ? CONTENT_TYPES.get('.html') : undefined);
    }
  }
  if (files !== undefined) {
    if (files === null || typeof files !== 'object') throw invalidOption(WHERE, 'page.files must map URL paths to files or { body }');
    for (const [urlPath, given] of Object.entries(files)) {
      if (!SAFE_PATH.test(urlPath) || urlPath.includes('//') || urlPath.split('/').includes('..')) {
        throw invalidOption(WHERE, `page.files: ${JSON.stringify(urlPath)} is not a URL path (starts with "/", letters, digits and "._~-/")`);
      }
      if (assets.has(urlPath)) assets.delete(urlPath);
      if (typeof given === 'string') add(urlPath, readFile(given), undefined);
      else if (given !== null && typeof given === 'object' && (typeof given.body === 'string' || given.body instanceof Uint8Array)) {
        add(urlPath, Buffer.from(given.body), given.contentType);
      } else throw invalidOption(WHERE, `page.files[${JSON.stringify(urlPath)}] must be a file path or { body, contentType? }`);
    }
  }
  if (!assets.has('/')) throw invalidOption(WHERE, 'the page has no index.html (or files["/"])');
  for (const [urlPath, bundle] of vendorBundles()) {
    if (assets.has(urlPath)) throw invalidOption(WHERE, `the page's ${urlPath} would hide the bundle rivulet serves there`);
    assets.set(urlPath, bundle);
  }
  return assets;
}

/** Relative paths of the regular files under `dir`, with "/" between folders, dot names left out. */
function filesUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, relative), { withFileTypes: true });
    } catch (error) {
      throw new RivuletError('ERR_FILE', `${WHERE}: cannot list ${path.join(dir, relative)}: ${(error as Error).message}`, { cause: error });
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name.startsWith('.')) continue;
      const name = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(name);
      else if (entry.isFile()) found.push(name);
      if (found.length > MAX_PAGE_FILES) throw invalidOption(WHERE, `page.dir: ${dir} has more than ${MAX_PAGE_FILES} files: give the folder of the page itself`);
    }
  };
  walk('');
  return found;
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new RivuletError('ERR_FILE', `${WHERE}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

function contentTypeOf(urlPath: string): string {
  if (urlPath === '/') return 'text/html; charset=utf-8';
  return CONTENT_TYPES.get(path.posix.extname(urlPath).toLowerCase()) ?? 'application/octet-stream';
}

let vendorCache: ReadonlyMap<string, Asset> | undefined;

/** rxjs, rivuletFeed.js and chart.js for pages, as installed beside this package. */
function vendorBundles(): ReadonlyMap<string, Asset> {
  if (vendorCache !== undefined) return vendorCache;
  const root = packageRoot(__dirname);
  const js = 'text/javascript; charset=utf-8';
  const bundles = new Map<string, Asset>([
    ['/vendor/rxjs.umd.min.js', { body: readFile(nodeModuleFile(root, 'rxjs', 'dist/bundles/rxjs.umd.min.js')), contentType: js }],
    ['/vendor/rivuletFeed.js', { body: readFile(path.join(root, 'lib', 'browser', 'rivuletFeed.js')), contentType: js }],
    ['/vendor/chart.umd.min.js', { body: readFile(nodeModuleFile(root, 'chart.js', 'dist/chart.umd.min.js')), contentType: js }],
  ]);
  vendorCache = bundles;
  return bundles;
}

/** The nearest folder at or above `start` holding a package.json: this package, built or not. */
function packageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new RivuletError('ERR_FILE', `${WHERE}: no package.json above ${start}`);
  }
}

/**
 * A file inside a dependency, found as Node would find the package (our node_modules, then the
 * parents', for an installed, hoisted copy). `require.resolve` cannot do it: both packages'
 * `exports` hide their UMD bundles.
 */
function nodeModuleFile(root: string, pkg: string, file: string): string {
  for (let dir = root; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', pkg, file);
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new RivuletError('ERR_FILE', `${WHERE}: cannot find ${pkg}/${file} in node_modules above ${root}`);
  }
}

function checkFeeds(given: Readonly<Record<string, LiveFeed<any>>>, assets: ReadonlyMap<string, Asset>): Map<string, LiveFeed<unknown>> {
  if (given === null || typeof given !== 'object') throw invalidOption(WHERE, 'feeds must map paths to { source }');
  const feeds = new Map<string, LiveFeed<unknown>>();
  for (const [feedPath, feed] of Object.entries(given)) {
    if (!SAFE_PATH.test(feedPath)) throw invalidOption(WHERE, `feeds: ${JSON.stringify(feedPath)} must start with "/" and use only letters, digits and "._~-/"`);
    if (assets.has(feedPath)) throw invalidOption(WHERE, `feeds: ${feedPath} is also a file of the page`);
    if (feed === null || typeof feed !== 'object' || !(feed.source instanceof Observable)) throw invalidOption(WHERE, `feeds[${JSON.stringify(feedPath)}].source must be an Observable`);
    feeds.set(feedPath, feed);
  }
  return feeds;
}

// ---- answers ----

function respond(assets: ReadonlyMap<string, Asset>, req: http.IncomingMessage, res: http.ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return plain(res, 405, 'method not allowed');
  }
  // An exact lookup: "/../x" and "/%2e%2e/x" are simply not on the list.
  const asset = assets.get(decodedPath(req.url ?? ''));
  if (asset === undefined) return plain(res, 404, 'not found');
  res.statusCode = 200;
  res.setHeader('Content-Type', asset.contentType);
  res.setHeader('Content-Length', asset.body.length);
  res.setHeader('Cache-Control', 'no-cache');
  if (asset.contentType.startsWith('text/html')) res.setHeader('Content-Security-Policy', contentSecurityPolicy(req.headers.host));
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

/** The path of a request as its file was listed; browsers escape some characters of names. */
function decodedPath(url: string): string {
  const raw = url.split('?', 1)[0];
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * The page may run only its own scripts and styles and talk only to its own host. Feeds are
 * WebSockets to the page's host; CSP3 browsers count same-host `ws:`/`wss:` as 'self', and for
 * the others the host the browser asked for is named explicitly (when it is a plain host name).
 */
function contentSecurityPolicy(hostHeader: string | undefined): string {
  const feed = hostHeader !== undefined && SAFE_HOST.test(hostHeader) ? ` ws://${hostHeader} wss://${hostHeader}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${feed}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function misdirected(res: http.ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  plain(res, 421, 'misdirected request: this server does not answer to that Host');
}

function plain(res: http.ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Security-Policy', "default-src 'none'");
  res.end(`${text}\n`);
}

function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`);
  socket.destroy();
}
