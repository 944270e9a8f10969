import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, floatText, frameJson, memberSource, parseFrame, type ChatBody } from '@qchat/protocol';

describe('memberSource', () => {
  it('returns a top-level member exactly as written, whatever its kind', () => {
    const text = ' { "a" : 1.0 , "b":{"x":[1e3, "}\\"]"], "y": {}}, "c": "s\\\\", "d":-0.50e+2,"e":null }';
    expect(memberSource(text, 'a')).toBe('1.0');
    expect(memberSource(text, 'b')).toBe('{"x":[1e3, "}\\"]"], "y": {}}');
    expect(memberSource(text, 'c')).toBe('"s\\\\"');
    expect(memberSource(text, 'd')).toBe('-0.50e+2');
    expect(memberSource(text, 'e')).toBe('null');
    expect(memberSource(text, 'x')).toBeUndefined();
  });

  it('takes the last of repeated keys, as JSON.parse does, and reads escaped key names', () => {
    expect(memberSource('{"k":1,"\\u006b":[2.0]}', 'k')).toBe('[2.0]');
    expect(memberSource('[1]', 'k')).toBeUndefined();
  });

  it('agrees with JSON.parse on every member of a layer with awkward strings', () => {
    const layer = { features: [{ properties: { s: 'a"b\\\\"c{[', t: '\\u00e9\u2028', n: 1 } }], z: [[]] };
    const text = JSON.stringify({ pre: '}{', geojson: layer, post: 2 }, null, 2);
    expect(JSON.parse(memberSource(text, 'geojson')!)).toEqual(layer);
    expect(memberSource(text, 'pre')).toBe('"}{"');
  });
});

describe('numbers keep their form from client to clients', () => {
  const base = { author: 'jane_doe', avatar: null, crs_wkt: 'w', crs_authid: 'EPSG:4326' };

  it('a GeoJSON layer is forwarded as sent: floats stay floats, exponents, key order and Unicode kept', () => {
    const layer = '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"v":1.0,"big":1e3,"z":-0.0,"n":12345678901234567890,"é":"ü"},"geometry":{"type":"Point","coordinates":[2.0,48.50]}}],"b":1}';
    const text = `{"type":"geojson","author":"jane_doe","avatar":null,"layer_name":"l","crs_wkt":"w","crs_authid":"EPSG:4326","geojson":${layer},"style":null}`;
    const parsed = parseFrame(text, DEFAULT_LIMITS);
    if (!parsed.ok) throw new Error(parsed.reason);
    const out = frameJson(parsed.frame as ChatBody, '00000000-0000-4000-8000-000000000000', 1);
    expect(out).toContain(`"geojson":${layer},"style":null`);
    expect(JSON.parse(out)).toMatchObject({ type: 'geojson', id: '00000000-0000-4000-8000-000000000000', timestamp: 1, layer_name: 'l' });
  });

  it('bbox and position coordinates are written as floats, as gischat does', () => {
    const bbox = frameJson({ type: 'bbox', ...base, xmin: 1, xmax: 2.5, ymin: -0, ymax: 1e21 }, 'i', 2);
    expect(bbox).toBe('{"type":"bbox","id":"i","timestamp":2,"author":"jane_doe","avatar":null,"crs_wkt":"w","crs_authid":"EPSG:4326","xmin":1.0,"xmax":2.5,"ymin":-0.0,"ymax":1e+21}');
    expect(frameJson({ type: 'position', ...base, x: 3, y: 4.25 }, 'i', 2)).toContain('"x":3.0,"y":4.25');
  });

  it('floatText writes integral values with a fraction', () => {
    expect([1, -3, 0, 0.1, 1e300, 123456789012].map(floatText)).toEqual(['1.0', '-3.0', '0.0', '0.1', '1e+300', '123456789012.0']);
  });
});
