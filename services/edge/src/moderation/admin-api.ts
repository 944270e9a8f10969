/**
 * The moderation API (`/admin/…`), for moderators with curl. Served only on the admin (ops) port and only when
 * ADMIN_TOKEN is set; every request needs `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time and
 * never logged. Each action writes one audit line. The router can be mounted on any express app.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { normalizeAddress } from '../client-address';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { BanKind } from '@qchat/protocol';
import type { Logger } from 'pino';
import type { Backend } from '../backend';
import { adminOpenApi } from './openapi';

export type AdminBackend = Pick<Backend, 'conns' | 'deleteMessage' | 'clearHistory' | 'kick' | 'ban' | 'unban' | 'bans'>;

export interface AdminDeps {
  token: string;
  backend: AdminBackend;
  log: Logger;
  /** Id of the edge serving the request, written in audit lines. */
  edge: string;
  /** Reported in the OpenAPI document. */
  version?: string;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time check of the bearer token: both sides are hashed first, so their lengths leak nothing either. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(given), digest(token)) && given !== '';
}

function send(res: Response, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.status(status);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Cache-Control', 'no-store');
  res.end(json);
}

const detail = (res: Response, status: number, text: string) => send(res, status, { detail: text });

function errorStatus(err: unknown): [number, string] {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'channel_not_found') return [404, (err as Error).message];
  return [503, 'Service temporarily unavailable'];
}

const NICK = /^[^\s]{1,64}$/;
const MAX_REASON = 200;

function reasonOf(body: Record<string, unknown>): string | null {
  const r = body['reason'] ?? '';
  return typeof r === 'string' && r.length <= MAX_REASON ? r : null;
}

export function createAdminRouter(deps: AdminDeps): Router {
  const { backend, log } = deps;
  const router = express.Router({ strict: true, caseSensitive: true });
  router.use(express.json({ limit: '16kb', type: () => true }));
  const doc = JSON.stringify(adminOpenApi(deps.version ?? 'unknown'));
  router.get('/admin/openapi.json', (_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(doc);
  });

  const audit = (req: Request, action: string, fields: Record<string, unknown>) => {
    log.info({ audit: true, action, edge: deps.edge, from: req.socket.remoteAddress, ...fields }, 'moderation action');
  };

  /** Wraps an action: authentication first, then the handler; failures answer {"detail"} and are audited too. */
  const action = (name: string, handler: (req: Request, res: Response) => Promise<Record<string, unknown>>): RequestHandler =>
    (req, res) => {
      if (!tokenMatches(req.headers.authorization, deps.token)) {
        log.warn({ action: name, from: req.socket.remoteAddress }, 'moderation request refused: missing or wrong token');
        res.setHeader('WWW-Authenticate', 'Bearer');
        return detail(res, 401, 'Not authenticated');
      }
      handler(req, res).then(
        (fields) => audit(req, name, { ...fields, status: res.statusCode }),
        (err: unknown) => {
          const [status, text] = errorStatus(err);
          audit(req, name, { channel: req.params['channel'], status, error: text });
          if (status >= 500) log.warn({ err, action: name }, 'moderation action failed');
          if (!res.headersSent) detail(res, status, text);
        },
      );
    };

  const channelOf = (req: Request) => String(req.params['channel'] ?? '');
  const body = (req: Request): Record<string, unknown> => (typeof req.body === 'object' && req.body !== null ? req.body as Record<string, unknown> : {});

  router.get('/admin/channels/:channel/connections', action('list_connections', async (req, res) => {
    const channel = channelOf(req);
    const { connections } = await backend.conns(channel);
    send(res, 200, connections);
    return { channel, connections: connections.length };
  }));

  router.delete('/admin/channels/:channel/messages/:id', action('delete_message', async (req, res) => {
    const channel = channelOf(req);
    const id = String(req.params['id'] ?? '');
    const { deleted } = await backend.deleteMessage(channel, id);
    if (!deleted) detail(res, 404, `Message '${id}' not found in the history of channel ${channel}`);
    else send(res, 200, { deleted: id });
    return { channel, id, deleted };
  }));

  router.delete('/admin/channels/:channel/messages', action('clear_history', async (req, res) => {
    const channel = channelOf(req);
    const { cleared } = await backend.clearHistory(channel);
    send(res, 200, { cleared });
    return { channel, cleared };
  }));

  const kick = (scoped: boolean) => action('kick', async (req, res) => {
    const b = body(req);
    const nick = b['nickname'];
    const reason = reasonOf(b);
    const channel = scoped ? channelOf(req) : null;
    if (typeof nick !== 'string' || !NICK.test(nick) || reason === null) {
      detail(res, 422, `Body must be {"nickname": <nickname>, "reason": <text up to ${MAX_REASON} characters, optional>}`);
      return { channel, invalid: true };
    }
    await backend.kick(channel, nick, reason);
    send(res, 200, { kicked: nick, channel });
    return { channel, nickname: nick, reason };
  });
  router.post('/admin/channels/:channel/kick', kick(true));
  router.post('/admin/kick', kick(false));

  router.get('/admin/bans', action('list_bans', async (_req, res) => {
    const { bans } = await backend.bans();
    send(res, 200, bans.map((b) => ({ ...b, until: new Date(b.until).toISOString() })));
    return { bans: bans.length };
  }));

  router.post('/admin/bans', action('ban', async (req, res) => {
    const b = body(req);
    const target = banTarget(b);
    const seconds = b['duration_seconds'];
    const reason = reasonOf(b);
    if (target === null || typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || reason === null) {
      detail(res, 422, 'Body must be {"nickname": <nickname>} or {"address": <IP address>}, plus "duration_seconds" (integer ≥ 1) and an optional "reason"');
      return { invalid: true };
    }
    const { ban } = await backend.ban(target.kind, target.value, seconds, reason);
    send(res, 200, { ...ban, until: new Date(ban.until).toISOString() });
    return { kind: ban.kind, target: ban.value, until: new Date(ban.until).toISOString(), reason };
  }));

  router.delete('/admin/bans/:kind/:value', action('unban', async (req, res) => {
    const kind = req.params['kind'];
    const raw = String(req.params['value'] ?? '');
    const value = kind === 'address' ? normalizeAddress(raw) : raw;
    if (kind !== 'nickname' && kind !== 'address') {
      detail(res, 404, 'Not Found');
      return { invalid: true };
    }
    const { removed } = await backend.unban(kind, value);
    if (removed) send(res, 200, { unbanned: value, kind });
    else detail(res, 404, `No ban on ${kind} '${value}'`);
    return { kind, target: value, removed };
  }));

  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // Only body parsing gets here (handlers answer their own failures).
    const status = (err as { status?: unknown } | null)?.status;
    detail(res, typeof status === 'number' && status >= 400 && status < 500 ? status : 400, 'Invalid request body');
  });
  return router;
}

function banTarget(b: Record<string, unknown>): { kind: BanKind; value: string } | null {
  const nick = b['nickname'];
  const addr = b['address'];
  if (typeof nick === 'string' && addr === undefined && NICK.test(nick)) return { kind: 'nickname', value: nick };
  if (typeof addr === 'string' && nick === undefined && isIP(addr) !== 0) return { kind: 'address', value: normalizeAddress(addr) };
  return null;
}
