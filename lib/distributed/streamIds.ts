/**
 * Redis stream entry ids (`<ms>-<seq>`) as rivulet uses them: the router's ids are
 * `<value seq>-0` for a value and `<value seq>-1` for the tick after it; outputs are `<seq>-0`.
 */
import { LuaScript, type RedisClient } from './connection';

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

// Through a script, so that a Cluster client routes it by its key (XINFO has none it knows of).
const LAST_ID = new LuaScript(
  'rivulet-last-id',
  `#!lua flags=no-writes
if redis.call('EXISTS', KEYS[1]) == 0 then return '0-0' end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then return info[i + 1] end
end
return '0-0'`,
);

/** The last id ever appended to a stream (kept when entries are trimmed); '0-0' when there is none. */
export async function lastIdOf(client: RedisClient, key: string): Promise<string> {
  return String(await LAST_ID.run(client, [key], []));
}
