import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlowGate } from 'rivulet';
import { jsonLines, runCli, stopCliRuns } from '../../support/cli';
import { ELASTIC_LOG_SAMPLE as ELASTIC, WALLAROO_DAYS as DAYS } from '../../support/data';
import { listenTcp, type TestTcpServer } from '../../support/net';

// What Wallaroo's application emitted for day_1..day_6 (DESIGN.md section 5.1).
const ORIGINAL_OUTPUT = [
  { '200': 143, '404': 1, null: 4, '401': 48 },
  { '200': 477, '404': 2, '304': 12, null: 1, '401': 67 },
  { '200': 201, '302': 3, '304': 22, null: 5, '401': 2 },
  { '200': 197, '302': 2, '304': 79, null: 8 },
  { '200': 167, '302': 1, '304': 20, '404': 2, '401': 6, null: 3 },
  { '200': 69, '304': 4 },
];

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-log-counts-'));
  tempDirs.push(dir);
  return dir;
}

afterEach(async () => {
  await stopCliRuns();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Status counts per line-local day, by a plain scan written for this test. */
function naiveCounts(text: string): Map<string, { counts: Record<string, number>; lines: number }> {
  const days = new Map<string, { counts: Record<string, number>; lines: number }>();
  const months = 'JanFebMarAprMayJunJulAugSepOctNovDec';
  let lastDay = '';
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    const m = /\[(\d\d)\/(\w\w\w)\/(\d{4}):[^\]]*\] "[^"]*" (\d{3}) (\d+|-)( "[^"]*" "[^"]*")?$/.exec(line);
    const day = m ? `${m[3]}-${String(months.indexOf(m[2]) / 3 + 1).padStart(2, '0')}-${m[1]}` : lastDay;
    lastDay = day;
    const entry = days.get(day) ?? { counts: {}, lines: 0 };
    entry.lines += 1;
    if (m) entry.counts[m[4]] = (entry.counts[m[4]] ?? 0) + 1;
    days.set(day, entry);
  }
  return days;
}

describe('rivulet log-counts FILE...', () => {
  it('--compat wallaroo reproduces the original output on the six day files', async () => {
    const { stdout } = await runCli(['log-counts', '--compat', 'wallaroo', ...DAYS]).done;
    expect(jsonLines(stdout)).toEqual(ORIGINAL_OUTPUT);
  });

  it('reports day, counts over every method, lines and unparsed for each file', async () => {
    const { stdout } = await runCli(['log-counts', ...DAYS]).done;
    const expected = DAYS.map((file) => {
      const [[day, { counts, lines }]] = [...naiveCounts(readFileSync(file, 'utf8'))];
      return { day, counts, lines, unparsed: 0, closedBy: 'marker' };
    });
    expect(jsonLines(stdout)).toEqual(expected);
  });

  it('runs on the bundled sample when no file is given', async () => {
    const { stdout } = await runCli(['log-counts', '--compat', 'wallaroo']).done;
    expect(jsonLines(stdout)).toEqual(ORIGINAL_OUTPUT);
  });

  it('closes the window on a day change without a marker, and emits an empty window for an empty file', async () => {
    const dir = tempDir();
    const twoDays = join(dir, 'two-days.log');
    writeFileSync(twoDays, readFileSync(DAYS[0], 'utf8') + readFileSync(DAYS[1], 'utf8'));
    const empty = join(dir, 'empty.log');
    writeFileSync(empty, '');
    const { stdout } = await runCli(['log-counts', twoDays, empty]).done;
    const reports = jsonLines(stdout) as Array<{ day: string | null; lines: number; closedBy: string; counts: object }>;
    expect(reports.map((r) => [r.day, r.lines, r.closedBy])).toEqual([
      ['2004-03-07', 196, 'day-change'],
      ['2004-03-08', 559, 'marker'],
      [null, 0, 'marker'],
    ]);
    expect(reports[2].counts).toEqual({});
    const compat = await runCli(['log-counts', '--compat', 'wallaroo', twoDays, empty]).done;
    expect(jsonLines(compat.stdout)).toEqual([ORIGINAL_OUTPUT[0], ORIGINAL_OUTPUT[1], {}]);
  });

  it('counts malformed and truncated lines as unparsed, dead-letters them, and reads CRLF files', async () => {
    const dir = tempDir();
    const file = join(dir, 'mixed.log');
    const good = readFileSync(DAYS[5], 'utf8').split('\r\n').slice(0, 3); // CRLF lines from day_6
    writeFileSync(
      file,
      [good[0], 'not a log line', good[1], good[2].slice(0, 40), '__proto__ - - [x] "GET / HTTP/1.1" 200 1'].join('\r\n') + '\r\n',
    );
    const deadLetter = join(dir, 'dead.jsonl');
    const { stdout } = await runCli(['log-counts', '--dead-letter', deadLetter, file]).done;
    expect(jsonLines(stdout)).toEqual([{ day: '2004-03-12', counts: { '200': 2 }, lines: 5, unparsed: 3, closedBy: 'marker' }]);
    const dead = jsonLines(readFileSync(deadLetter, 'utf8')) as Array<{ source: string; line: number; reason: string; text: string }>;
    expect(dead.map((d) => [d.source, d.line, d.text])).toEqual([
      [file, 2, 'not a log line'],
      [file, 4, good[2].slice(0, 40)],
      [file, 5, '__proto__ - - [x] "GET / HTTP/1.1" 200 1'],
    ]);
    expect(dead[2].reason).toContain('timestamp');
  });
});

