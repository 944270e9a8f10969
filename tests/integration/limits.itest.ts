/** Per-socket limits on a real process: rate, backpressure, frame size, binary and invalid UTF-8 frames. */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort, startService, type ServiceProcess } from '../support/processes';
import { connectClient, expectUpgradeRefused, type TestClient } from '../support/ws-client';

const is = (type: string, extra: (f: any) => boolean = () => true) => (f: any) => f?.type === type && extra(f);

describe('per-socket limits', () => {
  let limited: ServiceProcess;
  let open: ServiceProcess;
  const clients: TestClient[] = [];
  const join = async (p: ServiceProcess) => {
    const c = await connectClient(`ws://127.0.0.1:${p.port}/channel/QGIS/ws`);
    clients.push(c);
    await c.next(is('nb_users'));
    return c;
  };

  beforeAll(async () => {
    limited = await startService('all-in-one', { PORT: String(await freePort()), RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '3', WS_MAX_PAYLOAD_BYTES: '65536' });
    open = await startService('all-in-one', { PORT: String(await freePort()), RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '10000' });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.terminate().catch(() => undefined)));
    expect(await limited.stop()).toBe(0);
    expect(await open.stop()).toBe(0);
  });

  it('answers frames over the rate with uncompliant, one outcome per frame', async () => {
    const c = await join(limited);
    for (let i = 0; i < 5; i++) c.send({ type: 'text', author: 'rate_user', text: `m${i}` });
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await c.next((f) => f.type === 'text' || f.type === 'uncompliant'));
    expect(outcomes.filter(is('text')).map((f) => f.text)).toEqual(['m0', 'm1', 'm2']);
    expect(outcomes.filter(is('uncompliant')).map((f) => f.reason)).toEqual(Array(2).fill('Rate limit exceeded: too many messages, slow down'));
  });

  it('keeps a fast sender that reads its replies: rate-limit answers never make it a slow consumer', async () => {
    const c = await join(limited);
    // 12,000 frames over the rate: ~2 MB of uncompliant replies, more than WS_MAX_BUFFERED_BYTES, read as they come.
    const n = 12_000;
    for (let i = 0; i < n; i++) c.send({ type: 'text', author: 'flood_user', text: `f${i}` });
    await vi.waitFor(() => expect(c.frames.filter(is('uncompliant')).length).toBeGreaterThanOrEqual(n - 10), { timeout: 30_000, interval: 200 });
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  it('WS_MAX_UNSENT_BYTES: a frame that fits is delivered to a reader, one that takes a socket past it cuts that socket (4001)', async () => {
    const ceiling = 1_500_000; // under MAX_SCRIPT_RAW_LENGTH, over WS_MAX_BUFFERED_BYTES
    const capped = await startService('all-in-one', { PORT: String(await freePort()), WS_MAX_UNSENT_BYTES: String(ceiling) });
    try {
      const c = await join(capped);
      const script = (chars: number) => ({ type: 'script', author: 'unsent_user', name: 's.py', raw_pycode: 'x'.repeat(chars) });
      // The broadcast frame is the script plus ~150 bytes of envelope fields.
      c.send(script(ceiling - 1_000));
      expect((await c.next(is('script'), 15_000)).raw_pycode).toHaveLength(ceiling - 1_000);
      c.send(script(ceiling));
      expect((await c.closed).code).toBe(4001);
    } finally {
      await capped.stop();
    }
  });

  it('handles a burst of 300 frames from one socket in order, refusing none (backpressure)', async () => {
    const c = await join(open);
    for (let i = 0; i < 300; i++) c.send({ type: 'text', author: 'burst_user', text: `b${i}` });
    const texts = [];
    for (let i = 0; i < 300; i++) texts.push((await c.next((f) => f.type === 'text' || f.type === 'uncompliant', 15_000)).text);
    expect(texts).toEqual(Array.from({ length: 300 }, (_, i) => `b${i}`));
  });

  it('caps sockets per client address, read from X-Forwarded-For behind TRUST_PROXY_HOPS proxies', async () => {
    const capped = await startService('all-in-one', { PORT: String(await freePort()), MAX_CONNECTIONS_PER_IP: '2', TRUST_PROXY_HOPS: '1' });
    const url = `ws://127.0.0.1:${capped.port}/channel/QGIS/ws`;
    // What a proxy sends: the client's own claim first, then the address the proxy saw.
    const from = (addr: string) => ({ headers: { 'X-Forwarded-For': `203.0.113.9, ${addr}` } });
    try {
      const a = [await connectClient(url, from('192.0.2.1')), await connectClient(url, from('192.0.2.1'))];
      clients.push(...a);
      expect(await expectUpgradeRefused(url, from('192.0.2.1'))).toBe(429);
      const other = await connectClient(url, from('192.0.2.2'));
      clients.push(other);
      await a[0]!.close();
      await vi.waitFor(async () => {
        const again = await connectClient(url, from('192.0.2.1'));
        clients.push(again);
      });
    } finally {
      expect(await capped.stop()).toBe(0);
    }
  });

  it('closes with 1009 above WS_MAX_PAYLOAD_BYTES, 1003 on a binary frame, 1007 on invalid UTF-8', async () => {
    const big = await join(limited);
    big.send({ type: 'text', author: 'big_user', text: 'x'.repeat(70_000) });
    expect((await big.closed).code).toBe(1009);

    const binary = await join(limited);
    binary.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await binary.closed).code).toBe(1003);

    const utf8 = await join(limited);
    // A text frame whose payload is not UTF-8 (0xff), masked as a client must.
    const mask = Buffer.from([1, 2, 3, 4]);
    const payload = Buffer.from([0xff, 0xfe, 0x41]).map((b, i) => b ^ mask[i % 4]!);
    (utf8.ws as unknown as { _socket: net.Socket })._socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload]));
    expect((await utf8.closed).code).toBe(1007);

    // The server is unharmed.
    const after = await join(limited);
    after.send({ type: 'text', author: 'after_user', text: 'still here' });
    expect(await after.next(is('text', (f) => f.text === 'still here'))).toMatchObject({ author: 'after_user' });
  });
});
