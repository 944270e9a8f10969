/**
 * The engine's presence part (libs/engine/src/presence.ts), run against every engine: memory in the unit project,
 * Redis in the integration project. Each test gets a fresh engine (a fresh instance id on the shared Redis).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PresenceStore, Reclaimed } from '@qchat/engine';
import type { EngineHarness } from './history-store.contract';

const WAIT = { timeout: 5_000, interval: 5 };

const sorted = (xs: string[]) => [...xs].sort();
const byConn = (xs: Reclaimed[]) => [...xs].sort((a, b) => (a.conn < b.conn ? -1 : a.conn > b.conn ? 1 : 0));
const conn = () => randomUUID();

/** The PresenceStore contract, run against every engine. */
export function presenceStoreContract(name: string, make: () => Promise<EngineHarness>): void {
  describe(`PresenceStore contract: ${name}`, () => {
    let h: EngineHarness;
    let s: PresenceStore;
    beforeEach(async () => {
      h = await make();
      s = h.engine.presence;
    });
    afterEach(async () => {
      await h.close();
    });

    describe('join, count, counts', () => {
      it('counts live connections and is idempotent', async () => {
        const [a, b] = [conn(), conn()];
        expect(await s.count('QGIS')).toBe(0);
        expect(await s.join('QGIS', a, 'e1')).toBe(1);
        expect(await s.join('QGIS', a, 'e1')).toBe(1);
        expect(await s.join('QGIS', b, 'e2')).toBe(2);
        expect(await s.count('QGIS')).toBe(2);
        expect(await s.count('QField')).toBe(0);
      });

      it('keeps channels apart and answers counts in order', async () => {
        await s.join('A', conn(), 'e1');
        await s.join('A', conn(), 'e1');
        await s.join('B', conn(), 'e2');
        expect(await s.counts(['B', 'none', 'A'])).toEqual([1, 0, 2]);
        expect(await s.counts([])).toEqual([]);
      });

      it('handles channel names with spaces, colons and tabs', async () => {
        const c = conn();
        for (const ch of ['with space', 'a:b:c', 'tab\there', 'été']) {
          expect(await s.join(ch, c, 'e1')).toBe(1);
          expect((await s.register(ch, c, 'e1', 'nick')).status).toBe('ok');
        }
        const got = await s.reclaim('e1');
        expect(sorted(got.map((r) => r.channel))).toEqual(sorted(['with space', 'a:b:c', 'tab\there', 'été']));
        expect(got.every((r) => r.conn === c && r.nick === 'nick')).toBe(true);
      });

      it('counts right under concurrent joins', async () => {
        const conns = Array.from({ length: 100 }, conn);
        const results = await Promise.all(conns.map((c, i) => s.join('busy', c, `e${i % 3}`)));
        expect(await s.count('busy')).toBe(100);
        expect(sorted(results.map(String))).toEqual(sorted(conns.map((_, i) => String(i + 1))));
      });
    });

    describe('register', () => {
      it('claims, refuses a taken nickname, and reports the same one', async () => {
        const [a, b] = [conn(), conn()];
        await s.join('QGIS', a, 'e1');
        await s.join('QGIS', b, 'e1');
        expect(await s.register('QGIS', a, 'e1', 'jane_doe')).toEqual({ status: 'ok', replaced: null });
        expect(await s.register('QGIS', b, 'e1', 'jane_doe')).toEqual({ status: 'taken', replaced: null });
        expect(await s.register('QGIS', a, 'e1', 'jane_doe')).toEqual({ status: 'same', replaced: null });
        expect(await s.users('QGIS')).toEqual(['jane_doe']);
      });

      it('a taken nickname changes nothing for the loser', async () => {
        const [a, b] = [conn(), conn()];
        await s.register('QGIS', a, 'e1', 'jane');
        await s.register('QGIS', b, 'e1', 'john');
        expect(await s.register('QGIS', b, 'e1', 'jane')).toEqual({ status: 'taken', replaced: null });
        expect(sorted(await s.users('QGIS'))).toEqual(['jane', 'john']);
        expect(await s.leave('QGIS', b)).toEqual({ existed: true, nick: 'john', count: 1 });
      });

      it('a second nickname replaces the first, which becomes free', async () => {
        const [a, b] = [conn(), conn()];
        await s.join('QGIS', a, 'e1');
        expect(await s.register('QGIS', a, 'e1', 'first')).toEqual({ status: 'ok', replaced: null });
        expect(await s.register('QGIS', a, 'e1', 'second')).toEqual({ status: 'ok', replaced: 'first' });
        expect(await s.users('QGIS')).toEqual(['second']);
        expect(await s.register('QGIS', b, 'e1', 'first')).toEqual({ status: 'ok', replaced: null });
        expect(sorted(await s.users('QGIS'))).toEqual(['first', 'second']);
        expect(await s.count('QGIS')).toBe(2);
      });

      it('is case-sensitive', async () => {
        const [a, b] = [conn(), conn()];
        expect((await s.register('QGIS', a, 'e1', 'Jane')).status).toBe('ok');
        expect((await s.register('QGIS', b, 'e1', 'jane')).status).toBe('ok');
        expect(sorted(await s.users('QGIS'))).toEqual(['Jane', 'jane']);
      });

      it('scopes nicknames to their channel', async () => {
        const [a, b] = [conn(), conn()];
        expect((await s.register('A', a, 'e1', 'jane')).status).toBe('ok');
        expect((await s.register('B', b, 'e1', 'jane')).status).toBe('ok');
        expect(await s.users('A')).toEqual(['jane']);
        expect(await s.users('B')).toEqual(['jane']);
        expect(await s.users('C')).toEqual([]);
      });

      it('joins an unjoined connection implicitly', async () => {
        const a = conn();
        expect(await s.register('QGIS', a, 'e1', 'jane')).toEqual({ status: 'ok', replaced: null });
        expect(await s.count('QGIS')).toBe(1);
        expect(await s.heartbeat('e1')).toBe(1);
        expect(await s.join('QGIS', a, 'e1')).toBe(1);
      });

      it('gives a nickname contested by 50 connections to exactly one', async () => {
        const conns = Array.from({ length: 50 }, conn);
        await Promise.all(conns.map((c) => s.join('QGIS', c, 'e1')));
        const results = await Promise.all(conns.map((c, i) => s.register('QGIS', c, `e${i % 2}`, 'jane_doe')));
        expect(results.filter((r) => r.status === 'ok')).toHaveLength(1);
        expect(results.filter((r) => r.status === 'taken')).toHaveLength(49);
        expect(await s.users('QGIS')).toEqual(['jane_doe']);
        const winner = conns[results.findIndex((r) => r.status === 'ok')]!;
        expect(await s.leave('QGIS', winner)).toMatchObject({ existed: true, nick: 'jane_doe' });
        expect(await s.users('QGIS')).toEqual([]);
      });

      it('gives each of 50 racing unjoined connections its own count and nickname', async () => {
        const conns = Array.from({ length: 50 }, conn);
        const results = await Promise.all(conns.map((c, i) => s.register('QGIS', c, 'e1', `user${i}`)));
        expect(results.every((r) => r.status === 'ok')).toBe(true);
        expect(await s.count('QGIS')).toBe(50);
        expect(await s.users('QGIS')).toHaveLength(50);
      });
    });

    describe('release (an inbound exiter: the nickname goes, the connection stays)', () => {
      it('releases the nickname and keeps the connection, its edge and its count', async () => {
        const [a, b, c] = [conn(), conn(), conn()];
        await s.join('QGIS', a, 'e1');
        await s.join('QGIS', b, 'e2');
        await s.register('QGIS', a, 'e1', 'jane');
        expect(await s.release('QGIS', a)).toEqual({ joined: true, nick: 'jane', count: 2 });
        expect(await s.users('QGIS')).toEqual([]);
        expect(await s.holder('QGIS', 'jane')).toBeNull();
        expect(await s.count('QGIS')).toBe(2);
        expect(await s.heartbeat('e1')).toBe(1);
        expect((await s.members('QGIS')).find((m) => m.conn === a)).toEqual({ conn: a, edge: 'e1', nick: null });
        // The name is free for anyone, the released connection included; a second release finds no nickname.
        expect((await s.register('QGIS', b, 'e2', 'jane')).status).toBe('ok');
        expect(await s.release('QGIS', a)).toEqual({ joined: true, nick: null, count: 2 });
        expect(await s.release('QGIS', c)).toEqual({ joined: false, nick: null, count: 2 });
        expect((await s.register('QGIS', a, 'e1', 'again')).status).toBe('ok');
        expect(await s.leave('QGIS', a)).toEqual({ existed: true, nick: 'again', count: 1 });
      });

      it('never takes the connection out of the count, even for a moment', async () => {
        const [a, b] = [conn(), conn()];
        await s.join('QGIS', a, 'e1');
        await s.join('QGIS', b, 'e1');
        const seen = new Set<number>();
        const cycles = Array.from({ length: 20 }, async (_, i) => {
          await s.register('QGIS', a, 'e1', `n${i}`);
          await s.release('QGIS', a);
        });
        const reads = Array.from({ length: 60 }, async () => { seen.add(await s.count('QGIS')); });
        await Promise.all([...cycles, ...reads]);
        expect([...seen]).toEqual([2]);
      });
    });

    describe('count publication', () => {
      it('publishes head + the live count + tail to the channel and returns the count', async () => {
        const got: string[] = [];
        await h.engine.topics.subscribe('QGIS', (p) => { got.push(p.toString('utf8')); });
        await s.join('QGIS', conn(), 'e1');
        await s.join('QGIS', conn(), 'e1');
        expect(await s.publishCount('QGIS', Buffer.from('{"kind":"nb_users"}\n{"nb_users":'), '}')).toBe(2);
        expect(await s.publishCount('empty', Buffer.from('a'), 'b')).toBe(0);
        await vi.waitFor(() => expect(got).toEqual(['{"kind":"nb_users"}\n{"nb_users":2}']), WAIT);
      });

      it('the last count published always carries the latest count (read as it is published)', async () => {
        const got: string[] = [];
        await h.engine.topics.subscribe('busy', (p) => { got.push(p.toString('utf8')); });
        await Promise.all(Array.from({ length: 20 }, async (_, i) => {
          await s.join('busy', conn(), `e${i % 3}`);
          await s.publishCount('busy', Buffer.from('n='), '');
        }));
        await vi.waitFor(() => expect(got).toHaveLength(20), WAIT);
        expect(got.at(-1)).toBe('n=20');
      });
    });

    describe('leave and users', () => {
      it('removes the connection, releases its nickname and reports it', async () => {
        const [a, b] = [conn(), conn()];
        await s.join('QGIS', a, 'e1');
        await s.join('QGIS', b, 'e2');
        await s.register('QGIS', a, 'e1', 'jane');
        expect(await s.leave('QGIS', a)).toEqual({ existed: true, nick: 'jane', count: 1 });
        expect(await s.users('QGIS')).toEqual([]);
        expect((await s.register('QGIS', b, 'e2', 'jane')).status).toBe('ok');
        expect(await s.heartbeat('e1')).toBe(0);
      });

      it('a retried leave finds nothing', async () => {
        const a = conn();
        await s.join('QGIS', a, 'e1');
        expect(await s.leave('QGIS', a)).toEqual({ existed: true, nick: null, count: 0 });
        expect(await s.leave('QGIS', a)).toEqual({ existed: false, nick: null, count: 0 });
        expect(await s.leave('never', conn())).toEqual({ existed: false, nick: null, count: 0 });
      });

      it('a leave in one channel leaves the other channels alone', async () => {
        const a = conn();
        await s.register('A', a, 'e1', 'jane');
        await s.register('B', a, 'e1', 'jane');
        expect(await s.leave('A', a)).toEqual({ existed: true, nick: 'jane', count: 0 });
        expect(await s.users('B')).toEqual(['jane']);
        expect(await s.count('B')).toBe(1);
        expect(await s.heartbeat('e1')).toBe(1);
      });

      it('lists registered nicknames only', async () => {
        const [a, b, c] = [conn(), conn(), conn()];
        await s.join('QGIS', a, 'e1');
        await s.register('QGIS', b, 'e1', 'Barnabe');
        await s.register('QGIS', c, 'e2', 'Isidore');
        expect(sorted(await s.users('QGIS'))).toEqual(['Barnabe', 'Isidore']);
        expect(await s.count('QGIS')).toBe(3);
      });
    });

    describe('liveness', () => {
      it('heartbeat counts the connections held for the edge', async () => {
        expect(await s.heartbeat('e1')).toBe(0);
        await s.join('A', conn(), 'e1');
        await s.join('B', conn(), 'e1');
        await s.join('A', conn(), 'e2');
        expect(await s.heartbeat('e1')).toBe(2);
        expect(await s.heartbeat('e2')).toBe(1);
      });

      it('reports edges whose liveness lapsed, and only those', async (ctx) => {
        if (!h.expire) return ctx.skip();
        await s.join('A', conn(), 'dead');
        await s.join('A', conn(), 'alive');
        expect(await s.deadEdges()).toEqual([]);
        await h.expire('dead');
        await s.heartbeat('alive');
        expect(await s.deadEdges()).toEqual(['dead']);
        await s.heartbeat('dead');
        expect(await s.deadEdges()).toEqual([]);
      });

      it('a join or a register refreshes the edge', async (ctx) => {
        if (!h.expire) return ctx.skip();
        const a = conn();
        await s.join('A', a, 'e1');
        await h.expire('e1');
        expect(await s.deadEdges()).toEqual(['e1']);
        await s.join('A', conn(), 'e1');
        expect(await s.deadEdges()).toEqual([]);
        await h.expire('e1');
        await s.register('A', a, 'e1', 'jane');
        expect(await s.deadEdges()).toEqual([]);
      });

      it('an edge that holds no connection is never dead', async (ctx) => {
        if (!h.expire) return ctx.skip();
        const [a, b, c] = [conn(), conn(), conn()];
        await s.heartbeat('idle');
        await s.join('A', a, 'left');
        await s.leave('A', a);
        await s.join('A', b, 'synced');
        await s.sync('synced', []);
        await s.join('A', c, 'moved');
        await s.join('A', c, 'other');
        await h.expire('idle');
        await h.expire('left');
        await h.expire('synced');
        await h.expire('moved');
        await s.heartbeat('other');
        expect(await s.deadEdges()).toEqual([]);
        expect(await s.heartbeat('moved')).toBe(0);
        expect(await s.heartbeat('other')).toBe(1);
      });
    });

    describe('reclaim', () => {
      it('removes every connection of the edge and forgets it', async () => {
        const [a, b, c, other] = [conn(), conn(), conn(), conn()];
        await s.register('A', a, 'e1', 'jane');
        await s.join('A', b, 'e1');
        await s.register('B', c, 'e1', 'john');
        await s.register('A', other, 'e2', 'other');
        const got = await s.reclaim('e1');
        expect(byConn(got)).toEqual(
          byConn([
            { channel: 'A', conn: a, nick: 'jane' },
            { channel: 'A', conn: b, nick: null },
            { channel: 'B', conn: c, nick: 'john' },
          ]),
        );
        expect(await s.counts(['A', 'B'])).toEqual([1, 0]);
        expect(await s.users('A')).toEqual(['other']);
        expect(await s.users('B')).toEqual([]);
        expect(await s.heartbeat('e1')).toBe(0);
        expect(await s.heartbeat('e2')).toBe(1);
        expect(await s.reclaim('e1')).toEqual([]);
        expect((await s.register('A', conn(), 'e3', 'jane')).status).toBe('ok');
      });

      it('forgets a dead edge', async (ctx) => {
        if (!h.expire) return ctx.skip();
        await s.join('A', conn(), 'e1');
        await h.expire('e1');
        expect(await s.deadEdges()).toEqual(['e1']);
        expect(await s.reclaim('e1')).toHaveLength(1);
        expect(await s.deadEdges()).toEqual([]);
        expect(await s.count('A')).toBe(0);
      });

      it('returns each connection to exactly one of two racing callers', async () => {
        const conns = Array.from({ length: 40 }, conn);
        await Promise.all(conns.map((c, i) => s.register(`ch${i % 4}`, c, 'e1', `user${i}`)));
        const [x, y] = await Promise.all([s.reclaim('e1'), s.reclaim('e1')]);
        const all = [...x, ...y].map((r) => r.conn);
        expect(sorted(all)).toEqual(sorted(conns));
        expect(await s.counts(['ch0', 'ch1', 'ch2', 'ch3'])).toEqual([0, 0, 0, 0]);
      });

      it('a leave after a reclaim is harmless', async () => {
        const [a, b] = [conn(), conn()];
        await s.register('A', a, 'e1', 'jane');
        await s.register('A', b, 'e2', 'john');
        await s.reclaim('e1');
        expect(await s.leave('A', a)).toEqual({ existed: false, nick: null, count: 1 });
        expect(await s.users('A')).toEqual(['john']);
      });

      it('a join after a reclaim brings the edge back', async () => {
        const a = conn();
        await s.join('A', a, 'e1');
        await s.reclaim('e1');
        expect(await s.join('A', a, 'e1')).toBe(1);
        expect(await s.heartbeat('e1')).toBe(1);
      });
    });

    describe('sync', () => {
      it('restores an edge into an empty store', async () => {
        const [a, b, c] = [conn(), conn(), conn()];
        const res = await s.sync('e1', [
          { channel: 'A', conn: a, nick: 'jane' },
          { channel: 'A', conn: b, nick: null },
          { channel: 'B', conn: c, nick: 'john' },
        ]);
        expect(res.lostNicks).toEqual([]);
        expect(sorted(res.channels)).toEqual(['A', 'B']);
        expect(await s.counts(['A', 'B'])).toEqual([2, 1]);
        expect(await s.users('A')).toEqual(['jane']);
        expect(await s.users('B')).toEqual(['john']);
        expect(await s.heartbeat('e1')).toBe(3);
        expect(await s.register('A', a, 'e1', 'jane')).toEqual({ status: 'same', replaced: null });
      });

      it('replaces what the store held for the edge and leaves other edges alone', async () => {
        const [a, b, c, d, other] = [conn(), conn(), conn(), conn(), conn()];
        await s.register('A', a, 'e1', 'jane');
        await s.register('A', b, 'e1', 'gone');
        await s.register('B', c, 'e1', 'renamed');
        await s.register('A', other, 'e2', 'other');
        const res = await s.sync('e1', [
          { channel: 'A', conn: a, nick: 'jane' },
          { channel: 'B', conn: c, nick: 'new_name' },
          { channel: 'C', conn: d, nick: null },
        ]);
        expect(res.lostNicks).toEqual([]);
        // A lost b, C gained d; B kept the same connections (only a nickname changed).
        expect(sorted(res.channels)).toEqual(['A', 'C']);
        expect(await s.counts(['A', 'B', 'C'])).toEqual([2, 1, 1]);
        expect(sorted(await s.users('A'))).toEqual(['jane', 'other']);
        expect(await s.users('B')).toEqual(['new_name']);
        expect(await s.users('C')).toEqual([]);
        expect(await s.heartbeat('e1')).toBe(3);
        expect(await s.heartbeat('e2')).toBe(1);
        expect(await s.leave('A', b)).toEqual({ existed: false, nick: null, count: 2 });
        expect((await s.register('A', conn(), 'e3', 'gone')).status).toBe('ok');
        expect((await s.register('B', conn(), 'e3', 'renamed')).status).toBe('ok');
      });

      it('does not take over a nickname another connection holds meanwhile', async () => {
        const [a, b, thief] = [conn(), conn(), conn()];
        await s.register('A', thief, 'e2', 'jane');
        const res = await s.sync('e1', [
          { channel: 'A', conn: a, nick: 'jane' },
          { channel: 'A', conn: b, nick: 'john' },
        ]);
        expect(res.lostNicks).toEqual([a]);
        expect(res.channels).toEqual(['A']);
        expect(await s.count('A')).toBe(3);
        expect(sorted(await s.users('A'))).toEqual(['jane', 'john']);
        expect(await s.register('A', a, 'e1', 'jane')).toEqual({ status: 'taken', replaced: null });
        expect(await s.leave('A', a)).toEqual({ existed: true, nick: null, count: 2 });
        expect(await s.leave('A', thief)).toEqual({ existed: true, nick: 'jane', count: 1 });
      });

      it('drops a nickname the edge no longer reports, and a conn loses its old nickname when the new one is taken', async () => {
        const [a, b, other] = [conn(), conn(), conn()];
        await s.register('A', a, 'e1', 'jane');
        await s.register('A', b, 'e1', 'john');
        await s.register('A', other, 'e2', 'taken');
        const res = await s.sync('e1', [
          { channel: 'A', conn: a, nick: null },
          { channel: 'A', conn: b, nick: 'taken' },
        ]);
        expect(res).toEqual({ lostNicks: [b], channels: [] });
        expect(await s.users('A')).toEqual(['taken']);
        expect(await s.count('A')).toBe(3);
      });

      it('an empty sync removes everything the edge held', async () => {
        const [a, b] = [conn(), conn()];
        await s.register('A', a, 'e1', 'jane');
        await s.join('B', b, 'e1');
        const res = await s.sync('e1', []);
        expect(res.lostNicks).toEqual([]);
        expect(sorted(res.channels)).toEqual(['A', 'B']);
        expect(await s.counts(['A', 'B'])).toEqual([0, 0]);
        expect(await s.users('A')).toEqual([]);
        expect(await s.heartbeat('e1')).toBe(0);
      });

      it('marks the edge alive', async (ctx) => {
        if (!h.expire) return ctx.skip();
        const a = conn();
        await s.join('A', a, 'e1');
        await h.expire('e1');
        expect(await s.deadEdges()).toEqual(['e1']);
        await s.sync('e1', [{ channel: 'A', conn: a, nick: null }]);
        expect(await s.deadEdges()).toEqual([]);
      });

      it('is idempotent', async () => {
        const [a, b] = [conn(), conn()];
        const conns = [
          { channel: 'A', conn: a, nick: 'jane' },
          { channel: 'B', conn: b, nick: null },
        ];
        await s.sync('e1', conns);
        expect(await s.sync('e1', conns)).toEqual({ lostNicks: [], channels: [] });
        expect(await s.counts(['A', 'B'])).toEqual([1, 1]);
        expect(await s.users('A')).toEqual(['jane']);
      });
    });

    describe('holder and members (impersonation check, moderators)', () => {
      it('names the conn holding a nickname, per channel, and lists members with edge and nickname', async () => {
        const [a, b] = [conn(), conn()];
        await s.join('QGIS', a, 'e1');
        await s.join('QGIS', b, 'e2');
        await s.register('QGIS', a, 'e1', 'alice');
        expect(await s.holder('QGIS', 'alice')).toBe(a);
        expect(await s.holder('QGIS', 'bob')).toBeNull();
        expect(await s.holder('Geotribu', 'alice')).toBeNull();
        const members = [...(await s.members('QGIS'))].sort((x, y) => (x.edge < y.edge ? -1 : 1));
        expect(members).toEqual([{ conn: a, edge: 'e1', nick: 'alice' }, { conn: b, edge: 'e2', nick: null }]);
        await s.leave('QGIS', a);
        expect(await s.holder('QGIS', 'alice')).toBeNull();
        expect(await s.members('QGIS')).toEqual([{ conn: b, edge: 'e2', nick: null }]);
      });
    });
  });
}
