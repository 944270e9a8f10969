/**
 * What operators rely on, on real processes: metrics that move with traffic, a drain on SIGTERM that loses
 * nobody, and readiness that follows Redis and NATS.
 */
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { freePort, startService, type ServiceProcess } from '../support/processes';
import { has, scrape, value } from '../support/prometheus';
import { startNats, startRedis, type LocalServer } from '../support/servers';
import { connectClient, type TestClient } from '../support/ws-client';

const is = (type: string, extra: (f: any) => boolean = () => true) => (f: any) => f?.type === type && extra(f);

interface Stack { presence: ServiceProcess; relay: ServiceProcess; edges: ServiceProcess[]; env: Record<string, string> }

const procs: ServiceProcess[] = [];
const clients: TestClient[] = [];
const servers: LocalServer[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.terminate().catch(() => undefined)));
  await Promise.all(procs.splice(0).map((p) => p.kill9().catch(() => undefined)));
  await Promise.all(servers.splice(0).map((s) => s.kill().catch(() => undefined)));
});

async function stack(edges: number, extra: Record<string, string> = {}): Promise<Stack> {
  const env = {
    REDIS_URL: inject('redisUrl'),
    NATS_URL: inject('natsUrl'),
    INSTANCE_ID: `ops${randomUUID().slice(0, 8)}`,
    NB_USERS_INTERVAL_MS: '0',
    ...extra,
  };
  const start = async (name: 'presence' | 'relay' | 'edge', portVar: string) => {
    const p = await startService(name, { ...env, [portVar]: String(await freePort()) });
    procs.push(p);
    return p;
  };
  const presence = await start('presence', 'METRICS_PORT');
  const relay = await start('relay', 'METRICS_PORT');
  const list: ServiceProcess[] = [];
  for (let i = 0; i < edges; i++) list.push(await start('edge', 'PORT'));
  return { presence, relay, edges: list, env };
}

async function client(edge: ServiceProcess, channel = 'QGIS'): Promise<TestClient> {
  const c = await connectClient(`ws://127.0.0.1:${edge.port}/channel/${channel}/ws`);
  clients.push(c);
  await c.next(is('nb_users'));
  return c;
}

async function member(edge: ServiceProcess, nick: string): Promise<TestClient> {
  const c = await client(edge);
  c.send({ type: 'newcomer', newcomer: nick });
  await c.next(is('newcomer', (f) => f.newcomer === nick));
  return c;
}

const metricsOf = (p: ServiceProcess) => scrape(`http://127.0.0.1:${p.metricsPort}/metrics`);

