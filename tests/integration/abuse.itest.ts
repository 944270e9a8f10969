/**
 * Attacks on a real process (issue "A public instance that holds against abuse"): impersonation, 16 MB frames
 * against a canary, the byte budget, origins, connection caps, forged X-Forwarded-For, and forged broker data.
 */
import { randomUUID } from 'node:crypto';
import { RedisProbe } from '@qchat/engine/testing';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { freePort, startService, type ServiceProcess } from '../support/processes';
import { connectClient, expectUpgradeRefused, type TestClient } from '../support/ws-client';

const is = (type: string, extra: (f: any) => boolean = () => true) => (f: any) => f?.type === type && extra(f);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * The stated bounds: while 16 MB frames that are refused by their size arrive, another client's message still echoes
 * within REFUSED_BOUND_MS (gischat-like parsing took 1.4 s per frame); while a 12 MB frame of a type that may be that
 * big is parsed and refused by validation, within PARSED_BOUND_MS. Measured on the 2-core test machine: ~60 ms with
 * a 20 ms baseline, a few hundred ms while the whole suite runs beside it.
 */
const REFUSED_BOUND_MS = 500;
const PARSED_BOUND_MS = 1_000;

/**
 * A client text frame built in advance with a zero mask (XOR with 0 leaves the payload as is), written straight to
 * the socket: the test process spends nothing on masking 16 MB while it measures the canary.
 */
function rawTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(2 + 8 + 4);
  header[0] = 0x81;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(payload.length), 2);
  return Buffer.concat([header, payload]);
}

const procs: ServiceProcess[] = [];
const clients: TestClient[] = [];
async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const p = await startService('all-in-one', { PORT: String(await freePort()), ...env });
  procs.push(p);
  return p;
}
const url = (p: ServiceProcess, channel = 'QGIS') => `ws://127.0.0.1:${p.port}/channel/${channel}/ws`;
async function join(p: ServiceProcess, headers?: Record<string, string>): Promise<TestClient> {
  const c = await connectClient(url(p), { headers });
  clients.push(c);
  await c.next(is('nb_users'));
  return c;
}
async function member(p: ServiceProcess, nick: string): Promise<TestClient> {
  const c = await join(p);
  c.send({ type: 'newcomer', newcomer: nick });
  await c.next(is('newcomer', (f) => f.newcomer === nick));
  return c;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.terminate().catch(() => undefined)));
  for (const p of procs) expect(await p.stop()).toBe(0);
});