describe('rivulet log-counts --window day', () => {
  it('counts a sample of the elastic log per UTC day by event time, matching a naive recount', async () => {
    const { stdout } = await runCli(['log-counts', '--window', 'day', ELASTIC]).done;
    const naive = naiveCounts(readFileSync(ELASTIC, 'utf8'));
    const expected = [...naive].map(([day, { counts, lines }]) => ({
      day,
      counts,
      lines,
      unparsed: day === '2015-05-20' ? 1 : 0, // the sample's line 224 (the origin's 8,899) is truncated
      late: 0,
    }));
    // The sample's lines per day, as spec/fixtures/SOURCE.md lists them.
    expect(expected.map((e) => e.lines)).toEqual([41, 73, 72, 65]);
    expect(jsonLines(stdout)).toEqual(expected);
  });

  it('makes a 23-hour DST day in America/Los_Angeles one window, and counts lines beyond the lateness as late', async () => {
    const line = (time: string) => `h - - [${time}] "GET / HTTP/1.1" 200 1`;
    const lines = [
      line('09/Mar/2024:23:59:00 -0800'),
      line('10/Mar/2024:00:00:00 -0800'), // the DST day starts
      line('10/Mar/2024:01:59:59 -0800'),
      line('10/Mar/2024:03:00:00 -0700'), // one second later in real time
      line('10/Mar/2024:23:59:59 -0700'), // the DST day's last second, 23 h after its start
      line('11/Mar/2024:00:04:00 -0700'),
      line('10/Mar/2024:23:59:30 -0700'), // 4.5 minutes out of order: within 5m, still the 10th
      line('11/Mar/2024:00:20:00 -0700'),
      line('10/Mar/2024:23:58:00 -0700'), // 22 minutes behind: late
    ];
    const dir = tempDir();
    const file = join(dir, 'dst.log');
    writeFileSync(file, lines.join('\n') + '\n');
    const { stdout } = await runCli(['log-counts', '--window', 'day', '--tz', 'America/Los_Angeles', file]).done;
    expect(jsonLines(stdout)).toEqual([
      { day: '2024-03-09', counts: { '200': 1 }, lines: 1, unparsed: 0, late: 0 },
      { day: '2024-03-10', counts: { '200': 5 }, lines: 5, unparsed: 0, late: 0 },
      { day: '2024-03-11', counts: { '200': 2 }, lines: 2, unparsed: 0, late: 1 },
    ]);
  });

  it('rejects a bad duration and a bad time zone with the reason', async () => {
    await expect(runCli(['log-counts', '--window', 'day', '--allowed-lateness', '5', DAYS[0]]).done).rejects.toThrow(/allowed-lateness/);
    await expect(runCli(['log-counts', '--window', 'day', '--tz', 'Mars/Olympus', DAYS[0]]).done).rejects.toThrow(/Mars\/Olympus/);
  });
});

