import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Closers } from '@qchat/runtime';
import type { Broker } from './broker';
import { MemoryBroker } from './broker-memory';
import { RedisBroker } from './broker-redis';
import type { Requester } from './requester';
import { MemoryRequester } from './requester-memory';
import { connectNats, createRedis } from './connections';

/** What a service needs from the outside world: broadcast, requests, and (when configured) Redis for state. */
export interface Bus {
  broker: Broker;
  requester: Requester;
  /** Present when REDIS_URL is set; state stores use it, otherwise they are in memory. */
  redis: Redis | undefined;
  mode: { broker: 'memory' | 'redis'; requester: 'memory' | 'nats' };
  close(): Promise<void>;
}

export interface BusConfig {
  REDIS_URL: string | undefined;
  NATS_URL: string | undefined;
}

/** Picks the adapters: Redis when REDIS_URL is set, NATS when NATS_URL is set, in-memory otherwise. */
export async function createBus(config: BusConfig, log: Logger, name: string): Promise<Bus> {
  const closers = new Closers(log);
  let broker: Broker;
  let redis: Redis | undefined;
  if (config.REDIS_URL) {
    redis = closers.add('redis', createRedis(config.REDIS_URL, log, name), (r) => r.quit().catch(() => r.disconnect()));
    broker = closers.add('broker', new RedisBroker(redis), (b) => b.close());
  } else {
    broker = closers.add('broker', new MemoryBroker(), (b) => b.close());
  }
  let requester: Requester;
  if (config.NATS_URL) {
    requester = closers.add('nats', (await connectNats(config.NATS_URL, log, name)).requester, (r) => r.close());
  } else {
    requester = closers.add('requester', new MemoryRequester(), (r) => r.close());
  }
  return {
    broker,
    requester,
    redis,
    mode: { broker: config.REDIS_URL ? 'redis' : 'memory', requester: config.NATS_URL ? 'nats' : 'memory' },
    close: () => closers.closeAll(),
  };
}
