/**
 * A cluster of real service processes for fault tests: presence, relay and edge replicas over one Redis and one
 * NATS, with helpers for clients and the HTTP API. Every process it starts is tracked and killed by `stop`.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { freePort, startService, type ServiceName, type ServiceProcess } from './processes';
import { connectClient, type TestClient } from './ws-client';

/**
 * Short timings so faults show within seconds; FAULT_TIMINGS=default runs the same tests with the services'
 * defaults (to measure what production sees). Each test prints what it measured with these.
 */
export const FAST = {
  EDGE_HEARTBEAT_MS: '500',
  EDGE_TTL_MS: '3000',
  REAP_INTERVAL_MS: '250',
  REQUEST_TIMEOUT_MS: '1000',
} as const;
const DEFAULTS: { [K in keyof typeof FAST]: string } = {
  EDGE_HEARTBEAT_MS: '3000',
  EDGE_TTL_MS: '12000',
  REAP_INTERVAL_MS: '1000',
  REQUEST_TIMEOUT_MS: '3000',
};
export const TIMINGS = process.env.FAULT_TIMINGS === 'default' ? DEFAULTS : FAST;
/** TIMINGS as numbers. */
export const ms = Object.fromEntries(Object.entries(TIMINGS).map(([k, v]) => [k, Number(v)])) as { [K in keyof typeof FAST]: number };

export interface StackOptions {
  redisUrl: string;
  natsUrl: string;
  presence?: number;
  relay?: number;
  edges?: number;
  env?: Record<string, string>;
}

export interface Stack {
  env: Record<string, string>;
  presence: ServiceProcess[];
  relay: ServiceProcess[];
  edges: ServiceProcess[];
  ws(edge: number, channel: string): string;
  http(edge: number): string;
  /** The /metrics URL of an edge (its ops port). */
  metrics(edge: number): string;
  /** Base URL of an edge's moderation API (when the stack's env sets ADMIN_TOKEN). */
  admin(edge: number): string;
  client(edge: number, channel: string): Promise<TestClient>;
  /** Connects, takes the connect sequence's nb_users, registers `nick` and waits for its own newcomer echo. */
  member(edge: number, channel: string, nick: string): Promise<TestClient>;
  /** /status of an edge as { channel: nb_connected_users }. */
  counts(edge: number): Promise<Record<string, number>>;
  /** /channel/{channel}/users of an edge. */
  users(edge: number, channel: string): Promise<string[]>;
  /** Starts one more process of `name` with the stack's environment (a replacement after a kill). */
  start(name: ServiceName): Promise<ServiceProcess>;
  /** Every service process started so far that has not exited. */
  running(): Promise<ServiceProcess[]>;
  stop(): Promise<void>;
}

export const is = (type: string, extra: (f: any) => boolean = () => true) => (f: any) => f?.type === type && extra(f);

