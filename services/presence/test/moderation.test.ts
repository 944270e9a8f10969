/** Moderation in presence, on the memory adapters: bans, the impersonation check, listing, control messages. */
import { createEngine } from '@qchat/engine';
import { parseControl, type ControlMessage } from '@qchat/protocol';
import { silentLogger } from '@qchat/runtime';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { Announcer } from '../src/announcer';
import { createHandlers } from '../src/handlers';
import { createModerationHandlers } from '../src/handlers/moderation';
import { createPresenceMetrics } from '../src/metrics';

async function world() {
  let now = 1_000_000;
  const engine = createEngine({ kind: 'memory', instance: 't', edgeTtlMs: 10_000 }, silentLogger(), 'test');
  const control: ControlMessage[] = [];
  await engine.topics.subscribeControl((p) => { const m = parseControl(p); if (m) control.push(m); });
  const { presence: store, moderation } = engine;
  const metrics = createPresenceMetrics(new Registry());
  const mod = createModerationHandlers({ channels: ['QGIS'], store, moderation, topics: engine.topics, now: () => now });
  const h = createHandlers({ channels: ['QGIS'], largeChannel: 1000, store, announce: new Announcer(engine, metrics), metrics, moderation, nickBanned: mod.nickBanned });
  return { h, mod, control, moderation, advance: (ms: number) => { now += ms; } };
}

describe('presence moderation', () => {
  it('names who holds a nickname, and refuses registering a banned one until the ban ends', async () => {
    const { h, mod, control, advance } = await world();
    await h.join({ channel: 'QGIS', conn: 'c1', edge: 'e1', addr: '192.0.2.1', since: 5 });
    await h.register({ channel: 'QGIS', conn: 'c1', edge: 'e1', nick: 'alice' });
    expect(await mod.holder({ channel: 'QGIS', nick: 'alice' })).toEqual({ conn: 'c1', banned: false });
    expect(await mod.holder({ channel: 'QGIS', nick: 'bob' })).toEqual({ conn: null, banned: false });

    await mod.ban({ kind: 'nickname', value: 'troll', seconds: 60, reason: 'spam' });
    await vi.waitFor(() => expect(control).toHaveLength(2));
    expect(control[0]).toEqual({ op: 'bans' });
    expect(control[1]).toMatchObject({ op: 'kick', channel: null, nick: 'troll', address: null, code: 4501 });
    expect((control[1] as { reason: string }).reason).toMatch(/^Banned by a moderator until .* UTC: spam$/);
    expect((await mod.holder({ channel: 'QGIS', nick: 'troll' })).banned).toBe(true);
    await h.join({ channel: 'QGIS', conn: 'c2', edge: 'e1' });
    await expect(h.register({ channel: 'QGIS', conn: 'c2', edge: 'e1', nick: 'troll' })).rejects.toMatchObject({ code: 'uncompliant', message: "Nickname 'troll' is banned by a moderator" });
    advance(61_000);
    // The registration check reads the one ban and sees it over (before anything removed it from the list).
    await expect(h.register({ channel: 'QGIS', conn: 'c2', edge: 'e1', nick: 'troll' })).resolves.toEqual({ registered: true });
    expect((await mod.bans()).bans).toEqual([]);
  });

  it('lists connections with address and connect time, and forgets them when they leave', async () => {
    const { h, mod, moderation } = await world();
    await h.join({ channel: 'QGIS', conn: 'c1', edge: 'e1', addr: '192.0.2.1', since: 5 });
    await h.join({ channel: 'QGIS', conn: 'c2', edge: 'e2' });
    await h.register({ channel: 'QGIS', conn: 'c1', edge: 'e1', nick: 'alice' });
    const { connections } = await mod.conns({ channel: 'QGIS' });
    expect(connections.sort((a, b) => (a.conn < b.conn ? -1 : 1))).toEqual([
      { conn: 'c1', nickname: 'alice', edge: 'e1', address: '192.0.2.1', since: 5 },
      { conn: 'c2', nickname: null, edge: 'e2', address: null, since: null },
    ]);
    await h.leave({ channel: 'QGIS', conn: 'c1', edge: 'e1' });
    expect((await moderation.meta('QGIS')).size).toBe(0);
    await expect(mod.conns({ channel: 'Nope' })).rejects.toMatchObject({ code: 'channel_not_found' });
  });

  it('kicks through a control message and lifts bans', async () => {
    const { mod, control } = await world();
    await mod.kick({ channel: 'QGIS', nick: 'bob', reason: 'flood' });
    await vi.waitFor(() => expect(control).toHaveLength(1));
    expect(control.at(-1)).toEqual({ op: 'kick', channel: 'QGIS', nick: 'bob', address: null, code: 4500, reason: 'Kicked by a moderator: flood' });
    await mod.ban({ kind: 'address', value: '192.0.2.9', seconds: 10, reason: '' });
    await vi.waitFor(() => expect(control).toHaveLength(3));
    expect(control.at(-1)).toMatchObject({ op: 'kick', address: '192.0.2.9', nick: null, code: 4501 });
    expect(await mod.unban({ kind: 'address', value: '192.0.2.9' })).toEqual({ removed: true });
    expect(await mod.unban({ kind: 'address', value: '192.0.2.9' })).toEqual({ removed: false });
  });
});
