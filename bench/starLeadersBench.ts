/**
 * star-leaders three ways: rivulet's `starLeaders()`, the same in plain RxJS (`groupBy` by
 * partition + `mergeMap` + `scan` over a state object), and a hand-written loop. The baselines
 * use no rivulet code: they share `PartitionState` below, written from the semantics in DESIGN.md
 * and the operator docs (24 hourly panes per partition expiring on the global event-time
 * watermark, half-open; top 10 with ties by repo name; the list emitted on every change; leaders
 * annotated with their Fork and PullRequest events of the current hour), Wallaroo's hash ring
 * ported as a user porting the original would, and a plain top-10 list. Reading archive files,
 * they `JSON.parse` every line: without parsing it, a user's loop cannot know an event's type.
 */
import { createHash } from 'node:crypto';
import { filter, from, groupBy, map, mergeMap, Observable, OperatorFunction, scan } from 'rxjs';
import { INTERESTING_TYPES, PartitionLeaders, starLeaders } from '../demos/starLeaders/starLeaders';
import { fileLines } from '../lib/io/files';
import { GitHubEvent, githubEventTypeFilter, parseGitHubEvent } from '../demos/starLeaders/githubEvents';
import { digest, plainFileLines } from './harness';
import { forEachLine } from './lineReader';

const HOUR_MS = 3_600_000;
const PARTITIONS = 10;
const WINDOW_HOURS = 24;
const TOP = 10;
const RECENT = 3;
const KEPT_TYPES = new Set(['WatchEvent', 'ForkEvent', 'PullRequestEvent']);

/** What a run returns: enough to tell whether two variants computed the same thing. */
export interface LeadersResult {
  emissions: number;
  /** Digest of every emitted list in order (partition, repo and stars of each leader). */
  digest: number;
  /** Final list per partition: repo:stars and the ids of the recent events. */
  final: string[];
}

/** Counts every output and keeps the latest per partition; digests all of them when `full`. */
export class LeadersConsumer {
  emissions = 0;
  digest = 0;
  private readonly latest = new Map<number, PartitionLeaders>();
  constructor(private readonly full: boolean) {}

  next = (out: PartitionLeaders): void => {
    this.emissions++;
    this.latest.set(out.partition, out);
    if (this.full) {
      let text = `${out.partition}|`;
      for (const l of out.leaders) text += `${l.repo}:${l.stars},`;
      this.digest = digest(this.digest, text);
    }
  };

  result(): LeadersResult {
    const final = [...this.latest.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((o) => `${o.partition}: ${o.leaders.map((l) => `${l.repo}:${l.stars}[${l.recent_events.map((r) => r.id).join(' ')}]`).join(', ')}`);
    return { emissions: this.emissions, digest: this.digest, final };
  }
}

// --- rivulet ------------------------------------------------------------------------------------

export function rivuletMemory(events: readonly GitHubEvent[], consumer: LeadersConsumer): Promise<LeadersResult> {
  return run(from(events).pipe(starLeaders()), consumer);
}

/**
 * As the CLI reads archive files: only the lines whose top-level type star-leaders keeps are
 * decoded and parsed; unreadable ones are set aside.
 */
export function rivuletFiles(files: readonly string[], consumer: LeadersConsumer): Promise<LeadersResult> {
  return run(fileLines(files, { accept: githubEventTypeFilter(INTERESTING_TYPES) }).pipe(parseLines(), starLeaders()), consumer);
}

function parseLines(): OperatorFunction<{ text: string }, GitHubEvent> {
  return (lines) =>
    lines.pipe(
      map((line) => parseGitHubEvent(line.text)),
      filter((r) => r.ok),
      map((r) => (r as { event: GitHubEvent }).event),
    );
}

async function run(outputs: Observable<PartitionLeaders>, consumer: LeadersConsumer): Promise<LeadersResult> {
  await new Promise<void>((resolve, reject) => outputs.subscribe({ next: consumer.next, error: reject, complete: resolve }));
  return consumer.result();
}

// --- what the baselines use instead of rivulet --------------------------------------------------

interface Ranked {
  readonly key: string;
  readonly score: number;
}

/** Rank order: more stars first, then the repo name (code-unit order). */
const before = (a: Ranked, b: Ranked): boolean => (a.score !== b.score ? a.score > b.score : a.key < b.key);

/**
 * The best `k` repos by stars, as a short sorted array next to a Map of every score; when a
 * member loses stars the best of the others is found by one pass over the Map.
 */
class TopList {
  private readonly scores = new Map<string, number>();
  private top: Ranked[] = [];

