import { ErrorCode, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { QChatError } from '@qchat/protocol';
import type { Unsubscribe } from './broker';
import type { Requester, Responder } from './requester';

function toQChatError(err: unknown, subject: string): QChatError {
  const code = (err as NatsError | undefined)?.code;
  if (code === ErrorCode.NoResponders) return new QChatError('no_responders', `no responders on ${subject}`, { cause: err });
  if (code === ErrorCode.Timeout) return new QChatError('timeout', `request on ${subject} timed out`, { cause: err });
  return new QChatError('unavailable', `request on ${subject} failed: ${(err as Error)?.message ?? err}`, { cause: err });
}

/** NATS request/reply with queue groups; the connection reconnects by itself (see connectNats). */
export class NatsRequester implements Requester {
  private readonly subs = new Set<Subscription>();

  constructor(private readonly nc: NatsConnection) {}

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.nc.isClosed()) throw new QChatError('unavailable', 'NATS connection closed');
    // While reconnecting, the client would buffer the request and send it once back, possibly after the caller gave
    // up and answered its client (one frame, two outcomes): fail at once instead; callers retry with backoff.
    if (this.reconnecting) throw new QChatError('unavailable', `NATS reconnecting: request on ${subject} not sent`);
    try {
      const msg = await this.nc.request(subject, data, { timeout: timeoutMs });
      return msg.data;
    } catch (err) {
      throw toQChatError(err, subject);
    }
  }

  async serve(subject: string, queue: string, respond: Responder): Promise<Unsubscribe> {
    const sub = this.nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err) return;
        respond(msg.data).then(
          (reply) => { msg.respond(reply); },
          () => { /* respond() never rejects: the RPC layer turns failures into error replies */ },
        );
      },
    });
    this.subs.add(sub);
    await this.nc.flush();
    return async () => {
      this.subs.delete(sub);
      if (!sub.isClosed()) await sub.drain();
    };
  }

  ready(): boolean {
    return !this.nc.isClosed() && !this.reconnecting;
  }

  private reconnecting = false;
  /** Tracks connection state from the client's status stream (started by connectNats). */
  setReconnecting(value: boolean): void {
    this.reconnecting = value;
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch {
      // already draining, or the connection failed meanwhile: closed below
    }
    // While NATS is unreachable, drain() resolves yet leaves the connection draining and reconnecting forever,
    // which keeps the process alive after stop(): close it outright.
    if (!this.nc.isClosed()) await this.nc.close();
  }
}
