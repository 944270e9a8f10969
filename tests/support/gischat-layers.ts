/**
 * Stand-ins for gischat's test layers (tests/data/tissot.geojson and points.geojson, which we do not copy):
 * generated, deterministic GeoJSON of the same shape — 60 Tissot-indicatrix polygons (~0.2 MB) and 501
 * random points (one more than gischat's default MAX_GEOJSON_FEATURES).
 */
import { rng as prng } from './pictures';

const EARTH_RADIUS_KM = 6371.0088;
const rad = (d: number) => (d * Math.PI) / 180;
const deg = (r: number) => (r * 180) / Math.PI;
const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** A ring of `vertices` points at `radiusKm` from (lon, lat) on the sphere, closed. */
function geodesicCircle(lon: number, lat: number, radiusKm: number, vertices: number): number[][] {
  const d = radiusKm / EARTH_RADIUS_KM;
  const φ1 = rad(lat);
  const λ1 = rad(lon);
  const ring: number[][] = [];
  for (let i = 0; i < vertices; i++) {
    const θ = rad((360 * i) / vertices);
    const φ2 = Math.asin(Math.sin(φ1) * Math.cos(d) + Math.cos(φ1) * Math.sin(d) * Math.cos(θ));
    const λ2 = λ1 + Math.atan2(Math.sin(θ) * Math.sin(d) * Math.cos(φ1), Math.cos(d) - Math.sin(φ1) * Math.sin(φ2));
    ring.push([round(deg(λ2), 9), round(deg(φ2), 9)]);
  }
  ring.push([...ring[0]!]);
  return ring;
}

/** 60 circles of 500 km on a 10 × 6 grid: what gischat's tissot.geojson is (a FeatureCollection of 60 polygons). */
export function tissotLayer(): { type: 'FeatureCollection'; name: string; features: object[] } {
  const features: object[] = [];
  for (let row = 0; row < 6; row++) {
    for (let col = 0; col < 10; col++) {
      const lon = -162 + col * 36;
      const lat = -62.5 + row * 25;
      features.push({
        type: 'Feature',
        properties: { id: features.length, lon, lat, radius_km: 500.0 },
        geometry: { type: 'Polygon', coordinates: [geodesicCircle(lon, lat, 500, 108)] },
      });
    }
  }
  return { type: 'FeatureCollection', name: 'tissot', features };
}

/** `count` random points in Africa, like gischat's points.geojson (501 points there). */
export function pointsLayer(count = 501): { type: 'FeatureCollection'; name: string; features: object[] } {
  const rand = prng(501);
  const features = Array.from({ length: count }, (_, i) => ({
    type: 'Feature',
    properties: { rand_point_id: i },
    geometry: { type: 'Point', coordinates: [round(10 + rand() * 25, 6), round(-15 + rand() * 25, 6)] },
  }));
  return {
    type: 'FeatureCollection',
    name: 'points',
    crs: { type: 'name', properties: { name: 'urn:ogc:def:crs:OGC:1.3:CRS84' } },
    features,
  } as { type: 'FeatureCollection'; name: string; features: object[] };
}