describe('one edge under attack', () => {
  let p: ServiceProcess;
  beforeAll(async () => {
    p = await start({ ALLOWED_ORIGINS: 'https://qchat.example', RATE_LIMIT_BYTES_BURST: '200000000', RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000' });
  });

  it('refuses messages and likes under a nickname another connection registered (D6); incognito posting works', async () => {
    const alice = await member(p, 'alice');
    const mallory = await join(p);
    mallory.send({ type: 'text', author: 'alice', avatar: null, text: 'I am alice' });
    expect((await mallory.next(is('uncompliant'))).reason).toBe("Nickname 'alice' is registered by another user in channel QGIS");
    mallory.send({ type: 'like', liker_author: 'alice', liked_author: 'bob', message: 'x' });
    expect((await mallory.next(is('uncompliant'))).reason).toBe("Nickname 'alice' is registered by another user in channel QGIS");
    mallory.send({ type: 'text', author: 'incognito', avatar: null, text: 'hi from nobody' });
    await alice.next(is('text', (f) => f.text === 'hi from nobody'));
    alice.send({ type: 'text', author: 'alice', avatar: null, text: 'the real alice' });
    await mallory.next(is('text', (f) => f.text === 'the real alice' && f.author === 'alice'));
    expect(alice.frames.filter(is('text', (f) => f.text === 'I am alice'))).toEqual([]);
    // PUT is refused too, and works under a free name.
    const put = (author: string) => fetch(`http://127.0.0.1:${p.port}/channel/QGIS/text`, { method: 'PUT', body: JSON.stringify({ author, text: 'over http' }) });
    expect((await put('alice')).status).toBe(422);
    expect((await put('http_bot')).status).toBe(200);
  });

  it(`keeps a canary's echo under ${REFUSED_BOUND_MS} ms while 16 MB frames arrive (${PARSED_BOUND_MS} ms for one it must parse)`, async () => {
    const size = 16 * 1024 * 1024 - 1024;
    const pad = (head: string, tail = '"}') => head + 'x'.repeat(size - head.length - tail.length) + tail;
    const refused = [
      pad('{"type":"text","author":"attacker","text":"'),
      'y'.repeat(size),
      pad('{"type":"image","author":"attacker","image_data":"'),
    ].map(rawTextFrame);
    // Within a script's byte cap: parsed, then refused by its length limit.
    const parsed = rawTextFrame(pad('{"type":"script","author":"attacker","name":"s","raw_pycode":"').slice(0, 12_000_000 - 2) + '"}');
    const canary = await join(p);
    const attacker = await join(p);
    const socket = (attacker.ws as unknown as { _socket: import('node:net').Socket })._socket;
    const rtts: number[] = [];
    let running = true;
    const probe = (async () => {
      for (let i = 0; running; i++) {
        const t = performance.now();
        canary.send({ type: 'text', author: 'canary_user', text: `c${i}` });
        await canary.next(is('text', (f) => f.text === `c${i}`), 10_000);
        rtts.push(performance.now() - t);
        await sleep(10);
      }
    })();
    /** Sends the frames, waits for their answers (and a few probes after), returns the reasons and the worst echo meanwhile. */
    const phase = async (frames: Buffer[]) => {
      const from = rtts.length;
      for (const frame of frames) socket.write(frame);
      const reasons: string[] = [];
      for (let i = 0; i < frames.length; i++) reasons.push((await attacker.next(is('uncompliant'), 20_000)).reason as string);
      const until = rtts.length + 3;
      await vi.waitFor(() => expect(rtts.length).toBeGreaterThanOrEqual(until), { timeout: 10_000 });
      return { reasons, worst: Math.max(...rtts.slice(from)) };
    };
    await sleep(300);
    const baseline = Math.max(...rtts);
    const first = await phase(refused);
    const second = await phase([parsed]);
    running = false;
    await probe;
    expect(first.reasons[0]).toMatch(/^Frame too large \(\d+ bytes\): only image/);
    expect(first.reasons[1]).toMatch(/^Frame too large/);
    expect(first.reasons[2]).toMatch(/too large for a 'image' message/);
    expect(second.reasons[0]).toMatch(/raw_pycode/);
    console.log(JSON.stringify({ test: 'canary-16MB', baselineMs: Math.round(baseline), refusedWorstMs: Math.round(first.worst), parsedWorstMs: Math.round(second.worst) }));
    expect(first.worst).toBeLessThan(REFUSED_BOUND_MS);
    expect(second.worst).toBeLessThan(PARSED_BOUND_MS);
    expect(canary.ws.readyState).toBe(canary.ws.OPEN);
  });

  it('allows listed origins and upgrades without Origin (the QGIS and QField plugins), refuses other origins with 403', async () => {
    await join(p, { Origin: 'https://qchat.example' });
    await join(p);
    expect(await expectUpgradeRefused(url(p), { headers: { Origin: 'https://evil.example' } })).toBe(403);
  });
});

describe('caps, the byte budget and the trust-proxy rule', () => {
  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const p = await start({ TRUSTED_PROXIES: '10.0.0.0/8', TRUST_PROXY_HOPS: '1', MAX_CONNECTIONS_PER_IP: '1' });
    await join(p, { 'X-Forwarded-For': '192.0.2.1' });
    // A direct client forging another address is still counted as itself.
    expect(await expectUpgradeRefused(url(p), { headers: { 'X-Forwarded-For': '192.0.2.2' } })).toBe(429);
  });

  it('reads the client from a trusted proxy, caps sockets per address and per edge, and budgets bytes', async () => {
    const p = await start({
      TRUSTED_PROXIES: '127.0.0.1', MAX_CONNECTIONS_PER_IP: '1', MAX_CONNECTIONS: '3',
      WS_MAX_PAYLOAD_BYTES: '65536', RATE_LIMIT_BYTES_BURST: '100000', RATE_LIMIT_BYTES_PER_SECOND: '1024',
    });
    const from = (a: string) => ({ 'X-Forwarded-For': `203.0.113.9, ${a}` });
    const a = await join(p, from('192.0.2.1'));
    expect(await expectUpgradeRefused(url(p), { headers: from('192.0.2.1') })).toBe(429);
    await join(p, from('192.0.2.2'));
    await join(p, from('192.0.2.3'));
    expect(await expectUpgradeRefused(url(p), { headers: from('192.0.2.4') })).toBe(503);

    const frame = JSON.stringify({ type: 'text', author: 'bytes_user', text: 'z'.repeat(45_000) });
    for (let i = 0; i < 3; i++) a.send(frame);
    const reasons = [];
    for (let i = 0; i < 3; i++) reasons.push((await a.next(is('uncompliant'))).reason as string);
    expect(reasons.slice(0, 2).every((r) => r.includes('String should have at most 255 characters'))).toBe(true);
    expect(reasons[2]).toBe('Rate limit exceeded: too much data, slow down');
  });
});

