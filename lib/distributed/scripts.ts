/**
 * The server-side steps of workers, as Lua scripts. Each touches the keys of one partition only
 * (one hash tag, so one slot on a Cluster) and runs atomically. Neither Lua nor MULTI rolls back,
 * so a script that writes makes every check first. The `#!lua` line lets Redis refuse a writing
 * script as a whole, before it starts, when memory is full (`noeviction`).
 */
import { LuaScript } from './connection';

/**
 * Takes a partition's lease if it is free (or already this worker's, when a reply was lost) and
 * returns the new fencing epoch; if another worker holds it, minus the milliseconds its lease
 * has left (so a worker waiting for it can try again just then).
 * KEYS: lease, epoch. ARGV: worker, lease ms.
 */
export const ACQUIRE = new LuaScript(
  'rivulet-acquire',
  `#!lua
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return -math.max(1, redis.call('PTTL', KEYS[1])) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('INCR', KEYS[2])`,
);

/**
 * Extends the lease if this worker holds it at this epoch, or takes it back if it lapsed while
 * nobody took it (the epoch is still this worker's: a stalled event loop, a short freeze); 0 if
 * another worker holds it or took it meanwhile (the worker is fenced).
 * KEYS: lease, epoch. ARGV: worker, epoch, lease ms.
 */
export const RENEW = new LuaScript(
  'rivulet-renew',
  `#!lua
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`,
);

/**
 * Gives the lease up if this worker holds it at this epoch.
 * KEYS: lease, epoch. ARGV: worker, epoch.
 */
export const RELEASE = new LuaScript(
  'rivulet-release',
  `#!lua
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1`,
);

/**
 * One batch's commit: checks the epoch (the fence: any other acquisition moved it), that no
 * other worker holds the lease (a lapsed one is taken back, as in RENEW), and the offset the batch
 * started from (which also catches a commit lost by the server, to AOF or failover, and a command
 * sent twice), and only then appends the outputs with their explicit ids, replaces the state and
 * the offset, extends the lease, and trims the input up to the new offset. Errors start with FENCED.
 * KEYS: lease, epoch, offset, state, output, input.
 * ARGV: worker, epoch, expected offset ('' for none), new offset, lease ms, state, trim id, then
 * pairs of output id and output text.
 */
export const COMMIT = new LuaScript(
  'rivulet-commit',
  `#!lua
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return redis.error_reply('FENCED the epoch moved on') end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return redis.error_reply('FENCED another worker holds the lease') end
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[3] then return redis.error_reply('FENCED the committed offset is not the one this batch started from') end
for i = 8, #ARGV, 2 do
  redis.call('XADD', KEYS[5], ARGV[i], 'v', ARGV[i + 1])
end
redis.call('SET', KEYS[4], ARGV[6])
redis.call('SET', KEYS[3], ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[5])
redis.call('XTRIM', KEYS[6], 'MINID', ARGV[7])
return 1`,
);

/**
 * A worker's heartbeat: records until when it counts as live (server time plus the timeout, so
 * readers need not know the timeout), forgets workers past theirs, and returns how many are live
 * and in how many milliseconds the next other worker expires if it stays silent (-1: none).
 * KEYS: workers. ARGV: worker, timeout ms.
 */
export const HEARTBEAT = new LuaScript(
  'rivulet-heartbeat',
  `#!lua
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
local soonest = -1
local first = redis.call('ZRANGE', KEYS[1], 0, 1, 'WITHSCORES')
for i = 1, #first, 2 do
  if first[i] ~= ARGV[1] then
    soonest = tonumber(first[i + 1]) - now
    break
  end
end
return {redis.call('ZCARD', KEYS[1]), soonest}`,
);

/** How many workers are live, without being one (for readers). KEYS: workers. */
export const LIVE_WORKERS = new LuaScript(
  'rivulet-live-workers',
  `#!lua flags=no-writes
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], now, '+inf')`,
);

/** Whether an error from a script is the fence's refusal. */
export function isFenced(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('FENCED');
}
