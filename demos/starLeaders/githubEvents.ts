/**
 * GitHub Archive events (one JSON object per line), reduced to what star-leaders reads while the
 * whole parsed object is kept, because leaders carry their recent events as the raw records.
 */
import { jsonMemberFilter, type LineFilter } from '../../index';

export interface GitHubEvent {
  /** `WatchEvent` (a star), `ForkEvent`, `PullRequestEvent`, ... */
  readonly type: string;
  /** `owner/name` */
  readonly repo: string;
  /** `created_at` in epoch milliseconds. */
  readonly createdAtMs: number;
  /** The event as archived. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export type GitHubEventParse =
  | { readonly ok: true; readonly event: GitHubEvent }
  | { readonly ok: false; readonly reason: string };

/** Parses one archive line; never throws. The reason names the first field that is wrong. */
export function parseGitHubEvent(line: string): GitHubEventParse {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  if (!isRecord(raw)) return { ok: false, reason: 'not a JSON object' };
  const { type, repo, created_at: createdAt } = raw;
  if (typeof type !== 'string') return { ok: false, reason: 'no string "type"' };
  if (!isRecord(repo) || typeof repo.name !== 'string') return { ok: false, reason: 'no string "repo.name"' };
  const createdAtMs = typeof createdAt === 'string' ? Date.parse(createdAt) : NaN;
  if (!Number.isFinite(createdAtMs)) return { ok: false, reason: `"created_at" is not a timestamp: ${String(createdAt)}` };
  return { ok: true, event: { type, repo: repo.name, createdAtMs, raw } };
}

/**
 * Keeps the archive lines of the given event types, judged from the raw line by its top-level
 * `"type"`, so the events a pipeline drops (80 to 85% of GH Archive for star-leaders) are never
 * decoded or parsed. Lines it cannot judge at a glance are kept for {@link parseGitHubEvent}, so no
 * event of those types is lost; a dropped line is not checked further (a PushEvent line that is
 * truncated later on is dropped, not reported as unreadable).
 */
export function githubEventTypeFilter(types: ReadonlySet<string>): LineFilter {
  return jsonMemberFilter('type', types);
}

/**
 * One line of text for a Fork or PullRequest event as the dashboard shows it:
 * "Forked by <login>" or "Pull request #<n>: <title>". Plain text: callers must escape it
 * (or insert it as text) before it reaches HTML.
 */
export function describeGitHubEvent(raw: Readonly<Record<string, unknown>>): string {
  const actor = isRecord(raw.actor) ? raw.actor : {};
  const login = stringOr(actor.display_login, stringOr(actor.login, 'someone'));
  const payload = isRecord(raw.payload) ? raw.payload : {};
  if (raw.type === 'ForkEvent') return `Forked by ${login}`;
  if (raw.type === 'PullRequestEvent') {
    const pr = isRecord(payload.pull_request) ? payload.pull_request : {};
    const number = typeof payload.number === 'number' ? payload.number : pr.number;
    return `Pull request #${String(number ?? '?')}: ${stringOr(pr.title, '(untitled)')}`;
  }
  return `${String(raw.type)} by ${login}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}
