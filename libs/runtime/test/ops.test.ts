import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Counter } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, atMost, collectConfig, int, loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { createRegistry, registerDependencyGauge, initSeries } from '../src/metrics';
import { graceReadiness, opsRequestHandler } from '../src/ops-server';
import { OutageLog, isConnectionError } from '../src/outage';
import { PACKAGE_VERSION, PROTOCOL_VERSION } from '../src/build-info';
import { busSpec, standaloneRules, standaloneSpec } from '../src/shared-config';

describe('cross-field rules', () => {
  it('are checked with the fields, every problem in one pass, silent when an input is itself invalid', () => {
    const spec = { A: int(1), B: int(10), C: int(0) };
    const rules = [atMost('A', 'B'), atMost('C', 'B', { factor: 0.5, why: 'because' })];
    expect(() => loadConfig(spec, { A: '5', C: '5' }, rules)).not.toThrow();
    const err = (() => { try { loadConfig(spec, { A: '11', C: '6' }, rules); } catch (e) { return e as ConfigError; } })()!;
    expect(err.problems).toEqual(['A: must be at most B (10), got 11', 'C: must be at most 0.5 × B (5), got 6: because']);
    const bad = (() => { try { loadConfig(spec, { A: 'x', C: '6' }, rules); } catch (e) { return e as ConfigError; } })()!;
    expect(bad.problems).toEqual(["A: expected an integer, got 'x'", 'C: must be at most 0.5 × B (5), got 6: because']);
  });

  it('collectConfig gathers the problems of several loaders once each', () => {
    const load = (env: Record<string, string>) => loadConfig({ A: int(1, { min: 0 }), B: int(1, { min: 0 }) }, env);
    expect(() => collectConfig([() => load({ A: '-1' }), () => load({ A: '-1', B: '-2' })])).toThrow(ConfigError);
    try {
      collectConfig([() => load({ A: '-1' }), () => load({ A: '-1', B: '-2' })]);
    } catch (e) {
      expect((e as ConfigError).problems).toEqual(['A: must be >= 0, got -1', 'B: must be >= 0, got -2']);
    }
  });

  it('presence and relay alone need both brokers unless MEMORY_MODE=true', () => {
    const spec = { ...busSpec, ...standaloneSpec };
    expect(() => loadConfig(spec, {}, standaloneRules)).toThrow(/REDIS_URL and NATS_URL: required/);
    expect(() => loadConfig(spec, { REDIS_URL: 'redis://h' }, standaloneRules)).toThrow(/^invalid configuration:\n {2}NATS_URL: required/);
    expect(() => loadConfig(spec, { MEMORY_MODE: 'true' }, standaloneRules)).not.toThrow();
    expect(() => loadConfig(spec, { REDIS_URL: 'redis://h', NATS_URL: 'nats://h' }, standaloneRules)).not.toThrow();
  });
});

describe('metrics', () => {
  it('build info carries the package and protocol versions', async () => {
    const registry = createRegistry('t');
    const info = (await registry.getMetricsAsJSON()).find((m) => m.name === 'qchat_build_info')!;
    expect(info.values[0]!.labels).toMatchObject({ version: PACKAGE_VERSION, protocol_version: PROTOCOL_VERSION });
    expect(PACKAGE_VERSION).toBe('0.1.0');
    expect(PROTOCOL_VERSION).toBe('3.4.1');
  });

  it('initSeries creates labelled series at 0', async () => {
    const registry = createRegistry('t');
    const c = new Counter({ name: 'x_total', help: 'x', labelNames: ['a'] as const, registers: [registry] });
    initSeries(c, [{ a: '1' }, { a: '2' }]);
    expect(await registry.getSingleMetricAsString('x_total')).toMatch(/x_total\{a="1",service="t"\} 0\nx_total\{a="2",service="t"\} 0/);
  });

  it('dependencies in memory mode read as not used, never as up', async () => {
    const registry = createRegistry('t');
    const up = { ready: () => true };
    registerDependencyGauge(registry, { engine: { ...up, mode: 'memory' }, requester: { ready: () => false, mode: 'nats' } });
    const text = await registry.metrics();
    expect(text).toMatch(/qchat_dependency_used\{dependency="redis",service="t"\} 0/);
    expect(text).toMatch(/qchat_dependency_used\{dependency="nats",service="t"\} 1/);
    expect(text).not.toMatch(/qchat_dependency_up\{dependency="redis"/);
    expect(text).toMatch(/qchat_dependency_up\{dependency="nats",service="t"\} 0/);
  });
});

describe('readiness grace', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('keeps a service ready through an outage shorter than the grace, then reports it', () => {
    vi.useFakeTimers();
    let redis = true;
    const g = graceReadiness({ engine: { ready: () => redis }, requester: { ready: () => true } }, 1_000);
    expect(g.readiness()).toEqual({ ready: true, reasons: [] });
    redis = false;
    vi.advanceTimersByTime(900);
    expect(g.readiness()).toEqual({ ready: true, reasons: [], degraded: ['redis not connected'] });
    vi.advanceTimersByTime(200);
    expect(g.readiness()).toEqual({ ready: false, reasons: ['redis not connected'] });
    redis = true;
    expect(g.readiness({ 'shutting down': true })).toEqual({ ready: true, reasons: [] });
    expect(g.readiness({ 'shutting down': false })).toEqual({ ready: false, reasons: ['shutting down'] });
    g.stop();
  });
});

