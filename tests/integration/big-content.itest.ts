/**
 * Every message type at its configured limit, on every deployment shape: the embedded default (one process), one
 * edge over Redis and NATS serving presence and relay itself, and the distributed one (two edges, presence and
 * relay apart) over a nats-server with its DEFAULT settings (1 MiB
 * max_payload) and a default Redis. At the limit a message reaches every client on every edge, a history of
 * MAX_STORED_MESSAGES photos reaches every joiner, and nothing crashes; one past each limit gets an `uncompliant`
 * naming the limit. A client that stops reading is cut; one that reads slowly is not.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_LIMITS } from '@qchat/protocol';
import { freePort, startService, type ServiceProcess } from '../support/processes';
import { jpegBelowChars } from '../support/pictures';
import { scrape, value } from '../support/prometheus';
import { is, isRunning, startStack, type Stack } from '../support/stack';
import { connectClient, type TestClient } from '../support/ws-client';

const L = DEFAULT_LIMITS;
/** Long enough for a test client that is busy parsing other clients' 10 MB frames on a loaded 2-core box. */
const STALL_MS = 5_000;
const BIG_MS = 60_000;
/** Settings every shape shares: a short stall timeout and a fast keepalive sweep (the stall check runs in it). */
/** A channel per test, so no test sees another's history. */
const CHANNELS = ['photo', 'limits', 'over', 'history', 'stall'];
const ENV = { CHANNELS: CHANNELS.join(','), WS_STALL_TIMEOUT_MS: String(STALL_MS), WS_PING_INTERVAL: '1', WS_PING_TIMEOUT: '30', RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000', RATE_LIMIT_BYTES_BURST: String(256 * 1024 * 1024), NB_USERS_INTERVAL_MS: '0' };

/** One photo-like JPEG just under the image limit, made once for the whole file (it takes seconds). */
let photoMade: Promise<string> | undefined;
const photoBase64 = (maxChars: number) => (photoMade ??= jpegBelowChars(maxChars).then((p) => p.base64));

interface Shape {
  name: string;
  /** WebSocket URL of edge i in `channel` (the embedded shape has one process: every index is it). */
  ws(edge: number, channel: string): string;
  edges: number;
  /** /metrics URL of edge i. */
  metrics(edge: number): string;
  /** Every service process, to check none exited. */
  processes(): ServiceProcess[];
  stop(): Promise<void>;
}

const shapes: [string, () => Promise<Shape>][] = [
  ['embedded (npm start)', async () => {
    const port = await freePort();
    const p = await startService('all-in-one', { PORT: String(port), ...ENV });
    return {
      name: 'embedded', edges: 1, metrics: () => `http://127.0.0.1:${p.metricsPort}/metrics`, ws: (_i, channel) => `ws://127.0.0.1:${port}/channel/${channel}/ws`,
      processes: () => [p], stop: async () => { expect(await p.stop()).toBe(0); },
    };
  }],
  ['one edge (REDIS_URL and NATS_URL set, nobody else serving: presence and relay run inside it)', async () => {
    const port = await freePort();
    const p = await startService('edge', { PORT: String(port), REDIS_URL: inject('redisUrl'), NATS_URL: inject('natsUrl'), INSTANCE_ID: `lone${randomBytes(4).toString('hex')}`, ...ENV });
    return {
      name: 'one edge', edges: 1, metrics: () => `http://127.0.0.1:${p.metricsPort}/metrics`, ws: (_i, channel) => `ws://127.0.0.1:${port}/channel/${channel}/ws`,
      processes: () => [p], stop: async () => { expect(await p.stop()).toBe(0); },
    };
  }],
  ['distributed (2 edges, presence, relay; default nats-server)', async () => {
    const stack: Stack = await startStack({ redisUrl: inject('redisUrl'), natsUrl: inject('natsUrl'), edges: 2, env: { ...ENV, REQUEST_TIMEOUT_MS: '3000' } });
    return {
      name: 'distributed', edges: 2, metrics: (i) => stack.metrics(i), ws: (i, channel) => stack.ws(i, channel),
      processes: () => [...stack.presence, ...stack.relay, ...stack.edges], stop: () => stack.stop(),
    };
  }],
];

const author = { author: 'big_sender', avatar: null };
const crs = { crs_wkt: 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]]]', crs_authid: 'EPSG:4326' };

