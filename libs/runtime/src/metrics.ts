import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per process, never prom-client's global one; with process and Node.js defaults. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
export { Registry };


/** qchat_dependency_up{dependency="redis"|"nats"}: 1 while connected (memory adapters always count as up). */
export function registerDependencyGauge(registry: Registry, bus: { broker: { ready(): boolean }; requester: { ready(): boolean } }): void {
  new Gauge({
    name: 'qchat_dependency_up',
    help: 'Whether the service is connected to a dependency (1) or not (0).',
    labelNames: ['dependency'] as const,
    registers: [registry],
    collect() {
      this.set({ dependency: 'redis' }, bus.broker.ready() ? 1 : 0);
      this.set({ dependency: 'nats' }, bus.requester.ready() ? 1 : 0);
    },
  });
}
