/**
 * For tests only: the raw brokers (their own contract suite) and a small probe of a Redis server, so tests outside
 * the engine check what is stored or forge broker data without a Redis client of their own.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Broker } from './broker';
import { MemoryBroker } from './memory/broker';
import { RedisBroker } from './redis/broker';
import { createRedis, whenReady } from './redis/connection';

export function memoryBroker(): Broker {
  return new MemoryBroker();
}

/** A Redis broker on its own connection, connected when this resolves; close() also closes the connection. */
export async function redisBroker(url: string, log: Logger, name: string): Promise<Broker> {
  const redis = createRedis(url, log, name);
  const broker = new RedisBroker(redis);
  await whenReady(redis);
  return {
    publish: (topic, payload) => broker.publish(topic, payload),
    subscribe: (topic, onMessage) => broker.subscribe(topic, onMessage),
    ready: () => broker.ready(),
    close: async () => {
      await broker.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** Reads and raw writes on a Redis server, for assertions about the stored layout and for forged broker data. */
export class RedisProbe {
  private readonly redis: Redis;

  constructor(url: string) {
    this.redis = new Redis(url);
  }

  keys(pattern: string): Promise<string[]> {
    return this.redis.keys(pattern);
  }

  /** Deletes every key matching `pattern` (a test's instance when it ends). */
  async drop(pattern: string): Promise<void> {
    const left = await this.redis.keys(pattern);
    if (left.length) await this.redis.del(...left);
  }

  async del(...keys: string[]): Promise<number> {
    return keys.length ? this.redis.del(...keys) : 0;
  }

  hgetall(key: string): Promise<Record<string, string>> {
    return this.redis.hgetall(key);
  }

  smembers(key: string): Promise<string[]> {
    return this.redis.smembers(key);
  }

  lrange(key: string): Promise<string[]> {
    return this.redis.lrange(key, 0, -1);
  }

  pttl(key: string): Promise<number> {
    return this.redis.pttl(key);
  }

  exists(key: string): Promise<number> {
    return this.redis.exists(key);
  }

  async publish(topic: string, payload: Buffer | string): Promise<void> {
    await this.redis.publish(topic, payload);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
