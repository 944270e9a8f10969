/**
 * gischat's Matrix endpoints (protocol.md §2.4) without its defects (§6 D15): GET /matrix (a test page),
 * POST /matrix/register (credentials kept in memory, briefly), WS /matrix/{request_id}/ws (continuous sync,
 * allow-listed homeservers, clear close reasons). Mounted when MATRIX_CHAT_ENABLED.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { Requester, Unsubscribe } from '@qchat/bus';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { readRawBody, decodeJsonBody } from '../http/body';
import { sendDetail, sendHtml, sendJson } from '../http/json';
import type { Endpoint } from '../http/routes';
import { normalizeHomeserver } from './config';
import { createMatrixEdgeMetrics } from './metrics';
import { setPagePolicy } from '../http/security-headers';
import { MATRIX_PAGE, MATRIX_PAGE_CSP } from './page';
import { Registrations, isRequestId, type Registration } from './registrations';
import { MatrixSession } from './session';

export interface MatrixEndpointDeps {
  config: {
    INSTANCE_ID: string;
    MATRIX_HOMESERVERS: readonly string[];
    MATRIX_REGISTRATION_TTL_SECONDS: number;
    MAX_HTTP_BODY_BYTES: number;
    REQUEST_TIMEOUT_MS: number;
    WS_PING_INTERVAL: number;
    limits: { maxMessageLength: number };
  };
  requester: Requester;
  registry: Registry;
  log: Logger;
}

const PATH = /^\/matrix\/([^/]+)\/ws$/;
const FIELDS = ['homeserver', 'room_id', 'user', 'password'] as const;
/** Longest accepted value of each field (gischat has none): registrations live in memory. */
const MAX_LENGTH: Record<string, number> = { homeserver: 2048, room_id: 512, user: 512, password: 1024, device_id: 512 };
/** Registrations waiting for their socket on one edge, at most. */
const MAX_PENDING = 10_000;

type FieldError = { type: string; loc: (string | number)[]; msg: string; input: unknown };

/** The register body as gischat's pydantic model reads it: four required strings, `device_id` optional. */
export function parseRegistration(value: unknown): { ok: true; reg: Registration } | { ok: false; errors: FieldError[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, errors: [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: value }] };
  }
  const body = value as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const field of [...FIELDS, 'device_id'] as const) {
    const v = body[field];
    if (v === undefined && field === 'device_id') continue;
    if (v === undefined) errors.push({ type: 'missing', loc: ['body', field], msg: 'Field required', input: field === 'password' ? '***' : body });
    else if (typeof v !== 'string') errors.push({ type: 'string_type', loc: ['body', field], msg: 'Input should be a valid string', input: field === 'password' ? '***' : v });
    else if (v.length > MAX_LENGTH[field]!) errors.push({ type: 'string_too_long', loc: ['body', field], msg: `String should have at most ${MAX_LENGTH[field]} characters`, input: '…' });
  }
  if (errors.length > 0) return { ok: false, errors };
  const s = (k: string) => body[k] as string;
  return { ok: true, reg: { homeserver: s('homeserver'), room_id: s('room_id'), user: s('user'), password: s('password'), device_id: (body.device_id as string | undefined) ?? randomUUID().replaceAll('-', '') } };
}

