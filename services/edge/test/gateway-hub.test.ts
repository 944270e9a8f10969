/**
 * The edge's gateway, sessions and hub in-process: the real edge, presence and relay over the in-memory broker and
 * requester, real WebSocket clients on an ephemeral port. Each rule here was also broken on purpose once, and the
 * test named after it failed (see the report of issue 10).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { connectClient, expectUpgradeRefused, type TestClient } from '../../../tests/support/ws-client';
import { startEdgeStack, type EdgeStack } from './support/edge-stack';

let stacks: EdgeStack[] = [];
afterEach(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
  stacks = [];
});

async function stack(env: Record<string, string> = {}): Promise<EdgeStack> {
  const s = await startEdgeStack(env);
  stacks.push(s);
  return s;
}

const isCount = (f: { type: string }) => f.type === 'nb_users';
const counts = (c: TestClient) => c.frames.filter(isCount).map((f: { nb_users: number }) => f.nb_users);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client past its connect sequence: its own count came, and a nickname when given. */
async function joined(s: EdgeStack, nick?: string): Promise<TestClient> {
  const c = await s.client();
  await c.next(isCount);
  if (nick !== undefined) {
    c.send({ type: 'newcomer', newcomer: nick });
    await c.next((f) => f.type === 'newcomer' && f.newcomer === nick);
  }
  return c;
}

/** Sends a text and returns its broadcast echo (as every socket of the channel gets it). */
async function say(c: TestClient, author: string, text: string): Promise<{ id: string; text: string }> {
  c.send({ type: 'text', author, avatar: null, text });
  return c.next((f) => f.type === 'text' && f.text === text);
}

/** What a client saw, as short labels: `nb_users:2`, `text:m1`, `like:bob`. */
function labels(c: TestClient): string[] {
  return c.frames.map((f) => `${f.type}:${f.nb_users ?? f.text ?? f.liker_author ?? f.newcomer ?? ''}`);
}

describe('connect sequence (gateway + session)', () => {
  it('sends the joiner its own nb_users first, then the history oldest first, then live frames; its count once', async () => {
    const s = await stack();
    const alice = await joined(s, 'alice');
    for (const t of ['m1', 'm2', 'm3']) await say(alice, 'alice', t);
    const bob = await s.client();
    await bob.next((f) => f.type === 'text' && f.text === 'm3');
    await say(alice, 'alice', 'live');
    await bob.waitFor((f) => f.text === 'live');
    expect(labels(bob)).toEqual(['nb_users:2', 'text:m1', 'text:m2', 'text:m3', 'text:live']);
    expect(bob.frames.slice(1, 4).map((f) => f.id)).toEqual(alice.frames.filter((f) => f.type === 'text').slice(0, 3).map((f) => f.id));
    // The joiner's count reached alice too (a broadcast), once.
    expect(counts(alice)).toEqual([1, 2]);
  });

  it('skips counts that reached the edge before the joiner\'s own (older news), and the broadcast copy of its own', async () => {
    const s = await stack();
    await joined(s);
    const gate = s.hold('presence.join');
    const bobOpening = s.client();
    await gate.reached;
    // While bob's join waits, carol joins: her count (2) reaches the edge before bob's own (3).
    const carol = await joined(s);
    gate.release();
    const bob = await bobOpening;
    await bob.next(isCount);
    await say(carol, 'carol', 'after');
    await bob.waitFor((f) => f.text === 'after');
    expect(counts(carol)).toEqual([2, 3]);
    expect(labels(bob)).toEqual(['nb_users:3', 'text:after']);
  });

  it('a count newer than the joiner\'s own that arrives before its join reply still reaches it (reply slower than the broker)', async () => {
    for (const interval of ['0', '150']) {
      const s = await stack({ NB_USERS_INTERVAL_MS: interval });
      await joined(s);
      // bob's join is done in presence (his count, 2, is published) but the reply is slow; carol joins meanwhile (3).
      const gate = s.hold('presence.join', true);
      const bobOpening = s.client();
      await gate.reached;
      const carol = await joined(s);
      await sleep(20);
      gate.release();
      const bob = await bobOpening;
      await say(carol, 'carol', 'after');
      await bob.waitFor((f) => f.text === 'after');
      await sleep(Number(interval) + 50);
      expect(counts(bob).at(-1), `interval ${interval}`).toBe(3);
      expect(counts(bob)[0]).toBe(2);
    }
  });

  it('releases the frames held during the replay, minus the replayed ids; skips replayed ids live for a while after', async () => {
    const s = await stack();
    const alice = await joined(s, 'alice');
    const m1 = await say(alice, 'alice', 'm1');
    const m2 = await say(alice, 'alice', 'm2');
    const gate = s.hold('relay.history');
    const bobOpening = s.client();
    await gate.reached;
    // Bob has his count and waits for the history: what arrives now is held for him.
    await say(alice, 'alice', 'm3'); // stored, then published: in the history bob reads, and held
    await say(alice, 'alice', 'wizz'); // a cheat code: broadcast, never stored, so only the held copy brings it
    await s.publish('QGIS', { id: m1.id }, m1); // a late live copy of a stored message, held too
    await alice.next((f) => f.id === m1.id);
    gate.release();
    const bob = await bobOpening;
    await bob.waitFor((f) => f.text === 'wizz');
    // Right after the replay, the live copy of a replayed message is still skipped; a new one is not.
    await s.publish('QGIS', { id: m2.id }, m2);
    const m4 = { ...m2, id: randomUUID(), text: 'm4' };
    await s.publish('QGIS', { id: m4.id }, m4);
    await bob.waitFor((f) => f.text === 'm4');
    expect(labels(bob)).toEqual(['nb_users:2', 'text:m1', 'text:m2', 'text:m3', 'text:wizz', 'text:m4']);
    await alice.waitFor((f) => f.text === 'm4');
    expect(labels(alice).filter((l) => l === 'text:m2')).toHaveLength(2); // alice, live all along, got both copies
  });
});

