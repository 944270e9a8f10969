import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { DEFAULT_LIMITS, QChatError, stamp, type TextBody } from '@qchat/protocol';
import { createLogger } from '@qchat/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpApp, locateJsonError, sortNicknames, type HttpDeps } from '../src/http';
import { INDEX_HTML } from '../src/http/pages';

const JSON_TYPE = 'application/json';
const CHANNELS = ['QGIS', 'Geotribu', 'Field and mobile'];

/** In-memory presence and relay with switchable failures, plus captured log lines. */
class World {
  users = new Map<string, string[]>();
  counts = new Map<string, number>();
  history = new Map<string, string[]>();
  published: { channel: string; body: TextBody }[] = [];
  /** "channel\tnick" -> conn holding it; nicknames banned. */
  holders = new Map<string, string>();
  banned = new Set<string>();
  presenceError: Error | undefined;
  publishError: Error | undefined;
  ready = { ready: true, reasons: [] as string[] };
  logs: Record<string, unknown>[] = [];
  private nextId = 0;

  deps(overrides: Partial<HttpDeps['config']> = {}): HttpDeps {
    const lines = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line) this.logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    return {
      config: {
        CHANNELS,
        RULES: 'YOLO',
        MAIN_LANG: 'en',
        limits: DEFAULT_LIMITS,
        QFIELD_PLUGIN_URL: 'https://github.com/geotribu/qchat-qfield/releases/latest/download/qfchat.zip',
        MAX_HTTP_BODY_BYTES: 4096,
        ...overrides,
      },
      log: createLogger({ service: 'edge-test', level: 'debug', destination: lines }),
      presence: {
        users: async (channel) => {
          if (this.presenceError) throw this.presenceError;
          return this.users.get(channel) ?? [];
        },
        counts: async (channels) => {
          if (this.presenceError) throw this.presenceError;
          return channels.map((c) => this.counts.get(c) ?? 0);
        },
        holder: async (channel, nick) => {
          if (this.presenceError) throw this.presenceError;
          return { conn: this.holders.get(`${channel}\t${nick}`) ?? null, banned: this.banned.has(nick) };
        },
      },
      relay: {
        history: async (channel) => this.history.get(channel) ?? [],
        publishText: async (channel, body) => {
          if (this.publishError) throw this.publishError;
          this.published.push({ channel, body });
          const id = `00000000-0000-4000-8000-${String(++this.nextId).padStart(12, '0')}`;
          return JSON.stringify(stamp({ ...body, avatar: body.avatar ?? null }, id, 1752650000));
        },
      },
      readiness: () => this.ready,
      version: '3.4.1',
    };
  }

  errorsLogged(msg: string): number {
    return this.logs.filter((l) => l['msg'] === msg && l['level'] === 50).length;
  }
}

const servers: Server[] = [];

