/**
 * The distributed star-leaders against the single-process one, through the real CLI in child
 * processes (router, workers, results) and real redis-server processes: for every partition, the
 * sequence of leader lists read back equals what `rivulet star-leaders FILE...` emits for it,
 * whatever happened to workers, router and Redis meanwhile.
 */
import { ChildProcess, spawn } from 'node:child_process';
import Redis from 'ioredis';
import { join } from 'node:path';
import { EMPTY, filter, from, lastValueFrom, mergeMap, of, toArray } from 'rxjs';
import { closeRedis, connectRedis, fileLines, keySlot, RedisClient, route } from 'rivulet';
import { GitHubEvent, INTERESTING_TYPES, parseGitHubEvent } from 'rivulet/demos';
import { starLeadersApp } from '../../../demos/starLeaders/distributed';
import { RedisCluster, RedisServer, startCluster, startRedis } from '../../support/redis';

const ROOT = join(__dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'rivulet.js');
// Two real GH Archive hours, then a real extract from 2021: the jump ages every partition's window.
const FILES = [
  join(ROOT, 'demos', 'data', 'gharchive', '2015-01-01-0.json.gz'),
  join(ROOT, 'demos', 'data', 'gharchive', '2015-01-01-1.json.gz'),
  join(ROOT, 'spec', 'fixtures', 'pinot-2021-07-21-sample.json'),
];
const LEASE = ['--lease-ms', '1000'];
const PARTITIONS = 10;

type Leaders = unknown[];

/** A child process of the real CLI, with what it printed so far. */
interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once `test` holds, checked whenever the child prints; rejects if it ends first. */
  when(test: () => boolean, what: string): Promise<void>;
  /** Resolves once stderr matches, as many times as `times`. */
  stderrMatches(pattern: RegExp, times?: number): Promise<void>;
}

const children = new Set<ChildProcess>();

function rivulet(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const waiters: Array<() => void> = [];
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) =>
      child.once('close', (code, signal) => {
        children.delete(child);
        resolve({ code, signal });
        for (const w of waiters.splice(0)) w();
      }),
    ),
    when(test, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (test()) return resolve();
          if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`rivulet ${args.join(' ')} ended before ${what}:\n${run.stderr}`));
          waiters.push(check);
        };
        check();
      });
    },
    stderrMatches(pattern, times = 1) {
      return run.when(() => run.stderr.split('\n').filter((line) => pattern.test(line)).length >= times, `stderr showed ${String(pattern)}`);
    },
  };
  // Decoded as streams: a character split between two chunks stays whole.
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    run.stdout += chunk;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    run.stderr += chunk;
    for (const w of waiters.splice(0)) w();
  });
  return run;
}

async function finished(run: Run): Promise<string> {
  const { code, signal } = await run.exited;
  if (code !== 0) throw new Error(`exit ${String(code ?? signal)}; stderr:\n${run.stderr}`);
  return run.stdout;
}

/** Sends SIGTERM and expects a clean exit 0. */
async function terminate(run: Run): Promise<void> {
  run.child.kill('SIGTERM');
  const { code, signal } = await run.exited;
  if (code !== 0) throw new Error(`worker exited with ${String(code ?? signal)} after SIGTERM; stderr:\n${run.stderr}`);
}

