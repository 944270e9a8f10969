/**
 * The moderation API on a distributed stack (presence, relay and two edges as processes over Redis and NATS):
 * every action taken through either edge's admin port takes effect on both edges, and each one is audited.
 */
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { is, startStack, type Stack } from '../support/stack';
import { connectClient, expectUpgradeRefused, type TestClient } from '../support/ws-client';

const TOKEN = 'moderator-secret-4f9c2e';
const TROLL = '198.51.100.7';

describe('moderation API across two edges', () => {
  let stack: Stack;
  const extra: TestClient[] = [];
  const admin = async (edge: number, method: string, path: string, body?: unknown, token = TOKEN) => {
    const res = await fetch(stack.admin(edge) + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const from = async (edge: number, addr: string) => {
    const c = await connectClient(stack.ws(edge, 'QGIS'), { headers: { 'X-Forwarded-For': addr } });
    extra.push(c);
    await c.next(is('nb_users'));
    return c;
  };
  const audits = () =>
    stack.edges.flatMap((e) => e.output).filter((l) => l.includes('"moderation action"')).map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(async () => {
    stack = await startStack({
      redisUrl: inject('redisUrl'),
      natsUrl: inject('natsUrl'),
      edges: 2,
      env: { ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'info', TRUSTED_PROXIES: '127.0.0.1' },
    });
  });

  afterAll(async () => {
    await Promise.all(extra.map((c) => c.terminate().catch(() => undefined)));
    const all = (await stack?.running())?.flatMap((p) => p.output) ?? [];
    await stack?.stop();
    // The token is never logged, whatever happened.
    expect(all.filter((l) => l.includes(TOKEN))).toEqual([]);
  });

  it('refuses requests without the right token, and is not served on the public port', async () => {
    expect((await admin(0, 'GET', '/admin/bans', undefined, 'wrong')).status).toBe(401);
    const none = await fetch(`${stack.admin(0)}/admin/bans`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await fetch(`${stack.http(0)}/admin/bans`)).status).toBe(404);
    const doc = (await (await fetch(`${stack.admin(1)}/admin/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/admin/bans', '/admin/channels/{channel}/kick', '/admin/channels/{channel}/messages/{id}']));
  });

  it('lists, deletes, kicks, bans and clears; every action reaches both edges and is audited', async () => {
    const alice = await stack.member(0, 'QGIS', 'alice');
    const bob = await stack.member(1, 'QGIS', 'bob');
    const troll = await from(1, TROLL);

    // D6 across edges: bob (edge 1) cannot post as alice (edge 0), over WebSocket or PUT on either edge.
    bob.send({ type: 'text', author: 'alice', avatar: null, text: 'forged' });
    expect((await bob.next(is('uncompliant'))).reason).toBe("Nickname 'alice' is registered by another user in channel QGIS");
    const forged = await fetch(`${stack.http(1)}/channel/QGIS/text`, { method: 'PUT', body: JSON.stringify({ author: 'alice', text: 'forged' }) });
    expect(forged.status).toBe(422);

    // Connections of the channel, from presence: both edges, nicknames, addresses, connect times.
    const listed = await admin(0, 'GET', '/admin/channels/QGIS/connections');
    expect(listed.status).toBe(200);
    const byNick = new Map((listed.body as any[]).map((c) => [c.nickname, c]));
    expect(byNick.get('alice')).toMatchObject({ address: '127.0.0.1', since: expect.any(Number) });
    expect(byNick.get('bob')).toMatchObject({ address: '127.0.0.1' });
    expect(byNick.get('alice').edge).not.toBe(byNick.get('bob').edge);
    expect((listed.body as any[]).some((c) => c.nickname === null && c.address === TROLL)).toBe(true);
    expect((await admin(0, 'GET', '/admin/channels/Nope/connections')).status).toBe(404);

    // Delete a stored message: history no longer replays it, on either edge.
    alice.send({ type: 'text', author: 'alice', avatar: null, text: 'm1 regrettable' });
    const m1 = await alice.next(is('text', (f) => f.text === 'm1 regrettable'));
    alice.send({ type: 'text', author: 'alice', avatar: null, text: 'm2 fine' });
    const m2 = await alice.next(is('text', (f) => f.text === 'm2 fine'));
    expect((await admin(1, 'DELETE', `/admin/channels/QGIS/messages/${m1.id}`)).body).toEqual({ deleted: m1.id });
    expect((await admin(1, 'DELETE', `/admin/channels/QGIS/messages/${m1.id}`)).status).toBe(404);
    const last = (await (await fetch(`${stack.http(0)}/channel/QGIS/last`)).json()) as { id: string }[];
    expect(last.map((f) => f.id)).toEqual([m2.id]);
    const late = await stack.client(1, 'QGIS');
    await late.waitFor(is('text', (f) => f.id === m2.id));
    expect(late.frames.filter(is('text', (f) => f.id === m1.id))).toEqual([]);

    // Kick bob (on edge 1) through edge 0: closed with a code and reason that say why; the others see him leave.
    expect((await admin(0, 'POST', '/admin/channels/QGIS/kick', { nickname: 'bob', reason: 'spam' })).status).toBe(200);
    expect(await bob.closed).toEqual({ code: 4500, reason: 'Kicked by a moderator: spam' });
    await alice.waitFor(is('exiter', (f) => f.exiter === 'bob'));

    // Ban a nickname through edge 1: its holder on edge 0 is closed; nobody can register or post under it anywhere.
    const mallory = await stack.member(0, 'QGIS', 'mallory');
    const ban = await admin(1, 'POST', '/admin/bans', { nickname: 'mallory', duration_seconds: 600, reason: 'trolling' });
    expect(ban.status).toBe(200);
    expect(ban.body).toMatchObject({ kind: 'nickname', value: 'mallory', reason: 'trolling' });
    const closed = await mallory.closed;
    expect(closed.code).toBe(4501);
    expect(closed.reason).toMatch(/^Banned by a moderator until \d{4}-\d\d-\d\d \d\d:\d\d UTC: trolling$/);
    const again = await stack.client(1, 'QGIS');
    again.send({ type: 'newcomer', newcomer: 'mallory' });
    expect((await again.next(is('uncompliant'))).reason).toBe("Nickname 'mallory' is banned by a moderator");
    again.send({ type: 'text', author: 'mallory', avatar: null, text: 'ban evasion' });
    expect((await again.next(is('uncompliant'))).reason).toBe("Nickname 'mallory' is banned by a moderator");

    // Ban an address through edge 0: its socket on edge 1 is closed, and upgrades from it are refused on both edges.
    expect((await admin(0, 'POST', '/admin/bans', { address: TROLL, duration_seconds: 600 })).status).toBe(200);
    expect((await troll.closed).code).toBe(4501);
    for (const edge of [0, 1]) {
      await vi.waitFor(async () => expect(await expectUpgradeRefused(stack.ws(edge, 'QGIS'), { headers: { 'X-Forwarded-For': TROLL } })).toBe(403));
    }
    expect(alice.ws.readyState).toBe(alice.ws.OPEN);
    const bans = await admin(1, 'GET', '/admin/bans');
    expect((bans.body as any[]).map((b) => `${b.kind}:${b.value}`).sort()).toEqual([`address:${TROLL}`, 'nickname:mallory']);
    expect((await admin(1, 'DELETE', `/admin/bans/address/${TROLL}`)).status).toBe(200);
    await vi.waitFor(async () => { await from(0, TROLL); });

    // An address is one address however it is written: a ban on 2001:DB8:0:0::7 holds against 2001:db8::7, one on
    // the IPv6-mapped spelling of an IPv4 address against that IPv4 client, and unbanning takes any spelling too.
    expect((await admin(0, 'POST', '/admin/bans', { address: '2001:DB8:0:0::7', duration_seconds: 600 })).status).toBe(200);
    expect((await admin(0, 'POST', '/admin/bans', { address: '::ffff:198.51.100.8', duration_seconds: 600 })).status).toBe(200);
    for (const addr of ['2001:db8::7', '198.51.100.8']) {
      await vi.waitFor(async () => expect(await expectUpgradeRefused(stack.ws(1, 'QGIS'), { headers: { 'X-Forwarded-For': addr } })).toBe(403));
    }
    expect((await admin(1, 'DELETE', '/admin/bans/address/2001:0db8::0007')).status).toBe(200);
    expect((await admin(1, 'DELETE', '/admin/bans/address/198.51.100.8')).status).toBe(200);
    await vi.waitFor(async () => { await from(1, '2001:db8::7'); });

    // Clear the history.
    expect((await admin(1, 'DELETE', '/admin/channels/QGIS/messages')).body).toEqual({ cleared: 1 });
    expect(await (await fetch(`${stack.http(1)}/channel/QGIS/last`)).json()).toEqual([]);

    // One audit line per action, on the edge that served it.
    await vi.waitFor(() => {
      const actions = audits().map((a) => a['action']);
      for (const a of ['list_connections', 'delete_message', 'kick', 'ban', 'list_bans', 'unban', 'clear_history']) expect(actions).toContain(a);
    });
    const kick = audits().find((a) => a['action'] === 'kick')!;
    expect(kick).toMatchObject({ audit: true, channel: 'QGIS', nickname: 'bob', reason: 'spam', status: 200 });
  });
});