async function start(overrides: Partial<HttpDeps['config']> = {}) {
  const world = new World();
  const server = createServer(createHttpApp(world.deps(overrides)));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = (path: string, init: RequestInit = {}) => fetch(base + path, { redirect: 'manual', ...init });
  const put = (path: string, body: unknown) =>
    call(path, { method: 'PUT', headers: { 'Content-Type': JSON_TYPE }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { world, base, server, call, put };
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function expectJson(res: Response, status: number): Promise<unknown> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  return JSON.parse(await res.text()) as unknown;
}

describe('gischat endpoints', () => {
  it('GET /version', async () => {
    const { call } = await start();
    const res = await call('/version');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect(await res.text()).toBe('{"version":"3.4.1"}');
  });

  it('GET /channels keeps the configured order', async () => {
    const { call } = await start();
    expect(await expectJson(await call('/channels'), 200)).toEqual(CHANNELS);
  });

  it('GET /rules has exactly the seven keys, numbers as numbers', async () => {
    const { call } = await start();
    const res = await call('/rules');
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect(await res.text()).toBe(
      '{"rules":"YOLO","main_lang":"en","min_author_length":3,"max_author_length":32,' +
        '"max_message_length":255,"max_image_size":800,"max_geojson_features":500}',
    );
  });

  it('GET /status reports integer counts per channel', async () => {
    const { call, world } = await start();
    world.counts.set('QGIS', 3);
    world.counts.set('Field and mobile', 1);
    expect(await expectJson(await call('/status'), 200)).toEqual({
      status: 'ok',
      healthy: true,
      channels: [
        { name: 'QGIS', nb_connected_users: 3 },
        { name: 'Geotribu', nb_connected_users: 0 },
        { name: 'Field and mobile', nb_connected_users: 1 },
      ],
    });
  });

  it('GET /status answers 500 {"detail"} on a bug, logged once', async () => {
    const { call, world } = await start();
    world.presenceError = new Error('a bug');
    expect(await expectJson(await call('/status'), 500)).toEqual({ detail: 'Internal Server Error' });
    expect(world.errorsLogged('request failed')).toBe(1);
  });

  it('answers 503 {"detail"} while presence is unavailable, logged once when it starts and once when it ends', async () => {
    const { call, world } = await start();
    world.presenceError = new QChatError('unavailable', 'presence store unavailable');
    for (let i = 0; i < 3; i++) {
      const res = await call('/status');
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await expectJson(res, 503)).toEqual({ detail: 'Service temporarily unavailable, try again' });
    }
    world.presenceError = undefined;
    await expectJson(await call('/status'), 200);
    const outage = world.logs.filter((l) => String(l['msg']).startsWith('presence or relay (HTTP API)'));
    expect(outage.map((l) => [l['level'], l['failed']])).toEqual([[40, undefined], [30, 3]]);
    expect(world.errorsLogged('request failed')).toBe(0);
  });

  it('GET /channel/{c}/users sorts by lower-cased code units, stable', async () => {
    const { call, world } = await start();
    world.users.set('QGIS', ['b', 'A', '_x', 'a-']);
    expect(await expectJson(await call('/channel/QGIS/users'), 200)).toEqual(['_x', 'A', 'a-', 'b']);
    expect(sortNicknames(['b', 'a', 'B', 'A'])).toEqual(['a', 'A', 'b', 'B']);
    expect(sortNicknames(['B', 'b', 'A', 'a'])).toEqual(['A', 'a', 'B', 'b']);
    expect(await expectJson(await call('/channel/Geotribu/users'), 200)).toEqual([]);
  });

  it('channel names are percent-decoded and compared case-sensitively', async () => {
    const { call, world } = await start();
    world.users.set('Field and mobile', ['jane_doe']);
    expect(await expectJson(await call('/channel/Field%20and%20mobile/users'), 200)).toEqual(['jane_doe']);
    expect(await expectJson(await call('/channel/qgis/users'), 404)).toEqual({ detail: "Channel 'qgis' not registered" });
  });

  it('unknown channel → 404 on users and last', async () => {
    const { call } = await start();
    expect(await expectJson(await call('/channel/fromage/users'), 404)).toEqual({ detail: "Channel 'fromage' not registered" });
    expect(await expectJson(await call('/channel/fromage/last'), 404)).toEqual({ detail: "Channel 'fromage' not registered" });
  });

  it('GET /channel/{c}/last joins the stored frames without re-serialising them', async () => {
    const { call, world } = await start();
    const frames = ['{"type":"text", "id":"a","timestamp":1,"author":"jane","avatar":null,"text":"\\u00e9"}', '{"type":"bbox","xmin":1.0}'];
    world.history.set('QGIS', frames);
    const res = await call('/channel/QGIS/last');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect(await res.text()).toBe(`[${frames[0]},${frames[1]}]`);
    const empty = await call('/channel/Geotribu/last');
    expect(await empty.text()).toBe('[]');
  });
});

describe('PUT /channel/{channel}/text', () => {
  const valid = { author: 'ws-tester-QGIS', avatar: 'postgis', text: 'fromage' };

  it('publishes and answers the broadcast frame', async () => {
    const { put, world } = await start();
    const res = await put('/channel/QGIS/text', valid);
    const body = await expectJson(res, 200);
    expect(body).toEqual({ type: 'text', id: '00000000-0000-4000-8000-000000000001', timestamp: 1752650000, ...valid });
    expect(world.published).toHaveLength(1);
    expect(world.published[0]?.channel).toBe('QGIS');
    expect(world.published[0]?.body).toMatchObject({ type: 'text', author: valid.author, text: valid.text });
  });

  it('valid body on an unknown channel → 404', async () => {
    const { put, world } = await start();
    expect(await expectJson(await put('/channel/fromage/text', valid), 404)).toEqual({ detail: "Channel 'fromage' not registered" });
    expect(world.published).toHaveLength(0);
  });

  it('author too short → 422 string_too_short', async () => {
    const { put } = await start();
    expect(await expectJson(await put('/channel/QGIS/text', { author: 'ab', text: 'hi' }), 422)).toEqual({
      detail: [
        { type: 'string_too_short', loc: ['body', 'author'], msg: 'String should have at least 3 characters', input: 'ab', ctx: { min_length: 3 } },
      ],
    });
  });

  it('author with a bad character → 422 string_pattern_mismatch, before the channel check', async () => {
    const { put } = await start();
    const expected = {
      detail: [
        {
          type: 'string_pattern_mismatch',
          loc: ['body', 'author'],
          msg: "String should match pattern '^[a-z-A-Z-0-9-_]+$'",
          input: '<darth_chri$tian>',
          ctx: { pattern: '^[a-z-A-Z-0-9-_]+$' },
        },
      ],
    };
    expect(await expectJson(await put('/channel/QGIS/text', { author: '<darth_chri$tian>', text: 'hi' }), 422)).toEqual(expected);
    expect(await expectJson(await put('/channel/fromage/text', { author: '<darth_chri$tian>', text: 'hi' }), 422)).toEqual(expected);
  });

  it('missing text → 422 missing at ["body","text"]', async () => {
    const { put } = await start();
    const body = (await expectJson(await put('/channel/QGIS/text', { author: 'jane_doe' }), 422)) as { detail: unknown[] };
    expect(body.detail).toHaveLength(1);
    expect(body.detail[0]).toMatchObject({ type: 'missing', loc: ['body', 'text'], msg: 'Field required' });
  });

  it('a type other than text → 422 on ["body","type"] (protocol.md §6 D12)', async () => {
    const { put, world } = await start();
    const body = (await expectJson(await put('/channel/QGIS/text', { ...valid, type: 'image' }), 422)) as { detail: { loc: unknown }[] };
    expect(body.detail[0]?.loc).toEqual(['body', 'type']);
    expect(world.published).toHaveLength(0);
  });

  it('empty body → 422 missing at ["body"]', async () => {
    const { put } = await start();
    expect(await expectJson(await put('/channel/fromage/text', ''), 422)).toEqual({
      detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }],
    });
  });

  it('bad JSON → 422 json_invalid at the code point offset, with the Python message', async () => {
    const { put } = await start();
    // The emoji is one code point (two UTF-16 units): Python reports offset 13, not 14.
    expect(await expectJson(await put('/channel/fromage/text', '{"text": "😀",}'), 422)).toEqual({
      detail: [
        {
          type: 'json_invalid',
          loc: ['body', 13],
          msg: 'JSON decode error',
          input: {},
          ctx: { error: 'Expecting property name enclosed in double quotes' },
        },
      ],
    });
  });

  it('bytes that are not UTF-8 → 400', async () => {
    const { call } = await start();
    const res = await call('/channel/QGIS/text', { method: 'PUT', body: Buffer.from([0x7b, 0xff, 0x7d]) });
    expect(await expectJson(res, 400)).toEqual({ detail: 'There was an error parsing the body' });
  });

  it('body over MAX_HTTP_BODY_BYTES → 413, declared or streamed', async () => {
    const { put, base } = await start({ MAX_HTTP_BODY_BYTES: 100 });
    const big = { author: 'jane_doe', text: 'x'.repeat(200) };
    expect(await expectJson(await put('/channel/QGIS/text', big), 413)).toEqual({ detail: 'Request body too large' });

    // Chunked, no Content-Length: the limit applies while reading.
    const streamed = await new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
      const req = request(`${base}/channel/QGIS/text`, { method: 'PUT', headers: { 'Content-Type': JSON_TYPE } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
      });
      req.on('error', reject);
      req.write(JSON.stringify(big).slice(0, 80));
      req.end(JSON.stringify(big).slice(80));
    });
    expect(streamed).toEqual({ status: 413, type: JSON_TYPE, body: '{"detail":"Request body too large"}' });
  });

  it('relay refusal with code uncompliant → 422 value_error', async () => {
    const { put, world } = await start();
    world.publishError = new QChatError('uncompliant', "User 'jane_doe' already registered in channel QGIS");
    expect(await expectJson(await put('/channel/QGIS/text', valid), 422)).toEqual({
      detail: [{ type: 'value_error', loc: ['body'], msg: "User 'jane_doe' already registered in channel QGIS", input: null }],
    });
  });

  it('relay refusal with code channel_not_found → 404', async () => {
    const { put, world } = await start();
    world.publishError = new QChatError('channel_not_found', "Channel 'QGIS' not registered");
    expect(await expectJson(await put('/channel/QGIS/text', valid), 404)).toEqual({ detail: "Channel 'QGIS' not registered" });
  });

  it('other relay failures → 503, logged', async () => {
    const { put, world } = await start();
    world.publishError = new QChatError('no_responders', 'no relay');
    expect(await expectJson(await put('/channel/QGIS/text', valid), 503)).toEqual({ detail: 'Service temporarily unavailable' });
    expect(world.errorsLogged('text publish failed')).toBe(1);
  });
});