export class MatrixEndpoint {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, clientTracking: false });
  private readonly sessions = new Set<MatrixSession>();
  private readonly running = new Set<Promise<void>>();
  private readonly metrics;
  private readonly registrations: Registrations;
  private readonly allowed: ReadonlySet<string>;
  private unserve: Unsubscribe | undefined;

  constructor(private readonly deps: MatrixEndpointDeps) {
    this.metrics = createMatrixEdgeMetrics(deps.registry);
    this.allowed = new Set(deps.config.MATRIX_HOMESERVERS);
    this.registrations = new Registrations({
      requester: deps.requester,
      instance: deps.config.INSTANCE_ID,
      ttlMs: deps.config.MATRIX_REGISTRATION_TTL_SECONDS * 1000,
      timeoutMs: deps.config.REQUEST_TIMEOUT_MS,
      log: deps.log,
      registry: deps.registry,
      onExpired: () => this.metrics.registrations.inc({ outcome: 'expired' }),
    });
    if (this.allowed.size === 0) deps.log.warn('MATRIX_CHAT_ENABLED without MATRIX_HOMESERVERS: every /matrix login is refused');
  }

  async start(): Promise<void> {
    this.unserve = await this.registrations.serve();
  }

  endpoints(): Endpoint[] {
    const page: RequestHandler = (_req, res) => {
      setPagePolicy(res, MATRIX_PAGE_CSP);
      sendHtml(res, MATRIX_PAGE);
    };
    const register: RequestHandler = async (req, res) => {
      const raw = await readRawBody(req, this.deps.config.MAX_HTTP_BODY_BYTES);
      if (!raw.ok) return sendDetail(res, 413, 'Request body too large');
      const decoded = decodeJsonBody(raw.bytes);
      if (!decoded.ok) {
        this.metrics.registrations.inc({ outcome: 'invalid' });
        return sendDetail(res, decoded.status, decoded.detail);
      }
      const parsed = parseRegistration(decoded.value);
      if (!parsed.ok) {
        this.metrics.registrations.inc({ outcome: 'invalid' });
        return sendDetail(res, 422, parsed.errors);
      }
      if (this.registrations.size() >= MAX_PENDING) return sendDetail(res, 429, 'Too many pending Matrix registrations, try again later.');
      const requestId = this.registrations.add(parsed.reg);
      this.metrics.registrations.inc({ outcome: 'registered' });
      this.deps.log.info({ homeserver: parsed.reg.homeserver }, 'matrix registration received');
      sendJson(res, 200, { request_id: requestId });
    };
    return [
      { path: '/matrix', handlers: { get: page } },
      { path: '/matrix/register', handlers: { post: register } },
    ];
  }

  /** gischat's operation ids; the WebSocket is described in the register answer. */
  openApiPaths(): Record<string, object> {
    const detail = { type: 'object', properties: { detail: {} } };
    return {
      '/matrix': {
        get: { summary: 'Get Matrix Ws Page', operationId: 'get_matrix_ws_page_matrix_get', responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } } } },
      },
      '/matrix/register': {
        post: {
          summary: 'Post Matrix Registration Request',
          operationId: 'post_matrix_registration_request_matrix_register_post',
          description: 'Keeps the credentials in memory for MATRIX_REGISTRATION_TTL_SECONDS; then open WS /matrix/{request_id}/ws, '
            + 'which logs in (homeservers of MATRIX_HOMESERVERS only), relays the room text messages as `text` frames and posts '
            + 'the `text` frames it receives. Failures close it with a reason: 4500 homeserver not allowed, 4400 unreachable, '
            + '4501 login failed, 4502 room unusable, 4503 session ended.',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['homeserver', 'room_id', 'user', 'password'],
                  properties: Object.fromEntries(Object.entries(MAX_LENGTH).map(([k, max]) => [k, { type: 'string', maxLength: max }])),
                },
              },
            },
          },
          responses: {
            200: { description: 'Successful Response', content: { 'application/json': { schema: { type: 'object', properties: { request_id: { type: 'string', format: 'uuid' } } } } } },
            422: { description: 'Validation Error', content: { 'application/json': { schema: detail } } },
            429: { description: 'Too many pending registrations', content: { 'application/json': { schema: detail } } },
          },
        },
      },
    };
  }

  /** Handles the upgrade when the path is /matrix/…/ws (true), else leaves it to the channel gateway (false). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const m = PATH.exec((req.url ?? '').split('?')[0] ?? '');
    if (!m) return false;
    let id = '';
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      // Malformed percent-encoding (`%zz`): not a request id; refused below, never thrown out of the upgrade handler.
    }
    const refuse = () => {
      const body = `Request '${id}' is not registered.`;
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    if (!isRequestId(id.toLowerCase())) {
      refuse();
      return true;
    }
    this.registrations.take(id).then((reg) => {
      if (!reg) return refuse();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, reg));
    }, () => refuse());
    return true;
  }

  private open(ws: WebSocket, reg: Registration): void {
    const session = new MatrixSession(ws, reg, {
      allowed: (hs) => {
        const n = normalizeHomeserver(hs);
        return n && this.allowed.has(n) ? n : null;
      },
      maxTextLength: this.deps.config.limits.maxMessageLength,
      log: this.deps.log.child({ matrix: randomUUID().slice(0, 8) }),
      closed: (reason) => this.metrics.closes.inc({ reason }),
    });
    this.sessions.add(session);
    this.metrics.sessions.set(this.sessions.size);
    let alive = true;
    ws.on('pong', () => { alive = true; });
    const keepalive = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, this.deps.config.WS_PING_INTERVAL * 1000);
    keepalive.unref();
    const run = session.run().finally(() => {
      clearInterval(keepalive);
      this.sessions.delete(session);
      this.running.delete(run);
      this.metrics.sessions.set(this.sessions.size);
    });
    this.running.add(run);
  }

  /** Closes every socket with 1001 and waits (bounded) for their logouts. */
  async drain(timeoutMs: number): Promise<void> {
    for (const s of this.sessions) s.shutdown();
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.registrations.clear();
    await this.unserve?.().catch(() => undefined);
    this.wss.close();
  }
}
