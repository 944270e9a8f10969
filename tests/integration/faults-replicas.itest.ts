/**
 * Fault: two presence and two relay processes share the work in their queue groups; one of each is frozen for 300 ms
 * (so requests are caught on it) then killed with -9, under steady traffic (four senders on two edges, and clients joining, registering and leaving). The edges retry
 * what was in flight on the dead ones: no message sent after the kill is lost, no frame is ever duplicated, each
 * sender's messages keep their order, and the counts and user lists stay right.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RpcClient, connectNats } from '@qchat/bus';
import { createEngine } from '@qchat/engine';
import { encodeEnvelope } from '@qchat/protocol';
import { silentLogger } from '@qchat/runtime';
import { is, ms, report, startStack, stillOpen, until, type Stack } from '../support/stack';
import type { TestClient } from '../support/ws-client';
import { scrape, value } from '../support/prometheus';

const Q = 'QGIS';
const G = 'Geotribu';
/** Each socket queues at most 32 frames while one waits on a retry: keep a stall of REQUEST_TIMEOUT_MS below that. */
const SEND_EVERY_MS = Math.max(50, ms.REQUEST_TIMEOUT_MS / 20);

interface Sent { text: string; at: number }

describe('fault: one of two presence and one of two relay processes killed under traffic', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: inject('redisUrl'), natsUrl: inject('natsUrl'), presence: 2, relay: 2, edges: 2 });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('loses nothing sent after the kill and duplicates nothing', async () => {
    const senders = await Promise.all([0, 0, 1, 1].map((edge, i) => stack.member(edge, Q, `sender_${i}`)));
    const receivers = await Promise.all([0, 1].map((edge) => stack.client(edge, Q)));
    const everyone = [...senders, ...receivers];
    const arrivals = new Map<string, number>();
    receivers[0]!.ws.on('message', (data) => {
      const m = /"text":"(m-[^"]+)"/.exec(data.toString());
      if (m) arrivals.set(m[1]!, Date.now());
    });
    await until(async () => expect(await stack.counts(0)).toMatchObject({ [Q]: 6 }), { since: Date.now(), timeoutMs: 5_000 });

    // Steady traffic: every sender sends a numbered text every SEND_EVERY_MS; presence churn in the other channel.
    const sent: Sent[][] = senders.map(() => []);
    let sending = true;
    const traffic = senders.map(async (c, i) => {
      for (let seq = 0; sending; seq++) {
        const text = `m-${i}-${seq}`;
        sent[i]!.push({ text, at: Date.now() });
        c.send({ type: 'text', author: `sender_${i}`, text });
        await new Promise((r) => setTimeout(r, SEND_EVERY_MS));
      }
    });
    const churn = presenceChurn(stack);

    await new Promise((r) => setTimeout(r, 1_500));
    // Frozen first, so requests are caught on the victims (NATS keeps routing to a stopped process), then killed.
    const victims = [stack.presence[0]!, stack.relay[0]!];
    for (const p of victims) process.kill(p.pid, 'SIGSTOP');
    const frozenAt = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all(victims.map((p) => p.kill9()));
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 3_000 + ms.REQUEST_TIMEOUT_MS));
    sending = false;
    await Promise.all(traffic);
    const churned = await churn.stop();

    // Every message ends in one outcome: delivered, or (only if in flight at the kill) refused.
    const delivered = (c: TestClient, text: string) => c.frames.filter(is('text', (f) => f.text === text)).length;
    const refusals = (c: TestClient) => c.frames.filter(is('uncompliant')).length;
    await until(() => {
      senders.forEach((c, i) => expect(sent[i]!.filter((m) => delivered(c, m.text) === 1).length + refusals(c)).toBe(sent[i]!.length));
    }, { since: killedAt, timeoutMs: 15_000, intervalMs: 100 });
    const afterKill = sent.flat().filter((m) => m.at > killedAt);
    const caught = sent.flat().filter((m) => m.at >= frozenAt && m.at <= killedAt);
    const lostAfterKill = afterKill.filter((m) => everyone.some((c) => delivered(c, m.text) !== 1));
    expect(lostAfterKill.map((m) => m.text)).toEqual([]);
    for (const c of everyone) {
      // No duplicate on the wire, to any socket, and each sender's messages in the order sent.
      const texts = c.frames.filter(is('text')).map((f) => f.text as string);
      expect(new Set(texts).size).toBe(texts.length);
      const ids = c.frames.map((f) => f.id);
      expect(new Set(ids).size).toBe(ids.length);
      senders.forEach((_, i) => {
        const seqs = texts.filter((t) => t.startsWith(`m-${i}-`)).map((t) => Number(t.split('-')[2]));
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      });
    }
    // A message that reached one socket reached them all.
    for (const m of sent.flat()) {
      const copies = everyone.map((c) => delivered(c, m.text));
      expect(copies.every((n) => n === copies[0])).toBe(true);
    }
    // Even the messages caught on the frozen relay were retried on the other one: nothing was refused.
    const refused = senders.reduce((n, c) => n + refusals(c), 0);
    expect(refused).toBe(0);
    // ... and the edges counted those retries.
    const retries = await Promise.all([0, 1].map(async (edge) => value(await scrape(stack.metrics(edge)), 'qchat_bus_request_retries_total', { op: 'relay.publish' })));
    expect(retries[0]! + retries[1]!).toBeGreaterThan(0);

    // Presence kept counting right through the kill: the churn's survivors are exactly who /status and /users show.
    await until(async () => {
      for (const edge of [0, 1]) {
        expect(await stack.counts(edge)).toEqual({ [Q]: 6, [G]: churned.open.length });
        expect(await stack.users(edge, G)).toEqual([...churned.nicks].sort());
      }
    }, { since: Date.now(), timeoutMs: 5_000 });

    const latency = afterKill.map((m) => (arrivals.get(m.text) ?? Number.NaN) - m.at).sort((x, y) => x - y);
    const around = caught.filter((m) => arrivals.has(m.text));
    stillOpen(everyone);
    expect((await stack.running()).length).toBe(4);
    report({
      fault: 'replica-kill9', messages: sent.flat().length, afterKill: afterKill.length, lostAfterKill: lostAfterKill.length,
      caughtWhileFrozen: caught.length, refused, duplicates: 0,
      p50AfterKillMs: latency[Math.floor(latency.length / 2)], maxAfterKillMs: latency.at(-1),
      maxDelayCaughtMs: Math.max(...around.map((m) => arrivals.get(m.text)! - m.at)),
      churnJoins: churned.joins, churnFailures: churned.failures, sendEveryMs: SEND_EVERY_MS, ...ms,
    });
  });

  // The window the traffic above rarely hits: a relay killed after claiming a message id, before or after its commit.
  it('publishes exactly once when a relay dies holding a message, whatever it had done', async () => {
    const { nc, requester } = await connectNats(inject('natsUrl'), silentLogger(), 'fault-test');
    const instance = stack.env.INSTANCE_ID!;
    // A relay's own engine: its history part claims and commits as a killed relay would have.
    const engine = createEngine({ kind: 'redis', url: inject('redisUrl'), instance, edgeTtlMs: 12_000 }, silentLogger(), 'fault-test');
    try {
      const store = engine.history;
      // The edge's own client: same timeout and retries as its relay.publish calls.
      const rpc = new RpcClient(requester, { instance, timeouts: { requestMs: ms.REQUEST_TIMEOUT_MS, imageMs: 0 } });
      const publish = (id: string, text: string) =>
        rpc.call('relay.publish', { channel: Q, id, body: { type: 'text', author: 'retrier', avatar: null, text }, source: 'http' });
      const watcher = await stack.client(1, Q);
      const copies = (id: string) => watcher.frames.filter((f) => f.id === id).length;

      // 1. Claimed, then the relay died: once the edge's first attempt has timed out, its retry takes the id over.
      const claimedOnly = randomUUID();
      await store.claim(claimedOnly, 60_000, { owner: 'killed-relay' });
      await new Promise((r) => setTimeout(r, ms.REQUEST_TIMEOUT_MS)); // the edge's first attempt timing out
      const retried = JSON.parse((await publish(claimedOnly, 'claimed then killed')).frame ?? 'null');
      expect(retried).toMatchObject({ id: claimedOnly, text: 'claimed then killed' });
      await until(() => expect(copies(claimedOnly)).toBe(1), { since: Date.now(), timeoutMs: 2_000 });
      // The dead relay's commit, had it been slow rather than dead, loses to the retry: nothing is published twice.
      const late = await store.commit(claimedOnly, 'killed-relay', { channel: Q, frame: '{}', result: '{}', max: 5, payload: encodeEnvelope({ id: claimedOnly }, '{}') }, 60_000);
      expect(late).toEqual({ state: 'lost', frame: JSON.stringify(retried) });

      // 2. Committed (stored and published), then the relay died before replying: the retry answers with that frame.
      const committed = randomUUID();
      const frame = JSON.stringify({ type: 'text', id: committed, timestamp: 1, author: 'retrier', avatar: null, text: 'committed then killed' });
      await store.claim(committed, 60_000, { owner: 'killed-relay' });
      await store.commit(committed, 'killed-relay', { channel: Q, frame, result: frame, max: 5, payload: encodeEnvelope({ id: committed }, frame) }, 60_000);
      expect((await publish(committed, 'committed then killed')).frame).toBe(frame);

      await watcher.expectNone((f) => copies(f.id) > 1, 300);
      expect(copies(committed)).toBe(1);
      expect(copies(claimedOnly)).toBe(1);
    } finally {
      await nc.close();
      await engine.close();
    }
  });
});

/** Clients joining the other channel, registering and leaving, alternating edges, one every 150 ms. */
function presenceChurn(stack: Stack) {
  let running = true;
  let joins = 0;
  let failures = 0;
  const open: { c: TestClient; nick: string | null }[] = [];
  const loop = (async () => {
    for (let n = 0; running; n++) {
      joins++;
      try {
        const c = await stack.client(n % 2, G);
        const nick = `churn_${n}`;
        c.send({ type: 'newcomer', newcomer: nick });
        const answer = await c.next((f) => is('newcomer', (x) => x.newcomer === nick)(f) || is('uncompliant')(f), 5_000);
        open.push({ c, nick: answer.type === 'newcomer' ? nick : null });
        if (answer.type !== 'newcomer') failures++;
      } catch {
        failures++;
      }
      if (open.length > 3) await open.shift()!.c.close();
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { joins, failures, open, nicks: open.flatMap((o) => (o.nick ? [o.nick] : [])) };
    },
  };
}
