/**
 * The OpenAPI 3.1 document of the HTTP API, written by hand. Operation ids are FastAPI's (function name +
 * path + method) because the gischat README and blog posts link to `/docs#/default/<operationId>`.
 */
import type { Limits } from '@qchat/protocol';

const NICKNAME_PATTERN = '^[a-z-A-Z-0-9-_]+$';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const json = (schema: object, description = 'Successful Response') => ({
  description,
  content: { 'application/json': { schema } },
});

const channelParam = {
  name: 'channel',
  in: 'path',
  required: true,
  description: 'Channel name, percent-encoded in the URL, compared exactly (case-sensitive).',
  schema: { type: 'string', title: 'Channel' },
};

const notRegistered = json(ref('HTTPError'), "Channel not registered: `{\"detail\":\"Channel '<channel>' not registered\"}`");
const invalidBody = json(ref('HTTPValidationError'), 'Validation Error');
const serverError = {
  description: 'Internal Server Error (a dependency failed)',
  content: { 'text/plain': { schema: { type: 'string', const: 'Internal Server Error' } } },
};

function op(operationId: string, summary: string, responses: Record<string, object>, extra: object = {}) {
  return { summary, operationId, ...extra, responses };
}

const DESCRIPTION = [
  'gischat-compatible QChat server. Every JSON answer carries `Content-Type: application/json` (no charset);',
  'errors use FastAPI\'s `{"detail": …}` shape.',
  '',
  '**WebSocket** `/channel/{channel}/ws`: the chat itself. One JSON object per text frame both ways, with',
  '`type` among `text`, `image`, `nb_users`, `newcomer`, `exiter`, `like`, `geojson`, `crs`, `bbox`,',
  '`position`, `model`, `script`, `uncompliant`, plus `id` (UUID) and `timestamp` (integer seconds).',
  'On connect the server broadcasts `nb_users` and replays the stored history oldest first. An unknown',
  'channel refuses the upgrade with HTTP 403. Messages are broadcast to every socket of the channel, the',
  'sender included; invalid ones are answered privately with `uncompliant` and a `reason`.',
].join('\n');

