/**
 * The engine's history part (libs/engine/src/history.ts), run against every engine: memory in the unit project,
 * Redis in the integration project. A commit stores AND publishes, on every backend.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Engine, HistoryStore } from '@qchat/engine';

export interface EngineHarness {
  engine: Engine;
  /** Makes edge's liveness lapse now (presence). May lapse other edges too (a shared clock). */
  expire?: (edge: string) => Promise<void>;
  close: () => Promise<void>;
}

const WAIT = { timeout: 5_000, interval: 5 };

/** What a channel's subscribers receive, as text. */
async function listen(engine: Engine, channel: string) {
  const got: string[] = [];
  const unsubscribe = await engine.topics.subscribe(channel, (p) => { got.push(p.toString('utf8')); });
  return { got, unsubscribe };
}

/** Keeps `frame` in `channel` the way relay does: claim a fresh id, then commit it. */
async function keep(s: HistoryStore, channel: string, frame: string, max: number): Promise<void> {
  const id = randomUUID();
  const owner = randomUUID();
  await s.claim(id, 10_000, { owner });
  const done = await s.commit(id, owner, { channel, frame, result: frame, max, payload: Buffer.from(frame) }, 10_000);
  expect(done.state).toBe('committed');
}

/** The HistoryStore contract, run against every adapter. */
export function historyStoreContract(name: string, make: () => Promise<EngineHarness>): void {
  describe(`HistoryStore contract: ${name}`, () => {
    let h: EngineHarness;
    let s: HistoryStore;
    const channel = () => `ch ${randomUUID()}`;
    beforeEach(async () => {
      h = await make();
      s = h.engine.history;
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
      const done = await s.commit(id, 'me', { channel: channel(), frame: '{"f":1}', result: '{"f":1}', max: 5, payload: Buffer.from('{"f":1}') }, 10_000);
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

    it('a commit publishes its payload to the channel, in commit order, and a lost one publishes nothing', async () => {
      const c = channel();
      const l = await listen(h.engine, c);
      await keep(s, c, '{"n":1}', 5);
      const id = randomUUID();
      await s.claim(id, 10_000, { owner: 'first' });
      await s.release(id, 'first');
      await s.claim(id, 10_000, { owner: 'retry' });
      // The first attempt's commit comes too late: the retry holds the id.
      expect(await s.commit(id, 'first', { channel: c, frame: '{"n":2}', result: '{"n":2}', max: 5, payload: Buffer.from('lost') }, 10_000)).toEqual({ state: 'lost', frame: null });
      await keep(s, c, '{"n":3}', 0); // published, not kept
      await vi.waitFor(() => expect(l.got).toEqual(['{"n":1}', '{"n":3}']), WAIT);
      expect(await s.list(c)).toEqual(['{"n":1}']);
      await l.unsubscribe();
    });

    it('a commit after the claim was released by its owner is lost and neither stores nor publishes', async () => {
      const c = channel();
      const l = await listen(h.engine, c);
      const id = randomUUID();
      await s.claim(id, 10_000, { owner: 'me' });
      await s.release(id, 'me');
      expect(await s.commit(id, 'me', { channel: c, frame: '{"x":1}', result: '{"x":1}', max: 5, payload: Buffer.from('x') }, 10_000)).toEqual({ state: 'lost', frame: null });
      await keep(s, c, '{"marker":1}', 0);
      await vi.waitFor(() => expect(l.got).toEqual(['{"marker":1}']), WAIT);
      expect(await s.list(c)).toEqual([]);
      await l.unsubscribe();
    });

    it('release with an owner leaves another owner\'s claim alone', async () => {
      const id = randomUUID();
      await s.claim(id, 10_000, { owner: 'a' });
      await s.release(id, 'b');
      expect(await s.claim(id, 10_000, { owner: 'c' })).toEqual({ state: 'pending' });
    });

    it('removes one stored frame by id, wherever it sits in a long history, and clears a channel', async () => {
      const c = channel();
      const ids = Array.from({ length: 30 }, () => randomUUID());
      for (const id of ids) await keep(s, c, JSON.stringify({ type: 'text', id, text: 'x'.repeat(100) }), 50);
      expect(await s.remove(c, ids[2]!)).toBe(true); // near the tail of the list (oldest), past several chunks
      expect(await s.remove(c, ids[2]!)).toBe(false);
      expect(await s.remove(c, ids[29]!)).toBe(true); // the newest
      expect(await s.remove(c, randomUUID())).toBe(false);
      const left = (await s.list(c)).map((f) => (JSON.parse(f) as { id: string }).id);
      expect(left).toEqual(ids.filter((_, i) => i !== 2 && i !== 29));
      expect(await s.clear(c)).toBe(28);
      expect(await s.list(c)).toEqual([]);
      expect(await s.clear(c)).toBe(0);
    });
  });
}
