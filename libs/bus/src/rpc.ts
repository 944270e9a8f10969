/**
 * The internal API over any Requester, typed by the operation table (libs/protocol/src/operations.ts): JSON
 * encoding, the {ok,data}|{ok,error} reply shape, each operation's timeout and retries, metrics on both sides, the
 * shape guard of every request, and outage logging on the serving side. Handlers throw QChatError to answer with a
 * stable code; anything else becomes `internal` and is logged once here.
 */
import {
  OPERATIONS, QChatError, isErrorCode, isOutage, operationsOf, queueOf, serviceOf, subjectOf,
  type ErrorCode, type OpName, type OpsOf, type Req, type Res, type Service, type Timeouts,
} from '@qchat/protocol';
import { OutageLog, type Registry } from '@qchat/runtime';
import type { Logger } from 'pino';
import type { Requester, Unsubscribe } from './requester';
import { callMetrics, servedMetrics, type CallMetrics } from './rpc-metrics';

type Reply<T> = { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string } };

export interface CallOptions {
  /** Overrides the operation's timeout (a startup probe that must not wait long). */
  timeoutMs?: number;
  /** Overrides the operation's retries. */
  retries?: number;
  /** The member addressed, for operations served per member (`matrix.take`). */
  target?: string;
}

export interface RpcClientOptions {
  instance: string;
  timeouts: Timeouts;
  /** Where qchat_bus_request_duration_seconds and qchat_bus_request_retries_total go; none: not measured. */
  registry?: Registry;
  /** Seen before the metrics, for tests. */
  onAttempt?(op: OpName, outcome: string): void;
  /** Calls that fail for an outage (after their retries) logged once per outage, when it starts and when it ends. */
  outage?: Pick<OutageLog, 'failed' | 'succeeded'>;
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');
/** The one place a body from NATS is parsed: callers of it check what they got (a guard, or the reply shape). */
const decode = (data: Uint8Array): unknown => JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));

function isReply(v: unknown): v is Reply<unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const ok: unknown = Reflect.get(v, 'ok');
  if (ok === true) return Object.hasOwn(v, 'data');
  const error: unknown = Reflect.get(v, 'error');
  return ok === false && typeof error === 'object' && error !== null && typeof Reflect.get(error, 'message') === 'string';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RpcClient {
  private readonly metrics: CallMetrics | undefined;

  constructor(private readonly requester: Requester, private readonly options: RpcClientOptions) {
    this.metrics = options.registry ? callMetrics(options.registry) : undefined;
  }

  /** One operation, with its policy from the table: each attempt waits its timeout; retryable failures are retried. */
  async call<K extends OpName>(op: K, body: Req<K>, opts: CallOptions = {}): Promise<Res<K>> {
    const policy = OPERATIONS[op];
    const timeoutMs = opts.timeoutMs ?? policy.timeoutMs(body, this.options.timeouts);
    const retries = opts.retries ?? policy.retries;
    const subject = subjectOf(this.options.instance, op, opts.target);
    const data = encode(body); // once: a body can be megabytes, and retries send the same bytes
    for (let attempt = 0; ; attempt++) {
      const started = process.hrtime.bigint();
      let outcome = 'ok';
      try {
        const reply = await this.attempt<K>(subject, data, timeoutMs);
        this.options.outage?.succeeded();
        return reply;
      } catch (err) {
        const e = err instanceof QChatError ? err : new QChatError('internal', String(err), { cause: err });
        outcome = e.code;
        if (!e.retryable || attempt >= retries) {
          if (isOutage(e)) this.options.outage?.failed(e, { op });
          throw e;
        }
        this.metrics?.retried(op, e.code);
        await sleep(50 * 2 ** attempt);
      } finally {
        this.options.onAttempt?.(op, outcome);
        this.metrics?.called(op, outcome, Number(process.hrtime.bigint() - started) / 1e9);
      }
    }
  }

  private async attempt<K extends OpName>(subject: string, data: Uint8Array, timeoutMs: number): Promise<Res<K>> {
    const reply = decode(await this.requester.request(subject, data, timeoutMs));
    if (!isReply(reply)) throw new QChatError('internal', `malformed reply on ${subject}`);
    if (!reply.ok) throw new QChatError(isErrorCode(reply.error.code) ? reply.error.code : 'internal', reply.error.message);
    return answer<K>(reply.data);
  }
}

