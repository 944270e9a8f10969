/** The web page's HTTP side: its CSP, the base-map configuration handed to it, and the asset route. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_LIMITS } from '@qchat/protocol';
import { createLogger } from '@qchat/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEdgeConfig } from '../src/config';
import { createHttpApp, type HttpDeps } from '../src/http';
import { pageCsp, tileSource, tileUrlField } from '../src/http/page-policy';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function start(config: Partial<HttpDeps['config']> = {}): Promise<string> {
  const deps: HttpDeps = {
    config: { CHANNELS: ['QGIS'], RULES: 'YOLO', MAIN_LANG: 'en', limits: DEFAULT_LIMITS, QFIELD_PLUGIN_URL: 'https://example.org', MAX_HTTP_BODY_BYTES: 4096, ...config },
    log: createLogger({ service: 'edge-test', level: 'silent' }),
    presence: { users: async () => [], counts: async (c) => c.map(() => 0), holder: async () => ({ conn: null, banned: false }) },
    relay: { history: async () => [], publishText: async () => '{}' },
    readiness: () => ({ ready: true, reasons: [] }),
    version: '3.4.1',
  };
  const server = createServer(createHttpApp(deps));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const directive = (csp: string, name: string) => csp.split('; ').find((d) => d.startsWith(`${name} `)) ?? '';

describe('the page policy', () => {
  it('derives the CSP source of a tile template, subdomain placeholder included', () => {
    expect(tileSource('https://tile.openstreetmap.org/{z}/{x}/{y}.png')).toBe('https://tile.openstreetmap.org');
    expect(tileSource('https://{a-c}.tile.example.org/{z}/{x}/{y}.png')).toBe('https://*.tile.example.org');
    expect(tileSource('http://tiles.local:8080/{z}/{x}/{-y}.png')).toBe('http://tiles.local:8080');
    expect(tileSource('ftp://tiles.example.org/{z}/{x}/{y}.png')).toBeNull();
    expect(tileSource("https://evil.org; script-src 'unsafe-inline'/{z}/{x}/{y}")).toBeNull();
    expect(tileSource('https://a.{s}.example.org/{z}/{x}/{y}.png')).toBeNull();
  });

  it('refuses a MAP_TILE_URL that is not an XYZ template, naming the variable', () => {
    expect(tileUrlField()(undefined, 'MAP_TILE_URL')).toBe('');
    expect(tileUrlField()(' https://t.example.org/{z}/{x}/{y}.png ', 'MAP_TILE_URL')).toBe('https://t.example.org/{z}/{x}/{y}.png');
    expect(() => loadEdgeConfig({ MAP_TILE_URL: 'https://t.example.org/tiles.png' })).toThrow(/MAP_TILE_URL: the template needs \{z\}/);
    expect(() => loadEdgeConfig({ MAP_TILE_URL: 'javascript:alert(1)' })).toThrow(/MAP_TILE_URL: expected an http\(s\) URL template/);
  });

  it('allows only the own origin, and the tile host when there is one', () => {
    const none = pageCsp({ tileUrl: '', host: 'chat.example.org' });
    expect(directive(none, 'default-src')).toBe("default-src 'none'");
    expect(directive(none, 'script-src')).toBe("script-src 'self'");
    expect(directive(none, 'style-src')).toBe("style-src 'self'");
    expect(directive(none, 'img-src')).toBe("img-src 'self' data: blob:");
    expect(directive(none, 'connect-src')).toBe("connect-src 'self' ws://chat.example.org wss://chat.example.org");
    const tiles = pageCsp({ tileUrl: 'https://{a-c}.tile.example.org/{z}/{x}/{y}.png', host: 'chat.example.org' });
    expect(directive(tiles, 'img-src')).toBe("img-src 'self' data: blob: https://*.tile.example.org");
    expect(directive(tiles, 'script-src')).toBe("script-src 'self'");
    // A forged Host header is left out rather than copied into the policy.
    expect(directive(pageCsp({ tileUrl: '', host: "x; script-src 'unsafe-inline'" }), 'connect-src')).toBe("connect-src 'self'");
  });
});

describe('GET / and /assets', () => {
  it('sends the CSP and hands the base map to the page as an escaped attribute', async () => {
    const base = await start({ MAP_TILE_URL: 'https://tile.example.org/{z}/{x}/{y}.png', MAP_TILE_ATTRIBUTION: '"><script>alert(1)</script> © Example' });
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(directive(res.headers.get('content-security-policy') ?? '', 'img-src')).toBe("img-src 'self' data: blob: https://tile.example.org");
    const html = await res.text();
    expect(html).not.toContain('{{QCHAT_CONFIG}}');
    expect(html).not.toContain('<script>alert(1)</script>');
    const meta = /<meta name="qchat-config" content="([^"]*)">/.exec(html)?.[1] ?? '';
    const decoded = meta.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    expect(JSON.parse(decoded)).toEqual({ tileUrl: 'https://tile.example.org/{z}/{x}/{y}.png', tileAttribution: '"><script>alert(1)</script> © Example' });
  });

  it('without a tile URL the page gets none and the CSP names no other host', async () => {
    const res = await fetch(`${await start()}/`);
    expect(res.headers.get('content-security-policy')).not.toMatch(/https?:/);
    expect(await res.text()).toContain('content="{&quot;tileUrl&quot;:&quot;&quot;,&quot;tileAttribution&quot;:&quot;&quot;}"');
  });

  it('serves only plain asset names from the bundle directory', async () => {
    const base = await start();
    for (const path of ['/assets/..%2Fedge.mjs', '/assets/.sources-hash', '/assets/nothing.js', '/assets/app.exe']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ detail: 'Not Found' });
    }
  });
});
