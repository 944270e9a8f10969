/** Variables every service reads: the bus, the instance, lifecycle, and the gischat limits (protocol.md §1). */
import type { Limits } from '@qchat/protocol';
import { int, list, oneOf, optionalUrl, type FieldParser } from './config';

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
};

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