describe('ops server', () => {
  const servers: Server[] = [];
  afterEach(async () => { for (const s of servers.splice(0)) await new Promise((r) => s.close(r)); });

  it('serves health, readiness, metrics and extra routes; JSON errors everywhere', async () => {
    const registry = createRegistry('t');
    const errors: unknown[] = [];
    const server = createServer(opsRequestHandler({
      registry,
      readiness: () => ({ ready: false, reasons: ['nats not connected'] }),
      routes: [
        { method: 'POST', path: '/admin/thing', handle: (_req, res) => { res.writeHead(204); res.end(); } },
        { method: 'GET', path: '/admin/boom', handle: () => { throw new Error('boom'); } },
      ],
      onError: (err) => errors.push(err),
    }));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([503, { status: 'not ready', reasons: ['nats not connected'] }]);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/qchat_build_info/);
    expect((await fetch(`${base}/admin/thing`, { method: 'POST' })).status).toBe(204);
    const wrong = await fetch(`${base}/admin/thing`);
    expect([wrong.status, wrong.headers.get('allow'), await wrong.json()]).toEqual([405, 'POST', { detail: 'Method Not Allowed' }]);
    const boom = await fetch(`${base}/admin/boom`);
    expect([boom.status, await boom.json()]).toEqual([500, { detail: 'Internal Server Error' }]);
    expect(errors).toHaveLength(1);
    const missing = await fetch(`${base}/nope`);
    expect([missing.status, missing.headers.get('content-type'), await missing.json()]).toEqual([404, 'application/json', { detail: 'Not Found' }]);
  });
});

describe('logs', () => {
  function capture() {
    const lines: Record<string, any>[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _e, done) => { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
    return { lines, log: createLogger({ service: 's', level: 'debug', destination, bindings: { instance: 'i', edge: 'e1' } }) };
  }

  it('every line carries service, package version, protocol version, instance and edge', () => {
    const { lines, log } = capture();
    log.info('hello');
    log.child({ component: 'relay' }).warn('there');
    for (const l of lines) expect(l).toMatchObject({ service: 's', version: PACKAGE_VERSION, protocol: PROTOCOL_VERSION, instance: 'i', edge: 'e1' });
  });

  it('an outage is logged when it starts and when it ends, with the count, not per failure', () => {
    const { lines, log } = capture();
    const outage = new OutageLog(log, 'redis');
    for (let i = 0; i < 5; i++) outage.failed(new Error('Connection is closed.'));
    outage.succeeded();
    outage.succeeded();
    expect(lines.map((l) => [l.level, l.msg, l.failed])).toEqual([
      [40, 'redis unavailable: requests fail until it is back (logged once)', undefined],
      [30, 'redis available again', 5],
    ]);
    expect(lines[0]!.error).toBe('Connection is closed.');
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(new TypeError('undefined is not a function'))).toBe(false);
  });
});
