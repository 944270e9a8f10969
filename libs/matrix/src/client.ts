/**
 * The few Matrix client-server API calls QChat needs, over fetch: login, logout, whoami, join, sync, send,
 * media upload and download. No SDK: matrix-js-sdk and matrix-bot-sdk keep their own stores, crypto and sync
 * loops we would have to tame; these dozen requests are the whole contract, and every failure becomes one
 * MatrixError kind the caller can act on.
 */
import { MatrixError } from './errors';

export interface MatrixEvent {
  type: string;
  event_id: string;
  sender: string;
  origin_server_ts?: number;
  state_key?: string;
  content: Record<string, unknown>;
  unsigned?: Record<string, unknown>;
}

export interface JoinedRoomSync {
  state?: { events?: MatrixEvent[] };
  timeline?: { events?: MatrixEvent[]; limited?: boolean; prev_batch?: string };
}

export interface SyncResponse {
  next_batch: string;
  rooms?: { join?: Record<string, JoinedRoomSync> };
}

export interface ClientOptions {
  homeserver: string;
  accessToken?: string;
  /** Timeout of one request (a long-poll sync adds its own wait on top). */
  timeoutMs?: number;
  /** For tests and metrics: defaults to the global fetch. */
  fetch?: typeof fetch;
}

const enc = encodeURIComponent;

export class MatrixClient {
  readonly homeserver: string;
  accessToken: string | undefined;
  private readonly timeoutMs: number;
  private readonly doFetch: typeof fetch;

  constructor(opts: ClientOptions) {
    this.homeserver = opts.homeserver.replace(/\/+$/, '');
    this.accessToken = opts.accessToken;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.doFetch = opts.fetch ?? fetch;
  }

