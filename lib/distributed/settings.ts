/**
 * The settings record of a distributed application: written once by the first router, read by
 * workers and readers, so that they need nothing but the connection and the name. The partition
 * count is fixed for the application's life: state and streams are laid out by it.
 */
import { RivuletError } from '../core/errors';
import type { DistributedApp, PartitionId } from './app';
import { appKeys } from './keys';
import { redisFailed, type RedisClient } from './connection';
import { pause } from './wait';

export const SETTINGS_FORMAT = 'rivulet-distributed 1';

export interface DistributedSettings {
  format: string;
  app: string;
  partitioner: string;
  partitions: PartitionId[];
  tags: string[];
  /** Whether values carry event time (ticks are appended). */
  timed: boolean;
  tickEveryMs: number;
  tickOffsetsMs: number[];
  /** The router's future bound (null: none) and its confirmations. */
  maxFutureMs: number | null;
  confirmations: number;
  params: Record<string, string | number | boolean>;
}

export function settingsOf<T, K, P extends PartitionId, R>(app: DistributedApp<T, K, P, R>): DistributedSettings {
  return {
    format: SETTINGS_FORMAT,
    app: app.name,
    partitioner: app.partitioner.name,
    partitions: [...app.partitions],
    tags: [...app.tags],
    timed: app.timestampOf !== undefined,
    tickEveryMs: app.tickEveryMs,
    tickOffsetsMs: [...app.tickOffsetsMs],
    maxFutureMs: app.maxFutureMs ?? null,
    confirmations: app.confirmations,
    params: { ...app.params },
  };
}

/** Where `settings` differ from what `app` would write, in words; undefined if they agree. */
export function settingsMismatch<T, K, P extends PartitionId, R>(app: DistributedApp<T, K, P, R>, settings: DistributedSettings): string | undefined {
  const mine = settingsOf(app);
  const differences: string[] = [];
  const fields: Array<keyof DistributedSettings> = ['format', 'app', 'partitioner', 'partitions', 'tags', 'timed', 'tickEveryMs', 'tickOffsetsMs', 'maxFutureMs', 'confirmations'];
  for (const field of fields) {
    if (JSON.stringify(mine[field]) !== JSON.stringify(settings[field])) differences.push(`${field} ${brief(settings[field])} (here: ${brief(mine[field])})`);
  }
  const names = new Set([...Object.keys(mine.params), ...Object.keys(settings.params ?? {})]);
  for (const name of names) {
    const stored = settings.params?.[name];
    if (stored !== mine.params[name]) differences.push(`${name} ${brief(stored)} (here: ${brief(mine.params[name])})`);
  }
  return differences.length === 0 ? undefined : differences.join(', ');
}

/** Throws ERR_CHECKPOINT_INCOMPATIBLE when the stored settings do not fit `app`. */
export function checkSettings<T, K, P extends PartitionId, R>(app: DistributedApp<T, K, P, R>, settings: DistributedSettings): void {
  const mismatch = settingsMismatch(app, settings);
  if (mismatch !== undefined) {
    throw new RivuletError(
      'ERR_CHECKPOINT_INCOMPATIBLE',
      `${app.name}: the application in Redis was set up with other settings: ${mismatch}; use the same settings, or another --app name`,
    );
  }
}

/**
 * Writes the settings if the application has none yet, or checks them against those stored.
 * Returns whether they were written now.
 */
export async function publishSettings<T, K, P extends PartitionId, R>(client: RedisClient, app: DistributedApp<T, K, P, R>): Promise<boolean> {
  let written: string | null;
  try {
    written = await client.set(app.keys.settings, JSON.stringify(settingsOf(app)), 'NX');
  } catch (error) {
    throw redisFailed(`writing the settings of ${app.name}`, error);
  }
  if (written === 'OK') return true;
  const stored = await readSettings(client, app.name);
  if (stored === undefined) throw new RivuletError('ERR_CHECKPOINT_STORE', `${app.name}: the settings record vanished while it was being checked`);
  checkSettings(app, stored);
  return false;
}

/** The stored settings of application `name`, if a router wrote them. */
export async function readSettings(client: RedisClient, name: string): Promise<DistributedSettings | undefined> {
  let text: string | null;
  try {
    text = await client.get(appKeys(name).settings);
  } catch (error) {
    throw redisFailed(`reading the settings of ${name}`, error);
  }
  if (text === null) return undefined;
  let settings: DistributedSettings;
  try {
    settings = JSON.parse(text) as DistributedSettings;
  } catch {
    throw new RivuletError('ERR_CHECKPOINT_STORE', `${name}: the settings record is not JSON`);
  }
  if (settings?.format !== SETTINGS_FORMAT || !Array.isArray(settings.partitions) || !Array.isArray(settings.tags) || settings.partitions.length !== settings.tags.length) {
    throw new RivuletError('ERR_CHECKPOINT_STORE', `${name}: the settings record is not one this version of rivulet reads (format ${JSON.stringify(settings?.format)})`);
  }
  return settings;
}

/**
 * Waits until a router has written the settings of `name`, polling; `onWaiting` is called once
 * when there are none yet. Resolves undefined if `signal` aborts first.
 */
export async function waitForSettings(
  client: RedisClient,
  name: string,
  options: { onWaiting?: () => void; signal?: AbortSignal; pollMs?: number } = {},
): Promise<DistributedSettings | undefined> {
  let told = false;
  for (;;) {
    const settings = await readSettings(client, name);
    if (settings !== undefined) return settings;
    if (!told) options.onWaiting?.();
    told = true;
    await pause(options.pollMs ?? 200, options.signal);
    if (options.signal?.aborted) return undefined;
  }
}

function brief(value: unknown): string {
  const text = JSON.stringify(value) ?? 'none';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
