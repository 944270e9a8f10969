import { Counter, type Registry } from 'prom-client';
import { initSeries } from '@qchat/runtime';

export function createPresenceMetrics(registry: Registry) {
  const m = {
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
  // Known label values exist at 0 from startup: the first reclaim of a dead edge is an increase() from 0.
  initSeries(m.reclaimedConnections, [{ reason: 'expired' }, { reason: 'drain' }]);
  initSeries(m.framesPublished, ['nb_users', 'newcomer', 'exiter'].map((type) => ({ type })));
  return m;
}
export type PresenceMetrics = ReturnType<typeof createPresenceMetrics>;
