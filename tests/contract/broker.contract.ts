/**
 * What every Broker adapter promises (libs/engine/src/broker.ts), run against each one: memory in the unit
 * project, Redis in the integration project. Negative checks wait for a later marker message instead of a delay:
 * a broker delivers in publish order, so once the marker is in, anything that was going to arrive has arrived.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Broker } from '@qchat/engine';

export interface BrokerFixture {
  broker: Broker;
  /** A second broker on the same server (another process, in effect); absent for in-memory brokers. */
  other?: Broker;
  close(): Promise<void>;
}

const WAIT = { timeout: 5_000, interval: 5 };

/** Collects payloads delivered to one subscription. */
function recorder() {
  const got: Buffer[] = [];
  const texts = () => got.map((b) => b.toString('utf8'));
  return { got, texts, onMessage: (payload: Buffer) => { got.push(payload); } };
}

const text = (s: string) => Buffer.from(s, 'utf8');

export function brokerContract(name: string, make: () => Promise<BrokerFixture>): void {
  describe(`Broker contract: ${name}`, () => {
    let fx: BrokerFixture;
    let prefix: string;
    const topic = (suffix: string) => `${prefix}:${suffix}`;

    beforeEach(async () => {
      prefix = `test:${randomUUID()}`;
      fx = await make();
    });
    afterEach(async () => {
      await fx.close();
    });

    it('delivers the published bytes unchanged', async () => {
      const r = recorder();
      await fx.broker.subscribe(topic('bytes'), r.onMessage);
      // Every byte value, including invalid UTF-8 sequences, plus some randomness.
      const payload = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(1024), text('é✓')]);
      await fx.broker.publish(topic('bytes'), payload);
      await vi.waitFor(() => expect(r.got).toHaveLength(1), WAIT);
      expect(Buffer.isBuffer(r.got[0])).toBe(true);
      expect(r.got[0]!.equals(payload)).toBe(true);
    });

    it('subscribe resolves once the subscription is in place', async () => {
      const r = recorder();
      await fx.broker.subscribe(topic('ready'), r.onMessage);
      await fx.broker.publish(topic('ready'), text('right after'));
      await vi.waitFor(() => expect(r.texts()).toEqual(['right after']), WAIT);
    });

    it('stops delivering after unsubscribe', async () => {
      const gone = recorder();
      const marker = recorder();
      const unsubscribe = await fx.broker.subscribe(topic('t'), gone.onMessage);
      await fx.broker.subscribe(topic('marker'), marker.onMessage);
      await fx.broker.publish(topic('t'), text('before'));
      await vi.waitFor(() => expect(gone.texts()).toEqual(['before']), WAIT);

      await unsubscribe();
      await fx.broker.publish(topic('t'), text('after'));
      await fx.broker.publish(topic('marker'), text('marker'));
      await vi.waitFor(() => expect(marker.texts()).toEqual(['marker']), WAIT);
      expect(gone.texts()).toEqual(['before']);
      await unsubscribe(); // twice is harmless
    });

    it('delivers nothing once unsubscribe resolved, even a message published just before', async () => {
      const late: Buffer[] = [];
      let unsubscribed = false;
      const marker = recorder();
      const unsubscribe = await fx.broker.subscribe(topic('t'), (payload) => {
        if (unsubscribed) late.push(payload);
      });
      await fx.broker.subscribe(topic('marker'), marker.onMessage);
      await fx.broker.publish(topic('t'), text('in flight')); // may or may not arrive before unsubscribe
      await unsubscribe();
      unsubscribed = true;
      await fx.broker.publish(topic('marker'), text('marker'));
      await vi.waitFor(() => expect(marker.texts()).toEqual(['marker']), WAIT);
      expect(late).toHaveLength(0);
    });

    it('unsubscribing one subscriber leaves the others subscribed', async () => {
      const gone = recorder();
      const stays = recorder();
      const unsubscribe = await fx.broker.subscribe(topic('t'), gone.onMessage);
      await fx.broker.subscribe(topic('t'), stays.onMessage);
      await unsubscribe();
      await fx.broker.publish(topic('t'), text('one'));
      await vi.waitFor(() => expect(stays.texts()).toEqual(['one']), WAIT);
      expect(gone.got).toHaveLength(0);
    });

    it('delivers once per subscription, even for the same function subscribed twice', async () => {
      const r = recorder();
      const first = await fx.broker.subscribe(topic('t'), r.onMessage);
      await fx.broker.subscribe(topic('t'), r.onMessage);
      await fx.broker.publish(topic('t'), text('a'));
      await vi.waitFor(() => expect(r.texts()).toEqual(['a', 'a']), WAIT);
      await first();
      await fx.broker.publish(topic('t'), text('b'));
      await vi.waitFor(() => expect(r.texts()).toEqual(['a', 'a', 'b']), WAIT);
    });

    it('delivers to every subscriber', async () => {
      const a = recorder();
      const b = recorder();
      await fx.broker.subscribe(topic('t'), a.onMessage);
      await fx.broker.subscribe(topic('t'), b.onMessage);
      await fx.broker.publish(topic('t'), text('both'));
      await vi.waitFor(() => {
        expect(a.texts()).toEqual(['both']);
        expect(b.texts()).toEqual(['both']);
      }, WAIT);
    });

    it('subscribers that subscribe concurrently are all in place when their subscribe resolves', async () => {
      const rs = [recorder(), recorder(), recorder()];
      await Promise.all(rs.map((r) => fx.broker.subscribe(topic('t'), r.onMessage)));
      await fx.broker.publish(topic('t'), text('x'));
      await vi.waitFor(() => {
        for (const r of rs) expect(r.texts()).toEqual(['x']);
      }, WAIT);
    });

    it('a second subscribe to a topic whose first subscribe is still pending resolves only once it is in place', async () => {
      const first = recorder();
      const second = recorder();
      const pending = fx.broker.subscribe(topic('t'), first.onMessage);
      await fx.broker.subscribe(topic('t'), second.onMessage);
      await fx.broker.publish(topic('t'), text('x'));
      await pending;
      await vi.waitFor(() => expect(second.texts()).toEqual(['x']), WAIT);
    });

    it('preserves publish order (200 messages, published without waiting)', async () => {
      const r = recorder();
      await fx.broker.subscribe(topic('order'), r.onMessage);
      const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
      await Promise.all(sent.map((m) => fx.broker.publish(topic('order'), text(m))));
      await vi.waitFor(() => expect(r.got).toHaveLength(200), WAIT);
      expect(r.texts()).toEqual(sent);
    });

    it('keeps topics apart (no prefix or pattern matching)', async () => {
      const names = ['a', 'a:b', 'ab', '*', 'a?'];
      const rs = names.map(() => recorder());
      for (const [i, n] of names.entries()) await fx.broker.subscribe(topic(n), rs[i]!.onMessage);
      for (const n of names) await fx.broker.publish(topic(n), text(n));
      await vi.waitFor(() => {
        for (const [i, n] of names.entries()) expect(rs[i]!.texts()).toEqual([n]);
      }, WAIT);
    });

    it('publishing to a topic nobody listens to is fine', async () => {
      await expect(fx.broker.publish(topic('nobody'), text('lost'))).resolves.toBeUndefined();
    });

    it('reports ready once connected', async () => {
      await vi.waitFor(() => expect(fx.broker.ready()).toBe(true), WAIT);
    });

    it('delivers across broker instances on the same server', async (ctx) => {
      if (!fx.other) return ctx.skip(); // in-memory brokers have no second instance
      const other = fx.other;
      const there = recorder();
      const here = recorder();
      await other.subscribe(topic('x'), there.onMessage);
      await fx.broker.subscribe(topic('x'), here.onMessage);
      const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
      for (const m of sent) await fx.broker.publish(topic('x'), text(m));
      await other.publish(topic('x'), text('from other'));
      await vi.waitFor(() => {
        expect(there.texts()).toEqual([...sent, 'from other']);
        expect(here.texts()).toEqual([...sent, 'from other']);
      }, WAIT);
    });

    it('stops delivering across instances after unsubscribe', async (ctx) => {
      if (!fx.other) return ctx.skip();
      const gone = recorder();
      const marker = recorder();
      const unsubscribe = await fx.other.subscribe(topic('t'), gone.onMessage);
      await fx.other.subscribe(topic('marker'), marker.onMessage);
      await unsubscribe();
      await fx.broker.publish(topic('t'), text('after'));
      await fx.broker.publish(topic('marker'), text('marker'));
      await vi.waitFor(() => expect(marker.texts()).toEqual(['marker']), WAIT);
      expect(gone.got).toHaveLength(0);
    });
  });
}
