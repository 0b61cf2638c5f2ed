/**
 * A distributed application: a partitioned pipeline (the same `keyOf`, `partitioner`,
 * `timestampOf` and `pipeline` that `partitionBy` takes) plus what it needs to travel through
 * Redis: a name for its keys, codecs for values and outputs, the granularity of clock ticks.
 */
import type { Observable, OperatorFunction } from 'rxjs';
import { invalidOption } from '../core/errors';
import { toJson } from '../core/json';
import type { Partitioner } from '../partitioning/partitioners';
import { checkFutureOptions } from '../windowing/futureBound';
import { appKeys, AppKeys, checkAppName, MAX_PARTITIONS, partitionKeys, PartitionKeys, partitionTags } from './keys';

/** What a partition's sub-pipeline knows about itself (as `partitionBy`'s `PartitionContext`). */
export interface DistributedContext<P> {
  readonly key: P;
  /**
   * The global event time, from the router's clock ticks: replayed on subscribe (after a restore,
   * the clock of the last commit), then emitted on each tick that moves it.
   */
  readonly eventTime$: Observable<number>;
}

/** A partition id as it is written to Redis and to results. */
export type PartitionId = number | string;

export interface DistributedAppOptions<T, K, P extends PartitionId, R> {
  /** The application's name: the prefix of its keys (`rv:NAME:...`). */
  name: string;
  keyOf: (value: T) => K;
  /**
   * A partitioner with a fixed, declared set of partitions (`hashMod(n)`, `wallarooHashRing(n)`).
   * Required (optional in the type only so that `partitionBy`'s options can be spread in).
   */
  partitioner?: Partitioner<K, P>;
  /**
   * A partition's sub-pipeline, as `partitionBy` runs it. It must be synchronous, give every
   * stateful operator a `uid`, and use no processing-time operators: a worker refuses it otherwise.
   */
  pipeline: (context: DistributedContext<P>) => OperatorFunction<T, R>;
  /** Event time of a value (ms): the router's clock; without it there are no ticks. */
  timestampOf?: (value: T) => number;
  /**
   * As `partitionBy`'s: the router holds a value further ahead of its clock than this, routes it
   * once `confirmations` more confirm the jump, and rejects it when a value in bound shows it was
   * an outlier (or the input ends). Must be at least `tickEveryMs`, so that a released jump is
   * always followed by a tick.
   */
  maxFutureMs?: number;
  confirmations?: number;
  /**
   * The router appends a clock tick to every partition when the clock crosses a multiple of this
   * (plus each offset). Default one hour. Outputs equal a single process's when the pipeline only
   * depends on which such interval the clock is in (windows whose panes are multiples of it).
   */
  tickEveryMs?: number;
  /** Offsets of the tick boundaries, e.g. `[0, allowedLatenessMs]` for a window with lateness. Default `[0]`. */
  tickOffsetsMs?: readonly number[];
  /** A value as text for its input stream. Default JSON. */
  encode?: (value: T) => string;
  decode?: (text: string) => T;
  /** An output as text for its output stream. Default JSON (Maps as objects). */
  encodeOutput?: (output: R) => string;
  decodeOutput?: (text: string) => R;
  /** Recorded in the settings: a worker built with other parameters is refused. */
  params?: Readonly<Record<string, string | number | boolean>>;
}

export interface DistributedApp<T, K, P extends PartitionId, R> {
  readonly name: string;
  readonly keyOf: (value: T) => K;
  readonly partitioner: Partitioner<K, P>;
  readonly pipeline: (context: DistributedContext<P>) => OperatorFunction<T, R>;
  readonly timestampOf: ((value: T) => number) | undefined;
  readonly maxFutureMs: number | undefined;
  readonly confirmations: number;
  readonly tickEveryMs: number;
  readonly tickOffsetsMs: readonly number[];
  readonly encode: (value: T) => string;
  readonly decode: (text: string) => T;
  readonly encodeOutput: (output: R) => string;
  readonly decodeOutput: (text: string) => R;
  readonly params: Readonly<Record<string, string | number | boolean>>;
  /** The partitions, in the partitioner's order; their index names their keys. */
  readonly partitions: readonly P[];
  readonly indexOf: ReadonlyMap<P, number>;
  readonly keys: AppKeys;
  readonly partitionKeys: readonly PartitionKeys[];
  readonly tags: readonly string[];
}

const HOUR_MS = 3_600_000;

