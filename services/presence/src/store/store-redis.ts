import type { Redis } from 'ioredis';
import { QChatError, keys, type ConnState, type Keys } from '@qchat/protocol';
import { watchConnection, type ConnectionWatch } from '@qchat/bus';
import type { LeaveResult, Member, PresenceStore, Reclaimed, RegisterResult } from './store';

type Template = readonly [prefix: string, suffix: string];
type RunScript = (...args: (string | number)[]) => Promise<unknown>;

const MARK = '\u0000';
/** Splits a key builder into the text before and after its argument, so Lua can build the same key names. */
function template(build: (id: string) => string): Template {
  const parts = build(MARK).split(MARK);
  const [prefix, suffix] = parts;
  if (parts.length !== 2 || prefix === undefined || suffix === undefined) throw new Error('unusable key template');
  return [prefix, suffix];
}

/**
 * Lua shared by every script. ARGV[1..10] are the key templates (prefix, suffix) of conns, nicks, connNick,
 * edgeConns and edgeAlive; each script's own arguments start at ARGV[11].
 */
const LIB = `
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

const LUA = {
  /** KEYS conns, edgeConns, edges, alive; ARGV channel, conn, edge, ttl */
  qchatPresenceJoin: {
    keys: 4,
    lua: `${LIB}
redis.call('SET', KEYS[4], '1', 'PX', ARGV[14])
attach(KEYS[1], KEYS[2], KEYS[3], ARGV[11], ARGV[12], ARGV[13])
return redis.call('HLEN', KEYS[1])`,
  },
  /** KEYS conns, nicks, connNick, edgeConns, edges, alive; ARGV channel, conn, edge, ttl, nick */
  qchatPresenceRegister: {
    keys: 6,
    lua: `${LIB}
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
    lua: `${LIB}
local conn = ARGV[12]
local edge = redis.call('HGET', KEYS[1], conn)
if edge then
  redis.call('HDEL', KEYS[1], conn)
  release(KEYS[4], edge, ARGV[11] .. '\\t' .. conn)
end
local nick = unregister(KEYS[2], KEYS[3], conn)
return {edge and 1 or 0, redis.call('HLEN', KEYS[1]), nick}`,
  },
  /** KEYS edges */
  qchatPresenceDeadEdges: {
    keys: 1,
    lua: `${LIB}
local out = {}
for _, e in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', aliveKey(e)) == 0 then out[#out + 1] = e end
end
return out`,
  },
  /** KEYS edgeConns, edges, alive; ARGV edge. Returns channel, conn, nick (or nil) flattened. */
  qchatPresenceReclaim: {
    keys: 3,
    lua: `${LIB}
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
    lua: `${LIB}
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
} as const;
type ScriptName = keyof typeof LUA;

