/**
 * relay.publish in-process (memory engine, no NATS): what is stored, what is published and to whom, and that a
 * retried id is published once. The same handler runs over Redis in the integration suites.
 */
import { randomUUID } from 'node:crypto';
import { createEngine } from '@qchat/engine';
import { QChatError, decodeEnvelope, type ChatBody, type Route } from '@qchat/protocol';
import { silentLogger } from '@qchat/runtime';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { loadRelayConfig } from '../src/config';
import { createPublishHandler } from '../src/handlers/publish';
import { ImageQueue } from '../src/image-queue';
import { createRelayMetrics } from '../src/metrics';

const MAX = 3;

async function setup() {
  const engine = createEngine({ kind: 'memory', instance: 'test', edgeTtlMs: 10_000 }, silentLogger(), 'test');
  const config = loadRelayConfig({ CHANNELS: 'QGIS,Geotribu', MAX_STORED_MESSAGES: String(MAX) });
  const published: { route: Route; frame: Record<string, unknown> }[] = [];
  await engine.topics.subscribe('QGIS', (payload) => {
    const d = decodeEnvelope(Buffer.from(payload));
    if (d) published.push({ route: d.route, frame: JSON.parse(d.frame.toString('utf8')) as Record<string, unknown> });
  });
  const publish = createPublishHandler({
    config, store: engine.history, images: new ImageQueue(1, 4), decodeLimits: config.decodeLimits,
    metrics: createRelayMetrics(new Registry()), log: silentLogger(),
  });
  const settle = () => new Promise((r) => setTimeout(r, 5));
  const history = async () => (await engine.history.list('QGIS')).map((f) => JSON.parse(f) as Record<string, unknown>);
  return { publish, published, settle, history };
}

const text = (t: string): ChatBody => ({ type: 'text', author: 'ann', avatar: null, text: t });

describe('relay.publish', () => {
  it('stores and publishes a message once, stamped; answers a socket with null and PUT with the frame', async () => {
    const { publish, published, settle, history } = await setup();
    const id = randomUUID();
    expect(await publish({ channel: 'QGIS', id, body: text('hello'), source: 'ws' })).toEqual({ frame: null });
    const put = await publish({ channel: 'QGIS', id: randomUUID(), body: text('by PUT'), source: 'http' });
    await settle();
    expect(published.map((p) => p.frame.text)).toEqual(['hello', 'by PUT']);
    expect(published[0]!.route).toEqual({ id });
    expect(published[0]!.frame).toMatchObject({ type: 'text', id, author: 'ann' });
    expect(typeof published[0]!.frame.timestamp).toBe('number');
    expect((await history()).map((f) => f.text)).toEqual(['hello', 'by PUT']);
    expect(JSON.parse(put.frame!)).toEqual(published[1]!.frame);
  });

  it('a retried id is answered with the first outcome and neither stored nor published again', async () => {
    const { publish, published, settle, history } = await setup();
    const id = randomUUID();
    const first = await publish({ channel: 'QGIS', id, body: text('once'), source: 'http' });
    const again = await publish({ channel: 'QGIS', id, body: text('once'), source: 'http' });
    await settle();
    expect(again).toEqual(first);
    expect(published).toHaveLength(1);
    expect(await history()).toHaveLength(1);
  });

  it('a like goes privately to the liked author (route.to) and is not stored; a cheat code is broadcast, not stored', async () => {
    const { publish, published, settle, history } = await setup();
    const like = randomUUID();
    await publish({ channel: 'QGIS', id: like, body: { type: 'like', liker_author: 'ann', liked_author: 'bob', message: 'nice' }, source: 'ws' });
    await publish({ channel: 'QGIS', id: randomUUID(), body: text('wizz'), source: 'ws' });
    await settle();
    expect(published.map((p) => p.route)).toEqual([{ id: like, to: 'bob' }, { id: published[1]!.route.id }]);
    expect(await history()).toEqual([]);
  });

  it(`keeps the newest MAX_STORED_MESSAGES (${MAX}) in the history, oldest first`, async () => {
    const { publish, history } = await setup();
    for (let i = 0; i <= MAX; i++) await publish({ channel: 'QGIS', id: randomUUID(), body: text(`m${i}`), source: 'ws' });
    expect((await history()).map((f) => f.text)).toEqual(['m1', 'm2', 'm3']);
  });

  it('refuses an unknown channel and a broken image without publishing; the refused id may be sent again', async () => {
    const { publish, published, settle, history } = await setup();
    await expect(publish({ channel: 'nope', id: randomUUID(), body: text('x'), source: 'ws' })).rejects.toMatchObject({ code: 'channel_not_found' });
    const id = randomUUID();
    const broken = publish({ channel: 'QGIS', id, body: { type: 'image', author: 'ann', avatar: null, image_data: Buffer.from('not a picture').toString('base64') }, source: 'ws' });
    await expect(broken).rejects.toBeInstanceOf(QChatError);
    await expect(broken).rejects.toMatchObject({ code: 'uncompliant' });
    await settle();
    expect(published).toEqual([]);
    expect(await history()).toEqual([]);
    // The failed attempt released its claim: the same id with a sound body is published.
    await publish({ channel: 'QGIS', id, body: text('second try'), source: 'ws' });
    await settle();
    expect(published.map((p) => p.route.id)).toEqual([id]);
  });
});
