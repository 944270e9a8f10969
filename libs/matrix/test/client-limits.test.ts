/** A homeserver's answers are untrusted input: a real local HTTP server sends answers at and past the caps. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MatrixClient } from '../src/client';

const MiB = 1024 * 1024;
let server: http.Server;
let base = '';
let answer: { status: number; body: Buffer } = { status: 200, body: Buffer.from('{}') };

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    res.writeHead(answer.status, { 'Content-Type': 'application/json' });
    res.end(answer.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** A JSON object of exactly `bytes` bytes. */
const jsonOf = (bytes: number, extra = '') => Buffer.from(`{"user_id":"@a:b"${extra},"pad":"${'x'.repeat(bytes - 27 - extra.length)}"}`);

describe('MatrixClient reads capped answers', () => {
  it('reads a JSON answer of 32 MiB, refuses one byte more', async () => {
    const client = new MatrixClient({ homeserver: base, accessToken: 't', timeoutMs: 10_000 });
    answer = { status: 200, body: jsonOf(32 * MiB) };
    expect(answer.body.length).toBe(32 * MiB);
    await expect(client.whoami()).resolves.toBe('@a:b');
    answer = { status: 200, body: jsonOf(32 * MiB + 1) };
    await expect(client.whoami()).rejects.toThrow(/over the 33554432 bytes allowed/);
  });

  it('reads an error body up to 64 KiB and cuts its message; a bigger one is not read', async () => {
    const client = new MatrixClient({ homeserver: base, accessToken: 't', timeoutMs: 10_000 });
    answer = { status: 403, body: Buffer.from(JSON.stringify({ errcode: 'M_FORBIDDEN', error: 'e'.repeat(10_000) })) };
    const err = await client.whoami().catch((e: Error) => e);
    expect((err as Error).message).toHaveLength(500);
    answer = { status: 403, body: Buffer.from(JSON.stringify({ errcode: 'M_FORBIDDEN', error: 'e'.repeat(64 * 1024) })) };
    expect(((await client.whoami().catch((e: Error) => e)) as Error).message).toBe('HTTP 403');
  });
});
