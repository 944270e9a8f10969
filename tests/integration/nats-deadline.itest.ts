/**
 * A request whose reply comes in parts has one deadline, from sending to its last part: a responder that takes most
 * of it, then parts served slowly, end in `timeout` within the request's timeout, not twice it (review finding).
 * The responder and its part source are raw NATS subscriptions, so the test sets how slow each step is.
 */
import { randomUUID } from 'node:crypto';
import { createInbox, headers } from 'nats';
import { describe, expect, inject, it } from 'vitest';
import { connectNats } from '@qchat/bus';
import { QChatError } from '@qchat/protocol';
import { silentLogger } from '@qchat/runtime';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('NatsRequester deadline', () => {
  it('pulls the parts of a reply within what is left of the request timeout', async () => {
    const { nc, requester } = await connectNats(inject('natsUrl'), silentLogger(), 'deadline-test');
    try {
      // A reply of 100 bytes in 10 parts of 10: two batches of part requests (8 are asked at once).
      const body = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
      const source = createInbox();
      nc.subscribe(source, {
        callback: (_err, m) => {
          const k = Number(m.headers?.get('Qchat-Part'));
          void sleep(250).then(() => m.respond(body.subarray(k * 10, (k + 1) * 10)));
        },
      });
      const subject = `test.${randomUUID()}.slow-parts`;
      nc.subscribe(subject, {
        callback: (_err, m) => {
          const h = headers();
          h.set('Qchat-Parts', '10');
          h.set('Qchat-Bytes', '100');
          h.set('Qchat-Source', source);
          void sleep(600).then(() => m.respond(body.subarray(0, 10), { headers: h }));
        },
      });
      await nc.flush();

      // Enough time for everything: the parts come back in order.
      expect(Buffer.from(await requester.request(subject, Buffer.from('x'), 5_000))).toEqual(body);

      // 1 s: the reply at 0.6 s, the first batch of parts at ~0.85 s, the second would end at ~1.1 s: too late.
      const started = Date.now();
      const err = await requester.request(subject, Buffer.from('x'), 1_000).then(() => undefined, (e: unknown) => e);
      const took = Date.now() - started;
      expect(err).toBeInstanceOf(QChatError);
      expect((err as QChatError).code).toBe('timeout');
      expect(took).toBeLessThan(1_150);
    } finally {
      await nc.close();
    }
  });
});
