/**
 * The web client in a real browser (Debian's Chromium, headless): two pages and a raw WebSocket client in one
 * channel, history after a reconnect and a channel switch, a refused nickname, shared geometry on the map, an
 * image from a file, a phone-sized viewport, and no request leaving the server's origin.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import proj4 from 'proj4';
import sharp from 'sharp';
import type { Browser } from 'playwright-core';
import { connectClient, type TestClient } from '../support/ws-client';
import { launchChromium, openPage, type TestPage } from './support/browser';
import { join, mapItems, rows, say, state, submitJoin, waitForPhase } from './support/page-actions';
import { startWebServer, type WebServer } from './support/server';

let server: WebServer;
let browser: Browser;
const pages: TestPage[] = [];
const clients: TestClient[] = [];

const is = (type: string, extra: (f: any) => boolean = () => true) => (f: any) => f?.type === type && extra(f);

async function page(viewport?: { width: number; height: number }): Promise<TestPage> {
  const p = await openPage(browser, `${server.origin}/`, viewport);
  pages.push(p);
  return p;
}

async function rawClient(channel: string, nick?: string): Promise<TestClient> {
  const c = await connectClient(server.ws(channel));
  clients.push(c);
  await c.next(is('nb_users'));
  if (nick) {
    c.send({ type: 'newcomer', newcomer: nick });
    await c.next(is('newcomer', (f) => f.newcomer === nick));
  }
  return c;
}

beforeAll(async () => {
  server = await startWebServer({ redisUrl: inject('redisUrl'), natsUrl: inject('natsUrl') });
  browser = await launchChromium();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await browser?.close();
  await server?.stop();
});

describe('the web client', () => {
  it('serves the page with a CSP that allows only its own origin, and every asset itself', async () => {
    const res = await fetch(`${server.origin}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:\/\//);
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    for (const asset of ['/assets/app.js', '/assets/app.css']) {
      const res = await fetch(`${server.origin}${asset}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(res.status, asset).toBe(200);
      expect(res.headers.get('content-encoding'), asset).toBe('gzip');
      expect(res.headers.get('content-type'), asset).toMatch(asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect((await res.text()).length, asset).toBeGreaterThan(asset.endsWith('.js') ? 200_000 : 5_000); // decoded by fetch
      const plain = await fetch(`${server.origin}${asset}`, { headers: { 'accept-encoding': 'identity' } });
      expect(plain.headers.get('content-encoding'), asset).toBeNull();
      await plain.arrayBuffer();
    }
    expect((await fetch(`${server.origin}/assets/..%2Fweb%2Fapp.js`)).status).toBe(404);
  });

  it('two pages and a raw WebSocket client chat in one channel', async () => {
    const alice = await page();
    const bob = await page();
    const carol = await rawClient('QGIS', 'carol_raw');
    await join(alice.page, 'QGIS', 'alice_web', 'mIconPostgis.svg');
    await join(bob.page, 'QGIS', 'bob_web');

    // What the page sends is what the plugins send: the raw client gets a protocol-exact text frame.
    await say(alice.page, 'hello from alice');
    const frame = await carol.next(is('text', (f) => f.text === 'hello from alice'));
    expect(frame).toEqual({ type: 'text', id: expect.any(String), timestamp: expect.any(Number), author: 'alice_web', avatar: 'mIconPostgis.svg', text: 'hello from alice' });
    await rows(bob.page, 'hello from alice').waitFor();

    // The raw client's message reaches both pages; the mention of alice is highlighted on alice's page only.
    carol.send({ type: 'text', author: 'carol_raw', avatar: null, text: 'welcome @alice_web <b>not bold</b>' });
    await rows(alice.page, 'welcome').waitFor();
    await rows(bob.page, 'welcome').waitFor();
    expect(await rows(alice.page, 'welcome').getAttribute('class')).toContain('mention');
    expect(await rows(bob.page, 'welcome').getAttribute('class')).not.toContain('mention');
    // User text is text, never HTML.
    expect(await rows(bob.page, 'welcome').locator('b').count()).toBe(0);
    expect(await rows(bob.page, 'welcome').locator('.text').textContent()).toBe('welcome @alice_web <b>not bold</b>');

    // Live count and online list, from /channel/{c}/users plus newcomer/exiter.
    await alice.page.waitForFunction(() => {
      const s = (globalThis as any).qchat.state();
      return s.nbUsers === 3 && ['alice_web', 'bob_web', 'carol_raw'].every((n: string) => s.people.includes(n));
    });
    await expect.poll(() => alice.page.textContent('#here-count')).toBe('3 online');
    await carol.close();
    await alice.page.waitForFunction(() => !(globalThis as any).qchat.state().people.includes('carol_raw'));
    await expect.poll(() => alice.page.textContent('#here-count')).toBe('2 online');
    await expect.poll(() => alice.page.locator('#messages li.note', { hasText: 'carol_raw left' }).count()).toBe(1);

    // A reply carries in_reply_to_id and shows its context; a like reaches the author only.
    const id = await rows(bob.page, 'hello from alice').getAttribute('data-id');
    await rows(bob.page, 'hello from alice').getByRole('button', { name: 'Reply' }).click();
    await say(bob.page, 'answer from bob');
    const reply = rows(alice.page, 'answer from bob');
    await reply.waitFor();
    expect(await reply.locator('.reply-to').textContent()).toContain('alice_web: hello from alice');
    const dave = await rawClient('QGIS');
    await rows(bob.page, 'hello from alice').getByRole('button', { name: /Like/ }).click();
    await alice.page.locator('#messages li.note', { hasText: 'bob_web liked your message' }).waitFor();
    await dave.expectNone(is('like'), 300);
    const history = (await (await fetch(`${server.origin}/channel/QGIS/last`)).json()) as any[];
    expect(history.find((f) => f.text === 'answer from bob')?.in_reply_to_id).toBe(id);

    await alice.context.close();
    await bob.context.close();
  });

  it('a refused nickname cannot post: the page goes back to choosing one', async () => {
    const owner = await rawClient('QGIS', 'taken_nick');
    const p = await page();
    // Checked against /rules before any connection is made.
    await submitJoin(p.page, 'QGIS', 'ab');
    await p.page.locator('#join-error', { hasText: 'at least 3' }).waitFor();
    await submitJoin(p.page, 'QGIS', 'bad name!');
    await p.page.locator('#join-error', { hasText: 'only letters' }).waitFor();
    expect(p.requests.filter((u) => u.startsWith('ws'))).toEqual([]);

    await submitJoin(p.page, 'QGIS', 'taken_nick');
    await p.page.locator('#join-error', { hasText: 'already used' }).waitFor();
    expect((await state(p.page)).phase).toBe('join');
    expect(await p.page.locator('#join').isVisible()).toBe(true);
    expect(await p.page.locator('#app').isVisible()).toBe(false);
    expect(await p.page.locator('#text').isEnabled()).toBe(false);
    await owner.expectNone((f) => f?.author === 'taken_nick' || f?.liker_author === 'taken_nick', 500);

    // Another name works, and messages go out under it.
    await join(p.page, 'QGIS', 'free_nick');
    await say(p.page, 'posted as free_nick');
    expect((await owner.next(is('text', (f) => f.text === 'posted as free_nick'))).author).toBe('free_nick');
    await p.context.close();
  });

  it('draws a GeoJSON layer in EPSG:2154 and a bbox in EPSG:3857 at the right place', async () => {
    const p = await page();
    await join(p.page, 'Geotribu', 'mapper_web');
    const raw = await rawClient('Geotribu', 'gis_raw');
    const l93 = '+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs';
    // A 20 km square around Paris (2.3522 E, 48.8566 N) in Lambert-93, and a point on it.
    const [px, py] = proj4('EPSG:4326', l93, [2.3522, 48.8566]) as [number, number];
    expect(px).toBeCloseTo(652_469, -1); // the projection is the real Lambert-93
    const square = [[[px - 10_000, py - 10_000], [px + 10_000, py - 10_000], [px + 10_000, py + 10_000], [px - 10_000, py + 10_000], [px - 10_000, py - 10_000]]];
    raw.send({
      type: 'geojson', author: 'gis_raw', avatar: null, layer_name: 'paris', crs_authid: 'EPSG:2154', crs_wkt: 'PROJCRS["RGF93 v1 / Lambert-93"]', style: null,
      geojson: { type: 'FeatureCollection', features: [
        { type: 'Feature', properties: { name: 'Paris square', population: 2_100_000 }, geometry: { type: 'Polygon', coordinates: square } },
      ] },
    });
    // Lyon, 4.80–4.90 E, 45.70–45.80 N, in Web Mercator.
    const merc = (lon: number, lat: number) => [(lon * 20_037_508.34) / 180, (Math.log(Math.tan(((90 + lat) * Math.PI) / 360)) * 20_037_508.34) / Math.PI] as const;
    const [xmin, ymin] = merc(4.8, 45.7);
    const [xmax, ymax] = merc(4.9, 45.8);
    raw.send({ type: 'bbox', author: 'gis_raw', avatar: null, crs_authid: 'EPSG:3857', crs_wkt: 'PROJCRS["WGS 84 / Pseudo-Mercator"]', xmin, ymin, xmax, ymax });

    await expect.poll(async () => (await mapItems(p.page)).length, { timeout: 10_000 }).toBe(2);
    const items = await mapItems(p.page);
    const layer = items.find((i) => i.type === 'geojson')!;
    const bbox = items.find((i) => i.type === 'bbox')!;
    const centre = (e: number[]) => [(e[0]! + e[2]!) / 2, (e[1]! + e[3]!) / 2];
    expect(centre(layer.extent4326)[0]).toBeCloseTo(2.3522, 1);
    expect(centre(layer.extent4326)[1]).toBeCloseTo(48.8566, 1);
    expect(layer.extent4326[2] - layer.extent4326[0]).toBeGreaterThan(0.2); // ~0.27° of longitude for 20 km
    expect(layer.extent4326[2] - layer.extent4326[0]).toBeLessThan(0.35);
    for (const [got, want] of bbox.extent4326.map((v, i) => [v, [4.8, 45.7, 4.9, 45.8][i]!])) expect(got).toBeCloseTo(want!, 4);

    // "Show on map" zooms to the layer; the map shows it there (its fill, not the land around it) and is not blank.
    await rows(p.page, 'paris').getByRole('button', { name: 'Show on map' }).click();
    await p.page.waitForFunction(() => {
      const view = (globalThis as any).qchatMap.map.getView();
      return view.getZoom() > 8 && !view.getAnimating();
    });
    await p.page.evaluate(() => (globalThis as any).qchatMap.rendered());
    const inside = await p.page.evaluate(([lon, lat]) => (globalThis as any).qchatMap.pixelOf(lon, lat), [2.3522, 48.8566]);
    const outside = await p.page.evaluate(([lon, lat]) => (globalThis as any).qchatMap.pixelOf(lon, lat), [2.3522 + 0.15, 48.8566]); // ~1 km east of the square, inside the fit padding
    const shot = await p.page.locator('#map').screenshot();
    const { data, info } = await sharp(shot).raw().toBuffer({ resolveWithObject: true });
    const stats = await sharp(shot).stats();
    expect(Math.max(...stats.channels.slice(0, 3).map((c) => c.stdev)), 'map area is not blank').toBeGreaterThan(5);
    const scale = info.width / (await p.page.locator('#map').boundingBox())!.width;
    const at = ([x, y]: [number, number]) => {
      expect(x * scale, 'pixel inside the screenshot').toBeLessThan(info.width);
      expect(y * scale, 'pixel inside the screenshot').toBeLessThan(info.height);
      const i = (Math.round(y * scale) * info.width + Math.round(x * scale)) * info.channels;
      return [data[i]!, data[i + 1]!, data[i + 2]!];
    };
    const a = at(inside), b = at(outside);
    expect(Math.abs(a[0]! - b[0]!) + Math.abs(a[1]! - b[1]!) + Math.abs(a[2]! - b[2]!), `layer fill ${a} vs around it ${b}`).toBeGreaterThan(40);

    // A click on the feature shows its properties, as text.
    await p.page.locator('#map').click({ position: { x: inside[0], y: inside[1] } });
    await p.page.locator('#popup', { hasText: 'Paris square' }).waitFor();
    expect(await p.page.locator('#popup').textContent()).toContain('2100000');
    await p.context.close();
  });

  it('shares a GeoJSON file, the map view and the position from the page; offers scripts as downloads', async () => {
    const p = await page();
    await p.context.grantPermissions(['geolocation'], { origin: server.origin });
    await p.context.setGeolocation({ longitude: 5.7245, latitude: 45.1885 });
    await join(p.page, 'Geotribu', 'sharer_web');
    const raw = await rawClient('Geotribu', 'watcher_raw');

    // A GeoJSON file in Lambert-93 (the crs member QGIS writes) goes out in EPSG:4326, as RFC 7946 wants.
    const file = {
      type: 'FeatureCollection',
      crs: { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::2154' } },
      features: [{ type: 'Feature', properties: { name: 'Paris' }, geometry: { type: 'Point', coordinates: [652_469.02, 6_862_035.26] } }],
    };
    await p.page.setInputFiles('#geojson-file', { name: 'towns.geojson', mimeType: 'application/geo+json', buffer: Buffer.from(JSON.stringify(file)) });
    const mine = (f: any) => f.author === 'sharer_web'; // the channel's history holds other tests' messages
    const layer = await raw.next(is('geojson', mine));
    expect(layer).toMatchObject({ author: 'sharer_web', layer_name: 'towns', crs_authid: 'EPSG:4326', style: null });
    const [lon, lat] = layer.geojson.features[0].geometry.coordinates;
    expect(lon).toBeCloseTo(2.3522, 4);
    expect(lat).toBeCloseTo(48.8566, 4);
    expect(layer.geojson.features[0].properties).toEqual({ name: 'Paris' });

    await p.page.click('#share-view');
    const view = await raw.next(is('bbox', mine));
    expect(view).toMatchObject({ author: 'sharer_web', crs_authid: 'EPSG:4326' });
    expect(view.xmin).toBeLessThan(view.xmax);
    expect(view.ymin).toBeLessThan(view.ymax);

    await p.page.click('#share-position');
    const position = await raw.next(is('position', mine));
    expect(position).toMatchObject({ author: 'sharer_web', crs_authid: 'EPSG:4326', x: 5.7245, y: 45.1885 });
    await expect.poll(async () => (await mapItems(p.page)).filter(mine).map((i) => i.type).sort()).toEqual(['bbox', 'geojson', 'position']);

    // A script is offered as a file to download, never run.
    const code = 'import os\nos.system("echo hi")\n';
    raw.send({ type: 'script', author: 'watcher_raw', avatar: null, name: 'cleanup tool', raw_pycode: code });
    const row = rows(p.page, 'cleanup tool');
    await row.waitFor();
    const [download] = await Promise.all([p.page.waitForEvent('download'), row.getByRole('button', { name: 'Download .py' }).click()]);
    expect(download.suggestedFilename()).toBe('cleanup tool.py');
    const saved = await download.path();
    expect(readFileSync(saved, 'utf8')).toBe(code);
    await p.context.close();
  });

  it('an image sent from a file arrives resized on the other page', async () => {
    const sender = await page();
    const receiver = await page();
    await join(sender.page, 'QGIS', 'img_sender');
    await join(receiver.page, 'QGIS', 'img_receiver');
    const png = await sharp({ create: { width: 1200, height: 600, channels: 3, background: { r: 200, g: 60, b: 30 } } }).png().toBuffer();
    await sender.page.setInputFiles('#image-file', { name: 'wide.png', mimeType: 'image/png', buffer: png });
    const img = receiver.page.locator('#messages li.msg.image img').last();
    await img.waitFor();
    await receiver.page.waitForFunction(() => {
      const all = (globalThis as any).document.querySelectorAll('#messages li.msg.image img');
      const last = all[all.length - 1];
      return last && last.complete && last.naturalWidth > 0;
    });
    const size = await img.evaluate((i: any) => [i.naturalWidth, i.naturalHeight]);
    expect(size).toEqual([800, 400]);
    // Click to enlarge.
    await receiver.page.locator('#messages li.msg.image .thumb').last().click();
    expect(await receiver.page.locator('#lightbox').isVisible()).toBe(true);
    await sender.context.close();
    await receiver.context.close();
  });

  it('a 360×740 viewport shows the conversation and the input without horizontal scrolling', async () => {
    const p = await page({ width: 360, height: 740 });
    const noHorizontalScroll = () => p.page.evaluate(() => {
      const d = (globalThis as any).document.documentElement;
      return d.scrollWidth <= d.clientWidth;
    });
    expect(await noHorizontalScroll()).toBe(true);
    await join(p.page, 'QGIS', 'phone_user');
    await say(p.page, 'a rather long message from a phone, long enough to wrap over several lines on a narrow screen: https://example.org/a/very/long/path/that/does/not/break');
    await rows(p.page, 'from a phone').waitFor();
    expect(await noHorizontalScroll()).toBe(true);
    for (const selector of ['#messages', '#text', '#send']) {
      const box = (await p.page.locator(selector).boundingBox())!;
      expect(box, selector).not.toBeNull();
      expect(box.x, selector).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, selector).toBeLessThanOrEqual(360);
      expect(box.y + box.height, selector).toBeLessThanOrEqual(740);
    }
    expect(await rows(p.page, 'from a phone').isVisible()).toBe(true);
    // The map is one tap away.
    await p.page.click('#tab-map');
    expect(await p.page.locator('#map').isVisible()).toBe(true);
    expect(await p.page.locator('#messages').isVisible()).toBe(false);
    expect(await noHorizontalScroll()).toBe(true);
    await p.context.close();
  });

  it('shows history once after a reconnect, and clears it on a channel switch', async () => {
    const raw = await rawClient('QGIS', 'history_raw');
    for (const n of [1, 2, 3]) raw.send({ type: 'text', author: 'history_raw', avatar: null, text: `stored message ${n}` });
    await raw.next(is('text', (f) => f.text === 'stored message 3'));
    const p = await page();
    await join(p.page, 'QGIS', 'reconnecting_web');
    await rows(p.page, 'stored message 3').waitFor();

    // Watched while the edge restarts, not after: once it is back the page may already have reconnected.
    const restarted = server.restart();
    // People see words, not close codes, while the page reconnects by itself.
    await p.page.locator('#status-line', { hasText: 'Reconnecting in' }).waitFor();
    expect(await p.page.textContent('#status-line')).not.toMatch(/\b1\d{3}\b|code/i);
    await restarted;
    await waitForPhase(p.page, 'ready', 30_000);
    await say(p.page, 'after the restart');
    await rows(p.page, 'after the restart').waitFor();
    for (const n of [1, 2, 3]) expect(await rows(p.page, `stored message ${n}`).count(), `stored message ${n}`).toBe(1);
    const ids = await p.page.locator('#messages li.msg').evaluateAll((els) => els.map((e: any) => e.dataset.id));
    expect(new Set(ids).size).toBe(ids.length);

    // Switching channel clears the conversation and the map.
    await p.page.click('#leave');
    await join(p.page, 'Geotribu', 'reconnecting_web');
    await expect.poll(() => rows(p.page, 'stored message').count()).toBe(0);
    expect(await rows(p.page, 'after the restart').count()).toBe(0);
    expect((await state(p.page)).channel).toBe('Geotribu');
    expect(await p.page.textContent('#here-channel')).toBe('Geotribu');
    await p.context.close();
  });

  it('no request left the server origin, and no page broke its CSP or logged an error', () => {
    const origin = server.origin;
    const wsOrigin = origin.replace(/^http/, 'ws');
    expect(pages.length).toBeGreaterThan(4);
    for (const p of pages) {
      for (const url of p.requests) {
        const ok = url.startsWith(`${origin}/`) || url.startsWith(`${wsOrigin}/`) || url.startsWith('data:') || url.startsWith('blob:');
        expect(ok, `request to ${url}`).toBe(true);
      }
      // The restart test closes sockets on purpose; Chromium reports those as console errors.
      const problems = p.problems.filter((m) => !/WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/.test(m));
      expect(problems).toEqual([]);
    }
  });
});
