/*
 * The star-leaders dashboard: an HTTP server for the page in demos/starLeaders/dashboard/, which draws the
 * live global top 10 from a WebSocket feed. The feed is not part of this server: the caller
 * attaches it to the returned `server` at `feedPath` with `webSocketBroadcast`.
 *
 * Feed protocol: JSON text, one message per WebSocket message (see the types below). The page
 * ignores messages it does not understand and fields of the wrong type.
 *
 * - {"type":"leaders","partition":3,"eventTime":1420070400000,"leaders":[{"repo":"owner/name",
 *   "stars":12,"recent":[{"kind":"fork"|"pull_request","text":"Forked by bob"|"Pull request #617: title",
 *   "url":"https://github.com/..."|null}]}]}
 *   The latest top list of one partition; it replaces that partition's previous list (an empty
 *   list is valid). `eventTime` is epoch ms. The page merges the lists of all partitions into
 *   the global top 10: stars descending, ties by repo name ascending in UTF-16 code unit order
 *   (`topK`'s default key order).
 * - {"type":"stats","eventsPerSecond":123.4,"events":4567,"watermark":1420070400000|null,
 *   "late":0,"clients":2,"partitions":10,"refusedOrigins":0,"refusedHosts":0,
 *   "oversizedMessages":0,"slowClientsDropped":0,"messagesDropped":0}
 *   Pipeline figures, shown as they are; `watermark` is epoch ms, or null before the first event.
 *   The last five (optional) count the feed's faults.
 *
 * A page that connects or reconnects mid-stream needs the current state, not only what comes
 * next: give `webSocketBroadcast` a `snapshot` returning the latest leaders message of every
 * partition and the latest stats (see the example on `serveDashboard`).
 *
 * Every string in a message is untrusted (repo names, logins and titles come from GitHub users):
 * the page inserts text only as text and links only to https://github.com/.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { RivuletError } from '../../index';

/** One recent Fork or PullRequest event of a leader, as the dashboard lists it. */
export interface DashboardRecentEvent {
  readonly kind: 'fork' | 'pull_request';
  /** "Forked by <login>" or "Pull request #<n>: <title>" (see `describeGitHubEvent`). */
  readonly text: string;
  /** A https://github.com/ page for the event; anything else is shown without a link. */
  readonly url: string | null;
}

/** The latest top list of one partition; replaces that partition's previous list on the page. */
export interface DashboardLeadersMessage {
  readonly type: 'leaders';
  readonly partition: number;
  /** Event time of the change, epoch ms: the chart's x. */
  readonly eventTime: number;
  readonly leaders: ReadonlyArray<{ readonly repo: string; readonly stars: number; readonly recent: readonly DashboardRecentEvent[] }>;
}

/** Pipeline figures for the page's stats panel. */
export interface DashboardStatsMessage {
  readonly type: 'stats';
  readonly eventsPerSecond: number;
  readonly events: number;
  /** Epoch ms, or null before the first event. */
  readonly watermark: number | null;
  readonly late: number;
  readonly clients: number;
  readonly partitions: number;
  /** Feed handshakes refused for their Origin, and for their Host (a rebound page). */
  readonly refusedOrigins?: number;
  readonly refusedHosts?: number;
  /** Feed clients closed with 1009 for a message over the limit. */
  readonly oversizedMessages?: number;
  /** Feed clients closed for being slow, or to make room for a newcomer. */
  readonly slowClientsDropped?: number;
  /** Messages the feed dropped for clients that were behind. */
  readonly messagesDropped?: number;
}

/** A message of the dashboard feed. */
export type DashboardMessage = DashboardLeadersMessage | DashboardStatsMessage;

export interface DashboardOptions {
  /** Interface to bind; default `127.0.0.1`. */
  readonly host?: string;
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Where the page opens its WebSocket, on the same host and port; default `/feed`. */
  readonly feedPath?: string;
  /**
   * More names the page may be asked for by (the `Host` header, port aside), for a dashboard
   * reached through a DNS name or a proxy. Always allowed: the bind address; for a loopback or
   * wildcard bind `localhost`, `127.0.0.1` and `[::1]`; for a wildcard bind the machine's
   * interface addresses. Any other `Host` is refused (421), so a page on another site whose name
   * an attacker points at this machine (DNS rebinding) cannot read the dashboard.
   */
  readonly allowedHosts?: readonly string[];
}

