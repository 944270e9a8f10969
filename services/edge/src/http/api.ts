/** The gischat API (protocol.md §2.2): the endpoints the QChat, QField and web clients call. */
import { exceedsDepth, moderationReasons, validateTextBody } from '@qchat/protocol';
import type { Request, RequestHandler, Response } from 'express';
import { decodeJsonBody, readRawBody, type RawBody } from './body';
import type { HttpDeps } from './deps';
import { sendDetail, sendJson, sendJsonText } from './json';
import { addressResolver } from '../client-address';
import { AddressRateLimit } from './rate-limit';
import { pathParam, type Endpoint } from './routes';

/** A text body is one flat object: anything nested deeper is refused before validation looks at it. */
const MAX_BODY_DEPTH = 32;

/** Python's `sorted(key=str.casefold)` for the ASCII nickname alphabet: lower-cased, by code unit, stable. */
export function sortNicknames(users: readonly string[]): string[] {
  return users
    .map((name) => ({ name, key: name.toLowerCase() }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((u) => u.name);
}

function channelParam(req: Request): string {
  return pathParam(req, 'channel');
}

function notRegistered(res: Response, channel: string): void {
  sendDetail(res, 404, `Channel '${channel}' not registered`);
}

/** The stable code of a QChatError (or a look-alike from another copy of the module). */
function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

export function apiEndpoints(deps: HttpDeps): Endpoint[] {
  const { config, presence, relay, log } = deps;
  const known = new Set(config.CHANNELS);
  const { limits } = config;
  const putLimit = new AddressRateLimit(config.PUT_RATE_LIMIT_PER_MINUTE ?? 120, config.PUT_RATE_LIMIT_BURST ?? 60);
  const addressOf = deps.clientAddress ?? addressResolver({ TRUST_PROXY_HOPS: 0 });

  const users: RequestHandler = async (req, res) => {
    const channel = channelParam(req);
    if (!known.has(channel)) return notRegistered(res, channel);
    sendJson(res, 200, sortNicknames(await presence.users(channel)));
  };

  // Stored frames are sent as stored, never re-serialised (protocol.md §6 D18).
  const last: RequestHandler = async (req, res) => {
    const channel = channelParam(req);
    if (!known.has(channel)) return notRegistered(res, channel);
    const frames = await relay.history(channel);
    sendJsonText(res, 200, `[${frames.join(',')}]`);
  };

  // Body validation comes before the channel check: an invalid body on an unknown channel is a 422.
  const putText: RequestHandler = async (req, res) => {
    const channel = channelParam(req);
    const wait = putLimit.take(addressOf(req));
    if (wait > 0) {
      deps.onRateLimited?.();
      req.resume();
      res.setHeader('Retry-After', String(wait));
      return sendDetail(res, 429, 'Too many requests: slow down');
    }
    let raw: RawBody;
    try {
      raw = await readRawBody(req, config.MAX_HTTP_BODY_BYTES);
    } catch (err) {
      log.debug({ err, channel }, 'request body aborted');
      return;
    }
    if (!raw.ok) return sendDetail(res, 413, 'Request body too large');
    const decoded = decodeJsonBody(raw.bytes);
    if (!decoded.ok) return sendDetail(res, decoded.status, decoded.detail);
    if (exceedsDepth(decoded.value, MAX_BODY_DEPTH)) {
      const error = `recursion limit exceeded (more than ${MAX_BODY_DEPTH} nested levels)`;
      return sendDetail(res, 422, [{ type: 'json_invalid', loc: ['body'], msg: 'JSON decode error', input: {}, ctx: { error } }]);
    }
    const checked = validateTextBody(decoded.value, limits);
    if (!checked.ok) return sendDetail(res, 422, checked.errors);
    if (!known.has(channel)) return notRegistered(res, channel);
    let frame: string;
    try {
      // protocol.md §6 D6: a nickname registered by a connection (any one: PUT has none of its own) or banned is refused.
      const { conn, banned } = await presence.holder(channel, checked.body.author);
      const refused = banned ? moderationReasons.nicknameBanned(checked.body.author) : conn !== null ? moderationReasons.impersonation(checked.body.author, channel) : null;
      if (refused !== null) return sendDetail(res, 422, [{ type: 'value_error', loc: ['body', 'author'], msg: refused, input: checked.body.author }]);
      frame = await relay.publishText(channel, checked.body);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'uncompliant') {
        return sendDetail(res, 422, [{ type: 'value_error', loc: ['body'], msg: (err as Error).message, input: null }]);
      }
      // The relay's channel list disagrees with ours (services configured differently).
      if (code === 'channel_not_found') return notRegistered(res, channel);
      log.error({ err, channel }, 'text publish failed');
      return sendDetail(res, 503, 'Service temporarily unavailable');
    }
    sendJsonText(res, 200, frame);
  };

  // gischat answers 500 when Redis fails; `status`/`healthy` stay constant (protocol.md §6 D20).
  const status: RequestHandler = async (_req, res) => {
    const counts = await presence.counts(config.CHANNELS);
    sendJson(res, 200, {
      status: 'ok',
      healthy: true,
      channels: config.CHANNELS.map((name, i) => ({ name, nb_connected_users: counts[i] ?? 0 })),
    });
  };

  const rules = {
    rules: config.RULES,
    main_lang: config.MAIN_LANG,
    min_author_length: limits.minAuthorLength,
    max_author_length: limits.maxAuthorLength,
    max_message_length: limits.maxMessageLength,
    max_image_size: limits.maxImageSize,
    max_geojson_features: limits.maxGeojsonFeatures,
  };

  return [
    { path: '/version', handlers: { get: (_req, res) => sendJson(res, 200, { version: deps.version }) } },
    { path: '/channels', handlers: { get: (_req, res) => sendJson(res, 200, config.CHANNELS) } },
    { path: '/rules', handlers: { get: (_req, res) => sendJson(res, 200, rules) } },
    { path: '/status', handlers: { get: status } },
    { path: '/channel/:channel/users', handlers: { get: users } },
    { path: '/channel/:channel/last', handlers: { get: last } },
    { path: '/channel/:channel/text', handlers: { put: putText } },
  ];
}
