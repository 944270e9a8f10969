import { Counter, Gauge, type Registry } from 'prom-client';

export function createMatrixEdgeMetrics(registry: Registry) {
  return {
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
}
export type MatrixEdgeMetrics = ReturnType<typeof createMatrixEdgeMetrics>;
