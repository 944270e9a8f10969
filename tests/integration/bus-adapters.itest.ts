/** The bus adapters against a real Redis and NATS (started by tests/support/global-setup.ts). */
import { inject } from 'vitest';
import { connectNats, createRedis, RedisBroker } from '@qchat/bus';
import { silentLogger } from '@qchat/runtime';
import { brokerContract } from '../contract/broker.contract';
import { requesterContract } from '../contract/requester.contract';

const log = silentLogger();

brokerContract('RedisBroker', async () => {
  const url = inject('redisUrl');
  const redis = createRedis(url, log, 'test-broker');
  const otherRedis = createRedis(url, log, 'test-broker-other');
  const broker = new RedisBroker(redis);
  const other = new RedisBroker(otherRedis);
  await Promise.all([redis, otherRedis].map((r) => waitReady(r)));
  return {
    broker,
    other,
    close: async () => {
      await Promise.all([broker.close(), other.close()]);
      await Promise.all([redis.quit(), otherRedis.quit()]);
    },
  };
});

requesterContract('NatsRequester', async () => {
  const url = inject('natsUrl');
  const [a, b] = await Promise.all([connectNats(url, log, 'test-requester'), connectNats(url, log, 'test-requester-other')]);
  return {
    requester: a.requester,
    other: b.requester,
    close: async () => {
      await Promise.all([a.requester.close(), b.requester.close()]);
      await Promise.all([a.nc.closed(), b.nc.closed()]);
    },
  };
});

/** ioredis connects in the background; ready() is part of the contract, so start from a connected client. */
function waitReady(redis: ReturnType<typeof createRedis>): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    redis.once('ready', () => resolve());
    redis.once('end', () => reject(new Error('redis connection ended before ready')));
  });
}