  constructor(private readonly k: number) {}

  /** Sets a repo's stars (0 forgets it); true when the list changed (members, stars or order). */
  set(key: string, score: number): boolean {
    const old = this.scores.get(key) ?? 0;
    if (old === score) return false;
    if (score === 0) this.scores.delete(key);
    else this.scores.set(key, score);
    const at = this.top.findIndex((r) => r.key === key);
    const row = { key, score };
    if (at >= 0) {
      this.top.splice(at, 1);
      if (score < old) {
        // Someone outside may now be better: the best of the rest competes for the free place.
        const best = this.bestOutside();
        if (best !== undefined && (score === 0 || before(best, row))) this.insert(best);
        if (score > 0 && this.top.length < this.k) this.insert(row);
      } else this.insert(row);
      return true;
    }
    if (score === 0) return false;
    if (this.top.length < this.k) return this.insert(row), true;
    if (!before(row, this.top[this.k - 1])) return false;
    this.top.pop();
    return this.insert(row), true;
  }

  list(): Ranked[] {
    return this.top.slice();
  }

  private insert(row: Ranked): void {
    let i = this.top.length;
    this.top.push(row);
    for (; i > 0 && before(row, this.top[i - 1]); i--) this.top[i] = this.top[i - 1];
    this.top[i] = row;
  }

  private bestOutside(): Ranked | undefined {
    let best: Ranked | undefined;
    for (const [key, score] of this.scores) {
      const row = { key, score };
      if ((best === undefined || before(row, best)) && !this.top.some((r) => r.key === key)) best = row;
    }
    return best;
  }
}

/**
 * Wallaroo's partitioner (the Python package hash_ring 1.3.1 with ten nodes of weight 1): each
 * node has 40 virtual nodes "<node>-<j>" of 3 points each, the little-endian uint32s of their
 * MD5 digest; a key belongs to the first point above the uint32 of its own MD5, wrapping around.
 */
function wallarooRing(nodes: number): (key: string) => number {
  const owner = new Map<number, number>();
  for (let node = 0; node < nodes; node++) {
    for (let j = 0; j < 40; j++) {
      const d = createHash('md5').update(`${node}-${j}`).digest();
      for (let i = 0; i < 3; i++) owner.set(d.readUInt32LE(4 * i), node);
    }
  }
  const points = [...owner.keys()].sort((a, b) => a - b);
  return (key) => {
    const k = createHash('md5').update(key).digest().readUInt32LE(0);
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] <= k) lo = mid + 1;
      else hi = mid;
    }
    return owner.get(points[lo === points.length ? 0 : lo])!;
  };
}

/** A user's reading of an archive line: the whole line parsed, the three fields taken. */
function readEvent(text: string): GitHubEvent | undefined {
  let raw: Record<string, any>;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object' || !KEPT_TYPES.has(raw.type) || typeof raw.repo?.name !== 'string') return undefined;
  const createdAtMs = Date.parse(raw.created_at);
  return Number.isFinite(createdAtMs) ? { type: raw.type, repo: raw.repo.name, createdAtMs, raw } : undefined;
}

// --- shared state of one partition, for the two baselines -----------------------------------------

