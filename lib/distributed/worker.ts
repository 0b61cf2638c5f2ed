/**
 * A worker: runs the sub-pipelines of the partitions it holds, exactly once in effect, beside
 * other workers on other machines.
 *
 * - Every `heartbeatMs` it records itself as live, counts the live workers and takes its fair
 *   share, ceil(partitions / live workers), of the partitions whose lease is free; leases are
 *   renewed on the same beat and expire after `leaseMs`. Each acquisition increments the
 *   partition's fencing epoch.
 * - A partition it gains is restored from its last commit (operators' state, clock, offsets),
 *   then read in batches from the offset on; each batch is committed in one script that checks
 *   lease, epoch and offset before it writes outputs, state and offset (see `COMMIT`).
 * - Above its share (another worker joined) it hands partitions back between batches. When it is
 *   stopped it commits what it is doing, releases its leases and leaves. If it dies, its leases
 *   expire and others take over from the last commit; if it was only frozen, its next commit or
 *   renewal is refused by the fence, it drops those partitions and takes its share again.
 */
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { invalidOption, RivuletError } from '../core/errors';
import type { DistributedApp, PartitionId } from './app';
import type { RedisClient } from './connection';
import { offsetRecord, parseOffsetRecord, PartitionHost, StreamEntry } from './partitionHost';
import { ACQUIRE, COMMIT, HEARTBEAT, isFenced, RELEASE, RENEW } from './scripts';
import { checkSettings, waitForSettings } from './settings';
import { nextId } from './streamIds';
import { pause } from './wait';

export interface WorkerOptions {
  /** How long a lease lasts without renewal (a dead worker's partitions wait this long). Default 2000. */
  leaseMs?: number;
  /** Heartbeat and lease renewal period. Default min(250, leaseMs / 4). */
  heartbeatMs?: number;
  /** Input entries per batch (one commit each). Default 1000. */
  batchEntries?: number;
  /** Longest wait between polls of an idle partition. Default 50. */
  idlePollMs?: number;
  /** Default `<host>:<pid>:<random>`. */
  workerId?: string;
  /** Stops the worker: each partition commits its batch, every lease is released. */
  signal?: AbortSignal;
  onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'waiting'; for: 'settings' }
  | { type: 'joined'; worker: string }
  | { type: 'share'; live: number; share: number }
  | { type: 'gained'; partition: PartitionId; epoch: number; offset: string; outputs: number }
  | { type: 'lost'; partition: PartitionId; reason: 'handed back' | 'released' | 'fenced' | 'failed'; detail?: string }
  | { type: 'committed'; partition: PartitionId; entries: number; outputs: number; offset: string }
  | { type: 'redis-error'; message: string };

interface Held<T, K, P extends PartitionId, R> {
  index: number;
  epoch: number;
  host: PartitionHost<T, K, P, R> | undefined;
  /** Set by the control loop: hand back at the next batch boundary. */
  handBack: boolean;
  /** Set when a renewal was refused: the lease is gone. */
  fenced: boolean;
}

/**
 * Runs a worker of `app` until `options.signal` aborts (resolves once every lease is released)
 * or a partition's pipeline fails (rejects with that error, after releasing the other leases).
 * It waits for a router to write the settings, which must match `app`
 * (ERR_CHECKPOINT_INCOMPATIBLE otherwise).
 */
