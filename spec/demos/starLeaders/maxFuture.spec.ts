import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runCli, stopCliRuns } from '../../support/cli';
import { GH_ARCHIVE_HOURS as HOURS } from '../../support/data';

const leaderboardRows = (stdout: string) => stdout.split('\n').filter((l) => /^\s+\d+\s/.test(l)).map((r) => r.trim().split(/\s+/).slice(0, 3));

describe('star-leaders --max-future', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-max-future-'));
  });
  afterEach(async () => {
    await stopCliRuns();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects one star dated 9999 for a leading repo: the leaders are those of the sample without it', async () => {
    const plain = await runCli(['star-leaders', '--format', 'table', ...HOURS]).done;
    const rows = leaderboardRows(plain.stdout);
    expect(rows.length).toBeGreaterThan(0);
    const leader = rows[0][1];
    // A real star of the leader from the first hour, moved to the end of year 9999.
    const star = gunzipSync(readFileSync(HOURS[0]))
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { type: string; repo: { name: string }; created_at: string })
      .find((e) => e.type === 'WatchEvent' && e.repo.name === leader)!;
    expect(star).toBeDefined();
    const future = join(dir, 'future.json');
    writeFileSync(future, `${JSON.stringify({ ...star, created_at: '9999-12-31T23:59:59Z' })}\n`);
    const deadLetter = join(dir, 'dead.jsonl');

    const withFuture = await runCli(['star-leaders', '--format', 'table', '--dead-letter', deadLetter, HOURS[0], future, HOURS[1]]).done;
    expect(leaderboardRows(withFuture.stdout)).toEqual(rows);
    expect(withFuture.stderr).toMatch(/1 events lay beyond --max-future and were rejected/);
    const dead = readFileSync(deadLetter, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(dead.filter((d) => d.reason === 'beyond --max-future')).toEqual([expect.objectContaining({ repo: leader, type: 'WatchEvent' })]);
    expect(String(dead.find((d) => d.reason === 'beyond --max-future')!.text)).toContain('9999-12-31T23:59:59Z');

    // Without the bound the same event ages every window to 9999: the leaderboard is that one star.
    const unbounded = await runCli(['star-leaders', '--format', 'table', '--max-future', '10000000d', HOURS[0], future, HOURS[1]]).done;
    expect(leaderboardRows(unbounded.stdout)).not.toEqual(rows);
  });

  it('refuses a --max-future that is not a duration', async () => {
    await expect(runCli(['star-leaders', '--max-future', 'soon', ...HOURS]).done).rejects.toThrow(/--max-future/);
  });
});