/** Leader lists by partition, in order; checks that results numbered each partition's outputs 1, 2, 3, ... */
function byPartition(stdout: string, numbered: boolean): Map<number, Leaders[]> {
  const out = new Map<number, Leaders[]>();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const record = JSON.parse(line) as { partition: number; seq?: number; leaders: Leaders };
    const list = out.get(record.partition) ?? [];
    if (numbered) expect(record.seq).toBe(list.length + 1);
    list.push(record.leaders);
    out.set(record.partition, list);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/**
 * Resolves once `condition` (a state in Redis) holds, checked whenever it may have changed: at
 * each commit of a worker, which trims its partition's input; Redis announces every trim to the
 * subscribers of keyspace events on the node that holds the stream. Rejects if one of `workers`
 * ends first.
 */
async function afterCommits(nodes: readonly RedisServer[], workers: readonly Run[], what: string, condition: () => Promise<boolean>): Promise<void> {
  const subscribers = nodes.map((node) => new Redis(node.url, { maxRetriesPerRequest: null }));
  try {
    for (const subscriber of subscribers) {
      await subscriber.config('SET', 'notify-keyspace-events', 'Et');
      await subscriber.subscribe('__keyevent@0__:xtrim');
    }
    await new Promise<void>((resolve, reject) => {
      // One check at a time; a trim announced meanwhile asks for one more.
      let checking = false;
      let again = false;
      let settled = false;
      const check = async (): Promise<void> => {
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          do {
            again = false;
            settled ||= await condition();
          } while (again && !settled);
          if (settled) resolve();
        } catch (error) {
          reject(error);
        } finally {
          checking = false;
        }
      };
      for (const subscriber of subscribers) subscriber.on('message', () => {
        if (!settled) void check();
      });
      for (const worker of workers) void worker.exited.then(() => reject(new Error(`a worker ended before ${what}:\n${worker.stderr}`)));
      // Subscribed first, so that no commit after this first look goes unheard.
      void check();
    });
  } finally {
    for (const subscriber of subscribers) subscriber.disconnect();
  }
}

let events: GitHubEvent[];
let reference: Map<number, Leaders[]>;
let referenceTable: string[];
let appCount = 0;

beforeAll(async () => {
  const [json, table] = await Promise.all([finished(rivulet(['star-leaders', ...FILES])), finished(rivulet(['star-leaders', ...FILES, '--format', 'table']))]);
  reference = byPartition(json, false);
  referenceTable = table.split('\n').slice(1);
  // What `rivulet route star-leaders` appends, read once for the tests that route in this process.
  events = await lastValueFrom(
    fileLines(FILES).pipe(
      mergeMap((line) => {
        const parsed = parseGitHubEvent(line.text);
        return parsed.ok ? of(parsed.event) : EMPTY;
      }),
      filter((e) => INTERESTING_TYPES.has(e.type)),
      toArray(),
    ),
  );
  // Every partition emitted, and the 2021 extract aged them all (the windows emptied out).
  expect(reference.size).toBe(PARTITIONS);
});

afterEach(async () => {
  const left = [...children];
  for (const child of left) child.kill('SIGKILL');
  await Promise.all(left.map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('close', resolve)))));
});

/** One application on a Redis: CLI arguments and a client to watch it with. */
function application(connection: string[], client: RedisClient) {
  const name = `sl-${process.pid}-${++appCount}`;
  // What `rivulet route star-leaders` sets up by default (--max-future 1h, as `rivulet star-leaders`).
  const app = starLeadersApp({ partitions: PARTITIONS, windowHours: 24, top: 10, allowedLatenessMs: 0, maxFutureMs: 3_600_000 }, name);
  const args = [...connection, '--app', name];
  /** Input entries not yet consumed (inputs are trimmed up to the committed offsets). */
  const remaining = async () => (await Promise.all(app.partitionKeys.map((k) => client.xlen(k.input)))).reduce((a, b) => a + b, 0);
  return {
    app,
    route: (...extra: string[]) => rivulet(['route', 'star-leaders', ...args, ...extra, ...FILES]),
    worker: (...extra: string[]) => rivulet(['worker', 'star-leaders', ...args, ...LEASE, ...extra]),
    results: (...extra: string[]) => rivulet(['results', 'star-leaders', ...args, ...extra]),
    remaining,
    /**
     * Routes everything with the router of `rivulet route star-leaders`, in this process (the
     * files were read once), and returns how many entries (events and ticks) went in.
     */
    async routeAll(): Promise<number> {
      await route(client, app, { source: () => from(events), inputId: 'bundled' });
      return remaining();
    },
    async expectEquivalent(): Promise<void> {
      expect(byPartition(await finished(this.results()), true)).toEqual(reference);
    },
    outputs: async () => (await Promise.all(app.partitionKeys.map((k) => client.xlen(k.output)))).reduce((a, b) => a + b, 0),
  };
}

const referenceOutputs = () => [...reference.values()].reduce((n, lists) => n + lists.length, 0);

