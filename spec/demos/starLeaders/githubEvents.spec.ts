import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describeGitHubEvent, parseGitHubEvent } from 'rivulet/demos';
import { GH_ARCHIVE_HOURS } from '../../support/data';

const HOUR_0 = GH_ARCHIVE_HOURS[0];

describe('parseGitHubEvent', () => {
  it('parses every event of a real archive hour, with the type counts its SOURCE.md lists', () => {
    const lines = gunzipSync(readFileSync(HOUR_0)).toString('utf8').split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(7702);
    const types = new Map<string, number>();
    for (const line of lines) {
      const result = parseGitHubEvent(line);
      if (!result.ok) throw new Error(result.reason);
      types.set(result.event.type, (types.get(result.event.type) ?? 0) + 1);
      expect(result.event.createdAtMs).toBeGreaterThanOrEqual(Date.parse('2015-01-01T00:00:00Z'));
      expect(result.event.createdAtMs).toBeLessThan(Date.parse('2015-01-01T01:00:00Z'));
    }
    expect([types.get('WatchEvent'), types.get('ForkEvent'), types.get('PullRequestEvent')]).toEqual([642, 213, 315]);
  });

  it('keeps the raw object and reads repo and time', () => {
    const line = '{"type":"WatchEvent","repo":{"name":"a/b"},"created_at":"2015-01-01T00:00:01Z","x":1}';
    const result = parseGitHubEvent(line);
    expect(result).toEqual({
      ok: true,
      event: { type: 'WatchEvent', repo: 'a/b', createdAtMs: Date.parse('2015-01-01T00:00:01Z'), raw: JSON.parse(line) },
    });
  });

  it.each([
    ['{"type":', 'not JSON'],
    ['[1,2]', 'not a JSON object'],
    ['{"repo":{"name":"a/b"},"created_at":"2015-01-01T00:00:01Z"}', '"type"'],
    ['{"type":"WatchEvent","repo":"a/b","created_at":"2015-01-01T00:00:01Z"}', '"repo.name"'],
    ['{"type":"WatchEvent","repo":{"name":"a/b"},"created_at":"yesterday"}', '"created_at"'],
  ])('rejects %s with a reason naming the field', (line, reason) => {
    const result = parseGitHubEvent(line);
    expect(!result.ok && result.reason).toContain(reason);
  });
});

describe('describeGitHubEvent', () => {
  it('describes forks and pull requests as the dashboard shows them', () => {
    expect(describeGitHubEvent({ type: 'ForkEvent', actor: { login: 'bruschill' } })).toBe('Forked by bruschill');
    expect(describeGitHubEvent({ type: 'ForkEvent', actor: { login: 'a', display_login: 'A' } })).toBe('Forked by A');
    expect(
      describeGitHubEvent({
        type: 'PullRequestEvent',
        actor: { login: 'kimsk' },
        payload: { number: 617, pull_request: { title: '<img src=x onerror=alert(1)>' } },
      }),
    ).toBe('Pull request #617: <img src=x onerror=alert(1)>');
  });
});
