/**
 * Every Lua script of the engine, in one place. Each is registered on the engine's client with defineCommand (sent
 * by EVALSHA, loaded again by ioredis after a server restart) and typed below by augmenting ioredis' command list, so
 * callers need no casts. A script touches only the keys it is given, except where noted: presence scripts that
 * reach channels known only from stored data build key names in Lua from templates (fine on one Redis; a Redis
 * Cluster engine would give those keys a hash tag per instance and publish with SPUBLISH).
 */
import type { Redis, Result } from 'ioredis';

/** A history mark in progress is PENDING + its owner; a finished one is the frame itself (a JSON object: never this prefix). */
export const PENDING = 'pending:';

/** How many history entries the delete script holds at once (entries can be megabytes: photos). */
const REMOVE_CHUNK = 8;

/**
 * Lua shared by every script. ARGV[1..10] are the key templates (prefix, suffix) of conns, nicks, connNick,
 * edgeConns and edgeAlive; each script's own arguments start at ARGV[11].
 */
const PRESENCE_LIB = `
local function connsKey(ch) return ARGV[1] .. ch .. ARGV[2] end
local function nicksKey(ch) return ARGV[3] .. ch .. ARGV[4] end
local function connNickKey(ch) return ARGV[5] .. ch .. ARGV[6] end
local function edgeConnsKey(e) return ARGV[7] .. e .. ARGV[8] end
local function aliveKey(e) return ARGV[9] .. e .. ARGV[10] end
-- "channel\\tconn": conn ids hold no tab, so split at the last one
local function split(m) return string.match(m, '^(.*)\\t([^\\t]*)$') end
-- releases conn's nickname (the nick hash entry only if conn still holds it); returns it or false
local function unregister(nk, cnk, conn)
  local nick = redis.call('HGET', cnk, conn)
  if nick then
    redis.call('HDEL', cnk, conn)
    if redis.call('HGET', nk, nick) == conn then redis.call('HDEL', nk, nick) end
  end
  return nick
end
-- takes m off edge's set; an edge that holds nothing more leaves the edges set
local function release(edgesKey, edge, m)
  local ek = edgeConnsKey(edge)
  redis.call('SREM', ek, m)
  if redis.call('SCARD', ek) == 0 then redis.call('SREM', edgesKey, edge) end
end
-- puts conn in a channel under edge; true when conn was not in the channel before
local function attach(ck, ek, edgesKey, channel, conn, edge)
  local m = channel .. '\\t' .. conn
  local prev = redis.call('HGET', ck, conn)
  if prev ~= edge then
    if prev then release(edgesKey, prev, m) end
    redis.call('HSET', ck, conn, edge)
  end
  redis.call('SADD', ek, m)
  redis.call('SADD', edgesKey, edge)
  return prev == false
end
-- removes conn from a channel if edge holds it; returns removed, nick
local function detach(channel, conn, edge)
  local ck = connsKey(channel)
  if redis.call('HGET', ck, conn) ~= edge then return false, false end
  redis.call('HDEL', ck, conn)
  return true, unregister(nicksKey(channel), connNickKey(channel), conn)
end
`;