/** True while the process has not exited. */
export async function isRunning(p: ServiceProcess): Promise<boolean> {
  return Promise.race([p.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10))]);
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const env: Record<string, string> = {
    REDIS_URL: opts.redisUrl,
    NATS_URL: opts.natsUrl,
    INSTANCE_ID: `fault${randomUUID().slice(0, 8)}`,
    CHANNELS: 'QGIS,Geotribu',
    ...TIMINGS,
    NB_USERS_INTERVAL_MS: '0',
    RATE_LIMIT_PER_SECOND: '1000',
    RATE_LIMIT_BURST: '1000',
    ...opts.env,
  };
  const all: ServiceProcess[] = [];
  const clients: TestClient[] = [];
  const ports = new Map<ServiceProcess, number>();
  const adminPorts = new Map<ServiceProcess, number>();

  async function start(name: ServiceName): Promise<ServiceProcess> {
    const port = await freePort();
    const portVar = name === 'edge' ? 'PORT' : 'METRICS_PORT';
    const admin: Record<string, string> = name === 'edge' && env.ADMIN_TOKEN ? { ADMIN_PORT: String(await freePort()) } : {};
    const p = await startService(name, { ...env, [portVar]: String(port), ...admin });
    all.push(p);
    ports.set(p, port);
    if (admin.ADMIN_PORT) adminPorts.set(p, Number(admin.ADMIN_PORT));
    return p;
  }
  const many = (name: ServiceName, n: number) => Promise.all(Array.from({ length: n }, () => start(name)));

  const stack: Stack = {
    env,
    presence: [],
    relay: [],
    edges: [],
    ws: (edge, channel) => `ws://127.0.0.1:${ports.get(stack.edges[edge]!)}/channel/${encodeURIComponent(channel)}/ws`,
    http: (edge) => `http://127.0.0.1:${ports.get(stack.edges[edge]!)}`,
    metrics: (edge) => `http://127.0.0.1:${stack.edges[edge]!.metricsPort}/metrics`,
    admin: (edge) => `http://127.0.0.1:${adminPorts.get(stack.edges[edge]!)}`,
    async client(edge, channel) {
      const c = await connectClient(stack.ws(edge, channel));
      clients.push(c);
      return c;
    },
    async member(edge, channel, nick) {
      const c = await stack.client(edge, channel);
      await c.next(is('nb_users'));
      c.send({ type: 'newcomer', newcomer: nick });
      await c.next(is('newcomer', (f) => f.newcomer === nick));
      return c;
    },
    async counts(edge) {
      const res = await fetch(`${stack.http(edge)}/status`, { signal: AbortSignal.timeout(5_000) });
      if (res.status !== 200) throw new Error(`/status answered ${res.status}`);
      const body = (await res.json()) as { channels: { name: string; nb_connected_users: number }[] };
      return Object.fromEntries(body.channels.map((c) => [c.name, c.nb_connected_users]));
    },
    async users(edge, channel) {
      const res = await fetch(`${stack.http(edge)}/channel/${encodeURIComponent(channel)}/users`, { signal: AbortSignal.timeout(5_000) });
      if (res.status !== 200) throw new Error(`/users answered ${res.status}`);
      return (await res.json()) as string[];
    },
    start,
    async running() {
      const alive = await Promise.all(all.map(async (p) => ((await isRunning(p)) ? p : null)));
      return alive.filter((p): p is ServiceProcess => p !== null);
    },
    async stop() {
      await Promise.all(clients.map((c) => c.terminate().catch(() => undefined)));
      await Promise.all(all.map((p) => p.kill9()));
    },
  };

  try {
    [stack.presence, stack.relay] = await Promise.all([many('presence', opts.presence ?? 1), many('relay', opts.relay ?? 1)]);
    stack.edges = await many('edge', opts.edges ?? 2);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

/** Polls `check` (which throws until the condition holds) and resolves with the milliseconds since `since`. */
export async function until(check: () => unknown | Promise<unknown>, opts: { since: number; timeoutMs: number; intervalMs?: number }): Promise<number> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    try {
      await check();
      return Date.now() - opts.since;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}

/** One JSON line per measurement, collected by the runs that fill docs/faults.md. */
export function report(fields: Record<string, unknown>): void {
  console.log(JSON.stringify(fields));
}

/** Waits until every client has received the text message `text`, then checks each got it exactly once. */
export async function expectAllReceive(clients: TestClient[], text: string, timeoutMs = 5_000): Promise<void> {
  await Promise.all(clients.map((c) => c.waitFor(is('text', (f) => f.text === text), timeoutMs)));
  for (const c of clients) expect(c.frames.filter(is('text', (f) => f.text === text))).toHaveLength(1);
}

/**
 * Recovery of broadcasts: each sender sends a numbered probe every 200 ms until one probe has reached all of its
 * receivers; resolves with the milliseconds from `since` to the slowest group's first complete delivery.
 */
export async function probeUntilDelivered(groups: [TestClient, TestClient[]][], opts: { since: number; timeoutMs: number }): Promise<number> {
  const run = `p${Math.random().toString(36).slice(2, 6)}`;
  const times = await Promise.all(groups.map(async ([sender, receivers], g) => {
    const deadline = Date.now() + opts.timeoutMs;
    for (let n = 0; ; n++) {
      const text = `${run}-${g}-${n}`;
      sender.send({ type: 'text', author: 'prober', text });
      try {
        await Promise.all(receivers.map((c) => c.waitFor(is('text', (f) => f.text === text), 200)));
        return Date.now() - opts.since;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
  }));
  return Math.max(...times);
}

/** Every client still has its socket open. */
export function stillOpen(clients: TestClient[]): void {
  for (const c of clients) expect(c.ws.readyState).toBe(WebSocket.OPEN);
}
