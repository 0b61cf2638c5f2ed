/**
 * Redis stream entry ids (`<ms>-<seq>`) as rivulet uses them: the router's ids are
 * `<value seq>-0` for a value and `<value seq>-1` for the tick after it; outputs are `<seq>-0`.
 */
import type { RedisClient } from './connection';

export type StreamId = readonly [number, number];

export function parseId(id: string): StreamId {
  const dash = id.indexOf('-');
  return dash < 0 ? [Number(id), 0] : [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

export function compareIds(a: StreamId, b: StreamId): number {
  return a[0] - b[0] || a[1] - b[1];
}

/** The smallest id after `id`: trimming with MINID of it removes `id` and everything before. */
export function nextId(id: string): string {
  const [ms, seq] = parseId(id);
  return `${ms}-${seq + 1}`;
}

/** The last id ever appended to a stream (kept when entries are trimmed); '0-0' when there is none. */
export async function lastIdOf(client: RedisClient, key: string): Promise<string> {
  let info: unknown;
  try {
    info = await client.xinfo('STREAM', key);
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return '0-0';
    throw error;
  }
  const fields = info as unknown[];
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'last-generated-id') return String(fields[i + 1]);
  return '0-0';
}
