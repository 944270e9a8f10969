/** Every engine operation against a real Redis: the suites memory runs in libs/engine/test, and Redis' own layout. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createEngine, keys, type Engine } from '@qchat/engine';
import { RedisProbe, redisBroker } from '@qchat/engine/testing';
import { silentLogger } from '@qchat/runtime';
import { brokerContract } from '../contract/broker.contract';
import { historyStoreContract } from '../contract/history-store.contract';
import { presenceStoreContract } from '../contract/presence-store.contract';
import { enginePartsContract } from '../contract/engine-parts.contract';

const url = inject('redisUrl');
const log = silentLogger();

function redisEngine(instance = `t${randomUUID()}`, edgeTtlMs = 60_000): Engine {
  return createEngine({ kind: 'redis', url, instance, edgeTtlMs }, log, 'test-engine');
}

/** A fresh instance on the shared Redis; nothing of it is left behind. */
async function harness() {
  const instance = `t${randomUUID()}`;
  const engine = redisEngine(instance);
  const probe = new RedisProbe(url);
  await vi.waitFor(() => expect(engine.ready()).toBe(true), { timeout: 5_000, interval: 10 });
  return {
    engine,
    expire: async (edge: string) => {
      await probe.del(keys(instance).edgeAlive(edge));
    },
    close: async () => {
      await engine.close();
      await probe.drop(`qchat:${instance}:*`);
      await probe.close();
    },
  };
}

brokerContract('redis', async () => {
  const [broker, other] = await Promise.all([redisBroker(url, log, 'test-broker'), redisBroker(url, log, 'test-broker-other')]);
  return { broker, other, close: async () => { await Promise.all([broker.close(), other.close()]); } };
});
historyStoreContract('redis', harness);
presenceStoreContract('redis', harness);
enginePartsContract('redis', harness);

describe('Redis engine on a real Redis', () => {
  let probe: RedisProbe;
  const engines: Engine[] = [];
  const open = (instance?: string, ttl?: number) => {
    const e = redisEngine(instance, ttl);
    engines.push(e);
    return e;
  };
  beforeAll(() => {
    probe = new RedisProbe(url);
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await probe.close();
  });

  it('lets an edge lapse by the key TTL', async () => {
    const { presence } = open(undefined, 200);
    await presence.join('A', randomUUID(), 'e1');
    await vi.waitFor(async () => expect(await presence.deadEdges()).toEqual(['e1']), { timeout: 5_000, interval: 50 });
    expect(await presence.reclaim('e1')).toHaveLength(1);
    expect(await presence.deadEdges()).toEqual([]);
  });

  it('stores the layout keys() describes, and removes empty hashes', async () => {
    const instance = `t${randomUUID()}`;
    const k = keys(instance);
    const { presence: store } = open(instance);
    const conn = randomUUID();
    await store.register('QGIS', conn, 'e1', 'jane');
    expect(await probe.hgetall(k.conns('QGIS'))).toEqual({ [conn]: 'e1' });
    expect(await probe.hgetall(k.nicks('QGIS'))).toEqual({ jane: conn });
    expect(await probe.hgetall(k.connNick('QGIS'))).toEqual({ [conn]: 'jane' });
    expect(await probe.smembers(k.edgeConns('e1'))).toEqual([`QGIS\t${conn}`]);
    expect(await probe.smembers(k.edges)).toEqual(['e1']);
    expect(Number(await probe.pttl(k.edgeAlive('e1')))).toBeGreaterThan(0);
    expect(await store.release('QGIS', conn)).toEqual({ joined: true, nick: 'jane', count: 1 });
    expect(await probe.exists(k.nicks('QGIS'))).toBe(0);
    expect(await probe.exists(k.connNick('QGIS'))).toBe(0);
    await store.register('QGIS', conn, 'e1', 'jane');
    await store.join('QGIS', conn, 'e2');
    expect(await probe.smembers(k.edges)).toEqual(['e2']);
    expect(await probe.exists(k.edgeConns('e1'))).toBe(0);
    expect(await store.leave('QGIS', conn)).toEqual({ existed: true, nick: 'jane', count: 0 });
    expect(await probe.smembers(k.edges)).toEqual([]);
    await probe.del(k.edgeAlive('e1'), k.edgeAlive('e2'));
    expect(await probe.keys(`qchat:${instance}:*`)).toEqual([]);
  });

  it('history: a list newest first under its key, with a publish mark per message', async () => {
    const instance = `t${randomUUID()}`;
    const k = keys(instance);
    const { history } = open(instance);
    const id = randomUUID();
    await history.claim(id, 10_000, { owner: 'o' });
    await history.commit(id, 'o', { channel: 'QGIS', frame: '{"a":1}', result: '{}', max: 5, payload: Buffer.from('x') }, 10_000);
    expect(await probe.lrange(k.history('QGIS'))).toEqual(['{"a":1}']);
    expect(Number(await probe.pttl(k.published(id)))).toBeGreaterThan(0);
    await probe.drop(`qchat:${instance}:*`);
  });

  it('keeps instances apart', async () => {
    const one = open().presence;
    const two = open().presence;
    await one.register('QGIS', randomUUID(), 'e1', 'jane');
    expect(await two.count('QGIS')).toBe(0);
    expect((await two.register('QGIS', randomUUID(), 'e1', 'jane')).status).toBe('ok');
    await Promise.all([one.reclaim('e1'), two.reclaim('e1')]);
  });

  it('stays atomic across separate connections (replicas)', async () => {
    const instance = `t${randomUUID()}`;
    const stores = Array.from({ length: 5 }, () => open(instance).presence);
    const conns = Array.from({ length: 50 }, () => randomUUID());
    const results = await Promise.all(conns.map((c, i) => stores[i % stores.length]!.register('QGIS', c, 'e1', 'jane')));
    expect(results.filter((r) => r.status === 'ok')).toHaveLength(1);
    await Promise.all(conns.map((c, i) => stores[i % stores.length]!.join('QGIS', c, 'e1')));
    const reclaimed = await Promise.all(stores.map((s) => s.reclaim('e1')));
    expect(reclaimed.flat().map((r) => r.conn).sort()).toEqual([...conns].sort());
  });

  it('a count published by one replica reaches subscribers of another', async () => {
    const instance = `t${randomUUID()}`;
    const [a, b] = [open(instance), open(instance)];
    const got: string[] = [];
    await b.topics.subscribe('QGIS', (p) => { got.push(p.toString('utf8')); });
    await a.presence.join('QGIS', randomUUID(), 'e1');
    expect(await a.presence.publishCount('QGIS', Buffer.from('n='), '!')).toBe(1);
    await vi.waitFor(() => expect(got).toEqual(['n=1!']), { timeout: 5_000, interval: 10 });
    await a.presence.reclaim('e1');
    await probe.drop(`qchat:${instance}:*`);
  });
});
