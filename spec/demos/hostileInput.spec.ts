import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom, map, mergeMap, EMPTY, of, Subject, toArray } from 'rxjs';
import { toJson } from 'rivulet';
import {
  describeGitHubEvent, END_OF_DAY, formatLeaderboard, globalLeaders, type Leader, type LogInput, logCounts, type LogCountsOptions,
  parseGitHubEvent, type PartitionLeaders, starLeaders,
} from 'rivulet/demos';
import { jsonLines, runCli, stopCliRuns } from '../support/cli';
import { GH_ARCHIVE_HOURS } from '../support/data';

// Input is written by strangers: any JSON, nested as deep as they like, strings as long as a
// frame allows, keys chosen to collide with object internals. Both applications must take all
// of it, in process and through the CLI, and keep writing valid JSON.

const tempDirs: string[] = [];
afterEach(async () => {
  await stopCliRuns();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'toJSON', 'hasOwnProperty', 'valueOf'];
const hostileKey = fc.oneof(fc.string(), fc.constantFrom(...HOSTILE_KEYS));
const hostileString = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary' }) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_KEYS, '', '<script>alert(1)</script>', '\u2028\u2029', '\ud800') },
  { weight: 1, arbitrary: fc.string({ minLength: 1000, maxLength: 20_000 }) },
);
/** Up to about as long as a 1 MiB frame allows (a short random string repeated: generating 1M random characters is slow). */
const hugeString = fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), fc.integer({ min: 10_000, max: 50_000 })).map(([s, n]) => s.repeat(n));
/** Any JSON value, with hostile keys at every level. */
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }), hostileString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** JSON text nested `depth` levels deep, written as text (building the value would itself need the stack). */
function deepJson(depth: number, kind: 'object' | 'array', key: string): string {
  const name = JSON.stringify(key);
  return kind === 'array' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${`{${name}:`.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** How deep a parsed value nests along its first member at each level, counted without recursion. */
function depthOf(value: unknown): number {
  let depth = 0;
  for (let v = value; typeof v === 'object' && v !== null; depth++) v = Array.isArray(v) ? v[0] : Object.values(v)[0];
  return depth;
}

function objectPrototypeIsClean(): boolean {
  const probe: Record<string, unknown> = {};
  return Object.keys(Object.prototype).length === 0 && probe.polluted === undefined && probe.isAdmin === undefined;
}

// ---- star-leaders ----

const T0 = Date.UTC(2015, 0, 1, 1, 0, 0);
const TYPES = ['WatchEvent', 'ForkEvent', 'PullRequestEvent', 'PushEvent', 'IssuesEvent'];

interface EventSpec {
  type: string;
  repo: string;
  login: string;
  title: string;
  minute: number;
  payload: unknown;
}

const eventSpec: fc.Arbitrary<EventSpec> = fc.record({
  type: fc.constantFrom(...TYPES),
  repo: fc.oneof(fc.constantFrom('a/a', 'b/b', 'c/c', '__proto__', 'constructor', 'toString'), fc.string({ maxLength: 12 })),
  login: hostileString,
  title: hostileString,
  minute: fc.integer({ min: 0, max: 58 }),
  payload: hostileJson,
});

/** One archive line; members that collide with Object internals at the top level too. */
function eventLine(e: EventSpec, id: string): string {
  const at = new Date(T0 + e.minute * 60_000).toISOString();
  const payload = `{"number":7,"pull_request":{"title":${JSON.stringify(e.title)}},"forkee":{"html_url":"https://github.com/x"},"extra":${toJson(e.payload)}}`;
  return `{"__proto__":{"polluted":true},"constructor":{"prototype":{"isAdmin":true}},"id":${JSON.stringify(id)},"type":${JSON.stringify(e.type)},"actor":{"login":${JSON.stringify(e.login)}},"repo":{"name":${JSON.stringify(e.repo)}},"payload":${payload},"created_at":"${at}"}`;
}

/** Stars that make a repo a leader, then its ForkEvent nested `depth` deep (by `login`), and a star to show it. */
function deepForkScenario(depth: number, kind: 'object' | 'array', key: string, login = 'mallory'): string[] {
  const repo = 'victim/leader';
  const at = new Date(T0 + 59 * 60_000).toISOString();
  const star = (i: number) => `{"id":"star-${i}","type":"WatchEvent","actor":{"login":"fan"},"repo":{"name":"${repo}"},"payload":{"action":"started"},"created_at":"${at}"}`;
  const fork = `{"payload":{"forkee":{"html_url":"https://github.com/mallory/leader"},"deep":${deepJson(depth, kind, key)}},"id":"deep-fork","type":"ForkEvent","actor":{"login":${JSON.stringify(login)}},"repo":{"name":"${repo}"},"created_at":"${at}"}`;
  return [...Array.from({ length: 20 }, (_, i) => star(i)), fork, star(20)];
}

async function runStarLeaders(lines: readonly string[]): Promise<PartitionLeaders[]> {
  const events = from(lines).pipe(
    mergeMap((line) => {
      const parsed = parseGitHubEvent(line);
      return parsed.ok ? of(parsed.event) : EMPTY;
    }),
  );
  return lastValueFrom(events.pipe(starLeaders({ partitions: 3, top: 5 }), toArray()));
}

describe('star-leaders on hostile events', () => {
  it('takes arbitrary JSON, huge strings, hostile keys and events nested up to 100,000 levels, and writes valid JSON', async () => {
    const scenario = fc.record({
      events: fc.array(eventSpec, { maxLength: 25 }),
      junk: fc.array(fc.oneof(fc.string(), fc.constantFrom('{', '[', '{"type":"WatchEvent"}', 'null', '{"repo":{"name":"x"},"type":"WatchEvent","created_at":"yesterday"}')), { maxLength: 3 }),
      depth: fc.integer({ min: 1, max: 100_000 }),
      kind: fc.constantFrom('object' as const, 'array' as const),
      key: hostileKey,
      login: hugeString,
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ events, junk, depth, kind, key, login }) => {
        const lines = [...events.map((e, i) => eventLine(e, String(i))), ...junk, ...deepForkScenario(depth, kind, key, login)];
        const outputs = await runStarLeaders(lines);
        const latest = new Map<number, Leader[]>();
        for (const output of outputs) {
          const text = toJson(output);
          const parsed = JSON.parse(text) as PartitionLeaders;
          expect(parsed.partition).toBe(output.partition);
          expect(parsed.leaders.map((l) => [l.repo, l.stars])).toEqual(output.leaders.map((l) => [l.repo, l.stars]));
          for (const leader of output.leaders) for (const raw of leader.recent_events) expect(typeof describeGitHubEvent(raw)).toBe('string');
          latest.set(output.partition, output.leaders);
        }
        // No repo has more stars than it was given.
        const given = new Map<string, number>();
        for (const e of events) if (e.type === 'WatchEvent') given.set(e.repo, (given.get(e.repo) ?? 0) + 1);
        given.set('victim/leader', 21 + (given.get('victim/leader') ?? 0));
        for (const leaders of latest.values()) for (const l of leaders) expect(l.stars).toBeLessThanOrEqual(given.get(l.repo) ?? 0);
        // The deep fork reached the output, whole.
        const victim = [...latest.values()].flat().find((l) => l.repo === 'victim/leader');
        expect(victim?.stars).toBe(21);
        const fork = (JSON.parse(toJson(victim)) as Leader).recent_events.find((raw) => raw.id === 'deep-fork') as { payload: { deep: unknown } };
        expect(depthOf(fork.payload.deep)).toBe(depth);
        expect(describeGitHubEvent(fork as Record<string, unknown>)).toBe(`Forked by ${login}`);
        expect(typeof formatLeaderboard(globalLeaders(latest, 10), lines.length, T0, 24)).toBe('string');
        expect(objectPrototypeIsClean()).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  // The recursive writer this replaced ended the CLI between 5,000 and 10,000 levels on Node 20.
  it('runs the CLI over a real archive hour with a 20,000-level ForkEvent for the leading repo, and writes it out whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rivulet-hostile-'));
    tempDirs.push(dir);
    const attack = join(dir, 'attack.json');
    // 20 stars make victim/leader the leader of its partition (the sample's best has 20 over two hours, 11 in this one).
    writeFileSync(attack, deepForkScenario(20_000, 'object', '__proto__').join('\n') + '\n');
    const { stdout } = await runCli(['star-leaders', GH_ARCHIVE_HOURS[1], attack]).done;
    const outputs = jsonLines(stdout) as PartitionLeaders[];
    const last = outputs[outputs.length - 1];
    expect(last.leaders[0]).toMatchObject({ repo: 'victim/leader', stars: 21 });
    const fork = last.leaders[0].recent_events.find((raw) => raw.id === 'deep-fork') as { payload: { deep: unknown } };
    expect(depthOf(fork.payload.deep)).toBe(20_000);
    expect(objectPrototypeIsClean()).toBe(true);
  });
});

// ---- log-counts ----

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const token = fc.oneof(fc.constantFrom(...HOSTILE_KEYS, '-', '/__proto__', '/constructor/prototype'), fc.stringMatching(/^[^\s"\\]{1,20}$/));
/** A line in the Common Log Format, with hostile fields where the format allows them. */
const accessLine = fc
  .record({
    host: token,
    user: token,
    day: fc.integer({ min: 6, max: 8 }),
    hour: fc.integer({ min: 0, max: 23 }),
    method: fc.constantFrom('GET', 'POST', 'PROTO', 'CONSTRUCTOR'),
    path: token,
    status: fc.integer({ min: 100, max: 599 }),
    bytes: fc.oneof(fc.constant('-'), fc.nat().map(String)),
  })
  .map((l) => `${l.host} - ${l.user} [${String(l.day).padStart(2, '0')}/${MONTHS[2]}/2004:${String(l.hour).padStart(2, '0')}:05:49 -0800] "${l.method} ${l.path} HTTP/1.1" ${l.status} ${l.bytes}`);
const junkLine = fc.oneof(
  fc.string({ unit: 'binary' }),
  hugeString,
  fc.constantFrom('[', ']', '"', '[07/Mar/2004:16:05:49 -0800]', '- - - [99/Xyz/2004:99:99:99 +9999] "GET / HTTP/1.1" 200 1', '"GET / HTTP/1.1" 200'),
  deepLineArbitrary(),
);
function deepLineArbitrary(): fc.Arbitrary<string> {
  return fc.integer({ min: 1, max: 100_000 }).map((depth) => deepJson(depth, 'array', ''));
}
const logInput: fc.Arbitrary<LogInput[]> = fc
  .array(fc.oneof({ weight: 5, arbitrary: accessLine }, { weight: 2, arbitrary: junkLine }, { weight: 1, arbitrary: fc.constant(END_OF_DAY) }), { maxLength: 60 })
  .map((texts) => texts.map((text, i): LogInput => (text === END_OF_DAY ? END_OF_DAY : { text, source: 'hostile', lineNumber: i + 1 })));

async function runLogCounts(inputs: LogInput[], options: LogCountsOptions): Promise<{ outputs: unknown[]; deadLetters: unknown[] }> {
  const deadLetter = new Subject<unknown>();
  const deadLetters: unknown[] = [];
  deadLetter.subscribe((d) => deadLetters.push(JSON.parse(toJson(d))));
  const texts = await lastValueFrom(from(inputs).pipe(logCounts({ ...options, deadLetter }), map(toJson), toArray()));
  return { outputs: texts.map((t) => JSON.parse(t) as unknown), deadLetters };
}

interface Report {
  counts: Record<string, number>;
  lines: number;
  unparsed: number;
  late?: number;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('log-counts on hostile lines', () => {
  it('counts every line once in boundary mode, whatever the lines hold, and writes valid JSON', async () => {
    await fc.assert(
      fc.asyncProperty(logInput, async (inputs) => {
        const { outputs, deadLetters } = await runLogCounts(inputs, {});
        const lines = inputs.filter((i) => i !== END_OF_DAY).length;
        const reports = outputs as Report[];
        expect(sum(reports.map((r) => r.lines))).toBe(lines);
        for (const r of reports) {
          expect(sum(Object.values(r.counts))).toBe(r.lines - r.unparsed);
          for (const code of Object.keys(r.counts)) expect(code).toMatch(/^\d{3}$/);
        }
        expect(deadLetters).toHaveLength(sum(reports.map((r) => r.unparsed)));
        expect(objectPrototypeIsClean()).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('counts every line under a status code or "null" with --compat wallaroo', async () => {
    await fc.assert(
      fc.asyncProperty(logInput, async (inputs) => {
        const { outputs } = await runLogCounts(inputs, { compat: 'wallaroo' });
        const lines = inputs.filter((i) => i !== END_OF_DAY).length;
        expect(sum((outputs as Record<string, number>[]).flatMap((counts) => Object.values(counts)))).toBe(lines);
      }),
      { numRuns: 60 },
    );
  });

  it('counts no line twice by event time, in the log\'s offset and in a DST zone', async () => {
    await fc.assert(
      fc.asyncProperty(logInput, fc.constantFrom(undefined, 'America/Los_Angeles'), async (inputs, timeZone) => {
        const { outputs } = await runLogCounts(inputs, { eventTime: { timeZone, allowedLatenessMs: 300_000 } });
        const lines = inputs.filter((i) => i !== END_OF_DAY).length;
        const reports = outputs as Report[];
        expect(sum(reports.map((r) => r.lines + (r.late ?? 0)))).toBeLessThanOrEqual(lines);
        for (const r of reports) expect(sum(Object.values(r.counts))).toBe(r.lines - r.unparsed);
      }),
      { numRuns: 60 },
    );
  });
});
