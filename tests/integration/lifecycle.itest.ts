/** Startup and shutdown of real processes: bad configuration, SIGTERM. */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { freePort, repoRoot, startService } from '../support/processes';
import { connectClient } from '../support/ws-client';

function run(service: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `services/${service}/src/main.ts`], {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
  });
}

describe('process lifecycle', () => {
  for (const service of ['edge', 'presence', 'relay', 'all-in-one']) {
    it(`${service} refuses to start on invalid configuration, one line per problem`, async () => {
      const { code, stderr } = await run(service, { MAX_STORED_MESSAGES: '5.0', MAX_GEOJSON_FEATURES: '', PORT: 'http', METRICS_PORT: 'x', LOG_LEVEL: 'loud' });
      expect(code).toBe(1);
      expect(stderr).toMatch(/^invalid configuration:/);
      expect(stderr).toMatch(/LOG_LEVEL: expected one of/);
      if (service !== 'presence') expect(stderr).toMatch(/MAX_STORED_MESSAGES: expected an integer, got '5.0'|PORT: expected an integer/);
    });
  }

  it('the all-in-one process exits 0 on SIGTERM', async () => {
    const proc = await startService('all-in-one', { PORT: String(await freePort()) });
    expect(await proc.stop('SIGTERM')).toBe(0);
  });

  it('a lone edge with REDIS_URL and NATS_URL, and nobody serving presence and relay, is a complete server', async () => {
    const env = { REDIS_URL: inject('redisUrl'), NATS_URL: inject('natsUrl'), INSTANCE_ID: `lone${randomUUID().slice(0, 8)}` };
    const edge = await startService('edge', { ...env, PORT: String(await freePort()) });
    try {
      expect(edge.output.join('\n')).toMatch(/serving them in this edge/);
      const c = await connectClient(`ws://127.0.0.1:${edge.port}/channel/QGIS/ws`);
      expect(await c.next()).toMatchObject({ type: 'nb_users', nb_users: 1 });
      c.send({ type: 'newcomer', newcomer: 'lonely' });
      expect(await c.next()).toMatchObject({ type: 'newcomer', newcomer: 'lonely' });
      c.send({ type: 'text', author: 'lonely', text: 'anyone?' });
      expect(await c.next()).toMatchObject({ type: 'text', author: 'lonely', text: 'anyone?' });
      await c.close();
    } finally {
      expect(await edge.stop()).toBe(0);
    }
  });

  it('an edge does not serve presence and relay when they answer on NATS', async () => {
    const env = { REDIS_URL: inject('redisUrl'), NATS_URL: inject('natsUrl'), INSTANCE_ID: `pair${randomUUID().slice(0, 8)}` };
    const presence = await startService('presence', { ...env, METRICS_PORT: String(await freePort()) });
    const relay = await startService('relay', { ...env, METRICS_PORT: String(await freePort()) });
    const edge = await startService('edge', { ...env, PORT: String(await freePort()), LOG_LEVEL: 'info' });
    try {
      expect(edge.output.join('\n')).not.toMatch(/serving them in this edge/);
      expect(edge.output.join('\n')).toMatch(/edge listening/);
    } finally {
      for (const p of [edge, relay, presence]) expect(await p.stop()).toBe(0);
    }
  });
});
