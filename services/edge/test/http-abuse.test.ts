/** The public HTTP side under abuse: PUT floods, deep nesting, impersonation over PUT, security headers. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { DEFAULT_LIMITS, stamp } from '@qchat/protocol';
import { createLogger } from '@qchat/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpApp, type HttpDeps } from '../src/http';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function start(config: Partial<HttpDeps['config']> = {}, address?: (n: number) => string) {
  const logs: Record<string, unknown>[] = [];
  const holders = new Map<string, string>();
  const published: string[] = [];
  let n = 0;
  const deps: HttpDeps = {
    config: { CHANNELS: ['QGIS'], RULES: 'YOLO', MAIN_LANG: 'en', limits: DEFAULT_LIMITS, QFIELD_PLUGIN_URL: 'https://example.org', MAX_HTTP_BODY_BYTES: 8 << 20, ...config },
    log: createLogger({
      service: 'edge-test',
      level: 'debug',
      destination: new Writable({ write: (c: Buffer, _e, done) => { for (const l of c.toString().split('\n')) if (l) logs.push(JSON.parse(l)); done(); } }),
    }),
    presence: { users: async () => [], counts: async (cs) => cs.map(() => 0), holder: async (_c, nick) => ({ conn: holders.get(nick) ?? null, banned: nick === 'banned_one' }) },
    relay: {
      history: async () => [],
      publishText: async (_c, body) => {
        published.push(body.text);
        return JSON.stringify(stamp({ ...body, avatar: body.avatar ?? null }, `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, 1));
      },
    },
    readiness: () => ({ ready: true, reasons: [] }),
    version: '3.4.1',
    ...(address ? { clientAddress: () => address(n) } : {}),
  };
  const server = createServer(createHttpApp(deps));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const put = (body: unknown) => fetch(`${base}/channel/QGIS/text`, { method: 'PUT', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { base, put, holders, published, logs };
}

describe('PUT /channel/{c}/text under abuse', () => {
  it('limits a flood per client address with 429 {"detail"} and Retry-After; other addresses are not affected', async () => {
    let who = 'a';
    const { put, published } = await start({ PUT_RATE_LIMIT_PER_MINUTE: 60, PUT_RATE_LIMIT_BURST: 5 }, () => who);
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await put({ author: 'bot_one', text: `t${i}` })).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(34);
    expect(published.length).toBeLessThanOrEqual(6);
    const res = await put({ author: 'bot_one', text: 'again' });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await res.json()).toEqual({ detail: 'Too many requests: slow down' });
    who = 'b';
    expect((await put({ author: 'bot_two', text: 'other address' })).status).toBe(200);
  });

  it('answers a text nested 400,000 levels deep with 422 {"detail"}, no 500 and nothing logged as an error', async () => {
    const { put, logs } = await start();
    const deep = `{"author":"deep_one","text":${'['.repeat(400_000)}${']'.repeat(400_000)}}`;
    const res = await put(deep);
    expect(res.status).toBe(422);
    const body = (await res.json()) as { detail: { type: string; ctx: { error: string } }[] };
    expect(body.detail[0]?.type).toBe('json_invalid');
    expect(body.detail[0]?.ctx.error).toMatch(/nested levels/);
    const unclosed = await put(`{"author":"deep_one","text":${'['.repeat(400_000)}`);
    expect(unclosed.status).toBe(422);
    expect(logs.filter((l) => (l['level'] as number) >= 50)).toEqual([]);
  });

  it('refuses an author registered by a connection, or banned (protocol.md §6 D6); free names still post', async () => {
    const { put, holders, published } = await start();
    holders.set('alice', 'conn-1');
    const res = await put({ author: 'alice', text: 'I am alice' });
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      detail: [{ type: 'value_error', loc: ['body', 'author'], msg: "Nickname 'alice' is registered by another user in channel QGIS", input: 'alice' }],
    });
    expect((await put({ author: 'banned_one', text: 'x' })).status).toBe(422);
    expect((await put({ author: 'incognito', text: 'hello' })).status).toBe(200);
    expect(published).toEqual(['hello']);
  });
});

describe('security headers', () => {
  it('pages get a CSP, nosniff, no framing and no referrer; JSON keeps its exact content type', async () => {
    const { base } = await start();
    for (const path of ['/', '/docs', '/redoc']) {
      const res = await fetch(base + path);
      await res.body?.cancel();
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    }
    const docs = await fetch(`${base}/docs`);
    const csp = docs.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    const json = await fetch(`${base}/channels`);
    expect(json.headers.get('content-type')).toBe('application/json');
    expect(json.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
