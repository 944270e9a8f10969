/**
 * Global setup of the integration project: one Redis and one NATS for the whole run, handed to tests with
 * `provide` (tests read them with `inject('redisUrl')` / `inject('natsUrl')`).
 *
 * Where they come from, in order:
 *  1. TEST_REDIS_URL / TEST_NATS_URL, when set (each independently);
 *  2. redis:7 and nats:2 containers through testcontainers, when a Docker engine answers;
 *  3. `redis-server` and `nats-server` from the system on free loopback ports.
 * TEST_SERVERS=local or TEST_SERVERS=docker forces 3 or 2. Nothing is ever skipped: a missing program fails
 * the run with one line naming the install command.
 */
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { MissingProgram, startNats, startRedis } from './servers';

interface Started {
  url: string;
  stop(): Promise<void>;
}

type Provider = { redis(): Promise<Started>; nats(): Promise<Started> };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = { redis: process.env.TEST_REDIS_URL?.trim(), nats: process.env.TEST_NATS_URL?.trim() };
  const started: Started[] = [];
  const teardown = async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
  };

  let provider: Provider | undefined;
  if (!fromEnv.redis || !fromEnv.nats) provider = await chooseProvider();

  const results = await Promise.allSettled([
    fromEnv.redis ? Promise.resolve(external(fromEnv.redis)) : provider!.redis(),
    fromEnv.nats ? Promise.resolve(external(fromEnv.nats)) : provider!.nats(),
  ]);
  for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    await teardown();
    throw oneError(failures);
  }
  const [redis, nats] = results.map((r) => (r as PromiseFulfilledResult<Started>).value) as [Started, Started];
  project.provide('redisUrl', redis.url);
  project.provide('natsUrl', nats.url);
  return teardown;
}

function external(url: string): Started {
  return { url, stop: async () => undefined };
}

async function chooseProvider(): Promise<Provider> {
  const forced = process.env.TEST_SERVERS?.trim();
  if (forced && forced !== 'local' && forced !== 'docker') throw new Error(`TEST_SERVERS must be 'local' or 'docker', got '${forced}'`);
  if (forced === 'local') return localProvider;
  if (forced === 'docker' || (await dockerReachable())) {
    try {
      return await dockerProvider();
    } catch (err) {
      if (forced === 'docker') throw err;
      console.warn(`[global-setup] Docker engine found but testcontainers is unusable (${(err as Error).message}); using local redis-server and nats-server`);
    }
  }
  return localProvider;
}

const localProvider: Provider = {
  redis: () => startRedis(),
  nats: () => startNats(),
};

/** Loaded only when Docker answers: testcontainers is heavy, and its HTTP client needs a recent Node. */
async function dockerProvider(): Promise<Provider> {
  let tc: typeof import('testcontainers');
  try {
    tc = await import('testcontainers');
  } catch (err) {
    // testcontainers 12 pulls undici 8, which needs Node >= 22.19 (zlib zstd): on Node 20 it fails while loading.
    throw new Error(`testcontainers could not be loaded on Node ${process.versions.node}: ${(err as Error).message}`, { cause: err });
  }
  const { GenericContainer, Wait } = tc;
  const container = async (image: string, port: number, readyLog: string, scheme: string): Promise<Started> => {
    const c = await new GenericContainer(image)
      .withExposedPorts(port)
      .withWaitStrategy(Wait.forLogMessage(readyLog))
      .withStartupTimeout(120_000)
      .start();
    return { url: `${scheme}://${c.getHost()}:${c.getMappedPort(port)}`, stop: async () => { await c.stop(); } };
  };
  return {
    redis: () => container('redis:7', 6379, 'Ready to accept connections', 'redis'),
    nats: () => container('nats:2', 4222, 'Server is ready', 'nats'),
  };
}

/** True when a Docker engine answers `GET /_ping` within a second (DOCKER_HOST, else the usual sockets). */
async function dockerReachable(): Promise<boolean> {
  const host = process.env.DOCKER_HOST?.trim();
  const targets: ({ socketPath: string } | { host: string; port: number })[] = [];
  if (host?.startsWith('unix://')) {
    targets.push({ socketPath: host.slice('unix://'.length) });
  } else if (host?.startsWith('tcp://')) {
    const u = new URL(host.replace(/^tcp:/, 'http:'));
    targets.push({ host: u.hostname, port: Number(u.port || 2375) });
  } else if (!host) {
    const sockets = ['/var/run/docker.sock', join(homedir(), '.docker/run/docker.sock'), join(homedir(), '.colima/default/docker.sock')];
    if (process.env.XDG_RUNTIME_DIR) sockets.push(join(process.env.XDG_RUNTIME_DIR, 'docker.sock'));
    for (const socketPath of sockets) if (existsSync(socketPath)) targets.push({ socketPath });
  } else {
    // ssh:// and other transports: only testcontainers knows how to reach them.
    return true;
  }
  const answers = await Promise.all(targets.map(ping));
  return answers.some(Boolean);
}

function ping(target: { socketPath: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** One error for the run; missing programs give one line, without a stack trace. */
function oneError(failures: unknown[]): Error {
  if (failures.every((f) => f instanceof MissingProgram)) {
    const err = new Error(failures.map((f) => (f as MissingProgram).message).join('; '));
    err.stack = err.message;
    return err;
  }
  if (failures.length === 1 && failures[0] instanceof Error) return failures[0];
  return new Error(failures.map((f) => (f instanceof Error ? f.message : String(f))).join('\n'));
}
