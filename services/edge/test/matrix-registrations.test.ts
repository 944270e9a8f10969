import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRequester } from '@qchat/bus';
import { silentLogger } from '@qchat/runtime';
import { Registrations } from '../src/matrix/registrations';
import { normalizeHomeserver } from '../src/matrix/config';
import { parseRegistration } from '../src/matrix/endpoint';

const reg = { homeserver: 'https://m.example.org', room_id: '!r:s', user: 'u', password: 'p', device_id: 'd' };
const requester = new MemoryRequester();
const made: Registrations[] = [];

function edge(ttlMs = 10_000) {
  let expired = 0;
  const r = new Registrations({ requester, instance: 'test', ttlMs, timeoutMs: 500, log: silentLogger(), onExpired: () => { expired++; } });
  made.push(r);
  return { r, expired: () => expired };
}

afterEach(() => { for (const r of made.splice(0)) r.clear(); });

describe('matrix registrations', () => {
  it('are taken once, on this edge or on another one', async () => {
    const a = edge();
    const b = edge();
    const unserve = await Promise.all([a.r.serve(), b.r.serve()]);
    const id = a.r.add(reg);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id.slice(0, 8)).toBe(a.r.tag);
    expect(await b.r.take(id)).toEqual(reg);
    expect(await a.r.take(id)).toBeUndefined();
    expect(await b.r.take(id)).toBeUndefined();
    const local = a.r.add(reg);
    expect(await a.r.take(local.toUpperCase())).toEqual(reg);
    expect(await a.r.take('not-a-uuid')).toBeUndefined();
    await Promise.all(unserve.map((u) => u()));
  });

  it('are forgotten after their time to live', async () => {
    const a = edge(50);
    const id = a.r.add(reg);
    await new Promise((r) => setTimeout(r, 120));
    expect(await a.r.take(id)).toBeUndefined();
    expect(a.expired()).toBe(1);
  });
});

describe('matrix register body and homeservers', () => {
  it('reads the body like gischat pydantic model, never echoing the password', () => {
    expect(parseRegistration({ homeserver: 'h', room_id: 'r', user: 'u', password: 'p' })).toMatchObject({ ok: true, reg: { device_id: expect.stringMatching(/^[0-9a-f]{32}$/) } });
    const bad = parseRegistration({ homeserver: 'h', room_id: 5, user: 'u', password: 7 });
    expect(bad.ok).toBe(false);
    expect(JSON.stringify(bad)).not.toContain('7');
    expect(parseRegistration([]).ok).toBe(false);
  });

  it('normalises homeserver URLs for the allowlist', () => {
    expect(normalizeHomeserver('https://Matrix.Example.org/')).toBe('https://matrix.example.org');
    expect(normalizeHomeserver('matrix.example.org')).toBe('https://matrix.example.org');
    expect(normalizeHomeserver('http://127.0.0.1:8008')).toBe('http://127.0.0.1:8008');
    expect(normalizeHomeserver('ftp://x')).toBeNull();
    expect(normalizeHomeserver('https://user:pw@x')).toBeNull();
  });
});
