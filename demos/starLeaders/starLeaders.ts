/**
 * star-leaders: the GitHub repositories with the most stars in the last 24 hours of event time,
 * per partition of Wallaroo's hash ring, each leader annotated with its latest forks and pull
 * requests of the current hour. Wallaroo's `wallaroo-python-example`, with correct windows.
 */
import { connect, filter, merge, Observable, Observer, OperatorFunction, pipe } from 'rxjs';
import {
  partitionBy, type PartitionByOptions, type Ranked, slidingHourWindow, statefulScan, topK, wallarooHashRing, type WindowStats,
} from '../../index';
import type { GitHubEvent } from './githubEvents';

/** The event types the original application kept: a star, a fork, a pull request. */
export const INTERESTING_TYPES: ReadonlySet<string> = new Set(['WatchEvent', 'ForkEvent', 'PullRequestEvent']);

export interface Leader {
  repo: string;
  /** Stars in the window (24 hours of event time by default). */
  stars: number;
  /** The repo's latest Fork and PullRequest events of the current event-time hour, raw, newest last. */
  recent_events: ReadonlyArray<Readonly<Record<string, unknown>>>;
}

/** What the original emitted whenever a partition's top list changed. */
export interface PartitionLeaders {
  partition: number;
  leaders: Leader[];
}

export interface StarLeadersOptions {
  partitions?: number;
  windowHours?: number;
  top?: number;
  /** How far out of order a star may arrive and still count in its own hour. Default 0. */
  allowedLatenessMs?: number;
  /**
   * How far ahead of the latest accepted event time an event may move time by itself; absent: no
   * bound. One further ahead waits for 3 following events to confirm the jump, and is rejected
   * when an event in bound comes first (see `maxFutureMs` of the window operators).
   */
  maxFutureMs?: number;
  /** Where events rejected by the future bound go (counted in `stats.future` either way). */
  rejected?: Pick<Observer<GitHubEvent>, 'next'>;
  /** Late stars, rejected future events and the watermark, summed over partitions (for dashboards). */
  stats?: WindowStats;
  /** Recent events kept per leader. Default 3, as the original. */
  recentEvents?: number;
}

const HOUR_MS = 3_600_000;

/** The star-leaders pipeline: GitHub events in, a partition's new top list out on every change. */
export function starLeaders(options: StarLeadersOptions = {}): OperatorFunction<GitHubEvent, PartitionLeaders> {
  return pipe(
    filter((e) => INTERESTING_TYPES.has(e.type)),
    partitionBy(starLeadersPartitioning(options)),
  );
}

/**
 * The partitioned part of star-leaders (after the type filter): what `partitionBy` runs here,
 * and what worker processes run when the application is distributed.
 */
export function starLeadersPartitioning(options: StarLeadersOptions = {}): PartitionByOptions<GitHubEvent, string, number, PartitionLeaders> {
  const { partitions = 10, windowHours = 24, top = 10, allowedLatenessMs = 0, stats, recentEvents = 3, maxFutureMs, rejected } = options;
  // The global clock holds and rejects future events before they reach a partition; the window
  // applies the same rule to its own input, so a released jump waits there for the clock.
  const future = maxFutureMs === undefined ? {} : { maxFutureMs };
  const timestampOf = (e: GitHubEvent) => e.createdAtMs;
  return {
    // Every stateful step has a uid, so a checkpoint restores each partition's state in place.
    uid: 'partitions',
    keyOf: (e) => e.repo,
    partitioner: wallarooHashRing(partitions),
    timestampOf,
    // Windows expire when the watermark (clock minus lateness) crosses an hour and annotations
    // age when the clock does: partitions need to hear the time only then and around their events.
    tickEveryMs: HOUR_MS,
    tickOffsetsMs: allowedLatenessMs % HOUR_MS === 0 ? [0] : [0, allowedLatenessMs % HOUR_MS],
    ...future,
    ...(maxFutureMs !== undefined && stats ? { stats } : {}),
    ...(maxFutureMs !== undefined && rejected ? { rejected } : {}),
    pipeline: ({ key: partition, eventTime$ }) =>
      connect((events) =>
        merge(
          events.pipe(
            filter((e) => e.type === 'WatchEvent'),
            slidingHourWindow({ uid: 'stars', keyOf: (e) => e.repo, timestampOf, hours: windowHours, allowedLatenessMs, stats, eventTime$, ...future }),
            topK({ uid: 'top', k: top, keyOf: (change) => change.key, scoreOf: (change) => change.total }),
          ),
          events.pipe(filter((e) => e.type !== 'WatchEvent')),
          // The annotations only age by the hour: one tick per hour, not one per event.
          eventTime$.pipe(hourlyTicks()),
        ).pipe(annotateLeaders(partition, recentEvents)),
      ),
  };
}

