import { request } from 'node:http';
import { runCli, stopCliRuns } from '../support/cli';

/** The status of a GET of `/` at `url` with the given Host header. */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('--allowed-host', () => {
  afterEach(() => stopCliRuns());

  it.each([
    ['log-counts', ['log-counts', '--dashboard', '127.0.0.1:0', '--allowed-host', 'rivulet.test', '--allowed-host', 'other.test']],
    ['star-leaders', ['star-leaders', '--dashboard', '127.0.0.1:0', '--allowed-host', 'rivulet.test', '--allowed-host', 'other.test']],
  ])('lets the %s dashboard answer to the names given, and still refuses any other Host', async (_app, args) => {
    const run = runCli(args);
    const [, url] = await run.stderrLine(/dashboard at (http:\/\/\S+)/);
    const port = new URL(url).port;
    expect(await statusWithHost(url, `rivulet.test:${port}`)).toBe(200);
    expect(await statusWithHost(url, `other.test:${port}`)).toBe(200);
    expect(await statusWithHost(url, `127.0.0.1:${port}`)).toBe(200);
    expect(await statusWithHost(url, `evil.example:${port}`)).toBe(421);
    run.stop();
    await run.done;
  });
});
