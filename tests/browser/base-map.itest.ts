/** The configured base map: tiles from MAP_TILE_URL's host, allowed by the page's CSP, with their attribution. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openPage } from './support/browser';
import { startWebServer, type WebServer } from './support/server';

let tiles: Server;
let server: WebServer;
let browser: Browser;
const tileRequests: string[] = [];

beforeAll(async () => {
  const png = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 30, g: 140, b: 200 } } }).png().toBuffer();
  tiles = createServer((req, res) => {
    tileRequests.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': png.length });
    res.end(png);
  });
  await new Promise<void>((r) => tiles.listen(0, '127.0.0.1', r));
  const port = (tiles.address() as AddressInfo).port;
  server = await startWebServer({
    redisUrl: inject('redisUrl'),
    natsUrl: inject('natsUrl'),
    env: { MAP_TILE_URL: `http://127.0.0.1:${port}/{z}/{x}/{y}.png`, MAP_TILE_ATTRIBUTION: 'Tiles © Test Tiles' },
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => tiles?.close(r));
});

it('draws tiles from MAP_TILE_URL, allowed by the CSP, with the attribution', async () => {
  const p = await openPage(browser, `${server.origin}/`);
  await p.page.locator('#join').waitFor();
  await p.page.locator('#nickname').fill('tile_viewer');
  await p.page.click('#join-button');
  await p.page.waitForFunction(() => (globalThis as any).qchat.state().phase === 'ready');
  await expect.poll(() => tileRequests.filter((u) => /^\/\d+\/\d+\/\d+\.png$/.test(u)).length, { timeout: 10_000 }).toBeGreaterThan(0);
  await p.page.evaluate(() => (globalThis as any).qchatMap.rendered());
  // The tiles' colour is on the map (not only requested: the CSP let them load).
  const shot = await sharp(await p.page.locator('#map').screenshot()).raw().toBuffer({ resolveWithObject: true });
  const { data, info } = shot;
  const i = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * info.channels;
  expect([data[i], data[i + 1], data[i + 2]]).toEqual([30, 140, 200]);
  expect(await p.page.locator('.ol-attribution').textContent()).toContain('Tiles © Test Tiles');
  expect(p.problems).toEqual([]);
  await p.context.close();
});