describe('distributed star-leaders on one Redis node', () => {
  let redis: RedisServer;
  let client: RedisClient;
  beforeAll(async () => {
    redis = await startRedis();
    client = connectRedis({ url: redis.url });
  });
  afterAll(async () => {
    await closeRedis(client);
    await redis?.destroy();
  });
  const on = () => application(['--redis', redis.url], client);

  it('one worker: the same leader lists per partition as one process; the global table too; SIGTERM commits, releases and exits 0, adding nothing', async () => {
    const a = on();
    const worker = a.worker();
    await worker.stderrMatches(/waiting for a router/);
    const routed = await finished(a.route());
    expect(routed).toMatch(/route sl-\d+-\d+: \d+ events, \d+ appended now \(0 entries were already in Redis\), \d+ clock ticks to each of 10 partitions/);
    await a.expectEquivalent();
    const table = await finished(a.results('--format', 'table'));
    expect(table.split('\n').slice(1)).toEqual(referenceTable);
    await terminate(worker);
    expect(worker.stderr).toMatch(/stopped; every partition committed and released/);
    expect(await a.outputs()).toBe(referenceOutputs());
    // All ten partitions were released: their leases are gone.
    expect(await Promise.all(a.app.partitionKeys.map((k) => client.exists(k.lease)))).toEqual(new Array(PARTITIONS).fill(0));
    // A rerun of the router with the same files appends nothing.
    expect(await finished(a.route())).toMatch(/these files were routed before/);
  });

  it.each([2, 3])('%i workers share the partitions and emit the same; results --follow prints them as they come', async (n) => {
    const a = on();
    const follow = a.results('--follow');
    await follow.stderrMatches(/waiting for a router/);
    const workers = Array.from({ length: n }, () => a.worker());
    await Promise.all(workers.map((w) => w.stderrMatches(/waiting for a router|joined/)));
    await a.routeAll();
    await a.expectEquivalent();
    await Promise.all(workers.map((w) => w.stderrMatches(/gained partition/)));
    await Promise.all(workers.map(terminate));
    // Following, every output arrives once, each partition's in order, the partitions interleaved.
    await follow.when(() => follow.stdout.split('\n').length - 1 >= referenceOutputs(), 'it printed every output');
    follow.child.kill('SIGINT');
    expect((await follow.exited).code).toBe(130);
    expect(byPartition(follow.stdout, true)).toEqual(reference);
  });

  it('a worker killed with SIGKILL mid-run: the other takes its partitions after the lease, from its last commits', async () => {
    const a = on();
    const total = await a.routeAll();
    const first = a.worker('--batch', '5');
    await afterCommits([redis], [first], 'the first commits', async () => (await a.remaining()) < total * 0.9);
    first.child.kill('SIGKILL');
    await first.exited;
    const left = await a.remaining();
    expect(left).toBeGreaterThan(0); // it died with work left
    const second = a.worker();
    await a.expectEquivalent();
    await second.stderrMatches(/gained partition \d+ \(epoch \d+, from entry [1-9]/);
    await terminate(second);
  });

  it('a frozen worker (SIGSTOP past its lease) is fenced when it wakes (SIGCONT), and rejoins', async () => {
    const a = on();
    const total = await a.routeAll();
    const frozen = a.worker('--batch', '5');
    await afterCommits([redis], [frozen], 'the first commits', async () => (await a.remaining()) < total * 0.9);
    frozen.child.kill('SIGSTOP');
    const left = await a.remaining();
    expect(left).toBeGreaterThan(0);
    const other = a.worker();
    // The other worker takes all ten once the frozen one's heartbeat and leases have expired.
    await other.stderrMatches(/gained partition/, PARTITIONS);
    const gainedBefore = frozen.stderr.split('\n').filter((line) => /gained partition/.test(line)).length;
    frozen.child.kill('SIGCONT');
    await frozen.stderrMatches(/lost partition \d+: fenced/);
    await a.expectEquivalent();
    // Awake again, it counts as live: the other hands partitions back and it takes its share.
    await other.stderrMatches(/lost partition \d+: handed back/);
    await frozen.stderrMatches(/gained partition/, gainedBefore + 1);
    await Promise.all([terminate(frozen), terminate(other)]);
  });

  it('a worker joining mid-run gets its share from the first, which hands partitions back between batches', async () => {
    const a = on();
    const total = await a.routeAll();
    const first = a.worker('--batch', '5');
    await afterCommits([redis], [first], 'the first commits', async () => (await a.remaining()) < total * 0.9);
    const joining = a.worker('--batch', '5');
    await joining.stderrMatches(/gained partition/);
    await a.expectEquivalent();
    expect(first.stderr).toMatch(/lost partition \d+: handed back/);
    await Promise.all([terminate(first), terminate(joining)]);
  });

  it('a router killed mid-run and run again appends exactly what was missing', async () => {
    const a = on();
    // With no worker, a small backlog bound stops the router part way, where it is killed.
    const router = a.route('--max-backlog', '60');
    await router.stderrMatches(/paused until workers catch up/);
    router.child.kill('SIGKILL');
    await router.exited;
    const workers = [a.worker(), a.worker()];
    const again = await finished(a.route());
    expect(again).toMatch(/appended now \([1-9]\d* entries were already in Redis\)/);
    await a.expectEquivalent();
    await Promise.all(workers.map(terminate));
  });
});

describe('distributed star-leaders across restarts and protected servers', () => {
  it('Redis restarted mid-run (append-only file): the workers reconnect and nothing is lost or repeated', async () => {
    const redis = await startRedis({ appendOnly: true });
    const client = connectRedis({ url: redis.url });
    try {
      const a = application(['--redis', redis.url], client);
      const total = await a.routeAll();
      const workers = [a.worker('--batch', '5'), a.worker('--batch', '5')];
      await afterCommits([redis], workers, 'the first commits', async () => (await a.remaining()) < total * 0.9);
      await redis.stop();
      await redis.start();
      await a.expectEquivalent();
      await Promise.all(workers.map(terminate));
    } finally {
      await closeRedis(client);
      await redis.destroy();
    }
  });

  it('a password-protected Redis: redis://USER:PASSWORD@HOST:PORT', async () => {
    const redis = await startRedis({ user: { name: 'rivulet', password: 's3cret:/@x' } });
    const client = connectRedis({ url: redis.url });
    try {
      const a = application(['--redis', redis.url], client);
      const workers = [a.worker(), a.worker()];
      await a.routeAll();
      await a.expectEquivalent();
      await Promise.all(workers.map(terminate));
      // Without the password nothing gets in.
      const refused = rivulet(['results', 'star-leaders', '--redis', `redis://127.0.0.1:${redis.port}`, '--app', a.app.name]);
      await refused.stderrMatches(/NOAUTH|NOPERM|WRONGPASS|Authentication required/i);
    } finally {
      await closeRedis(client);
      await redis.destroy();
    }
  });
});

describe('distributed star-leaders on a 3-node Redis Cluster', () => {
  let cluster: RedisCluster;
  let client: RedisClient;
  beforeAll(async () => {
    cluster = await startCluster(3);
    client = connectRedis({ cluster: cluster.nodes.map((n) => ({ host: n.host, port: n.port })) });
  });
  afterAll(async () => {
    await closeRedis(client);
    await cluster?.destroy();
  });

  it('spreads the partitions over the nodes (4/3/3), and with a worker killed mid-run still emits what one process emits', async () => {
    const a = application(['--redis-cluster', cluster.spec], client);
    const slots = await client.cluster('SLOTS');
    const nodeOf = (slot: number) => slots.find(([low, high]) => slot >= low && slot <= high)![2][1];
    const perNode = new Map<number, number>();
    for (const keys of a.app.partitionKeys) perNode.set(nodeOf(keySlot(keys.input)), (perNode.get(nodeOf(keySlot(keys.input))) ?? 0) + 1);
    expect([...perNode.values()].sort()).toEqual([3, 3, 4]);

    const total = await a.routeAll();
    const victim = a.worker('--batch', '5');
    const survivor = a.worker('--batch', '5');
    await afterCommits(cluster.nodes, [victim, survivor], 'the first commits', async () => (await a.remaining()) < total * 0.9);
    victim.child.kill('SIGKILL');
    await victim.exited;
    await a.expectEquivalent();
    await terminate(survivor);
  });
});
