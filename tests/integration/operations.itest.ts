/**
 * What operators rely on, on real processes: metrics that move with traffic, a drain on SIGTERM that loses
 * nobody, and readiness that follows Redis and NATS.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import sharp from 'sharp';
import { describe, expect, inject, it, vi } from 'vitest';
import { killedAfterEach } from '../support/cleanup';
import { freePort, startService, type ServiceProcess } from '../support/processes';
import { has, scrape, value } from '../support/prometheus';
import { startNats, startRedis, type LocalServer } from '../support/servers';
import { connectClient, expectUpgradeRefused, type TestClient } from '../support/ws-client';
import { PACKAGE_VERSION, PROTOCOL_VERSION } from '@qchat/runtime';

const is = (type: string, extra: (f: any) => boolean = () => true) => (f: any) => f?.type === type && extra(f);

interface Stack { presence: ServiceProcess; relay: ServiceProcess; edges: ServiceProcess[]; env: Record<string, string> }

const { procs, clients, servers } = killedAfterEach();

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
      expect(value(m, 'qchat_bus_handled_duration_seconds_count', { op: 'presence.leave', outcome: 'ok' }) - value(p0, 'qchat_bus_handled_duration_seconds_count', { op: 'presence.leave', outcome: 'ok' })).toBe(1);
      return m;
    });
    const [e1, r1] = await Promise.all([metricsOf(edge), metricsOf(s.relay)]);
    const delta = (before: typeof e0, after: typeof e0, name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);

    // edge
    expect(delta(e0, e1, 'qchat_edge_frames_received_total', { type: 'text', outcome: 'accepted' })).toBe(3);
    expect(delta(e0, e1, 'qchat_edge_frames_received_total', { type: 'image', outcome: 'accepted' })).toBe(1);
    expect(delta(e0, e1, 'qchat_edge_frames_received_total', { type: 'newcomer', outcome: 'accepted' })).toBe(2);
    expect(delta(e0, e1, 'qchat_edge_frames_received_total', { type: 'invalid', outcome: 'uncompliant' })).toBe(1);
    expect(delta(e0, e1, 'qchat_bus_request_duration_seconds_count', { op: 'relay.publish', outcome: 'ok' })).toBe(4);
    expect(delta(e0, e1, 'qchat_bus_request_duration_seconds_count', { op: 'presence.join', outcome: 'ok' })).toBe(2);
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
    expect(delta(r0, r1, 'qchat_bus_handled_duration_seconds_count', { op: 'relay.publish', outcome: 'ok' })).toBe(4);
    // presence
    expect(delta(p0, p1, 'qchat_bus_handled_duration_seconds_count', { op: 'presence.join', outcome: 'ok' })).toBe(2);
    expect(delta(p0, p1, 'qchat_bus_handled_duration_seconds_count', { op: 'presence.register', outcome: 'ok' })).toBe(2);
    expect(delta(p0, p1, 'qchat_bus_handled_duration_seconds_count', { op: 'presence.leave', outcome: 'ok' })).toBe(1);
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
    const s = await stack(1, { REDIS_URL: redis.url, NATS_URL: nats.url, READINESS_GRACE_MS: '500' });
    const services = [s.edges[0]!, s.presence, s.relay];
    const readyz = async (p: ServiceProcess) => {
      const res = await fetch(`http://127.0.0.1:${p.metricsPort}/readyz`);
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

  it('a fresh stack exports every documented counter, each series at 0', async () => {
    // The README's metrics table is the list of what operators may alert on.
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const counters = [...readme.matchAll(/^\| `(qchat_[a-z_]+)` \| counter \|/gm)].map((m) => m[1]!);
    expect(counters.length).toBeGreaterThan(15);
    const env = { REDIS_URL: inject('redisUrl'), NATS_URL: inject('natsUrl'), INSTANCE_ID: `fresh${randomUUID().slice(0, 8)}` };
    // Presence and relay are scraped before any edge exists: nothing has asked them anything yet.
    const presence = await startService('presence', { ...env, METRICS_PORT: String(await freePort()) });
    const relay = await startService('relay', { ...env, METRICS_PORT: String(await freePort()) });
    procs.push(presence, relay);
    // The Matrix bridge too, idle (nothing configured), and the edge with its /matrix endpoints on.
    const bridge = await startService('bridge', { ...env, METRICS_PORT: String(await freePort()) });
    procs.push(bridge);
    const [p, r, b] = await Promise.all([metricsOf(presence), metricsOf(relay), metricsOf(bridge)]);
    const edge = await startService('edge', { ...env, PORT: String(await freePort()), MATRIX_CHAT_ENABLED: 'true' });
    procs.push(edge);
    const e = await metricsOf(edge);
    const all = [...p, ...r, ...b, ...e];
    for (const name of counters) {
      const series = all.filter((x) => x.name === name && x.labels.service !== undefined);
      expect(series.length, `${name} exported before anything happened`).toBeGreaterThan(0);
      // startService polled the edge's public /readyz until it answered 200: those requests are counted.
      const moved = series.filter((x) => x.value !== 0 && !(name === 'qchat_edge_http_requests_total' && x.labels.route === '/readyz'));
      expect(moved, `${name} series not at 0`).toEqual([]);
    }
    // The series alerts depend on, by their exact labels.
    expect(p.find((x) => x.name === 'qchat_presence_reclaimed_connections_total' && x.labels.reason === 'expired')?.value).toBe(0);
    expect(r.find((x) => x.name === 'qchat_relay_messages_total' && x.labels.type === 'image' && x.labels.outcome === 'error')?.value).toBe(0);
    expect(e.find((x) => x.name === 'qchat_edge_connections_closed_total' && x.labels.reason === 'slow_consumer')?.value).toBe(0);
    // Build info, and dependency health that is real here.
    const info = e.find((x) => x.name === 'qchat_build_info')!;
    expect(info.labels).toMatchObject({ version: PACKAGE_VERSION, protocol_version: PROTOCOL_VERSION });
    expect(info.labels.commit).toMatch(/^([0-9a-f]{7,40}|unknown)$/);
    expect(value(e, 'qchat_dependency_used', { dependency: 'redis' })).toBe(1);
    expect(value(e, 'qchat_dependency_up', { dependency: 'redis' })).toBe(1);
    // /metrics is on the ops port only.
    expect((await fetch(`http://127.0.0.1:${edge.port}/metrics`)).status).toBe(404);
  });

  it('in memory mode, Redis and NATS read as not used, never as up', async () => {
    const aio = await startService('all-in-one', { PORT: String(await freePort()) });
    procs.push(aio);
    const m = await metricsOf(aio);
    expect(value(m, 'qchat_dependency_used', { dependency: 'redis' })).toBe(0);
    expect(value(m, 'qchat_dependency_used', { dependency: 'nats' })).toBe(0);
    expect(has(m, 'qchat_dependency_up')).toBe(false);
  });

  it('logs each connection opened and closed, refused upgrades and rejected frames, with the edge id on every line', async () => {
    const s = await stack(1, { LOG_LEVEL: 'debug', LOG_CLIENT_ADDRESS: 'full' });
    const edge = s.edges[0]!;
    expect(await expectUpgradeRefused(`ws://127.0.0.1:${edge.port}/channel/Nowhere/ws`)).toBe(403);
    // The refusal is an API error like any other: {"detail": …} JSON.
    const refusal = await new Promise<{ type: string | undefined; body: string }>((resolve, reject) => {
      const req = httpRequest({ port: edge.port, host: '127.0.0.1', path: '/channel/Nowhere/ws', headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ type: res.headers['content-type'], body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(refusal.type).toBe('application/json');
    expect(JSON.parse(refusal.body)).toEqual({ detail: "Channel 'Nowhere' does not exist." });
    const c = await member(edge, 'logged_nick');
    c.send('not json');
    await c.next(is('uncompliant'));
    expect((await c.close(1000, 'bye now')).code).toBe(1000);

    const lines = () => edge.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
    const closed = await vi.waitFor(() => {
      const line = lines().find((l) => l.msg === 'connection closed');
      expect(line).toBeDefined();
      return line!;
    });
    const all = lines();
    const opened = all.find((l) => l.msg === 'connection opened')!;
    expect(opened).toMatchObject({ level: 30, channel: 'QGIS', client: '127.0.0.1' });
    expect(opened.conn).toMatch(/^[0-9a-f-]{36}$/);
    expect(closed).toMatchObject({ level: 30, conn: opened.conn, channel: 'QGIS', nick: 'logged_nick', code: 1000, reason: 'bye now', client: '127.0.0.1' });
    expect(closed.durationMs).toBeGreaterThanOrEqual(0);
    expect(all.find((l) => l.msg === 'upgrade refused')).toMatchObject({ level: 20, status: 403, client: '127.0.0.1' });
    expect(all.find((l) => l.msg === 'frame rejected')).toMatchObject({ level: 20, conn: opened.conn, outcome: 'uncompliant' });
    // Every line names the edge and the instance, and the version fields are the package's and the protocol's.
    const edgeId = opened.edge;
    expect(edgeId).toBeTypeOf('string');
    for (const l of all) expect(l, l.msg).toMatchObject({ edge: edgeId, instance: s.env.INSTANCE_ID, version: PACKAGE_VERSION, protocol: PROTOCOL_VERSION });
    // The closed counter saw it, with its reason.
    expect(value(await metricsOf(edge), 'qchat_edge_connections_closed_total', { reason: 'client' })).toBe(1);
  });

  it('/readyz stays 200 through a Redis blip shorter than READINESS_GRACE_MS and turns 503 after it', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const graceMs = 4_000;
    const s = await stack(1, { REDIS_URL: redis.url, READINESS_GRACE_MS: String(graceMs) });
    const services = [s.edges[0]!, s.presence, s.relay];
    const urls = [...services.map((p) => `http://127.0.0.1:${p.metricsPort}/readyz`), `http://127.0.0.1:${s.edges[0]!.port}/readyz`];
    const statuses = async () => Promise.all(urls.map(async (u) => (await fetch(u)).status));
    /** Polls every 100 ms for `ms`; returns every status seen. */
    const watch = async (ms: number) => {
      const seen: number[] = [];
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) seen.push(...(await statuses()));
      return seen;
    };
    expect(new Set(await statuses())).toEqual(new Set([200]));

    // A blip: down for about a second, back on the same port. Ready throughout, and degraded while it lasts.
    await redis.kill();
    const during = await watch(800);
    const degraded = (await (await fetch(urls[0]!)).json()) as { status: string; degraded?: string[] };
    expect(degraded).toEqual({ status: 'ready', degraded: ['redis not connected'] });
    const back = await startRedis({ port: redis.port });
    servers.push(back);
    const after = await watch(2_500);
    expect(new Set([...during, ...after])).toEqual(new Set([200]));

    // An outage longer than the grace: 503 once the grace has passed, not before; /healthz stays 200.
    await back.kill();
    const downAt = Date.now();
    const early = await watch(graceMs - 1_500);
    expect(new Set(early)).toEqual(new Set([200]));
    await vi.waitFor(async () => expect(new Set(await statuses())).toEqual(new Set([503])), { timeout: 4_000, interval: 100 });
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(graceMs - 200);
    const body = (await (await fetch(urls[0]!)).json()) as { reasons: string[] };
    expect(body.reasons).toEqual(['redis not connected']);
    for (const p of services) expect((await fetch(`http://127.0.0.1:${p.metricsPort}/healthz`)).status).toBe(200);
  });
});
