import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { PINOT_EVENTS_SAMPLE as PINOT } from '../../support/data';
import { listenTcp } from '../../support/net';
import { runOnTerminal } from '../../support/terminal';

// 26 real events over three hours, two of them older than the one before.
const times = readFileSync(PINOT, 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => Date.parse((JSON.parse(l) as { created_at: string }).created_at));
const first = times[0];
const last = Math.max(...times);
const runningMax: number[] = [];
for (const t of times) runningMax.push(Math.max(t, runningMax[runningMax.length - 1] ?? -Infinity));

const FRAME = /^stream-archive [█░]{30} (\d+)% \| (\d+) events sent \| event time (\S+) \| ETA (\S+(?: \S+s)?)$/;

describe('stream-archive on a terminal', () => {
  it('shows events sent and the event time reached, its share of the replay and the ETA, never the bytes read ahead', async () => {
    const listener = await listenTcp((socket: Socket) => socket.resume());
    const speed = 5400; // three hours in two seconds
    try {
      const run = runOnTerminal(['stream-archive', `127.0.0.1:${listener.port}`, PINOT, '--speed', String(speed), '--keepalive', '0s']);
      await run.done;
      const frames = run.frames('stream-archive ');
      expect(frames.length).toBeGreaterThan(3);
      const parsed = frames.map((frame) => {
        const m = FRAME.exec(frame);
        if (m === null) throw new Error(`not a progress line: ${JSON.stringify(frame)}`);
        return { percent: Number(m[1]), sent: Number(m[2]), time: m[3], eta: m[4] };
      });
      const midway = parsed.filter((p) => p.sent > 0 && p.percent > 0 && p.percent < 100);
      expect(midway.length).toBeGreaterThan(0);
      for (const p of parsed.filter((f) => f.sent > 0)) {
        const reached = Date.parse(p.time);
        // The events sent are a prefix of the file whose event times have reached `time`.
        expect(p.sent).toBeGreaterThanOrEqual(runningMax.filter((m) => m < reached).length);
        expect(p.sent).toBeLessThanOrEqual(runningMax.filter((m) => m <= reached).length);
        // The file (a few KiB) is read at once, so the end is known: the share is of event time.
        expect(p.percent).toBe(Math.floor(((reached - first) / (last - first)) * 100));
        const etaSeconds = Math.ceil((last - reached) / speed / 1000);
        expect(p.eta).toBe(`${etaSeconds}s`);
      }
      expect(parsed[parsed.length - 1]).toEqual({ percent: 100, sent: 26, time: new Date(last).toISOString().replace('.000Z', 'Z'), eta: '0s' });
    } finally {
      listener.destroy();
    }
  });
});
