/**
 * The map beside the conversation (OpenLayers): a bundled world outline (Natural Earth 1:110m from world-atlas),
 * an optional tile base map from the configuration, and every shared GeoJSON layer, bbox and position, each
 * reprojected from its message's CRS. `window.qchatMap` exposes what it draws (the browser tests read it).
 */
import 'ol/ol.css';
import Map from 'ol/Map';
import View from 'ol/View';
import Overlay from 'ol/Overlay';
import Feature, { type FeatureLike } from 'ol/Feature';
import GeoJSON from 'ol/format/GeoJSON';
import VectorLayer from 'ol/layer/Vector';
import TileLayer from 'ol/layer/Tile';
import VectorSource from 'ol/source/Vector';
import XYZ from 'ol/source/XYZ';
import { fromExtent } from 'ol/geom/Polygon';
import Point from 'ol/geom/Point';
import { Circle as CircleStyle, Fill, Stroke, Style, Text } from 'ol/style';
import { transform, transformExtent } from 'ol/proj';
import { extend as extendExtent, createEmpty, isEmpty, getCenter, type Extent } from 'ol/extent';
import { defaults as defaultControls, ScaleLine } from 'ol/control';
import { feature as topoFeature } from 'topojson-client';
import type { Topology, GeometryCollection } from 'topojson-specification';
import land from 'world-atlas/land-110m.json';
import { el } from './dom';
import type { BboxFrame, GeoFrame, GeojsonFrame, PositionFrame } from './protocol';
import { projectionFor, registerProjections } from './projections';
import { colorFor } from './avatars';

export interface MapOptions {
  tileUrl: string;
  tileAttribution: string;
}

/** What the map shows for one message (for tests and for zooming). */
export interface DrawnItem {
  id: string;
  type: GeoFrame['type'];
  author: string;
  /** [minLon, minLat, maxLon, maxLat] */
  extent4326: [number, number, number, number];
  features: number;
}

export interface MapView {
  /** Draws a geojson, bbox or position message; returns why not when it cannot (unknown CRS, no geometry). */
  draw(frame: GeoFrame): { ok: true } | { ok: false; why: string };
  /** Fits the view to a message's geometry; false when the message drew nothing. */
  zoomTo(id: string): boolean;
  /** Removes every shared item (channel switch). */
  clear(): void;
  /** The visible extent in EPSG:4326, [xmin, ymin, xmax, ymax]. */
  viewExtent4326(): [number, number, number, number];
  /** Recomputes the map size (after the map pane is shown or resized). */
  resize(): void;
  items(): DrawnItem[];
}

const VIEW = 'EPSG:3857';
const format = new GeoJSON();

