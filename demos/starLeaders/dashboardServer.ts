/*
 * The star-leaders dashboard: the page in demos/starLeaders/dashboard/, which draws the live
 * global top 10 and a chart of the leaders' stars from a WebSocket feed, served by
 * `serveLiveView`; and the feed's state (`DashboardState`), whose snapshot gives a page that
 * opens late or reloads the chart's history as well as the current lists.
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
 * - {"type":"history","series":[{"repo":"owner/name","points":[[1420070400000,3],[1420070460000,4]],
 *   "leftAgo":null}]}
 *   The chart's lines as a page that watched from the start holds them: for each repo that is or
 *   recently was among the leaders, its stars over event time (at most 500 points, 40 lines), and
 *   how many leaders messages ago it left the top 10 (null: it is in it). Sent first in the
 *   snapshot, so a page that opens late or reloads draws the same chart; it replaces the page's lines.
 *
 * A page that connects or reconnects mid-stream needs the current state, not only what comes
 * next: `DashboardState.snapshot()` is the history, the latest leaders message of every
 * partition and the latest stats.
 *
 * Every string in a message is untrusted (repo names, logins and titles come from GitHub users):
 * the page inserts text only as text and links only to https://github.com/.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Subscription } from 'rxjs';
import { LiveViewPage, RivuletError, serveLiveView } from '../../index';
import { packageRoot } from '../packageRoot';

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

/** The chart's lines, for a page that opens late (see the protocol above). */
export interface DashboardHistoryMessage {
  readonly type: 'history';
  readonly series: ReadonlyArray<{ readonly repo: string; readonly points: ReadonlyArray<readonly [number, number]>; readonly leftAgo: number | null }>;
}

/** A message of the dashboard feed. */
export type DashboardMessage = DashboardLeadersMessage | DashboardStatsMessage | DashboardHistoryMessage;

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

const WHERE = 'serveDashboard';
/** A path the page can put in a `<meta>` attribute and a WebSocket URL without escaping. */
const SAFE_FEED_PATH = /^\/[A-Za-z0-9._~\-/]*$/;
const FEED_META = '<meta name="rivulet-feed" content="/feed">';

/**
 * The dashboard page for `serveLiveView`: index.html (telling the page its feed is at
 * `feedPath`), dashboard.js and dashboard.css after common.css, the stylesheet the dashboards
 * share; rxjs and chart.js come from the view's `/vendor/`.
 */
export function dashboardPage(feedPath = '/feed'): LiveViewPage {
  if (typeof feedPath !== 'string' || !SAFE_FEED_PATH.test(feedPath)) {
    throw new RivuletError('ERR_INVALID_OPTION', `${WHERE}: feedPath must start with "/" and use only letters, digits and "._~-/", got ${JSON.stringify(feedPath)}`);
  }
  const dir = path.join(packageRoot(), 'demos', 'starLeaders', 'dashboard');
  const index = path.join(dir, 'index.html');
  const html = fs.readFileSync(index, 'utf8');
  if (!html.includes(FEED_META)) throw new Error(`${WHERE}: ${index} lacks ${FEED_META}`);
  return {
    files: {
      '/': { body: html.replace(FEED_META, `<meta name="rivulet-feed" content="${feedPath}">`), contentType: 'text/html; charset=utf-8' },
      '/dashboard.js': path.join(dir, 'dashboard.js'),
      '/dashboard.css': path.join(dir, 'dashboard.css'),
      '/common.css': path.join(packageRoot(), 'demos', 'dashboardCommon', 'common.css'),
    },
  };
}

/**
 * Serves the dashboard page alone, for a feed the caller attaches: `serveLiveView` with
 * `dashboardPage(feedPath)` and no feeds of its own. The page and its scripts, styles and the two
 * vendor bundles (rxjs, chart.js) come from a fixed allow-list under a strict
 * Content-Security-Policy; any other path is 404, any method but GET and HEAD 405, and a Host
 * that is not one of the dashboard's names 421. Bad options throw (`ERR_INVALID_OPTION`); the
 * promise resolves once listening and rejects if the port cannot be bound.
 *
 * The star-leaders CLI gives `serveLiveView` its feed instead; this is for a caller with a feed
 * of its own (`webSocketBroadcast` on `server`, at `feedPath`). `close()` stops listening and
 * ends every open connection, the feed's included.
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
 * const state = new DashboardState(); // the latest list per partition, stats and the chart's history
 * messages$ // Observable<DashboardMessage>
 *   .pipe(
 *     tap((m) => state.record(m)),
 *     webSocketBroadcast({ server: dashboard.server, path: '/feed', allowedHosts: dashboard.allowedHosts, snapshot: () => state.snapshot() }),
 *   )
 *   .subscribe();
 * console.log(dashboard.url); // http://127.0.0.1:8080/
 * ```
 */
export function serveDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
  const { host, port, allowedHosts } = options;
  const source = asDashboardError(() => serveLiveView({ host, port, allowedHosts, page: dashboardPage(options.feedPath ?? '/feed') }));
  return new Promise<Dashboard>((resolve, reject) => {
    let subscription: Subscription | undefined = undefined;
    let resolved = false;
    subscription = source.subscribe({
      next: (view) => {
        resolved = true;
        resolve({
          server: view.server,
          url: view.url,
          allowedHosts: view.allowedHosts,
          close: () => {
            subscription?.unsubscribe();
            return view.closed;
          },
        });
      },
      error: (error) => {
        if (!resolved) reject(error);
      },
    });
  });
}