/**
 * Replies come from our own servers, which built them from the same table: trusted for their shape (requests are
 * the untrusted side, checked by serveOperations). The one unchecked conversion of the internal API.
 */
function answer<K extends OpName>(data: unknown): Res<K> {
  return data as Res<K>;
}

/** Every operation of a service, each with its own request and reply types. */
export type Handlers<S extends Service> = { [K in OpsOf<S>]: (req: Req<K>) => Promise<Res<K>> };

export interface ServeOptions {
  log: Logger;
  /** Where qchat_bus_handled_duration_seconds goes; none: not measured. */
  registry?: Registry;
  /**
   * Failures that mean a dependency is away (Redis down), not a bug: answered `unavailable` (retryable) instead of
   * `internal`. Handlers may also throw `unavailable` with the dependency's error as `cause`: both count as an outage.
   */
  unavailable?(err: unknown): boolean;
  /** Names the dependency in outage logs and `unavailable` messages; `<service> store` by default. */
  dependency?: string;
  /** The member addressed, for operations served per member (`matrix.take`). */
  target?: string;
}

/**
 * Serves every operation of `service` as a member of its queue group. Per request, in this order: parse and shape
 * guard (a bad body is answered `bad_frame`), the handler, the reply; each request observed once in
 * qchat_bus_handled_duration_seconds{op,outcome}; a dependency outage is logged when it starts and when it ends.
 */
export async function serveOperations<S extends Service>(
  requester: Requester,
  instance: string,
  service: S,
  handlers: Handlers<S>,
  options: ServeOptions,
): Promise<Unsubscribe> {
  const { log } = options;
  const dependency = options.dependency ?? `${service} store`;
  const outage = new OutageLog(log, dependency);
  const ops = operationsOf(service);
  const metrics = options.registry ? servedMetrics(options.registry) : undefined;
  metrics?.serving(ops);

  /** A handler's failure as the reply's error; an outage is logged, a bug too. */
  function failure(op: OpName, err: unknown): QChatError {
    if (!(err instanceof QChatError) && options.unavailable?.(err)) {
      err = new QChatError('unavailable', `${dependency} unavailable`, { cause: err });
    }
    if (err instanceof QChatError && err.code !== 'internal') {
      if (err.code === 'unavailable' && err.cause !== undefined) outage.failed(err.cause, { op });
      return err;
    }
    log.error({ err, op }, 'request failed');
    return new QChatError('internal', 'internal error');
  }

  function serveOne<K extends OpsOf<S>>(op: K): Promise<Unsubscribe> {
    const handler = handlers[op];
    const shape = OPERATIONS[op].shape;
    return requester.serve(subjectOf(instance, op, options.target), queueOf(serviceOf(op), options.target), async (data) => {
      const started = process.hrtime.bigint();
      let reply: Reply<Res<K>>;
      try {
        const body = parse(data);
        if (!shape(body)) throw new QChatError('bad_frame', `malformed ${op} request`);
        reply = { ok: true, data: await handler(body) };
        outage.succeeded();
      } catch (err) {
        const e = failure(op, err);
        if (e.code === 'bad_frame') log.debug({ op, error: e.message }, 'request refused');
        reply = { ok: false, error: { code: e.code, message: e.message } };
      }
      metrics?.served(op, reply.ok ? 'ok' : reply.error.code, Number(process.hrtime.bigint() - started) / 1e9);
      return encode(reply);
    });
  }

  const stops: Unsubscribe[] = [];
  try {
    for (const op of ops) stops.push(await serveOne(op));
  } catch (err) {
    await Promise.allSettled(stops.map((stop) => stop()));
    throw err;
  }
  return async () => {
    await Promise.allSettled(stops.map((stop) => stop()));
  };
}

function parse(data: Uint8Array): unknown {
  try {
    return decode(data);
  } catch {
    throw new QChatError('bad_frame', 'request is not JSON');
  }
}
