import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryStore } from '../../services/relay/src/store/history';

export interface HistoryStoreHarness {
  store: HistoryStore;
  close: () => Promise<void>;
}

/** Keeps `frame` in `channel` the way relay does: claim a fresh id, then commit it. */
async function keep(s: HistoryStore, channel: string, frame: string, max: number): Promise<void> {
  const id = randomUUID();
  const owner = randomUUID();
  await s.claim(id, 10_000, { owner });
  const done = await s.commit(id, owner, { channel, frame, result: frame, max, topic: `t:${channel}`, payload: Buffer.from(frame) }, 10_000);
  expect(done.state).toBe('committed');
}

/** The HistoryStore contract, run against every adapter. */
export function historyStoreContract(name: string, make: () => Promise<HistoryStoreHarness>): void {
  describe(`HistoryStore contract: ${name}`, () => {
    let h: HistoryStoreHarness;
    let s: HistoryStore;
    const channel = () => `ch ${randomUUID()}`;
    beforeEach(async () => {
      h = await make();
      s = h.store;
    });
    afterEach(async () => {
      await h.close();
    });

    it('lists oldest first and keeps the newest max', async () => {
      const c = channel();
      for (const f of ['1', '2', '3', '4', '5', '6']) await keep(s, c, f, 5);
      expect(await s.list(c)).toEqual(['2', '3', '4', '5', '6']);
    });

    it('keeps nothing when max is 0 (gischat kept everything: protocol.md D17)', async () => {
      const c = channel();
      await keep(s, c, 'x', 0);
      expect(await s.list(c)).toEqual([]);
    });

    it('keeps channels apart and returns [] for an empty channel', async () => {
      const a = channel();
      const b = channel();
      await keep(s, a, 'a', 5);
      expect(await s.list(b)).toEqual([]);
      expect(await s.list(a)).toEqual(['a']);
    });

    it('stores frames byte for byte (unicode, quotes, newlines escaped in JSON)', async () => {
      const c = channel();
      const frame = JSON.stringify({ type: 'text', text: 'é 😀 "q" \n' });
      await keep(s, c, frame, 5);
      expect(await s.list(c)).toEqual([frame]);
    });

    it('claims a message id once: new, then pending, then done with the frame', async () => {
      const id = randomUUID();
      expect(await s.claim(id, 10_000, { owner: 'me' })).toEqual({ state: 'new' });
      expect(await s.claim(id, 10_000)).toEqual({ state: 'pending' });
      const done = await s.commit(id, 'me', { channel: channel(), frame: '{"f":1}', result: '{"f":1}', max: 5, topic: 't', payload: Buffer.from('{"f":1}') }, 10_000);
      expect(done.state).toBe('committed');
      expect(await s.claim(id, 10_000)).toEqual({ state: 'done', frame: '{"f":1}' });
    });

    it('forgets a released id, so a retry may try again', async () => {
      const id = randomUUID();
      await s.claim(id, 10_000);
      await s.release(id);
      expect(await s.claim(id, 10_000)).toEqual({ state: 'new' });
    });

    it('lets exactly one of many concurrent claims of an id win', async () => {
      const id = randomUUID();
      const results = await Promise.all(Array.from({ length: 20 }, () => s.claim(id, 10_000)));
      expect(results.filter((r) => r.state === 'new')).toHaveLength(1);
    });
  });
}
