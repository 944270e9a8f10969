/**
 * The shipped alerting rules, over series recorded from a real run: presence, relay and two edges are scraped
 * every half second while one edge is killed with SIGKILL and then Redis goes away. The recorded samples become
 * the input series of a `promtool test rules` file, one scrape per 15 s evaluation step (the run is time-lapsed
 * 30×), and promtool checks that the edge-down and reclaim alerts fire, and that the "handler bug" alert does not
 * fire during the Redis outage.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { killedAfterEach } from '../support/cleanup';
import { freePort, repoRoot, startService, type ServiceProcess } from '../support/processes';
import { parseMetrics, type Sample } from '../support/prometheus';
import { promtool } from '../support/promtool';
import { startRedis, type LocalServer } from '../support/servers';
import { connectClient, type TestClient } from '../support/ws-client';

const STEP_MS = 500;
const STEP = 15; // seconds of promtool time per recorded scrape

interface Target { job: string; instance: string; url: string }

/** Scrapes targets like Prometheus does (up 1/0, job and instance labels) and keeps one column per scrape. */
class Recorder {
  readonly series = new Map<string, (number | undefined)[]>();
  steps = 0;
  constructor(private readonly targets: Target[], private readonly keep: (name: string) => boolean) {}

  /** One scrape of every target; returns each target's samples (empty when down). */
  async scrape(): Promise<Map<string, Sample[]>> {
    const step = this.steps++;
    const out = new Map<string, Sample[]>();
    await Promise.all(this.targets.map(async (t) => {
      let samples: Sample[] = [];
      let up = 0;
      try {
        const res = await fetch(t.url, { signal: AbortSignal.timeout(STEP_MS - 100) });
        if (res.status === 200) {
          samples = parseMetrics(await res.text());
          up = 1;
        }
      } catch {
        // down: only up=0 is recorded
      }
      out.set(t.instance, samples);
      this.put({ name: 'up', labels: {}, value: up }, t, step);
      for (const s of samples) if (this.keep(s.name) && Number.isFinite(s.value)) this.put(s, t, step);
    }));
    return out;
  }

  private put(s: Sample, t: Target, step: number): void {
    const labels = { ...s.labels, job: t.job, instance: t.instance };
    const key = `${s.name}{${Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(', ')}}`;
    let column = this.series.get(key);
    if (!column) this.series.set(key, (column = []));
    column[step] = s.value;
  }

