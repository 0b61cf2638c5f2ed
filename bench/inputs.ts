/**
 * Benchmark inputs: the real data sets repeated with shifted timestamps, in memory and as files
 * in a cache folder (regenerated when missing, never committed).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { packageRoot } from '../demos/packageRoot';
import { END_OF_DAY, LogInput, LogLine } from '../demos/logCounts/logCounts';
import type { GitHubEvent } from '../demos/starLeaders/githubEvents';

export const DATA_DIR = join(packageRoot(), '..', 'shared', 'data');
/** Bump when the generated files change shape, so stale caches are rebuilt. */
const CACHE_VERSION = 'v1';
export const CACHE_DIR = join(tmpdir(), 'rivulet-bench', CACHE_VERSION);

export const LOG_DAYS = 36;
/** Each simulated day holds the whole pool of real lines this many times. */
const LOG_POOL_REPEATS = 3;
export const GITHUB_DAYS = 31;
const EVENTS_PER_HOUR = 1_400;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Simulated time starts here (a Monday), for logs and events alike. */
const START_MS = Date.UTC(2024, 0, 1);
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// ---------------------------------------------------------------------------------------------
// Access logs

/** Every real access-log line: elastic (4 days), antlr (1 day), and the six Wallaroo days. */
function logPool(): string[] {
  const files = [
    join(DATA_DIR, 'access-logs-elastic', 'apache_logs'),
    join(DATA_DIR, 'access-logs-antlr', 'access.log'),
    ...[1, 2, 3, 4, 5, 6].map((d) => join(DATA_DIR, 'wallaroo-logfiles', `day_${d}.log`)),
  ];
  const lines: string[] = [];
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) if (line !== '') lines.push(line);
  }
  return lines;
}

const LOG_DATE = /\[\d{2}\/[A-Z][a-z]{2}\/\d{4}:/;

/** The pool with every line's date replaced by simulated day `day` (time of day and zone kept). */
function logDay(pool: readonly string[], day: number): string[] {
  const date = new Date(START_MS + day * DAY_MS);
  const stamp = `[${String(date.getUTCDate()).padStart(2, '0')}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:`;
  const once = pool.map((line) => line.replace(LOG_DATE, stamp));
  const lines: string[] = [];
  for (let r = 0; r < LOG_POOL_REPEATS; r++) for (const line of once) lines.push(line);
  return lines;
}

export interface LogInputs {
  /** Lines of every day, an END_OF_DAY after each day, as the CLI reads files. */
  memory: LogInput[];
  /** One file per day. */
  files: string[];
  lines: number;
  days: number;
}

export function logInputs(): LogInputs {
  const dir = join(CACHE_DIR, 'logs');
  const files = Array.from({ length: LOG_DAYS }, (_, d) => join(dir, `day_${String(d + 1).padStart(3, '0')}.log`));
  const pool = logPool();
  const memory: LogInput[] = [];
  const write = !files.every((f) => existsSync(f));
  if (write) prepareDir(dir);
  for (let d = 0; d < LOG_DAYS; d++) {
    const lines = logDay(pool, d);
    const source = files[d];
    for (let i = 0; i < lines.length; i++) memory.push({ text: lines[i], source, lineNumber: i + 1 } satisfies LogLine);
    memory.push(END_OF_DAY);
    if (write) writeAtomically(source, lines.join('\n') + '\n');
  }
  return { memory, files, lines: memory.length - LOG_DAYS, days: LOG_DAYS };
}

/**
 * Every day of {@link logInputs} in one file, so boundary mode has to close its windows on the
 * changes of day (the input of `rivulet log-counts big.log`, which adds one END_OF_DAY at the end).
 */
export function logOneFile(inputs: LogInputs): { file: string; lines: number; days: number } {
  const file = join(CACHE_DIR, 'logs-one', 'all-days.log');
  if (!existsSync(file)) {
    prepareDir(dirname(file));
    const parts: string[] = [];
    for (const input of inputs.memory) if (input !== END_OF_DAY) parts.push(input.text);
    writeAtomically(file, parts.join('\n') + '\n');
  }
  return { file, lines: inputs.lines, days: inputs.days };
}

// ---------------------------------------------------------------------------------------------
// GitHub events

interface PoolEvent {
  type: string;
  repo: string;
  /** Position of the event inside its hour, ms. */
  offsetMs: number;
  /** The archived event, trimmed to what the application reads (see slim). */
  raw: Record<string, unknown>;
}

/** Every event of the three 2015 hours and the 2021 sample, parsed once. */
function eventPool(): PoolEvent[] {
  const texts = [
    ...['0', '1', '12'].map((h) => gunzipSync(readFileSync(join(DATA_DIR, 'gharchive-2015-01-01', `2015-01-01-${h}.json.gz`))).toString('utf8')),
    readFileSync(join(DATA_DIR, 'gharchive-2021-07-21-pinot', '2021-07-21-few-hours.json'), 'utf8'),
  ];
  const pool: PoolEvent[] = [];
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const e = JSON.parse(line) as Record<string, any>;
      const at = Date.parse(e.created_at);
      pool.push({ type: e.type, repo: e.repo.name, offsetMs: at % HOUR_MS, raw: slim(e) });
    }
  }
  return pool;
}