/**
 * Presence in Redis (layout in keys() of @qchat/protocol). Each multi-key mutation is one Lua script, so it is
 * atomic across presence replicas. Scripts that touch channels known only from stored data (reclaim, sync,
 * deadEdges) build key names inside Lua from the key templates passed in ARGV; that suits a single Redis, not a
 * Redis Cluster (which would need hash tags).
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly k: Keys;
  private readonly ttlMs: number;
  /** ARGV[1..10] of every script: the conns, nicks, connNick, edgeConns and edgeAlive key templates. */
  private readonly templates: string[];
  private readonly connection: ConnectionWatch;

  constructor(private readonly redis: Redis, opts: { instance: string; edgeTtlMs: number }) {
    this.k = keys(opts.instance);
    this.ttlMs = Math.max(1, Math.ceil(opts.edgeTtlMs));
    this.templates = [this.k.conns, this.k.nicks, this.k.connNick, this.k.edgeConns, this.k.edgeAlive].flatMap(template);
    for (const [name, { keys: numberOfKeys, lua }] of Object.entries(LUA)) {
      // Same name and same script for every store on a client: redefining is harmless.
      redis.defineCommand(name, { numberOfKeys, lua });
    }
    this.connection = watchConnection(redis);
  }

  async join(channel: string, conn: string, edge: string): Promise<number> {
    const k = this.k;
    const keys = [k.conns(channel), k.edgeConns(edge), k.edges, k.edgeAlive(edge)];
    return Number(await this.run('qchatPresenceJoin', keys, [channel, conn, edge, this.ttlMs]));
  }

  async register(channel: string, conn: string, edge: string, nick: string): Promise<RegisterResult> {
    const k = this.k;
    const keys = [k.conns(channel), k.nicks(channel), k.connNick(channel), k.edgeConns(edge), k.edges, k.edgeAlive(edge)];
    const reply = await this.run('qchatPresenceRegister', keys, [channel, conn, edge, this.ttlMs, nick]);
    const [status, replaced] = reply as [RegisterResult['status'], string | null];
    return { status, replaced: replaced ?? null };
  }

  async leave(channel: string, conn: string): Promise<LeaveResult> {
    const k = this.k;
    const reply = await this.run('qchatPresenceLeave', [k.conns(channel), k.nicks(channel), k.connNick(channel), k.edges], [channel, conn]);
    const [existed, count, nick] = reply as [number, number, string | null | undefined];
    return { existed: existed === 1, nick: nick ?? null, count };
  }

  async count(channel: string): Promise<number> {
    return this.redis.hlen(this.k.conns(channel));
  }

  async counts(channels: string[]): Promise<number[]> {
    if (!channels.length) return [];
    const replies = await this.redis.pipeline(channels.map((c) => ['hlen', this.k.conns(c)])).exec();
    return (replies ?? []).map(([err, n]) => {
      if (err) throw err;
      return Number(n);
    });
  }

  async users(channel: string): Promise<string[]> {
    return this.redis.hkeys(this.k.nicks(channel));
  }

  async holder(channel: string, nick: string): Promise<string | null> {
    return this.redis.hget(this.k.nicks(channel), nick);
  }

  async members(channel: string): Promise<Member[]> {
    const [conns, nicks] = await Promise.all([this.redis.hgetall(this.k.conns(channel)), this.redis.hgetall(this.k.connNick(channel))]);
    return Object.entries(conns).map(([conn, edge]) => ({ conn, edge, nick: nicks[conn] ?? null }));
  }

  async heartbeat(edge: string): Promise<number> {
    const [, n] = await Promise.all([
      this.redis.set(this.k.edgeAlive(edge), '1', 'PX', this.ttlMs),
      this.redis.scard(this.k.edgeConns(edge)),
    ]);
    return n;
  }

  async deadEdges(): Promise<string[]> {
    return (await this.run('qchatPresenceDeadEdges', [this.k.edges], [])) as string[];
  }

  async reclaim(edge: string): Promise<Reclaimed[]> {
    const k = this.k;
    const keys = [k.edgeConns(edge), k.edges, k.edgeAlive(edge)];
    const flat = (await this.run('qchatPresenceReclaim', keys, [edge])) as (string | null)[];
    const out: Reclaimed[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      out.push({ channel: flat[i] ?? '', conn: flat[i + 1] ?? '', nick: flat[i + 2] ?? null });
    }
    return out;
  }

  async sync(edge: string, conns: ConnState[]): Promise<{ lostNicks: string[]; channels: string[] }> {
    const k = this.k;
    const keys = [k.edgeConns(edge), k.edges, k.edgeAlive(edge)];
    // A nickname travels as '=' + nick, no nickname as '' (so an empty nickname stays distinguishable).
    const triples = conns.flatMap((c) => [c.channel, c.conn, c.nick === null ? '' : `=${c.nick}`]);
    const [lostNicks, channels] = (await this.run('qchatPresenceSync', keys, [edge, this.ttlMs, ...triples])) as [
      string[],
      string[],
    ];
    return { lostNicks, channels };
  }

  /**
   * Fails at once while the connection is down: a change queued until Redis is back would land after the edge gave
   * up and told its client (a registration refused, then announced anyway).
   */
  private run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
    if (this.connection.down()) return Promise.reject(new QChatError('unavailable', 'redis unavailable'));
    const fn = (this.redis as unknown as Record<ScriptName, RunScript>)[name];
    return fn.call(this.redis, ...keys, ...this.templates, ...args);
  }
}
