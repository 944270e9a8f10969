import { describe, expect, it } from 'vitest';
import { MatrixError } from '@qchat/matrix';
import { silentLogger } from '@qchat/runtime';
import { Outbox, type Job } from '../src/outbox';

function harness(max = 10) {
  const counts: string[] = [];
  const done: string[] = [];
  const outbox = new Outbox({
    name: 'test',
    max,
    maxAttempts: 3,
    log: silentLogger(),
    count: (kind, outcome) => counts.push(`${kind}:${outcome}`),
    length: () => undefined,
    done: async (job) => { done.push(job.txnId); },
  });
  return { outbox, counts, done };
}

const idle = async (o: Outbox) => { while (o.pending() > 0) await new Promise((r) => setTimeout(r, 10)); };

describe('Outbox', () => {
  it('sends in order, retries a retryable failure with the same transaction id, and marks sends done', async () => {
    const { outbox, counts, done } = harness();
    const sent: string[] = [];
    let failures = 1;
    const job = (txnId: string): Job => ({
      kind: 'text',
      txnId,
      send: async (t) => {
        if (t === 'a' && failures-- > 0) throw new MatrixError('unreachable', 'down');
        sent.push(t);
      },
    });
    outbox.push(job('a'));
    outbox.push(job('b'));
    expect(outbox.push(job('b'))).toBe(false); // already queued
    await idle(outbox);
    expect(sent).toEqual(['a', 'b']);
    expect(done).toEqual(['a', 'b']);
    expect(counts).toEqual(['text:retried', 'text:sent', 'text:sent']);
  });

  it('drops what does not fit, gives a permanent failure up at once and a retryable one after maxAttempts', async () => {
    const { outbox, counts, done } = harness(2);
    outbox.push({ kind: 'ping', txnId: 'refused', send: async () => { throw new MatrixError('refused', 'M_FORBIDDEN'); } });
    outbox.push({ kind: 'ping', txnId: 'flaky', send: async () => { throw new MatrixError('rate_limited', 'slow down', { retryAfterMs: 5 }); } });
    expect(outbox.push({ kind: 'ping', txnId: 'extra', send: async () => undefined })).toBe(false);
    await idle(outbox);
    expect(counts).toEqual(['ping:dropped', 'ping:failed', 'ping:retried', 'ping:retried', 'ping:dropped']);
    expect(done).toEqual(['refused']);
    await outbox.stop();
  });
});