  /** Password login; keeps the access token. The password is not kept. */
  async login(user: string, password: string, deviceId?: string): Promise<{ userId: string; deviceId: string }> {
    const body = {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user },
      password,
      ...(deviceId ? { device_id: deviceId } : {}),
      initial_device_display_name: 'QChat',
    };
    const res = await this.call<{ access_token: string; user_id: string; device_id: string }>('POST', '/_matrix/client/v3/login', { body, auth: false });
    this.accessToken = res.access_token;
    return { userId: res.user_id, deviceId: res.device_id };
  }

  /** Invalidates the access token on the homeserver. */
  async logout(): Promise<void> {
    if (!this.accessToken) return;
    await this.call('POST', '/_matrix/client/v3/logout', { body: {} });
    this.accessToken = undefined;
  }

  async whoami(): Promise<string> {
    return (await this.call<{ user_id: string }>('GET', '/_matrix/client/v3/account/whoami')).user_id;
  }

  /** Joins a room by id or alias (a no-op when already joined); resolves with the room id. */
  async join(roomIdOrAlias: string): Promise<string> {
    return (await this.call<{ room_id: string }>('POST', `/_matrix/client/v3/join/${enc(roomIdOrAlias)}`, { body: {} })).room_id;
  }

  async sync(opts: { since?: string; timeoutMs?: number; filter?: string | object; signal?: AbortSignal }): Promise<SyncResponse> {
    const q = new URLSearchParams();
    if (opts.since) q.set('since', opts.since);
    q.set('timeout', String(opts.timeoutMs ?? 0));
    if (opts.filter !== undefined) q.set('filter', typeof opts.filter === 'string' ? opts.filter : JSON.stringify(opts.filter));
    return this.call<SyncResponse>('GET', `/_matrix/client/v3/sync?${q}`, { extraMs: opts.timeoutMs ?? 0, signal: opts.signal });
  }

  /** Sends a room message; the same `txnId` with the same token is sent once, however often it is retried. */
  async send(roomId: string, txnId: string, content: object, type = 'm.room.message'): Promise<string> {
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`;
    return (await this.call<{ event_id: string }>('PUT', path, { body: content })).event_id;
  }

  async upload(data: Buffer, contentType: string, filename: string): Promise<string> {
    const res = await this.call<{ content_uri: string }>('POST', `/_matrix/media/v3/upload?filename=${enc(filename)}`, { raw: data, contentType });
    return res.content_uri;
  }

  /**
   * Downloads an mxc:// URI, at most `maxBytes` (bigger → MatrixError 'refused'). Authenticated media first
   * (Matrix 1.11), then the legacy endpoint for older homeservers.
   */
  async download(mxc: string, maxBytes: number): Promise<{ data: Buffer; contentType: string }> {
    const m = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxc);
    if (!m) throw new MatrixError('refused', `not an mxc URI: ${mxc}`);
    const tail = `${enc(m[1]!)}/${enc(m[2]!)}`;
    try {
      return await this.fetchBytes(`/_matrix/client/v1/media/download/${tail}`, maxBytes, true);
    } catch (err) {
      if (!(err instanceof MatrixError) || (err.details.status !== 404 && err.details.errcode !== 'M_UNRECOGNIZED')) throw err;
      return this.fetchBytes(`/_matrix/media/v3/download/${tail}`, maxBytes, false);
    }
  }

  private async fetchBytes(path: string, maxBytes: number, auth: boolean): Promise<{ data: Buffer; contentType: string }> {
    const res = await this.request('GET', path, { auth });
    if (!res.ok) throw await failure(res, path);
    return { data: await readCapped(res, maxBytes, 'media'), contentType: res.headers.get('content-type') ?? 'application/octet-stream' };
  }

  private async call<T>(
    method: string,
    path: string,
    opts: { body?: object; raw?: Buffer; contentType?: string; auth?: boolean; extraMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    const res = await this.request(method, path, opts);
    if (!res.ok) throw await failure(res, path);
    try {
      return JSON.parse((await readCapped(res, MAX_JSON_BYTES, 'answer')).toString('utf8')) as T;
    } catch (err) {
      if (err instanceof MatrixError) throw err;
      throw new MatrixError('unreachable', `${this.homeserver} answered ${path} with something that is not JSON`, { status: res.status }, { cause: err });
    }
  }

  private async request(
    method: string,
    path: string,
    opts: { body?: object; raw?: Buffer; contentType?: string; auth?: boolean; extraMs?: number; signal?: AbortSignal },
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (opts.auth !== false) {
      if (!this.accessToken) throw new MatrixError('unauthorized', 'no access token');
      headers.Authorization = `Bearer ${this.accessToken}`;
    }
    let body: string | Buffer | undefined;
    if (opts.raw) {
      body = opts.raw;
      headers['Content-Type'] = opts.contentType ?? 'application/octet-stream';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
    const timeout = AbortSignal.timeout(this.timeoutMs + (opts.extraMs ?? 0));
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      return await this.doFetch(`${this.homeserver}${path}`, { method, headers, body, signal });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const reason = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new MatrixError('unreachable', `homeserver ${this.homeserver} unreachable (${reason})`, {}, { cause: err });
    }
  }
}

/** A homeserver's answer is untrusted input: JSON answers (a sync included) and error bodies are read up to a cap. */
const MAX_JSON_BYTES = 32 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;

/** The body of `res`, refused once it passes maxBytes (announced or as it streams in). */
async function readCapped(res: Response, maxBytes: number, what: string): Promise<Buffer> {
  const length = Number(res.headers.get('content-length') ?? '0');
  if (length > maxBytes) {
    await res.body?.cancel();
    throw new MatrixError('refused', `${what} of ${length} bytes is over the ${maxBytes} bytes allowed`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).byteLength;
    if (size > maxBytes) throw new MatrixError('refused', `${what} is over the ${maxBytes} bytes allowed`);
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

async function failure(res: Response, path: string): Promise<MatrixError> {
  let errcode: string | undefined;
  let message = `HTTP ${res.status}`;
  let retryAfterMs: number | undefined;
  try {
    const body = JSON.parse((await readCapped(res, MAX_ERROR_BYTES, 'error')).toString('utf8')) as { errcode?: string; error?: string; retry_after_ms?: number };
    errcode = typeof body.errcode === 'string' ? body.errcode.slice(0, 100) : undefined;
    if (typeof body.error === 'string' && body.error) message = body.error.slice(0, 500);
    retryAfterMs = body.retry_after_ms;
  } catch {
    // not a Matrix error body (a proxy's page, an empty answer)
  }
  const details = { status: res.status, errcode, retryAfterMs };
  if (res.status === 429 || errcode === 'M_LIMIT_EXCEEDED') return new MatrixError('rate_limited', message, details);
  if (res.status === 401 || (res.status === 403 && (errcode === 'M_FORBIDDEN' || errcode === 'M_UNKNOWN_TOKEN') && /login|whoami|sync/.test(path) && !/rooms|join/.test(path))) {
    return new MatrixError('unauthorized', message, details);
  }
  if (res.status === 502 || res.status === 503 || res.status === 504) return new MatrixError('unreachable', message, details);
  return new MatrixError('refused', errcode ? `${errcode}: ${message}` : message, details);
}
