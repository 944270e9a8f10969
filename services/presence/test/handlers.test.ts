/**
 * Presence handlers in-process (memory store, memory broker): what each broadcasts. The LARGE_CHANNEL_MEMBERS rule
 * on both sides of N, for newcomer and exiter alike, and the release of a nickname that keeps the connection.
 */
import { createEngine } from '@qchat/engine';
import { decodeEnvelope } from '@qchat/protocol';
import { silentLogger } from '@qchat/runtime';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Announcer } from '../src/announcer';
import { createHandlers, isLarge } from '../src/handlers';
import { createPresenceMetrics } from '../src/metrics';

const N = 3;

async function setup() {
  const engine = createEngine({ kind: 'memory', instance: 'test', edgeTtlMs: 10_000 }, silentLogger(), 'test');
  const frames: { type: string; [key: string]: unknown }[] = [];
  await engine.topics.subscribe('QGIS', (payload) => {
    const d = decodeEnvelope(Buffer.from(payload));
    if (d) frames.push(JSON.parse(d.frame.toString('utf8')) as { type: string });
  });
  const metrics = createPresenceMetrics(new Registry());
  const store = engine.presence;
  const h = createHandlers({ channels: ['QGIS'], largeChannel: N, store, announce: new Announcer(engine, metrics), metrics });
  const settle = () => new Promise((r) => setTimeout(r, 10));
  const typed = (type: string) => frames.filter((f) => f.type === type);
  return { h, store, frames, settle, typed };
}

describe('presence handlers', () => {
  it('LARGE_CHANNEL_MEMBERS: at exactly N members newcomer and exiter are broadcast, above N neither is', async () => {
    expect([isLarge({ largeChannel: N }, N), isLarge({ largeChannel: N }, N + 1)]).toEqual([false, true]);
    const { h, settle, typed } = await setup();
    for (let i = 0; i < N; i++) await h.join({ channel: 'QGIS', conn: `c${i}`, edge: 'e' });
    await h.register({ channel: 'QGIS', conn: 'c0', edge: 'e', nick: 'at_n' }); // N members
    await settle();
    expect(typed('newcomer').map((f) => f.newcomer)).toEqual(['at_n']);

    await h.join({ channel: 'QGIS', conn: `c${N}`, edge: 'e' }); // N + 1
    await h.register({ channel: 'QGIS', conn: `c${N}`, edge: 'e', nick: 'above_n' }); // answered to its own socket only
    await h.leave({ channel: 'QGIS', conn: `c${N}`, edge: 'e' }); // above_n leaves: N remain, so its exiter goes out
    await settle();
    expect(typed('exiter').map((f) => f.exiter)).toEqual(['above_n']);

    await h.join({ channel: 'QGIS', conn: 'c9', edge: 'e' }); // N + 1
    await h.join({ channel: 'QGIS', conn: 'c10', edge: 'e' }); // N + 2
    await h.leave({ channel: 'QGIS', conn: 'c0', edge: 'e' }); // at_n leaves: N + 1 remain, a large channel
    await settle();
    expect(typed('exiter').map((f) => f.exiter)).toEqual(['above_n']);
  });

  it('an inbound exiter releases the nickname and keeps the connection: count unchanged, nickname free, exiter sent', async () => {
    const { h, store, settle, typed } = await setup();
    await h.join({ channel: 'QGIS', conn: 'a', edge: 'e' });
    await h.join({ channel: 'QGIS', conn: 'b', edge: 'e' });
    await h.register({ channel: 'QGIS', conn: 'a', edge: 'e', nick: 'releaser' });
    const left = await h.leave({ channel: 'QGIS', conn: 'a', edge: 'e', keepConnection: true });
    await settle();
    expect(left).toEqual({ nick: 'releaser', count: 2 });
    expect(await store.count('QGIS')).toBe(2);
    expect((await h.users({ channel: 'QGIS' })).users).toEqual([]);
    expect(typed('exiter').map((f) => f.exiter)).toEqual(['releaser']);
    // The connection is still there: another socket may take the name, and the released one may register again.
    await h.register({ channel: 'QGIS', conn: 'b', edge: 'e', nick: 'releaser' });
    expect((await h.users({ channel: 'QGIS' })).users).toEqual(['releaser']);
    expect((await h.leave({ channel: 'QGIS', conn: 'a', edge: 'e' })).count).toBe(1);
  });

  it('a release never takes the connection out of the count, not even between two steps', async () => {
    const { h, store, settle, typed } = await setup();
    await h.join({ channel: 'QGIS', conn: 'a', edge: 'e' });
    await h.register({ channel: 'QGIS', conn: 'a', edge: 'e', nick: 'releaser' });
    const seen = new Set<number>();
    const releasing = h.leave({ channel: 'QGIS', conn: 'a', edge: 'e', keepConnection: true });
    for (let i = 0; i < 5; i++) seen.add(await store.count('QGIS'));
    await releasing;
    await settle();
    expect([...seen]).toEqual([1]);
    expect(typed('nb_users').map((f) => f.nb_users)).toEqual([1, 1]); // the join's count, then the release's
  });
});