/** One partition: hourly panes of star counts, the top list, the leaders' recent events. */
export class PartitionState {
  private maxEventTime = -Infinity;
  private windowStart = -Infinity;
  private windowEnd = -Infinity;
  /** Open panes by start, and their starts in ascending order. */
  private readonly panes = new Map<number, Map<string, number>>();
  private readonly starts: number[] = [];
  /** Per repo: stars in the window and how many open panes hold it. */
  private readonly totals = new Map<string, { stars: number; panes: number }>();
  private readonly ranking = new TopList(TOP);
  private leaders: readonly Ranked[] = [];
  private readonly recent = new Map<string, GitHubEvent[]>();
  private hour = -Infinity;
  late = 0;

  constructor(
    readonly partition: number,
    private readonly emit: (out: PartitionLeaders) => void,
  ) {}

  /** The global event-time clock moved to `now`: expire panes, then age the recent events. */
  tick(now: number): void {
    this.advance(now);
    const hour = Math.floor(now / HOUR_MS);
    if (hour > this.hour) {
      this.hour = hour;
      for (const [repo, events] of this.recent) {
        const current = events.filter((e) => Math.floor(e.createdAtMs / HOUR_MS) >= hour);
        if (current.length === 0) this.recent.delete(repo);
        else this.recent.set(repo, current);
      }
    }
  }

  star(e: GitHubEvent): void {
    const t = e.createdAtMs;
    this.advance(t);
    const paneStart = t - (((t % HOUR_MS) + HOUR_MS) % HOUR_MS);
    if (paneStart < this.windowStart) {
      this.late++;
      return;
    }
    const pane = this.open(paneStart);
    let total = this.totals.get(e.repo);
    if (total === undefined) this.totals.set(e.repo, (total = { stars: 0, panes: 0 }));
    const part = pane.get(e.repo);
    if (part === undefined) total.panes++;
    pane.set(e.repo, (part ?? 0) + 1);
    total.stars += 1;
    this.rank(e.repo, total.stars);
  }

  /** A fork or pull request: kept if it is of the current hour and its repo leads. */
  other(e: GitHubEvent): void {
    if (Math.floor(e.createdAtMs / HOUR_MS) < this.hour || !this.leaders.some((r) => r.key === e.repo)) return;
    const events = this.recent.get(e.repo) ?? [];
    events.push(e);
    if (events.length > RECENT) events.shift();
    this.recent.set(e.repo, events);
  }

  private advance(t: number): void {
    if (!(t > this.maxEventTime)) return;
    this.maxEventTime = t;
    if (t < this.windowEnd) return;
    const current = t - (((t % HOUR_MS) + HOUR_MS) % HOUR_MS);
    this.windowEnd = current + HOUR_MS;
    const start = current - (WINDOW_HOURS - 1) * HOUR_MS;
    if (start === this.windowStart) return;
    this.windowStart = start;
    while (this.starts.length > 0 && this.starts[0] < start) {
      const paneStart = this.starts.shift()!;
      const pane = this.panes.get(paneStart)!;
      this.panes.delete(paneStart);
      for (const [repo, part] of pane) {
        const total = this.totals.get(repo)!;
        if (--total.panes === 0) {
          this.totals.delete(repo);
          this.rank(repo, 0);
        } else {
          total.stars -= part;
          this.rank(repo, total.stars);
        }
      }
    }
  }

  private open(start: number): Map<string, number> {
    let pane = this.panes.get(start);
    if (pane !== undefined) return pane;
    this.panes.set(start, (pane = new Map()));
    let i = this.starts.length;
    while (i > 0 && this.starts[i - 1] > start) i--;
    this.starts.splice(i, 0, start);
    return pane;
  }

  private rank(repo: string, stars: number): void {
    if (!this.ranking.set(repo, stars)) return;
    const list = this.ranking.list();
    this.leaders = list;
    const members = new Set(list.map((r) => r.key));
    for (const repo of this.recent.keys()) if (!members.has(repo)) this.recent.delete(repo);
    this.emit({
      partition: this.partition,
      leaders: list.map((r) => ({ repo: r.key, stars: r.score, recent_events: (this.recent.get(r.key) ?? []).map((e) => e.raw) })),
    });
  }
}

