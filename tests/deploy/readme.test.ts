/** The README stays true: every variable a service reads and every metric it exports is documented there. */
import { existsSync, readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { edgeSpec } from '../../services/edge/src/config';
import { createEdgeMetrics } from '../../services/edge/src/metrics';
import { presenceSpec } from '../../services/presence/src/config';
import { createPresenceMetrics } from '../../services/presence/src/metrics';
import { relaySpec } from '../../services/relay/src/config';
import { createRelayMetrics } from '../../services/relay/src/metrics';
import { registerDependencyGauge } from '../../libs/runtime/src/metrics';
import { bridgeSpec } from '../../services/bridge/src/config';
import { createBridgeMetrics } from '../../services/bridge/src/metrics';
import { createMatrixEdgeMetrics } from '../../services/edge/src/matrix/metrics';
import { callMetrics, servedMetrics } from '../../libs/bus/src/rpc-metrics';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every environment variable of every service', () => {
    const names = new Set([...Object.keys(edgeSpec), ...Object.keys(presenceSpec), ...Object.keys(relaySpec), ...Object.keys(bridgeSpec)]);
    expect(names.size).toBeGreaterThan(30);
    expect([...names].filter((n) => !readme.includes(`\`${n}\``))).toEqual([]);
  });

  it('lists every qchat_ metric', async () => {
    const registry = new Registry();
    createEdgeMetrics(registry);
    createPresenceMetrics(registry);
    createRelayMetrics(registry);
    createBridgeMetrics(registry);
    createMatrixEdgeMetrics(registry);
    callMetrics(registry);
    servedMetrics(registry);
    registerDependencyGauge(registry, { engine: { ready: () => true }, requester: { ready: () => true } });
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(15);
    expect(names.filter((n) => !readme.includes(`\`${n}\``))).toEqual([]);
  });

  it('points at no file outside the repository, and every relative link resolves', () => {
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(5);
    for (const link of links) {
      expect(link, 'a link out of the repository').not.toMatch(/^(\.\.\/|\/)/);
      expect(existsSync(new URL(`../../${link}`, import.meta.url)), `${link} exists`).toBe(true);
    }
    expect(readme).not.toMatch(/\.\.\/shared\//);
  });

  it('lists every alert of deploy/prometheus/alerts.yml with its runbook link', () => {
    const alerts = [...readFileSync(new URL('../../deploy/prometheus/alerts.yml', import.meta.url), 'utf8').matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]!);
    expect(alerts.length).toBeGreaterThan(8);
    expect(alerts.filter((a) => !readme.includes(`[\`${a}\`](docs/runbooks.md#${a.toLowerCase()})`))).toEqual([]);
  });

  it('gives npm test as the test command and npm start as the way to run the stack', () => {
    expect(readme).toMatch(/npm ci && npm start/);
    expect(readme).toMatch(/^npm test\b/m);
  });
});
