import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { deserialize, serialize } from 'node:v8';
import { filter, from, lastValueFrom, Subject, toArray } from 'rxjs';
import { partitionBy, toJson, windowStats } from 'rivulet';
import { parseGitHubEvent, type GitHubEvent } from 'rivulet/demos';
import {
  globalLeaders, INTERESTING_TYPES, starLeaders, starLeadersPartitioning, type Leader, type PartitionLeaders, type StarLeadersOptions,
} from '../../../demos/starLeaders/starLeaders';
import { ScopeSnapshot, StateScope, withStateScope } from '../../../lib/state/scope';
import { jsonLines, runCli, stopCliRuns } from '../../support/cli';
import { GH_ARCHIVE_HOURS as HOURS, HASH_RING_VECTORS } from '../../support/data';

const H = 3_600_000;

function archiveEvents(file: string): GitHubEvent[] {
  return gunzipSync(readFileSync(file))
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const r = parseGitHubEvent(l);
      if (!r.ok) throw new Error(r.reason);
      return r.event;
    });
}

function event(type: string, repo: string, atMs: number, extra: Record<string, unknown> = {}): GitHubEvent {
  const raw = { type, repo: { name: repo }, created_at: new Date(atMs).toISOString(), ...extra };
  return { type, repo, createdAtMs: atMs, raw };
}

async function run(events: GitHubEvent[], options: Parameters<typeof starLeaders>[0] = {}): Promise<PartitionLeaders[]> {
  return lastValueFrom(from(events).pipe(starLeaders(options), toArray()));
}

function lastPerPartition(outputs: PartitionLeaders[]): Map<number, Leader[]> {
  const latest = new Map<number, Leader[]>();
  for (const o of outputs) latest.set(o.partition, o.leaders);
  return latest;
}

afterEach(stopCliRuns);

describe('star-leaders on two real GH Archive hours', () => {
  const events = HOURS.flatMap(archiveEvents);
  let outputs: PartitionLeaders[];
  beforeAll(async () => {
    outputs = await run(events);
  });

  it('puts every repo in the partition Wallaroo\'s hash ring gave it', () => {
    const vectors = new Map(
      readFileSync(HASH_RING_VECTORS, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const v = JSON.parse(l) as { partition: number; repo: string };
          return [v.repo, v.partition] as const;
        }),
    );
    const seen = new Set<string>();
    for (const o of outputs) {
      for (const l of o.leaders) {
        expect([l.repo, vectors.get(l.repo)]).toEqual([l.repo, o.partition]);
        seen.add(l.repo);
      }
    }
    expect(seen.size).toBeGreaterThan(100);
  });

  it('ends with the true top 10 of every partition: a naive recount of stars, ties by repo name', () => {
    const stars = new Map<string, number>();
    for (const e of events) if (e.type === 'WatchEvent') stars.set(e.repo, (stars.get(e.repo) ?? 0) + 1);
    const latest = lastPerPartition(outputs);
    expect([...latest.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const [partition, leaders] of latest) {
      // Every repo starred in this partition (by the ring's vectors), ranked naively.
      const ranked = [...stars]
        .filter(([repo]) => partitionOf(repo) === partition)
        .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
        .slice(0, 10)
        .map(([repo, n]) => ({ repo, stars: n }));
      expect(leaders.map(({ repo, stars: n }) => ({ repo, stars: n }))).toEqual(ranked);
    }
  });

  it('annotates leaders only with their Fork and PullRequest events of the current hour, at most 3', () => {
    for (const o of outputs) {
      for (const l of o.leaders) {
        expect(l.recent_events.length).toBeLessThanOrEqual(3);
        for (const raw of l.recent_events) {
          expect(['ForkEvent', 'PullRequestEvent']).toContain(raw.type);
          expect((raw.repo as { name: string }).name).toBe(l.repo);
        }
      }
    }
    const annotated = [...lastPerPartition(outputs).values()].flat().filter((l) => l.recent_events.length > 0);
    expect(annotated.length).toBeGreaterThan(0);
    for (const l of annotated) for (const raw of l.recent_events) expect(String(raw.created_at)).toMatch(/^2015-01-01T01:/);
  });

  it('prints the merged global leaderboard from the CLI', async () => {
    const { stdout } = await runCli(['star-leaders', '--format', 'table', ...HOURS]).done;
    const top = globalLeaders(lastPerPartition(outputs), 10);
    const rows = stdout.split('\n').filter((l) => /^\s+\d+\s/.test(l));
    expect(rows.map((r) => r.trim().split(/\s+/).slice(0, 3))).toEqual(top.map((l, i) => [String(i + 1), l.repo, String(l.stars)]));
  });

  it('prints every change as JSON lines in the original shape', async () => {
    const { stdout } = await runCli(['star-leaders', ...HOURS]).done;
    expect(jsonLines(stdout)).toEqual(JSON.parse(JSON.stringify(outputs)));
  });
});

