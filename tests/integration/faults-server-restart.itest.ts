/**
 * Faults: redis-server, then nats-server, killed mid-conversation and restarted on the same port (Redis without
 * persistence, so presence, history and idempotency marks are lost). Each test runs its own pair of servers.
 * While the server is down every message gets one clear uncompliant, sockets stay open and no service exits; the
 * outage lasts longer than EDGE_TTL_MS, so presence must not take the silence for dead edges. Once the server is
 * back the edges re-announce their sockets and resubscribe, and counts, user lists and broadcasts are right again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNats, startRedis, type LocalServer } from '../support/servers';
import { expectAllReceive, is, ms, probeUntilDelivered, report, startStack, stillOpen, until, type Stack } from '../support/stack';
import type { TestClient } from '../support/ws-client';

const Q = 'QGIS';
const G = 'Geotribu';
const TRY_AGAIN = /try again/i;

describe.each(['redis', 'nats'] as const)('fault: %s-server restarted mid-conversation', (which) => {
  const servers: { redis?: LocalServer; nats?: LocalServer } = {};
  let stack: Stack;

  beforeAll(async () => {
    [servers.redis, servers.nats] = await Promise.all([startRedis(), startNats()]);
    // A short readiness grace: the outage below (EDGE_TTL_MS + 1 s) outlasts it.
    stack = await startStack({ redisUrl: servers.redis.url, natsUrl: servers.nats.url, edges: 2, env: { READINESS_GRACE_MS: '1000' } });
  });

  afterAll(async () => {
    await stack?.stop();
    await Promise.all([servers.redis?.kill(), servers.nats?.kill()]);
  });

  it('answers uncompliant while down, then rebuilds counts, users and broadcasts by itself', async () => {
    const a = await stack.member(0, Q, 'alice');
    const b = await stack.client(0, Q);
    const e = await stack.client(0, G);
    const c = await stack.member(1, Q, 'carol');
    const d = await stack.member(1, G, 'dave');
    const inQ = [a, b, c];
    const inG = [d, e];
    const everyone = [...inQ, ...inG];
    await until(async () => expect(await stack.counts(0)).toEqual({ [Q]: 3, [G]: 2 }), { since: Date.now(), timeoutMs: 5_000 });
    a.send({ type: 'text', author: 'alice', text: 'before the fault' });
    await expectAllReceive(inQ, 'before the fault');
    // The broadcast can come back before relay's reply does: let the edge finish with the message before the fault.
    await settled(a);

    // The outage: longer than EDGE_TTL_MS, with a message every 500 ms from alice and a registration from carol.
    const server = servers[which]!;
    await server.kill();
    const downAt = Date.now();
    c.send({ type: 'newcomer', newcomer: 'zed_down' });
    const outage = await sendDuring(a, ms.EDGE_TTL_MS + 1_000, 500);
    const registerRefusal = await c.next(is('uncompliant'), 10_000);
    expect(registerRefusal.reason).toMatch(TRY_AGAIN);
    // HTTP while down: not ready (past READINESS_GRACE_MS), and the gischat API answers 503 {"detail": …}: try again.
    const statusOf = async (path: string, init?: RequestInit) => {
      const res = await fetch(`${stack.http(0)}${path}`, init);
      await res.body?.cancel();
      return res.status;
    };
    expect(await statusOf('/readyz')).toBe(503);
    const httpAt = Date.now();
    expect(await statusOf('/status')).toBe(503);
    const statusErrorMs = Date.now() - httpAt;
    expect(await statusOf(`/channel/${Q}/users`)).toBe(503);
    const put = { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ author: 'httpuser', text: 'down' }) };
    expect(await statusOf(`/channel/${Q}/text`, put)).toBe(503);

    const restarted = which === 'redis' ? await startRedis({ port: server.port }) : await startNats({ port: server.port });
    servers[which] = restarted;
    const backAt = Date.now();
    const marks = new Map(everyone.map((x) => [x, x.frames.length]));
    const lastCount = (x: TestClient) => x.frames.slice(marks.get(x)).filter(is('nb_users')).at(-1)?.nb_users;
    const budget = 15_000;
    const [broadcastMs, countsMs, nbUsersMs] = await Promise.all([
      probeUntilDelivered([[b, inQ], [e, inG]], { since: backAt, timeoutMs: budget }),
      until(async () => {
        for (const edge of [0, 1]) {
          expect(await stack.counts(edge)).toEqual({ [Q]: 3, [G]: 2 });
          expect(await stack.users(edge, Q)).toEqual(['alice', 'carol']);
          expect(await stack.users(edge, G)).toEqual(['dave']);
        }
      }, { since: backAt, timeoutMs: budget, intervalMs: 50 }),
      // Redis lost the counts, so presence announces the rebuilt ones; over a NATS restart they never changed.
      which === 'redis'
        ? until(() => {
          for (const x of inQ) expect(lastCount(x)).toBe(3);
          for (const x of inG) expect(lastCount(x)).toBe(2);
        }, { since: backAt, timeoutMs: budget })
        : Promise.resolve(0),
    ]);

    // One outcome per outage message: an uncompliant, or (when the server came back first) one delivery to all.
    const answered = await until(() => {
      const refused = a.frames.filter(is('uncompliant', (f) => TRY_AGAIN.test(f.reason))).length;
      const delivered = outage.texts.filter((t) => a.frames.some(is('text', (f) => f.text === t))).length;
      expect(refused + delivered, show(a)).toBe(outage.texts.length);
      return refused;
    }, { since: backAt, timeoutMs: budget });
    expect(answered).toBeGreaterThanOrEqual(0);
    for (const t of outage.texts) {
      const copies = inQ.map((x) => x.frames.filter(is('text', (f) => f.text === t)).length);
      expect(copies.every((n) => n === copies[0]) && copies[0]! <= 1).toBe(true);
    }
    const firstRefusal = a.frames.find(is('uncompliant', (f) => TRY_AGAIN.test(f.reason)));
    const uncompliantMs = outage.refusedAt(firstRefusal) - downAt;

    // After recovery: every message from every client reaches every member of its channel exactly once.
    for (const [i, x] of inQ.entries()) x.send({ type: 'text', author: 'sender', text: `after q${i}` });
    for (const [i, x] of inG.entries()) x.send({ type: 'text', author: 'sender', text: `after g${i}` });
    await Promise.all([
      ...inQ.map((_, i) => expectAllReceive(inQ, `after q${i}`)),
      ...inG.map((_, i) => expectAllReceive(inG, `after g${i}`)),
    ]);
    // Nobody left, so nobody was announced as gone; the nicknames are held again.
    for (const x of everyone) expect(x.frames.filter(is('exiter'))).toEqual([]);
    b.send({ type: 'newcomer', newcomer: 'alice' });
    expect((await b.next(is('uncompliant', (f) => !TRY_AGAIN.test(f.reason)))).reason).toBe(`User 'alice' already registered in channel ${Q}`);

    stillOpen(everyone);
    expect((await stack.running()).length).toBe(4);
    report({
      fault: `${which}-restart`, outageMs: backAt - downAt, uncompliantMs, statusErrorMs, broadcastMs, countsMs, nbUsersMs,
      recoveredMs: Math.max(broadcastMs, countsMs, nbUsersMs), ...ms,
    });
    expect(uncompliantMs).toBeLessThanOrEqual(ms.REQUEST_TIMEOUT_MS + 1_000);
  });
});

/** Sends a text every `everyMs` for `forMs` (steady traffic during an outage); records when each answer came. */
async function sendDuring(c: TestClient, forMs: number, everyMs: number) {
  const texts: string[] = [];
  const arrivals = new Map<unknown, number>();
  const onMessage = () => arrivals.set(c.frames.at(-1), Date.now());
  c.ws.on('message', onMessage);
  const end = Date.now() + forMs;
  while (Date.now() < end) {
    const text = `during the outage ${texts.length}`;
    texts.push(text);
    c.send({ type: 'text', author: 'alice', text });
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return { texts, refusedAt: (frame: unknown) => arrivals.get(frame) ?? Number.NaN };
}

function show(c: TestClient): string {
  return JSON.stringify(c.frames.filter((f) => f.type !== 'nb_users').map((f) => (f.type === 'text' ? f.text : `${f.type}:${f.reason ?? f.newcomer ?? f.exiter}`)));
}

/**
 * Resolves once the edge has finished with every frame the client sent before: frames of a socket are handled in
 * order, and a server-only type is answered at once when its turn comes.
 */
async function settled(c: TestClient): Promise<void> {
  c.send({ type: 'nb_users', nb_users: 0 });
  await c.next(is('uncompliant', (f) => /sent by the server only/.test(f.reason)));
}