function schemas(limits: Limits) {
  const author = {
    type: 'string',
    title: 'Author',
    minLength: limits.minAuthorLength,
    maxLength: limits.maxAuthorLength,
    pattern: NICKNAME_PATTERN,
  };
  const int = (title: string) => ({ type: 'integer', title });
  return {
    VersionModel: {
      type: 'object',
      title: 'VersionModel',
      properties: { version: { type: 'string', title: 'Version' } },
      required: ['version'],
    },
    ChannelStatusModel: {
      type: 'object',
      title: 'ChannelStatusModel',
      properties: { name: { type: 'string', title: 'Name' }, nb_connected_users: int('Nb Connected Users') },
      required: ['name', 'nb_connected_users'],
    },
    StatusModel: {
      type: 'object',
      title: 'StatusModel',
      properties: {
        status: { type: 'string', title: 'Status', const: 'ok' },
        healthy: { type: 'boolean', title: 'Healthy', const: true },
        channels: { type: 'array', title: 'Channels', items: ref('ChannelStatusModel') },
      },
      required: ['status', 'healthy', 'channels'],
    },
    RulesModel: {
      type: 'object',
      title: 'RulesModel',
      properties: {
        rules: { type: 'string', title: 'Rules' },
        main_lang: { type: 'string', title: 'Main Lang' },
        min_author_length: int('Min Author Length'),
        max_author_length: int('Max Author Length'),
        max_message_length: int('Max Message Length'),
        max_image_size: int('Max Image Size'),
        max_geojson_features: int('Max Geojson Features'),
      },
      required: ['rules', 'main_lang', 'min_author_length', 'max_author_length', 'max_message_length', 'max_image_size', 'max_geojson_features'],
    },
    GischatTextMessageInput: {
      type: 'object',
      title: 'GischatTextMessage',
      description: 'A text message. `id` and `timestamp` are accepted and replaced by the server; unknown keys are ignored.',
      properties: {
        type: { type: 'string', title: 'Type', const: 'text', default: 'text' },
        id: { type: 'string', title: 'Id', format: 'uuid' },
        timestamp: int('Timestamp'),
        author,
        avatar: { anyOf: [{ type: 'string', maxLength: limits.maxAvatarLength }, { type: 'null' }], title: 'Avatar' },
        text: { type: 'string', title: 'Text', maxLength: limits.maxMessageLength },
      },
      required: ['author', 'text'],
    },
    GischatTextMessage: {
      type: 'object',
      title: 'GischatTextMessage',
      properties: {
        type: { type: 'string', title: 'Type', const: 'text' },
        id: { type: 'string', title: 'Id', format: 'uuid' },
        timestamp: int('Timestamp'),
        author,
        avatar: { anyOf: [{ type: 'string' }, { type: 'null' }], title: 'Avatar' },
        text: { type: 'string', title: 'Text' },
      },
      required: ['type', 'id', 'timestamp', 'author', 'avatar', 'text'],
    },
    StoredMessage: {
      type: 'object',
      title: 'StoredMessage',
      description: 'A message exactly as it was broadcast; the other keys depend on `type`.',
      properties: { type: { type: 'string', title: 'Type' }, id: { type: 'string', format: 'uuid' }, timestamp: int('Timestamp') },
      required: ['type', 'id', 'timestamp'],
      additionalProperties: true,
    },
    HTTPError: {
      type: 'object',
      title: 'HTTPError',
      properties: { detail: { type: 'string', title: 'Detail' } },
      required: ['detail'],
    },
    ValidationError: {
      type: 'object',
      title: 'ValidationError',
      properties: {
        type: { type: 'string', title: 'Error Type' },
        loc: { type: 'array', title: 'Location', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
        msg: { type: 'string', title: 'Message' },
        input: { title: 'Input' },
        ctx: { type: 'object', title: 'Context' },
      },
      required: ['type', 'loc', 'msg', 'input'],
    },
    HTTPValidationError: {
      type: 'object',
      title: 'HTTPValidationError',
      properties: { detail: { type: 'array', title: 'Detail', items: ref('ValidationError') } },
    },
    ReadinessModel: {
      type: 'object',
      title: 'ReadinessModel',
      properties: {
        status: { type: 'string', enum: ['ready', 'not ready'] },
        reasons: { type: 'array', items: { type: 'string' } },
      },
      required: ['status'],
    },
  };
}

function paths() {
  const html = { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } };
  return {
    '/': { get: op('get_ws_page__get', 'Get Ws Page', { 200: html }) },
    '/version': { get: op('get_version_version_get', 'Get Version', { 200: json(ref('VersionModel')) }) },
    '/qfield': {
      get: op('get_qfield_plugin_qfield_get', 'Get Qfield Plugin', {
        302: { description: 'Redirect to the latest QField plugin release (zip)' },
      }),
    },
    '/channels': {
      get: op('get_channels_channels_get', 'Get Channels', { 200: json({ type: 'array', items: { type: 'string' }, title: 'Response Get Channels Channels Get' }) }),
    },
    '/status': { get: op('get_status_status_get', 'Get Status', { 200: json(ref('StatusModel')), 500: serverError }) },
    '/rules': { get: op('get_rules_rules_get', 'Get Rules', { 200: json(ref('RulesModel')) }) },
    '/channel/{channel}/users': {
      get: op(
        'get_connected_users_channel__channel__users_get',
        'Get Connected Users',
        { 200: json({ type: 'array', items: { type: 'string' }, title: 'Response Get Connected Users Channel  Channel  Users Get' }), 404: notRegistered },
        { description: 'Registered nicknames, sorted case-insensitively.', parameters: [channelParam] },
      ),
    },
    '/channel/{channel}/last': {
      get: op(
        'get_last_messages_channel__channel__last_get',
        'Get Last Messages',
        { 200: json({ type: 'array', items: ref('StoredMessage') }), 404: notRegistered },
        { description: 'Stored history, oldest first.', parameters: [channelParam] },
      ),
    },
    '/channel/{channel}/text': {
      put: op(
        'put_text_message_channel__channel__text_put',
        'Put Text Message',
        {
          200: json(ref('GischatTextMessage')),
          404: notRegistered,
          413: json(ref('HTTPError'), 'Request body too large'),
          422: invalidBody,
          503: json(ref('HTTPError'), 'Service temporarily unavailable'),
        },
        {
          description: 'Broadcasts a text message to the channel and stores it. The body is validated before the channel is checked.',
          parameters: [channelParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('GischatTextMessageInput') } } },
        },
      ),
    },
    '/healthz': { get: op('healthz_healthz_get', 'Liveness', { 200: json({ type: 'object', properties: { status: { const: 'ok' } } }) }) },
    '/readyz': {
      get: op('readyz_readyz_get', 'Readiness', { 200: json(ref('ReadinessModel')), 503: json(ref('ReadinessModel'), 'Not ready') }),
    },
    '/metrics': {
      get: op('metrics_metrics_get', 'Prometheus metrics', {
        200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
      }),
    },
  };
}

export function openApiDocument(opts: { version: string; limits: Limits; extraPaths?: Record<string, object> }): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'gischat API',
      summary: 'Chat with your GIS tribe in QGIS, GIS mobile apps and other clients !',
      description: DESCRIPTION,
      version: opts.version,
    },
    paths: { ...paths(), ...opts.extraPaths },
    components: { schemas: schemas(opts.limits) },
  };
}
