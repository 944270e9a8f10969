import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore } from '../src/store/store-memory';
import { presenceStoreContract } from '../../../tests/contract/presence-store.contract';

const TTL_MS = 5_000;

presenceStoreContract('memory', async () => {
  let now = 1_000_000;
  const store = new MemoryPresenceStore({ edgeTtlMs: TTL_MS, now: () => now });
  return {
    store,
    // One clock for all edges: every edge lapses; the contract heartbeats the ones it keeps alive.
    expire: async () => {
      now += TTL_MS;
    },
    close: async () => undefined,
  };
});

describe('MemoryPresenceStore liveness', () => {
  it('keeps an edge alive for exactly the TTL after its last sign of life', async () => {
    let now = 0;
    const store = new MemoryPresenceStore({ edgeTtlMs: 1_000, now: () => now });
    await store.join('A', 'c1', 'e1');
    now = 999;
    expect(await store.deadEdges()).toEqual([]);
    now = 1_000;
    expect(await store.deadEdges()).toEqual(['e1']);
    expect(await store.heartbeat('e1')).toBe(1);
    now = 1_999;
    expect(await store.deadEdges()).toEqual([]);
  });
});
