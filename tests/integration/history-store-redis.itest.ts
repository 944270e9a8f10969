import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { RedisHistoryStore } from '../../services/relay/src/store';
import { historyStoreContract } from '../contract/history-store.contract';

historyStoreContract('redis', async () => {
  const redis = new Redis(inject('redisUrl'));
  const instance = `t${randomUUID()}`;
  return {
    store: new RedisHistoryStore(redis, instance),
    close: async () => {
      const left = await redis.keys(`qchat:${instance}:*`);
      if (left.length) await redis.del(...left);
      await redis.quit();
    },
  };
});