export function createMapView(target: HTMLElement, popup: HTMLElement, options: MapOptions): MapView {
  registerProjections();
  const world = new VectorSource({
    features: format.readFeatures(unwrapAntimeridian(topoFeature(land as unknown as Topology, (land as unknown as Topology).objects.land as GeometryCollection)), {
      dataProjection: 'EPSG:4326',
      featureProjection: VIEW,
    }),
  });
  const shared = new VectorSource();
  const drawn = new globalThis.Map<string, { item: DrawnItem; features: Feature[]; extent: Extent }>();

  const layers = [];
  if (options.tileUrl) {
    layers.push(new TileLayer({ source: new XYZ({ url: options.tileUrl, attributions: options.tileAttribution || undefined, crossOrigin: null }) }));
  } else {
    layers.push(new VectorLayer({
      source: world,
      style: new Style({ fill: new Fill({ color: '#e4ead9' }), stroke: new Stroke({ color: '#9aa88c', width: 0.75 }) }),
    }));
  }
  const sharedLayer = new VectorLayer({ source: shared, style: styleOf });
  layers.push(sharedLayer);

  const overlay = new Overlay({ element: popup, autoPan: { animation: { duration: 200 } }, positioning: 'bottom-center', offset: [0, -10] });
  const map = new Map({
    target,
    layers,
    overlays: [overlay],
    controls: defaultControls({ attributionOptions: { collapsible: true } }).extend([new ScaleLine()]),
    view: new View({ projection: VIEW, center: [0, 2_000_000], zoom: 1.6, maxZoom: 20 }),
  });
  target.classList.toggle('no-tiles', !options.tileUrl);

  map.on('singleclick', (event) => {
    const hit = map.forEachFeatureAtPixel(event.pixel, (f) => f, { layerFilter: (l) => l === sharedLayer, hitTolerance: 4 });
    if (!hit) return overlay.setPosition(undefined);
    showProperties(popup, hit);
    overlay.setPosition(event.coordinate);
  });
  popup.addEventListener('click', (e) => {
    if ((e.target as HTMLElement).closest('.popup-close')) overlay.setPosition(undefined);
  });

  function add(frame: GeoFrame, features: Feature[]): { ok: true } | { ok: false; why: string } {
    const extent = createEmpty();
    for (const f of features) {
      f.setProperties({ qchat_id: frame.id, qchat_type: frame.type, qchat_author: frame.author, qchat_color: colorFor(frame.author) }, true);
      const g = f.getGeometry();
      if (g) extendExtent(extent, g.getExtent());
    }
    if (features.length === 0 || isEmpty(extent)) return { ok: false, why: 'no geometry to draw' };
    remove(frame.id);
    shared.addFeatures(features);
    const e4326 = transformExtent(extent, VIEW, 'EPSG:4326') as [number, number, number, number];
    drawn.set(frame.id, { item: { id: frame.id, type: frame.type, author: frame.author, extent4326: e4326, features: features.length }, features, extent });
    return { ok: true };
  }

  function remove(id: string): void {
    const old = drawn.get(id);
    if (!old) return;
    for (const f of old.features) shared.removeFeature(f);
    drawn.delete(id);
  }

  const view: MapView = {
    draw(frame) {
      const code = projectionFor(frame.crs_authid, frame.crs_wkt);
      if (!code) return { ok: false, why: `its CRS (${frame.crs_authid || 'custom'}) is not known to this page` };
      try {
        return add(frame, featuresOf(frame, code));
      } catch {
        return { ok: false, why: 'its geometry could not be read' };
      }
    },
    zoomTo(id) {
      const entry = drawn.get(id);
      if (!entry) return false;
      const size = map.getSize();
      if (entry.item.type === 'position') {
        map.getView().animate({ center: getCenter(entry.extent), zoom: Math.max(map.getView().getZoom() ?? 0, 12), duration: 300 });
      } else {
        map.getView().fit(entry.extent, { padding: [40, 40, 40, 40], maxZoom: 16, duration: 300, ...(size ? { size } : {}) });
      }
      return true;
    },
    clear() {
      shared.clear();
      drawn.clear();
      overlay.setPosition(undefined);
    },
    viewExtent4326() {
      const extent = map.getView().calculateExtent(map.getSize());
      const [xmin, ymin, xmax, ymax] = transformExtent(extent, VIEW, 'EPSG:4326');
      return [Math.max(-180, xmin!), Math.max(-90, ymin!), Math.min(180, xmax!), Math.min(90, ymax!)];
    },
    resize() {
      map.updateSize();
    },
    items: () => [...drawn.values()].map((d) => d.item),
  };
  (window as unknown as { qchatMap: unknown }).qchatMap = {
    map,
    items: view.items,
    /** Pixel (CSS px inside #map) of a lon/lat, for tests that look at the rendered map. */
    pixelOf: (lon: number, lat: number) => map.getPixelFromCoordinate(transform([lon, lat], 'EPSG:4326', VIEW)),
    zoomTo: view.zoomTo,
    /** Resolves after the next complete render (one is requested). */
    rendered: () => new Promise<void>((resolve) => {
      map.once('rendercomplete', () => resolve());
      map.render();
    }),
  };
  return view;
}

type Ring = number[][];

/**
 * Natural Earth rings that cross the antimeridian jump from 180° to -180°, which a flat map draws as a line
 * across the world: continue them past ±180° instead. A ring that goes round a pole (Antarctica) is already a
 * proper flat polygon and is kept as it is.
 */
function unwrapRing(ring: Ring): Ring {
  const out: Ring = [];
  let offset = 0;
  for (const [x, y] of ring as [number, number][]) {
    const prev = out.length ? out[out.length - 1]![0]! : x;
    let ax = x + offset;
    if (ax - prev > 180) { offset -= 360; ax -= 360; }
    else if (ax - prev < -180) { offset += 360; ax += 360; }
    out.push([ax, y]);
  }
  return Math.abs(out[0]![0]! - out[out.length - 1]![0]!) < 1e-9 ? out : ring;
}

function unwrapAntimeridian<T>(geojson: T): T {
  const fix = (g: { type: string; coordinates?: unknown; geometries?: unknown[] } | null): void => {
    if (!g) return;
    if (g.type === 'Polygon') g.coordinates = (g.coordinates as Ring[]).map(unwrapRing);
    else if (g.type === 'MultiPolygon') g.coordinates = (g.coordinates as Ring[][]).map((p) => p.map(unwrapRing));
    else if (g.type === 'GeometryCollection') (g.geometries as (typeof g)[]).forEach(fix);
  };
  const root = geojson as { type: string; features?: { geometry: Parameters<typeof fix>[0] }[]; geometry?: Parameters<typeof fix>[0] };
  if (root.type === 'FeatureCollection') root.features?.forEach((f) => fix(f.geometry));
  else if (root.type === 'Feature') fix(root.geometry ?? null);
  return geojson;
}

