/** The cheap checks that stand between untrusted bytes and the event loop: frame cost, broker frames, client addresses. */
import { DEFAULT_LIMITS, encodeEnvelope, parseControl } from '@qchat/protocol';
import { describe, expect, it } from 'vitest';
import { blockList, cidrList, clientAddress, normalizeAddress } from '../src/client-address';
import { inspectBrokerMessage } from '../src/ws/broker-frames';
import { SMALL_FRAME_BYTES, peekType, precheck } from '../src/ws/frame-cost';

const big = (head: string, fill: number, tail = '"}') => Buffer.from(`${head}${'x'.repeat(fill)}${tail}`);

describe('frame cost precheck', () => {
  it('lets every frame up to the small size through unparsed checks', () => {
    expect(precheck(Buffer.from('not even json'), DEFAULT_LIMITS)).toBeNull();
    expect(precheck(big('{"type":"text","text":"', SMALL_FRAME_BYTES - 40), DEFAULT_LIMITS)).toBeNull();
  });

  it('refuses a big frame of a type that cannot be big, or whose type is not found', () => {
    expect(precheck(big('{"type":"text","author":"abc","text":"', 16 << 20), DEFAULT_LIMITS)).toMatch(/^Frame too large \(16777\d+ bytes\): only image/);
    expect(precheck(Buffer.alloc(1 << 20, 0x61), DEFAULT_LIMITS)).toMatch(/only image, geojson, model and script/);
    // A nested "type" is not the message's type.
    expect(precheck(big('{"x":{"type":"image"},"type":"text","text":"', 1 << 20), DEFAULT_LIMITS)).toMatch(/only image/);
  });

  it('finds the top-level type first or last, and bounds each big type by its limits', () => {
    expect(peekType(Buffer.from('{ "author": "a", "type" : "script", "raw_pycode": "x"}'))).toBe('script');
    expect(peekType(big('{"image_data":"', 10_000, '","type":"image"}'))).toBe('image');
    expect(peekType(Buffer.from('{"text":"\\"type\\":\\"image\\"","type":"text"}'))).toBe('text');
    expect(precheck(big('{"type":"image","author":"abc","image_data":"', 4_000_000), DEFAULT_LIMITS)).toBeNull();
    expect(precheck(big('{"type":"image","author":"abc","image_data":"', 16 << 20), DEFAULT_LIMITS)).toMatch(/too large for a 'image' message/);
    expect(precheck(big('{"type":"geojson","geojson":{"type":"FeatureCollection","features":[]},"x":"', 8 << 20), DEFAULT_LIMITS)).toBeNull();
  });
});

const env = (route: object, frame: string | Buffer) =>
  Buffer.concat([Buffer.from(`${JSON.stringify(route)}\n`), Buffer.isBuffer(frame) ? frame : Buffer.from(frame)]);
const ID = '3f0f7a52-8d4e-4b53-9a43-6d7bf0d0d1d2';

describe('broker messages are untrusted', () => {
  it('forwards what producers publish', () => {
    const text = JSON.stringify({ type: 'text', id: ID, timestamp: 1, author: 'abc', avatar: null, text: 'hi' });
    expect(inspectBrokerMessage(encodeEnvelope({ id: ID }, text)).ok).toBe(true);
    const like = JSON.stringify({ type: 'like', id: ID, timestamp: 1, liker_author: 'abc', liked_author: 'bob', message: 'm' });
    expect(inspectBrokerMessage(encodeEnvelope({ id: ID, to: 'bob' }, like)).ok).toBe(true);
    const count = JSON.stringify({ type: 'nb_users', id: ID, timestamp: 1, nb_users: 3 });
    expect(inspectBrokerMessage(encodeEnvelope({ id: ID, kind: 'nb_users' }, count)).ok).toBe(true);
    const image = `{"type":"image","id":"${ID}","timestamp":1,"author":"abc","avatar":null,"image_data":"${'A'.repeat(2 << 20)}"}`;
    expect(inspectBrokerMessage(encodeEnvelope({ id: ID }, image)).ok).toBe(true);
  });

  it('drops invalid UTF-8, non-JSON, unknown types and routes that make no sense', () => {
    const reason = (p: Buffer) => { const r = inspectBrokerMessage(p); return r.ok ? 'ok' : r.reason; };
    expect(reason(Buffer.from('no newline'))).toBe('envelope');
    expect(reason(env({ id: ID }, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))).toBe('utf8');
    expect(reason(env({ id: ID }, '{"type":"text",'))).toBe('json');
    expect(reason(env({ id: ID }, `{"type":"evil","id":"${ID}"}`))).toBe('mismatch');
    expect(reason(env({ id: ID }, `{"type":"nb_users","id":"${ID}","nb_users":-5}`))).toBe('mismatch');
    expect(reason(env({ id: ID, kind: 'nb_users' }, `{"type":"nb_users","id":"${ID}","nb_users":-5}`))).toBe('mismatch');
    // A like broadcast, or routed to someone it does not name.
    expect(reason(env({ id: ID }, `{"type":"like","id":"${ID}","liked_author":"bob"}`))).toBe('mismatch');
    expect(reason(env({ id: ID, to: 'eve' }, `{"type":"like","id":"${ID}","liked_author":"bob"}`))).toBe('mismatch');
    expect(reason(env({ id: ID, to: 'bob' }, `{"type":"text","id":"${ID}"}`))).toBe('mismatch');
    expect(reason(env({ id: 'x y' }, `{"type":"text","id":"x y"}`))).toBe('route');
    expect(reason(env({ id: ID, extra: 1 }, `{"type":"text","id":"${ID}"}`))).toBe('route');
    const hugeBad = `{"type":"image","id":"other","image_data":"${'A'.repeat(2 << 20)}"}`;
    expect(reason(env({ id: ID }, hugeBad))).toBe('mismatch');
  });

  it('parses control messages strictly', () => {
    expect(parseControl(Buffer.from('{"op":"bans"}'))).toEqual({ op: 'bans' });
    expect(parseControl(Buffer.from('{"op":"kick","channel":null,"nick":null,"address":null,"code":4500,"reason":"x"}'))).toBeNull();
    expect(parseControl(Buffer.from('{"op":"kick","channel":"QGIS","nick":"bob","address":null,"code":1000,"reason":"x"}'))).toBeNull();
    expect(parseControl(Buffer.from([0xff]))).toBeNull();
    const kick = parseControl(Buffer.from(JSON.stringify({ op: 'kick', channel: 'QGIS', nick: 'bob', address: null, code: 4500, reason: 'é'.repeat(200) })));
    expect(kick?.op === 'kick' && Buffer.byteLength(kick.reason)).toBeLessThanOrEqual(123);
  });
});

