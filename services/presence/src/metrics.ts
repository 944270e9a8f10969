import { Counter, type Registry } from 'prom-client';

export function createPresenceMetrics(registry: Registry) {
  return {
    operations: new Counter({
      name: 'qchat_presence_operations_total',
      help: 'Presence operations handled, by operation and outcome.',
      labelNames: ['op', 'outcome'] as const,
      registers: [registry],
    }),
    reclaimedConnections: new Counter({
      name: 'qchat_presence_reclaimed_connections_total',
      help: 'Connections removed because their edge stopped heart-beating or drained.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    rebuilds: new Counter({
      name: 'qchat_presence_rebuilds_total',
      help: 'Edge re-announcements applied (after Redis lost its data, or presence restarted).',
      registers: [registry],
    }),
    framesPublished: new Counter({
      name: 'qchat_presence_frames_published_total',
      help: 'Presence frames published to chat channels, by type.',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
  };
}
export type PresenceMetrics = ReturnType<typeof createPresenceMetrics>;
