import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRecovery, killChildren, spawnRivulet } from '../../support/childCli';
import { WALLAROO_DAYS } from '../../support/data';

// log-counts over six days of real logs, in event-time day windows and with END_OF_DAY
// markers: killed with SIGKILL at moments a fast-check schedule picks, then run again; the output
// file must be byte-identical to that of an uninterrupted run.

describe.each([
  ['--window day', ['--window', 'day', '--tz', 'America/Los_Angeles']],
  ['boundary markers', []],
])('log-counts %s --checkpoint survives kill -9', (_mode, modeArgs) => {
  const args = ['log-counts', ...WALLAROO_DAYS, ...modeArgs];
  let dir: string;
  let expected: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-kill-logs-'));
    const reference = join(dir, 'reference.jsonl');
    expect((await spawnRivulet([...args, '--output', reference]).exited).code).toBe(0);
    expected = readFileSync(reference);
    expect(expected.toString().trim().split('\n').length).toBeGreaterThanOrEqual(6);
  });
  afterEach(() => killChildren());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resumes to the same bytes after kills at random moments', () =>
    checkRecovery({ args, dir, expected, every: 40, killMs: { min: 120, max: 700 }, numRuns: 3, seed: 20261202 }), 120_000);
});
