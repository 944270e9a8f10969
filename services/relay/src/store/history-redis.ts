import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { QChatError, keys, type Keys } from '@qchat/protocol';
import { REDIS_SETTLE_MS, watchConnection, type ConnectionWatch } from '@qchat/bus';
import type { Accepted, Claim, ClaimOptions, Committed, HistoryStore } from './history';

/** A mark in progress is PENDING + its owner; a finished one is the frame itself (a JSON object: never this prefix). */
const PENDING = 'pending:';

const LUA = {
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
  /** KEYS mark, history; ARGV owner, frame, max, ttl, topic, payload, result */
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
  /** KEYS history; ARGV the needle '"id":"<id>"'. Removes the first stored frame whose head holds the needle. */
  qchatRelayRemove: {
    keys: 1,
    lua: `
for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.find(string.sub(v, 1, 256), ARGV[1], 1, true) then
    return redis.call('LREM', KEYS[1], 1, v)
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
} as const;
type ScriptName = keyof typeof LUA;
type RunScript = (...args: (string | number | Buffer)[]) => Promise<unknown>;

/**
 * History as a Redis list, newest at the head (LPUSH + LTRIM), as gischat does; marks as keys with a TTL. A commit
 * stores, publishes (on the same Redis the edges subscribe to) and marks done in one script.
 *
 * While the connection is down, claims fail at once rather than wait in the client's queue and run after the edge
 * gave up. Right after it is back, the edges' subscriber connections may still be on their way (they retry on their
 * own backoff, up to REDIS_RECONNECT_MAX_MS apart), and a message published then would be stored yet missed by their
 * sockets; so claims are refused for `settleMs` after a reconnect too: the sender gets a clear "try again" instead.
 */
export class RedisHistoryStore implements HistoryStore {
  private readonly keys: Keys;
  private readonly settleMs: number;
  private readonly connection: ConnectionWatch;

  constructor(private readonly redis: Redis, instance: string, opts: { settleMs?: number } = {}) {
    this.keys = keys(instance);
    this.settleMs = opts.settleMs ?? REDIS_SETTLE_MS;
    for (const [name, { keys: numberOfKeys, lua }] of Object.entries(LUA)) redis.defineCommand(name, { numberOfKeys, lua });
    this.connection = watchConnection(redis);
  }

  async list(channel: string): Promise<string[]> {
    const newestFirst = await this.redis.lrange(this.keys.history(channel), 0, -1);
    return newestFirst.reverse();
  }

  async claim(id: string, ttlMs: number, opts: ClaimOptions = {}): Promise<Claim> {
    if (this.connection.down()) throw new QChatError('unavailable', 'redis unavailable');
    if (Date.now() - this.connection.backAt() < this.settleMs) throw new QChatError('unavailable', 'redis reconnected moments ago; subscribers are catching up');
    const owner = opts.owner ?? randomUUID();
    const [state, frame] = (await this.run('qchatRelayClaim', [this.keys.published(id)], [owner, ttlMs, opts.staleMs ?? -1])) as [Claim['state'], string?];
    return state === 'done' ? { state, frame: frame ?? '' } : { state };
  }

  async commit(id: string, owner: string, a: Accepted, ttlMs: number): Promise<Committed> {
    const keys = [this.keys.published(id), this.keys.history(a.channel)];
    const [state, held] = (await this.run('qchatRelayCommit', keys, [owner, a.frame, a.max, ttlMs, a.topic, a.payload, a.result])) as [Committed['state'], string?];
    if (state === 'committed') return { state, published: true };
    return { state, frame: held == null || held.startsWith(PENDING) ? null : held };
  }

  async remove(channel: string, id: string): Promise<boolean> {
    return Number(await this.run('qchatRelayRemove', [this.keys.history(channel)], [`"id":"${id}"`])) > 0;
  }

  async clear(channel: string): Promise<number> {
    const key = this.keys.history(channel);
    const [[, n]] = (await this.redis.multi().llen(key).del(key).exec()) as [[unknown, number], unknown];
    return Number(n);
  }

  async release(id: string, owner?: string): Promise<void> {
    if (owner === undefined) await this.redis.del(this.keys.published(id));
    else await this.run('qchatRelayRelease', [this.keys.published(id)], [PENDING + owner]);
  }

  private run(name: ScriptName, keys: string[], args: (string | number | Buffer)[]): Promise<unknown> {
    const fn = (this.redis as unknown as Record<ScriptName, RunScript>)[name];
    return fn.call(this.redis, ...keys, ...args);
  }
}