export const SCRIPTS = {
  /** KEYS mark; ARGV owner, ttl, stale (-1: never). Another owner's claim younger than `stale` stays theirs. */
  qchatRelayClaim: {
    keys: 1,
    lua: `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, ${PENDING.length}) ~= '${PENDING}' then return {'done', v} end
if v and v ~= '${PENDING}' .. ARGV[1] then
  local stale = tonumber(ARGV[3])
  if stale < 0 or tonumber(ARGV[2]) - redis.call('PTTL', KEYS[1]) < stale then return {'pending'} end
end
redis.call('SET', KEYS[1], '${PENDING}' .. ARGV[1], 'PX', ARGV[2])
return {'new'}`,
  },
  /** KEYS mark, history; ARGV owner, frame, max, ttl, topic, payload, result. Stores, publishes and marks done at once. */
  qchatRelayCommit: {
    keys: 2,
    lua: `
local v = redis.call('GET', KEYS[1])
if v ~= '${PENDING}' .. ARGV[1] then return {'lost', v} end
local max = tonumber(ARGV[3])
if max > 0 then
  redis.call('LPUSH', KEYS[2], ARGV[2])
  redis.call('LTRIM', KEYS[2], 0, max - 1)
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
redis.call('SET', KEYS[1], ARGV[7], 'PX', ARGV[4])
return {'committed'}`,
  },
  /**
   * KEYS history; ARGV the needle '"id":"<id>"'. Removes the first stored frame whose head holds the needle, reading
   * the list ${REMOVE_CHUNK} entries at a time (never the whole list at once), then LREM by the exact stored value.
   */
  qchatRelayRemove: {
    keys: 1,
    lua: `
local n = redis.call('LLEN', KEYS[1])
for start = 0, n - 1, ${REMOVE_CHUNK} do
  for _, v in ipairs(redis.call('LRANGE', KEYS[1], start, start + ${REMOVE_CHUNK - 1})) do
    if string.find(string.sub(v, 1, 256), ARGV[1], 1, true) then
      return redis.call('LREM', KEYS[1], 1, v)
    end
  end
end
return 0`,
  },
  /** KEYS mark; ARGV the pending value to delete */
  qchatRelayRelease: {
    keys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
  /** KEYS conns, edgeConns, edges, alive; ARGV channel, conn, edge, ttl */
  qchatPresenceJoin: {
    keys: 4,
    lua: `${PRESENCE_LIB}
redis.call('SET', KEYS[4], '1', 'PX', ARGV[14])
attach(KEYS[1], KEYS[2], KEYS[3], ARGV[11], ARGV[12], ARGV[13])
return redis.call('HLEN', KEYS[1])`,
  },
  /** KEYS conns, nicks, connNick, edgeConns, edges, alive; ARGV channel, conn, edge, ttl, nick */
  qchatPresenceRegister: {
    keys: 6,
    lua: `${PRESENCE_LIB}
local conn, nick = ARGV[12], ARGV[15]
redis.call('SET', KEYS[6], '1', 'PX', ARGV[14])
local holder = redis.call('HGET', KEYS[2], nick)
if holder == conn then return {'same', false} end
if holder then return {'taken', false} end
attach(KEYS[1], KEYS[4], KEYS[5], ARGV[11], conn, ARGV[13])
local replaced = unregister(KEYS[2], KEYS[3], conn)
redis.call('HSET', KEYS[2], nick, conn)
redis.call('HSET', KEYS[3], conn, nick)
return {'ok', replaced}`,
  },
  /** KEYS conns, nicks, connNick, edges; ARGV channel, conn */
  qchatPresenceLeave: {
    keys: 4,
    lua: `${PRESENCE_LIB}
local conn = ARGV[12]
local edge = redis.call('HGET', KEYS[1], conn)
if edge then
  redis.call('HDEL', KEYS[1], conn)
  release(KEYS[4], edge, ARGV[11] .. '\\t' .. conn)
end
local nick = unregister(KEYS[2], KEYS[3], conn)
return {edge and 1 or 0, redis.call('HLEN', KEYS[1]), nick}`,
  },
  /** KEYS conns, nicks, connNick; ARGV conn. Drops conn's nickname and keeps the connection. */
  qchatPresenceRelease: {
    keys: 3,
    lua: `${PRESENCE_LIB}
local conn = ARGV[11]
local nick = unregister(KEYS[2], KEYS[3], conn)
return {redis.call('HEXISTS', KEYS[1], conn), redis.call('HLEN', KEYS[1]), nick}`,
  },
  /** KEYS edges */
  qchatPresenceDeadEdges: {
    keys: 1,
    lua: `${PRESENCE_LIB}
local out = {}
for _, e in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', aliveKey(e)) == 0 then out[#out + 1] = e end
end
return out`,
  },
  /** KEYS edgeConns, edges, alive; ARGV edge. Returns channel, conn, nick (or nil) flattened. */
  qchatPresenceReclaim: {
    keys: 3,
    lua: `${PRESENCE_LIB}
local edge = ARGV[11]
local out = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local channel, conn = split(m)
  if channel then
    local removed, nick = detach(channel, conn, edge)
    if removed then
      out[#out + 1] = channel
      out[#out + 1] = conn
      out[#out + 1] = nick
    end
  end
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SREM', KEYS[2], edge)
return out`,
  },
  /** KEYS edgeConns, edges, alive; ARGV edge, ttl, then (channel, conn, '' | '=' .. nick) per conn */
  qchatPresenceSync: {
    keys: 3,
    lua: `${PRESENCE_LIB}
local edge = ARGV[11]
local wanted, changed, channels, lost = {}, {}, {}, {}
local function mark(ch)
  if not changed[ch] then changed[ch] = true; channels[#channels + 1] = ch end
end
for i = 13, #ARGV, 3 do wanted[ARGV[i] .. '\\t' .. ARGV[i + 1]] = true end
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not wanted[m] then
    redis.call('SREM', KEYS[1], m)
    local channel, conn = split(m)
    if channel and detach(channel, conn, edge) then mark(channel) end
  end
end
for i = 13, #ARGV, 3 do
  local channel, conn, enc = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if attach(connsKey(channel), KEYS[1], KEYS[2], channel, conn, edge) then mark(channel) end
  local nk, cnk = nicksKey(channel), connNickKey(channel)
  if enc == '' then
    unregister(nk, cnk, conn)
  else
    local nick = string.sub(enc, 2)
    local holder = redis.call('HGET', nk, nick)
    if not (holder == conn and redis.call('HGET', cnk, conn) == nick) then
      unregister(nk, cnk, conn)
      if holder and holder ~= conn then
        lost[#lost + 1] = conn
      else
        redis.call('HSET', nk, nick, conn)
        redis.call('HSET', cnk, conn, nick)
      end
    end
  end
end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[12])
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], edge) end
return {lost, channels}`,
  },
  /** KEYS conns; ARGV topic, envelope up to the count, rest of the frame. Counts and publishes in one step. */
  qchatPresencePublishCount: {
    keys: 1,
    lua: `
local n = redis.call('HLEN', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. n .. ARGV[3])
return n`,
  },
  /** KEYS lease; ARGV owner, ttl. Extends our lease, or takes a free one. */
  qchatBridgeLeaseRenew: {
    keys: 1,
    lua: `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0`,
  },
  /** KEYS lease; ARGV owner. Gives the lease up if it is ours. */
  qchatBridgeLeaseRelease: {
    keys: 1,
    lua: `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`,
  },
} as const;

/** Registers every script on a client (the engine's, once). */
export function defineScripts(redis: Redis): void {
  for (const [name, { keys: numberOfKeys, lua }] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys, lua });
}

