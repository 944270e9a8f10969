import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { matrixEdgeSpec } from './matrix/config';
import { bool, busSpec, oneOf, channelsSpec, int, limitsFrom, limitsSpec, loadConfig, optionalStr, str } from '@qchat/runtime';

export const edgeSpec = {
  ...busSpec,
  ...channelsSpec,
  ...limitsSpec,
  PORT: int(8000, { min: 0, max: 65535 }),
  /** Address to listen on; unset listens on every interface (IPv4 and IPv6). */
  HOST: optionalStr(),
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
  /** A socket whose unsent data passes this is closed (4001): one slow client never slows the channel. */
  WS_MAX_BUFFERED_BYTES: int(1024 * 1024, { min: 1024 }),
  WS_PERMESSAGE_DEFLATE: bool(false),
  /** Sustained inbound frames per second per socket, and the burst allowed above it. */
  RATE_LIMIT_PER_SECOND: int(20, { min: 1 }),
  RATE_LIMIT_BURST: int(100, { min: 1 }),
  /** Open sockets allowed per client address; 0 = no cap. */
  MAX_CONNECTIONS_PER_IP: int(0, { min: 0 }),
  /** Proxies in front of the edge that append to X-Forwarded-For; the client address is read that many entries from the right. */
  TRUST_PROXY_HOPS: int(0, { min: 0, max: 10 }),
  MAX_HTTP_BODY_BYTES: int(1024 * 1024, { min: 1024 }),
  QFIELD_PLUGIN_URL: str('https://github.com/geotribu/qchat/releases/latest'),
  /**
   * Run presence and relay inside the edge. `auto`: when REDIS_URL or NATS_URL is unset (nothing outside the
   * process could reach them), or when nobody answers presence and relay requests on NATS at startup.
   */
  EMBED_SERVICES: oneOf(['auto', 'always', 'never'], 'auto'),
  ...matrixEdgeSpec,
};

export type EdgeConfig = ReturnType<typeof loadEdgeConfig>;

export function loadEdgeConfig(env: Record<string, string | undefined>) {
  const c = loadConfig(edgeSpec, env);
  return Object.freeze({
    ...c,
    EDGE_ID: c.EDGE_ID ?? `${hostname()}-${randomUUID().slice(0, 8)}`,
    limits: limitsFrom(c),
  });
}