describe('fan-out (hub)', () => {
  it('sends a like only to the sockets of the liked nickname (route.to), a large channel\'s newcomer only to its socket (route.conn)', async () => {
    const s = await stack({ LARGE_CHANNEL_MEMBERS: '3' });
    const alice = await joined(s, 'alice');
    const alice2 = await joined(s); // a second socket of alice's, registered below under another name
    const bob = await joined(s, 'bob');
    const quiet = await joined(s); // never registers: 4 members now, a large channel
    bob.send({ type: 'like', liker_author: 'bob', liked_author: 'alice', message: 'nice' });
    await alice.next((f) => f.type === 'like');
    alice2.send({ type: 'newcomer', newcomer: 'alice_too' });
    await alice2.next((f) => f.type === 'newcomer' && f.newcomer === 'alice_too');
    // A broadcast after both: when it has arrived everywhere, anything the like or the newcomer reached has too.
    await say(quiet, 'quiet', 'end');
    for (const c of [alice, alice2, bob, quiet]) await c.waitFor((f) => f.text === 'end');
    expect(alice.frames.filter((f) => f.type === 'like')).toMatchObject([{ liker_author: 'bob', liked_author: 'alice', message: 'nice' }]);
    for (const c of [alice2, bob, quiet]) expect(labels(c)).not.toContain('like:bob');
    for (const c of [alice, bob, quiet]) expect(labels(c)).not.toContain('newcomer:alice_too');
  });

  it('coalesces nb_users: the first at once, the newest at the interval\'s end, older ones never; a joiner\'s own not twice', async () => {
    const interval = 200;
    const s = await stack({ NB_USERS_INTERVAL_MS: String(interval) });
    const a = await joined(s);
    await sleep(interval + 50); // a quiet channel again
    const opened = Date.now();
    const b = await joined(s);
    await a.next(isCount);
    const firstAfter = Date.now() - opened;
    const c = await joined(s);
    const d = await joined(s);
    await a.next(isCount);
    const newestAfter = Date.now() - opened;
    await sleep(50);
    expect(counts(a)).toEqual([1, 2, 4]);
    expect(counts(b)).toEqual([2, 4]);
    expect(counts(c)).toEqual([3, 4]);
    expect(counts(d)).toEqual([4]);
    expect(firstAfter).toBeLessThan(interval);
    expect(newestAfter).toBeGreaterThanOrEqual(interval - 20);
  });
});

