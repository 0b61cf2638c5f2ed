import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRecovery, killChildren, spawnRivulet } from '../../support/childCli';
import { GH_ARCHIVE_HOURS } from '../../support/data';

// The real CLI in child processes, killed with SIGKILL at points a fast-check schedule picks.
// After each kill the same command is run again; once a run completes, the output file must be
// byte-identical to that of a run that was never interrupted.

const ARGS = ['star-leaders', ...GH_ARCHIVE_HOURS];

/** Resolves when `dir` holds a checkpoint file, or when the run has exited anyway. */
async function firstCheckpoint(dir: string, exited: Promise<unknown>): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  while (!done && !(existsSync(dir) && readdirSync(dir).some((n) => n.endsWith('.ckpt')))) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('star-leaders --checkpoint survives kill -9', () => {
  let dir: string;
  let expected: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-kill-'));
    const reference = join(dir, 'reference.jsonl');
    const run = spawnRivulet([...ARGS, '--output', reference]);
    expect((await run.exited).code).toBe(0);
    expected = readFileSync(reference);
    expect(expected.length).toBeGreaterThan(0);
  });
  afterEach(() => killChildren());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resumes to the same bytes after kills at random moments', () =>
    checkRecovery({ args: ARGS, dir, expected, every: 150, killMs: { min: 150, max: 1200 }, numRuns: 4, seed: 20261201 }), 120_000);

  it('stops on SIGTERM with a final checkpoint, exits 143, and a rerun completes the same bytes', async () => {
    const at = join(dir, 'sigterm');
    const args = [...ARGS, '--checkpoint', join(at, 'ckpt'), '--output', join(at, 'out.jsonl'), '--checkpoint-every', '100'];
    const run = spawnRivulet(args);
    // Signal once the first checkpoint is on disk: the run is then surely under way.
    await firstCheckpoint(join(at, 'ckpt'), run.exited);
    run.child.kill('SIGTERM');
    const first = await run.exited;
    const rerun = await spawnRivulet(args).exited;
    expect(rerun.code).toBe(0);
    if (first.code === 143) expect(first.stderr).toMatch(/stopped at checkpoint \d+ \(\d+ values\); run the same command again to continue/);
    else expect(first.code).toBe(0); // finished before the signal came
    expect(readFileSync(join(at, 'out.jsonl')).equals(expected)).toBe(true);
  }, 60_000);

  it('falls back to the previous checkpoint when the latest is corrupt, and refuses another job', async () => {
    const at = join(dir, 'corrupt');
    const args = [...ARGS, '--checkpoint', join(at, 'ckpt'), '--output', join(at, 'out.jsonl'), '--checkpoint-every', '300'];
    expect((await spawnRivulet(args).exited).code).toBe(0);
    // Make the run look unfinished with a damaged newest checkpoint.
    rmSync(join(at, 'ckpt', 'completed.json'));
    const names = readdirSync(join(at, 'ckpt')).filter((n) => n.endsWith('.ckpt')).sort();
    const newest = join(at, 'ckpt', names[names.length - 1]);
    writeFileSync(newest, readFileSync(newest).subarray(0, 100));
    const resumed = await spawnRivulet(args).exited;
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/warning: .*corrupt checkpoint: .*; using the one before/);
    expect(readFileSync(join(at, 'out.jsonl')).equals(expected)).toBe(true);

    const other = await spawnRivulet([...ARGS, '--top', '5', '--checkpoint', join(at, 'ckpt'), '--output', join(at, 'out.jsonl')]).exited;
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^rivulet: .*the completed run was made by another job/m);
  }, 60_000);
});
