/**
 * Reading a distributed application's outputs: every partition's output stream, each output with
 * its partition and its sequence number there (the entry id), so a reader can tell exactly what it
 * has seen. Outputs are only ever written by commits, so they are never repeated or lost, whatever
 * happened to the workers.
 */
import { Observable } from 'rxjs';
import { RivuletError } from '../core/errors';
import type { FlowGate } from '../core/flowGate';
import type { DistributedApp, PartitionId } from './app';
import { redisFailed, type RedisClient } from './connection';
import { parseOffsetRecord } from './partitionHost';
import { LIVE_WORKERS } from './scripts';
import { compareIds, lastIdOf, parseId } from './streamIds';
import { pause } from './wait';

export interface ResultRecord<P, R> {
  partition: P;
  /** 1 for a partition's first output, then one more each. */
  seq: number;
  value: R;
}

/** What a reader is waiting for. */
export interface WaitStatus<P> {
  /** Input entries not consumed yet, by partition, in the partitions' order. */
  lag: Array<{ partition: P; entries: number }>;
  /** Workers with a recent heartbeat. */
  workers: number;
}

export interface ReadResultsOptions<P> {
  /**
   * false (default): wait until every partition has consumed what was routed when reading began,
   * then emit every partition's outputs up to there, partition by partition in seq order, and
   * complete. true: emit outputs as they are committed, interleaved, until unsubscribed.
   */
  follow?: boolean;
  /** Called about every `statusEveryMs` while outputs are due but not there yet. */
  onWaiting?: (status: WaitStatus<P>) => void;
  statusEveryMs?: number;
  pollMs?: number;
  /** Reading pauses while this gate is paused (a slow sink). */
  gate?: FlowGate;
}

const CHUNK = 1000;

/** The outputs of `app`'s partitions (see {@link ReadResultsOptions.follow}). */
export function readResults<T, K, P extends PartitionId, R>(client: RedisClient, app: DistributedApp<T, K, P, R>, options: ReadResultsOptions<P> = {}): Observable<ResultRecord<P, R>> {
  const { follow = false, onWaiting, gate } = options;
  const statusEveryMs = options.statusEveryMs ?? 1000;
  const pollMs = options.pollMs ?? 100;
  const count = app.partitions.length;

  return new Observable<ResultRecord<P, R>>((subscriber) => {
    const stop = new AbortController();
    const signal = stop.signal;
    let statusAt = Date.now();

    const status = async (): Promise<void> => {
      if (onWaiting === undefined || Date.now() - statusAt < statusEveryMs) return;
      statusAt = Date.now();
      const lengths = await Promise.all(app.partitionKeys.map((keys) => client.xlen(keys.input)));
      const workers = Number(await LIVE_WORKERS.run(client, [app.keys.workers], []));
      if (!signal.aborted) onWaiting({ lag: lengths.map((entries, i) => ({ partition: app.partitions[i], entries })), workers });
    };
    const flowing = async (): Promise<void> => {
      while (gate?.paused && !signal.aborted) await pause(10, signal);
    };
    /** Emits partition i's outputs after `after` (an id) up to `upTo` (inclusive); returns the last id. */
    const emitRange = async (i: number, after: string, upTo: string, limit = Infinity): Promise<string> => {
      let last = after;
      for (let emitted = 0; emitted < limit && !signal.aborted; ) {
        await flowing();
        const entries = (await client.xrange(app.partitionKeys[i].output, `(${last}`, upTo, 'COUNT', CHUNK)) as Array<[string, string[]]>;
        for (const [id, fields] of entries) {
          if (signal.aborted) return last;
          let value: R;
          try {
            value = app.decodeOutput(fields[1]);
          } catch (error) {
            throw new RivuletError('ERR_INVALID_VALUE', `${app.name}: output ${id} of partition ${String(app.partitions[i])} cannot be decoded: ${(error as Error)?.message ?? String(error)}`, { cause: error });
          }
          subscriber.next({ partition: app.partitions[i], seq: parseId(id)[0], value });
          last = id;
        }
        emitted += entries.length;
        if (entries.length < CHUNK) break;
      }
      return last;
    };

    const untilConsumed = async (): Promise<void> => {
      const targets = await Promise.all(app.partitionKeys.map((keys) => lastIdOf(client, keys.input)));
      let committed: Array<{ offset: string; outputs: number }>;
      for (;;) {
        committed = (await Promise.all(app.partitionKeys.map((keys) => client.get(keys.offset)))).map(parseOffsetRecord);
        if (committed.every((c, i) => compareIds(parseId(c.offset), parseId(targets[i])) >= 0)) break;
        await status();
        await pause(pollMs, signal);
        if (signal.aborted) return;
      }
      for (let i = 0; i < count && !signal.aborted; i++) if (committed[i].outputs > 0) await emitRange(i, '0-0', `${committed[i].outputs}-0`);
    };

    const following = async (): Promise<void> => {
      const last = new Array<string>(count).fill('0-0');
      while (!signal.aborted) {
        let any = false;
        for (let i = 0; i < count && !signal.aborted; i++) {
          const before = last[i];
          last[i] = await emitRange(i, before, '+', CHUNK);
          any ||= last[i] !== before;
        }
        if (any) statusAt = Date.now();
        else {
          const lengths = await Promise.all(app.partitionKeys.map((keys) => client.xlen(keys.input)));
          if (lengths.some((n) => n > 0)) await status();
          await pause(pollMs, signal);
        }
      }
    };

    (follow ? following() : untilConsumed()).then(
      () => subscriber.complete(),
      (error: unknown) => {
        if (!signal.aborted) subscriber.error(error instanceof RivuletError ? error : redisFailed(`reading the outputs of ${app.name}`, error));
      },
    );
    return () => stop.abort();
  });
}
