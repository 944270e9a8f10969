/**
 * The two-way channel ⇄ room bridge against a real Synapse and the distributed stack (presence, relay, two edges,
 * bridge processes over Redis and NATS): texts both ways between two QChat edges and a Matrix user, no echo loop,
 * nothing lost or doubled across a bridge restart, a standby taking over when the active bridge dies; and a
 * /matrix registration made on one edge used by a socket on the other.
 */
import { RedisProbe } from '@qchat/engine/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { scrape, value } from '../support/prometheus';
import type { ServiceProcess } from '../support/processes';
import { is, startStack, type Stack } from '../support/stack';
import { roomMessages, startSynapse, type MatrixUser, type Synapse } from '../support/synapse';
import { connectClient, type TestClient } from '../support/ws-client';

const Q = 'QGIS';
let synapse: Synapse;
let alice: MatrixUser;
let bot: MatrixUser;
let pinger: MatrixUser;
let roomId: string;
let stack: Stack;
let redis: RedisProbe;
let carol: TestClient;
let dave: TestClient;
const bridges: ServiceProcess[] = [];

type RoomEvent = { sender: string; content: Record<string, unknown> };

async function room(): Promise<RoomEvent[]> {
  return roomMessages(synapse, alice, roomId, 200);
}

async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const bodies = async () => (await room()).map((e) => String(e.content.body));
const inRoom = (body: string) => eventually(async () => ((await bodies()).includes(body) ? true : undefined), `'${body}' in the room`);
const count = async (body: string) => (await bodies()).filter((b) => b === body).length;
const bridged = (c: TestClient, text: string) => c.frames.filter((f) => f?.type === 'text' && f.text === text && f.author === 'alice[m]').length;

async function startBridge(): Promise<ServiceProcess> {
  const p = await stack.start('bridge');
  bridges.push(p);
  return p;
}

async function leaseHeld(p: ServiceProcess): Promise<number> {
  return value(await scrape(`http://127.0.0.1:${p.port}/metrics`), 'qchat_bridge_lease_held');
}

/** The active bridge has joined and saved a first sync token: room messages from now on are carried. */
async function bridgeSyncing(): Promise<void> {
  await eventually(async () => ((await redis.keys(`qchat:${stack.env.INSTANCE_ID}:bridge:sync:*`)).length > 0 ? true : undefined), 'the bridge sync token');
}

beforeAll(async () => {
  synapse = await startSynapse();
  [alice, bot, pinger] = await Promise.all([synapse.register('alice'), synapse.register('qchatbot'), synapse.register('pinger')]);
  roomId = await synapse.createRoom(alice);
  await pinger.client.join(roomId);
  redis = new RedisProbe(inject('redisUrl'));
  stack = await startStack({
    redisUrl: inject('redisUrl'),
    natsUrl: inject('natsUrl'),
    edges: 2,
    env: {
      EMBED_SERVICES: 'never',
      MATRIX_BRIDGE: `${Q}=${roomId}`,
      MATRIX_BRIDGE_HOMESERVER: synapse.url,
      MATRIX_BRIDGE_TOKEN: bot.accessToken,
      MATRIX_LEASE_MS: '1500',
      // The ping posts into the bridged room as another user: its posts must not come back either.
      MATRIX_PING_HOMESERVER: synapse.url,
      MATRIX_PING_ROOMID: roomId,
      MATRIX_PING_TOKEN: pinger.accessToken,
      MATRIX_CHAT_ENABLED: 'true',
      MATRIX_HOMESERVERS: synapse.url,
    },
  });
  await startBridge();
  await bridgeSyncing();
  carol = await stack.member(0, Q, 'carol');
  dave = await stack.member(1, Q, 'dave');
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  await redis?.close();
  await synapse?.stop();
});

