import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { cidrList } from './client-address';
import { atMost, bool, busRules, busSpec, oneOf, channelsSpec, int, limitsFrom, limitsRules, limitsSpec, loadConfig, optionalStr, str, type FieldParser, type Rule } from '@qchat/runtime';
import { tileUrlField } from './http/page-policy';
import { matrixEdgeSpec } from './matrix/config';

export const edgeSpec = {
  ...busSpec,
  ...channelsSpec,
  ...limitsSpec,
  PORT: int(8000, { min: 0, max: 65535 }),
  /** Address to listen on; unset listens on every interface (IPv4 and IPv6). */
  HOST: optionalStr(),
  /** /healthz, /readyz and /metrics, off the public port (bound to METRICS_HOST). */
  METRICS_PORT: int(9100, { min: 0, max: 65535 }),
  /** Client addresses in connection logs: `full`, `truncated` (IPv4 /24, IPv6 /48), or `none`. */
  LOG_CLIENT_ADDRESS: oneOf(['full', 'truncated', 'none'], 'truncated'),
  RULES: str('YOLO'),
  MAIN_LANG: str('en'),
  /** Unique id of this edge process (presence tracks liveness per edge). */
  EDGE_ID: optionalStr(),
  EDGE_HEARTBEAT_MS: int(3_000, { min: 100 }),
  /** nb_users updates to a channel's members are coalesced to at most one per interval (0: send each). */
  NB_USERS_INTERVAL_MS: int(250, { min: 0 }),
  WS_PING_INTERVAL: int(20, { min: 1 }),
  WS_PING_TIMEOUT: int(10, { min: 1 }),
  WS_MAX_PAYLOAD_BYTES: int(16 * 1024 * 1024, { min: 1024 }),
  /**
   * Slow consumers (4001): a socket may hold this much unsent data freely; above it, it must keep draining (some
   * bytes leaving every WS_STALL_TIMEOUT_MS), and it may never hold more than WS_MAX_UNSENT_BYTES
   * (0: 8 × WS_MAX_PAYLOAD_BYTES and at least 64 MiB, room for a history of the largest frames). While a socket
   * holds more than WS_MAX_BUFFERED_BYTES unsent, the edge stops reading it.
   */
  WS_MAX_BUFFERED_BYTES: int(1024 * 1024, { min: 1024 }),
  WS_STALL_TIMEOUT_MS: int(10_000, { min: 100 }),
  WS_MAX_UNSENT_BYTES: int(0, { min: 0 }),
  WS_PERMESSAGE_DEFLATE: bool(false),
  /** Sustained inbound frames per second per socket, and the burst allowed above it. */
  RATE_LIMIT_PER_SECOND: int(20, { min: 1 }),
  RATE_LIMIT_BURST: int(100, { min: 1 }),
  /** Open sockets allowed per client address; 0 = no cap. */
  MAX_CONNECTIONS_PER_IP: int(0, { min: 0 }),
  /** Proxies in front of the edge that append to X-Forwarded-For; the client address is read that many entries from the right. */
  TRUST_PROXY_HOPS: int(0, { min: 0, max: 10 }),
  MAX_HTTP_BODY_BYTES: int(1024 * 1024, { min: 1024 }),
  /** Inbound bytes per socket: sustained rate and burst (a token bucket beside the frame budget). */
  RATE_LIMIT_BYTES_PER_SECOND: int(1024 * 1024, { min: 1024 }),
  RATE_LIMIT_BYTES_BURST: int(32 * 1024 * 1024, { min: 1024 }),
  /** Open sockets on this edge; 0 = no cap. Over it the upgrade gets 503. */
  MAX_CONNECTIONS: int(0, { min: 0 }),
  /** Origins allowed to open a WebSocket; upgrades without Origin (the QGIS and QField plugins) always pass. Empty = any. */
  ALLOWED_ORIGINS: optionalList(),
  /** Proxies whose X-Forwarded-For is believed: addresses or CIDR ranges. Empty: TRUST_PROXY_HOPS alone decides. */
  TRUSTED_PROXIES: cidrList(),
  /** PUT /channel/{c}/text per client address. */
  PUT_RATE_LIMIT_PER_MINUTE: int(120, { min: 1 }),
  PUT_RATE_LIMIT_BURST: int(60, { min: 1 }),
  /** Moderation API: off while unset. Sent as `Authorization: Bearer <token>`; never logged. */
  ADMIN_TOKEN: optionalStr(),
  /** Port and address of the moderation API (never the public port). */
  ADMIN_PORT: int(9180, { min: 0, max: 65535 }),
  ADMIN_HOST: str('127.0.0.1'),
  /** XYZ tile template of the web page's base map; unset: the bundled world outline only (works offline). */
  MAP_TILE_URL: tileUrlField(),
  MAP_TILE_ATTRIBUTION: str(''),
  QFIELD_PLUGIN_URL: str('https://github.com/geotribu/qchat/releases/latest'),
  /**
   * Run presence and relay inside the edge. `auto`: when REDIS_URL or NATS_URL is unset (nothing outside the
   * process could reach them), or when nobody answers presence and relay requests on NATS at startup.
   */
  EMBED_SERVICES: oneOf(['auto', 'always', 'never'], 'auto'),
  ...matrixEdgeSpec,
};

export const edgeRules: Rule[] = [
  ...busRules,
  ...limitsRules,
  atMost('EDGE_HEARTBEAT_MS', 'EDGE_TTL_MS', { factor: 0.5, why: 'presence must hear at least two heartbeats per TTL, or it reclaims a live edge' }),
  atMost('RATE_LIMIT_PER_SECOND', 'RATE_LIMIT_BURST', { why: 'the burst must hold at least one second of the sustained rate' }),
  (c) => (c.PORT === c.METRICS_PORT && c.PORT !== 0 ? `METRICS_PORT: must differ from PORT (${String(c.PORT)})` : undefined),
];

/** Comma list, trimmed, empties dropped; unset or empty = []. */
function optionalList(): FieldParser<string[]> {
  return (raw) => [...new Set((raw ?? '').split(',').map((x) => x.trim()).filter((x) => x !== ''))];
}

export type EdgeConfig = ReturnType<typeof loadEdgeConfig>;

export function loadEdgeConfig(env: Record<string, string | undefined>) {
  const c = loadConfig(edgeSpec, env, edgeRules);
  return Object.freeze({
    ...c,
    EDGE_ID: c.EDGE_ID ?? `${hostname()}-${randomUUID().slice(0, 8)}`,
    WS_MAX_UNSENT_BYTES: c.WS_MAX_UNSENT_BYTES || Math.max(8 * c.WS_MAX_PAYLOAD_BYTES, 64 * 1024 * 1024, c.WS_MAX_BUFFERED_BYTES),
    limits: limitsFrom(c),
  });
}
