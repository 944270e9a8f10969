/**
 * Coordinate reference systems the map understands: the common EPSG codes of QGIS users are bundled as proj4
 * definitions (no request to any registry); others are read from the message's crs_wkt when proj4 can parse it.
 */
import proj4 from 'proj4';
import { register } from 'ol/proj/proj4';
import { get as getProjection } from 'ol/proj';

const ETRS89_UTM = (zone: number) => `+proj=utm +zone=${zone} +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs`;
const WGS84_UTM = (zone: number, south: boolean) => `+proj=utm +zone=${zone}${south ? ' +south' : ''} +datum=WGS84 +units=m +no_defs`;
/** France's conic conformal zones CC42…CC50 (EPSG:3942…3950). */
const FRANCE_CC = (lat: number) =>
  `+proj=lcc +lat_0=${lat} +lon_0=3 +lat_1=${lat - 0.75} +lat_2=${lat + 0.75} +x_0=1700000 +y_0=${1_200_000 + (lat - 42) * 1_000_000} +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs`;

const DEFS: Record<string, string> = {
  'EPSG:2154': '+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs',
  'EPSG:4171': '+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs',
  'EPSG:4258': '+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs',
  'EPSG:4674': '+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs',
  'EPSG:3035': '+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs',
  'EPSG:3395': '+proj=merc +lon_0=0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs',
  'EPSG:27700': '+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy +towgs84=446.448,-125.157,542.06,0.15,0.247,0.842,-20.489 +units=m +no_defs',
  'EPSG:2056': '+proj=somerc +lat_0=46.9524055555556 +lon_0=7.43958333333333 +k_0=1 +x_0=2600000 +y_0=1200000 +ellps=bessel +towgs84=674.374,15.056,405.346,0,0,0,0 +units=m +no_defs',
  'EPSG:31370': '+proj=lcc +lat_0=90 +lon_0=4.36748666666667 +lat_1=51.1666672333333 +lat_2=49.8333339 +x_0=150000.013 +y_0=5400088.438 +ellps=intl +towgs84=-106.869,52.2978,-103.724,0.3366,-0.457,1.8422,-1.2747 +units=m +no_defs',
  'EPSG:28992': '+proj=sterea +lat_0=52.1561605555556 +lon_0=5.38763888888889 +k=0.9999079 +x_0=155000 +y_0=463000 +ellps=bessel +towgs84=565.417,50.3319,465.552,-0.398957,0.343988,-1.8774,4.0725 +units=m +no_defs',
  'EPSG:31467': '+proj=tmerc +lat_0=0 +lon_0=9 +k=1 +x_0=3500000 +y_0=0 +ellps=bessel +towgs84=598.1,73.7,418.2,0.202,0.045,-2.455,6.7 +units=m +no_defs',
  'EPSG:2193': '+proj=tmerc +lat_0=0 +lon_0=173 +k=0.9996 +x_0=1600000 +y_0=10000000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs',
  'EPSG:3006': ETRS89_UTM(33),
  'EPSG:5070': '+proj=aea +lat_0=23 +lon_0=-96 +lat_1=29.5 +lat_2=45.5 +x_0=0 +y_0=0 +datum=NAD83 +units=m +no_defs',
};
for (let zone = 28; zone <= 38; zone++) DEFS[`EPSG:${25800 + zone}`] = ETRS89_UTM(zone);
for (let zone = 1; zone <= 60; zone++) {
  DEFS[`EPSG:${32600 + zone}`] = WGS84_UTM(zone, false);
  DEFS[`EPSG:${32700 + zone}`] = WGS84_UTM(zone, true);
}
for (let lat = 42; lat <= 50; lat++) DEFS[`EPSG:${3900 + lat}`] = FRANCE_CC(lat);

let registered = false;

/** Registers the bundled definitions with proj4 and OpenLayers (once). */
export function registerProjections(): void {
  if (registered) return;
  registered = true;
  for (const [code, def] of Object.entries(DEFS)) proj4.defs(code, def);
  register(proj4);
}

/** Normalises `EPSG:2154`, `epsg:2154`, `urn:ogc:def:crs:EPSG::2154`, `OGC:CRS84` to the code OpenLayers knows. */
export function normaliseAuthid(authid: string): string {
  const s = authid.trim();
  if (/^(OGC:CRS84|urn:ogc:def:crs:OGC:1\.3:CRS84)$/i.test(s)) return 'EPSG:4326';
  const m = /^(?:urn:ogc:def:crs:)?EPSG:(?:[\d.]*:)?(\d+)$/i.exec(s);
  return m ? `EPSG:${m[1]}` : s;
}

/**
 * The OpenLayers projection code for a message's CRS, registering it from the WKT when the authid is unknown;
 * null when neither can be used (the geometry is then not drawn, and the conversation says why).
 */
export function projectionFor(authid: string, wkt: string): string | null {
  registerProjections();
  const code = normaliseAuthid(authid || '');
  if (code && getProjection(code)) return code;
  if (!wkt) return null;
  const name = code || `WKT:${hash(wkt)}`;
  try {
    proj4.defs(name, wkt);
    if (!proj4.defs(name)) return null;
    register(proj4);
    return getProjection(name) ? name : null;
  } catch {
    return null;
  }
}

function hash(s: string): string {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36);
}