/** A GeoJSON layer of MAX_GEOJSON_FEATURES points whose text is exactly `chars` long, floats written as floats. */
function layerOfLength(chars: number): string {
  const features = Array.from({ length: L.maxGeojsonFeatures }, (_, i) => `{"type":"Feature","properties":{"i":${i},"v":1.0,"note":""},"geometry":{"type":"Point","coordinates":[${i}.0,48.5]}}`);
  const empty = `{"type":"FeatureCollection","features":[${features.join(',')}]}`;
  const pad = chars - empty.length;
  // Spread the padding over the notes, so every feature carries text.
  const each = Math.floor(pad / L.maxGeojsonFeatures);
  let extra = pad - each * L.maxGeojsonFeatures;
  const padded = features.map((f) => f.replace('"note":""', `"note":"${'x'.repeat(each + (extra-- > 0 ? 1 : 0))}"`));
  const text = `{"type":"FeatureCollection","features":[${padded.join(',')}]}`;
  expect(text.length).toBe(chars);
  return text;
}

/**
 * A client that completes the WebSocket handshake and then reads nothing (a raw socket: the ws library would resume
 * a paused socket by itself). `drain` reads on until the server ends the connection and returns the bytes read.
 */
async function stalledClient(url: string): Promise<{ drain(): Promise<number> }> {
  const { hostname, port, pathname } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let head = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.pause();
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
      else resolve();
    };
    socket.on('data', onData);
  });
  return {
    drain: () => new Promise<number>((resolve) => {
      let bytes = 0;
      socket.on('data', (c: Buffer) => { bytes += c.length; });
      socket.once('close', () => resolve(bytes));
      socket.on('error', () => undefined);
      socket.resume();
    }),
  };
}

/** A raw frame text (so the layer's number forms are what the test wrote). */
const geojsonFrame = (layer: string, style: string | null = '<qgis/>') =>
  `{"type":"geojson","author":"big_sender","avatar":null,"layer_name":"big","crs_wkt":${JSON.stringify(crs.crs_wkt)},"crs_authid":"EPSG:4326","geojson":${layer},"style":${JSON.stringify(style)}}`;