describe('operations', () => {
  it('exposes metrics on every service that move by the expected amounts', async () => {
    const s = await stack(1);
    const edge = s.edges[0]!;
    const [e0, r0, p0] = await Promise.all([metricsOf(edge), metricsOf(s.relay), metricsOf(s.presence)]);

    const a = await member(edge, 'metric_a');
    const b = await member(edge, 'metric_b');
    for (const text of ['one', 'two', 'three']) {
      a.send({ type: 'text', author: 'metric_a', text });
      await b.next(is('text', (f) => f.text === text));
    }
    const png = await sharp({ create: { width: 900, height: 300, channels: 3, background: '#123' } }).png().toBuffer();
    a.send({ type: 'image', author: 'metric_a', image_data: png.toString('base64') });
    await b.next(is('image'), 15_000);
    a.send('not json');
    await a.next(is('uncompliant'));
    await b.close();
    await a.next(is('exiter'));

    // A handler counts after it has published its frames: wait for the leave to be counted.
    const p1 = await vi.waitFor(async () => {
      const m = await metricsOf(s.presence);
      expect(value(m, 'qchat_presence_operations_total', { op: 'leave', outcome: 'ok' }) - value(p0, 'qchat_presence_operations_total', { op: 'leave', outcome: 'ok' })).toBe(1);
      return m;
    });
    const [e1, r1] = await Promise.all([metricsOf(edge), metricsOf(s.relay)]);
    const delta = (before: typeof e0, after: typeof e0, name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);

    // edge
    expect(delta(e0, e1, 'qchat_edge_frames_received_total', { type: 'text', outcome: 'accepted' })).toBe(3);
    expect(delta(e0, e1, 'qchat_edge_frames_received_total', { type: 'image', outcome: 'accepted' })).toBe(1);
    expect(delta(e0, e1, 'qchat_edge_frames_received_total', { type: 'newcomer', outcome: 'accepted' })).toBe(2);
    expect(delta(e0, e1, 'qchat_edge_frames_received_total', { type: 'invalid', outcome: 'uncompliant' })).toBe(1);
    expect(delta(e0, e1, 'qchat_bus_request_duration_seconds_count', { subject: 'relay.publish', outcome: 'ok' })).toBe(4);
    expect(delta(e0, e1, 'qchat_bus_request_duration_seconds_count', { subject: 'presence.join', outcome: 'ok' })).toBe(2);
    expect(delta(e0, e1, 'qchat_edge_broadcast_deliveries_total')).toBeGreaterThanOrEqual(4 * 2);
    expect(value(e1, 'qchat_edge_connections', { channel: 'QGIS' })).toBe(1);
    expect(value(e1, 'qchat_edge_subscribed_topics')).toBe(1);
    expect(value(e1, 'qchat_edge_socket_closes_total', { code: '1005' }) + value(e1, 'qchat_edge_socket_closes_total', { code: '1000' })).toBe(1);
    expect(value(e1, 'qchat_dependency_up', { dependency: 'redis' })).toBe(1);
    expect(value(e1, 'qchat_dependency_up', { dependency: 'nats' })).toBe(1);
    expect(has(e1, 'process_resident_memory_bytes')).toBe(true);
    expect(has(e1, 'nodejs_eventloop_lag_seconds')).toBe(true);
    // relay
    expect(delta(r0, r1, 'qchat_relay_messages_total', { type: 'text', outcome: 'published' })).toBe(3);
    expect(delta(r0, r1, 'qchat_relay_messages_total', { type: 'image', outcome: 'published' })).toBe(1);
    expect(delta(r0, r1, 'qchat_relay_processing_duration_seconds_count', { type: 'image' })).toBe(1);
    expect(delta(r0, r1, 'qchat_relay_image_bytes_total', { direction: 'in' })).toBe(png.length);
    expect(delta(r0, r1, 'qchat_relay_image_bytes_total', { direction: 'out' })).toBeGreaterThan(0);
    expect(delta(r0, r1, 'qchat_relay_published_bytes_total')).toBeGreaterThan(0);
    // presence
    expect(delta(p0, p1, 'qchat_presence_operations_total', { op: 'join', outcome: 'ok' })).toBe(2);
    expect(delta(p0, p1, 'qchat_presence_operations_total', { op: 'register', outcome: 'ok' })).toBe(2);
    expect(delta(p0, p1, 'qchat_presence_operations_total', { op: 'leave', outcome: 'ok' })).toBe(1);
    expect(delta(p0, p1, 'qchat_presence_frames_published_total', { type: 'newcomer' })).toBe(2);
    expect(delta(p0, p1, 'qchat_presence_frames_published_total', { type: 'exiter' })).toBe(1);
    expect(value(p1, 'qchat_dependency_up', { dependency: 'redis' })).toBe(1);
  });

  it('drains an edge on SIGTERM: 1001 to every client, no ghost, exit 0; clients carry on on the other edge', async () => {
    const s = await stack(2);
    const [stay, drained] = s.edges as [ServiceProcess, ServiceProcess];
    const watcher = await member(stay, 'watcher');
    const gone = [await member(drained, 'drain_a'), await member(drained, 'drain_b')];
    await vi.waitFor(async () => {
      expect(await (await fetch(`http://127.0.0.1:${stay.port}/channel/QGIS/users`)).json()).toEqual(['drain_a', 'drain_b', 'watcher']);
    });

    // A message sent just before the signal is still handled: the drain lets in-flight frames finish.
    const lastWords = await member(drained, 'drain_c');
    await watcher.next(is('newcomer', (f) => f.newcomer === 'drain_c'));
    gone.push(lastWords);
    for (let i = 0; i < 5; i++) lastWords.send({ type: 'text', author: 'drain_c', text: `last words ${i}` });
    const exit = drained.stop('SIGTERM');
    for (const c of gone) expect((await c.closed).code).toBe(1001);
    expect(await exit).toBe(0);
    for (let i = 0; i < 5; i++) await watcher.next(is('text', (f) => f.text === `last words ${i}`));
    const exiters = [await watcher.next(is('exiter')), await watcher.next(is('exiter')), await watcher.next(is('exiter'))].map((f) => f.exiter).sort();
    expect(exiters).toEqual(['drain_a', 'drain_b', 'drain_c']);
    await vi.waitFor(async () => {
      expect(await (await fetch(`http://127.0.0.1:${stay.port}/channel/QGIS/users`)).json()).toEqual(['watcher']);
      const status: any = await (await fetch(`http://127.0.0.1:${stay.port}/status`)).json();
      expect(status.channels[0].nb_connected_users).toBe(1);
    });

    // The drained clients reconnect to the other edge, get their nicknames back and keep chatting.
    const back = await member(stay, 'drain_a');
    back.send({ type: 'text', author: 'drain_a', text: 'back again' });
    expect(await watcher.next(is('text', (f) => f.text === 'back again'))).toMatchObject({ author: 'drain_a' });
  });

  it('/readyz turns 503 while Redis or NATS is down and 200 again when it is back', async () => {
    const redis = await startRedis();
    const nats = await startNats();
    servers.push(redis, nats);
    const s = await stack(1, { REDIS_URL: redis.url, NATS_URL: nats.url });
    const services = [s.edges[0]!, s.presence, s.relay];
    const readyz = async (p: ServiceProcess) => {
      const res = await fetch(`http://127.0.0.1:${p.port}/readyz`);
      return { status: res.status, body: (await res.json()) as { reasons?: string[] } };
    };
    const all = async (status: number, reason?: RegExp) => {
      await vi.waitFor(async () => {
        for (const p of services) {
          const r = await readyz(p);
          expect(r.status).toBe(status);
          if (reason) expect(r.body.reasons?.join(',')).toMatch(reason);
        }
      }, { timeout: 15_000, interval: 100 });
    };
    await all(200);
    await redis.kill();
    await all(503, /redis/);
    servers.push(await startRedis({ port: redis.port }));
    await all(200);
    await nats.kill();
    await all(503, /nats/);
    servers.push(await startNats({ port: nats.port }));
    await all(200);
    // Health stays green throughout: the process is alive.
    for (const p of services) expect((await fetch(`http://127.0.0.1:${p.port}/healthz`)).status).toBe(200);
  });
});
