/**
 * Race: 50 pairs of clients, one of each pair on each edge, claim the same nickname at the same moment through two
 * presence replicas. Exactly one of each pair wins (protocol.md §6 D5): one newcomer broadcast per nickname, one
 * "already registered" reply to the loser, and /users lists each nickname once.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { is, report, startStack, until, type Stack } from '../support/stack';
import type { TestClient } from '../support/ws-client';

const CHANNEL = 'QGIS';
const PAIRS = 50;

describe('race: the same nicknames claimed across two edges', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: inject('redisUrl'), natsUrl: inject('natsUrl'), presence: 2, edges: 2, env: { NB_USERS_INTERVAL_MS: '250' } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('gives each nickname to exactly one client', async () => {
    const tag = Math.random().toString(36).slice(2, 6);
    const nicks = Array.from({ length: PAIRS }, (_, i) => `racer_${i}_${tag}`);
    const pairs: [TestClient, TestClient][] = await Promise.all(
      nicks.map(async () => [await stack.client(0, CHANNEL), await stack.client(1, CHANNEL)] as [TestClient, TestClient]),
    );
    const everyone = pairs.flat();
    await Promise.all(everyone.map((c) => c.next(is('nb_users'))));

    const started = Date.now();
    pairs.forEach(([a, b], i) => {
      a.send({ type: 'newcomer', newcomer: nicks[i] });
      b.send({ type: 'newcomer', newcomer: nicks[i] });
    });

    const refusal = (nick: string) => is('uncompliant', (f) => f.reason === `User '${nick}' already registered in channel ${CHANNEL}`);
    // Each pair: both see the winner's newcomer broadcast, and the loser gets the refusal.
    const settledMs = await until(() => {
      pairs.forEach(([a, b], i) => {
        const nick = nicks[i]!;
        for (const c of [a, b]) expect(c.frames.filter(is('newcomer', (f) => f.newcomer === nick))).toHaveLength(1);
        const refused = [a, b].filter((c) => c.frames.some(refusal(nick)));
        expect(refused).toHaveLength(1);
      });
    }, { since: started, timeoutMs: 15_000, intervalMs: 50 });

    // Every client saw every nickname announced exactly once, and nobody got a second refusal.
    for (const c of everyone) {
      const announced = c.frames.filter(is('newcomer')).map((f) => f.newcomer).sort();
      expect(announced).toEqual([...nicks].sort());
      expect(c.frames.filter(is('uncompliant')).length).toBeLessThanOrEqual(1);
    }
    const expected = [...nicks].sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1));
    expect(await stack.users(0, CHANNEL)).toEqual(expected);
    expect(await stack.users(1, CHANNEL)).toEqual(expected);

    // The losers hold nothing: when they leave, nobody is announced as gone and the list stays whole.
    const winners = new Map<string, TestClient>();
    const losers: TestClient[] = [];
    pairs.forEach(([a, b], i) => {
      const loser = a.frames.some(refusal(nicks[i]!)) ? a : b;
      losers.push(loser);
      winners.set(nicks[i]!, loser === a ? b : a);
    });
    const watcher = winners.get(nicks[0]!)!;
    const mark = watcher.frames.length;
    await Promise.all(losers.map((c) => c.close()));
    await until(async () => expect(await stack.counts(0)).toMatchObject({ [CHANNEL]: PAIRS }), { since: Date.now(), timeoutMs: 5_000 });
    await until(() => expect(watcher.frames.slice(mark).filter(is('nb_users')).at(-1)?.nb_users).toBe(PAIRS), { since: Date.now(), timeoutMs: 3_000 });
    expect(watcher.frames.slice(mark).filter(is('exiter'))).toEqual([]);
    expect(await stack.users(1, CHANNEL)).toEqual(expected);
    const winsOnEdge0 = pairs.filter(([a], i) => winners.get(nicks[i]!) === a).length;

    report({ fault: 'nickname-race', pairs: PAIRS, settledMs, winsOnEdge0, winsOnEdge1: PAIRS - winsOnEdge0, presenceReplicas: 2 });
  });
});