/**
 * Every path that may announce a nickname, on both sides of LARGE_CHANNEL_MEMBERS (N): at N members after the change
 * the channel is small (newcomer/exiter broadcast), at N + 1 large (exiter none, newcomer to the registering socket).
 */
describe('LARGE_CHANNEL_MEMBERS on every path', () => {
  async function channelOf(size: number) {
    const engine = createEngine({ kind: 'memory', instance: 'test', edgeTtlMs: 10_000 }, silentLogger(), 'test');
    const seen: { type: string; nick: unknown; conn?: string }[] = [];
    await engine.topics.subscribe('QGIS', (payload) => {
      const d = decodeEnvelope(Buffer.from(payload));
      const f = d && (JSON.parse(d.frame.toString('utf8')) as Record<string, unknown>);
      if (f && f.type !== 'nb_users') seen.push({ type: String(f.type), nick: f[String(f.type)], ...(d.route.conn ? { conn: d.route.conn } : {}) });
    });
    const metrics = createPresenceMetrics(new Registry());
    const h = createHandlers({ channels: ['QGIS'], largeChannel: N, store: engine.presence, announce: new Announcer(engine, metrics), metrics });
    for (let i = 0; i < size; i++) await h.join({ channel: 'QGIS', conn: `c${i}`, edge: i === 0 ? 'gone' : 'e' });
    await h.register({ channel: 'QGIS', conn: 'c0', edge: 'gone', nick: 'zoe' });
    await new Promise((r) => setTimeout(r, 5));
    seen.length = 0;
    const announced = async () => {
      await new Promise((r) => setTimeout(r, 5));
      return seen;
    };
    return { h, announced };
  }

  // [path, members before the change, what the others see]
  const cases: [string, number, (h: ReturnType<typeof createHandlers>) => Promise<unknown>, unknown[]][] = [
    ['register (newcomer)', N, (h) => h.register({ channel: 'QGIS', conn: 'c1', edge: 'e', nick: 'ann' }), [{ type: 'newcomer', nick: 'ann' }]],
    ['register (newcomer)', N + 1, (h) => h.register({ channel: 'QGIS', conn: 'c1', edge: 'e', nick: 'ann' }), [{ type: 'newcomer', nick: 'ann', conn: 'c1' }]],
    ['register of a second nickname (exiter)', N, (h) => h.register({ channel: 'QGIS', conn: 'c0', edge: 'gone', nick: 'zed' }), [{ type: 'exiter', nick: 'zoe' }, { type: 'newcomer', nick: 'zed' }]],
    ['register of a second nickname (exiter)', N + 1, (h) => h.register({ channel: 'QGIS', conn: 'c0', edge: 'gone', nick: 'zed' }), [{ type: 'newcomer', nick: 'zed', conn: 'c0' }]],
    ['release (inbound exiter)', N, (h) => h.leave({ channel: 'QGIS', conn: 'c0', edge: 'gone', keepConnection: true }), [{ type: 'exiter', nick: 'zoe' }]],
    ['release (inbound exiter)', N + 1, (h) => h.leave({ channel: 'QGIS', conn: 'c0', edge: 'gone', keepConnection: true }), []],
    ['leave', N + 1, (h) => h.leave({ channel: 'QGIS', conn: 'c0', edge: 'gone' }), [{ type: 'exiter', nick: 'zoe' }]],
    ['leave', N + 2, (h) => h.leave({ channel: 'QGIS', conn: 'c0', edge: 'gone' }), []],
    ['reclaim of a dead edge', N + 1, (h) => h.edgeDown({ edge: 'gone' }), [{ type: 'exiter', nick: 'zoe' }]],
    ['reclaim of a dead edge', N + 2, (h) => h.edgeDown({ edge: 'gone' }), []],
  ];
  it.each(cases)('%s with %i members', async (_path, members, change, expected) => {
    const { h, announced } = await channelOf(members);
    await change(h);
    expect(await announced()).toEqual(expected);
  });
});
