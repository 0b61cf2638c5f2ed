import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { from } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { pace } from 'rivulet';
import { parseGitHubEvent, type GitHubEvent } from 'rivulet/demos';
import { runCli, stopCliRuns } from '../../support/cli';
import { PINOT_EVENTS_SAMPLE as PINOT } from '../../support/data';
import { listenTcp } from '../../support/net';

// A sample of real events over three hours, with two that are older than the one before them.
const lines = readFileSync(PINOT, 'utf8').split('\n').filter((l) => l !== '');
const events = lines.map((l) => {
  const r = parseGitHubEvent(l);
  if (!r.ok) throw new Error(r.reason);
  return r.event;
});

describe('the archive streamer', () => {
  afterEach(stopCliRuns);

  it('paces real events at 24 times event-time speed on a virtual scheduler: scaled sleeps, no bursts', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    const emitted: Array<[number, GitHubEvent]> = [];
    scheduler.run(() => {
      from(events)
        .pipe(pace({ timestampOf: (e) => e.createdAtMs, speed: 24, scheduler, maxQueued: Infinity }))
        .subscribe((e) => emitted.push([scheduler.now(), e]));
    });
    expect(lines).toHaveLength(26);
    expect(emitted).toHaveLength(26);
    const t0 = events[0].createdAtMs;
    let previousEmit = 0;
    let previousMax = t0;
    for (const [at, e] of emitted) {
      // An event is due (t - t0) / 24 after the start; one older than an earlier event goes at once.
      const due = Math.max(previousEmit, (Math.max(e.createdAtMs, previousMax) - t0) / 24);
      expect(at).toBeCloseTo(due, 6);
      previousEmit = at;
      previousMax = Math.max(previousMax, e.createdAtMs);
    }
    // Three hours and four seconds of event time take 7.5 minutes and a sixth of a second.
    expect(emitted[emitted.length - 1][0]).toBeCloseTo((3 * 3_600_000 + 4000) / 24, 6);
  });

  it('sends every event, in order, as newline-delimited JSON to a TCP listener', async () => {
    const received: string[] = [];
    let buffered = '';
    const listener = await listenTcp((socket: Socket) => {
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        received.push(...parts);
      });
    });
    try {
      // 3 hours of events at 100,000 times speed: about a tenth of a second.
      await runCli(['stream-archive', `127.0.0.1:${listener.port}`, PINOT, '--speed', '100000']).done;
      await listener.closed();
    } finally {
      listener.destroy();
    }
    expect(received).toEqual(lines);
  });
});
