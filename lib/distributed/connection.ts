/**
 * Connecting to Redis: one node (`redis://[USER:PASSWORD@]HOST:PORT`) or a Cluster
 * (`HOST:PORT,HOST:PORT,...`), through ioredis, with auto-pipelining (commands issued in one tick
 * of the event loop go out together; on a Cluster, one pipeline per node) and reconnection that
 * never gives up on a command: a command that was sent when the connection broke is sent again
 * after it comes back. Everything rivulet sends is safe to repeat: appends carry explicit ids, and
 * commits check the offset they expect, so a repeated one is refused, not applied twice.
 */
import type { Cluster, default as Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { invalidOption, RivuletError } from '../core/errors';

export type RedisClient = Redis | Cluster;

export type RedisTarget =
  | { readonly url: string }
  | { readonly cluster: ReadonlyArray<{ host: string; port: number }>; readonly username?: string; readonly password?: string };

export interface ConnectOptions {
  /** Called with connection errors (the client keeps reconnecting meanwhile). */
  onError?: (error: Error) => void;
  /** For messages and `CLIENT LIST`. */
  connectionName?: string;
}

const HOST_PORT = /^([^\s:@,/]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/;

/** Reads the `--redis URL` or `--redis-cluster HOST:PORT,...` forms; exactly one must be given. */
export function parseRedisTarget(options: { redis?: string; redisCluster?: string }): RedisTarget {
  const { redis, redisCluster } = options;
  if ((redis === undefined) === (redisCluster === undefined)) throw invalidOption('redis', 'give one of --redis redis://HOST:PORT or --redis-cluster HOST:PORT,...');
  if (redis !== undefined) {
    let url: URL;
    try {
      url = new URL(redis);
    } catch {
      throw invalidOption('redis', `not a URL: ${JSON.stringify(redis)} (expected redis://[USER:PASSWORD@]HOST:PORT)`);
    }
    if (url.protocol !== 'redis:' || url.hostname === '' || (url.pathname !== '' && url.pathname !== '/' && !/^\/\d+$/.test(url.pathname))) {
      throw invalidOption('redis', `expected redis://[USER:PASSWORD@]HOST:PORT, got ${JSON.stringify(redis.replace(/\/\/[^@]*@/, '//***@'))}`);
    }
    return { url: redis };
  }
  let list = redisCluster!;
  let username: string | undefined;
  let password: string | undefined;
  const at = list.lastIndexOf('@');
  if (at >= 0) {
    const credentials = list.slice(0, at);
    list = list.slice(at + 1);
    const colon = credentials.indexOf(':');
    if (colon < 0) password = decodeURIComponent(credentials);
    else {
      username = decodeURIComponent(credentials.slice(0, colon)) || undefined;
      password = decodeURIComponent(credentials.slice(colon + 1));
    }
  }
  const cluster = list.split(',').map((entry) => {
    const match = HOST_PORT.exec(entry.trim());
    const port = match === null ? NaN : Number(match[2]);
    if (match === null || !(port >= 1 && port <= 65535)) throw invalidOption('redis-cluster', `expected HOST:PORT,HOST:PORT,..., got ${JSON.stringify(entry)}`);
    return { host: match[1].replace(/^\[|\]$/g, ''), port };
  });
  return { cluster, username, password };
}

/** Where a target points, without its password, for messages. */
export function describeRedisTarget(target: RedisTarget): string {
  if ('url' in target) return target.url.replace(/\/\/[^@/]*@/, '//');
  return `cluster ${target.cluster.map((n) => `${n.host}:${n.port}`).join(',')}`;
}

const retry = (times: number): number => Math.min(50 * times, 1000);

/**
 * ioredis, loaded by the first connection: every program that imports rivulet would otherwise
 * load it (and its dependencies) at start-up, a twentieth of a second, whether it uses Redis or not.
 */
let ioredis: typeof import('ioredis') | undefined;

/** Opens a client (it connects in the background; commands wait for it). */
export function connectRedis(target: RedisTarget, options: ConnectOptions = {}): RedisClient {
  const { default: Redis, Cluster } = (ioredis ??= require('ioredis') as typeof import('ioredis'));
  const common = { enableAutoPipelining: true, maxRetriesPerRequest: null, connectionName: options.connectionName };
  const client: RedisClient =
    'url' in target
      ? new Redis(target.url, { ...common, retryStrategy: retry })
      : new Cluster([...target.cluster], {
          enableAutoPipelining: true,
          clusterRetryStrategy: retry,
          redisOptions: { maxRetriesPerRequest: null, username: target.username, password: target.password, connectionName: options.connectionName },
        });
  client.on('error', (error: Error) => options.onError?.(error));
  return client;
}

/** Closes a client after its pending replies; drops the connection if that does not work. */
export async function closeRedis(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/**
 * A Lua script run with EVALSHA, falling back to EVAL when the node does not know it yet (a
 * restarted node, a Cluster node it was never sent to): nothing needs loading beforehand.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly lua: string,
  ) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(client: RedisClient, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

/** A Redis failure as a rivulet error, naming what was being done. */
export function redisFailed(what: string, error: unknown): RivuletError {
  const reason = error instanceof Error ? error.message : String(error);
  return new RivuletError('ERR_CONNECTION', `redis: ${what}: ${reason}`, { cause: error });
}
