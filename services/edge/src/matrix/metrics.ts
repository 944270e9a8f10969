import { Counter, Gauge, type Registry } from 'prom-client';
import { initSeries } from '@qchat/runtime';

export function createMatrixEdgeMetrics(registry: Registry) {
  const m = {
    sessions: new Gauge({
      name: 'qchat_edge_matrix_sessions',
      help: 'Open /matrix/{request_id}/ws sockets on this edge.',
      registers: [registry],
    }),
    registrations: new Counter({
      name: 'qchat_edge_matrix_registrations_total',
      help: 'POST /matrix/register by outcome: registered, invalid (422), expired (never used in time).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    closes: new Counter({
      name: 'qchat_edge_matrix_closes_total',
      help: 'Closed /matrix sockets by reason: client, not_allowed, login_failed, unreachable, room, session_ended, shutdown, error.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
  // Known label values exist at 0 from startup, as every counter of ours (increase() needs a starting point).
  initSeries(m.registrations, ['registered', 'invalid', 'expired'].map((outcome) => ({ outcome })));
  initSeries(m.closes, ['client', 'not_allowed', 'login_failed', 'unreachable', 'room', 'session_ended', 'shutdown', 'error'].map((reason) => ({ reason })));
  return m;
}
export type MatrixEdgeMetrics = ReturnType<typeof createMatrixEdgeMetrics>;
