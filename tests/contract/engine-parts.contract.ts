/**
 * The engine's other parts (topics by channel and the control topic, moderation, the bridge's state and lease),
 * run against every engine: memory in the unit project, Redis in the integration project.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Engine } from '@qchat/engine';
import type { EngineHarness } from './history-store.contract';

const WAIT = { timeout: 5_000, interval: 5 };

export function enginePartsContract(name: string, make: () => Promise<EngineHarness>): void {
  describe(`Engine parts contract: ${name}`, () => {
    let h: EngineHarness;
    let e: Engine;
    beforeEach(async () => {
      h = await make();
      e = h.engine;
    });
    afterEach(async () => {
      await h.close();
    });

    it('is ready, and says which backend it is', async () => {
      await vi.waitFor(() => expect(e.ready()).toBe(true), WAIT);
      expect(['memory', 'redis']).toContain(e.mode);
      expect(e.settlesAt()).toBeLessThanOrEqual(Date.now());
    });

    it('topics: keeps channels and the control topic apart, and stops after unsubscribe', async () => {
      const [a, b, control] = [[] as string[], [] as string[], [] as string[]];
      const offA = await e.topics.subscribe('A', (p) => { a.push(p.toString('utf8')); });
      await e.topics.subscribe('A:b', (p) => { b.push(p.toString('utf8')); });
      await e.topics.subscribeControl((p) => { control.push(p.toString('utf8')); });
      await e.topics.publish('A', Buffer.from('to A'));
      await e.topics.publish('A:b', Buffer.from('to A:b'));
      await e.topics.publishControl(Buffer.from('{"op":"bans"}'));
      await vi.waitFor(() => expect([a, b, control]).toEqual([['to A'], ['to A:b'], ['{"op":"bans"}']]), WAIT);
      await offA();
      await e.topics.publish('A', Buffer.from('gone'));
      await e.topics.publishControl(Buffer.from('marker'));
      await vi.waitFor(() => expect(control).toHaveLength(2), WAIT);
      expect(a).toEqual(['to A']);
    });

    it('moderation: connection metadata per channel, bans that expire', async () => {
      const m = e.moderation;
      await m.setMeta('QGIS', 'c1', { addr: '10.0.0.1', since: 5 });
      await m.setMeta('QGIS', 'c2', { addr: '10.0.0.2', since: 6 });
      expect(Object.fromEntries(await m.meta('QGIS'))).toEqual({ c1: { addr: '10.0.0.1', since: 5 }, c2: { addr: '10.0.0.2', since: 6 } });
      expect((await m.meta('other')).size).toBe(0);
      await m.dropMeta('QGIS', ['c1']);
      await m.dropMeta('QGIS', []);
      expect([...(await m.meta('QGIS')).keys()]).toEqual(['c2']);
      await m.ban({ kind: 'nickname', value: 'eve', until: 2_000, reason: 'spam' });
      await m.ban({ kind: 'address', value: '10.0.0.9', until: 1_000, reason: '' });
      expect((await m.bans(500)).sort((x, y) => x.until - y.until)).toEqual([
        { kind: 'address', value: '10.0.0.9', until: 1_000, reason: '' },
        { kind: 'nickname', value: 'eve', until: 2_000, reason: 'spam' },
      ]);
      expect(await m.bans(1_500)).toEqual([{ kind: 'nickname', value: 'eve', until: 2_000, reason: 'spam' }]);
      expect(await m.unban('nickname', 'eve')).toBe(true);
      expect(await m.unban('nickname', 'eve')).toBe(false);
      expect(await m.bans(0)).toEqual([]);
    });

    it('bridge: values with and without expiry, set-if-absent', async () => {
      const st = e.bridge.state;
      const key = `k${randomUUID()}`;
      expect(await st.get(key)).toBeNull();
      expect(await st.setIfAbsent(key, 'first')).toBe(true);
      expect(await st.setIfAbsent(key, 'second')).toBe(false);
      expect(await st.get(key)).toBe('first');
      await st.set(key, 'third');
      expect(await st.get(key)).toBe('third');
      await st.set(`${key}:short`, 'x', 50);
      await vi.waitFor(async () => expect(await st.get(`${key}:short`)).toBeNull(), WAIT);
    });

    it('bridge: one lease holder at a time across owners (memory: a lone process always holds it)', async () => {
      const [one, two] = [e.bridge.lease('one', 10_000), e.bridge.lease('two', 10_000)];
      expect(await one.acquire()).toBe(true);
      expect(await one.acquire()).toBe(true);
      if (e.mode === 'memory') return;
      expect(await two.acquire()).toBe(false);
      await two.release(); // not its lease: nothing changes
      expect(await two.acquire()).toBe(false);
      await one.release();
      expect(await two.acquire()).toBe(true);
      await two.release();
    });
  });
}
