/**
 * Join storms stay O(N): members get at most one nb_users per channel per NB_USERS_INTERVAL_MS (the joiner
 * still gets its own count first), and above LARGE_CHANNEL_MEMBERS newcomer/exiter are not broadcast.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort, startService, type ServiceProcess } from '../support/processes';
import { connectClient, type TestClient } from '../support/ws-client';

const is = (type: string, extra: (f: any) => boolean = () => true) => (f: any) => f?.type === type && extra(f);

describe('join storms', () => {
  let proc: ServiceProcess;
  let base = '';
  const clients: TestClient[] = [];
  const join = async (channel: string) => {
    const c = await connectClient(`${base}/channel/${channel}/ws`);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const port = await freePort();
    proc = await startService('all-in-one', {
      PORT: String(port),
      CHANNELS: 'Storm,Large,Pair,Race',
      NB_USERS_INTERVAL_MS: '1000',
      LARGE_CHANNEL_MEMBERS: '3',
    });
    base = `ws://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.terminate().catch(() => undefined)));
    expect(await proc.stop()).toBe(0);
  });

  it('coalesces nb_users for members while every joiner gets its own count first', async () => {
    const first = await join('Storm');
    expect(await first.next()).toMatchObject({ type: 'nb_users', nb_users: 1 });
    const started = Date.now();
    const joiners = await Promise.all(Array.from({ length: 30 }, () => join('Storm')));
    for (const j of joiners) expect((await j.next()).type).toBe('nb_users');
    // Every joiner's first frame counts itself: the counts are 2..31 in some order.
    const counts = joiners.map((j) => j.frames[0].nb_users).sort((a: number, b: number) => a - b);
    expect(counts).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
    // The first member ends up seeing the final count ...
    await first.waitFor(is('nb_users', (f) => f.nb_users === 31), 5_000);
    // ... through at most one update per second since the storm began, instead of 30.
    const seconds = (Date.now() - started) / 1000;
    const updates = first.frames.filter(is('nb_users')).length - 1;
    expect(updates).toBeGreaterThan(0);
    expect(updates).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    expect(updates).toBeLessThan(30);
  });

  it('never sends a joiner the same nb_users twice, nor an older count after its own (gischat test_like order)', async () => {
    // Within NB_USERS_INTERVAL_MS of another count change the joiner's own count is coalesced for the members:
    // its broadcast copy (same id) must not reach the joiner again after its private first count.
    const a = await join('Pair');
    expect(await a.next()).toMatchObject({ type: 'nb_users', nb_users: 1 });
    const b = await join('Pair');
    const own = await b.next();
    expect(own).toMatchObject({ type: 'nb_users', nb_users: 2 });
    b.send({ type: 'newcomer', newcomer: 'pair_b' });
    // The frame after the joiner's registration is its newcomer, as gischat's suite expects.
    expect(await b.next()).toMatchObject({ type: 'newcomer', newcomer: 'pair_b' });
    await a.waitFor(is('nb_users', (f) => f.nb_users === 2), 3_000);
    await new Promise((r) => setTimeout(r, 1_200)); // past the interval: any coalesced copy would have gone out
    const counts = b.frames.filter(is('nb_users'));
    expect(counts.map((f) => f.id)).toEqual([own.id]);
  });

  it('never sends a joiner a replayed message again when its live copy races the history read', async () => {
    // gischat's test_websocket_stored_message: a sender posts and leaves, a joiner connects at once.
    for (let round = 0; round < 5; round++) {
      const sender = await join('Race');
      await sender.next(is('nb_users'));
      for (let i = 0; i < 10; i++) sender.send({ type: 'text', author: 'racer', avatar: null, text: `r${round}-${i}` });
      await sender.close();
      const joiner = await join('Race');
      await new Promise((r) => setTimeout(r, 700));
      const ids = joiner.frames.filter(is('text')).map((f) => f.id);
      expect(ids.length).toBeGreaterThan(0);
      expect(new Set(ids).size, `duplicates in ${JSON.stringify(joiner.frames.map((f) => f.text ?? f.type))}`).toBe(ids.length);
      await joiner.close();
    }
  });

  it('stops broadcasting newcomer and exiter above LARGE_CHANNEL_MEMBERS, but answers the registering socket', async () => {
    const members: TestClient[] = [];
    for (let i = 0; i < 3; i++) members.push(await join('Large'));
    members[0]!.send({ type: 'newcomer', newcomer: 'small_room' });
    for (const m of members) await m.next(is('newcomer', (f) => f.newcomer === 'small_room'));

    const fourth = await join('Large');
    await fourth.next(is('nb_users'));
    fourth.send({ type: 'newcomer', newcomer: 'big_room' });
    expect(await fourth.next(is('newcomer'))).toMatchObject({ newcomer: 'big_room' });
    await members[1]!.expectNone(is('newcomer', (f) => f.newcomer === 'big_room'), 500);
    // The count still reaches everyone.
    await vi.waitFor(() => expect(members[1]!.frames.some(is('nb_users', (f) => f.nb_users === 4))).toBe(true), { timeout: 3_000 });
  });
});