  /** promtool input_series: missing samples as `_`. */
  inputSeries(): { series: string; values: string }[] {
    return [...this.series.entries()].map(([series, column]) => ({
      series,
      values: Array.from({ length: this.steps }, (_, i) => (column[i] === undefined ? '_' : String(column[i]))).join(' '),
    }));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const { procs, clients, servers } = killedAfterEach();

describe('alerting rules on a real run', () => {
  it('a killed edge fires QChatServiceDown and QChatPresenceReclaimSpike; a Redis outage fires no handler-bug alert', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const env = {
      REDIS_URL: redis.url,
      NATS_URL: inject('natsUrl'),
      INSTANCE_ID: `alerts${randomUUID().slice(0, 8)}`,
      EDGE_HEARTBEAT_MS: '500',
      EDGE_TTL_MS: '3000',
      REAP_INTERVAL_MS: '250',
      REQUEST_TIMEOUT_MS: '1000',
      READINESS_GRACE_MS: '500',
      NB_USERS_INTERVAL_MS: '0',
      LOG_LEVEL: 'info',
    };
    const start = async (name: 'presence' | 'relay' | 'edge') => {
      const p = await startService(name, { ...env, [name === 'edge' ? 'PORT' : 'METRICS_PORT']: String(await freePort()) });
      procs.push(p);
      return p;
    };
    const presence = await start('presence');
    const relay = await start('relay');
    const edgeA = await start('edge');
    const edgeB = await start('edge');
    const url = (p: ServiceProcess) => `http://127.0.0.1:${p.metricsPort}/metrics`;
    // Only what the rules read (and up): the recording stays small.
    const used = new Set(['up', 'nodejs_eventloop_lag_p99_seconds']);
    const rec = new Recorder([
      { job: 'qchat-edge', instance: 'edge-a', url: url(edgeA) },
      { job: 'qchat-edge', instance: 'edge-b', url: url(edgeB) },
      { job: 'qchat-presence', instance: 'presence', url: url(presence) },
      { job: 'qchat-relay', instance: 'relay', url: url(relay) },
    ], (name) => used.has(name) || name.startsWith('qchat_'));
    const tick = async () => {
      const started = Date.now();
      const samples = await rec.scrape();
      await sleep(Math.max(0, STEP_MS - (Date.now() - started)));
      return samples;
    };

    // Users on both edges, chatting.
    const member = async (edge: ServiceProcess, nick: string) => {
      const c = await connectClient(`ws://127.0.0.1:${edge.port}/channel/QGIS/ws`);
      clients.push(c);
      c.send({ type: 'newcomer', newcomer: nick });
      await c.waitFor((f) => f?.type === 'newcomer' && f.newcomer === nick);
      return c;
    };
    const alice = await member(edgeA, 'alice');
    await member(edgeB, 'bob');
    await member(edgeB, 'carol');
    for (let i = 0; i < 6; i++) {
      alice.send({ type: 'text', author: 'alice', text: `hello ${i}` });
      await tick();
    }

    // An edge dies without draining.
    await edgeB.kill9();
    const killedAt = rec.steps;
    let reclaimedAt = -1;
    for (let i = 0; i < 40 && reclaimedAt < 0; i++) {
      const p = (await tick()).get('presence') ?? [];
      if (p.some((s) => s.name === 'qchat_presence_reclaimed_connections_total' && s.labels.reason === 'expired' && s.value > 0)) reclaimedAt = rec.steps - 1;
    }
    expect(reclaimedAt, 'presence reclaimed the dead edge').toBeGreaterThan(0);
    while (rec.steps < Math.max(killedAt + 8, reclaimedAt + 3)) await tick();

    // Redis goes away for a while: presence and relay answer `unavailable`, the edge says "try again".
    await redis.kill();
    const outageFrom = rec.steps;
    for (let i = 0; i < 16; i++) {
      alice.send({ type: 'text', author: 'alice', text: `anyone? ${i}` });
      await tick();
    }
    const outageTo = rec.steps - 1;
    servers.push(await startRedis({ port: redis.port }));
    for (let i = 0; i < 4; i++) await tick();

    // The outage reached presence as `unavailable`, never as `internal`: the run exercised what the rules judge.
    const column = (key: string) => rec.series.get(key) ?? [];
    const presenceOps = [...rec.series.keys()].filter((k) => k.startsWith('qchat_bus_handled_duration_seconds_count{') && k.includes('op="presence.') && k.includes('instance="presence"'));
    const total = (outcome: string, step: number) => presenceOps.filter((k) => k.includes(`outcome="${outcome}"`)).reduce((sum, k) => sum + (column(k)[step] ?? 0), 0);
    expect(total('unavailable', outageTo) - total('unavailable', outageFrom - 1), 'presence requests failed as unavailable').toBeGreaterThan(0);
    expect(total('internal', rec.steps - 1)).toBe(0);

    // Logs: the outage once when it starts and once when it ends (with the count), no error per request.
    const json = (p: ServiceProcess) => p.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
    await vi.waitFor(() => expect(json(presence).filter((l) => /available again$/.test(l.msg))).toHaveLength(1), { timeout: 10_000 });
    const started = json(presence).filter((l) => /unavailable: requests fail until it is back/.test(l.msg));
    expect(started).toHaveLength(1);
    expect(json(presence).find((l) => /available again$/.test(l.msg))!.failed).toBeGreaterThan(0);
    for (const p of [presence, relay, edgeA]) {
      expect(json(p).filter((l) => l.level >= 50).map((l) => l.msg), 'no error lines').toEqual([]);
      expect(json(p).filter((l) => l.msg === 'backend call failed' || l.msg === 'request failed')).toEqual([]);
    }
    expect(json(edgeA).filter((l) => /^presence or relay unavailable/.test(l.msg)).length).toBeLessThanOrEqual(2);

    const at = (step: number) => `${step * STEP}s`;
    const tests = {
      rule_files: [join(repoRoot, 'deploy/prometheus/alerts.yml')],
      evaluation_interval: `${STEP}s`,
      tests: [{
        name: 'recorded run: edge-b killed, then Redis down',
        interval: `${STEP}s`,
        input_series: rec.inputSeries(),
        promql_expr_test: [
          {
            // Edge-down: only the killed edge, once up has been 0 for the rule's `for: 1m`.
            expr: 'count by (job, instance) (ALERTS{alertname="QChatServiceDown", alertstate="firing"})',
            eval_time: at(killedAt + 7),
            exp_samples: [{ labels: '{job="qchat-edge", instance="edge-b"}', value: 1 }],
          },
          {
            // Reclaim: from the first reclaim on (the counter existed at 0 before).
            expr: 'count(ALERTS{alertname="QChatPresenceReclaimSpike", alertstate="firing"})',
            eval_time: at(reclaimedAt + 1),
            exp_samples: [{ labels: '{}', value: 1 }],
          },
          {
            // The outage is named for what it is: presence lost Redis.
            expr: 'count by (job, dependency) (ALERTS{alertname="QChatBackendDependencyDown", alertstate="firing", job="qchat-presence"})',
            eval_time: at(outageTo),
            exp_samples: [{ labels: '{job="qchat-presence", dependency="redis"}', value: 1 }],
          },
        ],
        alert_rule_test: [
          // No "handler bug" during the outage, nor after it.
          ...[outageFrom + 8, outageTo, rec.steps - 1].map((s) => ({ eval_time: at(s), alertname: 'QChatHandlerErrors', exp_alerts: [] })),
          // Nothing fired before the kill.
          { eval_time: at(killedAt - 1), alertname: 'QChatServiceDown', exp_alerts: [] },
          { eval_time: at(killedAt - 1), alertname: 'QChatPresenceReclaimSpike', exp_alerts: [] },
        ],
      }],
    };
    const dir = mkdtempSync(join(tmpdir(), 'qchat-alerts-'));
    const file = join(dir, 'recorded.test.yml');
    writeFileSync(file, stringify(tests, { lineWidth: 0 }));
    const result = await promtool(['test', 'rules', file]);
    expect(result.code, `${result.output}\n(recorded series: ${file})`).toBe(0);
  });
});
