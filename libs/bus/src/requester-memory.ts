import { QChatError } from '@qchat/protocol';
import type { Requester, Responder, Unsubscribe } from './requester';

interface Member { queue: string; respond: Responder }

/** In-process request/reply with queue-group semantics (round robin within a group, every group gets a copy). */
export class MemoryRequester implements Requester {
  readonly mode = 'memory';
  private readonly subjects = new Map<string, Member[]>();
  private readonly cursor = new Map<string, number>();
  private closed = false;

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) throw new QChatError('unavailable', 'requester closed');
    const members = this.subjects.get(subject) ?? [];
    if (members.length === 0) throw new QChatError('no_responders', `no responders on ${subject}`);
    const groups = new Map<string, Member[]>();
    for (const m of members) groups.set(m.queue, [...(groups.get(m.queue) ?? []), m]);
    const answers: Promise<Uint8Array>[] = [];
    for (const [queue, group] of groups) {
      const key = `${subject}\u0000${queue}`;
      const i = (this.cursor.get(key) ?? 0) % group.length;
      this.cursor.set(key, i + 1);
      const copy = Uint8Array.from(data);
      answers.push(new Promise<void>((r) => setImmediate(r)).then(() => group[i]!.respond(copy)));
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QChatError('timeout', `request on ${subject} timed out`)), timeoutMs);
    });
    try {
      return await Promise.race([Promise.any(answers), timeout]);
    } catch (err) {
      // A responder that throws is answered with its failure, as the NATS adapter does with an error header.
      const first: unknown = err instanceof AggregateError ? err.errors[0] : err;
      if (first instanceof QChatError) throw first;
      throw new QChatError('unavailable', `request on ${subject} failed: ${(first as Error)?.message ?? first}`, { cause: first });
    } finally {
      clearTimeout(timer);
    }
  }

  async serve(subject: string, queue: string, respond: Responder): Promise<Unsubscribe> {
    const member = { queue, respond };
    this.subjects.set(subject, [...(this.subjects.get(subject) ?? []), member]);
    return async () => {
      this.subjects.set(subject, (this.subjects.get(subject) ?? []).filter((m) => m !== member));
    };
  }

  ready(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subjects.clear();
  }
}
