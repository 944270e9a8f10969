import { describe, expect, it } from 'vitest';
import { OPERATIONS, OPERATION_NAMES, chatBody, operationsOf, queueOf, subjectOf, timeoutOf, type OpName, type Req } from '../src';

/** One sound request per operation (the type makes the list complete). */
const SAMPLES: { [K in OpName]: Req<K> } = {
  'relay.publish': { channel: 'c', id: 'm', body: { type: 'text', author: 'a', avatar: null, text: 't' }, source: 'ws' },
  'relay.history': { channel: 'c' },
  'relay.delete': { channel: 'c', id: 'm' },
  'relay.clear': { channel: 'c' },
  'presence.join': { channel: 'c', conn: 'k', edge: 'e', addr: '::1', since: 1 },
  'presence.register': { channel: 'c', conn: 'k', edge: 'e', nick: 'n' },
  'presence.leave': { channel: 'c', conn: 'k', edge: 'e', keepConnection: true },
  'presence.users': { channel: 'c' },
  'presence.counts': { channels: ['c', 'd'] },
  'presence.heartbeat': { edge: 'e', conns: 3 },
  'presence.sync': { edge: 'e', conns: [{ channel: 'c', conn: 'k', nick: null }, { channel: 'c', conn: 'l', nick: 'n' }] },
  'presence.edge_down': { edge: 'e' },
  'presence.holder': { channel: 'c', nick: 'n' },
  'presence.conns': { channel: 'c' },
  'presence.ban': { kind: 'nickname', value: 'n', seconds: 60, reason: 'r' },
  'presence.unban': { kind: 'address', value: '::1' },
  'presence.bans': {},
  'presence.kick': { channel: null, nick: 'n', reason: 'r' },
  'matrix.take': { id: 'x' },
};

describe('the operation table', () => {
  it('guards every request: a sound one passes, a wrong field type or a missing field does not', () => {
    for (const op of OPERATION_NAMES) {
      const shape: (v: unknown) => boolean = OPERATIONS[op].shape;
      const sample: Record<string, unknown> = { ...SAMPLES[op] };
      expect(shape(sample), op).toBe(true);
      expect(shape(null), op).toBe(false);
      expect(shape([sample]), op).toBe(false);
      expect(shape('x'), op).toBe(false);
      for (const key of Object.keys(sample)) {
        expect(shape({ ...sample, [key]: { nested: true } }), `${op}.${key} of another type`).toBe(false);
      }
    }
    // Optional fields may be absent; required ones may not.
    expect(OPERATIONS['presence.join'].shape({ channel: 'c', conn: 'k', edge: 'e' })).toBe(true);
    expect(OPERATIONS['presence.join'].shape({ channel: 'c', conn: 'k' })).toBe(false);
    expect(OPERATIONS['presence.heartbeat'].shape({ edge: 'e', conns: Number.NaN })).toBe(false);
  });

  it('guards every content type of relay.publish, as relay reads it', () => {
    const crs = { author: 'a', avatar: null, crs_wkt: 'w', crs_authid: 'EPSG:4326' };
    const bodies = [
      { type: 'text', author: 'a', avatar: 'x', text: 't', in_reply_to_id: 'r' },
      { type: 'image', author: 'a', avatar: null, image_data: 'AAAA' },
      { type: 'like', liker_author: 'a', liked_author: 'b', message: 'm' },
      { type: 'geojson', ...crs, layer_name: 'l', geojson: { $json: '{}' }, style: null },
      { type: 'crs', ...crs },
      { type: 'bbox', ...crs, xmin: 0, xmax: 1, ymin: 0, ymax: 1 },
      { type: 'position', ...crs, x: 1.5, y: 2 },
      { type: 'model', author: 'a', avatar: null, model_name: 'm', model_group: null, raw_xml: '<x/>' },
      { type: 'script', author: 'a', avatar: null, name: 'n', raw_pycode: 'pass' },
    ];
    for (const b of bodies) expect(chatBody(b), b.type).toBe(true);
    expect(chatBody({ ...bodies[3], geojson: { type: 'FeatureCollection' } })).toBe(false); // a layer travels as its source text
    expect(chatBody({ ...bodies[5], xmin: '0' })).toBe(false);
    expect(chatBody({ type: 'nb_users', nb_users: 1 })).toBe(false); // a server frame is not content
    expect(chatBody({ type: 'toString' })).toBe(false);
  });

  it('gives each operation its subject, queue group and timeout', () => {
    expect(subjectOf('qchat', 'presence.edge_down')).toBe('qchat.qchat.presence.edge_down');
    expect(subjectOf('i', 'matrix.take', 'ab12cd34')).toBe('qchat.i.matrix.take.ab12cd34');
    expect(queueOf('relay')).toBe('relay');
    expect(queueOf('matrix', 'ab12cd34')).toBe('matrix-ab12cd34');
    expect(operationsOf('relay')).toEqual(['relay.publish', 'relay.history', 'relay.delete', 'relay.clear']);
    expect(operationsOf('presence')).toHaveLength(14);
    const t = { requestMs: 3_000, imageMs: 10_000 };
    const text = SAMPLES['relay.publish'];
    const image = { ...text, body: { type: 'image' as const, author: 'a', avatar: null, image_data: 'x'.repeat(5_000_000) } };
    // The budget relay and the edge agree on: request timeout, + image timeout for an image, + 1 s per 4 MB.
    expect(timeoutOf('relay.publish', text, t)).toBe(3_000);
    expect(timeoutOf('relay.publish', image, t)).toBe(3_000 + 10_000 + 2_000);
    expect(timeoutOf('relay.history', { channel: 'c' }, t)).toBe(8_000);
    expect(timeoutOf('presence.join', SAMPLES['presence.join'], t)).toBe(3_000);
    expect(OPERATIONS['presence.heartbeat'].retries).toBe(0);
    expect(OPERATIONS['matrix.take'].retries).toBe(0);
  });
});
