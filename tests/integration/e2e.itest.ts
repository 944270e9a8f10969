/**
 * The whole path as four real processes: presence, relay and two edges over real Redis and NATS, with clients
 * on both edges. Every message type, endpoint and connect sequence of protocol.md, compared as parsed JSON.
 */
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectClient, expectUpgradeRefused, type TestClient } from '../support/ws-client';
import { freePort, startService, type ServiceProcess } from '../support/processes';

const CHANNEL = 'QGIS';
const OTHER = 'Field and mobile';
const KEYS: Record<string, string[]> = {
  nb_users: ['nb_users'],
  newcomer: ['newcomer'],
  exiter: ['exiter'],
  uncompliant: ['reason'],
  text: ['author', 'avatar', 'text'],
  image: ['author', 'avatar', 'image_data'],
  like: ['liker_author', 'liked_author', 'message'],
  geojson: ['author', 'avatar', 'layer_name', 'crs_wkt', 'crs_authid', 'geojson', 'style'],
  crs: ['author', 'avatar', 'crs_wkt', 'crs_authid'],
  bbox: ['author', 'avatar', 'crs_wkt', 'crs_authid', 'xmin', 'xmax', 'ymin', 'ymax'],
  position: ['author', 'avatar', 'crs_wkt', 'crs_authid', 'x', 'y'],
  model: ['author', 'avatar', 'model_name', 'model_group', 'raw_xml'],
  script: ['author', 'avatar', 'name', 'raw_pycode'],
};