export interface Dashboard {
  readonly server: http.Server;
  /** The page's address, e.g. `http://127.0.0.1:8080/`. */
  readonly url: string;
  /**
   * The host names the page answers to (lower case, IPv6 in brackets), for the feed's own Host
   * check; with a wildcard bind, the interface addresses as they were at start.
   */
  readonly allowedHosts: readonly string[];
  /** Stops listening and ends every connection (upgraded WebSocket ones included). */
  close(): Promise<void>;
}

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

const WHERE = 'serveDashboard';
/** A path the page can put in a `<meta>` attribute and a WebSocket URL without escaping. */
const SAFE_FEED_PATH = /^\/[A-Za-z0-9._~\-/]*$/;
/** A Host header fit to echo into the CSP: a DNS name or IPv4, or a bracketed IPv6, and a port. */
const SAFE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
/** A name for `allowedHosts`: a DNS name or IPv4, or an IPv6 address with or without brackets. */
const HOST_NAME = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/;
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const FEED_META = '<meta name="rivulet-feed" content="/feed">';

/**
 * Serves the dashboard page over HTTP: `GET /` and the page's scripts, styles and the two vendor
 * bundles (rxjs, chart.js) from a fixed allow-list, with a strict Content-Security-Policy. Any
 * other path is 404 and any method but GET and HEAD is 405; request paths never touch the file
 * system, so there is nothing to traverse. Bad options throw (`ERR_INVALID_OPTION`); the promise
 * resolves once listening and rejects if a file is missing or the port cannot be bound.
 *
 * Like `http.createServer(...).listen()`, but with the page's files read once at start and the
 * WebSocket feed left to the caller (`webSocketBroadcast` on `server`, at `feedPath`).
 * `close()` stops listening and ends every open connection, the feed's included.
 *
 * ```text
 * GET /                     -> index.html (CSP: script-src 'self'; connect-src 'self' ws://host)
 * GET /dashboard.js, .css   -> the page
 * GET /vendor/*.umd.min.js  -> rxjs, chart.js
 * GET /anything/else        -> 404      POST /  -> 405
 * Host: evil.example:8080   -> 421 (see `allowedHosts`)
 * ```
 *
 * @example
 * ```ts
 * const dashboard = await serveDashboard({ port: 8080 });
 * const latest = new Map<string, DashboardMessage>(); // the newest list per partition, and stats
 * messages$ // Observable<DashboardMessage>
 *   .pipe(
 *     tap((m) => latest.set(m.type === 'leaders' ? `leaders ${m.partition}` : 'stats', m)),
 *     webSocketBroadcast({ server: dashboard.server, path: '/feed', allowedOrigins: [new URL(dashboard.url).origin], snapshot: () => [...latest.values()] }),
 *   )
 *   .subscribe();
 * console.log(dashboard.url); // http://127.0.0.1:8080/
 * ```
 */
