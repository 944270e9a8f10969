/** Variables every service reads: the bus, the instance, lifecycle, and the gischat limits (protocol.md §1). */
import type { Limits } from '@qchat/protocol';
import { atMost, bool, int, list, oneOf, optionalUrl, str, type FieldParser, type Rule } from './config';

function instanceId(): FieldParser<string> {
  return (raw, name) => {
    const s = raw === undefined || raw.trim() === '' ? 'qchat' : raw.trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(s)) throw new Error(`${name}: use 1-64 of A-Z a-z 0-9 _ -, got '${raw}'`);
    return s;
  };
}

function natsUrl(): FieldParser<string | undefined> {
  const one = optionalUrl(['nats', 'tls', 'ws', 'wss']);
  return (raw, name) => {
    if (raw === undefined || raw.trim() === '') return undefined;
    for (const part of raw.split(',')) one(part, name);
    return raw.trim();
  };
}

export const busSpec = {
  INSTANCE_ID: instanceId(),
  REDIS_URL: optionalUrl(['redis', 'rediss']),
  NATS_URL: natsUrl(),
  LOG_LEVEL: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], 'info'),
  SHUTDOWN_TIMEOUT_MS: int(10_000, { min: 100 }),
  REQUEST_TIMEOUT_MS: int(3_000, { min: 50 }),
  /** Deadline of relay's work on one image (decode, resize, encode); the edge waits that much longer for an image. */
  IMAGE_TIMEOUT_MS: int(10_000, { min: 100 }),
  /** Liveness TTL of an edge: its connections are reclaimed when it stays silent this long. */
  EDGE_TTL_MS: int(12_000, { min: 500 }),
  /** `auto`: human-readable lines on a terminal, JSON lines otherwise. */
  LOG_FORMAT: oneOf(['auto', 'json', 'pretty'], 'auto'),
  /** Address of the ops server (/healthz, /readyz, /metrics on METRICS_PORT); containers set 0.0.0.0. */
  METRICS_HOST: str('127.0.0.1'),
  /** A dependency (Redis, NATS) away for less than this does not make /readyz fail: a blip must not drop the fleet. */
  READINESS_GRACE_MS: int(5_000, { min: 0 }),
};

export const busRules: Rule[] = [
  atMost('REQUEST_TIMEOUT_MS', 'SHUTDOWN_TIMEOUT_MS', { strict: true, why: 'a stop must outlast the requests in flight' }),
];

/**
 * Presence and relay started on their own: without REDIS_URL and NATS_URL nobody outside the process could reach
 * them, so they refuse to start unless MEMORY_MODE=true asks for exactly that.
 */
export const standaloneSpec = {
  MEMORY_MODE: bool(false),
};

export const standaloneRules: Rule[] = [
  (c) => {
    if (c.MEMORY_MODE !== false) return undefined;
    const missing = ['REDIS_URL', 'NATS_URL'].filter((k) => k in c && c[k] === undefined);
    if (missing.length === 0) return undefined;
    return `${missing.join(' and ')}: required (without ${missing.length > 1 ? 'them' : 'it'} this service would run alone in memory and serve nobody); set MEMORY_MODE=true to run it in memory on purpose`;
  },
];

export const channelsSpec = {
  CHANNELS: list(['QGIS', 'Geotribu']),
};

export const limitsSpec = {
  MIN_AUTHOR_LENGTH: int(3, { min: 1 }),
  MAX_AUTHOR_LENGTH: int(32, { min: 1 }),
  MAX_MESSAGE_LENGTH: int(255, { min: 0 }),
  MAX_IMAGE_SIZE: int(800, { min: 1 }),
  MAX_IMAGE_RAW_LENGTH: int(5_000_000, { min: 0 }),
  MAX_GEOJSON_FEATURES: int(500, { min: 0 }),
  MAX_MODEL_RAW_LENGTH: int(1_000_000, { min: 0 }),
  MAX_SCRIPT_RAW_LENGTH: int(2_000_000, { min: 0 }),
  MAX_AVATAR_LENGTH: int(256, { min: 0 }),
  MAX_STYLE_LENGTH: int(1_000_000, { min: 0 }),
  MAX_CRS_WKT_LENGTH: int(16_000, { min: 2_000 }),
  MAX_GEOJSON_BYTES: int(10_000_000, { min: 1_000 }),
  MAX_GEOJSON_DEPTH: int(64, { min: 4 }),
};

export const limitsRules: Rule[] = [
  atMost('MIN_AUTHOR_LENGTH', 'MAX_AUTHOR_LENGTH'),
];

type LimitsConfig = { readonly [K in keyof typeof limitsSpec]: number };

export function limitsFrom(c: LimitsConfig): Limits {
  return Object.freeze({
    minAuthorLength: c.MIN_AUTHOR_LENGTH,
    maxAuthorLength: c.MAX_AUTHOR_LENGTH,
    maxMessageLength: c.MAX_MESSAGE_LENGTH,
    maxImageSize: c.MAX_IMAGE_SIZE,
    maxImageRawLength: c.MAX_IMAGE_RAW_LENGTH,
    maxGeojsonFeatures: c.MAX_GEOJSON_FEATURES,
    maxModelRawLength: c.MAX_MODEL_RAW_LENGTH,
    maxScriptRawLength: c.MAX_SCRIPT_RAW_LENGTH,
    maxAvatarLength: c.MAX_AVATAR_LENGTH,
    maxStyleLength: c.MAX_STYLE_LENGTH,
    maxCrsWktLength: c.MAX_CRS_WKT_LENGTH,
    maxGeojsonBytes: c.MAX_GEOJSON_BYTES,
    maxGeojsonDepth: c.MAX_GEOJSON_DEPTH,
  });
}

