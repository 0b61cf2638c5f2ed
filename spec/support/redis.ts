/**
 * Real Redis servers for tests: `redis-server` child processes on free ports of 127.0.0.1, each
 * in a temporary directory of its own, stopped by their own pid. A single node, or a Cluster of
 * primaries created with `redis-cli --cluster create`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HOST = '127.0.0.1';
const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';
const REDIS_CLI = process.env.REDIS_CLI ?? 'redis-cli';

export interface RedisServerOptions {
  /** `appendonly yes` with `appendfsync always`, so a restart loses nothing. Default true. */
  appendOnly?: boolean;
  /** An ACL user that must authenticate (the default user is then disabled). */
  user?: { name: string; password: string };
  /** Part of a Cluster. */
  cluster?: boolean;
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** `redis://[USER:PASSWORD@]127.0.0.1:PORT` */
  readonly url: string;
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM: it writes its append-only file and exits) and waits for its exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory (after `stop`). */
  start(): Promise<void>;
  /** Stops it if running and removes its directory; safe to call twice. */
  destroy(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (and, for Cluster nodes, its bus port + 10000 too). */
async function freePort(withBus: boolean): Promise<number> {
  for (;;) {
    const port = await listenOnce(0);
    if (!withBus) return port;
    if (port + 10000 <= 65535 && (await listenOnce(port + 10000).then(() => true, () => false))) return port;
  }
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, HOST, () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

/** Starts a redis-server; retries on another port if the chosen one was taken meanwhile. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-redis-'));
  let port = 0;
  let child: ChildProcess | undefined;
  const args = (): string[] => {
    const list = [
      '--port', String(port), '--bind', HOST, '--daemonize', 'no', '--dir', dir, '--save', '', '--logfile', '',
      '--appendonly', options.appendOnly === false ? 'no' : 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction',
    ];
    if (options.user) list.push('--user', 'default', 'off', '--user', options.user.name, 'on', `>${options.user.password}`, '~*', '&*', '+@all');
    if (options.cluster) list.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000');
    return list;
  };
  const launch = async (): Promise<boolean> => {
    const proc = spawn(REDIS_SERVER, args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    const ready = new Promise<boolean>((resolve) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (output.includes('Ready to accept connections')) resolve(true);
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', () => resolve(false));
      proc.once('error', () => resolve(false));
    });
    const ok = await ready;
    // Keep the pipes drained; the log is not needed once the server is up.
    proc.stdout!.resume();
    proc.stderr!.resume();
    if (!ok && !/Address already in use/.test(output)) throw new Error(`redis-server did not start: ${output.slice(-2000)}`);
    return ok;
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  for (let attempt = 0; ; attempt++) {
    port = await freePort(options.cluster === true);
    if (await launch()) break;
    if (attempt >= 5) throw new Error('redis-server: no free port found');
  }
  const credentials = options.user ? `${encodeURIComponent(options.user.name)}:${encodeURIComponent(options.user.password)}@` : '';
  return {
    host: HOST,
    port,
    dir,
    url: `redis://${credentials}${HOST}:${port}`,
    get pid() {
      return child?.pid;
    },
    stop,
    async start() {
      if (child !== undefined) return;
      if (!(await launch())) throw new Error(`redis-server could not listen on ${port} again`);
    },
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  /** `127.0.0.1:P1,127.0.0.1:P2,...` for `--redis-cluster`. */
  readonly spec: string;
  destroy(): Promise<void>;
}

/** Starts `size` primaries and joins them into a Cluster; resolves once every slot is served. */
export async function startCluster(size = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.destroy()));
  };
  try {
    for (let i = 0; i < size; i++) nodes.push(await startRedis({ cluster: true }));
    const addresses = nodes.map((n) => `${HOST}:${n.port}`);
    const create = await run(REDIS_CLI, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    if (create.code !== 0) throw new Error(`redis-cli --cluster create failed: ${create.output.slice(-2000)}`);
    // Every node must know the whole slot map before clients are pointed at it.
    for (const node of nodes) {
      for (let tries = 0; ; tries++) {
        const info = await run(REDIS_CLI, ['-h', HOST, '-p', String(node.port), 'cluster', 'info']);
        if (/cluster_state:ok/.test(info.output) && /cluster_slots_ok:16384/.test(info.output)) break;
        if (tries > 200) throw new Error(`cluster node ${node.port} never became ok: ${info.output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    return { nodes, spec: addresses.join(','), destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** Runs a command to its end; its exit code and everything it printed. */
export function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    proc.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    proc.once('error', reject);
    proc.once('close', (code) => resolve({ code, output }));
  });
}