// --- the hand-written loop ----------------------------------------------------------------------

/** The loop over events; returns a function to feed one event. */
function leadersLoop(emit: (out: PartitionLeaders) => void): (e: GitHubEvent) => void {
  const partitionOf = wallarooRing(PARTITIONS);
  const byKey = new Map<number, PartitionState>();
  const all: PartitionState[] = [];
  let now = -Infinity;
  return (e) => {
    if (!KEPT_TYPES.has(e.type)) return;
    const key = partitionOf(e.repo);
    let p = byKey.get(key);
    if (p === undefined) {
      byKey.set(key, (p = new PartitionState(key, emit)));
      all.push(p);
      if (now > -Infinity) p.tick(now);
    }
    if (e.type === 'WatchEvent') p.star(e);
    else p.other(e);
    if (e.createdAtMs > now) {
      now = e.createdAtMs;
      for (let i = 0; i < all.length; i++) all[i].tick(now);
    }
  };
}

export function loopMemory(events: readonly GitHubEvent[], consumer: LeadersConsumer): LeadersResult {
  const feed = leadersLoop(consumer.next);
  for (let i = 0; i < events.length; i++) feed(events[i]);
  return consumer.result();
}

export async function loopFiles(files: readonly string[], consumer: LeadersConsumer): Promise<LeadersResult> {
  const feed = leadersLoop(consumer.next);
  for (const file of files) {
    await forEachLine(file, (text) => {
      const e = readEvent(text);
      if (e !== undefined) feed(e);
    });
  }
  return consumer.result();
}

// --- plain RxJS ---------------------------------------------------------------------------------

type Routed = { partition: number; event: GitHubEvent } | { partition: number; now: number };

/**
 * groupBy by partition, a scan per group. The global clock is routed as items: after each event
 * that moves event time, a tick for every partition seen so far (and the current time to a new
 * partition before its first event), so quiet partitions still expire their panes.
 */
function plainStarLeaders(): OperatorFunction<GitHubEvent, PartitionLeaders> {
  return (source) => {
    const partitionOf = wallarooRing(PARTITIONS);
    return source.pipe(
      filter((e) => KEPT_TYPES.has(e.type)),
      scan(
        (clock, event) => {
          const partition = partitionOf(event.repo);
          const items: Routed[] = [];
          if (!clock.seen.includes(partition)) {
            clock.seen.push(partition);
            if (clock.now > -Infinity) items.push({ partition, now: clock.now });
          }
          items.push({ partition, event });
          if (event.createdAtMs > clock.now) {
            clock.now = event.createdAtMs;
            for (const p of clock.seen) items.push({ partition: p, now: clock.now });
          }
          clock.items = items;
          return clock;
        },
        { now: -Infinity, seen: [] as number[], items: [] as Routed[] },
      ),
      mergeMap((clock) => clock.items),
      groupBy((item) => item.partition),
      mergeMap((group) => {
        const out: PartitionLeaders[] = [];
        return group.pipe(
          scan(
            (state, item) => {
              out.length = 0;
              if ('now' in item) state.tick(item.now);
              else if (item.event.type === 'WatchEvent') state.star(item.event);
              else state.other(item.event);
              return state;
            },
            new PartitionState(group.key, (o) => out.push(o)),
          ),
          mergeMap(() => out),
        );
      }),
    );
  };
}

export function plainMemory(events: readonly GitHubEvent[], consumer: LeadersConsumer): Promise<LeadersResult> {
  return run(from(events).pipe(plainStarLeaders()), consumer);
}

export function plainFiles(files: readonly string[], consumer: LeadersConsumer): Promise<LeadersResult> {
  const events = plainFileLines(files).pipe(
    map((line) => readEvent(line.text)),
    filter((e): e is GitHubEvent => e !== undefined),
  );
  return run(events.pipe(plainStarLeaders()), consumer);
}