/** Checks and completes an application's definition; bad options throw ERR_INVALID_OPTION. */
export function distributedApp<T, K, P extends PartitionId, R>(options: DistributedAppOptions<T, K, P, R>): DistributedApp<T, K, P, R> {
  const where = 'distributedApp';
  if (options == null) throw invalidOption(where, 'options are required');
  const name = checkAppName(where, options.name);
  const { keyOf, partitioner, pipeline, timestampOf } = options;
  if (typeof keyOf !== 'function') throw invalidOption(where, 'keyOf must be a function (value) => key');
  if (typeof pipeline !== 'function') throw invalidOption(where, 'pipeline must be a function (context) => operator');
  if (partitioner === undefined || typeof partitioner.partitionOf !== 'function') throw invalidOption(where, 'partitioner must be given, with a partitionOf(key) function and a fixed set of partitions');
  if (timestampOf !== undefined && typeof timestampOf !== 'function') throw invalidOption(where, 'timestampOf must be a function');
  for (const option of ['idleTimeoutMs', 'idleEventTimeMs', 'maxPartitions', 'scheduler'] as const) {
    if ((options as unknown as Record<string, unknown>)[option] !== undefined) {
      throw invalidOption(where, `${option} cannot be used distributed: every partition lives for the application's whole life, its state in Redis`);
    }
  }
  const partitions = partitioner.partitions;
  if (!Array.isArray(partitions) || partitions.length === 0) {
    throw invalidOption(where, `the partitioner ${partitioner.name} declares no fixed set of partitions; a distributed application needs one (hashMod(n), wallarooHashRing(n))`);
  }
  if (partitions.length > MAX_PARTITIONS) throw invalidOption(where, `at most ${MAX_PARTITIONS} partitions, ${partitioner.name} declares ${partitions.length}`);
  const indexOf = new Map<P, number>();
  for (const p of partitions as readonly P[]) {
    if (!((typeof p === 'number' && Number.isFinite(p)) || typeof p === 'string')) throw invalidOption(where, `partitions must be numbers or strings, got ${String(p)}`);
    if (indexOf.has(p)) throw invalidOption(where, `the partitioner declares partition ${String(p)} twice`);
    indexOf.set(p, indexOf.size);
  }
  const tickEveryMs = options.tickEveryMs ?? HOUR_MS;
  if (!(Number.isInteger(tickEveryMs) && tickEveryMs > 0)) throw invalidOption(where, `tickEveryMs must be an integer > 0, got ${String(tickEveryMs)}`);
  const { maxFutureMs, confirmations } = options;
  checkFutureOptions(where, maxFutureMs, confirmations, undefined);
  if (maxFutureMs !== undefined && timestampOf === undefined) throw invalidOption(where, 'maxFutureMs needs timestampOf');
  if (maxFutureMs !== undefined && maxFutureMs < tickEveryMs) throw invalidOption(where, `maxFutureMs (${maxFutureMs}) must be at least tickEveryMs (${tickEveryMs})`);
  const tickOffsetsMs = [...(options.tickOffsetsMs ?? [0])];
  if (tickOffsetsMs.length === 0 || tickOffsetsMs.some((o) => !Number.isInteger(o) || o < 0)) throw invalidOption(where, 'tickOffsetsMs must be a non-empty list of integers >= 0');
  for (const [fn, label] of [[options.encode, 'encode'], [options.decode, 'decode'], [options.encodeOutput, 'encodeOutput'], [options.decodeOutput, 'decodeOutput']] as const) {
    if (fn !== undefined && typeof fn !== 'function') throw invalidOption(where, `${label} must be a function`);
  }
  const params = { ...(options.params ?? {}) };
  for (const [key, value] of Object.entries(params)) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) throw invalidOption(where, `params.${key} must be a string, number or boolean`);
  }
  const tags = partitionTags(name, partitions.length);
  return Object.freeze({
    name,
    keyOf,
    partitioner,
    pipeline,
    timestampOf,
    maxFutureMs,
    confirmations: confirmations ?? 3,
    tickEveryMs,
    tickOffsetsMs: Object.freeze(tickOffsetsMs),
    encode: options.encode ?? ((value: T) => JSON.stringify(value)),
    decode: options.decode ?? ((text: string) => JSON.parse(text) as T),
    encodeOutput: options.encodeOutput ?? ((output: R) => toJson(output)),
    decodeOutput: options.decodeOutput ?? ((text: string) => JSON.parse(text) as R),
    params: Object.freeze(params),
    partitions: Object.freeze([...(partitions as readonly P[])]),
    indexOf,
    keys: appKeys(name),
    partitionKeys: Object.freeze(tags.map(partitionKeys)),
    tags: Object.freeze(tags),
  });
}