function featuresOf(frame: GeoFrame, code: string): Feature[] {
  switch (frame.type) {
    case 'geojson':
      return geojsonFeatures(frame, code);
    case 'bbox':
      return [bboxFeature(frame, code)];
    case 'position':
      return [positionFeature(frame, code)];
  }
}

function geojsonFeatures(frame: GeojsonFrame, code: string): Feature[] {
  const features = format.readFeatures(frame.geojson, { dataProjection: code, featureProjection: VIEW });
  for (const f of features) f.set('qchat_layer', frame.layer_name, true);
  return features as Feature[];
}

function bboxFeature(frame: BboxFrame, code: string): Feature {
  const nums = [frame.xmin, frame.ymin, frame.xmax, frame.ymax].map(Number);
  const [x1, y1, x2, y2] = nums as [number, number, number, number];
  const extent: Extent = [Math.min(x1, x2), Math.min(y1, y2), Math.max(x1, x2), Math.max(y1, y2)];
  const geometry = fromExtent(extent);
  // Densify the edges so a reprojected rectangle follows the curved outline it really has.
  const ring = geometry.getCoordinates()[0]!;
  const dense: number[][] = [];
  for (let i = 0; i < ring.length - 1; i++) {
    const [ax, ay] = ring[i]!, [bx, by] = ring[i + 1]!;
    for (let k = 0; k < 16; k++) dense.push([ax! + ((bx! - ax!) * k) / 16, ay! + ((by! - ay!) * k) / 16]);
  }
  dense.push(ring[0]!);
  geometry.setCoordinates([dense]);
  geometry.transform(code, VIEW);
  return new Feature({ geometry, name: `Extent shared by ${frame.author}`, crs: frame.crs_authid || 'custom CRS' });
}

function positionFeature(frame: PositionFrame, code: string): Feature {
  const geometry = new Point([Number(frame.x), Number(frame.y)]);
  geometry.transform(code, VIEW);
  return new Feature({ geometry, name: `Position shared by ${frame.author}`, crs: frame.crs_authid || 'custom CRS' });
}

const styleCache = new globalThis.Map<string, Style>();
function styleOf(feature: FeatureLike): Style {
  const type = String(feature.get('qchat_type'));
  const color = String(feature.get('qchat_color') ?? '#1f6feb');
  const key = `${type}|${color}`;
  let style = styleCache.get(key);
  if (style) return style;
  if (type === 'bbox') {
    style = new Style({ stroke: new Stroke({ color, width: 2.5, lineDash: [8, 6] }), fill: new Fill({ color: withAlpha(color, 0.08) }) });
  } else if (type === 'position') {
    style = new Style({ image: new CircleStyle({ radius: 8, fill: new Fill({ color }), stroke: new Stroke({ color: '#fff', width: 2.5 }) }) });
  } else {
    style = new Style({
      stroke: new Stroke({ color, width: 2 }),
      fill: new Fill({ color: withAlpha(color, 0.35) }),
      image: new CircleStyle({ radius: 6, fill: new Fill({ color }), stroke: new Stroke({ color: '#fff', width: 1.5 }) }),
      text: new Text({ overflow: false }),
    });
  }
  styleCache.set(key, style);
  return style;
}

function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** The clicked feature's own properties as a table of text (never HTML). */
function showProperties(popup: HTMLElement, feature: FeatureLike): void {
  const props = { ...feature.getProperties() };
  const title = String(props.qchat_layer ?? props.name ?? feature.get('qchat_type'));
  const rows: HTMLElement[] = [];
  for (const [key, value] of Object.entries(props)) {
    if (key === 'geometry' || key.startsWith('qchat_')) continue;
    rows.push(el('tr', '', [el('th', '', [key], { scope: 'row' }), el('td', '', [typeof value === 'object' ? JSON.stringify(value) : String(value)])]));
  }
  popup.replaceChildren(
    el('button', 'popup-close', ['×'], { type: 'button', 'aria-label': 'Close' }),
    el('h3', '', [title]),
    el('p', 'popup-by', [`shared by ${String(feature.get('qchat_author'))}`]),
    rows.length ? el('table', '', [el('tbody', '', rows)]) : el('p', 'muted', ['No properties.']),
  );
}