describe.each(shapes)('big content: %s', (_name, make) => {
  let shape: Shape;
  let photo: string;
  const clients: TestClient[] = [];
  const join = async (edge: number, channel: string) => {
    const c = await connectClient(shape.ws(edge % shape.edges, channel));
    clients.push(c);
    await c.next(is('nb_users'));
    return c;
  };
  /** A sender and one receiver per edge (two on the embedded shape) in a channel of their own, still empty. */
  const party = async (channel: string) => {
    const sender = await join(0, channel);
    const receivers = [await join(0, channel), await join(1, channel)];
    return { sender, receivers, all: [sender, ...receivers] };
  };
  const allAlive = async () => {
    for (const p of shape.processes()) expect(await isRunning(p), `process ${p.pid} exited:\n${p.output.slice(-20).join('\n')}`).toBe(true);
  };

  beforeAll(async () => {
    [shape, photo] = await Promise.all([make(), photoBase64(L.maxImageRawLength)]);
  }, BIG_MS);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.terminate().catch(() => undefined)));
    await shape?.stop();
  }, BIG_MS);

  it('delivers a photo of MAX_IMAGE_RAW_LENGTH base64 characters (5 MB over NATS\' 1 MiB max_payload), resized, to every edge', async () => {
    expect(photo.length).toBeLessThanOrEqual(L.maxImageRawLength);
    expect(photo.length).toBeGreaterThan(L.maxImageRawLength * 0.97);
    const { sender, all } = await party('photo');
    sender.send({ type: 'image', ...author, image_data: photo });
    for (const c of all) {
      const f = await c.next(is('image'), BIG_MS);
      expect(f.author).toBe('big_sender');
      const png = Buffer.from(f.image_data, 'base64');
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(png.readUInt32BE(16)).toBe(L.maxImageSize); // width: a 4:3 photo fits 800 px wide
      expect(f.image_data.length).toBeGreaterThan(500_000); // a photo's PNG, not a thumbnail
    }
    await allAlive();
  }, BIG_MS);

  it('delivers GeoJSON of MAX_GEOJSON_BYTES with its numbers as sent, and script, model and style at their limits', async () => {
    const { sender, all } = await party('limits');
    const layer = layerOfLength(L.maxGeojsonBytes);
    sender.send(geojsonFrame(layer, 's'.repeat(L.maxStyleLength)));
    // Code points, not bytes: a script of 2,000,000 characters with accents is ~3 MB of UTF-8.
    const script = `# é\n${'print("é")\n'.repeat(L.maxScriptRawLength / 11)}`.slice(0, L.maxScriptRawLength);
    sender.send({ type: 'script', ...author, name: 'big.py', raw_pycode: script });
    const model = `<!DOCTYPE model>${'<Option type="Map"/>'.repeat(L.maxModelRawLength)}`.slice(0, L.maxModelRawLength);
    sender.send({ type: 'model', ...author, model_name: 'big', model_group: null, raw_xml: model });
    for (const c of all) {
      const g = await c.next(is('geojson'), BIG_MS);
      expect(g.style.length).toBe(L.maxStyleLength);
      expect(g.geojson.features).toHaveLength(L.maxGeojsonFeatures);
      expect((await c.next(is('script'), BIG_MS)).raw_pycode).toBe(script);
      expect((await c.next(is('model'), BIG_MS)).raw_xml).toBe(model);
    }
    await allAlive();
  }, BIG_MS);

  it('answers one past each limit with an uncompliant naming the limit, and nothing is broadcast', async () => {
    const { sender, receivers } = await party('over');
    const over = [
      [{ type: 'image', ...author, image_data: `${photo}${'A'.repeat(L.maxImageRawLength - photo.length + 4)}` }, `image_data\n  String should have at most ${L.maxImageRawLength} characters`],
      [geojsonFrame(layerOfLength(L.maxGeojsonBytes + 1)), `GeoJSON should be at most ${L.maxGeojsonBytes}`],
      [{ type: 'script', ...author, name: 'x', raw_pycode: 'é'.repeat(L.maxScriptRawLength + 1) }, `raw_pycode\n  String should have at most ${L.maxScriptRawLength} characters`],
      [{ type: 'model', ...author, model_name: 'x', model_group: null, raw_xml: 'x'.repeat(L.maxModelRawLength + 1) }, `raw_xml\n  String should have at most ${L.maxModelRawLength} characters`],
      [geojsonFrame('{"features":[]}', 's'.repeat(L.maxStyleLength + 1)), `style\n  String should have at most ${L.maxStyleLength} characters`],
    ] as const;
    for (const [frame, reason] of over) {
      sender.send(frame);
      expect((await sender.next(is('uncompliant'), BIG_MS)).reason).toContain(reason);
    }
    for (const r of receivers) await r.expectNone((f) => ['image', 'geojson', 'script', 'model'].includes(f.type), 500);
    await allAlive();
  }, BIG_MS);

  it(`replays a history of MAX_STORED_MESSAGES photos to a joiner on each edge, then live frames`, async () => {
    const { sender, all } = await party('history');
    const stored = 5; // MAX_STORED_MESSAGES default
    for (let i = 0; i < stored; i++) sender.send({ type: 'image', author: `photo_${i}`, avatar: null, image_data: photo });
    for (const c of all) for (let i = 0; i < stored; i++) expect((await c.next(is('image'), BIG_MS)).author).toBe(`photo_${i}`);
    const joiners = [await connectClient(shape.ws(0, 'history')), await connectClient(shape.ws(1 % shape.edges, 'history'))];
    clients.push(...joiners);
    for (const j of joiners) {
      expect((await j.next(undefined, BIG_MS)).type).toBe('nb_users');
      for (let i = 0; i < stored; i++) expect((await j.next(undefined, BIG_MS))).toMatchObject({ type: 'image', author: `photo_${i}` });
    }
    // Then live frames (sent only now: stored, it would push the oldest photo out of a later joiner's history).
    sender.send({ type: 'text', ...author, text: 'after the photos' });
    for (const j of joiners) expect(await j.next(is('text'), BIG_MS)).toMatchObject({ text: 'after the photos' });
    await allAlive();
  }, BIG_MS * 2);

  it('cuts a client that stops reading while max-size frames flow, keeps a slow reader, and the others get everything', async () => {
    const { sender, receivers } = await party('stall');
    const FRAMES = 6;
    const stalled = await stalledClient(shape.ws(1 % shape.edges, 'stall'));
    const slow = await join(0, 'stall');
    const socketOf = (c: TestClient) => (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    // The slow reader reads a moment every 300 ms: far slower than loopback, never still for WS_STALL_TIMEOUT_MS.
    const slowSocket = socketOf(slow);
    slowSocket.pause();
    const pacer = setInterval(() => { slowSocket.resume(); setTimeout(() => slowSocket.pause(), 20); }, 300);
    try {
      const layer = layerOfLength(L.maxGeojsonBytes);
      // 6 × 10 MB: more than loopback's socket buffers can absorb for the stalled client (tcp_rmem up to 32 MB here).
      for (let i = 0; i < FRAMES; i++) sender.send(geojsonFrame(layer, `style ${i}`));
      for (const r of [sender, ...receivers]) for (let i = 0; i < FRAMES; i++) expect((await r.next(is('geojson'), BIG_MS)).style).toBe(`style ${i}`);
      for (let i = 0; i < FRAMES; i++) expect((await slow.next(is('geojson'), BIG_MS)).style).toBe(`style ${i}`);
      // The stalled client cannot see its close while it reads nothing: the edge's count tells.
      const started = Date.now();
      while (value(await scrape(shape.metrics(1)), 'qchat_edge_slow_consumer_closes_total') < 1) {
        expect(Date.now() - started, 'the stalled client was not cut').toBeLessThan(STALL_MS * 5);
        await new Promise((r) => setTimeout(r, 200));
      }
      // Read what the kernel kept for it: the connection ends, short of the 40 MB the others got.
      // The edge sends its close frame and drops the connection a second later: then what the client reads ends short.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await stalled.drain()).toBeLessThan(FRAMES * L.maxGeojsonBytes);
      expect(slow.ws.readyState).toBe(slow.ws.OPEN);
    } finally {
      clearInterval(pacer);
      slowSocket.resume();
    }
    await allAlive();
  }, BIG_MS * 2);
});