/** The partition Wallaroo's own partitioner gave `repo`, from the test vectors. */
const partitionCache = new Map<string, number>();
function partitionOf(repo: string): number {
  const known = partitionCache.get(repo);
  if (known !== undefined) return known;
  const vectors = readFileSync(HASH_RING_VECTORS, 'utf8').split('\n').filter((l) => l !== '');
  for (const l of vectors) {
    const v = JSON.parse(l) as { partition: number; repo: string };
    partitionCache.set(v.repo, v.partition);
  }
  return partitionCache.get(repo) as number;
}

const T0 = Date.parse('2015-01-01T00:00:00Z');

describe('star-leaders event time', () => {
  const t0 = T0;

  it('empties a quiet partition\'s window after a gap of more than 24 hours', async () => {
    // Two repos in different partitions (from the ring's vectors).
    const quiet = 'prakhar1989/awesome-courses';
    const busy = 'cachethq/Cachet';
    expect(partitionOf(busy)).not.toBe(partitionOf(quiet));
    const outputs = await run([
      event('WatchEvent', quiet, t0),
      event('WatchEvent', quiet, t0 + 1000),
      event('WatchEvent', busy, t0 + 25 * H),
    ]);
    const quietLists = outputs.filter((o) => o.partition === partitionOf(quiet)).map((o) => o.leaders.map((l) => [l.repo, l.stars]));
    expect(quietLists).toEqual([[[quiet, 1]], [[quiet, 2]], []]);
  });

  it('counts an out-of-order event in its own hour, and drops a late one, counting it', async () => {
    const repo = 'prakhar1989/awesome-courses';
    const stats = windowStats();
    const outputs = await run(
      [
        event('WatchEvent', repo, t0 + 30 * 60_000), // 00:30
        event('WatchEvent', repo, t0 + 24 * H + 10 * 60_000), // next day 00:10: the 00:00 pane has expired
        event('WatchEvent', repo, t0 + 23 * H + 50 * 60_000), // 23:50, out of order but inside the window
        event('WatchEvent', repo, t0 + 20 * 60_000), // 00:20 of the first day: its pane expired, late
        event('WatchEvent', repo, t0 + 47 * H + 55 * 60_000), // 47:55: the 23:00 pane expired at 47:00
      ],
      { stats },
    );
    const stars = outputs.map((o) => o.leaders[0]?.stars ?? 0);
    // up to 1; the 00:30 star expires (0) and the 24:10 star arrives (1); 23:50 joins (2);
    // the late 00:20 star changes nothing; at 47:55 the 23:00 pane has expired (24:00 pane remains).
    expect(stars).toEqual([1, 0, 1, 2, 1, 2]);
    expect(stats.late).toBe(1);
  });
});