describe('pre-framed fan-out (hub + wire.ts)', () => {
  it('every frame size reaches every socket intact and in order, sockets that negotiated compression included', async () => {
    const s = await stack({ WS_PERMESSAGE_DEFLATE: 'true' });
    const plain = [await s.client('QGIS', { perMessageDeflate: false }), await s.client('QGIS', { perMessageDeflate: false })];
    const compressed = await s.client('QGIS', { perMessageDeflate: true });
    const all = [...plain, compressed];
    for (const c of all) await c.next(isCount);
    expect(plain.map((c) => c.ws.extensions)).toEqual(['', '']);
    expect(compressed.ws.extensions).toContain('permessage-deflate');
    // Header lengths of RFC 6455: 7-bit, 16-bit and 64-bit payload lengths, at and around their limits.
    const sizes = [0, 125, 126, 65_535, 65_536, 300_000];
    const sent = sizes.map((n, i) => ({ type: 'text', id: randomUUID(), timestamp: 1, author: 'w', avatar: null, text: 'x'.repeat(n) + String(i) }));
    // ws frames a message itself only for the socket that compresses; the others get the bytes built once.
    const wsSends = vi.spyOn(WebSocket.prototype, 'send');
    for (const f of sent) await s.publish('QGIS', { id: f.id }, f);
    for (const c of all) {
      await c.waitFor((f) => f.id === sent.at(-1)!.id);
      expect(c.frames.filter((f) => f.author === 'w')).toEqual(sent);
    }
    expect(wsSends).toHaveBeenCalledTimes(sizes.length);
    wsSends.mockRestore();
  });
});

describe('slow consumers (hub)', () => {
  it('cuts a client that stops reading with the slow-consumer close; one that drains slowly stays and gets everything', async () => {
    // The stall timeout is 20 times the slow reader's period: a busy machine pausing this process does not cut it.
    const s = await stack({ WS_MAX_BUFFERED_BYTES: '65536', WS_STALL_TIMEOUT_MS: '500', WS_PING_INTERVAL: '1', WS_PING_TIMEOUT: '1' });
    const stopped = await joined(s);
    const slow = await joined(s);
    stopped.ws.pause();
    // The slow reader takes what is there every 25 ms, with pauses between: it keeps draining.
    slow.ws.pause();
    const reader = setInterval(() => {
      slow.ws.resume();
      setTimeout(() => slow.ws.pause(), 2);
    }, 25);
    const frames = 48;
    const filler = 'x'.repeat(256 * 1024);
    try {
      for (let i = 0; i < frames; i++) {
        const id = randomUUID();
        await s.publish('QGIS', { id }, { type: 'text', id, timestamp: 1, author: 'feed', avatar: null, text: `${i} ${filler}` });
        await sleep(10);
      }
      // Closed with CLOSE.slowConsumer (4001); the client that stopped reading never reads the close frame.
      const cut = () => s.logs.filter((l) => l.msg === 'slow consumer closed');
      await vi.waitFor(() => expect(cut()).toHaveLength(1), { timeout: 3_000, interval: 20 });
      expect(cut()[0]).toMatchObject({ stalledMs: expect.any(Number) });
      expect(await s.metric('qchat_edge_slow_consumer_closes_total')).toBe(1);
      await slow.waitFor((f) => typeof f.text === 'string' && f.text.startsWith(`${frames - 1} `), 5_000);
    } finally {
      clearInterval(reader);
      slow.ws.resume();
    }
    expect(slow.frames.filter((f) => f.author === 'feed')).toHaveLength(frames);
    expect(slow.ws.readyState).toBe(slow.ws.OPEN);
    expect(await s.metric('qchat_edge_slow_consumer_closes_total')).toBe(1);
  });
});