/** The view's own checks, under the name the caller called. */
function asDashboardError<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof RivuletError && error.message.startsWith('serveLiveView: ')) {
      throw new RivuletError(error.code, `${WHERE}: ${error.message.slice('serveLiveView: '.length)}`, { cause: error });
    }
    throw error;
  }
}

// ---- the feed's state ----

/** As the page: the top it merges, the points a line keeps, the lines it keeps, how long a retired one stays. */
const TOP_N = 10;
const MAX_POINTS_PER_SERIES = 500;
const MAX_SERIES = 40;
const KEEP_SERIES_MESSAGES = 1000;

interface Series {
  points: Array<[number, number]>;
  /** `messages` when the repo left the top, or null while it is in it. */
  leftAt: number | null;
}

type Leaders = DashboardLeadersMessage['leaders'];

/**
 * What a page that opens late needs: the latest leaders message of every partition, the latest
 * stats, and the chart's lines, kept exactly as the page keeps them (the same merge into the top
 * 10, the same points, the same bounds), so that a page drawing the snapshot draws what a page
 * that watched from the start draws. Memory is bounded like the page's: 40 lines of 500 points.
 */
export class DashboardState {
  private readonly partitions = new Map<number, DashboardLeadersMessage>();
  private readonly series = new Map<string, Series>();
  private stats: DashboardStatsMessage | undefined;
  private messages = 0;

  /** Takes a message of the feed, before it is sent. */
  record(message: DashboardMessage): void {
    if (message.type === 'stats') this.stats = message;
    else if (message.type === 'leaders') this.recordLeaders(message);
  }

  /** The history, every partition's latest list (by partition), and the stats (`stats` when given, else the latest). */
  snapshot(stats?: DashboardStatsMessage): DashboardMessage[] {
    const series = [...this.series].map(([repo, s]) => ({ repo, points: s.points.map((p) => [p[0], p[1]] as const), leftAgo: s.leftAt === null ? null : this.messages - s.leftAt }));
    const lists = [...this.partitions.values()].sort((a, b) => a.partition - b.partition);
    const latestStats = stats ?? this.stats;
    return [{ type: 'history', series }, ...lists, ...(latestStats === undefined ? [] : [latestStats])];
  }

  private recordLeaders(message: DashboardLeadersMessage): void {
    this.partitions.set(message.partition, message);
    this.messages += 1;
    const top = mergeTop(this.partitions.values());
    const inTop = new Set(top.map((leader) => leader.repo));
    for (const leader of message.leaders) {
      let entry = this.series.get(leader.repo);
      if (entry === undefined && !inTop.has(leader.repo)) continue;
      if (entry === undefined) this.series.set(leader.repo, (entry = { points: [], leftAt: null }));
      appendPoint(entry, message.eventTime, leader.stars);
    }
    // A repo of another partition can enter the top 10 when a leader of this one drops out.
    for (const leader of top) {
      if (this.series.has(leader.repo)) continue;
      const entry: Series = { points: [], leftAt: null };
      this.series.set(leader.repo, entry);
      appendPoint(entry, message.eventTime, leader.stars);
    }
    const retired: string[] = [];
    for (const [repo, entry] of this.series) {
      if (inTop.has(repo)) entry.leftAt = null;
      else if (entry.leftAt === null) entry.leftAt = this.messages;
      else if (this.messages - entry.leftAt > KEEP_SERIES_MESSAGES) this.series.delete(repo);
      if (entry.leftAt !== null && this.series.has(repo)) retired.push(repo);
    }
    // Oldest-retired first, until the bound holds.
    retired.sort((a, b) => this.series.get(a)!.leftAt! - this.series.get(b)!.leftAt!);
    for (let i = 0; this.series.size > MAX_SERIES && i < retired.length; i++) this.series.delete(retired[i]);
  }
}

/** The page's global top: every partition's latest list, a repo listed twice at its best. */
function mergeTop(lists: Iterable<DashboardLeadersMessage>): Leaders[number][] {
  const better = (a: Leaders[number], b: Leaders[number]) => b.stars - a.stars || (a.repo < b.repo ? -1 : a.repo > b.repo ? 1 : 0);
  const best = new Map<string, Leaders[number]>();
  for (const list of lists) {
    for (const leader of list.leaders) {
      const known = best.get(leader.repo);
      if (known === undefined || better(leader, known) < 0) best.set(leader.repo, leader);
    }
  }
  return [...best.values()].sort(better).slice(0, TOP_N);
}

/** As the page draws a line: a point per change; a change at an earlier time moves the last point. */
function appendPoint(entry: Series, x: number, y: number): void {
  const { points } = entry;
  const last = points[points.length - 1];
  if (last !== undefined && last[1] === y) return;
  if (last !== undefined && x <= last[0]) last[1] = y;
  else points.push([x, y]);
  if (points.length > MAX_POINTS_PER_SERIES) points.splice(0, points.length - MAX_POINTS_PER_SERIES);
}
