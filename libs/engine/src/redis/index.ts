import type { Logger } from 'pino';
import type { Engine, EngineOptions } from '../engine';
import { keys } from '../keys';
import { ChannelTopics } from '../topics';
import { RedisBridgeStore } from './bridge';
import { RedisBroker } from './broker';
import { REDIS_SETTLE_MS, createRedis, watchConnection } from './connection';
import { RedisHistoryStore } from './history';
import { defineScripts } from './lua';
import { RedisModerationStore } from './moderation';
import { RedisPresenceStore } from './presence';

/**
 * One Redis: one client for commands and scripts (auto-pipelined), one more for subscriptions. Every multi-key
 * change is one Lua script (lua.ts); scripts that publish do it from Lua, on the server the edges subscribe to.
 */
export function createRedisEngine(opts: Extract<EngineOptions, { kind: 'redis' }>, log: Logger, name: string): Engine {
  const k = keys(opts.instance);
  const redis = createRedis(opts.url, log, name);
  defineScripts(redis);
  const connection = watchConnection(redis);
  const broker = new RedisBroker(redis);
  return {
    mode: 'redis',
    keys: k,
    topics: new ChannelTopics(broker, k),
    history: new RedisHistoryStore(redis, k, connection),
    presence: new RedisPresenceStore(redis, k, connection, { edgeTtlMs: opts.edgeTtlMs }),
    moderation: new RedisModerationStore(redis, k),
    bridge: new RedisBridgeStore(redis, k),
    settlesAt: () => (connection.backAt() === 0 ? 0 : connection.backAt() + REDIS_SETTLE_MS),
    ready: () => broker.ready(),
    close: async () => {
      await broker.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
