/** The NATS requester against a real nats-server (started by tests/support/global-setup.ts); Redis: engine-redis.itest.ts. */
import { randomUUID } from 'node:crypto';
import { createInbox, headers } from 'nats';
import { describe, expect, inject, it } from 'vitest';
import { MAX_BODY_BYTES, connectNats } from '@qchat/bus';
import { silentLogger } from '@qchat/runtime';
import { requesterContract } from '../contract/requester.contract';

const log = silentLogger();

requesterContract('NatsRequester', async () => {
  const url = inject('natsUrl');
  const [a, b] = await Promise.all([connectNats(url, log, 'test-requester'), connectNats(url, log, 'test-requester-other')]);
  return {
    requester: a.requester,
    other: b.requester,
    close: async () => {
      await Promise.all([a.requester.close(), b.requester.close()]);
      await Promise.all([a.nc.closed(), b.nc.closed()]);
    },
  };
});

describe('NatsRequester: multi-part headers are untrusted input', () => {
  it('answers a forged or oversized announcement with an error header, never calling the responder', async () => {
    const { nc, requester } = await connectNats(inject('natsUrl'), log, 'test-forged');
    try {
      let called = 0;
      const subject = `test.forged.${randomUUID()}`;
      await requester.serve(subject, 'q', async () => { called++; return Buffer.from('ok'); });
      const forged = async (parts: string, bytes: string, source = createInbox(), first = Buffer.from('first part')) => {
        const h = headers();
        h.set('Qchat-Parts', parts);
        h.set('Qchat-Bytes', bytes);
        h.set('Qchat-Source', source);
        const reply = await nc.request(subject, first, { timeout: 5_000, headers: h });
        return reply.headers?.get('Qchat-Error') ?? '';
      };
      // At MAX_BODY_BYTES in parts of ~1 MiB the announcement is well formed (its parts are then asked, of a source
      // that does not exist: no_responders); one byte past it is refused before anything is asked.
      const part = Buffer.alloc(1024 * 1024 - 32 * 1024, 1);
      const count = (bytes: number) => String(Math.ceil(bytes / part.length));
      expect(await forged(count(MAX_BODY_BYTES), String(MAX_BODY_BYTES), createInbox(), part)).toMatch(/^no_responders/);
      expect(await forged(count(MAX_BODY_BYTES + 1), String(MAX_BODY_BYTES + 1), createInbox(), part)).toMatch(/^bad_frame malformed multi-part message/);
      // A source that is not an inbox (the responder would send requests to any subject named).
      expect(await forged(count(2 * part.length), String(2 * part.length), 'qchat.qchat.presence.ban', part)).toMatch(/^bad_frame malformed/);
      // Millions of tiny parts (a memory and request storm), parts that do not add up, no source, nonsense numbers.
      expect(await forged(String(Math.ceil(MAX_BODY_BYTES / 10)), String(MAX_BODY_BYTES))).toMatch(/^bad_frame malformed/);
      expect(await forged('1000', '20')).toMatch(/^bad_frame/);
      expect(await forged('2', '20', '')).toMatch(/^bad_frame/);
      expect(await forged('x', '-5')).toMatch(/^bad_frame/);
      expect(called).toBe(0);
    } finally {
      await requester.close();
    }
  });
});
