/**
 * What every Requester adapter promises (libs/bus/src/requester.ts), and the RPC layer on top of it, run
 * against each adapter: memory in the unit project, NATS in the integration project.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RpcClient, serveOperations, type Requester } from '@qchat/bus';
import { QChatError } from '@qchat/protocol';
import { silentLogger } from '@qchat/runtime';

export interface RequesterFixture {
  requester: Requester;
  /** A second requester on the same server (another process, in effect); absent for in-memory requesters. */
  other?: Requester;
  close(): Promise<void>;
}

const enc = (s: string) => Buffer.from(s, 'utf8');
const dec = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

/** Resolves with the QChatError `promise` rejects with (and fails the test if it resolves or rejects otherwise). */
async function rejection(promise: Promise<unknown>): Promise<QChatError> {
  const err = await promise.then(
    (value) => { throw new Error(`expected a rejection, got ${String(value)}`); },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(QChatError);
  return err as QChatError;
}

export function requesterContract(name: string, make: () => Promise<RequesterFixture>): void {
  describe(`Requester contract: ${name}`, () => {
    let fx: RequesterFixture;
    let prefix: string;
    const subject = (suffix: string) => `test.${prefix}.${suffix}`;
    /** Responders still held by a test when it ends, released before closing. */
    let release: (() => void)[];

    beforeEach(async () => {
      prefix = randomUUID();
      release = [];
      fx = await make();
    });
    afterEach(async () => {
      for (const r of release) r();
      await fx.close();
    });

    it('answers a request (round trip with bytes intact)', async () => {
      await fx.requester.serve(subject('echo'), 'q', async (data) => enc(`echo:${dec(data)}`));
      const reply = await fx.requester.request(subject('echo'), enc('héllo'), 2_000);
      expect(dec(reply)).toBe('echo:héllo');
    });

    it('rejects with no_responders when nobody serves the subject', async () => {
      const err = await rejection(fx.requester.request(subject('nobody'), enc('x'), 2_000));
      expect(err.code).toBe('no_responders');
      expect(err.retryable).toBe(true);
    });

    it('rejects with timeout when the responder does not answer in time', async () => {
      let answered = false;
      const held = new Promise<void>((r) => release.push(r));
      await fx.requester.serve(subject('slow'), 'q', async () => {
        await held;
        answered = true;
        return enc('late');
      });
      const err = await rejection(fx.requester.request(subject('slow'), enc('x'), 200));
      expect(err.code).toBe('timeout');
      expect(answered).toBe(false);
    });

    it('gives each request to exactly one member of a queue group, spreading them over members', async () => {
      const handled = { a: [] as string[], b: [] as string[] };
      const member = (id: 'a' | 'b') => async (data: Uint8Array) => {
        handled[id].push(dec(data));
        return enc(`${id}:${dec(data)}`);
      };
      await fx.requester.serve(subject('work'), 'workers', member('a'));
      await (fx.other ?? fx.requester).serve(subject('work'), 'workers', member('b'));
      const ids = Array.from({ length: 100 }, (_, i) => `r${i}`);
      const replies = await Promise.all(ids.map((id) => fx.requester.request(subject('work'), enc(id), 5_000)));
      expect(replies.map((r) => dec(r).split(':')[1])).toEqual(ids);
      expect([...handled.a, ...handled.b].sort()).toEqual([...ids].sort());
      expect(handled.a.length).toBeGreaterThan(0);
      expect(handled.b.length).toBeGreaterThan(0);
    });

    it('stops serving after unsubscribe', async () => {
      const unsubscribe = await fx.requester.serve(subject('svc'), 'q', async () => enc('ok'));
      expect(dec(await fx.requester.request(subject('svc'), enc('x'), 2_000))).toBe('ok');
      await unsubscribe();
      const err = await rejection(fx.requester.request(subject('svc'), enc('x'), 2_000));
      expect(err.code).toBe('no_responders');
    });

    it('carries requests and replies far above a NATS server\'s default 1 MiB max_payload, byte for byte', async () => {
      // Varied bytes, so a part put back at the wrong offset cannot go unnoticed.
      const body = Buffer.alloc(5 * 1024 * 1024 + 17);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7919 + (i >> 13)) & 0xff;
      const server = fx.other ?? fx.requester;
      await server.serve(subject('big'), 'q', async (data) => {
        expect(Buffer.compare(Buffer.from(data), body)).toBe(0);
        return Buffer.concat([body, body]); // a reply twice as large
      });
      const reply = await fx.requester.request(subject('big'), body, 10_000);
      expect(reply.length).toBe(body.length * 2);
      expect(Buffer.compare(Buffer.from(reply).subarray(body.length), body)).toBe(0);
      // Small messages still travel whole after a big one.
      await server.serve(subject('small'), 'q', async (data) => enc(`ok:${dec(data)}`));
      expect(dec(await fx.requester.request(subject('small'), enc('x'), 2_000))).toBe('ok:x');
    });

    it('answers a big request whose responder fails with the failure, not a timeout', async () => {
      await fx.requester.serve(subject('bigfail'), 'q', async () => {
        throw new QChatError('uncompliant', 'too much');
      });
      const started = Date.now();
      const err = await rejection(fx.requester.request(subject('bigfail'), Buffer.alloc(3 * 1024 * 1024, 1), 5_000));
      expect(err.code).toBe('uncompliant');
      expect(err.message).toBe('too much');
      expect(Date.now() - started).toBeLessThan(4_000);
    });

    it('reports ready while open', () => {
      expect(fx.requester.ready()).toBe(true);
    });

    it('answers requests from another instance on the same server', async (ctx) => {
      if (!fx.other) return ctx.skip(); // in-memory requesters have no second instance
      await fx.other.serve(subject('remote'), 'q', async (data) => enc(`remote:${dec(data)}`));
      expect(dec(await fx.requester.request(subject('remote'), enc('x'), 2_000))).toBe('remote:x');
    });

    describe('RPC over it', () => {
      const log = silentLogger();
      // `matrix.take` is the smallest operation of the table (one per member, addressed by a target).
      const reg = { homeserver: 'https://hs', room_id: '!r:hs', user: 'u', password: 'p', device_id: 'd' };
      const serveTake = (requester: Requester, take: (req: { id: string }) => Promise<typeof reg>) =>
        serveOperations(requester, prefix, 'matrix', { 'matrix.take': take }, { log, target: 't1' });
      const client = (onAttempt?: (op: string, outcome: string) => void) =>
        new RpcClient(fx.other ?? fx.requester, { instance: prefix, timeouts: { requestMs: 2_000, imageMs: 0 }, onAttempt });

      it('returns the handler result', async () => {
        await serveTake(fx.requester, async ({ id }) => ({ ...reg, user: id }));
        await expect(client().call('matrix.take', { id: 'x' }, { target: 't1' })).resolves.toEqual({ ...reg, user: 'x' });
      });

      it('passes a QChatError code and message through to the caller', async () => {
        await serveTake(fx.requester, async () => {
          throw new QChatError('channel_not_found', 'no such channel: x');
        });
        const err = await rejection(client().call('matrix.take', { id: 'x' }, { target: 't1', retries: 3 }));
        expect(err.code).toBe('channel_not_found');
        expect(err.message).toBe('no such channel: x');
      });

      it('turns other handler failures into internal, without retrying', async () => {
        let calls = 0;
        await serveTake(fx.requester, async () => {
          calls++;
          throw new Error('secret detail');
        });
        const err = await rejection(client().call('matrix.take', { id: 'x' }, { target: 't1', retries: 3 }));
        expect(err.code).toBe('internal');
        expect(err.message).not.toContain('secret detail');
        expect(calls).toBe(1);
      });

      it('retries no_responders until a server appears', async () => {
        const outcomes: string[] = [];
        let serving: Promise<unknown> | undefined;
        const rpc = client((_op, outcome) => {
          outcomes.push(outcome);
          // The server appears only after the first attempt found nobody.
          serving ??= serveTake(fx.other ?? fx.requester, async () => reg);
        });
        await expect(rpc.call('matrix.take', { id: 'x' }, { target: 't1', retries: 5 })).resolves.toEqual(reg);
        expect(outcomes[0]).toBe('no_responders');
        expect(outcomes.at(-1)).toBe('ok');
      });

      it('gives up with no_responders once the retries are spent', async () => {
        const outcomes: string[] = [];
        const err = await rejection(client((_op, outcome) => { outcomes.push(outcome); }).call('matrix.take', { id: 'x' }, { target: 't1', retries: 2 }));
        expect(err.code).toBe('no_responders');
        expect(outcomes).toEqual(['no_responders', 'no_responders', 'no_responders']);
      });
    });
  });
}