export function serveDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const feedPath = options.feedPath ?? '/feed';
  if (typeof host !== 'string' || host === '') throw badOption(`host must be a non-empty string, got ${String(host)}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw badOption(`port must be an integer 0..65535, got ${String(port)}`);
  if (typeof feedPath !== 'string' || !SAFE_FEED_PATH.test(feedPath)) {
    throw badOption(`feedPath must start with "/" and use only letters, digits and "._~-/", got ${JSON.stringify(feedPath)}`);
  }
  const given = options.allowedHosts ?? [];
  if (!Array.isArray(given)) throw badOption('allowedHosts must be an array of host names');
  const allowedHosts = given.map((name: unknown) => {
    const canonical = typeof name === 'string' && HOST_NAME.test(name) ? hostNameOf(name.includes(':') && !name.startsWith('[') ? `[${name}]` : name) : undefined;
    if (canonical === undefined) throw badOption(`allowedHosts: ${JSON.stringify(name)} is not a host name or IP address (no port, no path)`);
    return canonical;
  });

  return start(host, port, feedPath, allowedHosts);
}

async function start(host: string, port: number, feedPath: string, extraHosts: readonly string[]): Promise<Dashboard> {
  const assets = await loadAssets(feedPath);
  let hosts: HostCheck | undefined;
  const server = http.createServer((req, res) => {
    // Before anything else, even a 404: the answer must not tell a rebound page what is here.
    if (hosts === undefined || !hosts.allows(req.headers.host)) return misdirected(res);
    respond(assets, req, res);
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  hosts = hostCheck(host, urlHost, extraHosts);

  return {
    server,
    url: `http://${urlHost}:${address.port}/`,
    allowedHosts: hosts.names,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive and upgraded sockets would otherwise hold `close` open indefinitely.
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** The allow-list: request path -> file contents, read once. */
async function loadAssets(feedPath: string): Promise<ReadonlyMap<string, Asset>> {
  const root = packageRoot(__dirname);
  const page = path.join(root, 'demos', 'starLeaders', 'dashboard');
  const html = 'text/html; charset=utf-8';
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  const files: ReadonlyArray<readonly [string, string, string]> = [
    ['/', path.join(page, 'index.html'), html],
    ['/dashboard.js', path.join(page, 'dashboard.js'), js],
    ['/dashboard.css', path.join(page, 'dashboard.css'), css],
    ['/vendor/rxjs.umd.min.js', nodeModuleFile(root, 'rxjs', 'dist/bundles/rxjs.umd.min.js'), js],
    ['/vendor/chart.umd.min.js', nodeModuleFile(root, 'chart.js', 'dist/chart.umd.min.js'), js],
  ];
  const assets = new Map<string, Asset>();
  for (const [urlPath, file, contentType] of files) {
    let body: Buffer = await fs.promises.readFile(file);
    if (urlPath === '/') body = withFeedPath(body, file, feedPath);
    assets.set(urlPath, { body, contentType });
  }
  return assets;
}

function withFeedPath(body: Buffer, file: string, feedPath: string): Buffer {
  const text = body.toString('utf8');
  if (!text.includes(FEED_META)) throw new Error(`${WHERE}: ${file} lacks ${FEED_META}`);
  return Buffer.from(text.replace(FEED_META, `<meta name="rivulet-feed" content="${feedPath}">`), 'utf8');
}

function respond(assets: ReadonlyMap<string, Asset>, req: http.IncomingMessage, res: http.ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return plain(res, 405, 'method not allowed');
  }
  // Exact lookup of the undecoded path: "/%2e%2e/x" and "/../x" are simply not on the list.
  const urlPath = (req.url ?? '').split('?', 1)[0];
  const asset = assets.get(urlPath);
  if (asset === undefined) return plain(res, 404, 'not found');
  res.statusCode = 200;
  res.setHeader('Content-Type', asset.contentType);
  res.setHeader('Content-Length', asset.body.length);
  res.setHeader('Cache-Control', 'no-cache');
  if (urlPath === '/') res.setHeader('Content-Security-Policy', contentSecurityPolicy(req.headers.host));
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

/**
 * The page may run only its own scripts and styles and talk only to its own host. The feed is a
 * WebSocket to the page's host; CSP3 browsers count same-host `ws:`/`wss:` as 'self', and for
 * the others the host the browser asked for is named explicitly (when it is a plain host name).
 */
function contentSecurityPolicy(hostHeader: string | undefined): string {
  const feed = hostHeader !== undefined && SAFE_HOST.test(hostHeader) ? ` ws://${hostHeader} wss://${hostHeader}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${feed}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

interface HostCheck {
  readonly names: readonly string[];
  allows(hostHeader: string | undefined): boolean;
}

/** The names the server answers to, for a bind to `host` (given) that listens on `bound`. */
function hostCheck(host: string, bound: string, extra: readonly string[]): HostCheck {
  const names = new Set<string>(extra);
  const given = hostNameOf(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
  const wildcard = bound === '0.0.0.0' || bound === '[::]';
  for (const name of [given, hostNameOf(bound)]) if (name !== undefined) names.add(name);
  if (wildcard || isLoopback(bound)) for (const name of LOOPBACK_NAMES) names.add(name);
  // A wildcard bind answers on every interface; their addresses may change while it runs.
  const interfaces = (): string[] =>
    Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => hostNameOf(i.family === 'IPv6' ? `[${i.address.split('%')[0]}]` : i.address) ?? ''));
  if (wildcard) for (const name of interfaces()) if (name !== '') names.add(name);
  return {
    names: [...names],
    allows(hostHeader) {
      if (hostHeader === undefined || !SAFE_HOST.test(hostHeader)) return false;
      const name = hostNameOf(hostHeader);
      return name !== undefined && (names.has(name) || (wildcard && interfaces().includes(name)));
    },
  };
}

/** `host` or `host:port` as one canonical host name: lower case, no final dot, IPs normalised. */
function hostNameOf(text: string): string | undefined {
  try {
    const { hostname } = new URL(`http://${text}/`);
    return hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  } catch {
    return undefined;
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === '[::1]' || /^127\./.test(hostname);
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

/** The nearest folder at or above `start` holding a package.json: this package, built or not. */
function packageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`${WHERE}: no package.json above ${start}`);
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
    if (path.dirname(dir) === dir) throw new Error(`${WHERE}: cannot find ${pkg}/${file} in node_modules above ${root}`);
  }
}

function badOption(message: string): RivuletError {
  return new RivuletError('ERR_INVALID_OPTION', `${WHERE}: ${message}`);
}