type Arg = string | number | Buffer;
type Nullable = string | null;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    qchatRelayClaim(mark: string, owner: string, ttlMs: number, staleMs: number): Result<['done', string] | ['new'] | ['pending'], Context>;
    qchatRelayCommit(mark: string, history: string, owner: string, frame: string, max: number, ttlMs: number, topic: string, payload: Buffer, result: string): Result<['committed'] | ['lost', Nullable], Context>;
    qchatRelayRemove(history: string, needle: string): Result<number, Context>;
    qchatRelayRelease(mark: string, pending: string): Result<number, Context>;
    qchatPresenceJoin(...keysThenArgs: Arg[]): Result<number, Context>;
    qchatPresenceRegister(...keysThenArgs: Arg[]): Result<['ok' | 'taken' | 'same', Nullable], Context>;
    qchatPresenceLeave(...keysThenArgs: Arg[]): Result<[number, number, Nullable], Context>;
    qchatPresenceRelease(...keysThenArgs: Arg[]): Result<[number, number, Nullable], Context>;
    qchatPresenceDeadEdges(...keysThenArgs: Arg[]): Result<string[], Context>;
    qchatPresenceReclaim(...keysThenArgs: Arg[]): Result<Nullable[], Context>;
    qchatPresenceSync(...keysThenArgs: Arg[]): Result<[string[], string[]], Context>;
    qchatPresencePublishCount(conns: string, topic: string, head: Buffer, tail: string): Result<number, Context>;
    qchatBridgeLeaseRenew(lease: string, owner: string, ttlMs: number): Result<number, Context>;
    qchatBridgeLeaseRelease(lease: string, owner: string): Result<number, Context>;
  }
}