describe('client address and the trust-proxy rule', () => {
  const trusted = { hops: 1, proxies: blockList(['10.0.0.0/8', '::1']) };

  it('believes X-Forwarded-For only from a trusted proxy, and skips trusted entries from the right', () => {
    expect(clientAddress('203.0.113.5', '198.51.100.1', trusted)).toBe('203.0.113.5');
    expect(clientAddress('::ffff:10.1.2.3', '198.51.100.1', trusted)).toBe('198.51.100.1');
    expect(clientAddress('10.1.2.3', '192.0.2.66, 198.51.100.1, 10.9.9.9', trusted)).toBe('198.51.100.1');
    expect(clientAddress('::1', undefined, trusted)).toBe('::1');
  });

  it('without TRUSTED_PROXIES reads TRUST_PROXY_HOPS entries from the right, or the peer', () => {
    expect(clientAddress('127.0.0.1', '192.0.2.66, 198.51.100.1', { hops: 1, proxies: null })).toBe('198.51.100.1');
    expect(clientAddress('127.0.0.1', '192.0.2.66, 198.51.100.1', { hops: 0, proxies: null })).toBe('127.0.0.1');
  });

  it('spells every address one way: IPv4-mapped IPv6 as IPv4, IPv6 canonical', () => {
    expect(normalizeAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeAddress('::FFFF:10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeAddress('0:0:0:0:0:ffff:a01:203')).toBe('10.1.2.3');
    expect(normalizeAddress('2001:DB8:0:0::7')).toBe('2001:db8::7');
    expect(normalizeAddress('2001:0db8:0000:0000:0000:0000:0000:0007')).toBe('2001:db8::7');
    expect(normalizeAddress('::1')).toBe('::1');
    expect(normalizeAddress('fe80::1%eth0')).toBe('fe80::1%eth0');
    expect(normalizeAddress('203.0.113.5')).toBe('203.0.113.5');
    expect(normalizeAddress('unknown')).toBe('unknown');
    // Forwarded addresses too: a proxy's spelling does not open a way around a ban.
    expect(clientAddress('127.0.0.1', '2001:DB8::0:7', { hops: 1, proxies: null })).toBe('2001:db8::7');
  });

  it('validates TRUSTED_PROXIES', () => {
    const parse = cidrList();
    expect(parse('10.0.0.0/8, 192.168.1.1 ,fd00::/8', 'TRUSTED_PROXIES')).toEqual(['10.0.0.0/8', '192.168.1.1', 'fd00::/8']);
    expect(parse(undefined, 'TRUSTED_PROXIES')).toEqual([]);
    expect(() => parse('10.0.0.0/33', 'TRUSTED_PROXIES')).toThrow(/TRUSTED_PROXIES/);
    expect(() => parse('proxy.local', 'TRUSTED_PROXIES')).toThrow(/TRUSTED_PROXIES/);
  });
});

describe('history frames from relay are untrusted too', () => {
  it('keeps content messages with an id and drops the rest, counting each', async () => {
    const { soundHistory } = await import('../src/ws/broker-frames');
    let dropped = 0;
    const ok = JSON.stringify({ type: 'text', id: ID, timestamp: 1, author: 'abc', avatar: null, text: 'x' });
    const big = `{"type":"image","id":"${ID}","image_data":"${'A'.repeat(2 << 20)}"}`;
    const frames = [ok, '{"type":"nb_users","id":"x","nb_users":-5}', 'not json', '[1]', `{"type":"like","id":"${ID}"}`, big, `${big.slice(0, -1)}`];
    expect(soundHistory(frames, () => dropped++)).toEqual([ok, big]);
    expect(dropped).toBe(5);
  });
});