describe('star-leaders hears the global clock by the hour', () => {
  const real = HOURS.flatMap(archiveEvents);
  const shifted = (e: GitHubEvent, ms: number): GitHubEvent => ({ ...e, createdAtMs: e.createdAtMs + ms });
  // Hour 0 with one star dated 9999 in the middle, then hour 1 thirty hours later: an outlier
  // to reject and a real gap to confirm, release and expire every window on.
  const [hour0, hour1] = [real.filter((e) => e.createdAtMs < T0 + H), real.filter((e) => e.createdAtMs >= T0 + H)];
  const star = hour0.find((e) => e.type === 'WatchEvent')!;
  const jumpy = [
    ...hour0.slice(0, 3000), { ...star, createdAtMs: Date.parse('9999-12-31T23:59:59Z') }, ...hour0.slice(3000),
    ...hour1.map((e) => shifted(e, 30 * H)),
  ];

  /** The partitioned pipeline's records and, after every input event, its stats, as text. */
  function trace(events: readonly GitHubEvent[], options: StarLeadersOptions, clock: 'hourly' | 'every increase' | { tickOffsetsMs: number[] }): string[] {
    const stats = windowStats();
    const partitioning = starLeadersPartitioning({ ...options, stats });
    const ticks = clock === 'hourly' ? {} : clock === 'every increase' ? { tickEveryMs: undefined, tickOffsetsMs: undefined } : clock;
    const lines: string[] = [];
    const input = new Subject<GitHubEvent>();
    input.pipe(filter((e) => INTERESTING_TYPES.has(e.type)), partitionBy({ ...partitioning, ...ticks })).subscribe((out) => lines.push(toJson(out)));
    for (const e of events) {
      input.next(e);
      lines.push(`late=${stats.late} future=${stats.future} watermark=${stats.watermark}`);
    }
    input.complete();
    return lines;
  }

  /** Where two traces first differ (undefined: nowhere), short enough to read in a failure. */
  function firstDifference(a: string[], b: string[]): string | undefined {
    for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return `line ${i}: ${a[i]?.slice(0, 200)} <> ${b[i]?.slice(0, 200)}`;
    return undefined;
  }

  const M = 60_000;
  it.each([
    ['the defaults', real, {}],
    ['the CLI defaults (--max-future 1h)', real, { maxFutureMs: H }],
    ['--max-future 10s, far less than an hour', real, { maxFutureMs: 10_000 }],
    ['1-hour windows, which expire on the real data', real, { windowHours: 1 }],
    ['1-hour windows and 10 minutes of lateness', real, { windowHours: 1, allowedLatenessMs: 10 * M }],
    ['1-hour windows, 90 minutes of lateness and --max-future 1h', real, { windowHours: 1, allowedLatenessMs: 90 * M, maxFutureMs: H }],
    ['an outlier and a 30-hour gap, with --max-future 1h', jumpy, { maxFutureMs: H }],
    ['an outlier and a 30-hour gap, unbounded', jumpy, {}],
  ] as const)('emits every record and keeps every stat as on every increase: %s', (_, events, options: StarLeadersOptions) => {
    const hourly = trace(events, options, 'hourly');
    expect(hourly.filter((l) => l.startsWith('{')).length).toBeGreaterThan(0);
    expect(firstDifference(hourly, trace(events, options, 'every increase'))).toBeUndefined();
  });

  it('differs when the ticks miss a boundary that matters (the comparison above can fail)', () => {
    const options = { windowHours: 1, allowedLatenessMs: 10 * M };
    // The windows expire at 01:10 of the watermark, but the clock is told only on the hour.
    expect(firstDifference(trace(real, options, { tickOffsetsMs: [0] }), trace(real, options, 'every increase'))).toBeDefined();
  });

  it('resumes from checkpoints taken anywhere to the records of an uninterrupted run on every increase', () => {
    const options: StarLeadersOptions = { windowHours: 1, maxFutureMs: H };
    const events = real.filter((e) => INTERESTING_TYPES.has(e.type));
    const records = (o: PartitionLeaders[]) => o.map((r) => toJson(r));
    const whole: PartitionLeaders[] = [];
    from(events).pipe(partitionBy({ ...starLeadersPartitioning(options), tickEveryMs: undefined, tickOffsetsMs: undefined })).subscribe((r) => whole.push(r));
    const firstOfHour1 = events.findIndex((e) => e.createdAtMs >= T0 + H);
    for (const cut of [1, 1234, firstOfHour1, firstOfHour1 + 1, events.length - 1]) {
      const out: PartitionLeaders[] = [];
      const before = new Subject<GitHubEvent>();
      const scope = new StateScope();
      withStateScope(scope, () => before.pipe(partitionBy(starLeadersPartitioning(options))).subscribe((r) => out.push(r)));
      events.slice(0, cut).forEach((e) => before.next(e));
      const saved = deserialize(serialize(scope.snapshot())) as ScopeSnapshot;
      const after = new Subject<GitHubEvent>();
      withStateScope(new StateScope(saved), () => after.pipe(partitionBy(starLeadersPartitioning(options))).subscribe((r) => out.push(r)));
      events.slice(cut).forEach((e) => after.next(e));
      after.complete();
      expect(firstDifference(records(out), records(whole))).toBeUndefined();
    }
  });
});
