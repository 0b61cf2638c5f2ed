import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { RIVULET_BIN } from './support/childCli';
import { WALLAROO_DAYS } from './support/data';

// Modules that only some runs use are loaded when first used: a program that imports rivulet, and
// a command that reads files, start without them (ioredis, ws and cli-progress with their
// dependencies, and date-fns' index, were a third of the CLI's start-up).
const OPTIONAL = /[\\/]node_modules[\\/](ioredis|ws|cli-progress)[\\/]|[\\/]node_modules[\\/]date-fns[\\/]index\.c?js$/;

/** The files a new Node process has loaded once `script` has run (and the process is exiting). */
function loadedBy(script: string, args: string[] = []): Promise<string[]> {
  const report = `process.on('exit', () => process.stderr.write('\\n' + JSON.stringify(Object.keys(require.cache))));`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', `${report}\n${script}`, ...args], { encoding: 'utf8' }, (error, _stdout, stderr) => {
      if (error) return reject(error);
      resolve(JSON.parse(stderr.trimEnd().split('\n').pop()!) as string[]);
    });
  });
}

describe('start-up', () => {
  it('importing the built package loads no module that only some runs use, though its own modules are loaded', async () => {
    const loaded = await loadedBy(`require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))});`);
    expect(loaded.some((file) => file.endsWith(join('dist', 'lib', 'io', 'webSocketServer.js')))).toBe(true);
    expect(loaded.filter((file) => OPTIONAL.test(file))).toEqual([]);
  });

  it('rivulet log-counts on a file loads none of them either', async () => {
    const loaded = await loadedBy(`process.argv = [process.argv[0], ${JSON.stringify(RIVULET_BIN)}, 'log-counts', ${JSON.stringify(WALLAROO_DAYS[0])}]; require(${JSON.stringify(RIVULET_BIN)});`);
    expect(loaded.some((file) => file.endsWith(join('dist', 'demos', 'logCounts', 'cli.js')))).toBe(true);
    expect(loaded.filter((file) => OPTIONAL.test(file))).toEqual([]);
  });

  it('loads them when they are used: a WebSocket server brings in ws', async () => {
    const index = JSON.stringify(join(__dirname, '..', 'dist', 'index.js'));
    const loaded = await loadedBy(`const { webSocketListen } = require(${index}); webSocketListen({ host: '127.0.0.1', port: 0 }).subscribe().unsubscribe();`);
    expect(loaded.filter((file) => OPTIONAL.test(file)).some((file) => /[\\/]ws[\\/]/.test(file))).toBe(true);
  });
});