describe('forged broker data', () => {
  it('drops frames that are not valid UTF-8 JSON of a known type or whose route makes no sense; clients stay connected', async () => {
    const instance = `abuse${randomUUID().slice(0, 8)}`;
    const p = await start({ REDIS_URL: inject('redisUrl'), NATS_URL: inject('natsUrl'), INSTANCE_ID: instance, NB_USERS_INTERVAL_MS: '0' });
    const bob = await member(p, 'bob');
    const other = await join(p);
    const redis = new RedisProbe(inject('redisUrl'));
    try {
      const topic = `qchat:${instance}:ch:QGIS`;
      const id = randomUUID();
      const junk: Buffer[] = [
        Buffer.concat([Buffer.from(`{"id":"${id}"}\n{"type":"text","id":"${id}","text":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
        Buffer.from(`{"id":"${id}"}\nnot json at all`),
        Buffer.from(`{"id":"${id}","kind":"nb_users"}\n{"type":"nb_users","id":"${id}","timestamp":1,"nb_users":-5}`),
        Buffer.from(`{"id":"${id}","to":"eve"}\n{"type":"like","id":"${id}","timestamp":1,"liker_author":"x","liked_author":"bob","message":"forged"}`),
        Buffer.from(`{"id":"${id}"}\n{"type":"like","id":"${id}","timestamp":1,"liker_author":"x","liked_author":"bob","message":"broadcast"}`),
        Buffer.from(`{"id":"${id}"}\n{"type":"pwned","id":"${id}"}`),
        Buffer.from('garbage without a route'),
      ];
      for (const j of junk) await redis.publish(topic, j);
      await redis.publish(`qchat:${instance}:control`, Buffer.from('{"op":"kick","nick":"bob"}'));
      other.send({ type: 'text', author: 'after_junk', avatar: null, text: 'still fine' });
      for (const c of [bob, other]) await c.waitFor(is('text', (f) => f.text === 'still fine'));
      for (const c of [bob, other]) {
        expect(c.ws.readyState).toBe(c.ws.OPEN);
        expect(c.frames.filter((f) => typeof f === 'string' || f.type === 'like' || f.type === 'pwned' || (f.type === 'nb_users' && f.nb_users < 0))).toEqual([]);
      }
      const metrics = await (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text();
      const dropped = [...metrics.matchAll(/^qchat_edge_broker_messages_dropped_total\{reason="(\w+)"[^}]*\} (\d+)/gm)];
      expect(Object.fromEntries(dropped.filter((m) => Number(m[2]) > 0).map((m) => [m[1], Number(m[2])]))).toEqual({ utf8: 1, json: 1, mismatch: 4, envelope: 1, control: 1 });
    } finally {
      await redis.close();
    }
  });
});
