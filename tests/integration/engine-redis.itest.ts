import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { keys } from '@qchat/protocol';
import { RedisPresenceStore } from '../../services/presence/src/store/store-redis';
import { presenceStoreContract } from '../contract/presence-store.contract';

const url = inject('redisUrl');

presenceStoreContract('redis', async () => {
  const redis = new Redis(url, { enableAutoPipelining: true });
  const instance = `t${randomUUID()}`;
  const store = new RedisPresenceStore(redis, { instance, edgeTtlMs: 60_000 });
  const k = keys(instance);
  return {
    store,
    expire: async (edge) => {
      await redis.del(k.edgeAlive(edge));
    },
    close: async () => {
      // Leave nothing behind in the shared Redis.
      const left = await redis.keys(`qchat:${instance}:*`);
      if (left.length) await redis.del(...left);
      await redis.quit();
    },
  };
});

describe('RedisPresenceStore on a real Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(url);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('lets an edge lapse by the key TTL', async () => {
    const store = new RedisPresenceStore(redis, { instance: `t${randomUUID()}`, edgeTtlMs: 200 });
    await store.join('A', randomUUID(), 'e1');
    await vi.waitFor(async () => expect(await store.deadEdges()).toEqual(['e1']), { timeout: 5_000, interval: 50 });
    expect(await store.reclaim('e1')).toHaveLength(1);
    expect(await store.deadEdges()).toEqual([]);
  });

  it('stores the layout keys() describes, and removes empty hashes', async () => {
    const instance = `t${randomUUID()}`;
    const k = keys(instance);
    const store = new RedisPresenceStore(redis, { instance, edgeTtlMs: 60_000 });
    const conn = randomUUID();
    await store.register('QGIS', conn, 'e1', 'jane');
    expect(await redis.hgetall(k.conns('QGIS'))).toEqual({ [conn]: 'e1' });
    expect(await redis.hgetall(k.nicks('QGIS'))).toEqual({ jane: conn });
    expect(await redis.hgetall(k.connNick('QGIS'))).toEqual({ [conn]: 'jane' });
    expect(await redis.smembers(k.edgeConns('e1'))).toEqual([`QGIS\t${conn}`]);
    expect(await redis.smembers(k.edges)).toEqual(['e1']);
    expect(Number(await redis.pttl(k.edgeAlive('e1')))).toBeGreaterThan(0);
    await store.join('QGIS', conn, 'e2');
    expect(await redis.smembers(k.edges)).toEqual(['e2']);
    expect(await redis.exists(k.edgeConns('e1'))).toBe(0);
    expect(await store.leave('QGIS', conn)).toEqual({ existed: true, nick: 'jane', count: 0 });
    expect(await redis.smembers(k.edges)).toEqual([]);
    await redis.del(k.edgeAlive('e1'), k.edgeAlive('e2'));
    expect(await redis.keys(`qchat:${instance}:*`)).toEqual([]);
  });

  it('keeps instances apart', async () => {
    const one = new RedisPresenceStore(redis, { instance: `t${randomUUID()}`, edgeTtlMs: 60_000 });
    const two = new RedisPresenceStore(redis, { instance: `t${randomUUID()}`, edgeTtlMs: 60_000 });
    await one.register('QGIS', randomUUID(), 'e1', 'jane');
    expect(await two.count('QGIS')).toBe(0);
    expect((await two.register('QGIS', randomUUID(), 'e1', 'jane')).status).toBe('ok');
    await Promise.all([one.reclaim('e1'), two.reclaim('e1')]);
  });

  it('stays atomic across separate connections (replicas)', async () => {
    const instance = `t${randomUUID()}`;
    const clients = Array.from({ length: 5 }, () => new Redis(url));
    try {
      const stores = clients.map((c) => new RedisPresenceStore(c, { instance, edgeTtlMs: 60_000 }));
      const conns = Array.from({ length: 50 }, () => randomUUID());
      const results = await Promise.all(conns.map((c, i) => stores[i % stores.length]!.register('QGIS', c, 'e1', 'jane')));
      expect(results.filter((r) => r.status === 'ok')).toHaveLength(1);
      await Promise.all(conns.map((c, i) => stores[i % stores.length]!.join('QGIS', c, 'e1')));
      const reclaimed = await Promise.all(stores.map((s) => s.reclaim('e1')));
      expect(reclaimed.flat().map((r) => r.conn).sort()).toEqual([...conns].sort());
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });
});
