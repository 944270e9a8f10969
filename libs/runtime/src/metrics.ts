import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PACKAGE_VERSION, PROTOCOL_VERSION, buildCommit } from './build-info';

/**
 * One registry per process, never prom-client's global one; with process and Node.js defaults and
 * qchat_build_info{version, protocol_version, commit} = 1.
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'qchat_build_info',
    help: 'Always 1; the labels say which build runs: package version, gischat protocol version, git commit.',
    labelNames: ['version', 'protocol_version', 'commit'] as const,
    registers: [registry],
  }).set({ version: PACKAGE_VERSION, protocol_version: PROTOCOL_VERSION, commit: buildCommit() }, 1);
  return registry;
}
export { Registry };

/**
 * Creates every series of a labelled counter or histogram at 0, so `increase()` and `rate()` see the first
 * event (a series born at 3 looks like no increase at all). One call per label combination known in advance.
 */
export function initSeries<L extends string>(metric: Counter<L> | Histogram<L>, combos: Partial<Record<L, string>>[]): void {
  for (const labels of combos) {
    if (metric instanceof Histogram) metric.zero(labels as Record<L, string>);
    else metric.inc(labels as Record<L, string>, 0);
  }
}

/** Every combination of the given label values (a cartesian product). */
export function combinations<L extends string>(values: Record<L, readonly string[]>): Record<L, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const [label, list] of Object.entries(values) as [string, readonly string[]][]) {
    out = out.flatMap((o) => list.map((v) => ({ ...o, [label]: v })));
  }
  return out as Record<L, string>[];
}

/** The engine (Redis or memory) and the requester (NATS or memory); memory adapters are not dependencies. */
interface Dependencies {
  engine: { ready(): boolean; readonly mode?: string };
  requester: { ready(): boolean; readonly mode?: string };
}

/**
 * qchat_dependency_used{dependency}: 1 when the service talks to Redis / NATS, 0 in memory mode (not used).
 * qchat_dependency_up{dependency}: 1 while connected, 0 while not; only for dependencies in use, so memory mode
 * never reads as "up".
 */
export function registerDependencyGauge(registry: Registry, deps: Dependencies): void {
  // An adapter that does not say which it is counts as used.
  const used = { redis: (deps.engine.mode ?? 'redis') === 'redis', nats: (deps.requester.mode ?? 'nats') === 'nats' };
  const used$ = new Gauge({
    name: 'qchat_dependency_used',
    help: 'Whether the service uses a dependency (1) or runs that part in memory (0).',
    labelNames: ['dependency'] as const,
    registers: [registry],
  });
  used$.set({ dependency: 'redis' }, used.redis ? 1 : 0);
  used$.set({ dependency: 'nats' }, used.nats ? 1 : 0);
  new Gauge({
    name: 'qchat_dependency_up',
    help: 'Whether the service is connected to a dependency it uses (1) or not (0); absent for dependencies not used.',
    labelNames: ['dependency'] as const,
    registers: [registry],
    collect() {
      if (used.redis) this.set({ dependency: 'redis' }, deps.engine.ready() ? 1 : 0);
      if (used.nats) this.set({ dependency: 'nats' }, deps.requester.ready() ? 1 : 0);
    },
  });
}