describe('routing', () => {
  it('unknown path → 404 JSON', async () => {
    const { call } = await start();
    expect(await expectJson(await call('/fromage'), 404)).toEqual({ detail: 'Not Found' });
    expect(await expectJson(await call('/Channels'), 404)).toEqual({ detail: 'Not Found' });
    expect(await expectJson(await call('/room/QGIS/users'), 404)).toEqual({ detail: 'Not Found' });
    expect(await expectJson(await call('/channel//users'), 404)).toEqual({ detail: 'Not Found' });
  });

  it('known path, wrong method → 405 with Allow', async () => {
    const { call } = await start();
    const post = await call('/channels', { method: 'POST' });
    expect(await expectJson(post, 405)).toEqual({ detail: 'Method Not Allowed' });
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const get = await call('/channel/QGIS/text');
    expect(await expectJson(get, 405)).toEqual({ detail: 'Method Not Allowed' });
    expect(get.headers.get('allow')).toBe('PUT');
    expect((await call('/channel/QGIS/users', { method: 'DELETE' })).status).toBe(405);
  });

  it('trailing slash on a known path → 307 without it, query kept', async () => {
    const { call } = await start();
    const res = await call('/channels/?lang=fr');
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe('/channels?lang=fr');
    const users = await call('/channel/Field%20and%20mobile/users/');
    expect(users.status).toBe(307);
    expect(users.headers.get('location')).toBe('/channel/Field%20and%20mobile/users');
    expect(await expectJson(await call('/fromage/'), 404)).toEqual({ detail: 'Not Found' });
    expect(await expectJson(await call('//example.org/'), 404)).toEqual({ detail: 'Not Found' });
  });

  it('malformed percent-encoding → 404 JSON, nothing logged as an error', async () => {
    const { call, world } = await start();
    expect(await expectJson(await call('/channel/%E0%A4%A/users'), 404)).toEqual({ detail: 'Not Found' });
    expect(await expectJson(await call('/channel/%zz/last'), 404)).toEqual({ detail: 'Not Found' });
    expect(world.errorsLogged('request failed')).toBe(0);
  });

  it('HEAD works on GET endpoints with the same headers', async () => {
    const { call } = await start();
    const res = await call('/rules', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect(await res.text()).toBe('');
  });

  it('no ETag, X-Powered-By, cache or CORS headers', async () => {
    const { call } = await start();
    for (const path of ['/channels', '/rules', '/status']) {
      const res = await call(path, { headers: { Origin: 'https://example.org' } });
      expect(res.headers.get('etag')).toBeNull();
      expect(res.headers.get('x-powered-by')).toBeNull();
      expect(res.headers.get('cache-control')).toBeNull();
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
  });
});

describe('pages and docs', () => {
  it('GET / serves the web page as text/html; charset=utf-8 (404 while it does not exist)', async () => {
    const { call } = await start();
    const res = await call('/');
    if (existsSync(INDEX_HTML)) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect((await res.text()).toLowerCase()).toContain('<html');
    } else {
      expect(await expectJson(res, 404)).toEqual({ detail: 'Not Found' });
    }
  });

  it('GET /qfield redirects to the plugin release', async () => {
    const { call } = await start();
    const res = await call('/qfield');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://github.com/geotribu/qchat-qfield/releases/latest/download/qfchat.zip');
  });

  it('GET /docs loads Swagger UI from our own assets', async () => {
    const { call } = await start();
    const res = await call('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(html).toContain('/docs/assets/swagger-ui.css');
    expect(html).toContain("'/openapi.json'");
    expect(html).not.toMatch(/https?:\/\//);

    const js = await call('/docs/assets/swagger-ui-bundle.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await js.text()).length).toBeGreaterThan(100_000);
    const css = await call('/docs/assets/swagger-ui.css');
    expect(css.status).toBe(200);
    await css.arrayBuffer();
    expect(await expectJson(await call('/docs/assets/package.json'), 404)).toEqual({ detail: 'Not Found' });
    expect(await expectJson(await call('/docs/assets/..%2Fpackage.json'), 404)).toEqual({ detail: 'Not Found' });
  });

  it('GET /openapi.json is an OpenAPI 3.1 document with FastAPI operation ids', async () => {
    const { call } = await start();
    const doc = (await expectJson(await call('/openapi.json'), 200)) as {
      openapi: string;
      info: { version: string; description: string };
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe('3.4.1');
    expect(doc.info.description).toContain('/channel/{channel}/ws');
    const ids = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    expect(ids).toEqual(
      expect.arrayContaining([
        'get_channels_channels_get',
        'get_rules_rules_get',
        'get_status_status_get',
        'get_connected_users_channel__channel__users_get',
        'get_last_messages_channel__channel__last_get',
        'put_text_message_channel__channel__text_put',
        'get_version_version_get',
      ]),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('GET /redoc is not served (Swagger UI at /docs is the documentation page)', async () => {
    const { call } = await start();
    expect(await expectJson(await call('/redoc'), 404)).toEqual({ detail: 'Not Found' });
  });
});

describe('operations', () => {
  it('GET /healthz', async () => {
    const { call } = await start();
    expect(await expectJson(await call('/healthz'), 200)).toEqual({ status: 'ok' });
  });

  it('GET /readyz follows readiness()', async () => {
    const { call, world } = await start();
    expect(await expectJson(await call('/readyz'), 200)).toEqual({ status: 'ready' });
    world.ready = { ready: false, reasons: ['nats disconnected', 'closing'] };
    expect(await expectJson(await call('/readyz'), 503)).toEqual({ status: 'not ready', reasons: ['nats disconnected', 'closing'] });
  });

  it('does not serve /metrics on the public port (it is on METRICS_PORT)', async () => {
    const { call } = await start();
    expect(await expectJson(await call('/metrics'), 404)).toEqual({ detail: 'Not Found' });
  });
});

describe('locateJsonError matches Python json.loads', () => {
  it.each([
    ['', 0, 'Expecting value'],
    ['{"a":', 5, 'Expecting value'],
    ['{"a" 1}', 5, "Expecting ':' delimiter"],
    ['[1,]', 3, 'Expecting value'],
    ['{"a":1}x', 7, 'Extra data'],
    ['"abc', 0, 'Unterminated string starting at'],
    ['"\\q"', 1, 'Invalid \\escape'],
    ['"\\u12G4"', 2, 'Invalid \\uXXXX escape'],
    ['[1 2]', 3, "Expecting ',' delimiter"],
    ['{1:2}', 1, 'Expecting property name enclosed in double quotes'],
    ['{"a" : [1, {"b": }]}', 17, 'Expecting value'],
    ['01', 1, 'Extra data'],
  ])('%j', (text, pos, msg) => {
    expect(locateJsonError(text)).toEqual({ pos, msg });
  });

  it('survives deep nesting', () => {
    expect(locateJsonError('['.repeat(200_000))).toEqual({ pos: 200_000, msg: 'Expecting value' });
  });
});