describe('big content: relay killed and restarted while photos flow (distributed, default nats-server)', () => {
  let stack: Stack;
  let photo: string;

  beforeAll(async () => {
    [stack, photo] = await Promise.all([
      startStack({ redisUrl: inject('redisUrl'), natsUrl: inject('natsUrl'), edges: 2, env: { ...ENV, IMAGE_TIMEOUT_MS: '3000' } }),
      photoBase64(L.maxImageRawLength),
    ]);
  }, BIG_MS);

  afterAll(async () => {
    await stack?.stop();
  }, BIG_MS);

  it('gives every photo exactly one outcome, delivers none twice, and the new relay keeps running', async () => {
    const senders = [await stack.client(0, 'photo'), await stack.client(1, 'photo')];
    const receivers = [await stack.client(0, 'photo'), await stack.client(1, 'photo')];
    for (const c of [...senders, ...receivers]) await c.next(is('nb_users'));
    const perSender = 4;
    const sent = senders.map((s, k) => Array.from({ length: perSender }, (_, i) => `photo_${k}_${i}`));
    // Each sender's frames are handled in order, so its k-th outcome is its k-th photo's.
    const outcome = (f: any, k: number) => f.type === 'uncompliant' || (f.type === 'image' && f.author.startsWith(`photo_${k}_`));
    senders.forEach((s, k) => { s.send({ type: 'image', author: sent[k]![0]!, avatar: null, image_data: photo }); });
    await new Promise((r) => setTimeout(r, 150));
    await stack.relay[0]!.kill9(); // photos in flight on it, and the next ones arrive with no relay at all
    for (let i = 1; i < perSender; i++) senders.forEach((s, k) => { s.send({ type: 'image', author: sent[k]![i]!, avatar: null, image_data: photo }); });
    await new Promise((r) => setTimeout(r, 1_000));
    const replacement = await stack.start('relay');

    const delivered: string[] = [];
    for (const [k, s] of senders.entries()) {
      for (let i = 0; i < perSender; i++) {
        const f = await s.next((x) => outcome(x, k), BIG_MS);
        if (f.type === 'image') {
          expect(f.author).toBe(sent[k]![i]);
          delivered.push(f.author);
        } else {
          expect(f.reason).toMatch(/try again/i);
        }
      }
      await s.expectNone((x) => outcome(x, k), 1_000);
    }
    expect(delivered.length).toBeGreaterThan(0);
    for (const r of receivers) {
      const got = [];
      for (let n = 0; n < delivered.length; n++) got.push((await r.next(is('image'), BIG_MS)).author);
      expect([...got].sort()).toEqual([...delivered].sort());
      await r.expectNone(is('image'), 1_000);
    }
    // No crash loop: the replacement relay is up, and a photo after all this goes through.
    expect(await isRunning(replacement)).toBe(true);
    senders[0]!.send({ type: 'image', author: 'after_restart', avatar: null, image_data: photo });
    for (const r of receivers) expect((await r.next(is('image'), BIG_MS)).author).toBe('after_restart');
    expect(await isRunning(replacement)).toBe(true);
  }, BIG_MS * 2);
});
