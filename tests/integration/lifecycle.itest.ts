/** Startup and shutdown of real processes: bad configuration, SIGTERM. */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, inject, it, vi } from 'vitest';
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

/** Runs `node --import tsx <script> [args]` with only `env` on top of a clean environment; resolves with its exit and output. */
function runScript(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The problem lines of an `invalid configuration:` message. */
const problems = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim());

describe('check-config', () => {
  const CHECK = 'services/all-in-one/src/check-config.ts';
  const bad: [string, Record<string, string>, string[], RegExp][] = [
    ['nickname minimum above the maximum', { MIN_AUTHOR_LENGTH: '40' }, [], /^MIN_AUTHOR_LENGTH: must be at most MAX_AUTHOR_LENGTH \(32\), got 40$/],
    ['heartbeat too slow for the edge TTL', { EDGE_HEARTBEAT_MS: '8000', EDGE_TTL_MS: '12000' }, [], /^EDGE_HEARTBEAT_MS: must be at most 0\.5 × EDGE_TTL_MS \(6000\), got 8000/],
    ['reaper slower than the edge TTL allows', { REAP_INTERVAL_MS: '9000' }, [], /^REAP_INTERVAL_MS: must be at most 0\.5 × EDGE_TTL_MS \(6000\), got 9000/],
    ['request timeout longer than the shutdown', { REQUEST_TIMEOUT_MS: '20000', SHUTDOWN_TIMEOUT_MS: '10000' }, [], /^REQUEST_TIMEOUT_MS: must be below SHUTDOWN_TIMEOUT_MS \(10000\), got 20000/],
    ['metrics on the public port', { PORT: '9100' }, [], /^METRICS_PORT: must differ from PORT \(9100\)$/],
    ['presence on its own without brokers', { REDIS_URL: 'redis://127.0.0.1:1' }, ['presence'], /^NATS_URL: required .*MEMORY_MODE=true/],
  ];

  for (const [what, env, args, line] of bad) {
    it(`refuses ${what}: one line naming it, exit 1, no stack trace`, async () => {
      const r = await runScript(CHECK, args, env);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^invalid configuration:\n/);
      expect(problems(r.stderr)).toHaveLength(1);
      expect(problems(r.stderr)[0]).toMatch(line);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    });
  }

  it('reports every problem of every service in one pass', async () => {
    const env = { MIN_AUTHOR_LENGTH: '40', EDGE_HEARTBEAT_MS: '8000', REAP_INTERVAL_MS: '9000', MAX_STORED_MESSAGES: '5.0', PORT: 'http', LOG_LEVEL: 'loud' };
    const r = await runScript(CHECK, [], env);
    expect(r.code).toBe(1);
    const lines = problems(r.stderr);
    for (const v of ['MIN_AUTHOR_LENGTH', 'EDGE_HEARTBEAT_MS', 'REAP_INTERVAL_MS', 'MAX_STORED_MESSAGES', 'PORT', 'LOG_LEVEL']) {
      expect(lines.filter((l) => l.startsWith(`${v}:`)), v).toHaveLength(1);
    }
    expect(r.stderr).not.toMatch(/^\s+at /m);
    // The all-in-one process checks the same way before starting: relay's problems do not wait for the edge's.
    const aio = await runScript('services/all-in-one/src/main.ts', [], { ...env, LOG_LEVEL: 'silent' });
    expect(aio.code).toBe(1);
    expect(problems(aio.stderr).sort()).toEqual(lines.filter((l) => !l.startsWith('LOG_LEVEL')).sort());
    expect(aio.stderr).not.toMatch(/^\s+at /m);
  });

  it('accepts a valid configuration (exit 0), also through npm run check-config and --check-config', async () => {
    expect(await runScript(CHECK, [], {})).toMatchObject({ code: 0, stdout: 'configuration valid for edge, presence and relay\n' });
    expect(await runScript('services/relay/src/main.ts', ['--check-config'], { REDIS_URL: 'redis://127.0.0.1:1', NATS_URL: 'nats://127.0.0.1:1' }))
      .toMatchObject({ code: 0, stdout: 'configuration valid for relay\n' });
    const viaNpm = await new Promise<number | null>((resolve) => {
      const child = spawn('npm', ['run', '--silent', 'check-config', '--', 'presence'], { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: 'ignore' });
      child.on('exit', resolve);
    });
    expect(viaNpm).toBe(1);
  });
});

describe('brokers required', () => {
  for (const service of ['presence', 'relay']) {
    it(`${service} refuses to start without REDIS_URL and NATS_URL unless MEMORY_MODE=true`, async () => {
      const r = await runScript(`services/${service}/src/main.ts`, [], { METRICS_PORT: String(await freePort()) });
      expect(r.code).toBe(1);
      expect(problems(r.stderr)).toEqual([expect.stringMatching(/^REDIS_URL and NATS_URL: required/)]);
      const memory = await startService(service as 'presence' | 'relay', { METRICS_PORT: String(await freePort()), MEMORY_MODE: 'true', LOG_LEVEL: 'warn' });
      expect(memory.output.join('\n')).toMatch(/MEMORY_MODE: running in memory/);
      expect(await memory.stop()).toBe(0);
    });
  }
});

describe('npm scripts', () => {
  it('every start script execs node, so SIGTERM reaches the server', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const starts = Object.entries(pkg.scripts).filter(([k]) => k === 'start' || k.startsWith('start:'));
    expect(starts.map(([k]) => k).sort()).toEqual(['start', 'start:bridge', 'start:edge', 'start:presence', 'start:relay']);
    for (const [name, cmd] of starts) expect(cmd, name).toMatch(/^exec node /);
  });

  it('SIGTERM to `npm start` stops the server: it drains, and the port is free afterwards', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const child = spawn('npm', ['start'], { cwd: repoRoot, env: { ...process.env, PORT: String(port), METRICS_PORT: String(metricsPort), LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => { output += d; });
    child.stderr!.on('data', (d) => { output += d; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await vi.waitFor(async () => expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200), { timeout: 20_000, interval: 100 });
      expect(output).toMatch(/edge listening: open http:\/\/localhost:\d+\//);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toMatch(/"msg":"stopped"/);
      // Nothing serves the ports any more: they can be bound again.
      for (const p of [port, metricsPort]) await expect(canListen(p)).resolves.toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createNetServer();
    server.once('error', () => resolve(false));
    server.listen({ port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
