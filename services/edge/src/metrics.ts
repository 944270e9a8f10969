import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RpcObserver } from '@qchat/bus';

export function createEdgeMetrics(registry: Registry) {
  const m = {
    connections: new Gauge({
      name: 'qchat_edge_connections',
      help: 'Open WebSocket connections on this edge, by channel.',
      labelNames: ['channel'] as const,
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
      help: 'Sockets closed because their unsent data passed WS_MAX_BUFFERED_BYTES.',
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
    requestDuration: new Histogram({
      name: 'qchat_bus_request_duration_seconds',
      help: 'Internal NATS request duration, by operation and outcome.',
      labelNames: ['subject', 'outcome'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
  const retries = new Counter({
    name: 'qchat_bus_request_retries_total',
    help: 'Internal requests retried after a retryable failure (no responders, timeout, unavailable), by operation and code.',
    labelNames: ['subject', 'code'] as const,
    registers: [registry],
  });
  const observer: RpcObserver = {
    observe: (op, outcome, seconds) => m.requestDuration.observe({ subject: op, outcome }, seconds),
    retried: (op, code) => retries.inc({ subject: op, code }),
  };
  return { ...m, retries, observer };
}
export type EdgeMetrics = ReturnType<typeof createEdgeMetrics>;
