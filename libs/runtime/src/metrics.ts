import { Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per process, never prom-client's global one; with process and Node.js defaults. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
export { Registry };