/** The first event time of each new hour, as `{ now }` (a scoped step, so it survives a restore). */
function hourlyTicks(): OperatorFunction<number, { now: number }> {
  return statefulScan<number, number, { now: number }>({
    uid: 'hour',
    seed: () => -Infinity,
    step(hour, now, emit) {
      const current = Math.floor(now / HOUR_MS);
      if (current !== hour) emit({ now });
      return current;
    },
  });
}

type AnnotateInput = readonly Ranked<string>[] | GitHubEvent | { now: number };

interface AnnotateState {
  leaders: readonly Ranked<string>[];
  /** Latest Fork/PullRequest events of current leaders only, so memory stays bounded. */
  recent: Map<string, GitHubEvent[]>;
  hour: number;
}

/**
 * Keeps each leader's last few Fork/PullRequest events of the current hour and emits the
 * annotated list whenever the top list changes (the original emitted only then, too).
 */
function annotateLeaders(partition: number, keep: number): OperatorFunction<AnnotateInput, PartitionLeaders> {
  return statefulScan<AnnotateInput, AnnotateState, PartitionLeaders>({
    uid: 'annotations',
    seed: () => ({ leaders: [], recent: new Map(), hour: -Infinity }),
    step(state, input, emit) {
      if ('now' in input) {
        const hour = Math.floor(input.now / HOUR_MS);
        if (hour > state.hour) {
          state.hour = hour;
          for (const [repo, events] of state.recent) {
            const current = events.filter((e) => Math.floor(e.createdAtMs / HOUR_MS) >= hour);
            if (current.length === 0) state.recent.delete(repo);
            else state.recent.set(repo, current);
          }
        }
      } else if (isRanking(input)) {
        state.leaders = input;
        const members = new Set(input.map((r) => r.key));
        for (const repo of state.recent.keys()) if (!members.has(repo)) state.recent.delete(repo);
        emit({
          partition,
          leaders: input.map((r) => ({ repo: r.key, stars: r.score, recent_events: (state.recent.get(r.key) ?? []).map((e) => e.raw) })),
        });
      } else if (Math.floor(input.createdAtMs / HOUR_MS) >= state.hour && state.leaders.some((r) => r.key === input.repo)) {
        const events = state.recent.get(input.repo) ?? [];
        events.push(input);
        if (events.length > keep) events.shift();
        state.recent.set(input.repo, events);
      }
      return state;
    },
  });
}

function isRanking(input: AnnotateInput): input is readonly Ranked<string>[] {
  return Array.isArray(input);
}

/** Merges the latest list of every partition into the global top `k` (stars, then repo name). */
export function globalLeaders(latest: ReadonlyMap<number, readonly Leader[]>, k: number): Leader[] {
  return [...latest.values()]
    .flat()
    .sort((a, b) => b.stars - a.stars || (a.repo < b.repo ? -1 : a.repo > b.repo ? 1 : 0))
    .slice(0, k);
}

/** Keeps the latest list per partition as outputs pass, for a global view. */
export function latestByPartition(outputs: Observable<PartitionLeaders>): Observable<Map<number, Leader[]>> {
  return outputs.pipe(
    statefulScan<PartitionLeaders, Map<number, Leader[]>, Map<number, Leader[]>>({
      seed: () => new Map(),
      step(latest, out, emit) {
        latest.set(out.partition, out.leaders);
        emit(latest);
        return latest;
      },
    }),
  );
}
