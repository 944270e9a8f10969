/**
 * The internal API's metrics, the same for every service: one histogram on the calling side, one on the serving side,
 * both labelled by `op` (the operation, e.g. `relay.publish`) and `outcome` (`ok` or an error code). Created once
 * per registry, so the all-in-one process (one registry for every service) counts each request once per side.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { OPERATION_NAMES, type OpName } from '@qchat/protocol';
import { combinations, initSeries } from '@qchat/runtime';

/** Outcomes an alert looks at, present at 0 from startup: success and the infrastructure failures. */
const CALL_OUTCOMES = ['ok', 'timeout', 'no_responders', 'unavailable', 'internal'] as const;
const RETRY_CODES = ['no_responders', 'timeout', 'unavailable'] as const;
/** `bad_frame`: a request that failed its shape guard (a bug or a stranger on NATS). */
const SERVED_OUTCOMES = ['ok', 'bad_frame', 'unavailable', 'internal'] as const;
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The calling side: one observation per attempt, one count per retry. */
export interface CallMetrics {
  called(op: OpName, outcome: string, seconds: number): void;
  retried(op: OpName, code: string): void;
}

/** The serving side: one observation per request answered. */
export interface ServedMetrics {
  /** Creates the series of `ops` at 0 (a service knows which operations it serves). */
  serving(ops: readonly OpName[]): void;
  served(op: OpName, outcome: string, seconds: number): void;
}

/** One instance per registry and key: the all-in-one process shares one registry between its services. */
function perRegistry<T>(make: (registry: Registry) => T): (registry: Registry) => T {
  const made = new WeakMap<Registry, T>();
  return (registry) => {
    const known = made.get(registry);
    if (known !== undefined) return known;
    const created = make(registry);
    made.set(registry, created);
    return created;
  };
}

export const callMetrics = perRegistry((registry): CallMetrics => {
  const calls = new Histogram({
    name: 'qchat_bus_request_duration_seconds',
    help: 'Internal NATS requests made by this service, by operation and outcome (ok or an error code); one per attempt.',
    labelNames: ['op', 'outcome'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'qchat_bus_request_retries_total',
    help: 'Internal requests retried after a retryable failure (no responders, timeout, unavailable), by operation and code.',
    labelNames: ['op', 'code'] as const,
    registers: [registry],
  });
  initSeries(calls, combinations({ op: OPERATION_NAMES, outcome: CALL_OUTCOMES }));
  initSeries(retries, combinations({ op: OPERATION_NAMES, code: RETRY_CODES }));
  return {
    called: (op, outcome, seconds) => calls.observe({ op, outcome }, seconds),
    retried: (op, code) => retries.inc({ op, code }),
  };
});

export const servedMetrics = perRegistry((registry): ServedMetrics => {
  const handled = new Histogram({
    name: 'qchat_bus_handled_duration_seconds',
    help: 'Internal NATS requests answered by this service, by operation and outcome (ok, bad_frame, unavailable, internal or another error code).',
    labelNames: ['op', 'outcome'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  return {
    serving: (ops) => initSeries(handled, combinations({ op: ops, outcome: SERVED_OUTCOMES })),
    served: (op, outcome, seconds) => handled.observe({ op, outcome }, seconds),
  };
});