describe('rivulet log-counts --listen --out (the original deployment)', () => {
  /** A listener like `nc -l`: collects the length-prefixed frames it is sent. */
  async function frameCollector(onConnection: (socket: Socket) => void = () => undefined): Promise<TestTcpServer & { frames: string[]; waitFor(n: number): Promise<void> }> {
    const frames: string[] = [];
    const waiters: Array<() => void> = [];
    const listener = await listenTcp((socket: Socket) => {
      onConnection(socket);
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
          frames.push(buffered.subarray(4, 4 + buffered.readUInt32BE(0)).toString('utf8'));
          buffered = buffered.subarray(4 + buffered.readUInt32BE(0));
          for (const w of waiters.splice(0)) w();
        }
      });
    });
    const waitFor = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => (frames.length >= n ? resolve() : waiters.push(check));
        check();
      });
    return { ...listener, frames, waitFor };
  }

  it('reproduces the original output from send-logs through TCP to a TCP listener', async () => {
    const collector = await frameCollector();
    try {
      const app = runCli(['log-counts', '--listen', '127.0.0.1:0', '--out', `127.0.0.1:${collector.port}`, '--compat', 'wallaroo']);
      const [, port] = await app.stderrLine(/listening on 127\.0\.0\.1:(\d+)/);
      await runCli(['send-logs', `127.0.0.1:${port}`, ...DAYS]).done;
      await collector.waitFor(6);
      app.stop();
      await app.done;
    } finally {
      collector.destroy();
    }
    expect(collector.frames.map((f) => JSON.parse(f) as unknown)).toEqual(ORIGINAL_OUTPUT);
  });

  it('sends a file larger than the sink buffer to a stalled listener without loss: the reader waits for the socket', async () => {
    const day = readFileSync(DAYS[1], 'utf8');
    const big = join(tempDir(), 'big.log');
    // 24 MiB: more than the sink's 8 MiB buffer and the kernel's queues of a stalled connection
    // (about 4 MiB here) together, so a reader that did not wait would overflow the sink.
    const copies = Math.ceil((24 * 1024 * 1024) / day.length);
    writeFileSync(big, day.repeat(copies));
    // Which source follows send-logs' gate, and when it is told to stop: the sink pauses the gate
    // once its socket and buffer are full, and the file reader is its only follower.
    const follow = FlowGate.prototype.onChange;
    let readerStopped: () => void = () => undefined;
    const stopped = new Promise<'reader stopped'>((resolve) => (readerStopped = () => resolve('reader stopped')));
    jest.spyOn(FlowGate.prototype, 'onChange').mockImplementation(function (this: FlowGate, listener: (paused: boolean) => void) {
      return follow.call(this, (paused) => {
        listener(paused);
        if (paused) readerStopped();
      });
    });
    let stalled: Socket | undefined;
    const collector = await frameCollector((socket: Socket) => {
      if (stalled !== undefined) return;
      stalled = socket;
      socket.pause(); // reads nothing until the sender's reader has been stopped
    });
    try {
      const sender = runCli(['send-logs', `127.0.0.1:${collector.port}`, big]);
      // A reader that kept reading fails the command with ERR_BUFFER_FULL before it could be stopped.
      expect(await Promise.race([stopped, sender.done.then(() => 'finished while the listener read nothing')])).toBe('reader stopped');
      stalled!.resume();
      await sender.done;
      await collector.closed(); // every frame has arrived once the sender has hung up
    } finally {
      jest.restoreAllMocks();
      collector.destroy();
    }
    expect(collector.frames).toHaveLength(559 * copies + 1);
    expect(collector.frames[collector.frames.length - 1]).toBe('END_OF_DAY');
    expect(collector.frames[0]).toBe(day.split('\n')[0] + '\n');
  });
});