/** Exactly the keys the QChat plugin expects: type, id, timestamp and every field of the type. */
function expectWireShape(frame: any): void {
  expect(Object.keys(frame).sort()).toEqual(['type', 'id', 'timestamp', ...KEYS[frame.type]!].sort());
  expect(frame.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(Number.isInteger(frame.timestamp)).toBe(true);
  expect(Math.abs(frame.timestamp - Date.now() / 1000)).toBeLessThan(60);
}

const is = (type: string, extra: (f: any) => boolean = () => true) => (f: any) => f?.type === type && extra(f);

describe('four processes: presence, relay, two edges', () => {
  const procs: ServiceProcess[] = [];
  const clients: TestClient[] = [];
  let http1 = '';
  let http2 = '';
  let ws1 = '';
  let ws2 = '';

  async function client(base: string, channel = CHANNEL): Promise<TestClient> {
    const c = await connectClient(`${base}/channel/${encodeURIComponent(channel)}/ws`);
    clients.push(c);
    return c;
  }

  /** Connects, takes the connect sequence's nb_users, registers `nick` and waits for its own newcomer echo. */
  async function member(base: string, nick: string): Promise<TestClient> {
    const c = await client(base);
    await c.next(is('nb_users'));
    c.send({ type: 'newcomer', newcomer: nick });
    await c.next(is('newcomer', (f) => f.newcomer === nick));
    return c;
  }

  beforeAll(async () => {
    const env = {
      REDIS_URL: inject('redisUrl'),
      NATS_URL: inject('natsUrl'),
      INSTANCE_ID: `e2e${randomUUID().slice(0, 8)}`,
      CHANNELS: `${CHANNEL},${OTHER},Geotribu`,
      MAX_GEOJSON_FEATURES: '3',
      MAX_STORED_MESSAGES: '3',
      RATE_LIMIT_PER_SECOND: '1000',
      RATE_LIMIT_BURST: '1000',
    };
    procs.push(await startService('presence', { ...env, METRICS_PORT: String(await freePort()) }));
    procs.push(await startService('relay', { ...env, METRICS_PORT: String(await freePort()) }));
    const p1 = await freePort();
    const p2 = await freePort();
    procs.push(await startService('edge', { ...env, PORT: String(p1) }));
    procs.push(await startService('edge', { ...env, PORT: String(p2) }));
    http1 = `http://127.0.0.1:${p1}`;
    http2 = `http://127.0.0.1:${p2}`;
    ws1 = `ws://127.0.0.1:${p1}`;
    ws2 = `ws://127.0.0.1:${p2}`;
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.terminate().catch(() => undefined)));
    const codes = await Promise.all(procs.reverse().map((p) => p.stop('SIGTERM')));
    expect(codes.every((c) => c === 0)).toBe(true);
  });

  it('refuses an unknown channel and old /room paths at the upgrade with HTTP 403', async () => {
    expect(await expectUpgradeRefused(`${ws1}/channel/fromage/ws`)).toBe(403);
    expect(await expectUpgradeRefused(`${ws2}/room/QGIS/ws`)).toBe(403);
  });

  it('sends nb_users (counting the joiner) first, to everyone, and registers nicknames across edges', async () => {
    const a = await client(ws1, OTHER);
    const first = await a.next();
    expect(first).toMatchObject({ type: 'nb_users', nb_users: 1 });
    expectWireShape(first);
    const b = await client(ws2, OTHER);
    expect(await b.next()).toMatchObject({ type: 'nb_users', nb_users: 2 });
    expect(await a.next(is('nb_users'))).toMatchObject({ nb_users: 2 });

    a.send({ type: 'newcomer', newcomer: 'jane_doe' });
    for (const c of [a, b]) {
      const f = await c.next(is('newcomer'));
      expect(f.newcomer).toBe('jane_doe');
      expectWireShape(f);
    }
    // The same nickname from the other edge is refused, privately, with gischat's exact reason.
    b.send({ type: 'newcomer', newcomer: 'jane_doe' });
    const refusal = await b.next(is('uncompliant'));
    expect(refusal.reason).toBe(`User 'jane_doe' already registered in channel ${OTHER}`);
    expectWireShape(refusal);
    await a.expectNone(is('uncompliant'), 300);

    // The users list and /status agree on both edges.
    for (const base of [http1, http2]) {
      const users = await fetch(`${base}/channel/${encodeURIComponent(OTHER)}/users`);
      expect(users.headers.get('content-type')).toBe('application/json');
      expect(await users.json()).toEqual(['jane_doe']);
      const status: any = await (await fetch(`${base}/status`)).json();
      expect(status.channels.find((c: any) => c.name === OTHER).nb_connected_users).toBe(2);
    }

    // A second nickname on the same socket replaces the first: the others see the first leave, then the second.
    a.send({ type: 'newcomer', newcomer: 'jane_alias' });
    expect(await b.next((f) => f.type === 'exiter' || f.type === 'newcomer')).toMatchObject({ type: 'exiter', exiter: 'jane_doe' });
    expect(await b.next(is('newcomer'))).toMatchObject({ newcomer: 'jane_alias' });
    expect(await (await fetch(`${http2}/channel/${encodeURIComponent(OTHER)}/users`)).json()).toEqual(['jane_alias']);
    a.send({ type: 'newcomer', newcomer: 'jane_doe' });
    expect(await b.next(is('exiter'))).toMatchObject({ exiter: 'jane_alias' });
    expect(await b.next(is('newcomer'))).toMatchObject({ newcomer: 'jane_doe' });
    await a.next(is('newcomer', (f) => f.newcomer === 'jane_doe'));

    // Leaving: exiter then nb_users to the others, and the nickname is free again.
    await a.close();
    expect(await b.next(is('exiter'))).toMatchObject({ exiter: 'jane_doe' });
    expect(await b.next(is('nb_users'))).toMatchObject({ nb_users: 1 });
    b.send({ type: 'newcomer', newcomer: 'jane_doe' });
    expect(await b.next(is('newcomer'))).toMatchObject({ newcomer: 'jane_doe' });
    expect(await (await fetch(`${http1}/channel/${encodeURIComponent(OTHER)}/users`)).json()).toEqual(['jane_doe']);
  });

  it('broadcasts every content type to every socket on both edges, sender included, with exact keys', async () => {
    const a = await member(ws1, 'alice_' + randomUUID().slice(0, 4));
    const b = await member(ws2, 'bob_' + randomUUID().slice(0, 4));
    const crs = { crs_wkt: 'GEOGCS["WGS 84"]', crs_authid: 'EPSG:4326' };
    const author = { author: 'alice', avatar: 'mIconPostgis.svg' };
    const messages = [
      { type: 'text', ...author, text: 'Hi @all 🎉', in_reply_to_id: null, extra_key: 1 },
      { type: 'geojson', ...author, ...crs, layer_name: 'points', geojson: { type: 'FeatureCollection', features: [{ type: 'Feature' }] }, style: null },
      { type: 'crs', ...author, ...crs },
      { type: 'bbox', ...author, ...crs, xmin: -1.1, xmax: '1.1', ymin: -1, ymax: 1.1 },
      { type: 'position', ...author, ...crs, x: 3.5, y: 45 },
      { type: 'model', ...author, model_name: 'm', model_group: null, raw_xml: '<Model/>' },
      { type: 'script', ...author, name: 's', raw_pycode: 'print(1)' },
    ];
    for (const m of messages) {
      a.send({ ...m, id: randomUUID(), timestamp: 1 });
      for (const c of [a, b]) {
        const f = await c.next(is(m.type));
        expectWireShape(f);
        expect(f.author).toBe('alice');
      }
    }
    const bbox = (b.frames as any[]).find(is('bbox'));
    expect(bbox).toMatchObject({ xmin: -1.1, xmax: 1.1, ymin: -1, ymax: 1.1 });
    const text = (b.frames as any[]).find(is('text'));
    expect(text.text).toBe('Hi @all 🎉');
    expect(text).not.toHaveProperty('in_reply_to_id');
  });

  it('replays the newest MAX_STORED_MESSAGES oldest first, identical to the broadcasts, cheat codes excluded', async () => {
    const a = await member(ws1, 'histo_' + randomUUID().slice(0, 4));
    const sent: any[] = [];
    for (const text of ['one', 'two', 'wizz', 'three', 'four']) {
      a.send({ type: 'text', author: 'histo', text });
      sent.push(await a.next(is('text', (f) => f.text === text)));
    }
    const late = await client(ws2);
    expect((await late.next()).type).toBe('nb_users');
    const replay = [await late.next(), await late.next(), await late.next()];
    expect(replay).toEqual([sent[1], sent[3], sent[4]]);
    const last = await (await fetch(`${http2}/channel/${CHANNEL}/last`)).json();
    expect(last).toEqual([sent[1], sent[3], sent[4]]);
  });

  it('answers each invalid frame privately with uncompliant and keeps the socket open', async () => {
    const a = await member(ws1, 'valid_' + randomUUID().slice(0, 4));
    const cases: [unknown, RegExp][] = [
      [{ type: 'text', author: 'aa', text: 'x' }, /^1 validation error for QChatTextMessage\nauthor\n/],
      [{ type: 'text', author: 'bad name!', text: 'x' }, /String should match pattern/],
      [{ type: 'text', author: 'alice', text: 'x'.repeat(256) }, /at most 255 characters/],
      [{ type: 'text', author: 'alice' }, /Field required/],
      [{ type: 'fromage', author: 'alice' }, /QChatMessageModel/],
      [{ type: 'text', id: 'not-a-uuid', author: 'alice', text: 'x' }, /UUID/],
      ['this is not json', /validation error/],
      [[1, 2], /validation error/],
    ];
    for (const [frame, reason] of cases) {
      a.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
      const f = await a.next(is('uncompliant'));
      expect(f.reason).toMatch(reason);
      expectWireShape(f);
    }
    // 255 code points of emoji are accepted (lengths count code points, not UTF-16 units).
    a.send({ type: 'text', author: 'alice', text: '😀'.repeat(255) });
    expect(await a.next(is('text', (f) => f.text === '😀'.repeat(255)))).toBeTruthy();
  });

  it('enforces the GeoJSON feature limit with gischat\'s exact reason', async () => {
    const a = await member(ws1, 'geo_' + randomUUID().slice(0, 4));
    const features = (n: number) => Array.from({ length: n }, () => ({ type: 'Feature', properties: {}, geometry: null }));
    const base = { type: 'geojson', author: 'geo_user', avatar: null, layer_name: 'l', crs_wkt: 'w', crs_authid: 'EPSG:4326', style: null };
    a.send({ ...base, geojson: { type: 'FeatureCollection', features: features(4) } });
    expect((await a.next(is('uncompliant'))).reason).toBe('Too many geojson features : 4 vs max 3 allowed');
    a.send({ ...base, geojson: { type: 'FeatureCollection', features: features(3) } });
    expect((await a.next(is('geojson'))).geojson.features).toHaveLength(3);
  });

  it('shrinks images to fit MAX_IMAGE_SIZE and re-encodes them as PNG; refuses undecodable data', async () => {
    const a = await member(ws1, 'img_' + randomUUID().slice(0, 4));
    const b = await client(ws2);
    const jpeg = await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#3a7' } }).jpeg().toBuffer();
    a.send({ type: 'image', author: 'img_user', avatar: null, image_data: jpeg.toString('base64') });
    for (const c of [a, b]) {
      const f = await c.next(is('image'), 15_000);
      expectWireShape(f);
      const png = Buffer.from(f.image_data, 'base64');
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      const meta = await sharp(png).metadata();
      expect([meta.width, meta.height]).toEqual([800, 533]);
    }
    a.send({ type: 'image', author: 'img_user', image_data: Buffer.from('not an image').toString('base64') });
    expect((await a.next(is('uncompliant'))).reason).toBe('Invalid or oversized image data.');
  });

  it('delivers a like only to the sockets of the liked author, on any edge', async () => {
    const liked = 'liked_' + randomUUID().slice(0, 4);
    const a = await member(ws1, 'liker_' + randomUUID().slice(0, 4));
    const b = await member(ws2, liked);
    const bystander = await member(ws2, 'by_' + randomUUID().slice(0, 4));
    a.send({ type: 'like', liker_author: 'liker_x', liked_author: liked, message: 'Hi @all' });
    const f = await b.next(is('like'));
    expect(f).toMatchObject({ liker_author: 'liker_x', liked_author: liked, message: 'Hi @all' });
    expectWireShape(f);
    await Promise.all([a.expectNone(is('like'), 500), bystander.expectNone(is('like'), 500)]);
  });

  it('PUT /channel/{channel}/text reaches the sockets of both edges and answers with the frame', async () => {
    const a = await client(ws1);
    const b = await client(ws2);
    const res = await fetch(`${http1}/channel/${CHANNEL}/text`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ author: 'ws-tester-QGIS', avatar: 'postgis', text: 'fromage' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const frame = await res.json();
    expectWireShape(frame);
    expect(frame).toMatchObject({ type: 'text', author: 'ws-tester-QGIS', avatar: 'postgis', text: 'fromage' });
    for (const c of [a, b]) expect(await c.next(is('text', (f) => f.text === 'fromage'))).toEqual(frame);
    const bad = await fetch(`${http2}/channel/fromage/text`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ author: 'aa', text: 'x' }) });
    expect(bad.status).toBe(422);
    const missing = await fetch(`${http2}/channel/fromage/text`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ author: 'abc', text: 'x' }) });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: "Channel 'fromage' not registered" });
  });

  it('serves the gischat HTTP API identically on both edges', async () => {
    for (const base of [http1, http2]) {
      const channels = await fetch(`${base}/channels`);
      expect(channels.headers.get('content-type')).toBe('application/json');
      expect(await channels.json()).toEqual([CHANNEL, OTHER, 'Geotribu']);
      expect(await (await fetch(`${base}/rules`)).json()).toEqual({
        rules: 'YOLO', main_lang: 'en', min_author_length: 3, max_author_length: 32,
        max_message_length: 255, max_image_size: 800, max_geojson_features: 3,
      });
      expect(await (await fetch(`${base}/version`)).json()).toEqual({ version: '3.4.1' });
      const status: any = await (await fetch(`${base}/status`)).json();
      expect(status).toMatchObject({ status: 'ok', healthy: true });
      expect(status.channels.map((c: any) => c.name)).toEqual([CHANNEL, OTHER, 'Geotribu']);
      expect(status.channels.every((c: any) => Number.isInteger(c.nb_connected_users))).toBe(true);
    }
    const [s1, s2] = await Promise.all([http1, http2].map(async (b) => (await fetch(`${b}/status`)).json()));
    expect(s1).toEqual(s2);
    for (const base of [http1, http2]) {
      const page = await fetch(`${base}/`);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await page.text()).toMatch(/<html/i);
      const openapi: any = await (await fetch(`${base}/openapi.json`)).json();
      expect(openapi.openapi).toBe('3.1.0');
      expect(await (await fetch(`${base}/docs`)).text()).toMatch(/swagger-ui/);
      const notFound = await fetch(`${base}/room/QGIS/users`);
      expect([notFound.status, await notFound.json()]).toEqual([404, { detail: 'Not Found' }]);
      const wrongMethod = await fetch(`${base}/channels`, { method: 'POST' });
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toMatch(/GET/);
      const slash = await fetch(`${base}/channels/`, { redirect: 'manual' });
      expect([slash.status, slash.headers.get('location')]).toEqual([307, '/channels']);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    }
  });
});
