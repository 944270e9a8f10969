/** Every engine operation in memory (the same suites run against Redis in tests/integration/engine-redis.itest.ts). */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@qchat/runtime';
import { createEngine } from '../src';
import { memoryBroker } from '../src/testing';
import { brokerContract } from '../../../tests/contract/broker.contract';
import { historyStoreContract } from '../../../tests/contract/history-store.contract';
import { presenceStoreContract } from '../../../tests/contract/presence-store.contract';
import { enginePartsContract } from '../../../tests/contract/engine-parts.contract';

const TTL_MS = 5_000;

/** A memory engine on its own clock: `expire` lapses every edge (the contract heartbeats the ones it keeps alive). */
async function memoryEngine() {
  let now = 1_000_000;
  const engine = createEngine({ kind: 'memory', instance: 'test', edgeTtlMs: TTL_MS, now: () => now }, silentLogger(), 'test');
  return {
    engine,
    expire: async () => {
      now += TTL_MS;
    },
    close: () => engine.close(),
  };
}

brokerContract('memory', async () => {
  const broker = memoryBroker();
  return { broker, close: () => broker.close() };
});
historyStoreContract('memory', memoryEngine);
presenceStoreContract('memory', memoryEngine);
enginePartsContract('memory', memoryEngine);

describe('memory presence liveness', () => {
  it('keeps an edge alive for exactly the TTL after its last sign of life', async () => {
    let now = 0;
    const { presence } = createEngine({ kind: 'memory', instance: 't', edgeTtlMs: 1_000, now: () => now }, silentLogger(), 't');
    await presence.join('A', 'c1', 'e1');
    now = 999;
    expect(await presence.deadEdges()).toEqual([]);
    now = 1_000;
    expect(await presence.deadEdges()).toEqual(['e1']);
    expect(await presence.heartbeat('e1')).toBe(1);
    now = 1_999;
    expect(await presence.deadEdges()).toEqual([]);
  });
});
