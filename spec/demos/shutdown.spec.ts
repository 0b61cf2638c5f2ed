import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { jsonLines, runCli, stopCliRuns, type CliRun } from '../support/cli';
import { killChildren, spawnRivulet } from '../support/childCli';
import { GH_ARCHIVE_HOURS } from '../support/data';
import { listenTcp } from '../support/net';

const sockets: Socket[] = [];
const tempDirs: string[] = [];

afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  await stopCliRuns();
  await killChildren();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A port on which nothing listens (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

const SAMPLE = readFileSync(join(__dirname, '..', 'fixtures', 'elastic-apache-sample.log'), 'utf8').split('\n').filter((l) => l !== '');
const ofDay = (day: string) => SAMPLE.filter((l) => l.includes(`[${day}:`));
const MAY_17 = ofDay('17/May/2015');
const MAY_18 = ofDay('18/May/2015');

/** Wallaroo's framing: a 4-byte big-endian length, then the bytes. */
function frames(texts: string[]): Buffer {
  return Buffer.concat(
    texts.map((text) => {
      const body = Buffer.from(text, 'utf8');
      const header = Buffer.alloc(4);
      header.writeUInt32BE(body.length);
      return Buffer.concat([header, body]);
    }),
  );
}

/** Starts `log-counts --listen` and sends one day closed by its marker, then the next day, open. */
async function listenWithAnOpenWindow(extra: string[]): Promise<CliRun> {
  const run = runCli(['log-counts', '--listen', '127.0.0.1:0', ...extra]);
  const [, port] = await run.stderrLine(/listening on 127\.0\.0\.1:(\d+)/);
  const socket = connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  await once(socket, 'connect');
  // One write: the open day's lines travel with the first day's, so when the first day's record
  // is out, they have been counted too.
  socket.write(frames([...MAY_17, 'END_OF_DAY', ...MAY_18]));
  return run;
}

describe('log-counts stopped without --checkpoint', () => {
  it('emits the open window once, closed by the shutdown', async () => {
    const run = await listenWithAnOpenWindow([]);
    await run.stdoutLine(/"closedBy":"marker"/);
    run.stop();
    const { stdout } = await run.done;
    const records = jsonLines(stdout) as Array<{ day: string; lines: number; closedBy: string }>;
    expect(records.map((r) => [r.day, r.lines, r.closedBy])).toEqual([
      ['2015-05-17', MAY_17.length, 'marker'],
      ['2015-05-18', MAY_18.length, 'shutdown'],
    ]);
  });

  it('marks the open day of --window day as closed by the shutdown', async () => {
    const run = await listenWithAnOpenWindow(['--window', 'day']);
    await run.stdoutLine(/"day":"2015-05-17"/);
    run.stop();
    const records = jsonLines((await run.done).stdout) as Array<{ day: string; lines: number; closedBy?: string }>;
    expect(records.map((r) => [r.day, r.lines, r.closedBy])).toEqual([
      ['2015-05-17', MAY_17.length, undefined],
      ['2015-05-18', MAY_18.length, 'shutdown'],
    ]);
  });

  it('emits the open window of --compat wallaroo as the plain object of the original', async () => {
    const run = await listenWithAnOpenWindow(['--compat', 'wallaroo']);
    await run.stdoutLine(/\n/);
    run.stop();
    const records = jsonLines((await run.done).stdout) as Array<Record<string, number>>;
    expect(records).toHaveLength(2);
    // Every line of the open day is counted under some key; nothing marks how the window closed.
    expect(Object.values(records[1]).reduce((a, b) => a + b, 0)).toBe(MAY_18.length);
    expect(records[1]).not.toHaveProperty('closedBy');
  });

  it('waits for the outputs no longer than --drain-timeout and says what may not have been delivered', async () => {
    // A listener that is gone: the TCP sink keeps its records and retries, so it never finishes.
    const port = await closedPort();
    const run = await listenWithAnOpenWindow(['--out', `127.0.0.1:${port}`, '--print', '--drain-timeout', '100ms']);
    await run.stdoutLine(/"closedBy":"marker"/);
    run.stop();
    const { stdout, stderr } = await run.done;
    expect(stderr).toMatch(
      new RegExp(`log-counts: stopped after --drain-timeout 100ms with output not yet delivered to --out 127\\.0\\.0\\.1:${port}: 1 record\\(s\\) \\(\\d+ bytes\\) were produced at the stop and may not have been delivered, nor what it still held from before\n`),
    );
    // stdout, which could take it, has the shutdown record.
    expect(stdout).toContain('"closedBy":"shutdown"');
  });
});

// The first 1,500 events of the bundled hour 2015-01-01 00h (112 stars), as a sender sends them.
const EVENTS = gunzipSync(readFileSync(GH_ARCHIVE_HOURS[0])).toString('utf8').split('\n').filter((l) => l !== '').slice(0, 1500);

interface Lists {
  partition: number;
  leaders: Array<{ repo: string; stars: number }>;
}

/** What a completed input of the same events prints: every change, and the last list of each partition. */
async function completedRun(): Promise<{ file: string; lines: string[]; last: Map<number, string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-shutdown-'));
  tempDirs.push(dir);
  const file = join(dir, 'events.json');
  writeFileSync(file, EVENTS.join('\n') + '\n');
  const lines = (await runCli(['star-leaders', file]).done).stdout.split('\n').filter((l) => l !== '');
  const last = new Map<number, string>();
  for (const line of lines) last.set((JSON.parse(line) as Lists).partition, line);
  return { file, lines, last };
}

async function sendEvents(port: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  await once(socket, 'connect');
  socket.end(EVENTS.join('\n') + '\n');
}

const lineCount = (text: string) => text.split('\n').filter((l) => l !== '').length;

describe('star-leaders stopped without --checkpoint', () => {
  it('on SIGTERM emits every partition\'s final list once more, in partition order, and exits 143', async () => {
    const completed = await completedRun();
    const run = spawnRivulet(['star-leaders', '--listen', '127.0.0.1:0'], { captureStdout: true });
    const [, port] = await run.stderrMatch(/listening on 127\.0\.0\.1:(\d+)/);
    await sendEvents(Number(port));
    // Every change of the completed run is out: the pipeline has seen every event.
    await run.stdoutWhen((out) => lineCount(out) >= completed.lines.length);
    run.child.kill('SIGTERM');
    const { code, stdout, stderr } = await run.exited;
    expect(code).toBe(143);
    const finals = [...completed.last].sort(([a], [b]) => a - b).map(([, line]) => line);
    expect(finals.length).toBeGreaterThan(1);
    expect(stdout.split('\n').filter((l) => l !== '')).toEqual([...completed.lines, ...finals]);
    expect(stderr).not.toMatch(/drain-timeout/);
  });

  it('prints the final table of --format table at a stop', async () => {
    const completed = await completedRun();
    // The records also go to a listener of the test's, so that it can tell when every event has been seen.
    let received = '';
    let onData: () => void = () => undefined;
    const listener = await listenTcp((socket) =>
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('utf8');
        onData();
      }),
    );
    try {
      const run = runCli(['star-leaders', '--listen', '127.0.0.1:0', '--format', 'table', '--out', `127.0.0.1:${listener.port}`]);
      const [, port] = await run.stderrLine(/listening on 127\.0\.0\.1:(\d+)/);
      await sendEvents(Number(port));
      await new Promise<void>((resolve) => {
        onData = () => {
          if (lineCount(received) >= completed.lines.length) resolve();
        };
        onData();
      });
      run.stop();
      const { stdout } = await run.done;
      const table = (await runCli(['star-leaders', '--format', 'table', completed.file]).done).stdout;
      // The rows (rank, repository, stars, recent events) are those of the completed input.
      expect(stdout.split('\n').slice(1)).toEqual(table.split('\n').slice(1));
      expect(stdout).toMatch(/^GitHub star leaders, last 24 h of event time, at 2015-01-01T00:\d\d:\d\dZ/);
    } finally {
      listener.destroy();
    }
  });

  it('reports on stderr, with its size, what a stalled --out may not have been given past --drain-timeout', async () => {
    const port = await closedPort();
    const completed = await completedRun();
    const run = spawnRivulet(['star-leaders', '--listen', '127.0.0.1:0', '--out', `127.0.0.1:${port}`, '--print', '--drain-timeout', '200ms'], { captureStdout: true });
    const [, listenPort] = await run.stderrMatch(/listening on 127\.0\.0\.1:(\d+)/);
    await sendEvents(Number(listenPort));
    await run.stdoutWhen((out) => lineCount(out) >= completed.lines.length);
    run.child.kill('SIGTERM');
    const { code, stdout, stderr } = await run.exited;
    expect(code).toBe(143);
    // The lists emitted at the stop are the ones counted: one per partition, with their bytes.
    const finals = stdout.split('\n').filter((l) => l !== '').slice(completed.lines.length);
    expect(finals).toHaveLength(completed.last.size);
    const bytes = finals.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
    expect(stderr).toContain(
      `star-leaders: stopped after --drain-timeout 200ms with output not yet delivered to --out 127.0.0.1:${port}: ` +
        `${finals.length} record(s) (${bytes} bytes) were produced at the stop and may not have been delivered, nor what it still held from before\n`,
    );
  });
});
