/**
 * Fault: an edge killed with -9 while registered users sit on it. Presence must reclaim its connections within
 * EDGE_TTL_MS (+ one reap interval), tell the other edge's clients with exiter then the corrected nb_users in
 * every channel it touched, and /status and /users must say the same.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { is, ms, report, startStack, until, type Stack } from '../support/stack';

const Q = 'QGIS';
const G = 'Geotribu';

describe('fault: edge killed with -9', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: inject('redisUrl'), natsUrl: inject('natsUrl'), edges: 2 });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('reclaims its connections: exiter and nb_users reach the other edge, /status and /users agree', async () => {
    const tag = Math.random().toString(36).slice(2, 6);
    const nick = (n: string) => `${n}_${tag}`;
    // Survivors on edge 1: one registered watcher per channel.
    const watchQ = await stack.member(1, Q, nick('watch_q'));
    const watchG = await stack.member(1, G, nick('watch_g'));
    // Victims on edge 0: registered and anonymous sockets in both channels.
    await stack.member(0, Q, nick('victim1'));
    await stack.member(0, Q, nick('victim2'));
    await stack.client(0, Q);
    await stack.member(0, G, nick('victim3'));
    await stack.client(0, G);

    await until(async () => expect(await stack.counts(1)).toEqual({ [Q]: 4, [G]: 3 }), { since: Date.now(), timeoutMs: 5_000 });
    const markQ = watchQ.frames.length;
    const markG = watchG.frames.length;
    const since = (c: typeof watchQ, mark: number) => c.frames.slice(mark);

    const killedAt = Date.now();
    await stack.edges[0]!.kill9();

    // exiter for each registered victim of the channel, then nb_users with the survivors' count.
    const expectReclaimed = (frames: any[], exiters: string[], count: number) => {
      const got = frames.filter((f) => f.type === 'exiter').map((f) => f.exiter).sort();
      expect(got).toEqual(exiters.sort());
      const lastExiter = frames.findLastIndex(is('exiter'));
      const counts = frames.slice(lastExiter + 1).filter(is('nb_users'));
      expect(counts.at(-1)?.nb_users).toBe(count);
    };
    const budget = ms.EDGE_TTL_MS + ms.REAP_INTERVAL_MS + 2_000;
    const [framesQMs, framesGMs] = await Promise.all([
      until(() => expectReclaimed(since(watchQ, markQ), [nick('victim1'), nick('victim2')], 1), { since: killedAt, timeoutMs: budget }),
      until(() => expectReclaimed(since(watchG, markG), [nick('victim3')], 1), { since: killedAt, timeoutMs: budget }),
    ]);
    const statusMs = await until(async () => {
      expect(await stack.counts(1)).toEqual({ [Q]: 1, [G]: 1 });
      expect(await stack.users(1, Q)).toEqual([nick('watch_q')]);
      expect(await stack.users(1, G)).toEqual([nick('watch_g')]);
    }, { since: killedAt, timeoutMs: 2_000 });

    // Nothing more than one exiter per victim, and no exiter for the anonymous sockets.
    expect(since(watchQ, markQ).filter(is('exiter'))).toHaveLength(2);
    expect(since(watchG, markG).filter(is('exiter'))).toHaveLength(1);
    // The victims' nicknames are free again (protocol.md §6 D4).
    watchQ.send({ type: 'newcomer', newcomer: nick('victim1') });
    await watchQ.next(is('newcomer', (f) => f.newcomer === nick('victim1')));

    const reclaimMs = Math.max(framesQMs, framesGMs);
    report({ fault: 'edge-kill9', reclaimMs, statusMs, ...ms });
    expect(reclaimMs).toBeLessThanOrEqual(budget);
    expect((await stack.running()).length).toBe(3);
  });
});
