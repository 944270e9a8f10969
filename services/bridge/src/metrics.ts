import { Counter, Gauge, type Registry } from 'prom-client';
import { combinations, initSeries } from '@qchat/runtime';

export function createBridgeMetrics(registry: Registry) {
  const m = {
    leaseHeld: new Gauge({
      name: 'qchat_bridge_lease_held',
      help: 'Whether this bridge instance holds the lease and does the Matrix work (1) or stands by (0).',
      registers: [registry],
    }),
    sends: new Counter({
      name: 'qchat_bridge_matrix_sends_total',
      help: 'Matrix sends by kind (ping, text, image) and outcome (sent, retried, dropped, failed).',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
    queued: new Gauge({
      name: 'qchat_bridge_queue_length',
      help: 'Matrix sends waiting, per queue (ping, bridge).',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    toChannel: new Counter({
      name: 'qchat_bridge_to_channel_total',
      help: 'Matrix room messages handled by the bridge, by type and outcome (published, skipped, failed).',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    syncErrors: new Counter({
      name: 'qchat_bridge_sync_errors_total',
      help: 'Failed Matrix sync requests of the bridge (each is retried with backoff).',
      registers: [registry],
    }),
  };
  // Known label values exist at 0 from startup (increase() and the Matrix alerts need a starting point).
  initSeries(m.sends, combinations({ kind: ['ping', 'text', 'image'], outcome: ['sent', 'retried', 'dropped', 'failed'] }));
  initSeries(m.toChannel, combinations({ type: ['text', 'image'], outcome: ['published', 'skipped', 'failed'] }));
  return m;
}
export type BridgeMetrics = ReturnType<typeof createBridgeMetrics>;