describe('matrix bridge', () => {
  it('carries texts both ways between two edges and a Matrix user, without echo', async () => {
    carol.send({ type: 'text', author: 'carol', avatar: null, text: 'hi matrix' });
    await inRoom('carol: hi matrix');
    const posted = (await room()).find((e) => e.content.body === 'carol: hi matrix')!;
    expect(posted.sender).toBe(bot.userId);
    expect(posted.content.formatted_body).toBe('<strong>carol</strong>: hi matrix');

    await alice.client.send(roomId, 'a1', { msgtype: 'm.text', body: 'hi qchat' });
    for (const c of [carol, dave]) {
      const f = await c.next(is('text', (x) => x.text === 'hi qchat'), 15_000);
      expect(f.author).toBe('alice[m]');
    }
    const last = (await (await fetch(`${stack.http(1)}/channel/${Q}/last`)).json()) as { text?: string }[];
    expect(last.some((f) => f.text === 'hi qchat')).toBe(true);

    // Let any loop show itself: the bot's own post must not come back, the bridged text must not go out again.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await count('carol: hi matrix')).toBe(1);
    expect((await bodies()).some((b) => b.includes('hi qchat') && b !== 'hi qchat')).toBe(false);
    expect(bridged(carol, 'hi qchat')).toBe(1);
    expect(carol.frames.some((f) => f?.type === 'text' && String(f.text).includes('hi matrix') && f.author !== 'carol')).toBe(false);
  });

  it('pings the bridged room once, and neither the ping nor the bridged copy comes back', async () => {
    carol.send({ type: 'text', author: 'carol', avatar: null, text: '@matrixping anyone?' });
    await inRoom('carol: @matrixping anyone?');
    await inRoom('💬 QChat message in channel **QGIS** by _carol_:\n@matrixping anyone?');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await count('carol: @matrixping anyone?')).toBe(1);
    expect(await count('💬 QChat message in channel **QGIS** by _carol_:\n@matrixping anyone?')).toBe(1);
    expect(carol.frames.filter((f) => f?.type === 'text' && String(f.text).includes('anyone?')).map((f) => f.author)).toEqual(['carol']);
  });

  it('loses and doubles nothing across a bridge restart', async () => {
    const [only] = bridges.splice(0);
    expect(await only!.stop()).toBe(0);
    carol.send({ type: 'text', author: 'carol', avatar: null, text: 'while down 1' });
    dave.send({ type: 'text', author: 'dave', avatar: null, text: 'while down 2' });
    await carol.waitFor(is('text', (f) => f.text === 'while down 2'));
    await alice.client.send(roomId, 'a2', { msgtype: 'm.text', body: 'matrix while down' });

    await startBridge();
    await inRoom('carol: while down 1');
    await inRoom('dave: while down 2');
    await carol.waitFor(is('text', (f) => f.text === 'matrix while down'), 15_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await count('carol: while down 1')).toBe(1);
    expect(await count('dave: while down 2')).toBe(1);
    expect(await count('carol: hi matrix')).toBe(1);
    expect(bridged(carol, 'matrix while down')).toBe(1);
    expect(bridged(dave, 'matrix while down')).toBe(1);
    expect(bridged(carol, 'hi qchat')).toBe(1);
  });

  it('keeps one active bridge; a standby takes over when it dies', async () => {
    const standby = await startBridge();
    const [active] = bridges;
    expect(await leaseHeld(active!)).toBe(1);
    expect(await leaseHeld(standby)).toBe(0);
    await active!.kill9();
    await eventually(async () => ((await leaseHeld(standby)) === 1 ? true : undefined), 'the standby to take the lease', 10_000);
    dave.send({ type: 'text', author: 'dave', avatar: null, text: 'after takeover' });
    await inRoom('dave: after takeover');
    await alice.client.send(roomId, 'a3', { msgtype: 'm.text', body: 'matrix after takeover' });
    await dave.waitFor(is('text', (f) => f.text === 'matrix after takeover' && f.author === 'alice[m]'), 15_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await count('dave: after takeover')).toBe(1);
    expect(await count('carol: while down 1')).toBe(1);
    expect(bridged(dave, 'matrix after takeover')).toBe(1);
    expect(bridged(dave, 'matrix while down')).toBe(1);
  });

  it('carries images both ways through the media repository', async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer();
    carol.send({ type: 'image', author: 'carol', avatar: null, image_data: png.toString('base64') });
    const posted = await eventually(async () => (await room()).find((e) => e.content.msgtype === 'm.image' && e.sender === bot.userId), 'the image in the room');
    expect(posted.content.body).toBe('carol.png');
    const mxc = String(posted.content.url);
    expect(mxc).toMatch(/^mxc:\/\//);
    const { data } = await alice.client.download(mxc, 1_000_000);
    expect((await sharp(data).metadata()).width).toBe(40);

    const blue = await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 0, g: 0, b: 255 } } }).png().toBuffer();
    const url = await alice.client.upload(blue, 'image/png', 'blue.png');
    await alice.client.send(roomId, 'img1', { msgtype: 'm.image', body: 'blue.png', url, info: { mimetype: 'image/png', size: blue.length } });
    const frame = await dave.waitFor(is('image', (f) => f.author === 'alice[m]'), 15_000);
    const meta = await sharp(Buffer.from(frame.image_data, 'base64')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 20, 10]);
  });

  it('a /matrix registration made on one edge is used by a socket on the other', async () => {
    const res = await fetch(`${stack.http(0)}/matrix/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ homeserver: synapse.url, room_id: roomId, user: 'alice', password: alice.password }),
    });
    const { request_id } = (await res.json()) as { request_id: string };
    const ws = await connectClient(`${stack.http(1).replace('http', 'ws')}/matrix/${request_id}/ws`);
    try {
      ws.send({ type: 'text', text: 'from the other edge' });
      await inRoom('from the other edge');
      expect(await count('from the other edge')).toBe(1);
      // The recent room messages came with the first sync, the bridged ones included.
      await ws.waitFor(is('text', (f) => f.text === 'dave: after takeover' && f.author === 'qchatbot'), 15_000);
      // Posted by alice herself: the bridge carries it into the channel like any room message.
      await carol.waitFor(is('text', (f) => f.text === 'from the other edge' && f.author === 'alice[m]'), 15_000);
    } finally {
      await ws.close();
    }
  });
});