describe('per-socket memory', () => {
  it('an open socket does not keep its upgrade request (headers and all) alive', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const s = await stack();
    const clients = [await joined(s, 'alice'), await joined(s)];
    const refs = s.upgrades();
    expect(refs).toHaveLength(2);
    for (let i = 0; i < 3; i++) {
      await sleep(10);
      gc();
    }
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    // The sockets are still open and served.
    await say(clients[0]!, 'alice', 'still here');
    await clients[1]!.waitFor((f) => f.text === 'still here');
  });
});

describe('per-address cap (MAX_CONNECTIONS_PER_IP)', () => {
  it('counts /matrix sockets with the channel ones, from the upgrade until the socket closes', async () => {
    // A "homeserver" that accepts and never answers: the Matrix socket stays open while its login waits.
    const held: Socket[] = [];
    const silent = createServer((sock) => { held.push(sock); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const homeserver = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const clients: TestClient[] = [];
    try {
      const s = await stack({ MAX_CONNECTIONS_PER_IP: '2', MATRIX_CHAT_ENABLED: 'true', MATRIX_HOMESERVERS: homeserver });
      const base = `127.0.0.1:${s.port()}`;
      const matrixSocket = async () => {
        const res = await fetch(`http://${base}/matrix/register`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ homeserver, room_id: '!room:example.org', user: 'bot', password: 'secret' }),
        });
        const { request_id } = (await res.json()) as { request_id: string };
        const c = await connectClient(`ws://${base}/matrix/${request_id}/ws`);
        clients.push(c);
        return c;
      };
      const matrix = await matrixSocket();
      await joined(s);
      const channelUrl = `ws://${base}/channel/QGIS/ws`;
      expect(await expectUpgradeRefused(channelUrl)).toBe(429);
      await expect(matrixSocket()).rejects.toThrow(/429/);
      // The Matrix socket gone, its place is free again.
      matrix.ws.terminate();
      await vi.waitFor(async () => { await joined(s); });
    } finally {
      for (const c of clients) c.ws.terminate();
      for (const sock of held) sock.destroy();
      silent.close();
    }
  });
});

describe('heartbeat', () => {
  it('rebuilds presence from the edge\'s sockets when presence lost them; a nickname taken meanwhile is released', async () => {
    const s = await stack({ EDGE_ID: 'edge-hb', EDGE_HEARTBEAT_MS: '100' });
    const alice = await joined(s, 'alice');
    await joined(s);
    // Presence loses this edge's connections (as when Redis restarts empty); meanwhile another edge's socket takes
    // the nickname alice held.
    await s.request('presence.edge_down', { edge: 'edge-hb' });
    await s.request('presence.heartbeat', { edge: 'edge-other', conns: 1 });
    await s.request('presence.join', { channel: 'QGIS', conn: 'intruder', edge: 'edge-other' });
    await s.request('presence.register', { channel: 'QGIS', conn: 'intruder', edge: 'edge-other', nick: 'alice' });
    const count = async () => (await s.request<{ counts: number[] }>('presence.counts', { channels: ['QGIS'] })).counts[0];
    expect(await count()).toBe(1);
    await vi.waitFor(async () => expect(await count()).toBe(3), { timeout: 2_000, interval: 50 });
    expect((await s.request<{ users: string[] }>('presence.users', { channel: 'QGIS' })).users).toEqual(['alice']);
    expect(s.logs.filter((l) => l.msg === 'presence state rebuilt from this edge')).toMatchObject([{ connections: 2, lostNicks: 1 }]);
    // Alice's socket no longer holds the name: posting under it is refused as anyone else's would be.
    alice.send({ type: 'text', author: 'alice', avatar: null, text: 'still me?' });
    expect((await alice.next((f) => f.type === 'uncompliant')).reason).toMatch(/alice/);
  });
});
