/**
 * gischat's Matrix ping and /matrix endpoints against a real Synapse, served by one all-in-one process
 * (in-memory bus): the ping arrives with gischat's body, a /matrix socket receives live room messages and
 * posts back, and every failure closes with a reason a user can read.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type TestClient } from '../support/ws-client';
import { freePort, startService, type ServiceProcess } from '../support/processes';
import { ensureSynapse, roomMessages, startSynapse, type MatrixUser, type Synapse } from '../support/synapse';
import { is } from '../support/stack';
import { scrape, value } from '../support/prometheus';

let synapse: Synapse;
let alice: MatrixUser;
let bob: MatrixUser;
let pinger: MatrixUser;
let roomId: string;
let server: ServiceProcess;
let base: string;
let unreachable: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  synapse = await startSynapse();
  [alice, bob, pinger] = await Promise.all([synapse.register('alice'), synapse.register('bob', 'bob-password'), synapse.register('pinger')]);
  roomId = await synapse.createRoom(alice);
  await pinger.client.join(roomId);
  unreachable = `http://127.0.0.1:${await freePort()}`;
  const port = await freePort();
  server = await startService('all-in-one', {
    PORT: String(port),
    REDIS_URL: '',
    NATS_URL: '',
    CHANNELS: 'QGIS,Geotribu',
    MATRIX_CHAT_ENABLED: 'true',
    MATRIX_HOMESERVERS: `${synapse.url},${unreachable}`,
    MATRIX_PING_HOMESERVER: synapse.url,
    MATRIX_PING_ROOMID: roomId,
    MATRIX_PING_TOKEN: pinger.accessToken,
  });
  base = `127.0.0.1:${port}`;
}, 300_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.terminate().catch(() => undefined)));
  await server?.stop();
  await synapse?.stop();
});

async function client(path: string): Promise<TestClient> {
  const c = await connectClient(`ws://${base}${path}`);
  clients.push(c);
  return c;
}

async function register(body: object): Promise<Response> {
  return fetch(`http://${base}/matrix/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

async function matrixSocket(body: object): Promise<TestClient> {
  const res = await register(body);
  expect(res.status).toBe(200);
  const { request_id } = (await res.json()) as { request_id: string };
  expect(request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  return client(`/matrix/${request_id}/ws`);
}

async function waitForRoom(pred: (e: { sender: string; content: Record<string, unknown> }) => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await roomMessages(synapse, alice, roomId)).find(pred);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no such room message; room has: ${JSON.stringify((await roomMessages(synapse, alice, roomId)).map((e) => e.content.body))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('synapse test support', () => {
  it('names the install command in one line when the homeserver is missing', async () => {
    const saved = process.env.SYNAPSE_VENV;
    process.env.SYNAPSE_VENV = '/nonexistent/qchat-synapse';
    try {
      const err = await ensureSynapse().then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/^matrix-synapse unavailable \(.*\): install it with "python3 -m venv \/nonexistent\/qchat-synapse && .*pip install 'matrix-synapse==[\d.]+'"$/);
      expect(err?.message.split('\n')).toHaveLength(1);
    } finally {
      if (saved === undefined) delete process.env.SYNAPSE_VENV;
      else process.env.SYNAPSE_VENV = saved;
    }
  });
});

describe('matrix ping', () => {
  it('posts a prefixed text to the room with gischat body and HTML, and nothing else', async () => {
    const c = await client('/channel/QGIS/ws');
    await c.next(is('nb_users'));
    c.send({ type: 'newcomer', newcomer: 'alice_q' });
    await c.next(is('newcomer'));
    c.send({ type: 'text', author: 'alice_q', avatar: null, text: '@matrixping hello <world>' });
    await c.next(is('text', (f) => f.text === '@matrixping hello <world>'));
    c.send({ type: 'text', author: 'alice_q', avatar: null, text: 'not for matrix' });
    await c.next(is('text', (f) => f.text === 'not for matrix'));
    c.send({ type: 'text', author: 'alice_q', avatar: null, text: '@matrixping second' });

    const first = await waitForRoom((e) => String(e.content.body).includes('hello'));
    expect(first.sender).toBe(pinger.userId);
    expect(first.content).toMatchObject({
      msgtype: 'm.text',
      body: '💬 QChat message in channel **QGIS** by _alice_q_:\n@matrixping hello <world>',
      format: 'org.matrix.custom.html',
      formatted_body: '<p>💬 QChat message in channel <strong>QGIS</strong> by <em>alice_q</em>:\n@matrixping hello &lt;world&gt;</p>',
    });
    await waitForRoom((e) => String(e.content.body).endsWith('@matrixping second'));
    const bodies = (await roomMessages(synapse, alice, roomId)).map((e) => String(e.content.body));
    expect(bodies.filter((b) => b.includes('hello'))).toHaveLength(1);
    expect(bodies.some((b) => b.includes('not for matrix'))).toBe(false);
  });
});

describe('matrix ping with the homeserver away', () => {
  it('never delays the chat; the sends are retried and counted', async () => {
    const port = await freePort();
    const lone = await startService('all-in-one', {
      PORT: String(port), REDIS_URL: '', NATS_URL: '', CHANNELS: 'QGIS',
      MATRIX_PING_HOMESERVER: unreachable, MATRIX_PING_ROOMID: roomId, MATRIX_PING_TOKEN: 'whatever',
    });
    try {
      const c = await connectClient(`ws://127.0.0.1:${port}/channel/QGIS/ws`);
      clients.push(c);
      await c.next(is('nb_users'));
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        c.send({ type: 'text', author: 'someone', avatar: null, text: `@matrixping lost ${i}` });
        await c.next(is('text', (f) => f.text === `@matrixping lost ${i}`));
        expect(Date.now() - started).toBeLessThan(1_000);
      }
      const deadline = Date.now() + 5_000;
      let m = await scrape(`http://127.0.0.1:${lone.metricsPort}/metrics`);
      while (value(m, 'qchat_bridge_matrix_sends_total', { kind: 'ping', outcome: 'retried' }) < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        m = await scrape(`http://127.0.0.1:${lone.metricsPort}/metrics`);
      }
      expect(value(m, 'qchat_bridge_matrix_sends_total', { kind: 'ping', outcome: 'retried' })).toBeGreaterThanOrEqual(2);
      expect(value(m, 'qchat_bridge_matrix_sends_total', { kind: 'ping', outcome: 'sent' })).toBe(0);
      expect(value(m, 'qchat_bridge_queue_length', { queue: 'ping' })).toBeGreaterThanOrEqual(1);
      // Without MATRIX_CHAT_ENABLED there are no /matrix routes, as in gischat.
      expect((await fetch(`http://127.0.0.1:${port}/matrix`)).status).toBe(404);
      expect(await lone.stop()).toBe(0);
    } finally {
      await lone.stop();
    }
  });
});

describe('/matrix endpoints', () => {
  it('serves the page and answers a bad body with 422', async () => {
    const page = await fetch(`http://${base}/matrix`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    // Its one inline script is allowed by hash (the closed default policy would block it in a browser).
    const html = await page.text();
    const script = html.slice(html.indexOf('<script>') + 8, html.indexOf('</script>'));
    const hash = createHash('sha256').update(script, 'utf8').digest('base64');
    expect(page.headers.get('content-security-policy')).toContain(`script-src 'sha256-${hash}'`);
    const doc = (await (await fetch(`http://${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
    expect(doc.paths['/matrix/register']?.post?.operationId).toBe('post_matrix_registration_request_matrix_register_post');
    expect((await fetch(`http://${base}/matrix/register`)).status).toBe(405);
    const bad = await register({ homeserver: synapse.url, user: 'bob' });
    expect(bad.status).toBe(422);
    const detail = ((await bad.json()) as { detail: { loc: string[] }[] }).detail;
    expect(detail.map((d) => d.loc.join('.')).sort()).toEqual(['body.password', 'body.room_id']);
  });

  it('relays live room messages to the socket and the socket texts to the room', async () => {
    const ws = await matrixSocket({ homeserver: synapse.url, room_id: roomId, user: 'bob', password: 'bob-password' });
    // Joined and syncing once bob is a member of the room; then a live message must arrive.
    await waitForMember(bob.userId);
    await new Promise((r) => setTimeout(r, 300));
    await alice.client.send(roomId, `t-${Date.now()}`, { msgtype: 'm.text', body: 'live from matrix' });
    const frame = await ws.next(is('text', (f) => f.text === 'live from matrix'), 15_000);
    expect(frame).toMatchObject({ type: 'text', author: 'alice', text: 'live from matrix' });
    expect(typeof frame.id).toBe('string');
    expect(Number.isInteger(frame.timestamp)).toBe(true);
    // The first message may have come with the first sync; this one can only come from a later one (gischat: never).
    await alice.client.send(roomId, `t2-${Date.now()}`, { msgtype: 'm.notice', body: 'still live' });
    await ws.next(is('text', (f) => f.text === 'still live' && f.author === 'alice'), 15_000);

    ws.send({ type: 'text', author: 'ignored', text: 'hello from the socket' });
    const posted = await waitForRoom((e) => e.content.body === 'hello from the socket');
    expect(posted.sender).toBe(bob.userId);

    ws.send('not json');
    expect((await ws.next(is('uncompliant'))).reason).toMatch(/JSON object/);
    ws.send({ type: 'text' });
    expect((await ws.next(is('uncompliant'))).reason).toMatch(/text/);
    ws.send({ type: 'bbox' });
    await ws.expectNone(is('uncompliant'), 300);
    await ws.close();
  });

  it('refuses unknown and used request ids at the upgrade', async () => {
    await expect(client('/matrix/not-a-uuid/ws')).rejects.toThrow(/403/);
    // Malformed percent-encoding is refused too, and the edge lives on (it once threw out of the upgrade handler).
    await expect(client('/matrix/%zz/ws')).rejects.toThrow(/403/);
    await expect(client('/matrix/0b7d3f0e-1111-4222-8333-444455556666/ws')).rejects.toThrow(/403/);
    const res = await register({ homeserver: synapse.url, room_id: roomId, user: 'bob', password: 'bob-password' });
    const { request_id } = (await res.json()) as { request_id: string };
    const ws = await client(`/matrix/${request_id}/ws`);
    await expect(client(`/matrix/${request_id}/ws`)).rejects.toThrow(/403/);
    await ws.close();
  });

  it('closes with a clear reason for a homeserver off the allowlist, an unreachable one, bad credentials and a bad room', async () => {
    const cases: [object, number, RegExp][] = [
      [{ homeserver: 'https://matrix.example.org', room_id: roomId, user: 'bob', password: 'x' }, 4500, /not allowed/],
      [{ homeserver: unreachable, room_id: roomId, user: 'bob', password: 'x' }, 4400, /unreachable/],
      [{ homeserver: synapse.url, room_id: roomId, user: 'bob', password: 'wrong' }, 4501, /Matrix login failed: Invalid username or password/],
      [{ homeserver: synapse.url, room_id: '!nope:localhost', user: 'bob', password: 'bob-password' }, 4502, /Cannot use room '!nope:localhost'/],
    ];
    for (const [body, code, reason] of cases) {
      const ws = await matrixSocket(body);
      const closed = await ws.closed;
      expect(closed.code, JSON.stringify(body)).toBe(code);
      expect(closed.reason).toMatch(reason);
    }
  });

  it('counts registrations, closes and pings in /metrics', async () => {
    // A socket is counted once its logout is done, a ping once the homeserver answered: poll.
    const deadline = Date.now() + 5_000;
    for (;;) {
      const m = await scrape(`http://127.0.0.1:${server.metricsPort}/metrics`);
      const seen = [
        value(m, 'qchat_edge_matrix_closes_total', { reason: 'login_failed' }),
        value(m, 'qchat_edge_matrix_closes_total', { reason: 'not_allowed' }),
        value(m, 'qchat_edge_matrix_registrations_total', { outcome: 'invalid' }),
        value(m, 'qchat_bridge_matrix_sends_total', { kind: 'ping', outcome: 'sent' }),
        value(m, 'qchat_edge_matrix_sessions'),
      ];
      if (seen.join() === '1,1,1,2,0' || Date.now() > deadline) {
        expect(seen).toEqual([1, 1, 1, 2, 0]);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});

async function waitForMember(userId: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await fetch(`${synapse.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`, { headers: { Authorization: `Bearer ${alice.accessToken}` } });
    const body = (await res.json()) as { joined?: Record<string, unknown> };
    if (body.joined && userId in body.joined) return;
    if (Date.now() > deadline) throw new Error(`${userId} never joined ${roomId}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
