import { readFileSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { jsonLines, runCli, stopCliRuns, type CliRun } from '../support/cli';

const sockets: Socket[] = [];

afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  await stopCliRuns();
});

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
    const { createServer } = await import('node:net');
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    server.close();
    await once(server, 'close');
    const run = await listenWithAnOpenWindow(['--out', `127.0.0.1:${port}`, '--print', '--drain-timeout', '100ms']);
    await run.stdoutLine(/"closedBy":"marker"/);
    run.stop();
    const { stdout, stderr } = await run.done;
    expect(stderr).toMatch(/log-counts: stopped after --drain-timeout 100ms with output not yet delivered: 1 record\(s\) \(\d+ bytes\) were produced at the stop/);
    // stdout, which could take it, has the shutdown record.
    expect(stdout).toContain('"closedBy":"shutdown"');
  });
});
