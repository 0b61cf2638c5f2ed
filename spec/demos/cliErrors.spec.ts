import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLines, runCliExit } from '../support/cli';
import { spawnRivulet, killChildren } from '../support/childCli';
import { ELASTIC_LOG_SAMPLE, PINOT_EVENTS_SAMPLE, WALLAROO_DAYS } from '../support/data';

// Every error of the command line is one line `rivulet: <flag or file>: <what was wrong>` and
// exit code 1; a file none of whose lines could be read is warned about, with exit code 0.

const servers: Server[] = [];
const tempDirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  await killChildren();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A port that a socket of the test holds. */
async function usedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

const fails = (stderr: string) => ({ code: 1, stdout: '', stderr });

describe('rivulet errors', () => {
  it.each([
    ['a bad address', ['log-counts', '--listen', 'nonsense'], 'rivulet: --listen: expected HOST:PORT, got "nonsense"'],
    ['an address without a real port to connect to', ['log-counts', '--out', '127.0.0.1:0'], 'rivulet: --out: expected HOST:PORT with a port from 1 to 65535, got "127.0.0.1:0"'],
    ['a duration without its unit', ['star-leaders', '--max-future', '5'], 'rivulet: --max-future: expected a duration such as 250ms, 30s, 5m, 1h or 2d, got "5"'],
    ['a count that is not one', ['star-leaders', '--partitions', '0'], 'rivulet: --partitions: expected an integer >= 1, got "0"'],
    ['an unknown time zone', ['log-counts', '--tz', 'Mars/Olympus'], 'rivulet: --tz: expected an IANA time zone such as America/Los_Angeles or UTC, got "Mars/Olympus"'],
    ['an unknown flag', ['log-counts', '--bogus'], 'rivulet: --bogus: unknown option'],
    ['a misspelt flag', ['log-counts', '--liste', '1'], 'rivulet: --liste: unknown option (did you mean --listen?)'],
    ['an unknown command', ['log-count'], 'rivulet: log-count: unknown command (did you mean log-counts?)'],
    ['a value not among the choices', ['log-counts', '--window', 'week'], 'rivulet: --window: expected boundary or day, got "week"'],
    ['a flag without its value', ['star-leaders', '--listen'], 'rivulet: --listen: expected a value (--listen <host:port>)'],
    ['a missing argument', ['send-logs'], 'rivulet: send-logs <host:port>: missing (see rivulet send-logs --help)'],
    ['a bad address argument', ['stream-archive', 'x', PINOT_EVENTS_SAMPLE], 'rivulet: <host:port>: expected HOST:PORT, got "x"'],
    ['a Redis URL, without its password', ['worker', 'star-leaders', '--redis', 'http://me:secret@x'], 'rivulet: --redis: expected redis://[USER:PASSWORD@]HOST:PORT, got "http://***@x"'],
    ['declared conflicts', ['log-counts', '--checkpoint', 'ckpt', '--listen', ':0'], 'rivulet: --checkpoint: cannot be used with --listen'],
    ['declared conflicts of star-leaders', ['star-leaders', '--checkpoint', 'ckpt', '--speed', '2'], 'rivulet: --checkpoint: cannot be used with --speed'],
    ['a conflict through an implied flag', ['log-counts', '--compat', 'wallaroo', '--tz', 'UTC'], 'rivulet: --compat: cannot be used with --tz'],
    ['a conflict with a value', ['log-counts', '--compat', 'wallaroo', '--window', 'day'], 'rivulet: --compat: cannot be used with --window day (the original only had END_OF_DAY markers)'],
    ['a conflict with the files', ['star-leaders', '--listen', ':0', PINOT_EVENTS_SAMPLE], 'rivulet: --listen: cannot be used with files (give one input)'],
  ])('says %s in one line and exits 1', async (_what, args, line) => {
    expect(await runCliExit(args)).toEqual(fails(`${line}\n`));
  });

  it('names a missing input file once, before reading any', async () => {
    const missing = join(tmpdir(), 'rivulet-no-such-dir', 'day_9.log');
    expect(await runCliExit(['log-counts', WALLAROO_DAYS[0], missing])).toEqual(fails(`rivulet: ${missing}: no such file\n`));
  });

  it('names an output file that cannot be written once, by its path', async () => {
    const output = join(tmpdir(), 'rivulet-no-such-dir', 'out.jsonl');
    expect(await runCliExit(['log-counts', '--output', output, WALLAROO_DAYS[0]])).toEqual(fails(`rivulet: ${output}: no such file or folder\n`));
  });

  it.each([
    ['log-counts', '--dashboard'],
    ['star-leaders', '--dashboard'],
    ['star-leaders', '--listen'],
    ['star-leaders', '--ws-out'],
  ])('names the flag of an address in use: %s %s', async (command, flag) => {
    const port = await usedPort();
    // Files would be read meanwhile; listening on TCP, the server's failure is the only end.
    const args = command === 'star-leaders' && flag !== '--listen' ? ['--listen', '127.0.0.1:0'] : [];
    const { code, stderr } = await runCliExit([command, ...args, flag, `127.0.0.1:${port}`]);
    expect(code).toBe(1);
    expect(stderr.split('\n').filter((l) => l.startsWith('rivulet: '))).toEqual([`rivulet: ${flag} 127.0.0.1:${port}: address already in use`]);
  });

  it('writes the same line and exits 1 as the installed command', async () => {
    const { code, stderr } = await spawnRivulet(['log-counts', '--listen', 'nonsense']).exited;
    expect({ code, stderr }).toEqual({ code: 1, stderr: 'rivulet: --listen: expected HOST:PORT, got "nonsense"\n' });
  });

  it('shows help and the version with exit code 0', async () => {
    const help = await runCliExit(['log-counts', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--tz <zone> +time zone of the calendar days; implies\s+--window day/);
    expect(await runCliExit(['--version'])).toEqual({ code: 0, stdout: `${(JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version}\n`, stderr: '' });
  });
});

describe('--tz', () => {
  it('implies --window day: the records are the event-time days of the explicit flag', async () => {
    const implied = await runCliExit(['log-counts', '--tz', 'UTC', ELASTIC_LOG_SAMPLE]);
    const explicit = await runCliExit(['log-counts', '--window', 'day', '--tz', 'UTC', ELASTIC_LOG_SAMPLE]);
    const boundary = await runCliExit(['log-counts', ELASTIC_LOG_SAMPLE]);
    expect(implied).toEqual({ code: 0, stdout: explicit.stdout, stderr: '' });
    const records = jsonLines(implied.stdout) as Array<Record<string, unknown>>;
    // Day mode: days 17 to 20 May 2015, late counts, no boundary markers.
    expect(records.map((r) => r.day)).toEqual(['2015-05-17', '2015-05-18', '2015-05-19', '2015-05-20']);
    for (const r of records) {
      expect(r).toHaveProperty('late');
      expect(r).not.toHaveProperty('closedBy');
    }
    expect(boundary.stdout).not.toBe(implied.stdout);
  });

  it('is refused with an explicit --window boundary', async () => {
    expect(await runCliExit(['log-counts', '--tz', 'UTC', '--window', 'boundary', ELASTIC_LOG_SAMPLE])).toEqual(
      fails('rivulet: --tz: cannot be used with --window boundary (a time zone places lines in calendar days: --window day)\n'),
    );
  });
});

describe('an input none of whose lines could be read', () => {
  const lineCount = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').length;

  it('is warned about by log-counts, with the likely cause, and the run exits 0', async () => {
    const { code, stdout, stderr } = await runCliExit(['log-counts', WALLAROO_DAYS[0], PINOT_EVENTS_SAMPLE]);
    expect(code).toBe(0);
    expect(jsonLines(stdout)).toHaveLength(2);
    expect(stderr).toBe(
      `rivulet: warning: ${PINOT_EVENTS_SAMPLE}: none of its ${lineCount(PINOT_EVENTS_SAMPLE)} lines could be read as an access log line ` +
        '(is it an Apache or Nginx access log in the Common or Combined Log Format?)\n',
    );
  });

  it('is warned about by star-leaders, with the likely cause, and the run exits 0', async () => {
    const n = lineCount(ELASTIC_LOG_SAMPLE);
    const { code, stderr } = await runCliExit(['star-leaders', '--format', 'table', ELASTIC_LOG_SAMPLE]);
    expect(code).toBe(0);
    expect(stderr).toBe(
      `star-leaders: ${n} input lines could not be read as events (see --dead-letter)\n` +
        `rivulet: warning: ${ELASTIC_LOG_SAMPLE}: none of its ${n} lines could be read as a GitHub event (is it a GitHub Archive file, one JSON event per line?)\n`,
    );
  });

  it('is not warned about when some lines could be read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rivulet-cli-errors-'));
    tempDirs.push(dir);
    const { code, stderr } = await runCliExit(['log-counts', '--dead-letter', join(dir, 'dead.jsonl'), ELASTIC_LOG_SAMPLE]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    // The sample's truncated line was dead-lettered: some lines failed, not all.
    expect(readFileSync(join(dir, 'dead.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('counts each read of a file listed twice: one that is mostly unreadable is not warned about, an unreadable one once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rivulet-cli-errors-'));
    tempDirs.push(dir);
    // 2 access log lines after 26 JSON events: more than one 64 KiB read.
    const logLines = readFileSync(WALLAROO_DAYS[0], 'utf8').split('\n').slice(0, 2);
    const events = readFileSync(PINOT_EVENTS_SAMPLE, 'utf8').trimEnd().split('\n');
    const mostly = join(dir, 'mostly-unreadable.log');
    writeFileSync(mostly, [...events, ...logLines].join('\n') + '\n');
    expect(await runCliExit(['log-counts', mostly, mostly])).toMatchObject({ code: 0, stderr: '' });
    const { code, stderr } = await runCliExit(['log-counts', PINOT_EVENTS_SAMPLE, PINOT_EVENTS_SAMPLE]);
    expect(code).toBe(0);
    expect(stderr.match(/rivulet: warning: /g)).toHaveLength(1);
    expect(stderr).toContain(`${PINOT_EVENTS_SAMPLE}: none of its ${2 * lineCount(PINOT_EVENTS_SAMPLE)} lines could be read`);
  });
});
