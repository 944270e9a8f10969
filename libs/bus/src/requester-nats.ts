import { Empty, ErrorCode, createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { QChatError, isErrorCode } from '@qchat/protocol';
import type { Logger } from 'pino';
import type { Requester, Responder, Unsubscribe } from './requester';

/**
 * Bodies larger than the server's `max_payload` (1 MiB by default) travel in parts. The message itself carries the
 * first part and three headers; the rest is pulled, part by part, from a short-lived inbox of the sender's:
 *
 *   Qchat-Parts: 4   Qchat-Bytes: 3670016   Qchat-Source: _INBOX.abc      (the receiver asks _INBOX.abc for parts 1..3)
 *
 * Pulling keeps the sender in control (nothing is sent that nobody asked for, a dead receiver costs one timer) and
 * needs nothing but NATS. A transport failure is answered with a `Qchat-Error: <code> <message>` header instead of a
 * reply, so a requester always gets an answer and a responder never throws.
 */
const H_PARTS = 'Qchat-Parts';
const H_BYTES = 'Qchat-Bytes';
const H_SOURCE = 'Qchat-Source';
const H_PART = 'Qchat-Part';
const H_ERROR = 'Qchat-Error';
/** Room left in each message for headers and protocol overhead. */
const HEADROOM_BYTES = 16 * 1024;
/** Largest body accepted in parts: far above any limit a message can reach, bounding what a forged header can cost. */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;
/** Most parts a body may announce (256 MiB in parts of 1 MiB − 16 KiB is 261), and how many are asked at once. */
const MAX_PARTS = 4_096;
const PARTS_AT_ONCE = 8;
/** How long a responder may take to pull a request's parts (all of them), and how long a sender serves its parts
 * beyond its own deadline when nobody finishes pulling. */
const PART_TIMEOUT_MS = 10_000;
const SOURCE_TTL_MS = 30_000;

function toQChatError(err: unknown, subject: string): QChatError {
  if (err instanceof QChatError) return err;
  const code = (err as NatsError | undefined)?.code;
  if (code === ErrorCode.NoResponders) return new QChatError('no_responders', `no responders on ${subject}`, { cause: err });
  if (code === ErrorCode.Timeout) return new QChatError('timeout', `request on ${subject} timed out`, { cause: err });
  return new QChatError('unavailable', `request on ${subject} failed: ${(err as Error)?.message ?? err}`, { cause: err });
}

function errorHeaders(err: QChatError): MsgHdrs {
  const h = natsHeaders();
  h.set(H_ERROR, `${err.code} ${err.message.replace(/[\r\n]+/g, ' ').slice(0, 500)}`);
  return h;
}

function errorFromHeader(value: string): QChatError {
  const cut = value.indexOf(' ');
  const code = cut < 0 ? value : value.slice(0, cut);
  return new QChatError(isErrorCode(code) ? code : 'unavailable', cut < 0 ? code : value.slice(cut + 1));
}

/** What goes out in the message itself, and the inbox serving the other parts while `close` is not called. */
interface Offer { first: Uint8Array; headers?: MsgHdrs; close(): void }

/** NATS request/reply with queue groups; the connection reconnects by itself (see connectNats). */
export class NatsRequester implements Requester {
  readonly mode = 'nats';
  private readonly subs = new Set<Subscription>();

  constructor(private readonly nc: NatsConnection, private readonly log?: Logger) {}

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.nc.isClosed()) throw new QChatError('unavailable', 'NATS connection closed');
    // While reconnecting, the client would buffer the request and send it once back, possibly after the caller gave
    // up and answered its client (one frame, two outcomes): fail at once instead; callers retry with backoff.
    if (this.reconnecting) throw new QChatError('unavailable', `NATS reconnecting: request on ${subject} not sent`);
    // One deadline for the whole request: sending, the responder's work, and pulling the reply's parts.
    const deadline = Date.now() + timeoutMs;
    let offer: Offer | undefined;
    try {
      offer = this.offer(data, timeoutMs);
      const msg = await this.nc.request(subject, offer.first, { timeout: timeoutMs, headers: offer.headers });
      return await this.collect(msg, deadline, subject);
    } catch (err) {
      throw toQChatError(err, subject);
    } finally {
      offer?.close();
    }
  }

  async serve(subject: string, queue: string, respond: Responder): Promise<Unsubscribe> {
    const sub = this.nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err) return;
        void this.answer(subject, msg, respond);
      },
    });
    this.subs.add(sub);
    await this.nc.flush();
    return async () => {
      this.subs.delete(sub);
      if (!sub.isClosed()) await sub.drain();
    };
  }

  /** Gathers the request, runs the responder, sends the reply; every failure becomes an error header, never a throw. */
  private async answer(subject: string, msg: Msg, respond: Responder): Promise<void> {
    let reply: Uint8Array;
    try {
      reply = await respond(await this.collect(msg, Date.now() + PART_TIMEOUT_MS, subject));
    } catch (err) {
      this.fail(msg, toQChatError(err, subject));
      return;
    }
    let offer: Offer | undefined;
    try {
      offer = this.offer(reply, SOURCE_TTL_MS);
      msg.respond(offer.first, { headers: offer.headers });
    } catch (err) {
      offer?.close();
      this.log?.warn({ err, subject, bytes: reply.length }, 'reply could not be sent; answered with an error');
      this.fail(msg, new QChatError('unavailable', `reply on ${subject} could not be sent`));
    }
  }

  private fail(msg: Msg, err: QChatError): void {
    try {
      msg.respond(Empty, { headers: errorHeaders(err) });
    } catch (sendErr) {
      this.log?.warn({ err: sendErr, code: err.code }, 'error reply could not be sent');
    }
  }

  private partBytes(): number {
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
    return Math.max(1024, max - HEADROOM_BYTES);
  }

  /** The whole body when it fits in one message; otherwise its first part, and an inbox serving the others. */
  private offer(data: Uint8Array, ttlMs: number): Offer {
    const size = this.partBytes();
    if (data.length <= size) return { first: data, close: () => undefined };
    const parts = Math.ceil(data.length / size);
    const inbox = createInbox();
    let timer: NodeJS.Timeout | undefined;
    const served = new Set<number>();
    const sub = this.nc.subscribe(inbox, {
      callback: (err, m) => {
        if (err) return;
        const k = Number(m.headers?.get(H_PART));
        try {
          if (!Number.isInteger(k) || k < 1 || k >= parts) m.respond(Empty, { headers: errorHeaders(new QChatError('bad_frame', `no part ${k}`)) });
          else m.respond(data.subarray(k * size, (k + 1) * size));
        } catch (sendErr) {
          this.log?.warn({ err: sendErr, part: k }, 'part could not be sent');
        }
        // Every part handed out: the body need not stay in memory until the timer.
        if (Number.isInteger(k) && k >= 1 && k < parts) served.add(k);
        if (served.size === parts - 1) close();
      },
    });
    const close = () => {
      clearTimeout(timer);
      if (!sub.isClosed()) sub.unsubscribe();
    };
    timer = setTimeout(close, ttlMs + PART_TIMEOUT_MS);
    timer.unref();
    const h = natsHeaders();
    h.set(H_PARTS, String(parts));
    h.set(H_BYTES, String(data.length));
    h.set(H_SOURCE, inbox);
    return { first: data.subarray(0, size), headers: h, close };
  }

  /**
   * The body a message stands for: its data, or its parts put back together by `deadline` (ms since the epoch, shared
   * by every part); an error header becomes a throw.
   */
  private async collect(msg: Msg, deadline: number, subject: string): Promise<Uint8Array> {
    const h = msg.headers;
    if (!h) return msg.data;
    const error = h.get(H_ERROR);
    if (error) throw errorFromHeader(error);
    const parts = Number(h.get(H_PARTS) || '1');
    if (parts === 1) return msg.data;
    const total = Number(h.get(H_BYTES));
    const source = h.get(H_SOURCE);
    const size = msg.data.length;
    // Every part but the last has the first part's size: the announcement must say exactly that, within bounds.
    if (!Number.isInteger(total) || total <= size || total > MAX_BODY_BYTES || !source?.startsWith('_INBOX.') || size === 0 || parts !== Math.ceil(total / size) || parts > MAX_PARTS) {
      throw new QChatError('bad_frame', `malformed multi-part message (${h.get(H_PARTS)} parts, ${h.get(H_BYTES)} bytes)`);
    }
    // Parts are asked a few at a time, and memory grows only with what actually arrives.
    const chunks: Uint8Array[] = [msg.data];
    let offset = size;
    for (let next = 1; next < parts; next += PARTS_AT_ONCE) {
      const left = deadline - Date.now();
      if (left <= 0) throw new QChatError('timeout', `request on ${subject} timed out while its parts were pulled`);
      const batch = await Promise.all(Array.from({ length: Math.min(PARTS_AT_ONCE, parts - next) }, (_, i) => {
        const ask = natsHeaders();
        ask.set(H_PART, String(next + i));
        return this.nc.request(source, Empty, { timeout: Math.min(left, PART_TIMEOUT_MS), headers: ask });
      }));
      for (const part of batch) {
        const partError = part.headers?.get(H_ERROR);
        if (partError) throw errorFromHeader(partError);
        offset += part.data.length;
        if (offset > total) throw new QChatError('bad_frame', 'multi-part message longer than announced');
        chunks.push(part.data);
      }
    }
    if (offset !== total) throw new QChatError('bad_frame', `multi-part message of ${offset} bytes, ${total} announced`);
    return Buffer.concat(chunks, total);
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
