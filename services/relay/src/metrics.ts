import { Counter, Histogram, type Registry } from 'prom-client';
import { combinations, initSeries } from '@qchat/runtime';

/** Message types relay handles (every chat type a client may send). */
export const RELAY_TYPES = ['text', 'image', 'like', 'geojson', 'crs', 'bbox', 'position', 'model', 'script'] as const;
export const RELAY_OUTCOMES = ['published', 'uncompliant', 'duplicate', 'error'] as const;

export function createRelayMetrics(registry: Registry) {
  const m = {
    processed: new Counter({
      name: 'qchat_relay_messages_total',
      help: 'Messages handled by relay, by type and outcome (published, uncompliant, duplicate, error).',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'qchat_relay_processing_duration_seconds',
      help: 'Time to validate, transform, store and publish a message, by type.',
      labelNames: ['type'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    publishedBytes: new Counter({
      name: 'qchat_relay_published_bytes_total',
      help: 'Bytes of client frames published to chat channel topics.',
      registers: [registry],
    }),
    imagesRefused: new Counter({
      name: 'qchat_relay_images_refused_total',
      help: 'Images answered uncompliant without being published: invalid data, too_large (header over the decode limits), busy (queue full), late (past IMAGE_TIMEOUT_MS).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    imageBytes: new Counter({
      name: 'qchat_relay_image_bytes_total',
      help: 'Decoded image bytes received (direction=in) and PNG bytes produced (direction=out).',
      labelNames: ['direction'] as const,
      registers: [registry],
    }),
  };
  // Known label values exist at 0 from startup, so increase() sees the first error.
  initSeries(m.processed, combinations({ type: RELAY_TYPES, outcome: RELAY_OUTCOMES }));
  initSeries(m.duration, RELAY_TYPES.map((type) => ({ type })));
  initSeries(m.imageBytes, [{ direction: 'in' }, { direction: 'out' }]);
  initSeries(m.imagesRefused, ['invalid', 'too_large', 'busy', 'late'].map((reason) => ({ reason })));
  return m;
}
export type RelayMetrics = ReturnType<typeof createRelayMetrics>;
