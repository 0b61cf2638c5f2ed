import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLines, runCli, stopCliRuns } from '../../support/cli';
import { WALLAROO_DAYS } from '../../support/data';

describe('log-counts --window day --max-future', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-max-future-'));
  });
  afterEach(async () => {
    await stopCliRuns();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects one line dated 9999 and counts every other line as before', async () => {
    const lines = readFileSync(WALLAROO_DAYS[0], 'utf8').split('\n').filter((l) => l !== '');
    const plainFile = join(dir, 'plain.log');
    writeFileSync(plainFile, `${lines.join('\n')}\n`);
    // A copy of a real line from the middle of the day, its date moved to the end of year 9999.
    const middle = Math.floor(lines.length / 2);
    const future = lines[middle].replace(/\[[^\]]+\]/, '[31/Dec/9999:23:59:59 -0800]');
    expect(future).not.toBe(lines[middle]);
    const withFuture = join(dir, 'future.log');
    writeFileSync(withFuture, `${[...lines.slice(0, middle), future, ...lines.slice(middle)].join('\n')}\n`);
    const deadLetter = join(dir, 'dead.jsonl');

    const plain = await runCli(['log-counts', '--window', 'day', plainFile]).done;
    const bounded = await runCli(['log-counts', '--window', 'day', '--dead-letter', deadLetter, withFuture]).done;
    expect(jsonLines(plain.stdout).length).toBeGreaterThan(0);
    expect(jsonLines(bounded.stdout)).toEqual(jsonLines(plain.stdout));
    expect(bounded.stderr).toMatch(/1 lines lay beyond --max-future and were rejected/);
    const dead = jsonLines(readFileSync(deadLetter, 'utf8'));
    expect(dead).toEqual([{ source: withFuture, line: middle + 1, reason: 'beyond --max-future', text: future }]);

    // Without the bound (a bound past 9999) the line ages the day to 9999: the rest of the day is late.
    const unbounded = await runCli(['log-counts', '--window', 'day', '--max-future', '10000000d', withFuture]).done;
    expect(jsonLines(unbounded.stdout)).not.toEqual(jsonLines(plain.stdout));
  });
});