/**
 * Keeps the fields star-leaders and its dashboard read (type, actor, repo, time, the fork's or
 * pull request's page and title), so the event files stay near 200 bytes a line: full payloads
 * would make the file benchmarks measure JSON.parse of commit lists, not the pipeline.
 */
function slim(e: Record<string, any>): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  if (e.type === 'ForkEvent') payload.forkee = { html_url: e.payload?.forkee?.html_url };
  if (e.type === 'PullRequestEvent') {
    payload.number = e.payload?.number;
    payload.pull_request = { title: e.payload?.pull_request?.title, html_url: e.payload?.pull_request?.html_url };
  }
  return { id: e.id, type: e.type, actor: { login: e.actor?.login }, repo: { name: e.repo.name }, payload, created_at: e.created_at };
}

export interface EventInputs {
  memory: GitHubEvent[];
  /** One newline-delimited JSON file per day (only written when asked). */
  files: string[];
  events: number;
  /** Distinct repository names in the whole input. */
  repos: number;
}

/** A cheap, well-mixed integer hash, so that which copy of a repo an event goes to looks random. */
function mix(i: number): number {
  let h = Math.imul(i ^ (i >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

let cachedPool: PoolEvent[] | undefined;

/**
 * `GITHUB_DAYS` days of events, `EVENTS_PER_HOUR` an hour, cycling through the pool; each hour's
 * events keep their position inside the hour and are sorted by it. With `repoCopies` n > 1 every
 * repo name becomes n names (`owner/name~k`, k picked per event), so the key space grows n times
 * while the number of events and stars stays the same.
 */
export function eventInputs(repoCopies: number, withFiles: boolean): EventInputs {
  const pool = (cachedPool ??= eventPool());
  const dir = join(CACHE_DIR, `events-x${repoCopies}`);
  const files = Array.from({ length: GITHUB_DAYS }, (_, d) => join(dir, `day_${String(d + 1).padStart(3, '0')}.json`));
  const write = withFiles && !files.every((f) => existsSync(f));
  if (write) prepareDir(dir);
  const names = new Map<string, string>();
  const nameOf = (repo: string, copy: number): string => {
    if (repoCopies === 1) return repo;
    const key = `${repo}~${copy}`;
    let name = names.get(key);
    // A template literal is a pair of strings joined by reference (a V8 cons string), which every
    // later hash and comparison walks through; a name from a parsed archive line is one flat string.
    if (name === undefined) names.set(key, (name = JSON.parse(JSON.stringify(key)) as string));
    return name;
  };
  const memory: GitHubEvent[] = [];
  const repos = new Set<string>();
  let next = 0;
  for (let day = 0; day < GITHUB_DAYS; day++) {
    const lines: string[] = [];
    for (let h = 0; h < 24; h++) {
      const hourStart = START_MS + day * DAY_MS + h * HOUR_MS;
      const hour: PoolEvent[] = [];
      for (let i = 0; i < EVENTS_PER_HOUR; i++) hour.push(pool[next++ % pool.length]);
      hour.sort((a, b) => a.offsetMs - b.offsetMs);
      for (const p of hour) {
        const repo = nameOf(p.repo, mix(memory.length) % repoCopies);
        const createdAtMs = hourStart + p.offsetMs;
        repos.add(repo);
        memory.push({ type: p.type, repo, createdAtMs, raw: p.raw });
        if (write) {
          const created_at = new Date(createdAtMs).toISOString().replace('.000Z', 'Z');
          lines.push(JSON.stringify({ ...p.raw, repo: { name: repo }, created_at }));
        }
      }
    }
    if (write) writeAtomically(files[day], lines.join('\n') + '\n');
  }
  return { memory, files: withFiles ? files : [], events: memory.length, repos: repos.size };
}

function prepareDir(dir: string): void {
  if (existsSync(dir)) for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
  mkdirSync(dir, { recursive: true });
}

/** Written under a temporary name and renamed, so an interrupted run never leaves half a file. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

// ---------------------------------------------------------------------------------------------
// Whole GitHub Archive lines

/** Hours of whole archive events: 1,400 an hour over 108 hours is about 151,000 events, 350 MB. */
const ARCHIVE_HOURS = 108;

export interface ArchiveInputs {
  /** One file per simulated day of whole archive lines, as GH Archive publishes them (uncompressed). */
  files: string[];
  events: number;
  bytes: number;
}

const CREATED_AT = '"created_at":"';

/**
 * The archive lines of the pool exactly as archived (payloads, escapes and member order kept), with
 * the top-level `created_at` moved to simulated time: the input a user's loop and rivulet's
 * selective parsing both see in a real replay, where 80 to 85% of the events are of types
 * star-leaders drops and most of the bytes are payloads it never reads.
 */
export function archiveInputs(): ArchiveInputs {
  const dir = join(CACHE_DIR, 'archive');
  const days = Math.ceil(ARCHIVE_HOURS / 24);
  const files = Array.from({ length: days }, (_, d) => join(dir, `day_${String(d + 1).padStart(3, '0')}.json`));
  const events = ARCHIVE_HOURS * EVENTS_PER_HOUR;
  if (!files.every((f) => existsSync(f))) {
    prepareDir(dir);
    const pool = archivePool();
    let next = 0;
    for (let day = 0; day < days; day++) {
      const lines: string[] = [];
      for (let h = day * 24; h < Math.min(ARCHIVE_HOURS, (day + 1) * 24); h++) {
        const hour: { line: string; offsetMs: number }[] = [];
        for (let i = 0; i < EVENTS_PER_HOUR; i++) hour.push(pool[next++ % pool.length]);
        hour.sort((a, b) => a.offsetMs - b.offsetMs);
        for (const e of hour) lines.push(withCreatedAt(e.line, START_MS + h * HOUR_MS + e.offsetMs));
      }
      writeAtomically(files[day], lines.join('\n') + '\n');
    }
  }
  let bytes = 0;
  for (const f of files) bytes += statSync(f).size;
  return { files, events, bytes };
}

function archivePool(): { line: string; offsetMs: number }[] {
  const texts = [
    ...['0', '1', '12'].map((h) => gunzipSync(readFileSync(join(DATA_DIR, 'gharchive-2015-01-01', `2015-01-01-${h}.json.gz`))).toString('utf8')),
    readFileSync(join(DATA_DIR, 'gharchive-2021-07-21-pinot', '2021-07-21-few-hours.json'), 'utf8'),
  ];
  const pool: { line: string; offsetMs: number }[] = [];
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const at = Date.parse((JSON.parse(line) as { created_at: string }).created_at);
      pool.push({ line, offsetMs: at % HOUR_MS });
    }
  }
  return pool;
}

/** The line with its top-level created_at replaced in place; checked by parsing it back. */
function withCreatedAt(line: string, ms: number): string {
  const stamp = new Date(ms).toISOString().replace('.000Z', 'Z');
  const at = line.lastIndexOf(CREATED_AT);
  const from = at + CREATED_AT.length;
  const replaced = at < 0 ? line : line.slice(0, from) + stamp + line.slice(line.indexOf('"', from));
  const parsed = JSON.parse(replaced) as Record<string, unknown>;
  if (parsed.created_at === stamp && replaced.length === line.length) return replaced;
  return JSON.stringify({ ...(JSON.parse(line) as Record<string, unknown>), created_at: stamp });
}
