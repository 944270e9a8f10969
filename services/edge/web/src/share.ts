/** Turning what a person picks (an image file, a GeoJSON file, the map view, their position) into frames. */
import GeoJSON from 'ol/format/GeoJSON';
import { projectionFor } from './projections';
import { WGS84_WKT } from './protocol';

/** The longest base64 image the server takes by default (MAX_IMAGE_RAW_LENGTH); bigger files are shrunk here first. */
const MAX_IMAGE_BASE64 = 4_900_000;

function readAs(file: Blob, how: 'dataUrl' | 'text'): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error('the file could not be read'));
    if (how === 'dataUrl') reader.readAsDataURL(file);
    else reader.readAsText(file);
  });
}

/** Base64 of the image file, without the data: prefix. The server resizes it; only huge files are shrunk here. */
export async function imageData(file: File, maxSide: number): Promise<string> {
  if (!file.type.startsWith('image/')) throw new Error('this file is not an image');
  const dataUrl = await readAs(file, 'dataUrl');
  const base64 = dataUrl.slice(dataUrl.indexOf(',') + 1);
  if (base64.length <= MAX_IMAGE_BASE64) return base64;
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, (maxSide * 2) / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d')?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const shrunk = canvas.toDataURL('image/jpeg', 0.85);
  return shrunk.slice(shrunk.indexOf(',') + 1);
}

export interface GeojsonShare {
  layer_name: string;
  crs_authid: string;
  crs_wkt: string;
  geojson: { type: 'FeatureCollection'; features: unknown[] };
}

/**
 * A GeoJSON file as a geojson message: features in EPSG:4326 (RFC 7946). A file that names another CRS (the
 * old `crs` member QGIS writes) is reprojected here when the page knows that CRS.
 */
export async function geojsonFromFile(file: File, maxFeatures: number): Promise<GeojsonShare> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readAs(file, 'text'));
  } catch {
    throw new Error('this file is not valid JSON');
  }
  const obj = parsed as { type?: unknown; features?: unknown; crs?: { properties?: { name?: unknown } } };
  let collection: { type: 'FeatureCollection'; features: unknown[] };
  if (obj?.type === 'FeatureCollection' && Array.isArray(obj.features)) collection = { type: 'FeatureCollection', features: obj.features };
  else if (obj?.type === 'Feature') collection = { type: 'FeatureCollection', features: [obj] };
  else throw new Error('this file is not a GeoJSON FeatureCollection');
  if (collection.features.length === 0) throw new Error('this layer has no features');
  if (collection.features.length > maxFeatures) throw new Error(`this layer has ${collection.features.length} features; the server takes at most ${maxFeatures}`);

  const named = typeof obj.crs?.properties?.name === 'string' ? obj.crs.properties.name : '';
  const layer_name = file.name.replace(/\.(geo)?json$/i, '').slice(0, 255) || 'layer';
  if (named) {
    const code = projectionFor(named, '');
    if (!code) throw new Error(`the layer's CRS (${named}) is not known to this page`);
    if (code !== 'EPSG:4326') {
      const format = new GeoJSON();
      const features = format.readFeatures(collection, { dataProjection: code, featureProjection: 'EPSG:4326' });
      collection = format.writeFeaturesObject(features) as unknown as typeof collection;
    }
  }
  return { layer_name, crs_authid: 'EPSG:4326', crs_wkt: WGS84_WKT, geojson: collection };
}

/** The device position (browser geolocation), when the person allows it. */
export function devicePosition(): Promise<{ x: number; y: number }> {
  return new Promise((resolve, reject) => {
    if (!('geolocation' in navigator)) return reject(new Error('this browser cannot tell its position'));
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ x: p.coords.longitude, y: p.coords.latitude }),
      (err) => reject(new Error(err.code === err.PERMISSION_DENIED ? 'the position was not shared (permission refused)' : 'the position is not available')),
      { enableHighAccuracy: true, timeout: 15_000, maximumAge: 60_000 },
    );
  });
}
