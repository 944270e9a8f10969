import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { MESSAGE_TYPES } from '@qchat/protocol';
import { combinations, initSeries } from '@qchat/runtime';

/** Why a socket closed, from its close code (and whether the edge was draining). */
export const CLOSE_REASONS = [
  'client', 'going_away', 'drain', 'abnormal', 'unsupported_data', 'invalid_payload', 'policy', 'too_big',
  'ping_timeout', 'restart', 'slow_consumer', 'other',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export function closeReason(code: number, draining: boolean): CloseReason {
  switch (code) {
    case 1000: case 1005: return 'client';
    case 1001: return draining ? 'drain' : 'going_away';
    case 1006: return 'abnormal';
    case 1003: return 'unsupported_data';
    case 1007: return 'invalid_payload';
    case 1008: return 'policy';
    case 1009: return 'too_big';
    case 1011: return 'ping_timeout';
    case 1012: return 'restart';
    case 4001: return 'slow_consumer';
    default: return 'other';
  }
}

const CLOSE_CODES = ['1000', '1001', '1003', '1005', '1006', '1007', '1008', '1009', '1011', '1012', '4001'];
const REFUSED_STATUSES = ['403', '429', '503'];
export const HTTP_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH', 'other'] as const;
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;

/** `channels`: the configured channels, so their series exist at 0 from startup. */
export function createEdgeMetrics(registry: Registry, opts: { channels?: readonly string[] } = {}) {
  const channels = opts.channels ?? [];
  const m = {
    connections: new Gauge({
      name: 'qchat_edge_connections',
      help: 'Open WebSocket connections on this edge, by channel.',
      labelNames: ['channel'] as const,
      registers: [registry],
    }),
    connectionsOpened: new Counter({
      name: 'qchat_edge_connections_opened_total',
      help: 'WebSocket connections accepted, by channel.',
      labelNames: ['channel'] as const,
      registers: [registry],
    }),
    connectionsClosed: new Counter({
      name: 'qchat_edge_connections_closed_total',
      help: 'WebSocket connections closed, by reason (client, going_away, drain, abnormal, too_big, ping_timeout, slow_consumer, ...).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    framesReceived: new Counter({
      name: 'qchat_edge_frames_received_total',
      help: 'Inbound client frames, by type and outcome (accepted, uncompliant, rate_limited, too_large, refused).',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    framesSent: new Counter({
      name: 'qchat_edge_frames_sent_total',
      help: 'Frames written to client sockets, by kind (broadcast, private, replay).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'qchat_edge_broadcast_deliveries_total',
      help: 'Broker messages delivered to local sockets (one per socket reached).',
      registers: [registry],
    }),
    slowConsumers: new Counter({
      name: 'qchat_edge_slow_consumer_closes_total',
      help: 'Sockets closed as slow consumers: over WS_MAX_BUFFERED_BYTES and draining nothing for WS_STALL_TIMEOUT_MS, or over WS_MAX_UNSENT_BYTES.',
      registers: [registry],
    }),
    closes: new Counter({
      name: 'qchat_edge_socket_closes_total',
      help: 'Closed sockets, by close code.',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    upgradesRefused: new Counter({
      name: 'qchat_edge_upgrades_refused_total',
      help: 'WebSocket upgrades refused, by HTTP status.',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    brokerDropped: new Counter({
      name: 'qchat_edge_broker_messages_dropped_total',
      help: 'Broker messages dropped instead of forwarded (untrusted input that makes no sense), by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    httpRateLimited: new Counter({
      name: 'qchat_edge_http_rate_limited_total',
      help: 'HTTP requests refused with 429 because their client address passed its rate limit.',
      registers: [registry],
    }),
    subscriptions: new Gauge({
      name: 'qchat_edge_subscribed_topics',
      help: 'Chat channel topics this edge is subscribed to.',
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'qchat_edge_http_requests_total',
      help: 'HTTP requests answered by the edge, by route (the path pattern, `unmatched` for unknown paths), method and status class.',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'qchat_edge_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route and method.',
      labelNames: ['route', 'method'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
  // Every series whose labels are known in advance exists at 0 from startup (increase() needs a starting point).
  initSeries(m.connectionsOpened, channels.map((channel) => ({ channel })));
  for (const channel of channels) m.connections.set({ channel }, 0);
  initSeries(m.connectionsClosed, CLOSE_REASONS.map((reason) => ({ reason })));
  initSeries(m.framesReceived, [
    ...MESSAGE_TYPES.map((type) => ({ type, outcome: 'accepted' })),
    { type: 'invalid', outcome: 'uncompliant' },
    { type: 'unknown', outcome: 'rate_limited' },
    { type: 'binary', outcome: 'refused' },
    { type: 'unknown', outcome: 'too_large' },
  ]);
  initSeries(m.framesSent, ['broadcast', 'private', 'replay'].map((kind) => ({ kind })));
  initSeries(m.brokerDropped, ['envelope', 'route', 'utf8', 'json', 'type', 'mismatch', 'control', 'history'].map((reason) => ({ reason })));
  initSeries(m.closes, CLOSE_CODES.map((code) => ({ code })));
  initSeries(m.upgradesRefused, REFUSED_STATUSES.map((status) => ({ status })));

  /** For the HTTP app: known routes get their series at 0; each answered request is counted and timed. */
  const http = {
    routes(list: { path: string; methods: string[] }[]): void {
      for (const { path, methods } of list) {
        initSeries(m.httpRequests, combinations({ route: [path], method: methods, status: STATUS_CLASSES }));
        initSeries(m.httpDuration, methods.map((method) => ({ route: path, method })));
      }
    },
    request(route: string, method: string, status: number, seconds: number): void {
      const verb = (HTTP_METHODS as readonly string[]).includes(method) ? method : 'other';
      const cls = status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';
      m.httpRequests.inc({ route, method: verb, status: cls });
      m.httpDuration.observe({ route, method: verb }, seconds);
    },
  };
  return { ...m, http };
}
export type EdgeMetrics = ReturnType<typeof createEdgeMetrics>;
