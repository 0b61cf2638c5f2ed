import { once } from 'node:events';
import { connect, Socket } from 'node:net';
import { VirtualTimeScheduler } from 'rxjs';
import { faultLog } from '../../demos/faultLog';
import { runCli, stopCliRuns } from '../support/cli';

const sockets: Socket[] = [];
afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  await stopCliRuns();
});

const fault = (code: string, n: number) => ({ code, message: `fault ${n}` });

describe('faultLog', () => {
  it('writes the first lines of a kind per interval, says the count of the rest when it ends, and starts again after it', () => {
    const lines: string[] = [];
    const clock = new VirtualTimeScheduler();
    const log = faultLog((line) => lines.push(line), { app: 'app', linesPerInterval: 2, intervalMs: 1000, scheduler: clock });
    const listen = log.reporter('--listen');
    for (let i = 1; i <= 5; i++) listen(fault('ERR_A', i));
    listen(fault('ERR_B', 1));
    log.reporter('--out')(fault('ERR_A', 1));
    expect(lines).toEqual(['app: --listen: fault 1\n', 'app: --listen: fault 2\n', 'app: --listen: fault 1\n', 'app: --out: fault 1\n']);
    lines.length = 0;
    clock.flush();
    // Only the kind that had faults left out says so; the others end quietly.
    expect(lines).toEqual(['app: --listen: 3 more ERR_A not logged (at most 2 lines of a kind a second)\n']);
    lines.length = 0;
    listen(fault('ERR_A', 6));
    listen(fault('ERR_A', 7));
    listen(fault('ERR_A', 8));
    log.flush();
    expect(lines).toEqual(['app: --listen: fault 6\n', 'app: --listen: fault 7\n', 'app: --listen: 1 more ERR_A not logged (at most 2 lines of a kind a second)\n']);
    // Flushed: nothing is left to say, and no timer is left to say it.
    lines.length = 0;
    clock.flush();
    log.flush();
    expect(lines).toEqual([]);
  });
});

describe('log-counts --listen under a flood of bad peers', () => {
  it('logs at most 3 oversized-frame lines, then one line with the count of the rest', async () => {
    const peers = 40;
    // A frozen clock: the whole flood falls in one interval however long it takes.
    const run = runCli(['log-counts', '--listen', '127.0.0.1:0'], { scheduler: new VirtualTimeScheduler() });
    const [, port] = await run.stderrLine(/listening on 127\.0\.0\.1:(\d+)/);
    // Each peer announces a frame of 4 GiB - 1: refused from its 4-byte header, above the 1 MiB limit.
    const header = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    await Promise.all(
      Array.from({ length: peers }, async () => {
        const socket = connect(Number(port), '127.0.0.1');
        sockets.push(socket);
        socket.on('error', () => undefined);
        await once(socket, 'connect');
        socket.write(header);
        // The listener reports the connection before it closes it.
        await once(socket, 'close');
      }),
    );
    run.stop();
    const { stderr } = await run.done;
    const faults = stderr.split('\n').filter((line) => line.startsWith('log-counts: --listen: '));
    expect(faults).toHaveLength(4);
    for (const line of faults.slice(0, 3)) {
      expect(line).toMatch(/^log-counts: --listen: length-prefixed framing: frame 1 at byte 0 from 127\.0\.0\.1:\d+ declares 4294967295 bytes, above maxFrameBytes 1048576$/);
    }
    expect(faults[3]).toBe(`log-counts: --listen: ${peers - 3} more ERR_FRAME_TOO_LARGE not logged (at most 3 lines of a kind a second)`);
  });
});
