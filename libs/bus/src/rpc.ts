/**
 * Typed request/reply over any Requester: JSON encoding, the {ok,data}|{ok,error} reply shape, timeouts,
 * retries of retryable failures, and a duration observation per call. Handlers throw QChatError to answer
 * with a stable code; anything else becomes `internal` and is logged once here.
 */
import { QChatError, isErrorCode, type ErrorCode } from '@qchat/protocol';
import type { Logger } from 'pino';
import type { Requester, Unsubscribe } from './requester';

type Reply<T> = { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string } };

export interface RpcObserver {
  /** `op` is the subject without its `qchat.<instance>.` prefix; outcome is `ok` or an error code. */
  observe(op: string, outcome: string, seconds: number): void;
  /** Called before each retry of a retryable failure. */
  retried?(op: string, code: string): void;
}

export interface CallOptions {
  timeoutMs?: number;
  /** Extra attempts after a retryable failure (no responders, timeout, unavailable). */
  retries?: number;
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');
const decode = (data: Uint8Array): unknown => JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));

export function opName(subject: string): string {
  return subject.split('.').slice(2).join('.') || subject;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RpcClient {
  constructor(
    private readonly requester: Requester,
    private readonly defaults: { timeoutMs: number; retries: number; observer?: RpcObserver },
  ) {}

  async call<Req, Res>(subject: string, body: Req, opts: CallOptions = {}): Promise<Res> {
    const timeoutMs = opts.timeoutMs ?? this.defaults.timeoutMs;
    const retries = opts.retries ?? this.defaults.retries;
    const data = encode(body); // once: a body can be megabytes, and retries send the same bytes
    for (let attempt = 0; ; attempt++) {
      const started = process.hrtime.bigint();
      let outcome = 'ok';
      try {
        const raw = await this.requester.request(subject, data, timeoutMs);
        const reply = decode(raw) as Reply<Res>;
        if (reply.ok) return reply.data;
        outcome = reply.error.code;
        throw new QChatError(isErrorCode(reply.error.code) ? reply.error.code : 'internal', reply.error.message);
      } catch (err) {
        const e = err instanceof QChatError ? err : new QChatError('internal', String(err), { cause: err });
        outcome = e.code;
        if (!e.retryable || attempt >= retries) throw e;
        this.defaults.observer?.retried?.(opName(subject), e.code);
        await sleep(50 * 2 ** attempt);
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.defaults.observer?.observe(opName(subject), outcome, seconds);
      }
    }
  }
}

export function serveRpc<Req, Res>(
  requester: Requester,
  subject: string,
  queue: string,
  handler: (body: Req) => Promise<Res>,
  log: Logger,
): Promise<Unsubscribe> {
  return requester.serve(subject, queue, async (data) => {
    let reply: Reply<Res>;
    try {
      reply = { ok: true, data: await handler(decode(data) as Req) };
    } catch (err) {
      if (err instanceof QChatError && err.code !== 'internal') {
        reply = { ok: false, error: { code: err.code, message: err.message } };
      } else {
        log.error({ err, op: opName(subject) }, 'request failed');
        reply = { ok: false, error: { code: 'internal', message: 'internal error' } };
      }
    }
    return encode(reply);
  });
}
