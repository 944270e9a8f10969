/** OpenAPI document of the moderation API (served at /admin/openapi.json on the admin port). */
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const error = (description: string) => json(ref('HTTPError'), description);
const channel = { name: 'channel', in: 'path', required: true, schema: { type: 'string' } };
const common = { 401: error('Missing or wrong token'), 503: error('A backend service is unavailable') };

function op(operationId: string, summary: string, responses: object, extra: object = {}) {
  return { operationId, summary, security: [{ bearer: [] }], ...extra, responses: { ...responses, ...common } };
}

export function adminOpenApi(version: string): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'QChat moderation API',
      version,
      description: 'Served only on the admin port when ADMIN_TOKEN is set. Every action is audited and takes effect on every edge.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' } },
      schemas: {
        HTTPError: { type: 'object', properties: { detail: { type: 'string' } }, required: ['detail'] },
        Connection: {
          type: 'object',
          properties: {
            conn: { type: 'string' },
            nickname: { type: ['string', 'null'] },
            edge: { type: 'string' },
            address: { type: ['string', 'null'] },
            since: { type: ['integer', 'null'], description: 'connect time, ms since the epoch' },
          },
          required: ['conn', 'nickname', 'edge', 'address', 'since'],
        },
        Ban: {
          type: 'object',
          properties: {
            kind: { enum: ['nickname', 'address'] },
            value: { type: 'string' },
            until: { type: 'string', format: 'date-time' },
            reason: { type: 'string' },
          },
          required: ['kind', 'value', 'until', 'reason'],
        },
        BanRequest: {
          type: 'object',
          properties: {
            nickname: { type: 'string' },
            address: { type: 'string', description: 'an IPv4 or IPv6 address, as the edge reads the client address' },
            duration_seconds: { type: 'integer', minimum: 1 },
            reason: { type: 'string', maxLength: 200 },
          },
          required: ['duration_seconds'],
          description: 'exactly one of nickname and address',
        },
        KickRequest: {
          type: 'object',
          properties: { nickname: { type: 'string' }, reason: { type: 'string', maxLength: 200 } },
          required: ['nickname'],
        },
      },
    },
    paths: {
      '/admin/channels/{channel}/connections': {
        get: op('list_connections', 'Live connections of a channel, on every edge', {
          200: json({ type: 'array', items: ref('Connection') }),
          404: error('Unknown channel'),
        }, { parameters: [channel] }),
      },
      '/admin/channels/{channel}/messages/{id}': {
        delete: op('delete_message', 'Remove a stored message: history no longer replays it', {
          200: json({ type: 'object', properties: { deleted: { type: 'string' } } }),
          404: error('Unknown channel, or no stored message with this id'),
        }, { parameters: [channel, { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }] }),
      },
      '/admin/channels/{channel}/messages': {
        delete: op('clear_history', "Clear a channel's history", {
          200: json({ type: 'object', properties: { cleared: { type: 'integer' } } }),
          404: error('Unknown channel'),
        }, { parameters: [channel] }),
      },
      '/admin/channels/{channel}/kick': {
        post: op('kick', 'Close the sockets registered as a nickname in a channel (4500), on every edge', {
          200: json({ type: 'object' }),
          404: error('Unknown channel'),
          422: error('Invalid body'),
        }, { parameters: [channel], requestBody: { required: true, content: { 'application/json': { schema: ref('KickRequest') } } } }),
      },
      '/admin/kick': {
        post: op('kick_everywhere', 'Close the sockets registered as a nickname in every channel (4500)', {
          200: json({ type: 'object' }),
          422: error('Invalid body'),
        }, { requestBody: { required: true, content: { 'application/json': { schema: ref('KickRequest') } } } }),
      },
      '/admin/bans': {
        get: op('list_bans', 'Bans in force', { 200: json({ type: 'array', items: ref('Ban') }) }),
        post: op('ban', 'Ban a nickname or an address on every channel for a duration; its sockets are closed (4501)', {
          200: json(ref('Ban')),
          422: error('Invalid body'),
        }, { requestBody: { required: true, content: { 'application/json': { schema: ref('BanRequest') } } } }),
      },
      '/admin/bans/{kind}/{value}': {
        delete: op('unban', 'Lift a ban', {
          200: json({ type: 'object' }),
          404: error('No such ban'),
        }, {
          parameters: [
            { name: 'kind', in: 'path', required: true, schema: { enum: ['nickname', 'address'] } },
            { name: 'value', in: 'path', required: true, schema: { type: 'string' } },
          ],
        }),
      },
    },
  };
}