export async function runWorker<T, K, P extends PartitionId, R>(client: RedisClient, app: DistributedApp<T, K, P, R>, options: WorkerOptions = {}): Promise<void> {
  const leaseMs = options.leaseMs ?? 2000;
  const heartbeatMs = options.heartbeatMs ?? Math.min(250, Math.floor(leaseMs / 4));
  const batchEntries = options.batchEntries ?? 1000;
  const idlePollMs = options.idlePollMs ?? 50;
  const worker = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const where = 'runWorker';
  if (!(Number.isInteger(leaseMs) && leaseMs >= 100)) throw invalidOption(where, `leaseMs must be an integer >= 100, got ${String(leaseMs)}`);
  if (!(Number.isInteger(heartbeatMs) && heartbeatMs >= 1 && heartbeatMs * 2 <= leaseMs)) throw invalidOption(where, 'heartbeatMs must be an integer >= 1 and at most half of leaseMs');
  if (!(Number.isInteger(batchEntries) && batchEntries >= 1)) throw invalidOption(where, 'batchEntries must be an integer >= 1');
  if (!(Number.isInteger(idlePollMs) && idlePollMs >= 1)) throw invalidOption(where, 'idlePollMs must be an integer >= 1');
  const emit = options.onEvent ?? (() => undefined);
  const count = app.partitions.length;

  // A worker may start before the first router: it waits for the settings.
  const settings = await waitForSettings(client, app.name, { signal: options.signal, onWaiting: () => emit({ type: 'waiting', for: 'settings' }) });
  if (settings === undefined) return;
  checkSettings(app, settings);

  const held = new Map<number, Held<T, K, P, R>>();
  // Partition loops until they have released their lease (they leave `held` before that).
  const running = new Set<Promise<void>>();
  const stop = new AbortController();
  // Every idle partition waits on this signal.
  setMaxListeners(Infinity, stop.signal);
  let fatal: { error: unknown } | undefined;
  const fail = (error: unknown): void => {
    fatal ??= { error };
    stop.abort();
  };
  options.signal?.addEventListener('abort', () => stop.abort());
  if (options.signal?.aborted) stop.abort();
  let live = 0;
  let share = count;
  // Workers start looking for free partitions at different places, so they rarely collide.
  const start = parseInt(randomBytes(2).toString('hex'), 16) % count;
  let lastRedisError = '';
  const redisError = (error: unknown): void => {
    const message = error instanceof Error ? error.message : String(error);
    if (message !== lastRedisError) emit({ type: 'redis-error', message });
    lastRedisError = message;
  };

  const releaseLease = async (index: number, epoch: number): Promise<void> => {
    const keys = app.partitionKeys[index];
    try {
      await RELEASE.run(client, [keys.lease, keys.epoch], [worker, epoch]);
    } catch (error) {
      redisError(error); // the lease then just expires
    }
  };

  /** Processes a held partition until it is handed back, fenced, stopped or fails. */
  const runPartition = async (h: Held<T, K, P, R>): Promise<void> => {
    const keys = app.partitionKeys[h.index];
    const partition = app.partitions[h.index];
    let outcome: 'handed back' | 'released' | 'fenced' | 'failed' = 'released';
    let detail: string | undefined;
    try {
      const [state, offsetText] = await Promise.all([client.getBuffer(keys.state), client.get(keys.offset)]);
      const committed = parseOffsetRecord(offsetText);
      const host = new PartitionHost(app, partition, state ?? undefined);
      h.host = host;
      if (host.offset !== committed.offset || host.outputs !== committed.outputs) {
        throw new RivuletError('ERR_CHECKPOINT_STORE', `${app.name} partition ${String(partition)}: the state (at ${host.offset}, ${host.outputs} outputs) does not match the offset record (${offsetText ?? 'none'})`);
      }
      emit({ type: 'gained', partition, epoch: h.epoch, offset: host.offset, outputs: host.outputs });
      // What the offset key holds now: the next commit must find exactly this.
      let expected = offsetText ?? '';
      let idle = 1;
      for (;;) {
        if (stop.signal.aborted) break;
        if (h.fenced) {
          outcome = 'fenced';
          detail = 'another worker took the partition';
          break;
        }
        if (h.handBack) {
          outcome = 'handed back';
          break;
        }
        const entries = (await client.xrange(keys.input, `(${host.offset}`, '+', 'COUNT', batchEntries)) as StreamEntry[];
        if (entries.length === 0) {
          await pause(idle, stop.signal);
          idle = Math.min(idle * 2, idlePollMs);
          continue;
        }
        idle = 1;
        if (h.fenced) continue;
        const firstSeq = host.outputs + 1;
        let outputs: string[];
        try {
          outputs = host.process(entries);
        } catch (error) {
          fail(error);
          outcome = 'failed';
          detail = error instanceof Error ? error.message : String(error);
          return;
        }
        const next = offsetRecord(host.offset, host.outputs);
        const args: Array<string | number | Buffer> = [worker, h.epoch, expected, next, leaseMs, host.checkpoint(), nextId(host.offset)];
        for (let i = 0; i < outputs.length; i++) args.push(`${firstSeq + i}-0`, outputs[i]);
        try {
          await COMMIT.run(client, [keys.lease, keys.epoch, keys.offset, keys.state, keys.output, keys.input], args);
        } catch (error) {
          outcome = isFenced(error) ? 'fenced' : 'failed';
          detail = error instanceof Error ? error.message : String(error);
          if (!isFenced(error)) redisError(error);
          return;
        }
        expected = next;
        emit({ type: 'committed', partition, entries: entries.length, outputs: outputs.length, offset: host.offset });
      }
    } catch (error) {
      if (error instanceof RivuletError && error.code !== 'ERR_CONNECTION') fail(error);
      else redisError(error);
      outcome = 'failed';
      detail = error instanceof Error ? error.message : String(error);
      return;
    } finally {
      h.host?.close();
      held.delete(h.index);
      if (outcome === 'fenced' || outcome === 'failed') emit({ type: 'lost', partition, reason: outcome, detail });
    }
    await releaseLease(h.index, h.epoch);
    emit({ type: 'lost', partition, reason: outcome === 'handed back' ? 'handed back' : 'released' });
  };

  /** One beat; returns in how many ms the next one is due (sooner when a change is expected). */
  const beat = async (): Promise<number> => {
    let next = heartbeatMs;
    try {
      const [liveNow, otherExpiresIn] = (await HEARTBEAT.run(client, [app.keys.workers], [worker, leaseMs])) as [number, number];
      live = Number(liveNow);
      // A silent worker drops out then, and this one's share may grow: look again just after.
      if (otherExpiresIn >= 0) next = Math.min(next, Number(otherExpiresIn) + 1);
    } catch (error) {
      redisError(error);
      return next;
    }
    const newShare = Math.ceil(count / Math.max(1, live));
    if (newShare !== share) emit({ type: 'share', live, share: newShare });
    share = newShare;
    // Renewals: a refused one means another worker has (or may take) the partition.
    await Promise.all(
      [...held.values()].map(async (h) => {
        const keys = app.partitionKeys[h.index];
        try {
          if ((await RENEW.run(client, [keys.lease, keys.epoch], [worker, h.epoch, leaseMs])) !== 1) h.fenced = true;
        } catch (error) {
          redisError(error);
        }
      }),
    );
    const keeping = [...held.values()].filter((h) => !h.handBack && !h.fenced);
    for (const h of keeping.slice(share)) h.handBack = true;
    let wanted = share - keeping.length;
    for (let k = 0; k < count && wanted > 0 && !stop.signal.aborted; k++) {
      const index = (start + k) % count;
      if (held.has(index)) continue;
      const keys = app.partitionKeys[index];
      let epoch: number;
      try {
        epoch = Number(await ACQUIRE.run(client, [keys.lease, keys.epoch], [worker, leaseMs]));
      } catch (error) {
        redisError(error);
        return next;
      }
      if (epoch <= 0) {
        // Held by another: its lease lapses in -epoch ms if that worker is gone; try again then.
        next = Math.min(next, -epoch + 1);
        continue;
      }
      if (stop.signal.aborted) {
        await releaseLease(index, epoch);
        continue;
      }
      wanted--;
      const h: Held<T, K, P, R> = { index, epoch, host: undefined, handBack: false, fenced: false };
      held.set(index, h);
      const loop = runPartition(h);
      running.add(loop);
      loop.then(
        () => running.delete(loop),
        (error: unknown) => {
          running.delete(loop);
          fail(error);
        },
      );
    }
    return next;
  };

  emit({ type: 'joined', worker });
  try {
    while (!stop.signal.aborted) await pause(await beat(), stop.signal);
  } finally {
    // Leave first, so that the others' share grows as soon as the leases are released.
    try {
      await client.zrem(app.keys.workers, worker);
    } catch (error) {
      redisError(error);
    }
    while (running.size > 0) await Promise.all([...running]);
  }
  if (fatal) throw fatal.error;
}

