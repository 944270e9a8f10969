/**
 * Regenerates docs/web-client.png, the README's picture of the web page: an all-in-one server on a free port, a
 * raw client sharing a little of everything, and the page in Debian's Chromium (tests/browser/support).
 *
 *   npm run screenshot
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildWeb } from './build-web.mjs';
import { freePort, repoRoot, startService } from '../tests/support/processes';
import { connectClient } from '../tests/support/ws-client';
import { launchChromium, openPage } from '../tests/browser/support/browser';
import { join as joinChannel, rows, say } from '../tests/browser/support/page-actions';

const OUT = join(repoRoot, 'docs', 'web-client.png');

await buildWeb({ ifStale: true, quiet: true });
const port = await freePort();
const server = await startService('all-in-one', { PORT: String(port), HOST: '127.0.0.1', CHANNELS: 'QGIS,Geotribu,QField', MAX_STORED_MESSAGES: '20' });
const browser = await launchChromium();
try {
  const raw = await connectClient(`ws://127.0.0.1:${port}/channel/QGIS/ws`);
  const send = (frame: object) => raw.send(frame);
  send({ type: 'newcomer', newcomer: 'Isidore' });
  const wgs84 = { crs_authid: 'EPSG:4326', crs_wkt: 'GEOGCRS["WGS 84",ID["EPSG",4326]]' };
  send({ type: 'text', author: 'Isidore', avatar: 'mIconPostgis.svg', text: 'Morning all! Field survey of the Lyon parks starts at 10.' });
  send({ type: 'bbox', author: 'Isidore', avatar: 'mIconPostgis.svg', ...wgs84, xmin: 4.79, ymin: 45.70, xmax: 4.90, ymax: 45.80 });
  send({
    type: 'geojson', author: 'Isidore', avatar: 'mIconPostgis.svg', layer_name: 'parks', style: null, ...wgs84,
    geojson: { type: 'FeatureCollection', features: [
      { type: 'Feature', properties: { name: 'Parc de la Tête d’Or', area_ha: 117 }, geometry: { type: 'Polygon', coordinates: [[[4.842, 45.771], [4.858, 45.781], [4.864, 45.776], [4.853, 45.766], [4.842, 45.771]]] } },
      { type: 'Feature', properties: { name: 'Parc de Gerland', area_ha: 80 }, geometry: { type: 'Polygon', coordinates: [[[4.826, 45.720], [4.838, 45.727], [4.842, 45.722], [4.830, 45.716], [4.826, 45.720]]] } },
    ] },
  });
  send({ type: 'position', author: 'Isidore', avatar: 'mIconPostgis.svg', ...wgs84, x: 4.8357, y: 45.7640 });
  send({ type: 'text', author: 'Isidore', avatar: 'mIconPostgis.svg', text: '@Barnabe the meeting point is the pin above, near Bellecour.' });

  const p = await openPage(browser, `http://127.0.0.1:${port}/`, { width: 1280, height: 760 });
  await joinChannel(p.page, 'QGIS', 'Barnabe', 'mGeoPackage.svg');
  await say(p.page, 'On my way, sharing the parks layer view in QGIS too.');
  await rows(p.page, 'On my way').waitFor();
  await rows(p.page, 'shared a map extent').getByRole('button', { name: 'Show on map' }).click();
  await p.page.waitForFunction(() => !(globalThis as any).qchatMap.map.getView().getAnimating());
  await p.page.evaluate(() => (globalThis as any).qchatMap.rendered());
  mkdirSync(join(repoRoot, 'docs'), { recursive: true });
  await p.page.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);
  await raw.close();
} finally {
  await browser.close();
  await server.stop('SIGTERM');
}
