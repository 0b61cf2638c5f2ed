import { readFileSync } from 'node:fs';
import { WALLAROO_DAYS as DAYS } from '../../support/data';
import { runOnTerminal } from '../../support/terminal';

const FRAME = /^log-counts [█░]{30} (\d+)% \| (\S*) \| ([\d,]+) lines \| (\d+) days? \| ETA (\S+(?: \S+s)?)$/;

describe('log-counts on a terminal', () => {
  it('shows the share of the files counted, the file, the lines and the days so far', async () => {
    const run = runOnTerminal(['log-counts', ...DAYS]);
    await run.done;
    const frames = run.frames('log-counts ').map((frame) => {
      const m = FRAME.exec(frame);
      if (m === null) throw new Error(`not a progress line: ${JSON.stringify(frame)}`);
      return { percent: Number(m[1]), file: m[2], lines: Number(m[3].replace(/,/g, '')), days: Number(m[4]), eta: m[5] };
    });
    expect(frames.length).toBeGreaterThan(0);
    const lines = DAYS.map((file) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length);
    expect(frames[frames.length - 1]).toEqual({ percent: 100, file: 'day_6.log', lines: lines.reduce((a, b) => a + b, 0), days: 6, eta: '0s' });
    // Every frame in between says no more than was there: lines and days only grow.
    for (let i = 1; i < frames.length; i++) {
      expect(frames[i].lines).toBeGreaterThanOrEqual(frames[i - 1].lines);
      expect(frames[i].days).toBeGreaterThanOrEqual(frames[i - 1].days);
      expect(frames[i].percent).toBeGreaterThanOrEqual(frames[i - 1].percent);
    }
    // The reports are on stdout as without a terminal.
    expect(run.stdout().split('\n').filter((l) => l !== '')).toHaveLength(6);
  });
});
