/**
 * Fault: the only presence process killed with -9 and started again after more than EDGE_TTL_MS. Meanwhile
 * registrations get a clear uncompliant and messages still flow (relay does not need presence). The new process
 * must not take the edges' silence while it was away for their death: nobody is announced as gone, and counts,
 * user lists and nicknames are as before.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectAllReceive, is, ms, report, startStack, stillOpen, until, type Stack } from '../support/stack';

const Q = 'QGIS';
const G = 'Geotribu';

describe('fault: presence killed with -9 and restarted', () => {
  let stack: Stack;

  beforeAll(async () => {
    // Heartbeats rarer than reaper sweeps: a new presence would sweep before any edge had a chance to be heard.
    stack = await startStack({ redisUrl: inject('redisUrl'), natsUrl: inject('natsUrl'), edges: 2, env: { EDGE_HEARTBEAT_MS: String(ms.EDGE_TTL_MS / 3), REAP_INTERVAL_MS: '100' } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('keeps every live user through the restart', async () => {
    const a = await stack.member(0, Q, 'alice');
    const b = await stack.client(0, G);
    const c = await stack.member(1, Q, 'carol');
    const d = await stack.member(1, G, 'dave');
    const everyone = [a, b, c, d];
    await until(async () => expect(await stack.counts(0)).toEqual({ [Q]: 2, [G]: 2 }), { since: Date.now(), timeoutMs: 5_000 });

    await stack.presence[0]!.kill9();
    const downAt = Date.now();
    // While presence is away: registration is refused clearly, chat goes on.
    b.send({ type: 'newcomer', newcomer: 'bob_down' });
    expect((await b.next(is('uncompliant'), 10_000)).reason).toMatch(/try again/i);
    const uncompliantMs = Date.now() - downAt;
    a.send({ type: 'text', author: 'alice', text: 'presence is away' });
    await expectAllReceive([a, c], 'presence is away');
    // Stay down past EDGE_TTL_MS: every edge's liveness key expires.
    await new Promise((r) => setTimeout(r, ms.EDGE_TTL_MS + 500));

    const started = Date.now();
    stack.presence[0] = await stack.start('presence');
    const backAt = Date.now();
    const countsMs = await until(async () => {
      for (const edge of [0, 1]) {
        expect(await stack.counts(edge)).toEqual({ [Q]: 2, [G]: 2 });
        expect(await stack.users(edge, Q)).toEqual(['alice', 'carol']);
        expect(await stack.users(edge, G)).toEqual(['dave']);
      }
    }, { since: backAt, timeoutMs: 10_000 });
    // Past the new process's first EDGE_TTL_MS, when it starts reaping: still nobody gone.
    await until(() => expect(Date.now() - started).toBeGreaterThan(ms.EDGE_TTL_MS + 500), { since: backAt, timeoutMs: ms.EDGE_TTL_MS + 2_000, intervalMs: 100 });
    for (const x of everyone) expect(x.frames.filter(is('exiter'))).toEqual([]);
    expect(await stack.counts(1)).toEqual({ [Q]: 2, [G]: 2 });
    b.send({ type: 'newcomer', newcomer: 'dave' });
    expect((await b.next(is('uncompliant'))).reason).toBe(`User 'dave' already registered in channel ${G}`);
    b.send({ type: 'newcomer', newcomer: 'bob' });
    await d.next(is('newcomer', (f) => f.newcomer === 'bob'));

    stillOpen(everyone);
    expect((await stack.running()).length).toBe(4);
    report({ fault: 'presence-restart', downMs: backAt - downAt, uncompliantMs, countsMs, ...ms, EDGE_HEARTBEAT_MS: ms.EDGE_TTL_MS / 3, REAP_INTERVAL_MS: 100 });
  });
});
